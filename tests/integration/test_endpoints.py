"""Namespaces joined to networks: addresses, routes, pings, published ports, teardown, faults."""

import json
import subprocess
import sys
import time

import pytest

from tests.integration.sandbox import FAIL, fake_tool


def ok(result):
    assert result.returncode == 0, result.stderr
    return result


def network(sandbox, name="web", subnet="10.40.0.0/24", *extra):
    ok(sandbox.cli("network", "create", "--subnet", subnet, *extra, name))


def netns(sandbox, *names):
    for name in names:
        sandbox.run("ip", "netns", "add", name)


def ping(sandbox, ns, address):
    return sandbox.run("ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "2", address,
                       check=False).returncode == 0


def inet(sandbox, ns, dev="eth0"):
    data = sandbox.json("ip", "-n", ns, "-j", "addr", "show", "dev", dev)
    return [f"{a['local']}/{a['prefixlen']}" for a in data[0]["addr_info"] if a["family"] == "inet"]


def default_route(sandbox, ns):
    return [(r.get("gateway"), r.get("dev")) for r in
            sandbox.json("ip", "-n", ns, "-j", "route", "show", "default")]


def endpoints(sandbox, name="web"):
    return json.loads(ok(sandbox.cli("network", "inspect", name)).stdout)[0]["endpoints"]


def tagged(sandbox, needle=""):
    return [r for table in ("nat", "filter") for r in sandbox.rules(table)
            if "mydocker-net:" in r and needle in r]


# ---- joining -------------------------------------------------------------------------------------

def test_two_namespaces_get_addresses_routes_and_ping_each_other(sandbox):
    network(sandbox)
    netns(sandbox, "c1", "c2")
    out = ok(sandbox.cli("network", "connect", "web", "c1")).stdout
    assert out == "connected c1 to network web: eth0 10.40.0.2/24, gateway 10.40.0.1\n"
    ok(sandbox.cli("network", "connect", "web", "c2"))
    assert inet(sandbox, "c1") == ["10.40.0.2/24"] and inet(sandbox, "c2") == ["10.40.0.3/24"]
    assert default_route(sandbox, "c1") == [("10.40.0.1", "eth0")]
    assert default_route(sandbox, "c2") == [("10.40.0.1", "eth0")]
    lo = sandbox.json("ip", "-n", "c1", "-j", "link", "show", "dev", "lo")[0]
    assert "UP" in lo["flags"]
    host_ends = [e["host_veth"] for e in endpoints(sandbox)]
    links = sandbox.links()
    for veth in host_ends:
        assert len(veth) <= 15 and links[veth]["master"] == "web" and "UP" in links[veth]["flags"]
    assert ping(sandbox, "c1", "10.40.0.3") and ping(sandbox, "c2", "10.40.0.2")
    assert ping(sandbox, "c1", "10.40.0.1")
    table = ok(sandbox.cli("network", "ls")).stdout.splitlines()
    assert table[1].split()[6] == "2"
    ok(sandbox.cli("doctor"))


def test_static_ip_path_and_pid_targets(sandbox, tmp_path):
    network(sandbox)
    netns(sandbox, "c1", "c2")
    ok(sandbox.cli("network", "connect", "--ip", "10.40.0.50", "--ifname", "web0", "web", "c1"))
    assert inet(sandbox, "c1", "web0") == ["10.40.0.50/24"]
    ok(sandbox.cli("network", "connect", "web", "/run/netns/c2"))  # by namespace file path
    assert inet(sandbox, "c2") == ["10.40.0.2/24"]
    holder = subprocess.Popen(["nsenter", "-t", str(sandbox.proc.pid), "-n", "-m", "--",
                               "unshare", "--net", "sleep", "300"])
    try:
        time.sleep(0.3)
        ok(sandbox.cli("network", "connect", "web", str(holder.pid)))  # by PID
        inside = sandbox.run("nsenter", f"--net=/proc/{holder.pid}/ns/net", "ip", "-j", "addr",
                             "show", "dev", "eth0").stdout
        assert '"local":"10.40.0.3"' in inside
        assert sandbox.run("nsenter", f"--net=/proc/{holder.pid}/ns/net", "ping", "-c", "1",
                           "-W", "2", "10.40.0.50", check=False).returncode == 0
        targets = sorted(e["target"] for e in endpoints(sandbox))
        assert targets == sorted(["c1", "/run/netns/c2", str(holder.pid)])
        ok(sandbox.cli("network", "disconnect", "web", str(holder.pid)))
    finally:
        holder.kill()
        holder.wait()
    ok(sandbox.cli("network", "disconnect", "web", "c2"))  # found by identity, named otherwise
    assert [e["target"] for e in endpoints(sandbox)] == ["c1"]


