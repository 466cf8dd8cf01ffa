"""Parallel use, injected failures, crashes and reboots, against a real kernel in a namespace."""

import json
import os
import signal
import time

import pytest

from tests.integration.sandbox import FAIL, fake_tool


def ok(result):
    assert result.returncode == 0, result.stderr
    return result


def records(sandbox):
    return json.loads(sandbox.state_files()["state.json"])["networks"]


# ---- parallel ------------------------------------------------------------------------------------

def test_sixteen_parallel_creates_all_succeed(sandbox):
    procs = [sandbox.spawn_cli("network", "create", "--subnet", f"10.50.{i}.0/24", f"par{i}")
             for i in range(16)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close(), p.stderr.close()
    assert [code for code, _ in results] == [0] * 16, results
    bridges = [n for n, link in sandbox.links().items()
               if (link.get("linkinfo") or {}).get("info_kind") == "bridge"]
    assert sorted(bridges) == sorted(f"par{i}" for i in range(16))
    assert len([r for r in sandbox.nat_rules() if "mydocker-net:par" in r]) == 16
    assert sorted(records(sandbox)) == sorted(f"par{i}" for i in range(16))
    assert all(r["status"] == "ready" for r in records(sandbox).values())


def test_eight_racing_on_one_subnet_exactly_one_wins(sandbox):
    procs = [sandbox.spawn_cli("network", "create", "--subnet", "10.51.0.0/24", f"race{i}")
             for i in range(8)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close(), p.stderr.close()
    winners = [i for i, (code, _) in enumerate(results) if code == 0]
    assert len(winners) == 1, results
    losers = [err for code, err in results if code != 0]
    assert all(err.startswith("mydocker-net: error: subnet 10.51.0.0/24 overlaps network race")
               and err.count("\n") == 1 for err in losers), losers
    assert list(records(sandbox)) == [f"race{winners[0]}"]
    assert len(sandbox.nat_rules()) == 1


# ---- fault matrix --------------------------------------------------------------------------------

CREATE_STEPS = [
    ("ip", "link add name victim"),
    ("ip", "addr add 10.52.0.1/24 dev victim"),
    ("ip", "link set dev victim up"),
    ("sysctl", "-w net.ipv4.ip_forward=1"),
    ("iptables", "-A POSTROUTING"),
    ("iptables", "-I FORWARD -i victim -m"),
    ("iptables", "-I FORWARD -o victim"),
]
REMOVE_STEPS = [
    ("iptables", "-D POSTROUTING"),
    ("iptables", "-D FORWARD -i victim -m"),
    ("iptables", "-D FORWARD -o victim"),
    ("ip", "link del dev victim"),
]


@pytest.fixture
def fault_box(sandbox, tmp_path):
    """A sandbox holding one other network, so a failure must leave that one alone too."""
    ok(sandbox.cli("network", "create", "--subnet", "10.53.0.0/24", "keep"))
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    sandbox.fake_env = {"PATH": f"{bindir}:{sandbox.env['PATH']}"}
    sandbox.bindir = bindir
    return sandbox


@pytest.mark.parametrize("tool, pattern", CREATE_STEPS, ids=[p for _, p in CREATE_STEPS])
def test_create_failing_at_any_step_leaves_everything_as_before(fault_box, tool, pattern):
    box = fault_box
    forwarding = "0" if tool == "sysctl" else "1"  # the sysctl step runs only when it is off
    box.run("sysctl", "-qw", f"net.ipv4.ip_forward={forwarding}")
    before, files = box.raw_state(), box.state_files()
    fake_tool(box.bindir, tool, pattern, FAIL)
    result = box.cli("network", "create", "--subnet", "10.52.0.0/24", "victim", env=box.fake_env)
    assert result.returncode == 1
    assert result.stderr.strip().endswith("injected failure")
    assert pattern.split()[0] in result.stderr
    assert box.raw_state() == before
    assert box.state_files() == files
    assert box.sysctl("net.ipv4.ip_forward") == forwarding


@pytest.mark.parametrize("tool, pattern", REMOVE_STEPS, ids=[p for _, p in REMOVE_STEPS])
def test_remove_failing_at_any_step_leaves_everything_as_before(fault_box, tool, pattern):
    box = fault_box
    ok(box.cli("network", "create", "--subnet", "10.52.0.0/24", "victim"))
    before, files = box.raw_state(), box.state_files()
    fake_tool(box.bindir, tool, pattern, FAIL)
    result = box.cli("network", "rm", "victim", env=box.fake_env)
    assert result.returncode == 1 and result.stderr.strip().endswith("injected failure")
    assert box.raw_state() == before
    assert box.state_files() == files
    ok(box.cli("network", "rm", "victim"))  # and without the fault it goes


# ---- crash ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("cleanup", ["doctor --fix", "network rm"])
def test_create_killed_mid_step_blocks_nothing_and_is_cleaned(sandbox, tmp_path, cleanup):
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    marker = tmp_path / "hanging.pid"
    fake_tool(bindir, "iptables", "-A POSTROUTING", f"echo $$ > {marker}; exec sleep 300")
    proc = sandbox.spawn_cli("network", "create", "--subnet", "10.54.0.0/24", "crashy",
                             env={"PATH": f"{bindir}:{sandbox.env['PATH']}"})
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() or not marker.read_text().strip():
            assert time.monotonic() < deadline, "the create never reached the hanging step"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        proc.stdout.close(), proc.stderr.close()
        if marker.exists():
            os.kill(int(marker.read_text()), signal.SIGKILL)

    # the lock died with the process: the next command goes straight through
    ok(sandbox.cli("network", "create", "--subnet", "10.55.0.0/24", "after", timeout=20))
    listing = ok(sandbox.cli("network", "ls")).stdout
    assert any(line.split()[0] == "crashy" and line.split()[-1] == "creating"
               for line in listing.splitlines()[1:])
    report = sandbox.cli("doctor")
    assert report.returncode == 3
    assert "crashy: record left in status 'creating'" in report.stdout
    assert "crashy" in sandbox.links()  # half-made: the bridge is there

    if cleanup == "doctor --fix":
        ok(sandbox.cli("doctor", "--fix"))
    else:
        ok(sandbox.cli("network", "rm", "crashy"))
    assert "crashy" not in sandbox.links() and "crashy" not in records(sandbox)
    assert not any("crashy" in rule for rule in sandbox.nat_rules())
    ok(sandbox.cli("doctor"))
    ok(sandbox.cli("network", "create", "--subnet", "10.54.0.0/24", "crashy"))
    assert sandbox.addresses("crashy") == ["10.54.0.1/24"]
    assert len([r for r in sandbox.nat_rules() if "mydocker-net:crashy" in r]) == 1


# ---- reboot --------------------------------------------------------------------------------------

def test_reboot_doctor_reports_and_fix_restores_every_network(sandbox):
    ok(sandbox.cli("network", "create", "--subnet", "192.168.10.0/24", "web"))
    ok(sandbox.cli("network", "create", "--subnet", "10.56.0.0/16", "--mtu", "1400", "db"))
    ok(sandbox.cli("network", "create", "--internal", "--subnet", "10.57.0.0/24", "back"))
    sandbox.run("iptables", "-w", "-t", "nat", "-A", "POSTROUTING", "-s", "10.99.0.0/24",
                "-j", "MASQUERADE")  # someone else's rule: never reported, never touched
    booted = sandbox.kernel_state()
    files = sandbox.state_files()

    for name in ("web", "db", "back"):  # what a reboot does behind the tool's back
        sandbox.run("ip", "link", "del", "dev", name)
    sandbox.run("iptables", "-w", "-t", "nat", "-F")
    sandbox.run("iptables", "-w", "-t", "filter", "-F")
    sandbox.run("sysctl", "-qw", "net.ipv4.ip_forward=0")
    sandbox.run("iptables", "-w", "-t", "nat", "-A", "POSTROUTING", "-s", "10.99.0.0/24",
                "-j", "MASQUERADE")

    report = sandbox.cli("doctor")
    assert report.returncode == 3
    lines = report.stdout.splitlines()
    assert lines[:3] == ["host: net.ipv4.ip_forward is off", "back: bridge back is missing",
                         "back: rule missing: filter -A FORWARD -i back -o back -m comment --comment "
                         "mydocker-net:back -j ACCEPT"]
    assert "web: rule missing: nat -A POSTROUTING -s 192.168.10.0/24 ! -o web -m comment --comment " \
           "mydocker-net:web -j MASQUERADE" in lines
    as_json = json.loads(sandbox.cli("doctor", "--format", "json").stdout)
    assert as_json["consistent"] is False
    assert [(p["network"], p["check"]) for p in as_json["problems"]] == [
        ("host", "ip-forward-off"), ("back", "bridge-missing"), ("back", "rule-missing"),
        ("db", "bridge-missing"), ("db", "rule-missing"), ("db", "rule-missing"), ("db", "rule-missing"),
        ("web", "bridge-missing"), ("web", "rule-missing"), ("web", "rule-missing"),
        ("web", "rule-missing")]
    assert len(lines) == 11

    fixed = ok(sandbox.cli("doctor", "--fix"))
    assert all(line.startswith("fixed: ") for line in fixed.stdout.splitlines())
    assert sandbox.kernel_state() == booted
    assert sandbox.state_files() == files

    assert ok(sandbox.cli("--dry-run", "doctor", "--fix")).stdout == ""  # nothing left to run
    again = ok(sandbox.cli("doctor", "--fix"))
    assert again.stdout == "ok: the kernel matches the store (3 networks)\n"
    assert sandbox.kernel_state() == booted
    ok(sandbox.cli("doctor"))


def test_doctor_removes_duplicates_and_orphans_but_nothing_foreign(sandbox):
    ok(sandbox.cli("network", "create", "--subnet", "10.58.0.0/24", "dup"))
    rule = sandbox.nat_rules()[0].split()[1:]
    rule = [w.strip('"') for w in rule]
    sandbox.run("iptables", "-w", "-t", "nat", "-A", *rule)
    sandbox.run("iptables", "-w", "-t", "nat", "-A", "POSTROUTING", "-s", "10.59.0.0/24",
                "-m", "comment", "--comment", "mydocker-net:gone", "-j", "MASQUERADE")
    sandbox.run("ip", "link", "add", "name", "gone", "type", "bridge")  # not ours: not in the store
    report = sandbox.cli("doctor")
    assert report.returncode == 3
    assert report.stdout.splitlines() == [
        "dup: rule duplicated (2 copies): nat -A POSTROUTING -s 10.58.0.0/24 ! -o dup -m comment "
        "--comment mydocker-net:dup -j MASQUERADE",
        "orphan: rule tagged for unknown network 'gone': nat -A POSTROUTING -s 10.59.0.0/24 -m comment "
        "--comment mydocker-net:gone -j MASQUERADE",
    ]
    ok(sandbox.cli("doctor", "--fix"))
    assert [r for r in sandbox.nat_rules() if "mydocker-net:" in r] == [
        '-A POSTROUTING -s 10.58.0.0/24 ! -o dup -m comment --comment "mydocker-net:dup" -j MASQUERADE']
    assert "gone" in sandbox.links()
    ok(sandbox.cli("doctor"))


# ---- corrupt state and permissions ----------------------------------------------------------------

def test_corrupt_state_is_reported_and_never_overwritten(sandbox):
    ok(sandbox.cli("network", "create", "--subnet", "10.60.0.0/24", "n1"))
    path = sandbox.state_dir / "state.json"
    path.write_text('{"schema": 1, "networks": {')
    for argv in (["network", "ls"], ["doctor"], ["doctor", "--fix"],
                 ["network", "create", "--subnet", "10.61.0.0/24", "n2"], ["network", "rm", "n1"]):
        result = sandbox.cli(*argv)
        assert result.returncode == 1, argv
        assert result.stderr == f"mydocker-net: error: corrupt state file {path}: " \
            "Expecting property name enclosed in double quotes: line 1 column 28 (char 27)\n"
    assert path.read_text() == '{"schema": 1, "networks": {'
    assert "n2" not in sandbox.links() and "n1" in sandbox.links()
    path.write_text('{"schema": 7, "networks": {}}')
    result = sandbox.cli("doctor")
    assert result.returncode == 1 and "has schema 7; this version reads 1" in result.stderr


def test_state_permissions(sandbox):
    ok(sandbox.cli("network", "create", "--subnet", "10.62.0.0/24", "n1"))
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in sandbox.state_dir.iterdir()}
    assert modes == {"state.json": "0o644", "lock": "0o600"}
    assert oct(sandbox.state_dir.stat().st_mode & 0o777) == "0o755"
