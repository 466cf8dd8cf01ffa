"""The JSON state on disk: one file, one lock, atomic writes, loud on corruption.

Layout of the state dir (default /var/lib/mydocker-net):
  state.json  {"schema": 1, "networks": {NAME: {...record...}}}   0644
  lock        flock(2) target guarding every read-modify-write      0600
One file rather than one per network: a create or remove changes the network record and its
IPAM allocations together, and a single os.replace makes that change all-or-nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mydocker_net import validate
from mydocker_net.errors import StoreError, ValidationError
from mydocker_net.models import Network

SCHEMA_VERSION = 1
DEFAULT_STATE_DIR = "/var/lib/mydocker-net"
STATE_FILE = "state.json"
LOCK_FILE = "lock"
DIR_MODE, FILE_MODE, LOCK_MODE = 0o755, 0o644, 0o600


@dataclass
class State:
    networks: dict[str, Network] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA_VERSION,
            "networks": {name: net.to_dict() for name, net in sorted(self.networks.items())},
        }


class Store:
    def __init__(self, state_dir: str | os.PathLike):
        self.dir = Path(state_dir)
        self.path = self.dir / STATE_FILE
        self.lock_path = self.dir / LOCK_FILE

    def snapshot(self) -> State:
        """Read without locking: writes are atomic renames, so this is always a consistent state."""
        return self._load()

    @contextlib.contextmanager
    def locked(self) -> Iterator[State]:
        """Hold the exclusive lock from the first read to the last write of an operation."""
        self._ensure_dir()
        fd = self._open_lock()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield self._load()
        finally:
            os.close(fd)  # closing releases the flock; the kernel does it too if we are killed

    def save(self, state: State) -> None:
        """Write atomically: temp file in the same dir, fsync, rename, fsync the dir."""
        data = json.dumps(state.to_dict(), indent=1, sort_keys=True) + "\n"
        import tempfile  # noqa: PLC0415 - only writers pay for it

        try:
            fd, tmp = tempfile.mkstemp(prefix=".state.", suffix=".tmp", dir=self.dir)
            try:
                with os.fdopen(fd, "w") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fchmod(handle.fileno(), FILE_MODE)
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            self._fsync_dir()
        except OSError as err:
            raise StoreError(f"cannot write {self.path}: {err.strerror or err}") from None

    def _load(self) -> State:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return State()
        except OSError as err:
            raise StoreError(f"cannot read {self.path}: {err.strerror or err}") from None
        except UnicodeDecodeError:
            raise StoreError(f"corrupt state file {self.path}: not UTF-8 text") from None
        return parse_state(text, self.path)

    def _ensure_dir(self) -> None:
        try:
            self.dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            mode = self.dir.stat().st_mode
        except OSError as err:
            raise StoreError(f"cannot create state dir {self.dir}: {err.strerror or err}") from None
        if mode & stat.S_IWOTH:
            # anyone could swap state.json and steer what root runs: refuse rather than trust it
            raise StoreError(f"state dir {self.dir} is world-writable; refusing to use it "
                             f"(chmod o-w {self.dir})")

    def _open_lock(self) -> int:
        try:
            return os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, LOCK_MODE)
        except OSError as err:
            raise StoreError(f"cannot open lock file {self.lock_path}: {err.strerror or err}") from None

    def _fsync_dir(self) -> None:
        fd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def parse_state(text: str, path: Path) -> State:
    """Turn the file's text into a State, or a StoreError naming the file and the reason."""
    try:
        data = json.loads(text)
    except ValueError as err:
        raise StoreError(f"corrupt state file {path}: {err}") from None
    if not isinstance(data, dict):
        raise StoreError(f"corrupt state file {path}: top level is not an object")
    if data.get("schema") != SCHEMA_VERSION:
        raise StoreError(
            f"state file {path} has schema {data.get('schema')!r}; this version reads {SCHEMA_VERSION}"
        )
    networks = data.get("networks")
    if not isinstance(networks, dict):
        raise StoreError(f"corrupt state file {path}: 'networks' is not an object")
    state = State()
    for name, record in networks.items():
        try:
            if not isinstance(record, dict) or record.get("name") != name:
                raise ValueError("record does not match its key")
            validate.network_name(name)
            state.networks[name] = Network.from_dict(record)
        except (TypeError, ValueError, ValidationError) as err:
            raise StoreError(f"corrupt state file {path}: network {name!r}: {err}") from None
    return state
