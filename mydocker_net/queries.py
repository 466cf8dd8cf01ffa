"""Read-only questions answered from a store snapshot: no lock, no kernel, nothing heavy imported
(`network list` and `inspect` start in a fraction of what importing `sh` costs)."""

from __future__ import annotations

from dataclasses import dataclass

from mydocker_net.errors import MyDockerNetError, NotFound
from mydocker_net.models import Network
from mydocker_net.store import Store


@dataclass
class Outcome:
    """What a multi-name command did: the names it handled and one error per failed name."""

    done: list
    errors: list[MyDockerNetError]


def list_networks(store: Store) -> list[Network]:
    return sorted(store.snapshot().networks.values(), key=lambda n: n.name)


def inspect(store: Store, names: list[str]) -> Outcome:
    networks = store.snapshot().networks
    outcome = Outcome(done=[], errors=[])
    for name in names:
        if name in networks:
            outcome.done.append(networks[name])
        else:
            outcome.errors.append(NotFound(f"network {name} not found"))
    return outcome
