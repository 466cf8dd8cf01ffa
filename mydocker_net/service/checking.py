"""doctor: the store against the kernel, and --fix."""

from __future__ import annotations

from dataclasses import dataclass

from mydocker_net import doctor, kernel
from mydocker_net.errors import MyDockerNetError
from mydocker_net.plan import Plan, execute
from mydocker_net.service.base import ServiceBase
from mydocker_net.store import State


@dataclass
class DoctorReport:
    checked: int                      # networks in the store
    problems: list[doctor.Problem]    # what the first look found
    remaining: list[doctor.Problem]   # what is still wrong (after --fix: what it could not mend)
    errors: dict[int, MyDockerNetError]  # problem index -> why its fix failed

    def fixed(self, index: int) -> bool:
        """After --fix: was problem `index` mended (its steps ran and a second look is clean)?"""
        problem = self.problems[index]
        still = {p.line() for p in self.remaining}
        return problem.fixable and index not in self.errors and problem.line() not in still


class DoctorOps(ServiceBase):

    def doctor(self, fix: bool = False) -> DoctorReport:
        """Compare store and kernel; with fix, make the kernel match the store."""
        if not fix:
            state = self.store.snapshot()
            problems = doctor.examine(state, kernel.snapshot(self.runner))
            return DoctorReport(len(state.networks), problems, problems, {})
        with self._state_for_change() as state:
            checked = len(state.networks)
            problems = doctor.examine(state, kernel.snapshot(self.runner))
            errors = self._mend(problems, state)
            if self.dry_run:  # nothing changed, so a second look would say the same
                remaining = [p for i, p in enumerate(problems) if not p.fixable or i in errors]
            else:
                remaining = doctor.examine(state, kernel.snapshot(self.runner))
        return DoctorReport(checked, problems, remaining, errors)

    def _mend(self, problems: list[doctor.Problem], state: State) -> dict[int, MyDockerNetError]:
        errors = {}
        for index, problem in enumerate(problems):
            try:
                execute(Plan(list(problem.steps)), self.runner)
            except MyDockerNetError as err:
                errors[index] = err
                continue
            if problem.forget:
                del state.networks[problem.network]
                self._save(state)
            elif problem.forget_endpoint is not None:
                net = state.networks[problem.network]
                self._forget_endpoint(net, net.endpoints[problem.forget_endpoint])
                self._save(state)
        return errors
