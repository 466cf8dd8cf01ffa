"""Builders for iptables. One builder per rule serves -A, -C and -D, so teardown mirrors setup."""

from __future__ import annotations

from mydocker_net.plan import Cmd

COMMENT_PREFIX = "mydocker-net:"

APPEND, CHECK, DELETE = "-A", "-C", "-D"


def comment_for(network: str) -> str:
    return f"{COMMENT_PREFIX}{network}"


def masquerade(subnet: str, bridge: str, network: str, action: str = APPEND) -> Cmd:
    """NAT traffic from the subnet that leaves by any interface other than its own bridge."""
    return Cmd((
        "iptables", "-w", "-t", "nat", action, "POSTROUTING",
        "-s", subnet, "!", "-o", bridge,
        "-m", "comment", "--comment", comment_for(network),
        "-j", "MASQUERADE",
    ))


def nat_rules() -> Cmd:
    return Cmd(("iptables", "-w", "-t", "nat", "-S"))
