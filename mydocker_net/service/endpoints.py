"""network connect and disconnect: a namespace joined to a bridge by a veth pair."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from mydocker_net import ipam, kernel, targets, validate
from mydocker_net.drivers import bridge
from mydocker_net.errors import Conflict, NotFound, UsageError
from mydocker_net.models import READY, Endpoint, Network, Publish
from mydocker_net.plan import execute
from mydocker_net.service.base import ServiceBase, now
from mydocker_net.store import State


@dataclass
class ConnectRequest:
    network: str
    target: str
    ip: str | None = None
    ifname: str = "eth0"
    publish: tuple[str, ...] = ()



class EndpointOps(ServiceBase):

    def connect(self, req: ConnectRequest) -> tuple[Network, Endpoint]:
        validate.network_name(req.network)
        validate.ifname(req.ifname)
        static_ip = validate.address(req.ip) if req.ip is not None else None
        ports = self._requested_ports(req.publish)
        target, ident = targets.resolve(req.target)
        with self._state_for_change() as state:
            net = self._ready_network(state, req.network)
            self._refuse_double_connect(net, target, ident)
            self._refuse_taken_ports(state, ports)
            inside = self._inside(target, req.ifname)
            in_use = self._veth_names_in_use(state, set(kernel.links(self.runner)))
            ep = self._new_endpoint(net, target, ident, req.ifname, static_ip, ports, in_use)
            ep.lo_up = not getattr(inside.links.get("lo"), "up", True)
            ep.default_route = not inside.default_route
            net.endpoints[ep.host_veth] = ep
            self._save(state)  # write-ahead: endpoint "creating", address held
            try:
                execute(bridge.plan_connect(net, ep, target), self.runner)
            except BaseException:
                self._forget_endpoint(net, ep)
                self._save(state)
                raise
            ep.status = READY
            self._save(state)
        return net, ep

    def disconnect(self, network: str, target_text: str, force: bool = False) -> Endpoint | None:
        validate.network_name(network)
        target = targets.parse(target_text)
        with self._state_for_change() as state:
            net = state.networks.get(network)
            if net is None:
                raise NotFound(f"network {network} not found")
            ep = _find_endpoint(net, target)
            if ep is None:
                if force:
                    return None
                raise NotFound(f"target {target_text} is not connected to network {network}")
            self._disconnect_one(net, ep, state)
        return ep

    def _disconnect_one(self, net: Network, ep: Endpoint, state: State) -> None:
        """Works from the record: rules that are there, the veth if it is there (it is not when
        the namespace died: the kernel took both ends)."""
        present = kernel.links(self.runner).get(ep.host_veth) == "veth"
        self._take_away(ep, bridge.plan_disconnect(ep, present), state)
        self._forget_endpoint(net, ep)
        self._save(state)

    @staticmethod
    def _forget_endpoint(net: Network, ep: Endpoint) -> None:
        pool = ipam.AddressPool(net.subnet, net.allocations)
        if pool.owner(ep.address) is not None:
            pool.release(ep.address)
        net.endpoints.pop(ep.host_veth, None)

    @staticmethod
    def _requested_ports(texts) -> list[Publish]:
        ports = [Publish(*validate.publish(text)) for text in texts]
        seen = set()
        for port in ports:
            if (port.host_port, port.proto) in seen:
                raise UsageError(f"host port {port.host_port}/{port.proto} is published twice")
            seen.add((port.host_port, port.proto))
        return ports

    @staticmethod
    def _ready_network(state: State, name: str) -> Network:
        net = state.networks.get(name)
        if net is None:
            raise NotFound(f"network {name} not found")
        if net.status != READY:
            raise Conflict(f"network {name} is in status {net.status!r}; run 'mydocker-net doctor --fix'")
        return net

    @staticmethod
    def _refuse_double_connect(net: Network, target: targets.Target, ident: str) -> None:
        for ep in net.endpoints.values():
            if ep.netns_id == ident or (ep.target_kind == target.kind and ep.target == target.given):
                raise Conflict(f"target {target.given} is already connected to network {net.name} "
                               f"({ep.ifname}, {ep.address})")

    @staticmethod
    def _refuse_taken_ports(state: State, ports: list[Publish]) -> None:
        taken = {(p.host_port, p.proto): (net.name, ep.target)
                 for net in state.networks.values() for ep in net.endpoints.values()
                 for p in ep.ports()}
        for port in ports:
            holder = taken.get((port.host_port, port.proto))
            if holder is not None:
                raise Conflict(f"host port {port.host_port}/{port.proto} is already published by "
                               f"{holder[1]} on network {holder[0]}")

    def _inside(self, target: targets.Target, ifname: str) -> kernel.Inside:
        inside = kernel.inside(self.runner, target.ip)
        if ifname in inside.links:
            raise Conflict(f"interface {ifname} already exists in target {target.given}")
        return inside

    @staticmethod
    def _veth_names_in_use(state: State, host_links: set[str]) -> set[str]:
        return host_links | {key for net in state.networks.values() for key in net.endpoints}

    @staticmethod
    def _new_endpoint(net: Network, target: targets.Target, ident: str, ifname: str, static_ip,
                      ports: list[Publish], in_use: set[str]) -> Endpoint:
        host_veth = _veth_name(net.name, ident, ifname, in_use)
        in_use.add(host_veth)
        owner = {"network": net.name, "target": target.given, "netns": ident, "ifname": ifname}
        pool = ipam.AddressPool(net.subnet, net.allocations)
        address = str(pool.reserve(static_ip, owner) if static_ip else pool.allocate(owner))
        rules = bridge.publish_rules(net, address, ports)
        return Endpoint(
            host_veth=host_veth, target=target.given, target_kind=target.kind,
            netns_path=target.path, netns_id=ident, ifname=ifname, address=address,
            created=now(), publish=[vars(p) for p in ports], rules=[r.to_list() for r in rules],
        )



def _find_endpoint(net: Network, target: targets.Target) -> Endpoint | None:
    """By the name the user gave, or by the namespace's identity when it still exists."""
    ident = targets.identity(target)
    for ep in net.endpoints.values():
        if ep.target_kind == target.kind and ep.target == target.given:
            return ep
        if ident is not None and ep.netns_id == ident:
            return ep
    return None


def _veth_name(network: str, ident: str, ifname: str, in_use: set[str]) -> str:
    """`mdn` + 10 hex digits of a hash of (network, namespace, ifname): deterministic, 13 chars;
    on the rare clash with an existing link, the next salt."""
    for salt in range(100):
        digest = hashlib.sha256(f"{network}|{ident}|{ifname}|{salt}".encode()).hexdigest()
        if f"mdn{digest[:10]}" not in in_use:
            return f"mdn{digest[:10]}"
    raise Conflict("no free veth name")  # a hundred clashes: not in this universe
