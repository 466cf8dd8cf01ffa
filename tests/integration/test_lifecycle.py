"""The real CLI against a real kernel, each test in its own throwaway network namespace."""

import json
import os
import shutil
import sys
import tempfile

SEED = ["network", "create", "--driver", "bridge", "--subnet", "192.168.10.1/24", "testbridge"]
SEED_RULE = ("-A POSTROUTING -s 192.168.10.0/24 ! -o testbridge -m comment "
             '--comment "mydocker-net:testbridge" -j MASQUERADE')


def ok(result):
    assert result.returncode == 0, result.stderr
    return result


def test_seed_create_reads_back_from_the_kernel(sandbox):
    result = ok(sandbox.cli(*SEED))
    assert "host bits set; using 192.168.10.0/24" in result.stderr
    link = sandbox.links()["testbridge"]
    assert link["linkinfo"]["info_kind"] == "bridge"
    assert "UP" in link["flags"]
    assert sandbox.addresses("testbridge") == ["192.168.10.1/24"]
    assert sandbox.nat_rules() == [SEED_RULE]
    assert sandbox.sysctl("net.ipv4.ip_forward") == "1"


def test_second_create_is_refused_and_rule_stays_single(sandbox):
    ok(sandbox.cli(*SEED))
    files = sandbox.state_files()
    again = sandbox.cli(*SEED)
    assert again.returncode == 1
    assert again.stderr.splitlines()[-1] == "mydocker-net: error: network testbridge already exists"
    assert sandbox.nat_rules() == [SEED_RULE]
    assert sandbox.state_files() == files


def test_list_and_inspect(sandbox):
    ok(sandbox.cli(*SEED))
    ok(sandbox.cli("network", "create", "--subnet", "10.31.0.0/16", "--gateway", "10.31.0.254",
                   "--internal", "--mtu", "1400", "inner"))
    table = ok(sandbox.cli("network", "ls")).stdout.splitlines()
    assert table[0].split() == ["NAME", "DRIVER", "SUBNET", "GATEWAY", "BRIDGE", "INTERNAL",
                                "ENDPOINTS", "STATUS"]
    assert table[1].split() == ["inner", "bridge", "10.31.0.0/16", "10.31.0.254", "inner", "yes",
                                "0", "ready"]
    assert table[2].split() == ["testbridge", "bridge", "192.168.10.0/24", "192.168.10.1",
                                "testbridge", "no", "0", "ready"]
    records = json.loads(ok(sandbox.cli("network", "list", "--format", "json")).stdout)
    assert [r["name"] for r in records] == ["inner", "testbridge"]
    assert ok(sandbox.cli("network", "ls", "-q")).stdout == "inner\ntestbridge\n"
    inner, = json.loads(ok(sandbox.cli("network", "inspect", "inner")).stdout)
    assert inner["mtu"] == 1400 and inner["internal"] is True
    assert inner["ipam"]["in_use"] == {"10.31.0.254": "gateway"}
    assert inner["created"].endswith("+00:00")
    # what inspect says is what the kernel has
    assert sandbox.links()["inner"]["mtu"] == 1400
    assert sandbox.addresses("inner") == ["10.31.0.254/16"]
    assert not any("inner" in rule for rule in sandbox.nat_rules())


def test_remove_leaves_nothing_and_the_subnet_can_be_made_again(sandbox):
    ok(sandbox.cli(*SEED))
    ok(sandbox.cli("network", "rm", "testbridge"))
    assert "testbridge" not in sandbox.links()
    assert sandbox.nat_rules() == []
    assert json.loads(sandbox.state_files()["state.json"])["networks"] == {}
    assert sandbox.cli("network", "rm", "testbridge").returncode == 1
    assert ok(sandbox.cli("network", "rm", "-f", "testbridge")).stdout == ""
    ok(sandbox.cli(*SEED))
    assert sandbox.addresses("testbridge") == ["192.168.10.1/24"]
    assert sandbox.nat_rules() == [SEED_RULE]


