"""Compare the store with the kernel: each difference a Problem, each with the steps that fix it.

Pure logic over a State and a kernel Snapshot (plus a liveness test for namespaces); only the
tool's own links (stored bridges and veths) and rules (comment-tagged `mydocker-net:`) are ever
looked at or touched.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from mydocker_net import targets
from mydocker_net.commands import ip, iptables, sysctl
from mydocker_net.commands.iptables import Rule
from mydocker_net.drivers import bridge
from mydocker_net.kernel import Snapshot
from mydocker_net.models import CREATING, READY, REMOVING, Endpoint, Network
from mydocker_net.plan import Step
from mydocker_net.store import State

HOST = "host"
ORPHAN = "orphan"


@dataclass
class Problem:
    network: str      # a network name, HOST or ORPHAN
    check: str        # a stable key, e.g. "bridge-missing"
    detail: str       # one line for people
    steps: list[Step] = field(default_factory=list)  # empty: --fix cannot repair it (unless forget)
    forget: bool = False           # --fix also drops the network's record
    forget_endpoint: str | None = None  # --fix also drops this endpoint and frees its address

    @property
    def fixable(self) -> bool:
        return bool(self.steps) or self.forget or self.forget_endpoint is not None

    def line(self) -> str:
        return f"{self.network}: {self.detail}"

    def to_dict(self) -> dict:
        return {"network": self.network, "check": self.check, "detail": self.detail}


def namespace_alive(ep: Endpoint) -> bool:
    """The endpoint's namespace still exists and is the same one (not a new one at that path)."""
    target = targets.Target(ep.target, ep.target_kind, ep.netns_path)
    return targets.identity(target) == ep.netns_id


def examine(state: State, kernel: Snapshot,
            alive: Callable[[Endpoint], bool] = namespace_alive) -> list[Problem]:
    problems: list[Problem] = []
    if state.networks and not kernel.ip_forward:
        problems.append(Problem(HOST, "ip-forward-off", "net.ipv4.ip_forward is off",
                                [Step(sysctl.enable(sysctl.IP_FORWARD))]))
    tagged: dict[str, Counter] = {}  # network -> its tagged rules; one pass, not one per network
    for table, spec in kernel.rules:
        tag = iptables.tag_of(spec)
        if tag is not None:
            tagged.setdefault(tag, Counter())[(table, spec)] += 1
    for net in sorted(state.networks.values(), key=lambda n: n.name):
        if net.status in (CREATING, REMOVING):
            problems.append(_unfinished(net, kernel))
            continue
        healthy = {key for key, ep in net.endpoints.items() if ep.status == READY and alive(ep)}
        problems += _bridge_problems(net, kernel)
        problems += _endpoint_problems(net, kernel, healthy)
        problems += _rule_problems(net, tagged.get(net.name, Counter()), healthy)
    problems += _orphan_rules(state, kernel)
    return problems


def _present(kernel: Snapshot, name: str, kind: str) -> bool:
    link = kernel.links.get(name)
    return link is not None and link.kind == kind


def _unfinished(net: Network, kernel: Snapshot) -> Problem:
    """A create or remove that never finished: --fix takes the network away (what remove does)."""
    action = "a create was interrupted" if net.status == CREATING else "a remove was interrupted"
    steps = [step for ep in net.endpoints.values()
             for step in bridge.plan_disconnect(ep, _present(kernel, ep.host_veth, "veth"))]
    steps += list(bridge.plan_remove(net, _present(kernel, net.bridge, "bridge")))
    return Problem(net.name, f"left-{net.status}", f"record left in status {net.status!r} ({action})",
                   steps, forget=True)


def _bridge_problems(net: Network, kernel: Snapshot) -> list[Problem]:
    link = kernel.links.get(net.bridge)
    gateway = bridge.gateway_cidr(net)
    if link is None:
        return [Problem(net.name, "bridge-missing", f"bridge {net.bridge} is missing",
                        bridge.bridge_steps(net))]
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


def _endpoint_problems(net: Network, kernel: Snapshot, healthy: set[str]) -> list[Problem]:
    problems = []
    for key, ep in sorted(net.endpoints.items(), key=lambda item: item[1].target):
        who = f"endpoint {ep.target} ({ep.ifname}, {ep.address})"
        link = kernel.links.get(ep.host_veth)
        if key not in healthy:
            why = (f"record left in status {ep.status!r}" if ep.status != READY
                   else "its namespace is gone")
            steps = list(bridge.plan_disconnect(ep, _present(kernel, ep.host_veth, "veth")))
            problems.append(Problem(net.name, "endpoint-gone" if ep.status == READY else
                                    f"endpoint-left-{ep.status}", f"{who}: {why}", steps,
                                    forget_endpoint=key))
        elif link is None:
            target = targets.Target(ep.target, ep.target_kind, ep.netns_path)
            problems.append(Problem(net.name, "endpoint-veth-missing",
                                    f"{who}: veth {ep.host_veth} is missing",
                                    list(bridge.plan_rejoin(net, ep, target))))
        else:
            if link.master != net.bridge:
                problems.append(Problem(net.name, "endpoint-detached",
                                        f"{who}: veth {ep.host_veth} is not on bridge {net.bridge}",
                                        [Step(ip.link_master(ep.host_veth, net.bridge))]))
            if not link.up:
                problems.append(Problem(net.name, "endpoint-down",
                                        f"{who}: veth {ep.host_veth} is down",
                                        [Step(ip.link_up(ep.host_veth))]))
    return problems


def _rule_problems(net: Network, have: Counter, healthy: set[str]) -> list[Problem]:
    wanted = bridge.network_rules(net)
    known = list(wanted)
    for key, ep in net.endpoints.items():
        rules = [Rule.from_list(r) for r in ep.rules]
        known += rules
        if key in healthy:
            wanted += rules
    problems = []
    for rule in wanted:
        count = have[(rule.table, rule.spec())]
        shown = f"{rule.table} {' '.join(rule.spec())}"
        if count == 0:
            problems.append(Problem(net.name, "rule-missing", f"rule missing: {shown}",
                                    [bridge.add_rule(rule)]))
        elif count > 1:
            problems.append(Problem(net.name, "rule-duplicate", f"rule duplicated ({count} copies): "
                                    f"{shown}", [Step(rule.delete()) for _ in range(count - 1)]))
    expected = {(rule.table, rule.spec()) for rule in known}
    for (table, spec), count in have.items():
        if (table, spec) not in expected:
            stray = Rule.from_spec(table, spec)
            problems.append(Problem(net.name, "rule-stray", f"unexpected tagged rule: {table} "
                                    f"{' '.join(spec)}", [Step(stray.delete()) for _ in range(count)]))
    return problems


def _orphan_rules(state: State, kernel: Snapshot) -> list[Problem]:
    problems = []
    for table, spec in kernel.rules:
        tag = iptables.tag_of(spec)
        if tag is not None and tag not in state.networks:
            problems.append(Problem(ORPHAN, "rule-orphan", f"rule tagged for unknown network {tag!r}: "
                                    f"{table} {' '.join(spec)}",
                                    [Step(Rule.from_spec(table, spec).delete())]))
    return problems
