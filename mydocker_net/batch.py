"""Batched execution of a plan: consecutive `ip` steps of one namespace go to one `ip -batch -`
process, consecutive iptables steps to one `iptables-restore --noflush -w` (their -C checks
answered from one `iptables-save` read), anything else runs alone.

A failed batch still rolls back exactly what was done: iproute2 stops at the first failing line
and names it ("Command failed -:N"), and for iptables the table is read again to see which rules
took effect. Dry-run runners print one command per line as before (see plan.execute).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from mydocker_net.errors import CommandFailed, MyDockerNetError
from mydocker_net.plan import Cmd, Plan, Step, execute, rollback

IP_FAILED_LINE = re.compile(r"Command failed -:(\d+)")
IPTABLES = "iptables"


def ip_prefix(argv: tuple[str, ...]) -> tuple[str, ...] | None:
    """The part of an `ip` command that says where it runs: ('ip',), ('ip', '-n', NS) or
    ('nsenter', '--net=PATH', 'ip'); None for other commands."""
    if argv[:2] == ("ip", "-n"):
        return argv[:3]
    if argv[0] == "ip":
        return argv[:1]
    if argv[0] == "nsenter" and len(argv) > 2 and argv[2] == "ip":
        return argv[:3]
    return None


def channel(step: Step) -> tuple[str, ...] | None:
    """Steps of one channel may share a process."""
    if step.do.argv[0] == IPTABLES:
        return (IPTABLES,)
    if step.skip_if is None and step.only_if is None:
        return ip_prefix(step.do.argv)
    return None


@dataclass
class Group:
    key: tuple[str, ...] | None
    steps: list[Step] = field(default_factory=list)


def groups(plan: Plan) -> list[Group]:
    result: list[Group] = []
    for step in plan:
        key = channel(step)
        if key is None or not result or result[-1].key != key:
            result.append(Group(key))
        result[-1].steps.append(step)
    return result


class BatchFailed(MyDockerNetError):
    def __init__(self, cause: MyDockerNetError, done: list[Step]):
        super().__init__(str(cause))
        self.cause = cause
        self.done = done


def execute_batched(plan: Plan, runner) -> None:
    """Like plan.execute, a process per group instead of per step. Dry-run runs step by step."""
    if not getattr(runner, "batches", False):
        execute(plan, runner)
        return
    done: list[Step] = []
    try:
        for group in groups(plan):
            done += _run_group(group, runner)
    except BatchFailed as failed:
        rollback(done + failed.done, runner)
        raise failed.cause from None
    except BaseException:
        rollback(done, runner)
        raise


def _run_group(group: Group, runner) -> list[Step]:
    if group.key is None:
        return [step for step in group.steps if runner.run_step(step)]
    if group.key == (IPTABLES,):
        return _run_iptables(group.steps, runner)
    return _run_ip(group.key, group.steps, runner)


# ---- ip -batch -----------------------------------------------------------------------------------

def ip_batch_text(prefix: tuple[str, ...], steps: list[Step]) -> str:
    return "".join(shlex.join(step.do.argv[len(prefix):]) + "\n" for step in steps)


def _run_ip(prefix: tuple[str, ...], steps: list[Step], runner) -> list[Step]:
    if len(steps) == 1:
        runner.run(steps[0].do)
        return steps
    try:
        runner.run(Cmd((*prefix, "-batch", "-")), stdin=ip_batch_text(prefix, steps))
    except CommandFailed as err:
        found = IP_FAILED_LINE.search(err.stderr)
        failed_at = int(found.group(1)) if found else 1
        step = steps[failed_at - 1] if failed_at <= len(steps) else steps[-1]
        detail = err.stderr.replace(found.group(0), "").strip() if found else err.stderr
        raise BatchFailed(CommandFailed(step.do.argv, err.returncode, detail),
                          steps[:failed_at - 1]) from None
    return steps


# ---- iptables-restore ----------------------------------------------------------------------------

def rule_of(cmd: Cmd) -> tuple[str, str, tuple[str, ...]]:
    """('nat', '-A', ('-A', 'POSTROUTING', ...)) from `iptables -w -t nat -A POSTROUTING ...`:
    the table, the action, and the rule as iptables-save prints it."""
    argv = cmd.argv
    table = argv[argv.index("-t") + 1]
    action_at = argv.index("-t") + 2
    return table, argv[action_at], ("-A", *argv[action_at + 1:])


def saved_rules(text: str) -> set[tuple[str, tuple[str, ...]]]:
    """{(table, rule)} from iptables-save output."""
    rules, table = set(), ""
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith("-A "):
            rules.add((table, tuple(shlex.split(line))))
    return rules


def _restore_word(word: str) -> str:
    # iptables-restore splits on blanks and understands double quotes, not the shell's '!'
    return f'"{word}"' if not word or any(c in word for c in ' \t"\'') else word


def restore_text(steps: list[Step]) -> str:
    by_table: dict[str, list[str]] = {}
    for step in steps:
        argv = step.do.argv
        at = argv.index("-t") + 2
        by_table.setdefault(argv[at - 1], []).append(" ".join(_restore_word(w) for w in argv[at:]))
    return "".join(f"*{table}\n" + "".join(f"{line}\n" for line in lines) + "COMMIT\n"
                   for table, lines in by_table.items())


def _needed(step: Step, present: set) -> bool:
    table, action, rule = rule_of(step.do)
    here = (table, rule) in present
    if step.skip_if is not None and here:
        return False
    if step.only_if is not None and not here:
        return False
    return True


def _took_effect(step: Step, before: set, after: set) -> bool:
    table, action, rule = rule_of(step.do)
    if action == "-D":
        return (table, rule) in before and (table, rule) not in after
    return (table, rule) in after and (table, rule) not in before


def _run_iptables(steps: list[Step], runner) -> list[Step]:
    save = Cmd(("iptables-save",))
    before = saved_rules(runner.read(save))
    todo = [step for step in steps if _needed(step, before)]
    if not todo:
        return []
    try:
        runner.run(Cmd(("iptables-restore", "--noflush", "-w")), stdin=restore_text(todo))
    except CommandFailed as err:
        after = saved_rules(runner.read(save))
        done = [step for step in todo if _took_effect(step, before, after)]
        failed = next((s for s in todo if s not in done), todo[0])
        raise BatchFailed(CommandFailed(failed.do.argv, err.returncode, err.stderr), done) from None
    return todo
