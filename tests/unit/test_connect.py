"""connect/disconnect plans with the process layer mocked: argv, rollback order, store effects."""

import json

import pytest

from mydocker_net import queries, targets
from mydocker_net.errors import (
    CommandFailed,
    Conflict,
    NotFound,
    UsageError,
    ValidationError,
)
from mydocker_net.service import ConnectRequest, CreateRequest

C1 = targets.Target("c1", targets.NAME, "/run/netns/c1")
TAG = ("-m", "comment", "--comment", "mydocker-net:tb")


@pytest.fixture
def ready(service, fake_kernel, mocker):
    """Network tb (10.1.0.0/24) exists; target c1 resolves to namespace net:[7]."""
    mocker.patch("mydocker_net.service.targets.resolve",
                 side_effect=lambda text: (targets.parse(text), f"net:[{len(text)}]"))
    mocker.patch("mydocker_net.service.targets.identity", side_effect=lambda t: f"net:[{len(t.given)}]")
    service.create(CreateRequest(name="tb", subnet="10.1.0.0/24"))
    fake_kernel.changes, fake_kernel.ip_forward = [], "1"
    return service


def veth(service, store):
    (name,) = store.snapshot().networks["tb"].endpoints
    return name


def connect_argv(host):
    dnat = ("-m", "addrtype", "--dst-type", "LOCAL", "-m", "tcp", "--dport", "8080", *TAG,
            "-j", "DNAT", "--to-destination", "10.1.0.2:80")
    return [
        ("ip", "link", "add", "name", host, "type", "veth", "peer", "name", "eth0", "netns", "c1"),
        ("ip", "link", "set", "dev", host, "master", "tb"),
        ("ip", "link", "set", "dev", host, "up"),
        ("ip", "-n", "c1", "addr", "add", "10.1.0.2/24", "dev", "eth0"),
        ("ip", "-n", "c1", "link", "set", "dev", "eth0", "up"),
        ("ip", "-n", "c1", "route", "add", "default", "via", "10.1.0.1", "dev", "eth0"),
        ("iptables", "-w", "-t", "nat", "-A", "PREROUTING", "-p", "tcp", *dnat),
        ("iptables", "-w", "-t", "nat", "-A", "OUTPUT", "!", "-d", "127.0.0.0/8", "-p", "tcp", *dnat),
        ("iptables", "-w", "-t", "filter", "-I", "FORWARD", "-d", "10.1.0.2/32", "!", "-i", "tb",
         "-o", "tb", "-p", "tcp", "-m", "tcp", "--dport", "80", *TAG, "-j", "ACCEPT"),
        ("ip", "-n", "c1", "link", "set", "dev", "lo", "up"),
    ]


def undo_of(argv):
    """What rolls a connect command back: the veth's deletion takes the rest with it."""
    if argv[:3] == ("ip", "link", "add"):
        return [("ip", "link", "del", "dev", argv[4])]
    if argv[0] == "iptables":
        return [argv[:4] + ("-D",) + argv[5:]]
    return []


REQUEST = ConnectRequest(network="tb", target="c1", publish=("8080:80",))


def test_connect_runs_exact_commands_and_records_the_endpoint(ready, fake_kernel, store):
    net, ep = ready.connect(REQUEST)
    assert fake_kernel.changes == connect_argv(ep.host_veth)
    assert ep.host_veth.startswith("mdn") and len(ep.host_veth) == 13
    stored = store.snapshot().networks["tb"]
    record = stored.endpoints[ep.host_veth]
    assert (record.status, record.address, record.target, record.netns_id) == (
        "ready", "10.1.0.2", "c1", "net:[2]")
    assert record.default_route and record.lo_up
    assert len(record.rules) == 3
    assert stored.allocations["10.1.0.2"] == {"network": "tb", "target": "c1", "netns": "net:[2]",
                                              "ifname": "eth0"}


def test_connect_skips_lo_and_route_when_already_there(ready, fake_kernel):
    fake_kernel.inside_links["lo"]["flags"] = ["LOOPBACK", "UP"]
    fake_kernel.inside_default_route = [{"dst": "default", "gateway": "192.0.2.1"}]
    _, ep = ready.connect(ConnectRequest(network="tb", target="c1"))
    assert fake_kernel.changes == connect_argv(ep.host_veth)[:5]
    assert not ep.lo_up and not ep.default_route


def test_veth_name_is_deterministic(ready, store, fake_kernel):
    _, ep = ready.connect(REQUEST)
    ready.disconnect("tb", "c1")
    _, again = ready.connect(REQUEST)
    assert again.host_veth == ep.host_veth


@pytest.mark.parametrize("k", range(10))
def test_connect_failing_at_step_k_undoes_in_reverse_and_frees_the_address(ready, fake_kernel, store, k):
    before = store.path.read_text()
    fake_kernel.fail_at = k
    with pytest.raises(CommandFailed, match="boom"):
        ready.connect(REQUEST)
    done = fake_kernel.changes[:k + 1]
    host = done[0][4]
    expected = connect_argv(host)
    assert done == expected[:k + 1]
    undos = [u for argv in reversed(expected[:k]) for u in undo_of(argv)]
    assert fake_kernel.changes[k + 1:] == undos
    assert store.path.read_text() == before


