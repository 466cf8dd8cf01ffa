"""network create and remove: validate, lock, write ahead, run the plan, commit."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from mydocker_net import ipam, kernel, validate
from mydocker_net.drivers import bridge
from mydocker_net.errors import Conflict, MyDockerNetError, NotFound, UsageError
from mydocker_net.models import READY, Network
from mydocker_net.plan import execute
from mydocker_net.queries import Outcome
from mydocker_net.service.base import GATEWAY_OWNER, ServiceBase, now
from mydocker_net.store import State


@dataclass
class CreateRequest:
    name: str
    driver: str = "bridge"
    subnet: str | None = None
    gateway: str | None = None
    internal: bool = False
    mtu: int | None = None



class NetworkOps(ServiceBase):

    def create(self, req: CreateRequest) -> Network:
        validate.network_name(req.name)
        validate.driver(req.driver)
        validate.mtu(req.mtu)
        subnet = self._requested_subnet(req)
        with self._state_for_change() as state:
            self._refuse_existing(req.name, state)
            if subnet is None:
                subnet = self._free_subnet(state)
            else:
                self._refuse_overlap(subnet, state)
            net = self._new_record(req, subnet)
            state.networks[net.name] = net
            self._save(state)  # write-ahead: status "creating"
            try:
                execute(bridge.plan_create(net, kernel.ip_forward_enabled(self.runner)), self.runner)
            except BaseException:
                del state.networks[net.name]
                self._save(state)
                raise
            net.status = READY
            self._save(state)
        return net

    def _requested_subnet(self, req: CreateRequest) -> ipaddress.IPv4Network | None:
        if req.subnet is None:
            if req.gateway is not None:
                raise UsageError("--gateway needs --subnet")
            return None
        subnet, normalised = validate.subnet(req.subnet)
        if normalised:
            self.warn(f"subnet {req.subnet} has host bits set; using {subnet}")
        if req.gateway is not None:
            validate.gateway(req.gateway, subnet)
        return subnet

    def _refuse_existing(self, name: str, state: State) -> None:
        existing = state.networks.get(name)
        if existing is not None and existing.status != READY:
            raise Conflict(f"network {name} already exists, left in status {existing.status!r} by an "
                           f"interrupted command: run 'mydocker-net network rm {name}' or "
                           "'mydocker-net doctor --fix'")
        if existing is not None:
            raise Conflict(f"network {name} already exists")
        if name in kernel.links(self.runner):
            raise Conflict(
                f"a link named {name} already exists and was not made by mydocker-net; "
                "refusing to adopt it"
            )

    def _refuse_overlap(self, subnet: ipaddress.IPv4Network, state: State) -> None:
        subnets = {n.name: ipaddress.IPv4Network(n.subnet) for n in state.networks.values()}
        clash = ipam.overlapping(subnet, subnets)
        if clash is not None:
            raise Conflict(
                f"subnet {subnet} overlaps network {clash} ({subnets[clash]}): "
                "pool overlaps with other one on this address space"
            )

    def _free_subnet(self, state: State) -> ipaddress.IPv4Network:
        taken = [ipaddress.IPv4Network(n.subnet) for n in state.networks.values()]
        taken += kernel.used_networks(self.runner)
        return ipam.pick_subnet(taken)

    @staticmethod
    def _new_record(req: CreateRequest, subnet: ipaddress.IPv4Network) -> Network:
        gateway = req.gateway or str(subnet.network_address + 1)
        pool = ipam.AddressPool(subnet)
        pool.reserve(gateway, GATEWAY_OWNER)
        return Network(
            name=req.name, driver=req.driver, subnet=str(subnet), gateway=gateway,
            bridge=req.name, internal=req.internal, mtu=req.mtu,
            created=now(),
            allocations=pool.allocations,
        )


    def remove(self, names: list[str], force: bool = False) -> Outcome:
        outcome = Outcome(done=[], errors=[])
        with self._state_for_change() as state:
            for name in names:
                try:
                    if self._remove_one(name, state, force):
                        outcome.done.append(name)
                except MyDockerNetError as err:
                    outcome.errors.append(err)
        return outcome

    def _remove_one(self, name: str, state: State, force: bool) -> bool:
        validate.network_name(name)
        net = state.networks.get(name)
        if net is None:
            if force:
                return False
            raise NotFound(f"network {name} not found")
        if net.endpoints and not force:
            names = ", ".join(f"{ep.target} ({ep.ifname})" for ep in net.endpoints.values())
            raise Conflict(f"network {name} has endpoints: {names}; disconnect them or use --force")
        for ep in list(net.endpoints.values()):
            self._disconnect_one(net, ep, state)
        present = kernel.links(self.runner).get(net.bridge) == "bridge"
        self._take_away(net, bridge.plan_remove(net, present), state)
        del state.networks[name]
        self._save(state)
        return True
