"""The records the store holds, as plain dataclasses that map to and from JSON."""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field, fields

# Write-ahead status values of a network record.
CREATING = "creating"
READY = "ready"
REMOVING = "removing"
STATUSES = (CREATING, READY, REMOVING)


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

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Network":
        names = {f.name for f in fields(cls)}
        missing = [n for n in names if n not in data and n not in ("status", "allocations")]
        if missing:
            raise ValueError(f"network record lacks {', '.join(sorted(missing))}")
        if data.get("status", CREATING) not in STATUSES:
            raise ValueError(f"unknown status {data.get('status')!r}")
        net = cls(**{k: v for k, v in data.items() if k in names})
        subnet = ipaddress.IPv4Network(net.subnet)  # ValueError when it is not one
        if ipaddress.IPv4Address(net.gateway) not in subnet:
            raise ValueError(f"gateway {net.gateway} is outside {net.subnet}")
        if not isinstance(net.allocations, dict):
            raise ValueError("allocations is not an object")
        return net

    def summary(self) -> dict:
        """What `network list` shows, one record per network."""
        return {
            "name": self.name, "driver": self.driver, "subnet": self.subnet,
            "gateway": self.gateway, "bridge": self.bridge, "internal": self.internal,
            "status": self.status,
        }

    def details(self) -> dict:
        """What `network inspect` shows."""
        return {
            **self.summary(), "mtu": self.mtu, "created": self.created,
            "ipam": {"subnet": self.subnet, "gateway": self.gateway,
                     "in_use": dict(sorted(self.allocations.items(), key=_by_address))},
        }


def _by_address(item: tuple[str, object]) -> tuple[int, ...]:
    return tuple(int(part) for part in item[0].split("."))
