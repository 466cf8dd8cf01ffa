"""`apply`: a JSON document of desired networks and endpoints, checked whole before anything is
done, and compared with the store to find what to create, leave alone, or (with --prune) remove.

Pure logic: no kernel, no lock. service.Service.apply runs what this decides.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from mydocker_net import targets, validate
from mydocker_net.errors import MyDockerNetError, UsageError
from mydocker_net.models import READY, Endpoint, Network, Publish
from mydocker_net.store import State

NETWORK_KEYS = {"name", "driver", "subnet", "gateway", "internal", "mtu"}
ENDPOINT_KEYS = {"network", "target", "ifname", "ip", "publish"}


class DocumentInvalid(UsageError):
    """Every problem of the document, each with its JSON path; nothing was applied."""

    def __init__(self, problems: list[str]):
        super().__init__(f"{len(problems)} problem(s) in the document; nothing was applied")
        self.problems = problems


class ApplyConflict(MyDockerNetError):
    """The store holds something the document describes differently; nothing was applied."""

    def __init__(self, conflicts: list[str]):
        super().__init__(f"{len(conflicts)} conflict(s) with existing state; nothing was applied")
        self.problems = conflicts


@dataclass
class NetworkSpec:
    path: str
    name: str
    driver: str = "bridge"
    subnet: str | None = None     # normalised CIDR
    gateway: str | None = None
    internal: bool = False
    mtu: int | None = None


@dataclass
class EndpointSpec:
    path: str
    network: str
    target: str
    ifname: str = "eth0"
    ip: str | None = None
    publish: list[Publish] = field(default_factory=list)
    resolved: targets.Target | None = None
    identity: str | None = None


@dataclass
class Document:
    networks: list[NetworkSpec]
    endpoints: list[EndpointSpec]


@dataclass
class Changes:
    create: list[NetworkSpec] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    connect: list[EndpointSpec] = field(default_factory=list)
    unchanged_endpoints: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)            # networks, with their endpoints
    disconnect: list[tuple[str, str]] = field(default_factory=list)  # (network, host_veth)

    @property
    def empty(self) -> bool:
        return not (self.create or self.connect or self.remove or self.disconnect)


@dataclass
class ApplyReport:
    created: list[str]
    unchanged: list[str]
    removed: list[str]
    connected: list[str]
    unchanged_endpoints: list[str]
    disconnected: list[str]

    @property
    def changed(self) -> bool:
        return bool(self.created or self.removed or self.connected or self.disconnected)


# ---- reading the document ------------------------------------------------------------------------

def parse(data: object) -> Document:
    problems: list[str] = []
    if not isinstance(data, dict):
        raise DocumentInvalid(["$: the document must be a JSON object"])
    for key in sorted(set(data) - {"networks", "endpoints"}):
        problems.append(f"$.{key}: unknown key")
    networks = [_network(item, f"$.networks[{i}]", problems)
                for i, item in enumerate(_list(data, "networks", problems))]
    endpoints = [_endpoint(item, f"$.endpoints[{i}]", problems)
                 for i, item in enumerate(_list(data, "endpoints", problems))]
    doc = Document([n for n in networks if n], [e for e in endpoints if e])
    _cross_checks(doc, problems)
    if problems:
        raise DocumentInvalid(problems)
    return doc


def _list(data: dict, key: str, problems: list[str]) -> list:
    value = data.get(key, [])
    if not isinstance(value, list):
        problems.append(f"$.{key}: must be a list")
        return []
    return value


def _check(problems: list[str], path: str, func, *args):
    try:
        return func(*args)
    except (MyDockerNetError, ValueError) as err:
        problems.append(f"{path}: {err}")
        return None


def _typed(item: dict, key: str, kind, path: str, problems: list[str], default=None):
    value = item.get(key, default)
    if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
        problems.append(f"{path}.{key}: must be {kind.__name__}")
        return default
    return value


def _object(item, path: str, keys: set, required: tuple, problems: list[str]) -> bool:
    if not isinstance(item, dict):
        problems.append(f"{path}: must be an object")
        return False
    for key in sorted(set(item) - keys):
        problems.append(f"{path}.{key}: unknown key")
    missing = [key for key in required if key not in item]
    for key in missing:
        problems.append(f"{path}.{key}: required")
    return not missing


def _network(item, path: str, problems: list[str]) -> NetworkSpec | None:
    if not _object(item, path, NETWORK_KEYS, ("name",), problems):
        return None
    before = len(problems)
    spec = NetworkSpec(path=path, name=item["name"])
    _check(problems, f"{path}.name", validate.network_name, item["name"])
    spec.driver = _check(problems, f"{path}.driver", validate.driver,
                         _typed(item, "driver", str, path, problems, "bridge"))
    spec.internal = _typed(item, "internal", bool, path, problems, False)
    spec.mtu = _check(problems, f"{path}.mtu", validate.mtu, _typed(item, "mtu", int, path, problems))
    subnet = _typed(item, "subnet", str, path, problems)
    gateway = _typed(item, "gateway", str, path, problems)
    if subnet is not None:
        parsed = _check(problems, f"{path}.subnet", validate.subnet, subnet)
        if parsed:
            spec.subnet = str(parsed[0])
            if gateway is not None:
                spec.gateway = str(_check(problems, f"{path}.gateway", validate.gateway, gateway,
                                          parsed[0]))
    elif gateway is not None:
        problems.append(f"{path}.gateway: needs a subnet")
    return spec if len(problems) == before else None


def _endpoint(item, path: str, problems: list[str]) -> EndpointSpec | None:
    if not _object(item, path, ENDPOINT_KEYS, ("network", "target"), problems):
        return None
    before = len(problems)
    spec = EndpointSpec(path=path, network=_typed(item, "network", str, path, problems) or "",
                        target=_typed(item, "target", str, path, problems) or "")
    spec.ifname = _check(problems, f"{path}.ifname", validate.ifname,
                         _typed(item, "ifname", str, path, problems, "eth0"))
    ip = _typed(item, "ip", str, path, problems)
    if ip is not None:
        spec.ip = str(_check(problems, f"{path}.ip", validate.address, ip))
    publish = _typed(item, "publish", list, path, problems, [])
    for i, text in enumerate(publish):
        port = _check(problems, f"{path}.publish[{i}]", validate.publish, text)
        if port:
            spec.publish.append(Publish(*port))
    resolved = _check(problems, f"{path}.target", targets.resolve, spec.target)
    if resolved:
        spec.resolved, spec.identity = resolved
    return spec if len(problems) == before else None


def _cross_checks(doc: Document, problems: list[str]) -> None:
    names: dict[str, NetworkSpec] = {}
    for spec in doc.networks:
        if spec.name in names:
            problems.append(f"{spec.path}.name: network {spec.name!r} is named twice")
        names[spec.name] = spec
    subnets = [(s, ipaddress.IPv4Network(s.subnet)) for s in doc.networks if s.subnet]
    for i, (spec, net) in enumerate(subnets):
        for other, other_net in subnets[:i]:
            if net.overlaps(other_net):
                problems.append(f"{spec.path}.subnet: {net} overlaps {other.name} ({other_net})")
    seen_targets, seen_ports, seen_ips, seen_ifnames = set(), {}, set(), set()
    for spec in doc.endpoints:
        if (spec.identity, spec.ifname) in seen_ifnames:
            problems.append(f"{spec.path}.ifname: {spec.target} gets interface {spec.ifname} twice")
        seen_ifnames.add((spec.identity, spec.ifname))
        net = names.get(spec.network)
        if net is None:
            problems.append(f"{spec.path}.network: network {spec.network!r} is not in this "
                            "document's networks")
            continue
        if (spec.network, spec.identity) in seen_targets:
            problems.append(f"{spec.path}.target: {spec.target} is connected to {spec.network} twice")
        seen_targets.add((spec.network, spec.identity))
        if spec.ip and net.subnet and ipaddress.IPv4Address(spec.ip) not in ipaddress.IPv4Network(net.subnet):
            problems.append(f"{spec.path}.ip: {spec.ip} is outside {net.subnet}")
        if spec.ip and (spec.network, spec.ip) in seen_ips:
            problems.append(f"{spec.path}.ip: {spec.ip} is given twice")
        seen_ips.add((spec.network, spec.ip))
        for i, port in enumerate(spec.publish):
            key = (port.host_port, port.proto)
            if key in seen_ports:
                problems.append(f"{spec.path}.publish[{i}]: host port {port.host_port}/{port.proto} "
                                f"is also published at {seen_ports[key]}")
            seen_ports[key] = spec.path


# ---- comparing with the store --------------------------------------------------------------------

def diff(doc: Document, state: State, prune: bool) -> tuple[Changes, list[str]]:
    """What to do, and the conflicts that forbid doing anything."""
    changes, conflicts = Changes(), []
    wanted = {spec.name for spec in doc.networks}
    for spec in doc.networks:
        net = state.networks.get(spec.name)
        if net is None:
            changes.create.append(spec)
            continue
        differences = _network_differences(spec, net)
        if differences:
            conflicts.append(f"{spec.path}: network {spec.name} exists with {'; '.join(differences)}")
        else:
            changes.unchanged.append(spec.name)
    for spec in doc.endpoints:
        net = state.networks.get(spec.network)
        ep = _existing_endpoint(net, spec) if net else None
        if ep is None:
            changes.connect.append(spec)
            continue
        differences = _endpoint_differences(spec, ep)
        if differences:
            conflicts.append(f"{spec.path}: {spec.target} is connected to {spec.network} with "
                             f"{'; '.join(differences)}")
        else:
            changes.unchanged_endpoints.append(f"{spec.network}/{spec.target}")
    if prune:
        changes.remove = sorted(name for name in state.networks if name not in wanted)
        kept = {(e.network, e.identity) for e in doc.endpoints}
        for name in sorted(wanted & set(state.networks)):
            for key, ep in sorted(state.networks[name].endpoints.items()):
                if (name, ep.netns_id) not in kept:
                    changes.disconnect.append((name, key))
    conflicts += _taken_ports(doc, state, changes)
    return changes, conflicts


def _network_differences(spec: NetworkSpec, net: Network) -> list[str]:
    found = []
    if net.status != READY:
        found.append(f"status {net.status!r} (run doctor --fix)")
    pairs = [("driver", spec.driver, net.driver), ("internal", spec.internal, net.internal),
             ("mtu", spec.mtu, net.mtu)]
    if spec.subnet is not None:
        pairs.append(("subnet", spec.subnet, net.subnet))
    if spec.gateway is not None:
        pairs.append(("gateway", spec.gateway, net.gateway))
    for key, want, have in pairs:
        if want != have:
            found.append(f"{key} {have!r}, not {want!r}")
    return found


def _existing_endpoint(net: Network, spec: EndpointSpec) -> Endpoint | None:
    for ep in net.endpoints.values():
        if ep.netns_id == spec.identity:
            return ep
    return None


def _endpoint_differences(spec: EndpointSpec, ep: Endpoint) -> list[str]:
    found = []
    if ep.status != READY:
        found.append(f"status {ep.status!r} (run doctor --fix)")
    if spec.ifname != ep.ifname:
        found.append(f"ifname {ep.ifname!r}, not {spec.ifname!r}")
    if spec.ip is not None and spec.ip != ep.address:
        found.append(f"address {ep.address}, not {spec.ip}")
    if sorted(map(str, spec.publish)) != sorted(map(str, ep.ports())):
        found.append(f"ports {sorted(map(str, ep.ports()))}, not {sorted(map(str, spec.publish))}")
    return found


def _taken_ports(doc: Document, state: State, changes: Changes) -> list[str]:
    """Host ports the new endpoints want that endpoints staying in the store already publish."""
    leaving = set(changes.remove) | {key for _, key in changes.disconnect}
    taken = {}
    for net in state.networks.values():
        for key, ep in net.endpoints.items():
            if net.name not in leaving and key not in leaving:
                for port in ep.ports():
                    taken[(port.host_port, port.proto)] = f"{ep.target} on network {net.name}"
    conflicts = []
    for spec in changes.connect:
        for i, port in enumerate(spec.publish):
            holder = taken.get((port.host_port, port.proto))
            if holder:
                conflicts.append(f"{spec.path}.publish[{i}]: host port {port.host_port}/{port.proto} "
                                 f"is already published by {holder}")
    return conflicts
