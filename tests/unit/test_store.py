import json
import os
import stat

import pytest

from mydocker_net.errors import StoreError
from mydocker_net.models import Network
from mydocker_net.store import Store


def _net(name="n1"):
    return Network(name=name, driver="bridge", subnet="10.1.0.0/24", gateway="10.1.0.1",
                   bridge=name, internal=False, mtu=None, created="2026-01-01T00:00:00+00:00",
                   status="ready", allocations={"10.1.0.1": "gateway"})


def test_missing_state_is_empty_and_not_created(tmp_path):
    store = Store(tmp_path / "nope")
    assert store.snapshot().networks == {}
    assert not (tmp_path / "nope").exists()


def test_round_trip_and_modes(tmp_path):
    store = Store(tmp_path / "state")
    with store.locked() as state:
        state.networks["n1"] = _net()
        store.save(state)
    assert store.snapshot().networks["n1"] == _net()
    assert stat.S_IMODE(os.stat(store.dir).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(store.lock_path).st_mode) == 0o600
    data = json.loads(store.path.read_text())
    assert data["schema"] == 1 and data["networks"]["n1"]["subnet"] == "10.1.0.0/24"
    assert sorted(os.listdir(store.dir)) == ["lock", "state.json"]  # no temp file left


def test_save_is_atomic_rename(tmp_path, mocker):
    store = Store(tmp_path / "state")
    with store.locked() as state:
        state.networks["n1"] = _net()
        store.save(state)
    before = store.path.read_text()
    mocker.patch("mydocker_net.store.os.replace", side_effect=OSError(28, "No space left on device"))
    with store.locked() as state:
        state.networks["n2"] = _net("n2")
        with pytest.raises(StoreError, match="cannot write .*state.json: No space left"):
            store.save(state)
    assert store.path.read_text() == before
    assert sorted(os.listdir(store.dir)) == ["lock", "state.json"]


@pytest.mark.parametrize("text, reason", [
    ("{not json", "corrupt state file"),
    ("[]", "top level is not an object"),
    ('{"schema": 99, "networks": {}}', "has schema 99"),
    ('{"schema": 1, "networks": []}', "'networks' is not an object"),
    ('{"schema": 1, "networks": {"a": {"name": "b"}}}', "does not match its key"),
    ('{"schema": 1, "networks": {"a": {"name": "a"}}}', "lacks"),
    ('{"schema": 1, "networks": {"-x": {"name": "-x"}}}', "invalid network name"),
])
def test_corrupt_file_is_an_error_naming_the_file(tmp_path, text, reason):
    store = Store(tmp_path)
    store.path.write_text(text)
    with pytest.raises(StoreError, match=reason) as err:
        store.snapshot()
    assert str(store.path) in str(err.value)
    with pytest.raises(StoreError):
        with store.locked():
            pass
    assert store.path.read_text() == text  # never replaced


def test_unreadable_file_is_an_error(tmp_path):
    store = Store(tmp_path)
    store.path.mkdir()  # reading a directory fails with an OSError
    with pytest.raises(StoreError, match="cannot read"):
        store.snapshot()


def test_world_writable_state_dir_is_refused(tmp_path):
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    state_dir.chmod(0o777)
    with pytest.raises(StoreError, match="world-writable; refusing"):
        with Store(state_dir).locked():
            pass
    assert not (state_dir / "lock").exists()


@pytest.mark.parametrize("field, value, reason", [
    ("subnet", "not-a-subnet", "not-a-subnet"),
    ("gateway", "10.9.9.9", "outside"),
    ("allocations", [], "allocations and endpoints must be objects"),
])
def test_record_values_are_checked_on_load(tmp_path, field, value, reason):
    record = _net().to_dict() | {field: value}
    store = Store(tmp_path)
    store.path.write_text(json.dumps({"schema": 1, "networks": {"n1": record}}))
    with pytest.raises(StoreError, match=reason):
        store.snapshot()
