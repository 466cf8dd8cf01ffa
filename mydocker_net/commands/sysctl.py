"""Builders for sysctl."""

from mydocker_net.plan import Cmd

IP_FORWARD = "net.ipv4.ip_forward"


def read(key: str) -> Cmd:
    return Cmd(("sysctl", "-n", key))


def enable(key: str) -> Cmd:
    return Cmd(("sysctl", "-w", f"{key}=1"))
