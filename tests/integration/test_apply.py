"""apply against the real kernel: 100 networks, re-apply no-op, prune, dry-run piped to sh -e,
and a failed batch rolled back."""

import json

from tests.integration.sandbox import FAIL, fake_tool


def ok(result):
    assert result.returncode == 0, result.stderr
    return result


def hundred(prefix="n"):
    return {"networks": [{"name": f"{prefix}{i}", "subnet": f"10.{100 + i // 250}.{i % 250}.0/24"}
                         for i in range(100)]}


def apply(sandbox, data, *flags, **kw):
    return sandbox.cli("apply", *flags, "-f", "-", input=json.dumps(data), **kw)


def bridges(sandbox):
    return sorted(n for n, l in sandbox.links().items()
                  if (l.get("linkinfo") or {}).get("info_kind") == "bridge")


def test_hundred_networks_then_a_no_op(sandbox):
    result = ok(apply(sandbox, hundred(), "--log-level", "debug"))
    assert "apply: networks 100 created, 0 unchanged, 0 removed" in result.stdout
    spawned = [line for line in result.stderr.splitlines() if ": DEBUG: run: " in line]
    assert len(spawned) <= 6, spawned  # batched: reads, one ip batch, sysctl, iptables save+restore
    assert bridges(sandbox) == sorted(f"n{i}" for i in range(100))
    assert sandbox.addresses("n42") == ["10.100.42.1/24"]
    assert len([r for r in sandbox.nat_rules() if "MASQUERADE" in r]) == 100
    assert len(sandbox.rules("filter")) == 200
    ok(sandbox.cli("doctor"))
    before = sandbox.kernel_state()
    again = ok(apply(sandbox, hundred(), "--log-level", "debug"))
    assert again.stdout == "apply: nothing to do (100 networks and 0 endpoints already match)\n"
    assert ": DEBUG: run: " not in again.stderr
    assert sandbox.kernel_state() == before
    as_json = json.loads(ok(apply(sandbox, hundred(), "--format", "json")).stdout)
    assert as_json["changed"] is False and len(as_json["networks"]["unchanged"]) == 100


def test_endpoints_ping_and_prune(sandbox):
    for name in ("c1", "c2", "c3"):
        sandbox.run("ip", "netns", "add", name)
    data = {"networks": [{"name": "web", "subnet": "10.30.0.0/24"}, {"name": "db", "internal": True}],
            "endpoints": [{"network": "web", "target": "c1", "ip": "10.30.0.5", "publish": ["8080:80"]},
                          {"network": "web", "target": "c2"},
                          {"network": "db", "target": "c2", "ifname": "eth1"},
                          {"network": "db", "target": "c3"}]}
    ok(apply(sandbox, data))
    assert sandbox.run("ip", "netns", "exec", "c2", "ping", "-c1", "-W2", "10.30.0.5",
                       check=False).returncode == 0
    db_subnet = json.loads(ok(sandbox.cli("network", "inspect", "db")).stdout)[0]["subnet"]
    assert db_subnet == "10.200.0.0/24"
    assert sandbox.run("ip", "netns", "exec", "c3", "ping", "-c1", "-W2", "10.200.0.2",
                       check=False).returncode == 0
    ok(sandbox.cli("doctor"))

    pruned = {"networks": [{"name": "web", "subnet": "10.30.0.0/24"}],
              "endpoints": [{"network": "web", "target": "c1", "ip": "10.30.0.5", "publish": ["8080:80"]}]}
    not_pruned = ok(apply(sandbox, pruned))
    assert "nothing to do" in not_pruned.stdout and "db" in bridges(sandbox)
    result = json.loads(ok(apply(sandbox, pruned, "--prune", "--format", "json")).stdout)
    assert result["networks"]["removed"] == ["db"]
    assert result["endpoints"]["disconnected"] == ["web/c2"]
    assert bridges(sandbox) == ["web"]
    assert [r for r in sandbox.rules("nat") + sandbox.rules("filter") if "mydocker-net:db" in r] == []
    assert [l["ifname"] for l in sandbox.json("ip", "-n", "c2", "-j", "link")] == ["lo"]
    ok(sandbox.cli("doctor"))


def test_dry_run_changes_nothing_and_its_script_does_the_same_work(make_sandbox):
    piped, real = make_sandbox(), make_sandbox()
    for box in (piped, real):
        box.run("ip", "netns", "add", "c1")
    data = hundred() | {"endpoints": [{"network": "n1", "target": "c1", "publish": ["8080:80"]}]}
    before = piped.kernel_state()
    script = ok(apply(piped, data, "--dry-run")).stdout
    assert piped.kernel_state() == before and piped.state_files() == {}
    ok(piped.run("sh", "-e", input=script))
    ok(apply(real, data))
    assert _named_alike(piped.kernel_state()) == _named_alike(real.kernel_state())


def _named_alike(state):
    """Host veth names hash the namespace's identity, which differs between two sandboxes."""
    state["links"] = {("mdn*" if name.startswith("mdn") else name): link
                      for name, link in state["links"].items()}
    return state


def test_invalid_or_conflicting_documents_apply_nothing(sandbox):
    ok(apply(sandbox, {"networks": [{"name": "web", "subnet": "10.30.0.0/24"}]}))
    before, files = sandbox.kernel_state(), sandbox.state_files()
    bad = apply(sandbox, {"networks": [{"name": "new", "subnet": "10.40.0.0/24"},
                                       {"name": "x", "subnet": "10.0.0.0/31"}],
                          "endpoints": [{"network": "new", "target": "ghost"}]})
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == [
        "mydocker-net: error: $.networks[1].subnet: invalid subnet '10.0.0.0/31': prefix must be /8 to /30",
        "mydocker-net: error: $.endpoints[0].target: target ghost not found: no /run/netns/ghost "
        "(see ip netns list)",
        "mydocker-net: error: 2 problem(s) in the document; nothing was applied",
    ]
    clash = apply(sandbox, {"networks": [{"name": "new", "subnet": "10.40.0.0/24"},
                                         {"name": "web", "subnet": "10.31.0.0/24"}]})
    assert clash.returncode == 1
    assert "$.networks[1]: network web exists with subnet '10.30.0.0/24', not '10.31.0.0/24'" in clash.stderr
    assert sandbox.kernel_state() == before and sandbox.state_files() == files
    assert sandbox.cli("apply", "-f", "/nonexistent.json").returncode == 2


def test_failed_batch_is_rolled_back(sandbox, tmp_path):
    ok(apply(sandbox, {"networks": [{"name": "keep", "subnet": "10.9.0.0/24"}]}))
    before, files = sandbox.raw_state(), sandbox.state_files()
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    fake_tool(bindir, "iptables-restore", "--noflush", FAIL)
    result = apply(sandbox, hundred(), env={"PATH": f"{bindir}:{sandbox.env['PATH']}"})
    assert result.returncode == 1 and "injected failure" in result.stderr
    assert sandbox.raw_state() == before and sandbox.state_files() == files
