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


TAG = ("-m", "comment", "--comment", "mydocker-net:tb")


def test_masquerade_one_builder_for_append_check_delete():
    rule = ("-s", "192.168.10.0/24", "!", "-o", "tb", *TAG, "-j", "MASQUERADE")
    masq = iptables.masquerade("192.168.10.0/24", "tb", "tb")
    for cmd, action in ((masq.add(), "-A"), (masq.check(), "-C"), (masq.delete(), "-D")):
        assert cmd.argv == ("iptables", "-w", "-t", "nat", action, "POSTROUTING", *rule)
    assert masq.spec() == ("-A", "POSTROUTING", *rule)


def test_forward_rules_are_inserted_and_spec_reads_as_iptables_S():
    out = iptables.forward_from_bridge("tb", "tb")
    assert out.add().argv == ("iptables", "-w", "-t", "filter", "-I", "FORWARD", "-i", "tb", *TAG,
                              "-j", "ACCEPT")
    assert out.spec() == ("-A", "FORWARD", "-i", "tb", *TAG, "-j", "ACCEPT")
    back = iptables.forward_replies("tb", "tb")
    assert back.match == ("-o", "tb", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", *TAG,
                          "-j", "ACCEPT")
    assert iptables.forward_within_bridge("tb", "tb").match[:4] == ("-i", "tb", "-o", "tb")


def test_published_port_rules():
    dnat_in = iptables.dnat_incoming("tcp", 8080, "10.1.0.2", 80, "tb")
    assert dnat_in.add().argv == (
        "iptables", "-w", "-t", "nat", "-A", "PREROUTING", "-p", "tcp", "-m", "addrtype",
        "--dst-type", "LOCAL", "-m", "tcp", "--dport", "8080", *TAG, "-j", "DNAT",
        "--to-destination", "10.1.0.2:80")
    dnat_out = iptables.dnat_local("udp", 53, "10.1.0.2", 5353, "tb")
    assert dnat_out.chain == "OUTPUT" and dnat_out.match[:3] == ("!", "-d", "127.0.0.0/8")
    assert dnat_out.match[-1] == "10.1.0.2:5353" and "udp" in dnat_out.match
    fwd = iptables.forward_published("tcp", "10.1.0.2", 80, "tb", "tb")
    assert fwd.add().argv[4:] == ("-I", "FORWARD", "-d", "10.1.0.2/32", "!", "-i", "tb", "-o", "tb",
                                  "-p", "tcp", "-m", "tcp", "--dport", "80", *TAG, "-j", "ACCEPT")


def test_rule_round_trips_through_the_store_form_and_iptables_S():
    rule = iptables.forward_published("tcp", "10.1.0.2", 80, "tb", "tb")
    assert iptables.Rule.from_list(rule.to_list()) == rule
    assert iptables.Rule.from_spec("filter", rule.spec()).delete() == rule.delete()
    assert iptables.tag_of(rule.spec()) == "tb"
    assert iptables.tag_of(("-A", "X", "-m", "comment", "--comment", "docker")) is None


def test_veth_and_namespace_builders():
    assert ip.veth_add("mdn1", "eth0", "c1").argv == (
        "ip", "link", "add", "name", "mdn1", "type", "veth", "peer", "name", "eth0", "netns", "c1")
    assert ip.link_master("mdn1", "tb").argv == ("ip", "link", "set", "dev", "mdn1", "master", "tb")
    ns = ("ip", "-n", "c1")
    assert ip.addr_add("10.1.0.2/24", "eth0", ns).argv == (
        "ip", "-n", "c1", "addr", "add", "10.1.0.2/24", "dev", "eth0")
    path_ns = ("nsenter", "--net=/proc/7/ns/net", "ip")
    assert ip.route_add_default("10.1.0.1", "eth0", path_ns).argv == (
        "nsenter", "--net=/proc/7/ns/net", "ip", "route", "add", "default", "via", "10.1.0.1",
        "dev", "eth0")


def test_sysctl_builders():
    assert sysctl.read("net.ipv4.ip_forward").argv == ("sysctl", "-n", "net.ipv4.ip_forward")
    assert sysctl.enable("net.ipv4.ip_forward").argv == ("sysctl", "-w", "net.ipv4.ip_forward=1")


def test_cmd_str_is_shell_quoted():
    assert str(iptables.masquerade("10.0.0.0/24", "b", "b").add()).count("'!'") == 1
