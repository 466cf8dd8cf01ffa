"""Containers are network namespaces: a name under /run/netns, a namespace file path, or a PID.

Resolving a target gives its namespace file, its identity (inode) and how to run `ip` inside it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from mydocker_net.errors import NotFound, ValidationError

NETNS_DIR = "/run/netns"
NETNS_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
NAME, PATH, PID = "name", "path", "pid"


@dataclass(frozen=True)
class Target:
    given: str   # normalised: the name, the absolute path, or the PID
    kind: str    # NAME, PATH or PID
    path: str    # the namespace file

    @property
    def ip(self) -> tuple[str, ...]:
        """The start of an `ip` command that runs inside this namespace."""
        if self.kind == NAME:
            return ("ip", "-n", self.given)
        return ("nsenter", f"--net={self.path}", "ip")

    @property
    def netns_ref(self) -> str:
        """What `ip link ... netns REF` accepts: a name, or a path (iproute2 opens it)."""
        return self.given if self.kind == NAME else self.path


def parse(text: str) -> Target:
    """Classify and validate without touching the filesystem."""
    if text.isdigit() and int(text) > 0:
        return Target(str(int(text)), PID, f"/proc/{int(text)}/ns/net")
    if "/" in text:
        path = os.path.abspath(text)
        return Target(path, PATH, path)
    if NETNS_NAME_RE.fullmatch(text or ""):
        return Target(text, NAME, f"{NETNS_DIR}/{text}")
    raise ValidationError(f"invalid target {text!r}: give a namespace name (ip netns), "
                          "a namespace file path, or a PID")


def identity(target: Target) -> str | None:
    """The namespace's inode as `net:[N]`, or None when the namespace file is gone."""
    try:
        st = os.stat(target.path)
    except OSError:
        return None
    return f"net:[{st.st_ino}]"


def resolve(text: str) -> tuple[Target, str]:
    """A target that must exist now: (target, identity)."""
    target = parse(text)
    ident = identity(target)
    if ident is None:
        where = {NAME: f"no {target.path} (see ip netns list)", PID: f"no process {target.given}",
                 PATH: f"no file {target.path}"}[target.kind]
        raise NotFound(f"target {text} not found: {where}")
    if os.stat(target.path).st_dev != os.stat("/proc/self/ns/net").st_dev:
        raise ValidationError(f"target {text}: {target.path} is not a namespace file")
    return target, ident
