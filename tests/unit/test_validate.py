import ipaddress

import pytest

from mydocker_net import validate
from mydocker_net.errors import ValidationError


@pytest.mark.parametrize("name", ["a", "testbridge", "A_b.c-9", "_x", "9" * 15])
def test_good_names(name):
    assert validate.network_name(name) == name


@pytest.mark.parametrize("name", ["", "-x", ".x", "a" * 16, "a/b", "a b", "../etc", "é", "a\n", None])
def test_bad_names(name):
    with pytest.raises(ValidationError, match="invalid network name"):
        validate.network_name(name)


def test_driver():
    assert validate.driver("bridge") == "bridge"
    with pytest.raises(ValidationError, match="unknown driver 'macvlan'"):
        validate.driver("macvlan")


def test_subnet_normalises_host_bits():
    net, normalised = validate.subnet("192.168.10.1/24")
    assert net == ipaddress.IPv4Network("192.168.10.0/24") and normalised
    net, normalised = validate.subnet("192.168.10.0/24")
    assert not normalised


@pytest.mark.parametrize("text", ["10.0.0.0", "10.0.0.0/7", "10.0.0.0/31", "10.0.0.0/32",
                                  "300.0.0.0/24", "fd00::/64", "abc/24", "10.0.0.0/x", ""])
def test_bad_subnets(text):
    with pytest.raises(ValidationError, match="invalid subnet"):
        validate.subnet(text)


@pytest.mark.parametrize("text", ["10.0.0.0/8", "10.0.0.0/30"])
def test_prefix_bounds_accepted(text):
    assert validate.subnet(text)[0].prefixlen in (8, 30)


def test_gateway_rules():
    net = ipaddress.IPv4Network("10.1.0.0/24")
    assert str(validate.gateway("10.1.0.254", net)) == "10.1.0.254"
    with pytest.raises(ValidationError, match="not inside"):
        validate.gateway("10.2.0.1", net)
    with pytest.raises(ValidationError, match="network or broadcast"):
        validate.gateway("10.1.0.0", net)
    with pytest.raises(ValidationError, match="network or broadcast"):
        validate.gateway("10.1.0.255", net)
    with pytest.raises(ValidationError, match="invalid gateway"):
        validate.gateway("nope", net)


def test_mtu():
    assert validate.mtu(None) is None and validate.mtu(1500) == 1500
    for bad in (0, 67, 65536, True):
        with pytest.raises(ValidationError, match="invalid mtu"):
            validate.mtu(bad)
