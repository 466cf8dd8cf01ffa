"""Create/remove plans with the process layer mocked: exact argv, rollback order, store effects."""

import json

import pytest

from mydocker_net import queries
from mydocker_net.errors import (
    CommandFailed,
    Conflict,
    NotFound,
    UsageError,
    ValidationError,
)
from mydocker_net.service import CreateRequest

TAG = ("-m", "comment", "--comment", "mydocker-net:tb")
SEED_RULE = ("-s", "192.168.10.0/24", "!", "-o", "tb", *TAG, "-j", "MASQUERADE")
FWD_OUT = ("-i", "tb", *TAG, "-j", "ACCEPT")
FWD_BACK = ("-o", "tb", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", *TAG, "-j", "ACCEPT")


def nat(action, rule=SEED_RULE):
    return ("iptables", "-w", "-t", "nat", action, "POSTROUTING", *rule)


def fwd(action, rule):
    return ("iptables", "-w", "-t", "filter", action, "FORWARD", *rule)


SEED_CREATE = [
    ("ip", "link", "add", "name", "tb", "type", "bridge"),
    ("ip", "addr", "add", "192.168.10.1/24", "dev", "tb"),
    ("ip", "link", "set", "dev", "tb", "up"),
    ("sysctl", "-w", "net.ipv4.ip_forward=1"),
    nat("-A"),
    fwd("-I", FWD_OUT),
    fwd("-I", FWD_BACK),
]
# What undoes each of SEED_CREATE (sysctl is shared host state and stays on).
SEED_UNDO = [
    [("ip", "link", "del", "dev", "tb")],
    [("ip", "addr", "del", "192.168.10.1/24", "dev", "tb")],
    [("ip", "link", "set", "dev", "tb", "down")],
    [],
    [nat("-D")],
    [fwd("-D", FWD_OUT)],
    [fwd("-D", FWD_BACK)],
]


def seed():
    return CreateRequest(name="tb", subnet="192.168.10.1/24")


def state_text(store):
    return store.path.read_text() if store.path.exists() else None


def test_create_runs_exact_commands_in_order(service, fake_kernel, store):
    net = service.create(seed())
    assert fake_kernel.changes == SEED_CREATE
    for added in SEED_CREATE[4:]:  # every rule is checked just before it is added
        check = added[:4] + ("-C",) + added[5:]
        assert fake_kernel.calls.index(check) == fake_kernel.calls.index(added) - 1
    assert service.warnings == ["subnet 192.168.10.1/24 has host bits set; using 192.168.10.0/24"]
    stored = store.snapshot().networks["tb"]
    assert (stored.subnet, stored.gateway, stored.status) == ("192.168.10.0/24", "192.168.10.1", "ready")
    assert stored.allocations == {"192.168.10.1": "gateway"} and net == stored


def test_create_with_mtu_internal_and_forwarding_on(service, fake_kernel):
    fake_kernel.ip_forward = "1"
    service.create(CreateRequest(name="in", subnet="10.9.0.0/16", gateway="10.9.255.254",
                                 internal=True, mtu=1400))
    assert fake_kernel.changes == [
        ("ip", "link", "add", "name", "in", "mtu", "1400", "type", "bridge"),
        ("ip", "addr", "add", "10.9.255.254/16", "dev", "in"),
        ("ip", "link", "set", "dev", "in", "up"),
        ("iptables", "-w", "-t", "filter", "-I", "FORWARD", "-i", "in", "-o", "in", "-m", "comment",
         "--comment", "mydocker-net:in", "-j", "ACCEPT"),
    ]


def test_existing_rule_is_not_appended_twice(service, fake_kernel):
    fake_kernel.rules_present = True
    service.create(seed())
    assert not any(c[0] == "iptables" for c in fake_kernel.changes)


@pytest.mark.parametrize("k", range(len(SEED_CREATE)))
def test_create_failing_at_step_k_undoes_steps_before_in_reverse(service, fake_kernel, store, k):
    fake_kernel.fail_at = k
    with pytest.raises(CommandFailed) as err:
        service.create(seed())
    assert " ".join(SEED_CREATE[k]).replace("!", "'!'") in str(err.value)
    assert str(err.value).endswith(": boom")
    undos = [cmd for step in reversed(range(k)) for cmd in SEED_UNDO[step]]
    assert fake_kernel.changes == SEED_CREATE[: k + 1] + undos
    assert json.loads(state_text(store))["networks"] == {}


def test_rollback_continues_when_an_undo_fails(service, fake_kernel, store, mocker):
    fake_kernel.fail_at = 6  # the last FORWARD insert fails ...
    original = fake_kernel.__call__

    def undo_fails(cmd, stdin=None):
        if cmd.argv == ("ip", "link", "set", "dev", "tb", "down"):  # ... and so does an undo
            fake_kernel.changes.append(cmd.argv)
            return 1, "", "undo broke"
        return original(cmd, stdin)

    from mydocker_net.runner import ShRunner
    mocker.patch.object(ShRunner, "_spawn", side_effect=undo_fails)
    with pytest.raises(CommandFailed):
        service.create(seed())
    assert fake_kernel.changes[-2:] == [("ip", "addr", "del", "192.168.10.1/24", "dev", "tb"),
                                        ("ip", "link", "del", "dev", "tb")]
    assert nat("-D") in fake_kernel.changes and fwd("-D", FWD_OUT) in fake_kernel.changes
    assert json.loads(state_text(store))["networks"] == {}


def test_refusals_touch_nothing(service, fake_kernel, store):
    service.create(seed())
    before, fake_kernel.changes = state_text(store), []
    with pytest.raises(Conflict, match="network tb already exists"):
        service.create(seed())
    with pytest.raises(Conflict, match="overlaps network tb"):
        service.create(CreateRequest(name="other", subnet="192.168.0.0/16"))
    fake_kernel.links = {"eth0": ""}
    with pytest.raises(Conflict, match="link named eth0 already exists and was not made by"):
        service.create(CreateRequest(name="eth0", subnet="10.5.0.0/24"))
    for bad, error in [(CreateRequest(name="-x"), ValidationError),
                       (CreateRequest(name="x", driver="macvlan"), ValidationError),
                       (CreateRequest(name="x", subnet="10.0.0.0/31"), ValidationError),
                       (CreateRequest(name="x", subnet="10.6.0.0/24", gateway="10.7.0.1"), ValidationError),
                       (CreateRequest(name="x", gateway="10.7.0.1"), UsageError),
                       (CreateRequest(name="x", mtu=10), ValidationError)]:
        with pytest.raises(error):
            service.create(bad)
    assert fake_kernel.changes == [] and state_text(store) == before


def test_auto_subnet_skips_networks_and_host_routes(service, fake_kernel):
    fake_kernel.addrs = [{"ifname": "eth0", "addr_info": [
        {"family": "inet", "local": "10.200.0.5", "prefixlen": 24},
        {"family": "inet6", "local": "fe80::1", "prefixlen": 64}]}]
    fake_kernel.routes = [{"dst": "default", "gateway": "10.200.0.1"}, {"dst": "10.200.1.0/24"}]
    assert service.create(CreateRequest(name="a")).subnet == "10.200.2.0/24"
    assert service.create(CreateRequest(name="b")).subnet == "10.200.3.0/24"
    assert service.create(CreateRequest(name="c")).gateway == "10.200.4.1"


REMOVE = [nat("-D"), fwd("-D", FWD_OUT), fwd("-D", FWD_BACK), ("ip", "link", "del", "dev", "tb")]
# what re-adds each removal step's rule, should a later step fail
REMOVE_UNDO = [nat("-A"), fwd("-I", FWD_OUT), fwd("-I", FWD_BACK), None]


def test_remove_runs_exact_commands_and_forgets_the_network(service, fake_kernel, store):
    service.create(seed())
    fake_kernel.changes, fake_kernel.rules_present = [], True
    fake_kernel.links = {"tb": "bridge"}
    outcome = service.remove(["tb"])
    assert outcome.done == ["tb"] and outcome.errors == []
    assert fake_kernel.changes == REMOVE
    assert store.snapshot().networks == {}


def test_remove_tolerates_missing_rule_and_bridge(service, fake_kernel, store):
    service.create(seed())
    fake_kernel.changes, fake_kernel.rules_present, fake_kernel.links = [], False, {}
    assert service.remove(["tb"]).done == ["tb"]
    assert fake_kernel.changes == [] and store.snapshot().networks == {}


def test_remove_never_deletes_a_foreign_link_of_that_name(service, fake_kernel):
    service.create(seed())
    fake_kernel.changes, fake_kernel.links = [], {"tb": "veth"}
    service.remove(["tb"])
    assert ("ip", "link", "del", "dev", "tb") not in fake_kernel.changes


@pytest.mark.parametrize("k", range(len(REMOVE)))
def test_remove_failing_at_step_k_restores_kernel_and_store(service, fake_kernel, store, k):
    service.create(seed())
    before = state_text(store)
    fake_kernel.changes, fake_kernel.rules_present = [], True
    fake_kernel.links, fake_kernel.fail_at = {"tb": "bridge"}, k
    outcome = service.remove(["tb"])
    assert len(outcome.errors) == 1 and isinstance(outcome.errors[0], CommandFailed)
    undo = [REMOVE_UNDO[i] for i in reversed(range(k))]
    assert fake_kernel.changes == REMOVE[: k + 1] + undo
    assert state_text(store) == before


def test_remove_missing_names_and_force(service, fake_kernel):
    service.create(seed())
    outcome = service.remove(["nope", "tb"])
    assert outcome.done == ["tb"]
    assert [str(e) for e in outcome.errors] == ["network nope not found"]
    assert isinstance(outcome.errors[0], NotFound)
    assert service.remove(["nope"], force=True).errors == []


def test_inspect_reports_missing_and_prints_the_rest(service):
    service.create(seed())
    outcome = queries.inspect(service.store, ["tb", "zz"])
    assert [n.name for n in outcome.done] == ["tb"]
    assert [str(e) for e in outcome.errors] == ["network zz not found"]
    details = outcome.done[0].details()
    assert details["ipam"]["in_use"] == {"192.168.10.1": "gateway"}
    assert {"name", "driver", "subnet", "gateway", "bridge", "internal", "mtu", "created"} <= set(details)
