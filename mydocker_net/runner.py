"""The one place that runs external commands (through `sh`) or, in dry-run, prints them.

`sh` is imported only when a command really runs, so --help and listings start fast.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import sys
from typing import TextIO

from mydocker_net.errors import CommandFailed, ToolMissing
from mydocker_net.plan import Cmd, Step

log = logging.getLogger(__name__)

# Where admin tools live on Debian even when a cron job's PATH lacks them.
SYSTEM_DIRS = ("/usr/sbin", "/sbin", "/usr/bin", "/bin")

DEBIAN_PACKAGE = {
    "ip": "iproute2",
    "iptables": "iptables",
    "iptables-save": "iptables",
    "iptables-restore": "iptables",
    "sysctl": "procps",
    "nsenter": "util-linux",
    "ping": "iputils-ping",
}


def search_path(environ_path: str | None) -> str:
    """The caller's PATH first (so tests can put fakes there), then the system dirs."""
    dirs = [d for d in (environ_path or "").split(os.pathsep) if d]
    dirs += [d for d in SYSTEM_DIRS if d not in dirs]
    return os.pathsep.join(dirs)


class ShRunner:
    """Executes commands for real. Non-zero exits become CommandFailed."""

    batches = True  # batch.execute_batched may hand it several steps in one process

    def __init__(self, environ: dict[str, str] | None = None):
        environ = os.environ if environ is None else environ
        self.env = {"LC_ALL": "C", "PATH": search_path(environ.get("PATH"))}
        self._binaries: dict[str, str] = {}

    def _binary(self, name: str) -> str:
        if name not in self._binaries:
            found = shutil.which(name, path=self.env["PATH"])
            if found is None:
                package = DEBIAN_PACKAGE.get(name, name)
                raise ToolMissing(f"{name} not found: install the Debian package {package}")
            self._binaries[name] = found
        return self._binaries[name]

    def _exec(self, cmd: Cmd, stdin: str | None = None) -> tuple[int, str, str]:
        log.debug("run: %s", cmd)
        return self._spawn(cmd, stdin)

    def _spawn(self, cmd: Cmd, stdin: str | None) -> tuple[int, str, str]:
        """Start the process and wait: (exit code, stdout, stderr). Unit tests mock this."""
        import sh  # noqa: PLC0415 - deferred on purpose, see module doc

        program = sh.Command(self._binary(cmd.argv[0]))
        try:
            proc = program(
                *cmd.argv[1:], _env=self.env, _tty_out=False, _in=stdin,
                _return_cmd=True, _ok_code=list(range(256)),
            )
        except sh.SignalException as err:
            raise CommandFailed(cmd.argv, -1, f"killed by signal: {err.full_cmd}") from None
        except OSError as err:
            raise CommandFailed(cmd.argv, -1, str(err)) from None
        out = proc.stdout.decode(errors="replace")
        err = proc.stderr.decode(errors="replace")
        return proc.exit_code, out, err

    def run(self, cmd: Cmd, stdin: str | None = None) -> str:
        code, out, err = self._exec(cmd, stdin)
        if code != 0:
            raise CommandFailed(cmd.argv, code, err)
        return out

    def read(self, cmd: Cmd, stdin: str | None = None) -> str:
        """A command that only looks; runs in dry-run too."""
        return self.run(cmd, stdin)

    def test(self, cmd: Cmd) -> bool:
        """Exit 0 is yes, exit 1 is no, anything else is an error."""
        code, _, err = self._exec(cmd)
        if code in (0, 1):
            return code == 0
        raise CommandFailed(cmd.argv, code, err)

    def run_step(self, step: Step) -> bool:
        """Run a step's change unless its guard says not to; True when it changed something."""
        if step.skip_if is not None and self.test(step.skip_if):
            log.debug("skip (already there): %s", step.do)
            return False
        if step.only_if is not None and not self.test(step.only_if):
            log.debug("skip (nothing to do): %s", step.do)
            return False
        self.run(step.do)
        return True


class DryRunRunner:
    """Prints changes as a shell script on `out`; reads still go to the kernel (they change nothing)."""

    def __init__(self, reader: ShRunner | None = None, out: TextIO | None = None):
        self.reader = reader or ShRunner()
        self.out = out or sys.stdout

    def run(self, cmd: Cmd, stdin: str | None = None) -> str:
        print(shlex.join(cmd.argv), file=self.out)
        return ""

    def read(self, cmd: Cmd, stdin: str | None = None) -> str:
        return self.reader.read(cmd, stdin)

    def run_step(self, step: Step) -> bool:
        line = shlex.join(step.do.argv)
        # The guard's complaint ("Bad rule ...") is expected; keep the script's output clean.
        if step.skip_if is not None:
            line = f"{shlex.join(step.skip_if.argv)} 2>/dev/null || {line}"
        elif step.only_if is not None:
            # not `a && b`: as a script's last line a false guard would fail the whole script
            line = f"if {shlex.join(step.only_if.argv)} 2>/dev/null; then {line}; fi"
        print(line, file=self.out)
        return True
