"""Commands as data, steps with undos, and the executor that rolls back on failure."""

from __future__ import annotations

import logging
import shlex
from dataclasses import dataclass, field

from mydocker_net.errors import MyDockerNetError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cmd:
    """One external command as an argument tuple; never a string to split."""

    argv: tuple[str, ...]

    def __post_init__(self):
        object.__setattr__(self, "argv", tuple(self.argv))

    def __str__(self) -> str:
        return shlex.join(self.argv)


@dataclass(frozen=True)
class Step:
    """A change to the kernel and how to take it back.

    skip_if: when this command succeeds, the change is already there and `do` is skipped.
    only_if: `do` runs only when this command succeeds (e.g. delete a rule that is present).
    A skipped step is not undone on rollback: it changed nothing.
    """

    do: Cmd
    undo: tuple[Cmd, ...] = ()
    skip_if: Cmd | None = None
    only_if: Cmd | None = None
    describe: str = ""


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)

    def __post_init__(self):
        self.steps = list(self.steps)

    def add(self, step: Step) -> None:
        self.steps.append(step)

    def __iter__(self):
        return iter(self.steps)

    def __len__(self):
        return len(self.steps)


def execute(plan: Plan, runner) -> None:
    """Run every step; on failure undo the done ones in reverse, then re-raise."""
    done: list[Step] = []
    for step in plan:
        try:
            changed = runner.run_step(step)
        except BaseException:  # an error, or Ctrl-C / SIGTERM mid-plan: leave nothing half-made
            rollback(done, runner)
            raise
        if changed:
            done.append(step)


def rollback(done: list[Step], runner) -> None:
    """Best-effort: every undo is tried even when an earlier one fails."""
    for step in reversed(done):
        for cmd in step.undo:
            log.info("rollback: %s", cmd)
            try:
                runner.run(cmd)
            except MyDockerNetError as err:
                log.warning("rollback: %s", err)
