"""Use cases: validate, take the lock, plan, run the plan, commit the store.

Every change is write-ahead: the record is saved as `creating`/`removing` before the first kernel
command, and the store ends as if nothing had happened when a step fails.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

from mydocker_net import doctor, ipam, kernel, validate
from mydocker_net.drivers import bridge
from mydocker_net.errors import Conflict, MyDockerNetError, NotFound, UsageError
from mydocker_net.models import READY, REMOVING, Network
from mydocker_net.plan import Plan, execute
from mydocker_net.store import State, Store

log = logging.getLogger(__name__)

GATEWAY_OWNER = "gateway"


@dataclass
class CreateRequest:
    name: str
    driver: str = "bridge"
    subnet: str | None = None
    gateway: str | None = None
    internal: bool = False
    mtu: int | None = None


@dataclass
class DoctorReport:
    checked: int                      # networks in the store
    problems: list[doctor.Problem]    # what the first look found
    remaining: list[doctor.Problem]   # what is still wrong (after --fix: what it could not mend)
    errors: dict[int, MyDockerNetError]  # problem index -> why its fix failed


@dataclass
class Outcome:
    """What a multi-name command did: the names it handled and one error per failed name."""

    done: list
    errors: list[MyDockerNetError]


class Service:
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

    # ---- create -------------------------------------------------------------------------------

    def create(self, req: CreateRequest) -> Network:
        validate.network_name(req.name)
        validate.driver(req.driver)
        validate.mtu(req.mtu)
        subnet = self._requested_subnet(req)
        with self._state_for_change() as state:
            self._refuse_existing(req.name, state)
            if subnet is None:
                subnet = self._free_subnet(state)
            else:
                self._refuse_overlap(subnet, state)
            net = self._new_record(req, subnet)
            state.networks[net.name] = net
            self._save(state)  # write-ahead: status "creating"
            try:
                execute(bridge.plan_create(net, kernel.ip_forward_enabled(self.runner)), self.runner)
            except BaseException:
                del state.networks[net.name]
                self._save(state)
                raise
            net.status = READY
            self._save(state)
        return net

    def _requested_subnet(self, req: CreateRequest) -> ipaddress.IPv4Network | None:
        if req.subnet is None:
            if req.gateway is not None:
                raise UsageError("--gateway needs --subnet")
            return None
        subnet, normalised = validate.subnet(req.subnet)
        if normalised:
            self.warn(f"subnet {req.subnet} has host bits set; using {subnet}")
        if req.gateway is not None:
            validate.gateway(req.gateway, subnet)
        return subnet

    def _refuse_existing(self, name: str, state: State) -> None:
        existing = state.networks.get(name)
        if existing is not None and existing.status != READY:
            raise Conflict(f"network {name} already exists, left in status {existing.status!r} by an "
                           f"interrupted command: run 'mydocker-net network rm {name}' or "
                           "'mydocker-net doctor --fix'")
        if existing is not None:
            raise Conflict(f"network {name} already exists")
        if name in kernel.links(self.runner):
            raise Conflict(
                f"a link named {name} already exists and was not made by mydocker-net; "
                "refusing to adopt it"
            )

    def _refuse_overlap(self, subnet: ipaddress.IPv4Network, state: State) -> None:
        subnets = {n.name: ipaddress.IPv4Network(n.subnet) for n in state.networks.values()}
        clash = ipam.overlapping(subnet, subnets)
        if clash is not None:
            raise Conflict(
                f"subnet {subnet} overlaps network {clash} ({subnets[clash]}): "
                "pool overlaps with other one on this address space"
            )

    def _free_subnet(self, state: State) -> ipaddress.IPv4Network:
        taken = [ipaddress.IPv4Network(n.subnet) for n in state.networks.values()]
        taken += kernel.used_networks(self.runner)
        return ipam.pick_subnet(taken)

    @staticmethod
    def _new_record(req: CreateRequest, subnet: ipaddress.IPv4Network) -> Network:
        gateway = req.gateway or str(subnet.network_address + 1)
        pool = ipam.AddressPool(subnet)
        pool.reserve(gateway, GATEWAY_OWNER)
        return Network(
            name=req.name, driver=req.driver, subnet=str(subnet), gateway=gateway,
            bridge=req.name, internal=req.internal, mtu=req.mtu,
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            allocations=pool.allocations,
        )

    # ---- remove -------------------------------------------------------------------------------

    def remove(self, names: list[str], force: bool = False) -> Outcome:
        outcome = Outcome(done=[], errors=[])
        with self._state_for_change() as state:
            for name in names:
                try:
                    if self._remove_one(name, state, force):
                        outcome.done.append(name)
                except MyDockerNetError as err:
                    outcome.errors.append(err)
        return outcome

    def _remove_one(self, name: str, state: State, force: bool) -> bool:
        validate.network_name(name)
        net = state.networks.get(name)
        if net is None:
            if force:
                return False
            raise NotFound(f"network {name} not found")
        previous = net.status
        net.status = REMOVING
        self._save(state)  # write-ahead: status "removing"
        present = kernel.links(self.runner).get(net.bridge) == "bridge"
        try:
            execute(bridge.plan_remove(net, present), self.runner)
        except BaseException:
            net.status = previous
            self._save(state)
            raise
        del state.networks[name]
        self._save(state)
        return True

    # ---- doctor -------------------------------------------------------------------------------

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
        return errors

    # ---- read-only ----------------------------------------------------------------------------

    def list(self) -> list[Network]:
        return sorted(self.store.snapshot().networks.values(), key=lambda n: n.name)

    def inspect(self, names: list[str]) -> Outcome:
        networks = self.store.snapshot().networks
        outcome = Outcome(done=[], errors=[])
        for name in names:
            if name in networks:
                outcome.done.append(networks[name])
            else:
                outcome.errors.append(NotFound(f"network {name} not found"))
        return outcome
