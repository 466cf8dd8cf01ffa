"""Address management over plain data: no I/O, no kernel.

A network's allocations are a dict {address: owner} in the store, so the stored size grows with
the number of allocations, never with the subnet. In memory a sorted list of integers answers
"lowest free address" by binary search.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable

from mydocker_net.errors import IpamError

IPv4Network = ipaddress.IPv4Network
IPv4Address = ipaddress.IPv4Address

# Networks created without --subnet get the first free /24 of this pool (2048 subnets).
DEFAULT_POOL = ipaddress.IPv4Network("10.200.0.0/13")
DEFAULT_PREFIX = 24


class AddressPool:
    """The usable addresses of one subnet and who holds them."""

    def __init__(self, subnet: str | IPv4Network, allocations: dict[str, object] | None = None):
        self.subnet = ipaddress.IPv4Network(subnet)
        self.allocations = allocations if allocations is not None else {}
        self._low = int(self.subnet.network_address) + 1
        self._high = int(self.subnet.broadcast_address) - 1
        self._used = sorted(int(IPv4Address(a)) for a in self.allocations)

    def owner(self, addr: str | IPv4Address) -> object | None:
        return self.allocations.get(str(addr))

    def reserve(self, addr: str | IPv4Address, owner: object) -> IPv4Address:
        """Take a given address (gateway, static IP); refuse it when unusable or held."""
        ip = self._usable(addr)
        held_by = self.allocations.get(str(ip))
        if held_by is not None:
            raise IpamError(f"address {ip} is already in use by {describe_owner(held_by)}")
        self._take(ip, owner)
        return ip

    def allocate(self, owner: object) -> IPv4Address:
        """Hand out the lowest free usable address."""
        index = self._first_gap()
        candidate = self._low + index
        if candidate > self._high:
            raise IpamError(f"no free address left in {self.subnet}")
        ip = IPv4Address(candidate)
        self._take(ip, owner)
        return ip

    def release(self, addr: str | IPv4Address) -> None:
        ip = IPv4Address(addr)
        if str(ip) not in self.allocations:
            raise IpamError(f"address {ip} is not allocated in {self.subnet}")
        del self.allocations[str(ip)]
        index = bisect.bisect_left(self._used, int(ip))
        del self._used[index]

    def _usable(self, addr: str | IPv4Address) -> IPv4Address:
        try:
            ip = IPv4Address(addr)
        except ValueError:
            raise IpamError(f"invalid address {addr!r}") from None
        if ip not in self.subnet:
            raise IpamError(f"address {ip} is outside subnet {self.subnet}")
        if not self._low <= int(ip) <= self._high:
            raise IpamError(f"address {ip} is the network or broadcast address of {self.subnet}")
        return ip

    def _take(self, ip: IPv4Address, owner: object) -> None:
        self.allocations[str(ip)] = owner
        bisect.insort(self._used, int(ip))

    def _first_gap(self) -> int:
        """Smallest i with used[i] != low + i; used is strictly increasing, so binary search."""
        lo, hi = 0, len(self._used)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._used[mid] == self._low + mid:
                lo = mid + 1
            else:
                hi = mid
        return lo


def describe_owner(owner: object) -> str:
    """'c1 (eth0)' for an endpoint's address, 'gateway' for the gateway."""
    if isinstance(owner, dict) and "target" in owner:
        return f"{owner['target']} ({owner.get('ifname', '?')})"
    if isinstance(owner, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(owner.items()))
    return str(owner)


def overlapping(subnet: IPv4Network, others: dict[str, IPv4Network]) -> str | None:
    """The name of the first of `others` whose subnet overlaps `subnet`, if any."""
    for name, other in others.items():
        if subnet.overlaps(other):
            return name
    return None


def pick_subnet(taken: Iterable[IPv4Network], pool: IPv4Network = DEFAULT_POOL,
                prefix: int = DEFAULT_PREFIX) -> IPv4Network:
    """The first /prefix of the pool that overlaps nothing taken."""
    relevant = sorted((t for t in taken if t.overlaps(pool)), key=lambda n: int(n.network_address))
    for candidate in pool.subnets(new_prefix=prefix):
        if not any(candidate.overlaps(t) for t in relevant):
            return candidate
    raise IpamError(f"no free /{prefix} subnet left in the default pool {pool}")
