"""doctor.examine over hand-made store states and kernel snapshots; service.doctor's fix loop."""

import pytest

from mydocker_net import doctor
from mydocker_net.commands import iptables
from mydocker_net.kernel import Link, Snapshot
from mydocker_net.models import Endpoint, Network
from mydocker_net.service import CreateRequest
from mydocker_net.store import State

TAG = ("-m", "comment", "--comment", "mydocker-net:n1")
MASQ = ("-A", "POSTROUTING", "-s", "10.1.0.0/24", "!", "-o", "n1", *TAG, "-j", "MASQUERADE")
FWD_OUT = ("-A", "FORWARD", "-i", "n1", *TAG, "-j", "ACCEPT")
FWD_BACK = ("-A", "FORWARD", "-o", "n1", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", *TAG,
            "-j", "ACCEPT")
NET_RULES = [("nat", MASQ), ("filter", FWD_OUT), ("filter", FWD_BACK)]


def net(name="n1", subnet="10.1.0.0/24", gateway="10.1.0.1", **kw):
    fields = dict(name=name, driver="bridge", subnet=subnet, gateway=gateway, bridge=name,
                  internal=False, mtu=None, created="2026-01-01T00:00:00+00:00", status="ready",
                  allocations={gateway: "gateway"})
    return Network(**(fields | kw))


def endpoint(**kw):
    rules = [r.to_list() for r in (iptables.dnat_incoming("tcp", 8080, "10.1.0.2", 80, "n1"),)]
    fields = dict(host_veth="mdnaaaa", target="c1", target_kind="name", netns_path="/run/netns/c1",
                  netns_id="net:[1]", ifname="eth0", address="10.1.0.2", created="x", status="ready",
                  publish=[{"host_port": 8080, "container_port": 80, "proto": "tcp"}], rules=rules,
                  default_route=True)
    return Endpoint(**(fields | kw))


EP_RULE = ("nat", iptables.dnat_incoming("tcp", 8080, "10.1.0.2", 80, "n1").spec())


def healthy(**changes) -> Snapshot:
    snap = Snapshot(links={"lo": Link("lo", "", True, 65536), "n1": Link("n1", "bridge", True, 1500),
                           "mdnaaaa": Link("mdnaaaa", "veth", True, 1500, master="n1")},
                    addresses={"lo": ["127.0.0.1/8"], "n1": ["10.1.0.1/24"]},
                    rules=list(NET_RULES), ip_forward=True)
    for key, value in changes.items():
        setattr(snap, key, value)
    return snap


def state(*nets) -> State:
    return State(networks={n.name: n for n in nets})


def with_endpoint(ep=None, **kw):
    network = net(**kw)
    ep = ep or endpoint()
    network.endpoints[ep.host_veth] = ep
    return network


def alive(ep):
    return True


def dead(ep):
    return False


def checks(problems):
    return [(p.network, p.check) for p in problems]


def argvs(problem):
    return [step.do.argv for step in problem.steps]


def test_consistent_is_silent():
    assert doctor.examine(state(net()), healthy()) == []
    assert doctor.examine(state(), Snapshot()) == []  # no networks: forwarding is none of ours
    snap = healthy(rules=NET_RULES + [EP_RULE])
    assert doctor.examine(state(with_endpoint()), snap, alive) == []


def test_bridge_missing_is_rebuilt_with_its_address_and_up():
    problems = doctor.examine(state(net()), healthy(links={}, addresses={}))
    assert checks(problems) == [("n1", "bridge-missing")]
    assert argvs(problems[0]) == [
        ("ip", "link", "add", "name", "n1", "type", "bridge"),
        ("ip", "addr", "add", "10.1.0.1/24", "dev", "n1"),
        ("ip", "link", "set", "dev", "n1", "up"),
    ]


def test_foreign_link_of_that_name_is_reported_not_touched():
    problems = doctor.examine(state(net()), healthy(links={"n1": Link("n1", "veth", True, 1500)}))
    assert checks(problems) == [("n1", "bridge-foreign")]
    assert not problems[0].fixable


