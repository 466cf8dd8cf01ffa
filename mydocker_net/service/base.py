"""What every use case shares: the store, the runner, the lock and the write."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

from mydocker_net.models import REMOVING
from mydocker_net.plan import Plan, execute
from mydocker_net.store import State, Store

log = logging.getLogger("mydocker_net.service")

GATEWAY_OWNER = "gateway"


class ServiceBase:
    """The store, the runner and the two things every use case does with them."""

    def __init__(self, store: Store, runner, dry_run: bool = False,
                 warn: Callable[[str], None] = log.warning):
        self.store = store
        self.runner = runner
        self.dry_run = dry_run
        self.warn = warn

    @contextlib.contextmanager
    def _state_for_change(self) -> Iterator[State]:
        """The locked state for a real change; an unlocked snapshot for a dry-run (never saved)."""
        if self.dry_run:
            yield self.store.snapshot()
        else:
            with self.store.locked() as state:
                yield state

    def _save(self, state: State) -> None:
        if not self.dry_run:
            self.store.save(state)

    def _take_away(self, record, plan: Plan, state: State) -> None:
        """Run a removal plan write-ahead: the record says `removing` while the kernel work runs,
        and says what it said before if a step fails (the plan has rolled itself back)."""
        previous = record.status
        record.status = REMOVING
        self._save(state)
        try:
            execute(plan, self.runner)
        except BaseException:
            record.status = previous
            self._save(state)
            raise


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
