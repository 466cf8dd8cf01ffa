"""The bridge driver: a Linux bridge holding the gateway address, NAT and forwarding rules, and
veth pairs that join namespaces to it."""

from __future__ import annotations

from mydocker_net.commands import ip, iptables, sysctl
from mydocker_net.commands.iptables import Rule
from mydocker_net.models import Endpoint, Network, Publish
from mydocker_net.plan import Plan, Step
from mydocker_net.targets import Target


def gateway_cidr(net: Network) -> str:
    return f"{net.gateway}/{net.prefixlen}"


def network_rules(net: Network) -> list[Rule]:
    """NAT out and FORWARD accepts (so hosts whose FORWARD policy is DROP still pass the traffic)."""
    if net.internal:
        return [iptables.forward_within_bridge(net.bridge, net.name)]
    return [iptables.masquerade(net.subnet, net.bridge, net.name),
            iptables.forward_from_bridge(net.bridge, net.name),
            iptables.forward_replies(net.bridge, net.name)]


def add_rule(rule: Rule) -> Step:
    """Append/insert unless `-C` finds it; a rule that was already there is not undone."""
    return Step(rule.add(), undo=(rule.delete(),), skip_if=rule.check())


def delete_rule(rule: Rule) -> Step:
    """Delete if `-C` finds it; a rule already gone is not an error."""
    return Step(rule.delete(), undo=(rule.add(),), only_if=rule.check())


def bridge_steps(net: Network) -> list[Step]:
    return [
        Step(ip.bridge_add(net.bridge, net.mtu), undo=(ip.link_del(net.bridge),)),
        Step(ip.addr_add(gateway_cidr(net), net.bridge),
             undo=(ip.addr_del(gateway_cidr(net), net.bridge),)),
        Step(ip.link_up(net.bridge), undo=(ip.link_down(net.bridge),)),
    ]


def plan_create(net: Network, forwarding_on: bool) -> Plan:
    """Bridge, gateway address, up, forwarding, rules: in that order, each with its undo."""
    plan = Plan(bridge_steps(net))
    if not forwarding_on:
        # Shared host state: other software may rely on it, so it is never turned back off.
        plan.add(Step(sysctl.enable(sysctl.IP_FORWARD)))
    for rule in network_rules(net):
        plan.add(add_rule(rule))
    return plan


def plan_remove(net: Network, bridge_present: bool) -> Plan:
    """Rules first, bridge last; each part only if it is there, so a half-gone network still goes."""
    plan = Plan([delete_rule(rule) for rule in network_rules(net)])
    if bridge_present:
        plan.add(Step(ip.link_del(net.bridge), undo=tuple(s.do for s in bridge_steps(net))))
    return plan


# ---- endpoints ---------------------------------------------------------------------------------

def publish_rules(net: Network, address: str, ports: list[Publish]) -> list[Rule]:
    rules = []
    for port in ports:
        rules += [
            iptables.dnat_incoming(port.proto, port.host_port, address, port.container_port, net.name),
            iptables.dnat_local(port.proto, port.host_port, address, port.container_port, net.name),
            iptables.forward_published(port.proto, address, port.container_port, net.bridge, net.name),
        ]
    return rules


def host_end_steps(net: Network, ep: Endpoint, target: Target) -> list[Step]:
    """The pair, its peer born inside the target, its host end on the bridge and up.
    Deleting the host end deletes both ends, with the address and routes on them."""
    return [
        Step(ip.veth_add(ep.host_veth, ep.ifname, target.netns_ref), undo=(ip.link_del(ep.host_veth),)),
        Step(ip.link_master(ep.host_veth, net.bridge)),
        Step(ip.link_up(ep.host_veth)),
    ]


def inside_steps(net: Network, ep: Endpoint, target: Target) -> list[Step]:
    """The container end addressed and up (undone by the host end's deletion)."""
    return [
        Step(ip.addr_add(f"{ep.address}/{net.prefixlen}", ep.ifname, target.ip)),
        Step(ip.link_up(ep.ifname, target.ip)),
    ]


def veth_steps(net: Network, ep: Endpoint, target: Target) -> list[Step]:
    return host_end_steps(net, ep, target) + inside_steps(net, ep, target)


def route_and_lo_steps(net: Network, ep: Endpoint, target: Target) -> list[Step]:
    steps = []
    if ep.default_route:
        steps.append(Step(ip.route_add_default(net.gateway, ep.ifname, target.ip)))
    if ep.lo_up:
        # Never undone: the first `up` of lo adds 127.0.0.1 and a qdisc that a later `down` does
        # not take away, so it comes last and nothing that can fail follows it in a connect.
        steps.append(Step(ip.link_up("lo", target.ip)))
    return steps


def endpoint_rule_steps(ep: Endpoint) -> list[Step]:
    return [add_rule(Rule.from_list(rule)) for rule in ep.rules]


def plan_connect(net: Network, ep: Endpoint, target: Target) -> Plan:
    route, lo = [], []
    for step in route_and_lo_steps(net, ep, target):
        (lo if "lo" in step.do.argv else route).append(step)
    return Plan(veth_steps(net, ep, target) + route + endpoint_rule_steps(ep) + lo)


def plan_apply(nets: list[Network], endpoints: list[tuple[Network, Endpoint, Target]],
               forwarding_on: bool) -> Plan:
    """Many creates and connects, ordered so that batching puts them in few processes: every
    host-side `ip` step, then forwarding, then every rule, then each namespace's own steps."""
    plan = Plan([step for net in nets for step in bridge_steps(net)])
    plan.steps += [step for net, ep, target in endpoints for step in host_end_steps(net, ep, target)]
    if nets and not forwarding_on:
        plan.add(Step(sysctl.enable(sysctl.IP_FORWARD)))
    plan.steps += [add_rule(rule) for net in nets for rule in network_rules(net)]
    plan.steps += [step for _, ep, _ in endpoints for step in endpoint_rule_steps(ep)]
    for net, ep, target in endpoints:
        plan.steps += inside_steps(net, ep, target) + route_and_lo_steps(net, ep, target)
    return plan


def plan_disconnect(ep: Endpoint, host_veth_present: bool) -> Plan:
    """From the stored record alone: rules that are there, then the veth if it is there."""
    plan = Plan([delete_rule(Rule.from_list(rule)) for rule in ep.rules])
    if host_veth_present:
        plan.add(Step(ip.link_del(ep.host_veth)))
    return plan


def plan_rejoin(net: Network, ep: Endpoint, target: Target) -> Plan:
    """doctor --fix for an endpoint whose veth vanished while its namespace lives on."""
    plan = Plan(veth_steps(net, ep, target))
    if ep.default_route:
        plan.add(Step(ip.route_replace_default(net.gateway, ep.ifname, target.ip)))
    return plan
