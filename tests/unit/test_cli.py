"""The CLI edge: exit codes, one-line errors, dry-run script, output formats."""

import json

import pytest

from mydocker_net import cli
from mydocker_net.runner import ShRunner


@pytest.fixture
def run(tmp_path, monkeypatch, capsys, fake_kernel):
    monkeypatch.setenv("MYDOCKER_NET_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr("mydocker_net.privileges.has_net_admin", lambda: True)

    def invoke(*argv):
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err
    return invoke


def test_seed_command_creates_and_prints(run, tmp_path):
    code, out, err = run("network", "create", "--driver", "bridge", "--subnet", "192.168.10.1/24", "tb")
    assert code == 0
    assert out == "created network tb: subnet 192.168.10.0/24, gateway 192.168.10.1, bridge tb\n"
    assert err == ("mydocker-net: warning: subnet 192.168.10.1/24 has host bits set; "
                   "using 192.168.10.0/24\n")
    assert (tmp_path / "state" / "state.json").exists()


@pytest.mark.parametrize("position", ["before", "after"])
def test_dry_run_prints_a_script_and_writes_nothing(run, tmp_path, fake_kernel, position):
    argv = ["network", "create", "--subnet", "192.168.10.0/24", "tb"]
    argv = ["--dry-run", *argv] if position == "before" else [*argv[:2], "--dry-run", *argv[2:]]
    code, out, err = run(*argv)
    assert code == 0
    rule = ("POSTROUTING -s 192.168.10.0/24 '!' -o tb -m comment --comment mydocker-net:tb "
            "-j MASQUERADE")
    fwd = "FORWARD -i tb -m comment --comment mydocker-net:tb -j ACCEPT"
    assert out.splitlines()[:6] == [
        "ip link add name tb type bridge",
        "ip addr add 192.168.10.1/24 dev tb",
        "ip link set dev tb up",
        "sysctl -w net.ipv4.ip_forward=1",
        f"iptables -w -t nat -C {rule} 2>/dev/null || iptables -w -t nat -A {rule}",
        f"iptables -w -t filter -C {fwd} 2>/dev/null || iptables -w -t filter -I {fwd}",
    ]
    assert len(out.splitlines()) == 7
    assert "would create network tb" in err
    assert fake_kernel.changes == []
    assert not (tmp_path / "state").exists()


def test_dry_run_needs_no_root(run, monkeypatch):
    monkeypatch.setattr("mydocker_net.privileges.has_net_admin", lambda: False)
    assert run("--dry-run", "network", "create", "--subnet", "10.1.0.0/24", "x")[0] == 0
    code, out, err = run("network", "create", "--subnet", "10.1.0.0/24", "x")
    assert code == 1 and out == ""
    assert err == ("mydocker-net: error: network create needs root: run it as root "
                   "(it needs CAP_NET_ADMIN)\n")


@pytest.mark.parametrize("argv", [
    [], ["network"], ["network", "create"], ["network", "frob"], ["--format", "xml", "network", "ls"],
    ["network", "create", "--mtu", "big", "x"], ["network", "create", "-x"],
    ["network", "create", "--subnet", "10.0.0.0/33", "x"], ["network", "create", "bad/name"],
])
def test_usage_errors_are_one_line_exit_2(run, argv):
    code, out, err = run(*argv)
    assert code == 2 and out == ""
    assert err.startswith("mydocker-net: error: ") and err.count("\n") == 1


def test_list_formats(run):
    run("network", "create", "--subnet", "10.1.0.0/24", "b")
    run("network", "create", "--subnet", "10.2.0.0/24", "--internal", "a")
    code, out, _ = run("network", "ls")
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "DRIVER", "SUBNET", "GATEWAY", "BRIDGE", "INTERNAL",
                                "ENDPOINTS", "STATUS"]
    assert [line.split()[0] for line in lines[1:]] == ["a", "b"]
    assert lines[1].split()[5] == "yes"
    assert run("network", "list", "-q")[1] == "a\nb\n"
    records = json.loads(run("network", "list", "--format", "json")[1])
    assert [r["name"] for r in records] == ["a", "b"] and records[0]["internal"] is True


def test_inspect_missing_name_is_error_but_others_print(run):
    run("network", "create", "--subnet", "10.1.0.0/24", "a")
    code, out, err = run("network", "inspect", "a", "zz")
    assert code == 1
    assert [n["name"] for n in json.loads(out)] == ["a"]
    assert err == "mydocker-net: error: network zz not found\n"


def test_remove_alias_and_force(run):
    run("network", "create", "--subnet", "10.1.0.0/24", "a")
    assert run("network", "rm", "a") == (0, "removed network a\n", "")
    code, _, err = run("network", "remove", "a")
    assert code == 1 and err == "mydocker-net: error: network a not found\n"
    assert run("network", "rm", "-f", "a")[0] == 0


def test_missing_tool_names_the_debian_package(tmp_path):
    from mydocker_net.errors import ToolMissing
    runner = ShRunner({"PATH": str(tmp_path)})
    runner.env["PATH"] = str(tmp_path)  # not even the system dirs
    with pytest.raises(ToolMissing, match="^ip not found: install the Debian package iproute2$"):
        runner._binary("ip")
    with pytest.raises(ToolMissing, match="install the Debian package iptables$"):
        runner._binary("iptables")


def test_tool_missing_reaches_the_user_as_one_line(run, mocker):
    from mydocker_net.errors import ToolMissing
    mocker.patch.object(ShRunner, "_spawn", side_effect=ToolMissing(
        "ip not found: install the Debian package iproute2"))
    code, _, err = run("network", "create", "--subnet", "10.1.0.0/24", "a")
    assert code == 1
    assert err == "mydocker-net: error: ip not found: install the Debian package iproute2\n"


def test_internal_error_never_shows_a_traceback(run, mocker):
    mocker.patch("mydocker_net.queries.list_networks", side_effect=RuntimeError("kaboom"))
    code, out, err = run("network", "ls")
    assert code == 1 and "Traceback" not in err
    assert err == "mydocker-net: error: internal error: RuntimeError: kaboom\n"


def test_corrupt_state_is_reported_with_its_path(run, tmp_path):
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "state.json").write_text("{oops")
    code, _, err = run("network", "ls")
    assert code == 1 and str(tmp_path / "state" / "state.json") in err and err.count("\n") == 1
    code, _, _ = run("network", "create", "--subnet", "10.1.0.0/24", "a")
    assert code == 1 and (tmp_path / "state" / "state.json").read_text() == "{oops"


def test_debug_log_shows_each_command(run):
    _, _, err = run("--log-level", "debug", "network", "create", "--subnet", "10.1.0.0/24", "a")
    assert "mydocker-net: DEBUG: run: ip link add name a type bridge" in err


def test_search_path_keeps_callers_path_first():
    from mydocker_net.runner import search_path
    assert search_path("/fake:/usr/bin") == "/fake:/usr/bin:/usr/sbin:/sbin:/bin"
    assert search_path(None) == "/usr/sbin:/sbin:/usr/bin:/bin"


@pytest.mark.parametrize("argv", [["--help"], ["network", "ls", "--format", "json"],
                                  ["network", "inspect", "none"]])
def test_listings_and_help_start_lean(tmp_path, argv):
    """They run no command, so they never import sh; JSON output never imports tabulate."""
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "mydocker_net",
                             "--state-dir", str(tmp_path / "s"), *argv],
                            capture_output=True, text=True)
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "mydocker_net.cli" in imported
    assert not imported & {"sh", "tabulate", "logging", "mydocker_net.service", "mydocker_net.runner"}
