"""The bridge driver: a Linux bridge holding the gateway address, plus NAT to the outside."""

from __future__ import annotations

import ipaddress

from mydocker_net.commands import ip, iptables, sysctl
from mydocker_net.models import Network
from mydocker_net.plan import Plan, Step


def gateway_cidr(net: Network) -> str:
    prefix = ipaddress.IPv4Network(net.subnet).prefixlen
    return f"{net.gateway}/{prefix}"


def masquerade_rule(net: Network, action: str):
    return iptables.masquerade(net.subnet, net.bridge, net.name, action)


def plan_create(net: Network, forwarding_on: bool) -> Plan:
    """Bridge, gateway address, up, forwarding, NAT: in that order, each with its undo."""
    plan = Plan()
    plan.add(Step(ip.bridge_add(net.bridge, net.mtu), undo=(ip.link_del(net.bridge),)))
    plan.add(Step(ip.addr_add(gateway_cidr(net), net.bridge),
                  undo=(ip.addr_del(gateway_cidr(net), net.bridge),)))
    plan.add(Step(ip.link_up(net.bridge), undo=(ip.link_down(net.bridge),)))
    if not forwarding_on:
        # Shared host state: other software may rely on it, so it is never turned back off.
        plan.add(Step(sysctl.enable(sysctl.IP_FORWARD)))
    if not net.internal:
        plan.add(Step(masquerade_rule(net, iptables.APPEND),
                      undo=(masquerade_rule(net, iptables.DELETE),),
                      skip_if=masquerade_rule(net, iptables.CHECK)))
    return plan


def plan_remove(net: Network, bridge_present: bool) -> Plan:
    """Rule first, bridge last; each part only if it is there, so a half-gone network still goes."""
    plan = Plan()
    if not net.internal:
        plan.add(Step(masquerade_rule(net, iptables.DELETE),
                      undo=(masquerade_rule(net, iptables.APPEND),),
                      only_if=masquerade_rule(net, iptables.CHECK)))
    if bridge_present:
        plan.add(Step(ip.link_del(net.bridge),
                      undo=(ip.bridge_add(net.bridge, net.mtu),
                            ip.addr_add(gateway_cidr(net), net.bridge),
                            ip.link_up(net.bridge))))
    return plan