def test_dry_run_changes_nothing_and_its_script_does_the_same_work(make_sandbox):
    looked, piped, real = make_sandbox(), make_sandbox(), make_sandbox()
    before = looked.kernel_state()
    script = ok(looked.cli("--dry-run", *SEED)).stdout
    assert looked.kernel_state() == before
    assert looked.state_files() == {}
    assert script.startswith("ip link add name testbridge type bridge\n")

    ok(piped.run("sh", "-e", input=script))
    ok(real.cli(*SEED))
    assert piped.kernel_state() == real.kernel_state()

    removal = ok(real.cli("network", "rm", "--dry-run", "testbridge")).stdout
    ok(piped.run("sh", "-e", input=removal))
    ok(real.cli("network", "rm", "testbridge"))
    assert piped.kernel_state() == real.kernel_state() == before | {"ip_forward": "1"}


def test_dry_run_works_without_root(sandbox):
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]
    ok(sandbox.cli("network", "create", "--subnet", "10.34.0.0/24", "other"))
    # a state dir an unprivileged user can read, as /var/lib/mydocker-net is (0755, files 0644)
    readable = tempfile.mkdtemp(prefix="mydocker-net-test-")
    try:
        os.chmod(readable, 0o755)
        shutil.copytree(sandbox.state_dir, f"{readable}/state")
        env = {**_cli_env(sandbox), "MYDOCKER_NET_STATE_DIR": f"{readable}/state"}
        result = sandbox.run(*nobody, *_cli_argv("--dry-run", *SEED), check=False, env=env)
        listing = sandbox.run(*nobody, *_cli_argv("network", "ls", "-q"), check=False, env=env)
        denied = sandbox.run(*nobody, *_cli_argv(*SEED), check=False, env=env)
    finally:
        shutil.rmtree(readable)
    assert result.returncode == 0, result.stderr
    assert "ip link add name testbridge type bridge" in result.stdout
    assert listing.stdout == "other\n"
    assert denied.returncode == 1
    assert denied.stderr.strip().endswith("run it as root (it needs CAP_NET_ADMIN)")
    assert "testbridge" not in sandbox.links()


def test_foreign_link_is_never_adopted_or_deleted(sandbox):
    sandbox.run("ip", "link", "add", "name", "eth0", "type", "veth", "peer", "name", "eth0p")
    refused = sandbox.cli("network", "create", "--subnet", "10.32.0.0/24", "eth0")
    assert refused.returncode == 1
    assert "link named eth0 already exists and was not made by mydocker-net" in refused.stderr
    assert sandbox.cli("network", "rm", "eth0").returncode == 1
    assert "eth0" in sandbox.links() and sandbox.addresses("eth0") == []


def test_auto_subnet_skips_addresses_already_on_the_host(sandbox):
    sandbox.run("ip", "link", "add", "name", "up0", "type", "veth", "peer", "name", "up1")
    sandbox.run("ip", "addr", "add", "10.200.0.7/24", "dev", "up0")
    sandbox.run("ip", "link", "set", "dev", "up0", "up")
    first = ok(sandbox.cli("network", "create", "auto1"))
    assert "subnet 10.200.1.0/24" in first.stdout
    ok(sandbox.cli("network", "create", "auto2"))
    assert sandbox.addresses("auto1") == ["10.200.1.1/24"]
    assert sandbox.addresses("auto2") == ["10.200.2.1/24"]


def test_bad_input_changes_nothing(sandbox):
    ok(sandbox.cli(*SEED))
    before, files = sandbox.kernel_state(), sandbox.state_files()
    for argv, code in [
        (["network", "create", "--subnet", "192.168.0.0/16", "wide"], 1),
        (["network", "create", "--subnet", "10.0.0.0/31", "tiny"], 2),
        (["network", "create", "--subnet", "10.5.0.0/24", "--gateway", "10.5.0.255", "gw"], 2),
        (["network", "create", "--driver", "overlay", "drv"], 2),
        (["network", "create", "../../etc/x"], 2),
        (["network", "create", "sixteen-chars-xx"], 2),
    ]:
        result = sandbox.cli(*argv)
        assert result.returncode == code, (argv, result.stderr)
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert sandbox.kernel_state() == before and sandbox.state_files() == files


