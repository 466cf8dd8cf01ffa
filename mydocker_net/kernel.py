"""What the kernel says now: links, addresses, routes, sysctls; read with `ip -j` and friends.

Reads run in dry-run too: they change nothing, and the plan depends on them.
"""

from __future__ import annotations

import ipaddress
import json

from mydocker_net.commands import ip, sysctl
from mydocker_net.errors import CommandFailed


def _json(runner, cmd) -> list:
    text = runner.read(cmd)
    try:
        data = json.loads(text or "[]")
    except ValueError:
        raise CommandFailed(cmd.argv, 0, "output is not JSON") from None
    return data if isinstance(data, list) else []


def links(runner) -> dict[str, str]:
    """{ifname: kind}; kind is '' for links without one (physical NICs, lo)."""
    result = {}
    for link in _json(runner, ip.links_json()):
        kind = (link.get("linkinfo") or {}).get("info_kind", "")
        result[link.get("ifname", "")] = kind
    return result


def used_networks(runner) -> list[ipaddress.IPv4Network]:
    """IPv4 networks the host already uses: its addresses' subnets and its routes, not 'default'."""
    found = []
    for link in _json(runner, ip.addrs_json()):
        for info in link.get("addr_info", []):
            if info.get("family") == "inet":
                found.append(ipaddress.IPv4Network(f"{info['local']}/{info['prefixlen']}", strict=False))
    for route in _json(runner, ip.routes_json()):
        dst = route.get("dst", "default")
        try:
            found.append(ipaddress.IPv4Network(dst, strict=False))
        except ValueError:
            pass  # "default" and anything that is not an IPv4 destination
    return found


def ip_forward_enabled(runner) -> bool:
    return runner.read(sysctl.read(sysctl.IP_FORWARD)).strip() == "1"
