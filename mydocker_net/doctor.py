"""Compare the store with the kernel: each difference a Problem, each with the steps that fix it.

Pure logic over a State and a kernel Snapshot; only the tool's own links (the stored networks'
bridges) and rules (comment-tagged `mydocker-net:`) are ever looked at or touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mydocker_net.commands import ip, iptables, sysctl
from mydocker_net.drivers import bridge
from mydocker_net.kernel import Snapshot
from mydocker_net.models import CREATING, REMOVING, Network
from mydocker_net.plan import Step
from mydocker_net.store import State

HOST = "host"
ORPHAN = "orphan"


@dataclass
class Problem:
    network: str      # a network name, HOST or ORPHAN
    check: str        # a stable key, e.g. "bridge-missing"
    detail: str       # one line for people
    steps: list[Step] = field(default_factory=list)  # empty: --fix cannot repair it
    forget: bool = False  # --fix also drops the network's record (an interrupted create/remove)

    @property
    def fixable(self) -> bool:
        return bool(self.steps) or self.forget

    def line(self) -> str:
        return f"{self.network}: {self.detail}"

    def to_dict(self) -> dict:
        return {"network": self.network, "check": self.check, "detail": self.detail}


def examine(state: State, kernel: Snapshot) -> list[Problem]:
    problems: list[Problem] = []
    if state.networks and not kernel.ip_forward:
        problems.append(Problem(HOST, "ip-forward-off", "net.ipv4.ip_forward is off",
                                [Step(sysctl.enable(sysctl.IP_FORWARD))]))
    for net in sorted(state.networks.values(), key=lambda n: n.name):
        if net.status in (CREATING, REMOVING):
            problems.append(_unfinished(net, kernel))
        else:
            problems += _bridge_problems(net, kernel) + _rule_problems(net, kernel)
    problems += _orphan_rules(state, kernel)
    return problems


def _unfinished(net: Network, kernel: Snapshot) -> Problem:
    """A create or remove that never finished: --fix takes the network away (what remove does)."""
    present = getattr(kernel.links.get(net.bridge), "kind", None) == "bridge"
    action = "a create was interrupted" if net.status == CREATING else "a remove was interrupted"
    steps = list(bridge.plan_remove(net, present))
    return Problem(net.name, f"left-{net.status}", f"record left in status {net.status!r} ({action})",
                   steps, forget=True)


def _bridge_problems(net: Network, kernel: Snapshot) -> list[Problem]:
    link = kernel.links.get(net.bridge)
    gateway = bridge.gateway_cidr(net)
    if link is None:
        steps = [s for s in bridge.plan_create(net, forwarding_on=True)
                 if s.do.argv[0] == "ip"]
        return [Problem(net.name, "bridge-missing", f"bridge {net.bridge} is missing", steps)]
    if link.kind != "bridge":
        return [Problem(net.name, "bridge-foreign",
                        f"link {net.bridge} is not a bridge (kind {link.kind or 'none'}); not touched")]
    problems = []
    if net.mtu is not None and link.mtu != net.mtu:
        problems.append(Problem(net.name, "bridge-mtu", f"bridge {net.bridge} has mtu {link.mtu}, "
                                f"not {net.mtu}", [Step(ip.link_mtu(net.bridge, net.mtu))]))
    have = kernel.addresses.get(net.bridge, [])
    if gateway not in have:
        problems.append(Problem(net.name, "address-missing", f"bridge {net.bridge} lacks {gateway}",
                                [Step(ip.addr_add(gateway, net.bridge))]))
    for extra in (a for a in have if a != gateway):
        problems.append(Problem(net.name, "address-extra", f"bridge {net.bridge} has extra address "
                                f"{extra}", [Step(ip.addr_del(extra, net.bridge))]))
    if not link.up:
        problems.append(Problem(net.name, "bridge-down", f"bridge {net.bridge} is down",
                                [Step(ip.link_up(net.bridge))]))
    return problems


def _rule_problems(net: Network, kernel: Snapshot) -> list[Problem]:
    wanted = iptables.spec(bridge.masquerade_rule(net, iptables.APPEND))
    tagged = [r for r in kernel.nat_rules if iptables.tag_of(r) == net.name]
    count = tagged.count(wanted)
    problems = []
    if not net.internal and count == 0:
        problems.append(Problem(net.name, "rule-missing", f"MASQUERADE rule for {net.subnet} is "
                                "missing", [Step(bridge.masquerade_rule(net, iptables.APPEND),
                                                 skip_if=bridge.masquerade_rule(net, iptables.CHECK))]))
    surplus = count if net.internal else max(count - 1, 0)
    if surplus:
        why = "present on an internal network" if net.internal else "duplicated"
        problems.append(Problem(net.name, "rule-duplicate", f"MASQUERADE rule for {net.subnet} is "
                                f"{why} ({count} copies)",
                                [Step(iptables.nat_delete(wanted)) for _ in range(surplus)]))
    for stray in (r for r in tagged if r != wanted):
        problems.append(Problem(net.name, "rule-stray", f"unexpected tagged rule: {' '.join(stray)}",
                                [Step(iptables.nat_delete(stray))]))
    return problems


def _orphan_rules(state: State, kernel: Snapshot) -> list[Problem]:
    problems = []
    for rule in kernel.nat_rules:
        tag = iptables.tag_of(rule)
        if tag is not None and tag not in state.networks:
            problems.append(Problem(ORPHAN, "rule-orphan", f"rule tagged for unknown network {tag!r}: "
                                    f"{' '.join(rule)}", [Step(iptables.nat_delete(rule))]))
    return problems

