"""Builders for iptables rules. A Rule yields its add (-A or -I), check (-C) and delete (-D)
commands, so teardown mirrors setup, and its `spec`, the form `iptables -S` prints it in.

Matches are written in the order `iptables -S` prints them (-s -d -i -o -p, then -m ...), so a
rule read back from the kernel compares equal to the one built here.
"""

from __future__ import annotations

from dataclasses import dataclass

from mydocker_net.plan import Cmd

COMMENT_PREFIX = "mydocker-net:"
NAT, FILTER = "nat", "filter"
TABLES = (NAT, FILTER)


def comment_for(network: str) -> str:
    return f"{COMMENT_PREFIX}{network}"


def _tag(network: str) -> tuple[str, ...]:
    return ("-m", "comment", "--comment", comment_for(network))


@dataclass(frozen=True)
class Rule:
    table: str
    chain: str
    match: tuple[str, ...]  # everything after the chain name, the jump included
    insert: bool = False    # -I (top of the chain) rather than -A

    def _cmd(self, action: str) -> Cmd:
        return Cmd(("iptables", "-w", "-t", self.table, action, self.chain, *self.match))

    def add(self) -> Cmd:
        return self._cmd("-I" if self.insert else "-A")

    def check(self) -> Cmd:
        return self._cmd("-C")

    def delete(self) -> Cmd:
        return self._cmd("-D")

    def spec(self) -> tuple[str, ...]:
        return ("-A", self.chain, *self.match)

    def to_list(self) -> list[str]:
        return [self.table, "-I" if self.insert else "-A", self.chain, *self.match]

    @classmethod
    def from_list(cls, data: list[str]) -> "Rule":
        table, action, chain, *match = data
        if table not in TABLES or action not in ("-A", "-I"):
            raise ValueError(f"not a stored rule: {data!r}")
        return cls(table, chain, tuple(match), insert=action == "-I")

    @classmethod
    def from_spec(cls, table: str, spec: tuple[str, ...]) -> "Rule":
        """A rule as `iptables -S` printed it ('-A', CHAIN, ...)."""
        return cls(table, spec[1], tuple(spec[2:]))


# ---- what a network installs ---------------------------------------------------------------------

def masquerade(subnet: str, bridge: str, network: str) -> Rule:
    """NAT traffic from the subnet that leaves by any interface other than its own bridge."""
    return Rule(NAT, "POSTROUTING", ("-s", subnet, "!", "-o", bridge, *_tag(network), "-j", "MASQUERADE"))


def forward_from_bridge(bridge: str, network: str) -> Rule:
    """Let the network's traffic out (and between its members) even when FORWARD's policy is DROP."""
    return Rule(FILTER, "FORWARD", ("-i", bridge, *_tag(network), "-j", "ACCEPT"), insert=True)


def forward_within_bridge(bridge: str, network: str) -> Rule:
    """Internal networks: members may talk to each other (br_netfilter), nothing leaves."""
    return Rule(FILTER, "FORWARD", ("-i", bridge, "-o", bridge, *_tag(network), "-j", "ACCEPT"),
                insert=True)


def forward_replies(bridge: str, network: str) -> Rule:
    return Rule(FILTER, "FORWARD", ("-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED",
                                    *_tag(network), "-j", "ACCEPT"), insert=True)


# ---- what a published port installs ----------------------------------------------------------------

def dnat_incoming(proto: str, host_port: int, address: str, port: int, network: str) -> Rule:
    """Traffic from outside to a host address on host_port goes to the container."""
    return Rule(NAT, "PREROUTING", (
        "-p", proto, "-m", "addrtype", "--dst-type", "LOCAL", "-m", proto, "--dport", str(host_port),
        *_tag(network), "-j", "DNAT", "--to-destination", f"{address}:{port}"))


def dnat_local(proto: str, host_port: int, address: str, port: int, network: str) -> Rule:
    """The same for the host's own processes; not for 127.0.0.0/8, which cannot be DNATed out
    without route_localnet."""
    return Rule(NAT, "OUTPUT", (
        "!", "-d", "127.0.0.0/8", "-p", proto, "-m", "addrtype", "--dst-type", "LOCAL",
        "-m", proto, "--dport", str(host_port), *_tag(network),
        "-j", "DNAT", "--to-destination", f"{address}:{port}"))


def forward_published(proto: str, address: str, port: int, bridge: str, network: str) -> Rule:
    return Rule(FILTER, "FORWARD", (
        "-d", f"{address}/32", "!", "-i", bridge, "-o", bridge, "-p", proto, "-m", proto,
        "--dport", str(port), *_tag(network), "-j", "ACCEPT"), insert=True)


# ---- reading ------------------------------------------------------------------------------------

def list_rules(table: str) -> Cmd:
    return Cmd(("iptables", "-w", "-t", table, "-S"))


def tag_of(spec: tuple[str, ...]) -> str | None:
    """The network named by a rule's `mydocker-net:NAME` comment, or None for other rules."""
    for flag, value in zip(spec, spec[1:]):
        if flag == "--comment" and value.startswith(COMMENT_PREFIX):
            return value[len(COMMENT_PREFIX):]
    return None