def test_disconnect_runs_exact_commands_from_the_record(ready, fake_kernel, store):
    _, ep = ready.connect(REQUEST)
    added = [c for c in fake_kernel.changes if c[0] == "iptables"]
    fake_kernel.changes, fake_kernel.rules_present = [], True
    fake_kernel.links = {"tb": "bridge", ep.host_veth: "veth"}
    ready.disconnect("tb", "c1")
    assert fake_kernel.changes == [a[:4] + ("-D",) + a[5:] for a in added] + [
        ("ip", "link", "del", "dev", ep.host_veth)]
    net = store.snapshot().networks["tb"]
    assert net.endpoints == {} and net.allocations == {"10.1.0.1": "gateway"}


def test_disconnect_of_a_dead_namespace_touches_only_what_is_there(ready, fake_kernel, store):
    ready.connect(REQUEST)
    fake_kernel.changes, fake_kernel.rules_present, fake_kernel.links = [], False, {"tb": "bridge"}
    ready.disconnect("tb", "c1")
    assert fake_kernel.changes == []
    assert store.snapshot().networks["tb"].endpoints == {}


@pytest.mark.parametrize("k", range(4))
def test_disconnect_failing_at_step_k_restores_rules_and_record(ready, fake_kernel, store, k):
    _, ep = ready.connect(REQUEST)
    before = store.path.read_text()
    fake_kernel.changes, fake_kernel.rules_present = [], True
    fake_kernel.links, fake_kernel.fail_at = {"tb": "bridge", ep.host_veth: "veth"}, k
    with pytest.raises(CommandFailed):
        ready.disconnect("tb", "c1")
    deleted = fake_kernel.changes[:k]
    readded = [d[:4] + ("-I" if d[5] == "FORWARD" else "-A",) + d[5:] for d in reversed(deleted)]
    assert fake_kernel.changes[k + 1:] == readded
    assert store.path.read_text() == before


def test_refusals(ready, fake_kernel, store):
    ready.connect(REQUEST)
    before, fake_kernel.changes = store.path.read_text(), []
    with pytest.raises(Conflict, match=r"target c1 is already connected to network tb \(eth0, 10.1.0.2\)"):
        ready.connect(ConnectRequest(network="tb", target="c1", ifname="eth1"))
    with pytest.raises(Conflict, match="host port 8080/tcp is already published by c1 on network tb"):
        ready.connect(ConnectRequest(network="tb", target="c22", publish=("8080:81",)))
    fake_kernel.inside_links["eth0"] = {"ifname": "eth0", "flags": []}
    with pytest.raises(Conflict, match="interface eth0 already exists in target c22"):
        ready.connect(ConnectRequest(network="tb", target="c22"))
    with pytest.raises(NotFound, match="network nope not found"):
        ready.connect(ConnectRequest(network="nope", target="c22"))
    with pytest.raises(UsageError, match="host port 80/tcp is published twice"):
        ready.connect(ConnectRequest(network="tb", target="c22", publish=("80:1", "80:2")))
    for bad in ("80", "0:80", "80:70000", "80:80/sctp", "a:b"):
        with pytest.raises(ValidationError, match="invalid publish"):
            ready.connect(ConnectRequest(network="tb", target="c22", publish=(bad,)))
    with pytest.raises(ValidationError, match="invalid address"):
        ready.connect(ConnectRequest(network="tb", target="c22", ip="10.1.0"))
    assert fake_kernel.changes == [] and store.path.read_text() == before


def test_remove_refuses_endpoints_unless_forced(ready, fake_kernel, store):
    _, ep = ready.connect(REQUEST)
    outcome = ready.remove(["tb"])
    assert [str(e) for e in outcome.errors] == [
        "network tb has endpoints: c1 (eth0); disconnect them or use --force"]
    fake_kernel.changes, fake_kernel.rules_present = [], True
    fake_kernel.links = {"tb": "bridge", ep.host_veth: "veth"}
    assert ready.remove(["tb"], force=True).done == ["tb"]
    link_dels = [c for c in fake_kernel.changes if c[:3] == ("ip", "link", "del")]
    assert link_dels == [("ip", "link", "del", "dev", ep.host_veth), ("ip", "link", "del", "dev", "tb")]
    assert store.snapshot().networks == {}


def test_target_parsing():
    assert targets.parse("c1") == C1
    assert targets.parse("1234") == targets.Target("1234", targets.PID, "/proc/1234/ns/net")
    assert targets.parse("/run/netns/x").kind == targets.PATH
    assert targets.parse("1234").ip == ("nsenter", "--net=/proc/1234/ns/net", "ip")
    assert C1.ip == ("ip", "-n", "c1") and C1.netns_ref == "c1"
    for bad in ("", ".x", "-x", "a b"):
        with pytest.raises(ValidationError, match="invalid target"):
            targets.parse(bad)


def test_missing_targets_are_clear_errors(tmp_path):
    with pytest.raises(NotFound, match=r"target nosuchns not found: no /run/netns/nosuchns"):
        targets.resolve("nosuchns")
    with pytest.raises(NotFound, match="no process 999999999"):
        targets.resolve("999999999")
    plain = tmp_path / "file"
    plain.write_text("")
    with pytest.raises(ValidationError, match="is not a namespace file"):
        targets.resolve(str(plain))


def test_inspect_lists_endpoints(ready):
    ready.connect(REQUEST)
    details = queries.inspect(ready.store, ["tb"]).done[0].details()
    assert details["endpoints"] == [{"target": "c1", "ifname": "eth0", "address": "10.1.0.2",
                                     "host_veth": details["endpoints"][0]["host_veth"],
                                     "ports": ["8080:80/tcp"], "status": "ready"}]
    assert details["ipam"]["in_use"]["10.1.0.2"]["target"] == "c1"
    assert json.dumps(details)
