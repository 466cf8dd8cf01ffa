"""`make bench`: figures measured side by side in one run, inside a throwaway network namespace.

Run as root under `unshare --net --mount --propagation private` (the Makefile does). Every timed
run gets a fresh network namespace of its own (`unshare --net`) and a fresh state dir; figures
are medians of RUNS runs. Nothing here asserts: it prints.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
N = 100
CLI = [sys.executable, "-m", "mydocker_net"]
CNI_DIR = "/usr/lib/cni"
WORK = tempfile.mkdtemp(prefix="mydocker-net-bench-")


def sh(script: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True,
                            env={**os.environ, **(env or {})})
    if check and result.returncode != 0:
        raise SystemExit(f"bench: {script[:80]}...: {result.stderr.strip()}")
    return result


def fresh_state() -> str:
    path = tempfile.mkdtemp(dir=WORK)
    return os.path.join(path, "state")


def timed(script: str, env: dict | None = None, setup: str = "") -> float:
    """Wall time of `script` run in a fresh network namespace (setup runs there first, untimed)."""
    marker = os.path.join(WORK, "t")
    wrapped = (f"ip link set lo up; {setup}\n"
               f"s=$(date +%s.%N); {script}\nrc=$?; e=$(date +%s.%N); echo \"$s $e\" > {marker}; exit $rc")
    sh(f"unshare --net sh -ec {shlex_quote(wrapped)}", env)
    start, end = open(marker).read().split()
    return float(end) - float(start)


def shlex_quote(text: str) -> str:
    import shlex
    return shlex.quote(text)


def median(func, runs: int = RUNS) -> float:
    return statistics.median(func() for _ in range(runs))


def cli(*args: str) -> str:
    import shlex
    return shlex.join([*CLI, *args])


def networks_doc(count: int, prefix: str = "n") -> dict:
    return {"networks": [{"name": f"{prefix}{i}", "subnet": f"10.{100 + i // 250}.{i % 250}.0/24"}
                         for i in range(count)]}


def write_json(data: dict) -> str:
    fd, path = tempfile.mkstemp(dir=WORK, suffix=".json")
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
    return path


def row(label: str, seconds: float, base: float | None = None, base_label: str = "") -> None:
    ratio = f"{seconds / base:6.2f}x {base_label}" if base else ""
    print(f"  {label:<52} {seconds * 1000:9.1f} ms  {ratio}")


# ---- 1. apply of 100 networks -------------------------------------------------------------------

def bench_networks() -> None:
    print(f"\n1. {N} networks: apply vs a raw shell loop of the same commands vs {N} single creates")
    doc = write_json(networks_doc(N))
    def creates(state: str) -> str:
        return "\n".join(cli("--state-dir", state, "-q", "network", "create", "--subnet",
                              n["subnet"], n["name"]) for n in networks_doc(N)["networks"])

    # the raw loop: the very commands the tool runs, one process each, as its dry-run prints them
    loop = sh(creates(fresh_state()).replace(" -q ", " -q --dry-run ")).stdout
    sysctl = "sysctl -w net.ipv4.ip_forward=1\n"
    loop = sysctl + loop.replace(sysctl, "")  # each dry-run saw forwarding off; the loop needs it once
    loop_file = os.path.join(WORK, "loop.sh")
    with open(loop_file, "w") as handle:
        handle.write(loop)

    def apply_once():
        return timed(f"{cli('apply', '-q', '-f', doc)}", {"MYDOCKER_NET_STATE_DIR": fresh_state()})

    def reapply_once():
        return timed(f"{cli('apply', '-q', '-f', doc)}", {"MYDOCKER_NET_STATE_DIR": (s := fresh_state())},
                     setup=cli("--state-dir", s, "apply", "-q", "-f", doc))

    apply = median(apply_once)
    raw = median(lambda: timed(f"sh -e {loop_file} >/dev/null 2>&1"))
    singles = median(lambda: timed(creates(fresh_state())), runs=min(RUNS, 3))
    again = median(reapply_once)
    startup = median(lambda: timed(cli("network", "ls", "--format", "json") + " >/dev/null",
                                   {"MYDOCKER_NET_STATE_DIR": fresh_state()}), runs=5)
    row(f"apply -f ({N} networks)", apply)
    row("raw shell loop, one process per command", raw, apply, "of apply's time")
    row(f"{N} single 'network create' calls", singles, apply, "of apply's time")
    row("apply again (no-op)", again, startup, "of one start-up (list --format json)")
    print(f"  -> apply / raw loop = {apply / raw:.2f} (target <= 1), "
          f"apply / singles = {apply / singles:.3f} (target <= 0.1)")


# ---- 2. connecting 100 namespaces ---------------------------------------------------------------

def make_namespaces(count: int) -> str:
    return "".join(f"ip netns del c{i} 2>/dev/null || true; ip netns add c{i}\n" for i in range(count))


def bench_connect() -> None:
    print(f"\n2. connecting {N} namespaces to one network: apply vs single connects vs CNI bridge")
    base = {"networks": [{"name": "big", "subnet": "10.60.0.0/16"}]}
    doc = write_json(base | {"endpoints": [{"network": "big", "target": f"c{i}"} for i in range(N)]})
    only_net = write_json(base)

    def apply_once():
        state = fresh_state()
        return timed(cli("apply", "-q", "-f", doc), {"MYDOCKER_NET_STATE_DIR": state},
                     setup=make_namespaces(N) + cli("--state-dir", state, "apply", "-q", "-f", only_net))

    def singles_once():
        state = fresh_state()
        calls = "\n".join(cli("-q", "network", "connect", "big", f"c{i}") for i in range(N))
        return timed(calls, {"MYDOCKER_NET_STATE_DIR": state},
                     setup=make_namespaces(N) + cli("--state-dir", state, "apply", "-q", "-f", only_net))

    apply = median(apply_once)
    singles = median(singles_once, runs=min(RUNS, 3))
    row(f"apply -f ({N} endpoints)", apply)
    row(f"{N} single 'network connect' calls", singles, apply, "of apply's time")
    if os.path.exists(f"{CNI_DIR}/bridge"):
        cni = median(lambda: cni_once(N))
        row(f"{N} CNI bridge ADDs (host-local IPAM)", cni, apply, "of apply's time")
        print(f"  -> apply / CNI = {apply / cni:.2f} (target < 1)")
    else:
        print(f"  (CNI bridge plugin not installed: apt-get install containernetworking-plugins)")
    sh(make_namespaces(0) + "".join(f"ip netns del c{i} 2>/dev/null || true\n" for i in range(N)),
       check=False)


def cni_once(count: int) -> float:
    data_dir = tempfile.mkdtemp(dir=WORK)
    conf = json.dumps({"cniVersion": "1.0.0", "name": "big", "type": "bridge", "bridge": "big",
                       "isGateway": True, "ipMasq": True,
                       "ipam": {"type": "host-local", "subnet": "10.60.0.0/16",
                                "dataDir": data_dir, "routes": [{"dst": "0.0.0.0/0"}]}})
    conf_file = os.path.join(WORK, "cni.json")
    with open(conf_file, "w") as handle:
        handle.write(conf)
    adds = "".join(
        f"CNI_COMMAND=ADD CNI_CONTAINERID=c{i} CNI_NETNS=/run/netns/c{i} CNI_IFNAME=eth0 "
        f"CNI_PATH={CNI_DIR} {CNI_DIR}/bridge < {conf_file} >/dev/null\n" for i in range(count))
    return timed(adds, setup=make_namespaces(count))


# ---- 3. single-call latency ---------------------------------------------------------------------

def bench_latency() -> None:
    print("\n3. single calls vs the runtime's floor (python -c 'import sh')")
    floor = median(lambda: timed(f"{sys.executable} -c 'import sh'"), runs=7)
    list_json = median(lambda: timed(cli("network", "ls", "--format", "json") + " >/dev/null",
                                     {"MYDOCKER_NET_STATE_DIR": fresh_state()}), runs=7)
    create_remove = median(lambda: timed(
        cli("-q", "network", "create", "--subnet", "10.70.0.0/24", "one") + "\n"
        + cli("-q", "network", "rm", "one"), {"MYDOCKER_NET_STATE_DIR": fresh_state()}), runs=5)

    def connect_disconnect():
        state = fresh_state()
        return timed(cli("-q", "network", "connect", "one", "c0") + "\n"
                     + cli("-q", "network", "disconnect", "one", "c0"), {"MYDOCKER_NET_STATE_DIR": state},
                     setup=make_namespaces(1) + cli("--state-dir", state, "-q", "network", "create",
                                                    "--subnet", "10.70.0.0/24", "one"))
    conn = median(connect_disconnect, runs=5)
    row("python -c 'import sh'", floor)
    row("network ls --format json", list_json, floor, "of import sh (target < 0.8)")
    row("network create + network rm", create_remove, floor, "of import sh")
    row("network connect + network disconnect", conn, floor, "of import sh")


# ---- 4. IPAM --------------------------------------------------------------------------------------

def bench_ipam() -> None:
    from mydocker_net.ipam import AddressPool

    print("\n4. IPAM: allocate/release per operation and stored bytes per allocation")
    for subnet, count in (("10.0.0.0/24", 250), ("10.0.0.0/16", 60_000), ("10.0.0.0/8", 100_000)):
        pool = AddressPool(subnet)
        pool.reserve(subnet.split("/")[0][:-1] + "1", "gateway")
        for i in range(count - 1):
            pool.allocate({"target": f"c{i}", "ifname": "eth0"})
        victims = list(pool.allocations)[1::max(1, count // 200)][:100]
        start = time.perf_counter()
        for addr in victims:
            pool.release(addr)
        release = (time.perf_counter() - start) / len(victims)
        start = time.perf_counter()
        for i in range(len(victims)):
            pool.allocate({"target": f"again{i}", "ifname": "eth0"})
        allocate = (time.perf_counter() - start) / len(victims)
        per = len(json.dumps(pool.allocations)) / len(pool.allocations)
        print(f"  {subnet:<14} {count:>7} in use: allocate {allocate * 1e6:7.1f} us, "
              f"release {release * 1e6:7.1f} us, {per:5.1f} bytes/allocation")
    state = fresh_state()
    small = median(lambda: timed(cli("-q", "network", "create", "--subnet", "10.80.0.0/24", "s"),
                                 {"MYDOCKER_NET_STATE_DIR": fresh_state()}), runs=5)
    big = median(lambda: timed(cli("-q", "network", "create", "--subnet", "11.0.0.0/8", "b"),
                               {"MYDOCKER_NET_STATE_DIR": fresh_state()}), runs=5)
    row("network create, a /24", small)
    row("network create, a /8", big, small, "of the /24 (target <= 1.5)")
    doc = write_json(networks_doc(N))
    timed(cli("apply", "-q", "-f", doc), {"MYDOCKER_NET_STATE_DIR": state})
    size = os.path.getsize(os.path.join(state, "state.json"))
    print(f"  state.json with {N} networks: {size} bytes, {size / N:.0f} bytes per network (target < 1024)")


# ---- 5. list and doctor over 1,000 networks ------------------------------------------------------

def bench_thousand() -> None:
    count = 1000
    print(f"\n5. list and doctor over {count:,} networks")
    doc = write_json(networks_doc(count, prefix="k"))
    marker = os.path.join(WORK, "debug.log")
    results = {}

    def once(args):
        state = fresh_state()
        return timed(cli(*args) + f" >/dev/null 2>{marker}", {"MYDOCKER_NET_STATE_DIR": state},
                     setup=cli("--state-dir", state, "apply", "-q", "-f", doc))

    for label, args in (("network ls", ["network", "ls"]),
                        ("network ls --format json", ["network", "ls", "--format", "json"]),
                        ("doctor", ["--log-level", "debug", "doctor"])):
        results[label] = median(lambda: once(args), runs=3)
    spawned = sum(1 for line in open(marker) if ": DEBUG: run: " in line)
    for label, seconds in results.items():
        row(label, seconds)
    print(f"  doctor spawned {spawned} processes for {count:,} networks (constant: one per read)")


def main() -> None:
    outer = os.environ.get("OUTER_NETNS", "")
    if os.geteuid() != 0 or not outer or os.readlink("/proc/self/ns/net") == outer:
        raise SystemExit("bench: run me as root in a throwaway namespace: make bench")
    sh("mkdir -p /run/netns && mount -t tmpfs tmpfs /run/netns")
    print(f"mydocker-net bench: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"{RUNS} runs per figure (median), {time.strftime('%Y-%m-%d')}")
    try:
        parts = (bench_networks, bench_connect, bench_latency, bench_ipam, bench_thousand)
        only = os.environ.get("BENCH_ONLY")  # e.g. BENCH_ONLY=2,4
        for number, part in enumerate(parts, 1):
            if not only or str(number) in only.split(","):
                part()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
