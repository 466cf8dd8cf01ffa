from mydocker_net.commands import ip, iptables, sysctl


def test_bridge_add_without_and_with_mtu():
    assert ip.bridge_add("br0").argv == ("ip", "link", "add", "name", "br0", "type", "bridge")
    assert ip.bridge_add("br0", 1400).argv == (
        "ip", "link", "add", "name", "br0", "mtu", "1400", "type", "bridge")


def test_link_and_addr_builders():
    assert ip.link_del("br0").argv == ("ip", "link", "del", "dev", "br0")
    assert ip.link_up("br0").argv == ("ip", "link", "set", "dev", "br0", "up")
    assert ip.link_down("br0").argv == ("ip", "link", "set", "dev", "br0", "down")
    assert ip.addr_add("10.1.0.1/24", "br0").argv == ("ip", "addr", "add", "10.1.0.1/24", "dev", "br0")
    assert ip.addr_del("10.1.0.1/24", "br0").argv == ("ip", "addr", "del", "10.1.0.1/24", "dev", "br0")


def test_masquerade_one_builder_for_append_check_delete():
    rule = ("-s", "192.168.10.0/24", "!", "-o", "tb", "-m", "comment", "--comment",
            "mydocker-net:tb", "-j", "MASQUERADE")
    for action in ("-A", "-C", "-D"):
        assert iptables.masquerade("192.168.10.0/24", "tb", "tb", action).argv == (
            "iptables", "-w", "-t", "nat", action, "POSTROUTING", *rule)


def test_sysctl_builders():
    assert sysctl.read("net.ipv4.ip_forward").argv == ("sysctl", "-n", "net.ipv4.ip_forward")
    assert sysctl.enable("net.ipv4.ip_forward").argv == ("sysctl", "-w", "net.ipv4.ip_forward=1")


def test_cmd_str_is_shell_quoted():
    assert str(iptables.masquerade("10.0.0.0/24", "b", "b", "-A")).count("'!'") == 1