def test_dry_run_connect_script_does_the_same_work(make_sandbox):
    piped, real = make_sandbox(), make_sandbox()
    for box in (piped, real):
        network(box)
        netns(box, "c1")
    script = ok(piped.cli("--dry-run", "network", "connect", "-p", "8080:80", "web", "c1")).stdout
    assert piped.netns_state("c1")["addr"] == real.netns_state("c1")["addr"]
    ok(piped.run("sh", "-e", input=script))
    ok(real.cli("network", "connect", "-p", "8080:80", "web", "c1"))
    assert inet(piped, "c1") == inet(real, "c1") == ["10.40.0.2/24"]
    assert default_route(piped, "c1") == default_route(real, "c1")
    assert sorted(tagged(piped)) == sorted(tagged(real))
    # the veth's name hashes the namespace's identity, which differs between the two sandboxes
    assert sorted(n[:3] for n in piped.links()) == sorted(n[:3] for n in real.links())


# ---- published ports and the outside -------------------------------------------------------------

@pytest.fixture
def outside(sandbox):
    """A client namespace on 198.51.100.0/24, joined to the host side by its own veth."""
    netns(sandbox, "outside")
    sandbox.run("ip", "link", "add", "name", "out0", "type", "veth", "peer", "name", "eth0",
                "netns", "outside")
    sandbox.run("ip", "addr", "add", "198.51.100.1/24", "dev", "out0")
    sandbox.run("ip", "link", "set", "dev", "out0", "up")
    sandbox.run("ip", "-n", "outside", "addr", "add", "198.51.100.2/24", "dev", "eth0")
    sandbox.run("ip", "-n", "outside", "link", "set", "dev", "eth0", "up")
    sandbox.run("ip", "-n", "outside", "link", "set", "dev", "lo", "up")
    return "outside"


FETCH = ("import sys, urllib.request; "
         "print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode(), end='')")


def fetch(sandbox, url, ns=None):
    prefix = ["ip", "netns", "exec", ns] if ns else []
    return sandbox.run(*prefix, sys.executable, "-c", FETCH, url, check=False, timeout=20)


