"""Does this process hold what changing the network needs?"""

CAP_NET_ADMIN = 12


def has_net_admin(status_path: str = "/proc/self/status") -> bool:
    try:
        with open(status_path) as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> CAP_NET_ADMIN & 1)
    except OSError:
        pass
    return False