def test_down_wrong_mtu_missing_and_extra_addresses():
    snap = healthy(links={"n1": Link("n1", "bridge", False, 1500)},
                   addresses={"n1": ["10.1.0.9/24", "10.7.0.1/16"]})
    problems = doctor.examine(state(net(mtu=1400)), snap)
    assert checks(problems) == [("n1", "bridge-mtu"), ("n1", "address-missing"),
                                ("n1", "address-extra"), ("n1", "address-extra"), ("n1", "bridge-down")]
    assert [argvs(p) for p in problems] == [
        [("ip", "link", "set", "dev", "n1", "mtu", "1400")],
        [("ip", "addr", "add", "10.1.0.1/24", "dev", "n1")],
        [("ip", "addr", "del", "10.1.0.9/24", "dev", "n1")],
        [("ip", "addr", "del", "10.7.0.1/16", "dev", "n1")],
        [("ip", "link", "set", "dev", "n1", "up")],
    ]


def test_rule_missing_duplicated_and_stray():
    missing = doctor.examine(state(net()), healthy(rules=NET_RULES[1:]))
    assert checks(missing) == [("n1", "rule-missing")]
    assert missing[0].line() == ("n1: rule missing: nat -A POSTROUTING -s 10.1.0.0/24 ! -o n1 -m comment "
                                 "--comment mydocker-net:n1 -j MASQUERADE")
    step = missing[0].steps[0]
    assert step.skip_if.argv[4] == "-C" and step.do.argv[4] == "-A"

    stray = ("-A", "POSTROUTING", "-s", "10.9.0.0/24", *TAG, "-j", "MASQUERADE")
    snap = healthy(rules=NET_RULES + [("nat", MASQ), ("nat", MASQ), ("nat", stray)])
    problems = doctor.examine(state(net()), snap)
    assert checks(problems) == [("n1", "rule-duplicate"), ("n1", "rule-stray")]
    delete = ("iptables", "-w", "-t", "nat", "-D", *MASQ[1:])
    assert argvs(problems[0]) == [delete, delete]
    assert argvs(problems[1]) == [("iptables", "-w", "-t", "nat", "-D", *stray[1:])]


def test_internal_network_has_only_its_within_bridge_rule():
    within = ("-A", "FORWARD", "-i", "n1", "-o", "n1", *TAG, "-j", "ACCEPT")
    assert doctor.examine(state(net(internal=True)), healthy(rules=[("filter", within)])) == []
    problems = doctor.examine(state(net(internal=True)), healthy(rules=[("filter", within), ("nat", MASQ)]))
    assert checks(problems) == [("n1", "rule-stray")]


def test_orphan_rules_are_ours_only():
    orphan = ("-A", "POSTROUTING", "-s", "10.2.0.0/24", "!", "-o", "gone", "-m", "comment",
              "--comment", "mydocker-net:gone", "-j", "MASQUERADE")
    foreign = ("-A", "POSTROUTING", "-s", "10.3.0.0/24", "-m", "comment", "--comment", "docker",
               "-j", "MASQUERADE")
    untagged = ("-A", "FORWARD", "-o", "eth0", "-j", "ACCEPT")
    snap = healthy(rules=NET_RULES + [("nat", orphan), ("nat", foreign), ("filter", untagged)])
    problems = doctor.examine(state(net()), snap)
    assert checks(problems) == [("orphan", "rule-orphan")]
    assert argvs(problems[0]) == [("iptables", "-w", "-t", "nat", "-D", *orphan[1:])]


def test_forwarding_off_is_a_host_problem():
    problems = doctor.examine(state(net()), healthy(ip_forward=False))
    assert checks(problems) == [("host", "ip-forward-off")]
    assert argvs(problems[0]) == [("sysctl", "-w", "net.ipv4.ip_forward=1")]


@pytest.mark.parametrize("status", ["creating", "removing"])
def test_interrupted_records_are_taken_away(status):
    problems = doctor.examine(state(net(status=status)), healthy())
    assert checks(problems) == [("n1", f"left-{status}")]
    assert problems[0].forget
    assert argvs(problems[0]) == [
        ("iptables", "-w", "-t", "nat", "-D", *MASQ[1:]),
        ("iptables", "-w", "-t", "filter", "-D", *FWD_OUT[1:]),
        ("iptables", "-w", "-t", "filter", "-D", *FWD_BACK[1:]),
        ("ip", "link", "del", "dev", "n1")]
    gone = doctor.examine(state(net(status=status)), healthy(links={}, addresses={}, rules=[]))
    assert {s.do.argv[0] for s in gone[0].steps} == {"iptables"}  # each guarded by -C at run time


