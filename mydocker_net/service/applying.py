"""apply: prune, then create and connect everything missing in one batched plan."""

from __future__ import annotations

import ipaddress

from mydocker_net import apply as desired
from mydocker_net import ipam, kernel
from mydocker_net.batch import execute_batched
from mydocker_net.drivers import bridge
from mydocker_net.models import READY, Network
from mydocker_net.service.base import ServiceBase
from mydocker_net.service.networks import CreateRequest
from mydocker_net.store import State


class ApplyOps(ServiceBase):

    def apply(self, data: object, prune: bool = False) -> desired.ApplyReport:
        """Make the store (and kernel) hold what the document describes: check it whole, then
        prune (each removal atomic on its own), then create and connect in one batched plan."""
        doc = desired.parse(data)
        with self._state_for_change() as state:
            changes, conflicts = desired.diff(doc, state, prune)
            staying = {n: net for n, net in state.networks.items() if n not in changes.remove}
            creating = bool(changes.create or changes.connect)
            host_links = set(kernel.links(self.runner)) if creating else set()  # read once
            conflicts += self._new_network_conflicts(changes.create, staying, host_links)
            insides = {} if conflicts else self._endpoint_insides(changes.connect, conflicts)
            if conflicts:
                raise desired.ApplyConflict(conflicts)
            report = desired.ApplyReport(
                [s.name for s in changes.create], changes.unchanged, changes.remove,
                [f"{e.network}/{e.target}" for e in changes.connect], changes.unchanged_endpoints,
                [f"{n}/{state.networks[n].endpoints[k].target}" for n, k in changes.disconnect])
            self._prune(state, changes)
            if creating:
                self._create_all(state, changes, insides, host_links)
        return report

    @staticmethod
    def _new_network_conflicts(specs, staying: dict[str, Network], links: set[str]) -> list[str]:
        found = []
        subnets = {n.name: ipaddress.IPv4Network(n.subnet) for n in staying.values()}
        for spec in specs:
            if spec.name in links:
                found.append(f"{spec.path}.name: a link named {spec.name} already exists and was "
                             "not made by mydocker-net")
            clash = ipam.overlapping(ipaddress.IPv4Network(spec.subnet), subnets) if spec.subnet else None
            if clash:
                found.append(f"{spec.path}.subnet: {spec.subnet} overlaps network {clash} "
                             f"({subnets[clash]})")
        return found

    def _endpoint_insides(self, specs, conflicts: list[str]) -> dict[str, kernel.Inside]:
        insides = {}
        for spec in specs:
            if spec.identity not in insides:
                insides[spec.identity] = kernel.inside(self.runner, spec.resolved.ip)
            if spec.ifname in insides[spec.identity].links:
                conflicts.append(f"{spec.path}.ifname: interface {spec.ifname} already exists in "
                                 f"target {spec.target}")
        return insides

    def _prune(self, state: State, changes: desired.Changes) -> None:
        for name, key in changes.disconnect:
            net = state.networks[name]
            self._disconnect_one(net, net.endpoints[key], state)
        for name in changes.remove:
            self._remove_one(name, state, force=True)

    def _create_all(self, state: State, changes: desired.Changes, insides, host_links) -> None:
        nets = self._new_networks(state, changes.create)
        joined = self._new_endpoints(state, changes.connect, insides, host_links)
        self._save(state)  # write-ahead: every new network and endpoint "creating"
        forwarding = kernel.ip_forward_enabled(self.runner) if nets else True
        try:
            execute_batched(bridge.plan_apply(nets, joined, forwarding), self.runner)
        except BaseException:
            for net, ep, _ in joined:
                if net.name in state.networks:
                    self._forget_endpoint(net, ep)
            for net in nets:
                state.networks.pop(net.name, None)
            self._save(state)
            raise
        for record in nets + [ep for _, ep, _ in joined]:
            record.status = READY
        self._save(state)

    def _new_networks(self, state: State, specs) -> list[Network]:
        nets = []
        taken = [ipaddress.IPv4Network(n.subnet) for n in state.networks.values()]
        taken += [ipaddress.IPv4Network(s.subnet) for s in specs if s.subnet]
        if any(spec.subnet is None for spec in specs):
            taken += kernel.used_networks(self.runner)
        for spec in specs:
            subnet = ipaddress.IPv4Network(spec.subnet) if spec.subnet else ipam.pick_subnet(taken)
            taken.append(subnet)
            request = CreateRequest(name=spec.name, driver=spec.driver, gateway=spec.gateway,
                                    internal=spec.internal, mtu=spec.mtu)
            net = self._new_record(request, subnet)
            state.networks[net.name] = net
            nets.append(net)
        return nets

    def _new_endpoints(self, state: State, specs, insides, host_links: set[str]):
        joined = []
        in_use = self._veth_names_in_use(state, host_links)
        ordered = sorted(specs, key=lambda s: s.ip is None)  # static addresses first
        for spec in ordered:
            net = state.networks[spec.network]
            static = ipaddress.IPv4Address(spec.ip) if spec.ip else None
            ep = self._new_endpoint(net, spec.resolved, spec.identity, spec.ifname, static,
                                    spec.publish, in_use)
            inside = insides[spec.identity]
            ep.lo_up = not getattr(inside.links.get("lo"), "up", True)
            ep.default_route = not inside.default_route
            inside.default_route = True  # one default route per namespace, from its first network
            inside.links.setdefault("lo", kernel.Link("lo", "", True, None)).up = True
            net.endpoints[ep.host_veth] = ep
            joined.append((net, ep, spec.resolved))
        return joined
