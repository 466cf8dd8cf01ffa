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


def spec(cmd: Cmd) -> tuple[str, ...]:
    """The rule as `iptables -S` prints it: from the -A/-C/-D flag on, with -A."""
    argv = cmd.argv[cmd.argv.index("-t") + 2:]
    return (APPEND, *argv[1:])


def nat_delete(rule: tuple[str, ...]) -> Cmd:
    """Delete a nat rule given as `iptables -S` printed it ('-A', 'CHAIN', ...)."""
    return Cmd(("iptables", "-w", "-t", "nat", DELETE, *rule[1:]))


def tag_of(rule: tuple[str, ...]) -> str | None:
    """The network named by a rule's `mydocker-net:NAME` comment, or None for other rules."""
    for flag, value in zip(rule, rule[1:]):
        if flag == "--comment" and value.startswith(COMMENT_PREFIX):
            return value[len(COMMENT_PREFIX):]
    return None
