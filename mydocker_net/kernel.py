"""What the kernel says now: links, addresses, routes, nat rules, sysctls.

Reads run in dry-run too: they change nothing, and the plan depends on them.
"""

from __future__ import annotations

import ipaddress
import json
import shlex
from dataclasses import dataclass, field

from mydocker_net.commands import ip, iptables, sysctl
from mydocker_net.errors import CommandFailed
from mydocker_net.plan import Cmd


@dataclass
class Link:
    name: str
    kind: str  # "bridge", "veth", ... or "" (lo, physical NICs)
    up: bool
    mtu: int | None
    master: str | None = None  # the bridge a port is attached to


@dataclass
class Snapshot:
    """The kernel's view, read with a fixed number of commands whatever the number of networks."""

    links: dict[str, Link] = field(default_factory=dict)
    addresses: dict[str, list[str]] = field(default_factory=dict)  # ifname -> ["10.0.0.1/24"]
    rules: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (table, -S line split)
    ip_forward: bool = False


def _json(runner, cmd) -> list:
    text = runner.read(cmd)
    try:
        data = json.loads(text or "[]")
    except ValueError:
        raise CommandFailed(cmd.argv, 0, "output is not JSON") from None
    return data if isinstance(data, list) else []


def _link(entry: dict) -> Link:
    return Link(name=entry.get("ifname", ""), kind=(entry.get("linkinfo") or {}).get("info_kind", ""),
                up="UP" in entry.get("flags", []), mtu=entry.get("mtu"), master=entry.get("master"))


def read_links(runner, ns: tuple[str, ...] = ip.HOST) -> dict[str, Link]:
    return {link.name: link for link in map(_link, _json(runner, ip.links_json(ns)))}


def links(runner, ns: tuple[str, ...] = ip.HOST) -> dict[str, str]:
    """{ifname: kind}, in the host namespace or, with ns, inside a target's."""
    return {name: link.kind for name, link in read_links(runner, ns).items()}


@dataclass
class Inside:
    """What connect needs to know of a target namespace."""

    links: dict[str, Link]
    default_route: bool


def inside(runner, ns: tuple[str, ...]) -> Inside:
    """Links and default route of a namespace, in one `ip -j -d -batch -` process."""
    cmd = Cmd((*ns, "-j", "-d", "-batch", "-"))
    text = runner.read(cmd, stdin="link show\nroute show default\n")
    decoder, values, at = json.JSONDecoder(), [], 0
    try:
        while len(values) < 2:
            while at < len(text) and text[at].isspace():
                at += 1
            value, at = decoder.raw_decode(text, at)
            values.append(value)
    except ValueError:
        raise CommandFailed(cmd.argv, 0, "output is not two JSON lists") from None
    links = {link.name: link for link in map(_link, values[0])}
    return Inside(links=links, default_route=bool(values[1]))


def read_addresses(runner) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for entry in _json(runner, ip.addrs_json()):
        cidrs = [f"{a['local']}/{a['prefixlen']}" for a in entry.get("addr_info", [])
                 if a.get("family") == "inet"]
        result[entry.get("ifname", "")] = cidrs
    return result


def used_networks(runner) -> list[ipaddress.IPv4Network]:
    """IPv4 networks the host already uses: its addresses' subnets and its routes, not 'default'."""
    found = [ipaddress.IPv4Network(cidr, strict=False)
             for cidrs in read_addresses(runner).values() for cidr in cidrs]
    for route in _json(runner, ip.routes_json()):
        try:
            found.append(ipaddress.IPv4Network(route.get("dst", "default"), strict=False))
        except ValueError:
            pass  # "default" and anything that is not an IPv4 destination
    return found


def read_rules(runner, table: str) -> list[tuple[str, ...]]:
    """A table's rules as argument tuples, e.g. ('-A', 'POSTROUTING', '-s', ...)."""
    return [tuple(shlex.split(line)) for line in runner.read(iptables.list_rules(table)).splitlines()
            if line.startswith("-A ")]


def ip_forward_enabled(runner) -> bool:
    return runner.read(sysctl.read(sysctl.IP_FORWARD)).strip() == "1"


def snapshot(runner) -> Snapshot:
    rules = [(table, spec) for table in iptables.TABLES for spec in read_rules(runner, table)]
    return Snapshot(links=read_links(runner), addresses=read_addresses(runner), rules=rules,
                    ip_forward=ip_forward_enabled(runner))
