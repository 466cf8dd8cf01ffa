import ipaddress
import json

import pytest

from mydocker_net.errors import IpamError
from mydocker_net.ipam import AddressPool, overlapping, pick_subnet

N = ipaddress.IPv4Network


def test_allocate_skips_network_gateway_and_broadcast():
    pool = AddressPool("10.1.0.0/30")
    pool.reserve("10.1.0.1", "gateway")
    assert str(pool.allocate("c1")) == "10.1.0.2"
    with pytest.raises(IpamError, match="no free address left in 10.1.0.0/30"):
        pool.allocate("c2")
    assert set(pool.allocations) == {"10.1.0.1", "10.1.0.2"}


def test_lowest_free_is_reused_after_release():
    pool = AddressPool("10.1.0.0/24")
    pool.reserve("10.1.0.1", "gateway")
    first, second, third = (pool.allocate(i) for i in range(3))
    assert [str(a) for a in (first, second, third)] == ["10.1.0.2", "10.1.0.3", "10.1.0.4"]
    pool.release(second)
    assert str(pool.allocate("again")) == "10.1.0.3"
    assert str(pool.allocate("next")) == "10.1.0.5"


def test_reserve_refusals_name_the_holder():
    pool = AddressPool("10.1.0.0/24")
    pool.reserve("10.1.0.7", {"target": "c1", "ifname": "eth0"})
    with pytest.raises(IpamError, match=r"10.1.0.7 is already in use by c1 \(eth0\)"):
        pool.reserve("10.1.0.7", "other")
    with pytest.raises(IpamError, match="outside subnet"):
        pool.reserve("10.2.0.7", "x")
    with pytest.raises(IpamError, match="network or broadcast"):
        pool.reserve("10.1.0.255", "x")
    with pytest.raises(IpamError, match="invalid address"):
        pool.reserve("10.1.0", "x")


def test_release_of_unallocated_address_is_an_error():
    pool = AddressPool("10.1.0.0/24")
    with pytest.raises(IpamError, match="not allocated"):
        pool.release("10.1.0.9")
    assert pool.allocations == {}


def test_allocate_fills_gaps_after_static_reservations():
    pool = AddressPool("10.1.0.0/24")
    for addr in ("10.1.0.1", "10.1.0.2", "10.1.0.4"):
        pool.reserve(addr, "static")
    assert str(pool.allocate("x")) == "10.1.0.3"
    assert str(pool.allocate("y")) == "10.1.0.5"


def test_pool_loaded_from_stored_allocations():
    stored = {"10.1.0.1": "gateway", "10.1.0.2": "c1"}
    pool = AddressPool("10.1.0.0/24", stored)
    assert str(pool.allocate("c2")) == "10.1.0.3"
    assert stored["10.1.0.3"] == "c2"  # the pool edits the record's dict in place


def test_slash8_state_is_proportional_to_allocations():
    pool = AddressPool("10.0.0.0/8")
    pool.reserve("10.0.0.1", "gateway")
    for i in range(1000):
        pool.allocate(i)
    assert str(pool.allocate("last")) == "10.0.3.234"
    assert len(json.dumps(pool.allocations)) < 40_000  # not 16 MiB of bitmap


def test_overlapping_names_the_clash():
    others = {"a": N("10.1.0.0/24"), "b": N("192.168.10.0/24")}
    assert overlapping(N("192.168.10.128/25"), others) == "b"
    assert overlapping(N("192.168.0.0/16"), others) == "b"
    assert overlapping(N("10.2.0.0/24"), others) is None


def test_pick_subnet_skips_taken():
    pool = N("10.200.0.0/22")
    assert pick_subnet([], pool) == N("10.200.0.0/24")
    taken = [N("10.200.0.0/24"), N("10.200.1.7/32"), N("172.16.0.0/12")]
    assert pick_subnet(taken, pool) == N("10.200.2.0/24")
    with pytest.raises(IpamError, match="no free /24"):
        pick_subnet([N("10.200.0.0/16")], pool)