@pytest.fixture
def web_server(sandbox, tmp_path):
    """A small HTTP server on port 80 inside namespace c1, serving hello.txt."""
    docroot = tmp_path / "www"
    docroot.mkdir()
    (docroot / "hello.txt").write_text("hello from c1\n")
    netns(sandbox, "c1")
    server = subprocess.Popen(
        ["nsenter", "-t", str(sandbox.proc.pid), "-n", "-m", "--", "ip", "netns", "exec", "c1",
         sys.executable, "-m", "http.server", "80", "--bind", "0.0.0.0", "--directory", str(docroot)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield "c1"
    server.kill()
    server.wait()


def _wait_for(check, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_published_port_serves_the_outside_and_goes_away_on_disconnect(sandbox, outside, web_server):
    network(sandbox)
    ok(sandbox.cli("network", "connect", "-p", "8080:80", "web", web_server))
    assert _wait_for(lambda: fetch(sandbox, "http://198.51.100.1:8080/hello.txt", outside).stdout
                     == "hello from c1\n")
    # the host's own processes reach it too (nat OUTPUT)
    assert fetch(sandbox, "http://198.51.100.1:8080/hello.txt").stdout == "hello from c1\n"
    assert len(tagged(sandbox, "8080")) == 2 and len(tagged(sandbox, "--dport 80 ")) == 1
    refused = sandbox.cli("network", "connect", "-p", "8080:81", "web", outside)
    assert refused.returncode == 1 and "host port 8080/tcp is already published by c1" in refused.stderr

    ok(sandbox.cli("network", "disconnect", "web", web_server))
    assert tagged(sandbox, "8080") == [] and tagged(sandbox, "10.40.0.2") == []
    assert fetch(sandbox, "http://198.51.100.1:8080/hello.txt", outside).returncode != 0
    ok(sandbox.cli("doctor"))


def test_reaches_the_outside_when_forward_policy_is_drop(sandbox, outside):
    sandbox.run("iptables", "-w", "-P", "FORWARD", "DROP")
    network(sandbox)
    netns(sandbox, "c1")
    ok(sandbox.cli("network", "connect", "web", "c1"))
    assert ping(sandbox, "c1", "198.51.100.2")
    internal = sandbox.cli("network", "create", "--internal", "--subnet", "10.41.0.0/24", "back")
    ok(internal)
    netns(sandbox, "c2", "c3")
    ok(sandbox.cli("network", "connect", "back", "c2"))
    ok(sandbox.cli("network", "connect", "back", "c3"))
    assert not ping(sandbox, "c2", "198.51.100.2")  # internal: nothing leaves
    assert ping(sandbox, "c2", "10.41.0.3")          # but its members talk


# ---- teardown ------------------------------------------------------------------------------------

def test_disconnect_after_the_namespace_was_deleted(sandbox):
    network(sandbox)
    netns(sandbox, "c1", "c2")
    ok(sandbox.cli("network", "connect", "web", "c1"))
    ok(sandbox.cli("network", "connect", "-p", "9090:90/udp", "web", "c2"))
    gone_veth = [e["host_veth"] for e in endpoints(sandbox) if e["target"] == "c2"][0]
    sandbox.run("ip", "netns", "del", "c2")
    report = sandbox.cli("doctor")
    assert report.returncode == 3 and "endpoint c2 (eth0, 10.40.0.3): its namespace is gone" in report.stdout
    ok(sandbox.cli("network", "disconnect", "web", "c2"))
    assert gone_veth not in sandbox.links() and tagged(sandbox, "9090") == []
    inspect = json.loads(ok(sandbox.cli("network", "inspect", "web")).stdout)[0]
    assert "10.40.0.3" not in inspect["ipam"]["in_use"]
    netns(sandbox, "c3")
    ok(sandbox.cli("network", "connect", "web", "c3"))
    assert inet(sandbox, "c3") == ["10.40.0.3/24"]  # the same address again
    ok(sandbox.cli("doctor"))
    assert sandbox.cli("network", "disconnect", "web", "c2").returncode == 1
    ok(sandbox.cli("network", "disconnect", "-f", "web", "c2"))


def test_doctor_fix_drops_endpoints_of_dead_namespaces_and_restores_rules(sandbox):
    network(sandbox)
    netns(sandbox, "c1", "c2")
    ok(sandbox.cli("network", "connect", "-p", "8080:80", "web", "c1"))
    ok(sandbox.cli("network", "connect", "-p", "8081:80", "web", "c2"))
    sandbox.run("ip", "netns", "del", "c2")
    sandbox.run("iptables", "-w", "-t", "nat", "-F", "PREROUTING")
    ok(sandbox.cli("doctor", "--fix"))
    assert [e["target"] for e in endpoints(sandbox)] == ["c1"]
    assert len(tagged(sandbox, "8080")) == 2 and tagged(sandbox, "8081") == []
    ok(sandbox.cli("doctor"))
    assert ok(sandbox.cli("--dry-run", "doctor", "--fix")).stdout == ""


def test_refusals_change_nothing(sandbox):
    network(sandbox)
    netns(sandbox, "c1", "c2")
    ok(sandbox.cli("network", "connect", "web", "c1"))
    sandbox.run("ip", "-n", "c2", "link", "add", "name", "eth0", "type", "veth", "peer", "name", "x")
    before, files = sandbox.raw_state(), sandbox.state_files()
    inside = sandbox.netns_state("c2")
    for argv, code, message in [
        (["web", "c1"], 1, "target c1 is already connected to network web (eth0, 10.40.0.2)"),
        (["--ip", "10.99.0.5", "--ifname", "e1", "web", "c2"], 1,
         "address 10.99.0.5 is outside subnet 10.40.0.0/24"),
        (["--ip", "10.40.0.2", "--ifname", "e1", "web", "c2"], 1,
         "address 10.40.0.2 is already in use by c1 (eth0)"),
        (["--ip", "10.40.0.1", "--ifname", "e1", "web", "c2"], 1, "10.40.0.1 is already in use by gateway"),
        (["--ip", "10.40.0.255", "--ifname", "e1", "web", "c2"], 1, "network or broadcast address"),
        (["web", "c2"], 1, "interface eth0 already exists in target c2"),
        (["web", "nosuch"], 1, "target nosuch not found: no /run/netns/nosuch"),
        (["web", "99999999"], 1, "target 99999999 not found: no process 99999999"),
        (["web", "/etc/hostname"], 2, "is not a namespace file"),
        (["nonet", "c2"], 1, "network nonet not found"),
        (["-p", "80", "web", "c2"], 2, "invalid publish '80'"),
        (["--ifname=-bad", "web", "c2"], 2, "invalid interface name"),
    ]:
        result = sandbox.cli("network", "connect", *argv)
        assert result.returncode == code, (argv, result.stderr)
        assert message in result.stderr and result.stderr.count("\n") == 1, (argv, result.stderr)
    assert sandbox.raw_state() == before and sandbox.state_files() == files
    assert sandbox.netns_state("c2") == inside

    busy = sandbox.cli("network", "rm", "web")
    assert busy.returncode == 1
    assert "network web has endpoints: c1 (eth0); disconnect them or use --force" in busy.stderr
    ok(sandbox.cli("network", "rm", "--force", "web"))
    assert "web" not in sandbox.links() and tagged(sandbox) == []
    assert [n for n, link in sandbox.links().items() if n.startswith("mdn")] == []
    assert sandbox.json("ip", "-n", "c1", "-j", "addr", "show", "dev", "lo")  # c1 itself is untouched
    assert "eth0" not in [link["ifname"] for link in sandbox.json("ip", "-n", "c1", "-j", "link")]


# ---- fault matrix --------------------------------------------------------------------------------

CONNECT_STEPS = [
    ("ip", "link add name mdn*"),
    ("ip", "master web"),
    ("ip", "link set dev mdn* up"),
    ("ip", "-n c1 addr add"),
    ("ip", "-n c1 link set dev eth0 up"),
    ("ip", "-n c1 route add default"),
    ("iptables", "-A PREROUTING"),
    ("iptables", "-A OUTPUT"),
    ("iptables", "-I FORWARD -d"),
    ("ip", "-n c1 link set dev lo up"),
]
DISCONNECT_STEPS = [
    ("iptables", "-D PREROUTING"),
    ("iptables", "-D OUTPUT"),
    ("iptables", "-D FORWARD -d"),
    ("ip", "link del dev mdn*"),
]


@pytest.fixture
def joined(sandbox, tmp_path):
    network(sandbox)
    netns(sandbox, "c1", "c0")
    ok(sandbox.cli("network", "connect", "-p", "7070:70", "web", "c0"))  # a bystander
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    sandbox.bindir = bindir
    sandbox.fake_env = {"PATH": f"{bindir}:{sandbox.env['PATH']}"}
    return sandbox


def _everything(box):
    return box.raw_state(), box.netns_state("c1"), box.netns_state("c0"), box.state_files()


@pytest.mark.parametrize("tool, pattern", CONNECT_STEPS, ids=[p for _, p in CONNECT_STEPS])
def test_connect_failing_at_any_step_leaves_no_trace(joined, tool, pattern):
    before = _everything(joined)
    fake_tool(joined.bindir, tool, pattern, FAIL)
    result = joined.cli("network", "connect", "-p", "8080:80", "web", "c1", env=joined.fake_env)
    assert result.returncode == 1 and result.stderr.strip().endswith("injected failure")
    assert _everything(joined) == before


@pytest.mark.parametrize("tool, pattern", DISCONNECT_STEPS, ids=[p for _, p in DISCONNECT_STEPS])
def test_disconnect_failing_at_any_step_leaves_it_connected(joined, tool, pattern):
    ok(joined.cli("network", "connect", "-p", "8080:80", "web", "c1"))
    before = _everything(joined)
    fake_tool(joined.bindir, tool, pattern, FAIL)
    result = joined.cli("network", "disconnect", "web", "c1", env=joined.fake_env)
    assert result.returncode == 1 and result.stderr.strip().endswith("injected failure")
    assert _everything(joined) == before
    ok(joined.cli("network", "disconnect", "web", "c1"))
    assert tagged(joined, "8080") == [] and ping(joined, "c0", "10.40.0.1")
