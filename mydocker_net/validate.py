"""Checks on user input, done before anything touches the kernel or the disk."""

from __future__ import annotations

import ipaddress
import re

from mydocker_net.errors import ValidationError

NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}")
DRIVERS = ("bridge",)
MIN_PREFIX, MAX_PREFIX = 8, 30
MIN_MTU, MAX_MTU = 68, 65535


def network_name(name: str) -> str:
    """1-15 characters of [A-Za-z0-9_.-], not starting with '-' or '.' (a valid link name too)."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ValidationError(
            f"invalid network name {name!r}: use 1-15 characters of A-Z a-z 0-9 _ . -, "
            "not starting with '-' or '.'"
        )
    return name


def ifname(name: str) -> str:
    """An interface name for inside the target: the same rule as network names."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ValidationError(f"invalid interface name {name!r}: use 1-15 characters of "
                              "A-Z a-z 0-9 _ . -, not starting with '-' or '.'")
    return name


def address(text: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise ValidationError(f"invalid address {text!r}: expected an IPv4 address") from None


PUBLISH_RE = re.compile(r"(\d{1,5}):(\d{1,5})(?:/(tcp|udp))?")


def publish(text: str) -> tuple[int, int, str]:
    """HOSTPORT:CONTAINERPORT[/tcp|/udp] -> (host_port, container_port, proto)."""
    found = PUBLISH_RE.fullmatch(text or "")
    ports = [int(found.group(1)), int(found.group(2))] if found else []
    if not found or not all(1 <= port <= 65535 for port in ports):
        raise ValidationError(f"invalid publish {text!r}: expected HOSTPORT:CONTAINERPORT[/tcp|/udp] "
                              "with ports 1-65535")
    return ports[0], ports[1], found.group(3) or "tcp"


def driver(name: str) -> str:
    if name not in DRIVERS:
        raise ValidationError(f"unknown driver {name!r}: known drivers are {', '.join(DRIVERS)}")
    return name


def subnet(text: str) -> tuple[ipaddress.IPv4Network, bool]:
    """Parse an IPv4 CIDR of prefix /8 to /30; return it and whether host bits were cleared."""
    if not isinstance(text, str) or "/" not in text:
        raise ValidationError(f"invalid subnet {text!r}: expected an IPv4 CIDR such as 192.168.10.0/24")
    try:
        net = ipaddress.IPv4Network(text, strict=False)
    except ValueError as err:
        raise ValidationError(f"invalid subnet {text!r}: {err}") from None
    if not MIN_PREFIX <= net.prefixlen <= MAX_PREFIX:
        raise ValidationError(
            f"invalid subnet {text!r}: prefix must be /{MIN_PREFIX} to /{MAX_PREFIX}"
        )
    host_bits_set = int(ipaddress.IPv4Address(text.split("/", 1)[0])) != int(net.network_address)
    return net, host_bits_set


def gateway(text: str, net: ipaddress.IPv4Network) -> ipaddress.IPv4Address:
    try:
        addr = ipaddress.IPv4Address(text)
    except ValueError:
        raise ValidationError(f"invalid gateway {text!r}: expected an IPv4 address") from None
    if addr not in net:
        raise ValidationError(f"gateway {addr} is not inside subnet {net}")
    if addr in (net.network_address, net.broadcast_address):
        raise ValidationError(f"gateway {addr} is the network or broadcast address of {net}")
    return addr


def mtu(value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_MTU <= value <= MAX_MTU:
        raise ValidationError(f"invalid mtu {value!r}: must be {MIN_MTU} to {MAX_MTU}")
    return value
