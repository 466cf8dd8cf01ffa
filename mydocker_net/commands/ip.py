"""Builders for iproute2's `ip`.

Link names always follow `name` or `dev`: a bare `ip link add a ...` reads `a` as the keyword
`address`, and names like `up`, `mtu` or `type` are keywords too.

`ns` is how `ip` is started: ("ip",) in the host namespace, ("ip", "-n", NAME) or
("nsenter", "--net=PATH", "ip") inside a container's (see targets.Target.ip).
"""

from __future__ import annotations

from mydocker_net.plan import Cmd

HOST = ("ip",)


def bridge_add(name: str, mtu: int | None = None) -> Cmd:
    argv = ["ip", "link", "add", "name", name]
    if mtu is not None:
        argv += ["mtu", str(mtu)]
    return Cmd((*argv, "type", "bridge"))


def veth_add(host_end: str, peer: str, netns: str) -> Cmd:
    """A veth pair whose peer is born inside the target namespace under its final name."""
    return Cmd(("ip", "link", "add", "name", host_end, "type", "veth", "peer", "name", peer,
                "netns", netns))


def link_del(name: str) -> Cmd:
    return Cmd(("ip", "link", "del", "dev", name))


def link_up(name: str, ns: tuple[str, ...] = HOST) -> Cmd:
    return Cmd((*ns, "link", "set", "dev", name, "up"))


def link_down(name: str, ns: tuple[str, ...] = HOST) -> Cmd:
    return Cmd((*ns, "link", "set", "dev", name, "down"))


def link_master(name: str, bridge: str) -> Cmd:
    return Cmd(("ip", "link", "set", "dev", name, "master", bridge))


def link_mtu(name: str, mtu: int) -> Cmd:
    return Cmd(("ip", "link", "set", "dev", name, "mtu", str(mtu)))


def addr_add(cidr: str, dev: str, ns: tuple[str, ...] = HOST) -> Cmd:
    return Cmd((*ns, "addr", "add", cidr, "dev", dev))


def addr_del(cidr: str, dev: str, ns: tuple[str, ...] = HOST) -> Cmd:
    return Cmd((*ns, "addr", "del", cidr, "dev", dev))


def route_add_default(gateway: str, dev: str, ns: tuple[str, ...]) -> Cmd:
    return Cmd((*ns, "route", "add", "default", "via", gateway, "dev", dev))


def route_replace_default(gateway: str, dev: str, ns: tuple[str, ...]) -> Cmd:
    return Cmd((*ns, "route", "replace", "default", "via", gateway, "dev", dev))


def links_json(ns: tuple[str, ...] = HOST) -> Cmd:
    """Every link with details (-d gives the kind: bridge, veth, ... and the master)."""
    return Cmd((*ns, "-j", "-d", "link", "show"))


def addrs_json() -> Cmd:
    return Cmd(("ip", "-j", "addr", "show"))


def routes_json() -> Cmd:
    return Cmd(("ip", "-j", "route", "show"))

