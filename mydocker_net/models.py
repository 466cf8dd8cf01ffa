"""The records the store holds, as plain dataclasses that map to and from JSON."""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field, fields

# Write-ahead status values of network and endpoint records.
CREATING = "creating"
READY = "ready"
REMOVING = "removing"
STATUSES = (CREATING, READY, REMOVING)


def _from_dict(cls, data: dict, optional: tuple[str, ...]):
    names = {f.name for f in fields(cls)}
    missing = sorted(n for n in names if n not in data and n not in optional)
    if missing:
        raise ValueError(f"record lacks {', '.join(missing)}")
    if data.get("status", CREATING) not in STATUSES:
        raise ValueError(f"unknown status {data.get('status')!r}")
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Publish:
    host_port: int
    container_port: int
    proto: str = "tcp"

    def __str__(self) -> str:
        return f"{self.host_port}:{self.container_port}/{self.proto}"


@dataclass
class Endpoint:
    """A namespace joined to a network: everything needed to take it away without looking at it."""

    host_veth: str      # the bridge-side end, in the host namespace
    target: str         # as the user named it: "c1", "/run/netns/c1", "/proc/123/ns/net"
    target_kind: str    # "name", "path" or "pid"
    netns_path: str     # the namespace file: /run/netns/c1, a path, /proc/PID/ns/net
    netns_id: str       # the namespace's inode when connected: tells a new namespace from ours
    ifname: str
    address: str
    created: str
    status: str = CREATING
    publish: list[dict] = field(default_factory=list)   # Publish records as dicts
    rules: list[list[str]] = field(default_factory=list)  # iptables Rule.to_list() of each rule
    default_route: bool = False  # we added the default route
    lo_up: bool = False          # we brought lo up

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Endpoint":
        optional = ("status", "publish", "rules", "default_route", "lo_up")
        ep = _from_dict(cls, data, optional)
        ipaddress.IPv4Address(ep.address)
        return ep

    def ports(self) -> list[Publish]:
        return [Publish(**p) for p in self.publish]

    def view(self) -> dict:
        return {"target": self.target, "ifname": self.ifname, "address": self.address,
                "host_veth": self.host_veth, "ports": [str(p) for p in self.ports()],
                "status": self.status}


@dataclass
class Network:
    name: str
    driver: str
    subnet: str
    gateway: str
    bridge: str
    internal: bool
    mtu: int | None
    created: str
    status: str = CREATING
    # IPAM: {address: owner}; the gateway is here as owner "gateway".
    allocations: dict[str, object] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)  # host_veth -> Endpoint

    def to_dict(self) -> dict:
        data = asdict(self)
        data["endpoints"] = {k: ep.to_dict() for k, ep in sorted(self.endpoints.items())}
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Network":
        net = _from_dict(cls, data, ("status", "allocations", "endpoints"))
        subnet = ipaddress.IPv4Network(net.subnet)  # ValueError when it is not one
        if ipaddress.IPv4Address(net.gateway) not in subnet:
            raise ValueError(f"gateway {net.gateway} is outside {net.subnet}")
        if not isinstance(net.allocations, dict) or not isinstance(net.endpoints, dict):
            raise ValueError("allocations and endpoints must be objects")
        net.endpoints = {key: Endpoint.from_dict(ep) for key, ep in net.endpoints.items()}
        return net

    @property
    def prefixlen(self) -> int:
        return ipaddress.IPv4Network(self.subnet).prefixlen

    def summary(self) -> dict:
        """What `network list` shows, one record per network."""
        return {
            "name": self.name, "driver": self.driver, "subnet": self.subnet,
            "gateway": self.gateway, "bridge": self.bridge, "internal": self.internal,
            "endpoints": len(self.endpoints), "status": self.status,
        }

    def details(self) -> dict:
        """What `network inspect` shows."""
        return {
            **self.summary(), "mtu": self.mtu, "created": self.created,
            "ipam": {"subnet": self.subnet, "gateway": self.gateway,
                     "in_use": dict(sorted(self.allocations.items(), key=_by_address))},
            "endpoints": [ep.view() for ep in sorted(self.endpoints.values(), key=lambda e: e.target)],
        }


def _by_address(item: tuple[str, object]) -> tuple[int, ...]:
    return tuple(int(part) for part in item[0].split("."))
