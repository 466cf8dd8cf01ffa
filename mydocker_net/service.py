"""Use cases: validate, take the lock, plan, run the plan, commit the store.

Every change is write-ahead: the record is saved as `creating`/`removing` before the first kernel
command, and the store ends as if nothing had happened when a step fails.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

import hashlib

from mydocker_net import apply as desired
from mydocker_net import doctor, ipam, kernel, targets, validate
from mydocker_net.batch import execute_batched
from mydocker_net.drivers import bridge
from mydocker_net.errors import Conflict, MyDockerNetError, NotFound, UsageError
from mydocker_net.models import READY, REMOVING, Endpoint, Network, Publish
from mydocker_net.plan import Plan, execute
from mydocker_net.queries import Outcome
from mydocker_net.store import State, Store

log = logging.getLogger(__name__)

GATEWAY_OWNER = "gateway"


@dataclass
class CreateRequest:
    name: str
    driver: str = "bridge"
    subnet: str | None = None
    gateway: str | None = None
    internal: bool = False
    mtu: int | None = None


@dataclass
class ConnectRequest:
    network: str
    target: str
    ip: str | None = None
    ifname: str = "eth0"
    publish: tuple[str, ...] = ()


@dataclass
class DoctorReport:
    checked: int                      # networks in the store
    problems: list[doctor.Problem]    # what the first look found
    remaining: list[doctor.Problem]   # what is still wrong (after --fix: what it could not mend)
    errors: dict[int, MyDockerNetError]  # problem index -> why its fix failed


class Service:
    def __init__(self, store: Store, runner, dry_run: bool = False,
                 warn: Callable[[str], None] = log.warning):
        self.store = store
        self.runner = runner
        self.dry_run = dry_run
        self.warn = warn

    @contextlib.contextmanager
    def _state_for_change(self) -> Iterator[State]:
        """The locked state for a real change; an unlocked snapshot for a dry-run (never saved)."""
        if self.dry_run:
            yield self.store.snapshot()
        else:
            with self.store.locked() as state:
                yield state

    def _save(self, state: State) -> None:
        if not self.dry_run:
            self.store.save(state)

    # ---- create -------------------------------------------------------------------------------

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
            created=_now(),
            allocations=pool.allocations,
        )

    # ---- remove -------------------------------------------------------------------------------

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
        previous = net.status
        net.status = REMOVING
        self._save(state)  # write-ahead: status "removing"
        present = kernel.links(self.runner).get(net.bridge) == "bridge"
        try:
            execute(bridge.plan_remove(net, present), self.runner)
        except BaseException:
            net.status = previous
            self._save(state)
            raise
        del state.networks[name]
        self._save(state)
        return True

    # ---- connect / disconnect -----------------------------------------------------------------

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
            in_use = self._veth_names_in_use(state)
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
        previous = ep.status
        ep.status = REMOVING
        self._save(state)
        present = kernel.links(self.runner).get(ep.host_veth) == "veth"
        try:
            execute(bridge.plan_disconnect(ep, present), self.runner)
        except BaseException:
            ep.status = previous
            self._save(state)
            raise
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

    def _veth_names_in_use(self, state: State) -> set[str]:
        in_use = set(kernel.links(self.runner))
        in_use.update(key for net in state.networks.values() for key in net.endpoints)
        return in_use

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
            created=_now(), publish=[vars(p) for p in ports], rules=[r.to_list() for r in rules],
        )

    # ---- apply ----------------------------------------------------------------------------------

    def apply(self, data: object, prune: bool = False) -> desired.ApplyReport:
        """Make the store (and kernel) hold what the document describes: check it whole, then
        prune (each removal atomic on its own), then create and connect in one batched plan."""
        doc = desired.parse(data)
        with self._state_for_change() as state:
            changes, conflicts = desired.diff(doc, state, prune)
            staying = {n: net for n, net in state.networks.items() if n not in changes.remove}
            conflicts += self._new_network_conflicts(changes.create, staying)
            insides = {} if conflicts else self._endpoint_insides(changes.connect, conflicts)
            if conflicts:
                raise desired.ApplyConflict(conflicts)
            report = desired.ApplyReport([s.name for s in changes.create], changes.unchanged, changes.remove,
                                 [f"{e.network}/{e.target}" for e in changes.connect],
                                 changes.unchanged_endpoints,
                                 [f"{n}/{state.networks[n].endpoints[k].target}"
                                  for n, k in changes.disconnect])
            self._prune(state, changes)
            if changes.create or changes.connect:
                self._create_all(state, changes, insides)
        return report

    def _new_network_conflicts(self, specs, staying: dict[str, Network]) -> list[str]:
        found = []
        links = kernel.links(self.runner) if specs else {}
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

    def _create_all(self, state: State, changes: desired.Changes, insides) -> None:
        nets = self._new_networks(state, changes.create)
        joined = self._new_endpoints(state, changes.connect, insides)
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

    def _new_endpoints(self, state: State, specs, insides):
        joined = []
        in_use = self._veth_names_in_use(state)
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

    # ---- doctor -------------------------------------------------------------------------------

    def doctor(self, fix: bool = False) -> DoctorReport:
        """Compare store and kernel; with fix, make the kernel match the store."""
        if not fix:
            state = self.store.snapshot()
            problems = doctor.examine(state, kernel.snapshot(self.runner))
            return DoctorReport(len(state.networks), problems, problems, {})
        with self._state_for_change() as state:
            checked = len(state.networks)
            problems = doctor.examine(state, kernel.snapshot(self.runner))
            errors = self._mend(problems, state)
            if self.dry_run:  # nothing changed, so a second look would say the same
                remaining = [p for i, p in enumerate(problems) if not p.fixable or i in errors]
            else:
                remaining = doctor.examine(state, kernel.snapshot(self.runner))
        return DoctorReport(checked, problems, remaining, errors)

    def _mend(self, problems: list[doctor.Problem], state: State) -> dict[int, MyDockerNetError]:
        errors = {}
        for index, problem in enumerate(problems):
            try:
                execute(Plan(list(problem.steps)), self.runner)
            except MyDockerNetError as err:
                errors[index] = err
                continue
            if problem.forget:
                del state.networks[problem.network]
                self._save(state)
            elif problem.forget_endpoint is not None:
                net = state.networks[problem.network]
                self._forget_endpoint(net, net.endpoints[problem.forget_endpoint])
                self._save(state)
        return errors


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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
