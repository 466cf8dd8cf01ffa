"""Generated names, subnets and gateways through the real CLI: no traceback, and a refused
command leaves the kernel and the store exactly as they were."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

octet = st.integers(min_value=0, max_value=260)
names = st.one_of(st.sampled_from(["a", "up", "-x", ".x", "lo", "x" * 16, "ok.name", "a/b", "é"]),
                  st.from_regex(r"[A-Za-z0-9_.-]{1,16}", fullmatch=True))
subnets = st.one_of(
    st.sampled_from(["192.168.10.0/24", "192.168.10.1/24", "10.70.0.0/16", "10.0.0.0/7",
                     "10.0.0.0/31", "junk", "fd00::/64", ""]),
    st.builds(lambda a, b, p: f"10.{a}.{b}.0/{p}", octet, octet, st.integers(min_value=6, max_value=33)),
)
gateways = st.one_of(st.none(), st.sampled_from(["192.168.10.1", "192.168.10.255", "10.70.0.0",
                                                 "nope", "10.71.0.1"]),
                     st.builds(lambda a, b: f"10.70.{a}.{b}", octet, octet))


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=names, subnet=subnets, gateway=gateways)
def test_generated_creates_never_traceback_and_refusals_change_nothing(sandbox, name, subnet, gateway):
    if not sandbox.state_files():
        assert sandbox.cli("network", "create", "--subnet", "192.168.10.0/24", "seed").returncode == 0
    before, files = sandbox.kernel_state(), sandbox.state_files()
    argv = ["network", "create", "--subnet", subnet]
    argv += ["--gateway", gateway] if gateway is not None else []
    result = sandbox.cli(*argv, "--", name)
    assert result.returncode in (0, 1, 2), result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    if result.returncode != 0:
        assert result.stderr.splitlines()[-1].startswith("mydocker-net: error: ")
        assert sandbox.kernel_state() == before
        assert sandbox.state_files() == files
    else:
        assert name in sandbox.links()
        assert sandbox.cli("network", "rm", "--", name).returncode == 0
        assert sandbox.kernel_state() == before
