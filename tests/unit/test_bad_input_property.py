"""Generated input never produces a traceback, and a refused create changes nothing."""

import os
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mydocker_net import cli
from tests.unit.conftest import FakeKernel, fake_processes

octet = st.integers(min_value=0, max_value=300)
names = st.one_of(st.text(max_size=20), st.from_regex(r"[A-Za-z0-9_.-]{0,17}", fullmatch=True))
subnets = st.one_of(
    st.none(), st.text(max_size=20),
    st.builds(lambda a, b, c, d, p: f"{a}.{b}.{c}.{d}/{p}", octet, octet, octet, octet,
              st.integers(min_value=-1, max_value=40)),
)
gateways = st.one_of(st.none(), st.text(max_size=16),
                     st.builds(lambda a, b, c, d: f"{a}.{b}.{c}.{d}", octet, octet, octet, octet))
mtus = st.one_of(st.none(), st.integers(min_value=-10, max_value=70000).map(str), st.text(max_size=5))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=names, subnet=subnets, gateway=gateways, mtu=mtus, internal=st.booleans())
def test_create_never_tracebacks_and_refusals_change_nothing(mocker, capsys, name, subnet, gateway,
                                                             mtu, internal):
    kernel = fake_processes(mocker, FakeKernel(links={"eth0": ""}))
    mocker.patch("mydocker_net.privileges.has_net_admin", return_value=True)
    argv = ["network", "create"]
    argv += ["--subnet", subnet] if subnet is not None else []
    argv += ["--gateway", gateway] if gateway is not None else []
    argv += ["--mtu", mtu] if mtu is not None else []
    argv += ["--internal"] if internal else []
    with tempfile.TemporaryDirectory() as state_dir:
        code = cli.main(["--state-dir", state_dir, *argv, "--", name])
        _, err = capsys.readouterr()
        assert code in (0, 1, 2)
        assert "Traceback" not in err and "internal error" not in err
        if code != 0:
            assert err.strip().splitlines()[-1].startswith("mydocker-net: error: ")
            assert kernel.changes == []
            assert os.listdir(state_dir) in ([], ["lock"])