def test_failed_step_rolls_back_kernel_and_store(sandbox, tmp_path):
    ok(sandbox.cli("network", "create", "--subnet", "10.33.0.0/24", "keep"))
    before, files = sandbox.kernel_state(), sandbox.state_files()
    fakes = tmp_path / "fakebin"
    fakes.mkdir()
    fake = fakes / "iptables"
    fake.write_text('#!/bin/sh\ncase " $* " in *" -A POSTROUTING "*) echo "iptables: injected failure" >&2;'
                    ' exit 4;; esac\nexec /usr/sbin/iptables "$@"\n')
    fake.chmod(0o755)
    result = sandbox.cli(*SEED, env={"PATH": f"{fakes}:{sandbox.env['PATH']}"})
    assert result.returncode == 1
    last = result.stderr.splitlines()[-1]
    assert last.startswith("mydocker-net: error: command failed: iptables -w -t nat -A POSTROUTING")
    assert last.endswith("iptables: injected failure")
    assert sandbox.kernel_state() == before | {"ip_forward": "1"}  # forwarding stays on by design
    assert sandbox.state_files() == files


def _cli_env(sandbox):
    return {**sandbox.env, "MYDOCKER_NET_STATE_DIR": str(sandbox.state_dir)}


def _cli_argv(*args):
    return [sys.executable, "-m", "mydocker_net", *args]


def test_a_namespace_on_the_bridge_reaches_the_gateway(sandbox):
    """The bridge really forwards: a veth into a named namespace pings the gateway address."""
    ok(sandbox.cli(*SEED))
    sandbox.run("ip", "netns", "add", "c1")
    sandbox.run("ip", "link", "add", "name", "vc1", "type", "veth", "peer", "name", "eth0", "netns", "c1")
    sandbox.run("ip", "link", "set", "dev", "vc1", "master", "testbridge", "up")
    sandbox.run("ip", "-n", "c1", "addr", "add", "192.168.10.2/24", "dev", "eth0")
    sandbox.run("ip", "-n", "c1", "link", "set", "eth0", "up")
    ping = sandbox.run("ip", "netns", "exec", "c1", "ping", "-c", "1", "-W", "2", "192.168.10.1",
                       check=False)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    ok(sandbox.cli("network", "rm", "testbridge"))
    assert "testbridge" not in sandbox.links()
    assert "master" not in sandbox.links()["vc1"]  # the port is released, not deleted: not ours


def test_names_that_are_ip_keywords_work(sandbox):
    """`ip link add a ...` would read `a` as `address`; the tool must say `name a`."""
    for index, name in enumerate(["a", "up", "mtu", "type", "dev"]):
        ok(sandbox.cli("network", "create", "--subnet", f"10.35.{index}.0/24", name))
        assert sandbox.links()[name]["linkinfo"]["info_kind"] == "bridge"
        assert sandbox.addresses(name) == [f"10.35.{index}.1/24"]
    ok(sandbox.cli("network", "rm", "a", "up", "mtu", "type", "dev"))
    assert set(sandbox.links()) == {"lo"} and sandbox.nat_rules() == []


def test_remove_succeeds_when_parts_are_already_gone(sandbox):
    ok(sandbox.cli("network", "create", "--subnet", "10.36.0.0/24", "half"))
    ok(sandbox.cli("network", "create", "--subnet", "10.37.0.0/24", "gone"))
    sandbox.run("ip", "link", "del", "dev", "half")  # bridge gone behind the tool's back
    sandbox.run("iptables", "-w", "-t", "nat", "-F")   # and every rule
    ok(sandbox.cli("network", "rm", "half", "gone"))
    assert set(sandbox.links()) == {"lo"} and sandbox.nat_rules() == []
    assert json.loads(sandbox.state_files()["state.json"])["networks"] == {}