def test_endpoint_whose_namespace_is_gone_is_taken_away():
    snap = healthy(rules=NET_RULES + [EP_RULE], links={"n1": Link("n1", "bridge", True, 1500)})
    problems = doctor.examine(state(with_endpoint()), snap, dead)
    assert checks(problems) == [("n1", "endpoint-gone")]
    assert problems[0].forget_endpoint == "mdnaaaa"
    assert argvs(problems[0]) == [("iptables", "-w", "-t", "nat", "-D", *EP_RULE[1][1:])]
    assert problems[0].line() == "n1: endpoint c1 (eth0, 10.1.0.2): its namespace is gone"


def test_endpoint_veth_missing_detached_or_down():
    snap = healthy(rules=NET_RULES + [EP_RULE], links={"n1": Link("n1", "bridge", True, 1500)})
    missing = doctor.examine(state(with_endpoint()), snap, alive)
    assert checks(missing) == [("n1", "endpoint-veth-missing")]
    assert argvs(missing[0])[0] == ("ip", "link", "add", "name", "mdnaaaa", "type", "veth", "peer",
                                    "name", "eth0", "netns", "c1")
    assert argvs(missing[0])[-1] == ("ip", "-n", "c1", "route", "replace", "default", "via",
                                     "10.1.0.1", "dev", "eth0")
    snap.links["mdnaaaa"] = Link("mdnaaaa", "veth", False, 1500, master=None)
    problems = doctor.examine(state(with_endpoint()), snap, alive)
    assert checks(problems) == [("n1", "endpoint-detached"), ("n1", "endpoint-down")]
    assert argvs(problems[0]) == [("ip", "link", "set", "dev", "mdnaaaa", "master", "n1")]


def test_endpoint_rule_missing_is_restored():
    problems = doctor.examine(state(with_endpoint()), healthy(), alive)
    assert checks(problems) == [("n1", "rule-missing")]
    assert argvs(problems[0]) == [("iptables", "-w", "-t", "nat", "-A", *EP_RULE[1][1:])]


def test_service_doctor_fix_runs_the_steps_and_forgets_interrupted(service, fake_kernel, store):
    service.create(CreateRequest(name="n1", subnet="10.1.0.0/24"))
    with store.locked() as st:
        st.networks["n1"].status = "creating"
        store.save(st)
    fake_kernel.changes, fake_kernel.links = [], {"n1": "bridge"}
    fake_kernel.ip_forward = "1"
    fake_kernel.rules_present = True
    report = service.doctor(fix=True)
    assert [p.check for p in report.problems] == ["left-creating"]
    assert report.errors == {}
    assert fake_kernel.changes[-1] == ("ip", "link", "del", "dev", "n1")
    assert len(fake_kernel.changes) == 4
    assert store.snapshot().networks == {}


def test_service_doctor_reports_a_failed_fix(service, fake_kernel):
    service.create(CreateRequest(name="n1", subnet="10.1.0.0/24"))
    fake_kernel.changes, fake_kernel.links, fake_kernel.ip_forward = [], {}, "1"
    fake_kernel.tables["nat"] = "-A " + " ".join(MASQ[1:]).replace("mydocker-net:n1", '"mydocker-net:n1"')
    fake_kernel.tables["filter"] = "\n".join(" ".join(r) for _, r in NET_RULES[1:])
    fake_kernel.fail_at = 0
    report = service.doctor(fix=True)
    assert [p.check for p in report.problems] == ["bridge-missing"]
    assert list(report.errors) == [0] and "boom" in str(report.errors[0])
    assert report.remaining  # still broken, so the CLI exits 3


@pytest.mark.parametrize("count", [1, 25])
def test_doctor_reads_the_kernel_with_a_constant_number_of_commands(service, fake_kernel, count):
    for i in range(count):
        service.create(CreateRequest(name=f"n{i}", subnet=f"10.{i}.0.0/24"))
    fake_kernel.calls = []
    service.doctor()
    assert sorted(c[:4] for c in fake_kernel.calls) == [
        ("ip", "-j", "-d", "link"), ("ip", "-j", "addr", "show"),
        ("iptables", "-w", "-t", "filter"), ("iptables", "-w", "-t", "nat"),
        ("sysctl", "-n", "net.ipv4.ip_forward")]
