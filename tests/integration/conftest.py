import os
import shutil

import pytest

from tests.integration.sandbox import Sandbox, SandboxError

REQUIRED_TOOLS = ("unshare", "nsenter", "ip", "iptables", "iptables-save", "sysctl", "ping")


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "integration tests need root (they make network namespaces)"
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool, path=path) is None]
    if missing:
        return f"missing tools: {', '.join(missing)} (make test installs them)"
    return None


def pytest_collection_modifyitems(items):
    reason = _skip_reason()
    for item in items:
        if "tests/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def make_sandbox(tmp_path):
    """Factory: each call gives a fresh namespace with its own state dir; all are torn down."""
    made = []

    def make() -> Sandbox:
        workdir = tmp_path / f"sandbox{len(made)}"
        workdir.mkdir()
        try:
            box = Sandbox(workdir)
        except SandboxError as err:
            pytest.fail(str(err))
        made.append(box)
        return box

    yield make
    for box in made:
        box.close()


@pytest.fixture
def sandbox(make_sandbox):
    return make_sandbox()
