"""A throwaway network + mount namespace for running the real CLI against a real kernel.

A `sleep` started under `unshare --net --mount --propagation private` holds the namespaces open;
every command enters them with `nsenter`, so nothing ever runs in the host's network namespace.
/run/netns is a private tmpfs inside, so named namespaces (`ip netns add`) vanish with the sandbox.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

SETUP = "mkdir -p /run/netns && mount -t tmpfs tmpfs /run/netns && ip link set lo up"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class SandboxError(RuntimeError):
    pass


class Sandbox:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.state_dir = workdir / "state"
        self.env = {"PATH": SYSTEM_PATH, "LC_ALL": "C"}
        self.proc = subprocess.Popen(
            ["unshare", "--net", "--mount", "--propagation", "private", "--",
             "sh", "-c", f"{SETUP} && echo ready && exec sleep infinity"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        if self.proc.stdout.readline().strip() != "ready":
            self.close()
            raise SandboxError(f"cannot make a namespace: {self.proc.stderr.read().strip()}")
        self._refuse_host_namespace()

    def _refuse_host_namespace(self) -> None:
        ours = os.readlink(f"/proc/{self.proc.pid}/ns/net")
        if ours == os.readlink("/proc/self/ns/net"):
            self.close()
            raise SandboxError("sandbox shares the host's network namespace; refusing to run")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()

    # ---- running things inside ------------------------------------------------------------------

    def run(self, *argv: str, check: bool = True, env: dict | None = None,
            input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = ["nsenter", "-t", str(self.proc.pid), "-n", "-m", "--", *argv]
        result = subprocess.run(cmd, capture_output=True, text=True, env=env or self.env,
                                input=input, timeout=timeout)
        if check and result.returncode != 0:
            raise SandboxError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr.strip()}")
        return result

    def cli_env(self, env: dict | None = None) -> dict:
        return {**self.env, "MYDOCKER_NET_STATE_DIR": str(self.state_dir), **(env or {})}

    def cli(self, *args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
        """The real CLI, as a user would run it, against this sandbox's kernel and state dir."""
        return self.run(sys.executable, "-m", "mydocker_net", *args, check=False,
                        env=self.cli_env(env), **kw)

    def spawn_cli(self, *args: str, env: dict | None = None) -> subprocess.Popen:
        """The CLI started in the background; nsenter execs it, so the Popen's pid is the CLI's."""
        return subprocess.Popen(
            ["nsenter", "-t", str(self.proc.pid), "-n", "-m", "--",
             sys.executable, "-m", "mydocker_net", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.cli_env(env))

    def json(self, *argv: str):
        return json.loads(self.run(*argv).stdout or "null")

    # ---- what the kernel says -------------------------------------------------------------------

    def links(self) -> dict[str, dict]:
        return {link["ifname"]: link for link in self.json("ip", "-j", "-d", "link", "show")}

    def addresses(self, dev: str) -> list[str]:
        data = self.json("ip", "-j", "addr", "show", "dev", dev)
        return [f"{a['local']}/{a['prefixlen']}" for link in data for a in link["addr_info"]
                if a["family"] == "inet"]

    def nat_rules(self) -> list[str]:
        return self.rules("nat")

    def rules(self, table: str) -> list[str]:
        out = self.run("iptables", "-w", "-t", table, "-S").stdout
        return [line for line in out.splitlines() if line.startswith("-A")]

    def sysctl(self, key: str) -> str:
        return self.run("sysctl", "-n", key).stdout.strip()

    def kernel_state(self) -> dict:
        """Everything a network command may change, in a form that compares across namespaces."""
        links = {}
        for name, link in self.links().items():
            links[name] = {
                "kind": (link.get("linkinfo") or {}).get("info_kind", ""),
                "up": "UP" in link.get("flags", []),
                "mtu": link.get("mtu"),
                "addresses": sorted(self.addresses(name)),
            }
        return {"links": links, "nat": sorted(self.nat_rules()), "filter": sorted(self.rules("filter")),
                "ip_forward": self.sysctl("net.ipv4.ip_forward")}

    def raw_state(self) -> dict:
        """`ip -j link`, `ip -j addr`, `iptables-save -t nat` as they are, for exact comparisons."""
        tables = {}
        for table in ("nat", "filter"):
            save = self.run("iptables-save", "-t", table).stdout.splitlines()
            tables[table] = sorted(line.split(" [")[0] for line in save if not line.startswith("#"))
        return {"link": _steady(self.json("ip", "-j", "link")),
                "addr": _steady(self.json("ip", "-j", "addr")), **tables}

    def netns_state(self, name: str) -> dict:
        """What connect changes inside a named namespace."""
        return {what: _steady(self.json("ip", "-n", name, "-j", what, "show"))
                for what in ("link", "addr", "route")}

    def state_files(self) -> dict[str, str]:
        if not self.state_dir.exists():
            return {}
        return {p.name: p.read_text() for p in sorted(self.state_dir.iterdir())}


# Fields the kernel moves on its own time: a bridge's operstate settles after its ports come and
# go, and an IPv6 link-local address is "tentative" until duplicate detection ends.
VOLATILE = {"operstate", "tentative", "valid_life_time", "preferred_life_time"}


def _steady(entries: list) -> list:
    result = []
    for entry in entries:
        entry = {k: v for k, v in entry.items() if k not in VOLATILE}
        if "addr_info" in entry:
            entry["addr_info"] = [{k: v for k, v in a.items() if k not in VOLATILE}
                                  for a in entry["addr_info"]]
        result.append(entry)
    return result


def fake_tool(bindir: Path, tool: str, pattern: str, action: str) -> None:
    """Put a `tool` first on PATH that does `action` when its arguments contain the words of
    `pattern` (a `*` in it stands for any text), and otherwise runs the real one."""
    real = shutil.which(tool, path=SYSTEM_PATH)
    glob = '"*"'.join(pattern.split("*"))
    script = bindir / tool
    script.write_text(
        "#!/bin/sh\n"
        f'case " $* " in *" {glob} "*) {action} ;; esac\n'
        f'exec {real} "$@"\n'
    )
    script.chmod(0o755)


FAIL = 'echo "injected failure" >&2; exit 7'
