"""Unit tests: the process layer (ShRunner._spawn) is mocked; nothing runs, no root needed."""

from __future__ import annotations

import json

import pytest

from mydocker_net.runner import ShRunner
from mydocker_net.service import Service
from mydocker_net.store import Store

READ_ONLY = {
    ("ip", "-j", "-d", "link", "show"),
    ("ip", "-j", "addr", "show"),
    ("ip", "-j", "route", "show"),
}


class FakeKernel:
    """Answers the reads a plan needs and records every other command.

    fail_at: index (0-based) among the changing commands that exits 2 with stderr "boom".
    """

    def __init__(self, links=None, addrs=None, routes=None, ip_forward="0", rules_present=False,
                 fail_at=None):
        self.links = links or {}
        self.addrs = addrs or []
        self.routes = routes or []
        self.ip_forward = ip_forward
        self.rules_present = rules_present
        self.fail_at = fail_at
        self.tables = {"nat": "", "filter": ""}  # what `iptables -t TABLE -S` prints
        self.inside_links = {"lo": {"ifname": "lo", "flags": ["LOOPBACK"]}}  # in the target
        self.inside_default_route = []
        self.calls: list[tuple[str, ...]] = []
        self.changes: list[tuple[str, ...]] = []

    def __call__(self, cmd, stdin=None):
        argv = cmd.argv
        self.calls.append(argv)
        if argv == ("ip", "-j", "-d", "link", "show"):
            return 0, json.dumps([_link(n, k) for n, k in self.links.items()]), ""
        if argv == ("ip", "-j", "addr", "show"):
            return 0, json.dumps(self.addrs), ""
        if argv == ("ip", "-j", "route", "show"):
            return 0, json.dumps(self.routes), ""
        if argv[:2] == ("ip", "-n") and argv[3:] == ("-j", "-d", "-batch", "-"):
            assert stdin == "link show\nroute show default\n"
            return 0, (json.dumps(list(self.inside_links.values())) + "\n"
                       + json.dumps(self.inside_default_route) + "\n"), ""
        if argv[:2] == ("sysctl", "-n"):
            return 0, self.ip_forward + "\n", ""
        if argv[0] == "iptables" and "-S" in argv:
            return 0, self.tables[argv[argv.index("-t") + 1]], ""
        if argv[0] == "iptables" and "-C" in argv:
            return (0, "", "") if self.rules_present else (1, "", "Bad rule")
        index = len(self.changes)
        self.changes.append(argv)
        if index == self.fail_at:
            return 2, "", "boom"
        return 0, "", ""


def _link(name, kind):
    link = {"ifname": name}
    if kind:
        link["linkinfo"] = {"info_kind": kind}
    return link


def fake_processes(mocker, fake):
    """Every process ShRunner would start is answered by `fake(cmd, stdin)` instead."""
    mocker.patch.object(ShRunner, "_spawn", side_effect=fake)
    mocker.patch.object(ShRunner, "_binary", side_effect=lambda name: f"/usr/sbin/{name}")
    return fake


@pytest.fixture
def fake_kernel(mocker):
    """Install a FakeKernel behind ShRunner; reconfigure it by setting attributes."""
    return fake_processes(mocker, FakeKernel())


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "state")


@pytest.fixture
def service(store, fake_kernel):
    warnings = []
    svc = Service(store, ShRunner(), warn=warnings.append)
    svc.warnings = warnings
    return svc
