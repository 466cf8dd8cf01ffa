"""The batch runner: what goes to one process, the batch text, and rollback from the failing line."""

import pytest

from mydocker_net import batch
from mydocker_net.commands import ip, iptables
from mydocker_net.drivers import bridge
from mydocker_net.errors import CommandFailed
from mydocker_net.plan import Plan, Step
from mydocker_net.runner import DryRunRunner, ShRunner
from tests.unit.conftest import fake_processes

NS = ("ip", "-n", "c1")


class BatchKernel:
    """Fakes `ip -batch -`, `iptables-save` and `iptables-restore` for ShRunner._spawn."""

    def __init__(self, ip_fail_line=None, restore_fails=False, present=()):
        self.ip_fail_line = ip_fail_line
        self.restore_fails = restore_fails
        self.rules = set(present)  # {(table, spec)}
        self.calls = []

    def __call__(self, cmd, stdin=None):
        self.calls.append((cmd.argv, stdin))
        if cmd.argv[-2:] == ("-batch", "-"):
            lines = stdin.splitlines()
            if self.ip_fail_line and self.ip_fail_line <= len(lines):
                return 1, "", f"RTNETLINK answers: File exists\nCommand failed -:{self.ip_fail_line}\n"
            return 0, "", ""
        if cmd.argv == ("iptables-save",):
            text = "".join(f"*{t}\n{' '.join(s)}\nCOMMIT\n" for t, s in sorted(self.rules))
            return 0, text, ""
        if cmd.argv[0] == "iptables-restore":
            if self.restore_fails:
                return 1, "", "iptables-restore: line 3 failed"
            table = None
            for line in stdin.splitlines():
                if line.startswith("*"):
                    table = line[1:]
                elif line.startswith(("-A", "-I")):
                    self.rules.add((table, ("-A",) + tuple(w.strip('"') for w in line.split()[1:])))
            return 0, "", ""
        return 0, "", ""  # undos and single commands


@pytest.fixture
def kernel(mocker):
    return fake_processes(mocker, BatchKernel())


def masq(n):
    return iptables.masquerade(f"10.{n}.0.0/24", f"b{n}", f"b{n}")


def plan_for(count):
    steps = [Step(ip.bridge_add(f"b{n}"), undo=(ip.link_del(f"b{n}"),)) for n in range(count)]
    steps += [Step(ip.addr_add("10.1.0.2/24", "eth0", NS)), Step(ip.link_up("eth0", NS))]
    steps += [bridge.add_rule(masq(n)) for n in range(count)]
    return Plan(steps)


def test_groups_follow_channels_in_order():
    groups = batch.groups(plan_for(3))
    assert [(g.key, len(g.steps)) for g in groups] == [(("ip",), 3), (NS, 2), (("iptables",), 3)]
    nsenter = ("nsenter", "--net=/proc/7/ns/net", "ip")
    assert batch.ip_prefix((*nsenter, "link", "show")) == nsenter
    assert batch.ip_prefix(("sysctl", "-w", "x=1")) is None


def test_batch_texts():
    steps = plan_for(2).steps
    assert batch.ip_batch_text(("ip",), steps[:2]) == (
        "link add name b0 type bridge\nlink add name b1 type bridge\n")
    assert batch.ip_batch_text(NS, steps[2:4]) == (
        "addr add 10.1.0.2/24 dev eth0\nlink set dev eth0 up\n")
    text = batch.restore_text(steps[4:] + [bridge.add_rule(iptables.forward_from_bridge("b0", "b0"))])
    assert text == (
        "*nat\n"
        "-A POSTROUTING -s 10.0.0.0/24 ! -o b0 -m comment --comment mydocker-net:b0 -j MASQUERADE\n"
        "-A POSTROUTING -s 10.1.0.0/24 ! -o b1 -m comment --comment mydocker-net:b1 -j MASQUERADE\n"
        "COMMIT\n"
        "*filter\n-I FORWARD -i b0 -m comment --comment mydocker-net:b0 -j ACCEPT\nCOMMIT\n")


def test_a_plan_runs_in_one_process_per_group(kernel):
    batch.execute_batched(plan_for(50), ShRunner())
    argvs = [argv for argv, _ in kernel.calls]
    assert argvs == [("ip", "-batch", "-"), ("ip", "-n", "c1", "-batch", "-"), ("iptables-save",),
                     ("iptables-restore", "--noflush", "-w")]
    assert kernel.calls[0][1].count("\n") == 50 and len(kernel.rules) == 50


def test_rules_already_there_are_not_added_again(kernel):
    kernel.rules = {("nat", masq(0).spec()), ("nat", masq(2).spec())}
    batch.execute_batched(plan_for(3), ShRunner())
    restore_input = kernel.calls[-1][1]
    assert "b1" in restore_input and "b0" not in restore_input and "b2" not in restore_input


@pytest.mark.parametrize("line", [1, 2, 3])
def test_failed_ip_batch_undoes_the_lines_before_it(kernel, line):
    kernel.ip_fail_line = line
    with pytest.raises(CommandFailed) as err:
        batch.execute_batched(plan_for(3), ShRunner())
    assert err.value.argv == ("ip", "link", "add", "name", f"b{line - 1}", "type", "bridge")
    assert "File exists" in str(err.value)
    undone = [argv for argv, _ in kernel.calls[1:]]
    assert undone == [("ip", "link", "del", "dev", f"b{n}") for n in reversed(range(line - 1))]


def test_failed_restore_rolls_back_everything_done(kernel):
    kernel.restore_fails = True
    with pytest.raises(CommandFailed):
        batch.execute_batched(plan_for(2), ShRunner())
    undone = [argv for argv, _ in kernel.calls[5:]]  # after: ip batch, ns batch, save, restore, save
    assert undone == [("ip", "link", "del", "dev", "b1"), ("ip", "link", "del", "dev", "b0")]


def test_restore_that_partly_applied_undoes_what_took_effect(kernel, mocker):
    original = kernel.__call__
    partial = {"done": False}

    def half(cmd, stdin=None):
        if cmd.argv[0] == "iptables-restore":  # the first rule lands, then it fails
            kernel.rules.add(("nat", masq(0).spec()))
            kernel.calls.append((cmd.argv, stdin))
            partial["done"] = True
            return 1, "", "iptables-restore: line 3 failed"
        return original(cmd, stdin)

    mocker.patch.object(ShRunner, "_spawn", side_effect=half)
    with pytest.raises(CommandFailed) as err:
        batch.execute_batched(plan_for(2), ShRunner())
    assert err.value.argv == masq(1).add().argv
    undone = [argv for argv, _ in kernel.calls[5:]]
    assert undone[0] == masq(0).delete().argv


def test_dry_run_prints_one_command_per_line(capsys):
    import io
    out = io.StringIO()
    batch.execute_batched(plan_for(2), DryRunRunner(reader=None, out=out))
    lines = out.getvalue().splitlines()
    assert lines[0] == "ip link add name b0 type bridge"
    assert lines[2] == "ip -n c1 addr add 10.1.0.2/24 dev eth0"
    assert lines[-1].startswith("iptables -w -t nat -C POSTROUTING -s 10.1.0.0/24")
    assert len(lines) == 6
