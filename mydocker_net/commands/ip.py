"""Builders for iproute2's `ip`.

Link names always follow `name` or `dev`: a bare `ip link add a ...` reads `a` as the keyword
`address`, and names like `up`, `mtu` or `type` are keywords too.
"""

from __future__ import annotations

from mydocker_net.plan import Cmd


def bridge_add(name: str, mtu: int | None = None) -> Cmd:
    argv = ["ip", "link", "add", "name", name]
    if mtu is not None:
        argv += ["mtu", str(mtu)]
    return Cmd((*argv, "type", "bridge"))


def link_del(name: str) -> Cmd:
    return Cmd(("ip", "link", "del", "dev", name))


def link_up(name: str) -> Cmd:
    return Cmd(("ip", "link", "set", "dev", name, "up"))


def link_down(name: str) -> Cmd:
    return Cmd(("ip", "link", "set", "dev", name, "down"))


def addr_add(cidr: str, dev: str) -> Cmd:
    return Cmd(("ip", "addr", "add", cidr, "dev", dev))


def addr_del(cidr: str, dev: str) -> Cmd:
    return Cmd(("ip", "addr", "del", cidr, "dev", dev))


def links_json() -> Cmd:
    """Every link with details (-d gives the kind: bridge, veth, ...)."""
    return Cmd(("ip", "-j", "-d", "link", "show"))


def addrs_json() -> Cmd:
    return Cmd(("ip", "-j", "addr", "show"))


def routes_json() -> Cmd:
    return Cmd(("ip", "-j", "route", "show"))


def link_mtu(name: str, mtu: int) -> Cmd:
    return Cmd(("ip", "link", "set", "dev", name, "mtu", str(mtu)))
