"""apply: document validation with JSON paths, the diff against the store, and the service run."""

import pytest

from mydocker_net import apply as desired
from mydocker_net import targets


@pytest.fixture(autouse=True)
def namespaces(mocker):
    """Targets c1..c9 exist (identity net:[N]); anything else does not."""
    def resolve(text):
        if text.startswith("c") and text[1:].isdigit():
            return targets.parse(text), f"net:[{text[1:]}]"
        raise desired.MyDockerNetError(f"target {text} not found")
    mocker.patch("mydocker_net.apply.targets.resolve", side_effect=resolve)


def problems(data):
    with pytest.raises(desired.DocumentInvalid) as err:
        desired.parse(data)
    return err.value.problems


def test_minimal_and_full_documents_parse():
    doc = desired.parse({"networks": [{"name": "a"}], "endpoints": [{"network": "a", "target": "c1"}]})
    assert doc.networks[0].driver == "bridge" and doc.networks[0].subnet is None
    assert doc.endpoints[0].ifname == "eth0" and doc.endpoints[0].identity == "net:[1]"
    full = desired.parse({"networks": [{"name": "web", "driver": "bridge", "subnet": "10.30.0.1/24",
                                        "gateway": "10.30.0.1", "internal": False, "mtu": 1500}],
                          "endpoints": [{"network": "web", "target": "c1", "ifname": "eth0",
                                         "ip": "10.30.0.5", "publish": ["8080:80/tcp"]}]})
    assert full.networks[0].subnet == "10.30.0.0/24"
    assert str(full.endpoints[0].publish[0]) == "8080:80/tcp"


def test_every_problem_is_listed_with_its_path():
    found = problems({
        "networks": [{"name": "-bad"}, {"name": "ok", "subnet": "10.0.0.0/33"}, {"subnet": "x"},
                     {"name": "m", "mtu": "big", "colour": 1}, {"name": "g", "gateway": "10.0.0.1"},
                     "nope"],
        "endpoints": [{"network": "ok", "target": "zz"}, {"network": "ok", "target": "c1",
                                                          "publish": ["80"], "ip": "x"}],
        "extra": True,
    })
    assert found[:2] == [
        "$.extra: unknown key",
        "$.networks[0].name: invalid network name '-bad': use 1-15 characters of A-Z a-z 0-9 _ . -, "
        "not starting with '-' or '.'",
    ]
    assert found[2].startswith("$.networks[1].subnet: invalid subnet '10.0.0.0/33'")
    assert found[3] == "$.networks[2].name: required"
    assert {found[4], found[5]} == {"$.networks[3].colour: unknown key", "$.networks[3].mtu: must be int"}
    assert found[6:9] == ["$.networks[4].gateway: needs a subnet", "$.networks[5]: must be an object",
                          "$.endpoints[0].target: target zz not found"]
    assert found[9].startswith("$.endpoints[1].ip: invalid address 'x'")
    assert found[10].startswith("$.endpoints[1].publish[0]: invalid publish '80'")
    assert len(found) == 11


def test_cross_checks():
    found = problems({
        "networks": [{"name": "a", "subnet": "10.1.0.0/16"}, {"name": "a", "subnet": "10.1.2.0/24"}],
        "endpoints": [{"network": "a", "target": "c1", "ip": "10.2.0.1", "publish": ["80:80"]},
                      {"network": "a", "target": "c1", "publish": ["80:81"]},
                      {"network": "zz", "target": "c2"}],
    })
    assert found == [
        "$.networks[1].name: network 'a' is named twice",
        "$.networks[1].subnet: 10.1.2.0/24 overlaps a (10.1.0.0/16)",
        "$.endpoints[0].ip: 10.2.0.1 is outside 10.1.2.0/24",
        "$.endpoints[1].ifname: c1 gets interface eth0 twice",
        "$.endpoints[1].target: c1 is connected to a twice",
        "$.endpoints[1].publish[0]: host port 80/tcp is also published at $.endpoints[0]",
        "$.endpoints[2].network: network 'zz' is not in this document's networks",
    ]


def test_apply_creates_then_is_a_no_op(service, fake_kernel, store):
    data = {"networks": [{"name": "web", "subnet": "10.30.0.0/24"}, {"name": "auto"}],
            "endpoints": [{"network": "web", "target": "c1", "publish": ["8080:80"]}]}
    report = service.apply(data)
    assert report.created == ["web", "auto"] and report.connected == ["web/c1"]
    nets = store.snapshot().networks
    assert nets["auto"].subnet == "10.200.0.0/24" and nets["web"].status == "ready"
    (ep,) = nets["web"].endpoints.values()
    assert (ep.address, ep.status) == ("10.30.0.2", "ready")
    batches = [c for c in fake_kernel.calls if c[-2:] == ("-batch", "-")]
    assert ("ip", "-batch", "-") in batches and ("ip", "-n", "c1", "-batch", "-") in batches
    fake_kernel.calls = []
    again = service.apply(data)
    assert not again.changed and again.unchanged == ["web", "auto"]
    assert again.unchanged_endpoints == ["web/c1"]
    assert fake_kernel.calls == []  # a no-op asks the kernel nothing


def test_conflicts_apply_nothing(service, fake_kernel, store):
    service.apply({"networks": [{"name": "web", "subnet": "10.30.0.0/24"}]})
    before, fake_kernel.calls = store.path.read_text(), []
    with pytest.raises(desired.ApplyConflict) as err:
        service.apply({"networks": [{"name": "web", "subnet": "10.31.0.0/24", "mtu": 1400},
                                    {"name": "new", "subnet": "10.30.0.0/16"}]})
    assert err.value.problems == [
        "$.networks[0]: network web exists with mtu None, not 1400; subnet '10.30.0.0/24', "
        "not '10.31.0.0/24'",
        "$.networks[1].subnet: 10.30.0.0/16 overlaps network web (10.30.0.0/24)",
    ]
    assert store.path.read_text() == before
    assert not [c for c in fake_kernel.calls if c[0] != "ip" or "-j" not in c]


def test_prune_removes_what_the_document_does_not_name(service, fake_kernel, store):
    service.apply({"networks": [{"name": "a", "subnet": "10.1.0.0/24"},
                                {"name": "b", "subnet": "10.2.0.0/24"}],
                   "endpoints": [{"network": "a", "target": "c1"}, {"network": "a", "target": "c2"}]})
    report = service.apply({"networks": [{"name": "a", "subnet": "10.1.0.0/24"}],
                            "endpoints": [{"network": "a", "target": "c1"}]}, prune=True)
    assert report.removed == ["b"] and report.disconnected == ["a/c2"]
    nets = store.snapshot().networks
    assert list(nets) == ["a"] and [e.target for e in nets["a"].endpoints.values()] == ["c1"]
    assert "10.1.0.3" not in nets["a"].allocations


def test_failed_apply_leaves_the_store_as_before(service, fake_kernel, store):
    service.apply({"networks": [{"name": "keep", "subnet": "10.9.0.0/24"}]})
    before = store.path.read_text()
    fake_kernel.changes, fake_kernel.fail_at = [], 0  # the first batch fails
    with pytest.raises(desired.MyDockerNetError):
        service.apply({"networks": [{"name": "x", "subnet": "10.1.0.0/24"}],
                       "endpoints": [{"network": "x", "target": "c1"}]})
    assert store.path.read_text() == before
