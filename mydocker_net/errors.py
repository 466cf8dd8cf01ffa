"""Typed errors. The CLI turns each into one line on stderr and its exit code."""

import shlex

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_DRIFT = 3  # doctor: the kernel and the store differ (after --fix: differences remain)


class MyDockerNetError(Exception):
    """Base of every error the tool reports to its user."""

    exit_code = EXIT_FAILURE


class UsageError(MyDockerNetError):
    """The command line or its values are wrong; nothing was touched."""

    exit_code = EXIT_USAGE


class ValidationError(UsageError):
    """A name, subnet, gateway or other value is not acceptable."""


class NotFound(MyDockerNetError):
    """A network (or other object) named by the user does not exist."""


class Conflict(MyDockerNetError):
    """The request clashes with something that exists (a name, a subnet, a link)."""


class PermissionDenied(MyDockerNetError):
    """The process lacks root / CAP_NET_ADMIN for a command that changes the kernel."""


class ToolMissing(MyDockerNetError):
    """An external program (ip, iptables, ...) is not installed."""


class StoreError(MyDockerNetError):
    """The state directory or a state file cannot be read, parsed or written."""


class IpamError(MyDockerNetError):
    """An address or subnet cannot be allocated or released."""


class CommandFailed(MyDockerNetError):
    """An external command exited non-zero; names the command and its stderr."""

    def __init__(self, argv: tuple[str, ...], exit_code: int, stderr: str):
        self.argv = argv
        self.returncode = exit_code
        self.stderr = stderr.strip()
        detail = "; ".join(self.stderr.splitlines()) or f"exit status {exit_code}"
        super().__init__(f"command failed: {shlex.join(argv)}: {detail}")
