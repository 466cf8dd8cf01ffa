#!/bin/sh
# The main job, in a throwaway network namespace: run by `make demo` under
#   unshare --net --mount --propagation private
# so nothing here can touch the host's own network.
set -eu
MYDOCKER_NET=${MYDOCKER_NET:-.venv/bin/mydocker-net}
MYDOCKER_NET_STATE_DIR=$(mktemp -d /tmp/mydocker-net-demo.XXXXXX)
export MYDOCKER_NET_STATE_DIR
trap 'rm -rf "$MYDOCKER_NET_STATE_DIR"' EXIT

# OUTER_NETNS: the namespace make was started in (set by the Makefile before unshare)
if [ -z "${OUTER_NETNS:-}" ] || [ "$(readlink /proc/self/ns/net)" = "$OUTER_NETNS" ]; then
  echo "demo: refusing to run in the host's network namespace (use make demo)" >&2
  exit 1
fi
ip link set lo up
mkdir -p /run/netns && mount -t tmpfs tmpfs /run/netns   # private: named namespaces die with us

step() { printf '\n$ %s\n' "$*"; "$@"; }

echo "# mydocker-net demo in a throwaway network namespace; state in $MYDOCKER_NET_STATE_DIR"
step "$MYDOCKER_NET" --dry-run network create --driver bridge --subnet 192.168.10.1/24 testbridge
step "$MYDOCKER_NET" network create --driver bridge --subnet 192.168.10.1/24 testbridge
step "$MYDOCKER_NET" network create --internal backend
step ip netns add c1
step ip netns add c2
step "$MYDOCKER_NET" network connect --publish 8080:80 testbridge c1
step "$MYDOCKER_NET" network connect testbridge c2
step "$MYDOCKER_NET" network list
step "$MYDOCKER_NET" network inspect testbridge
step ip -br addr show type bridge
step ip -n c1 -br addr
step ip -n c1 route
step ip netns exec c1 ping -c 2 -W 2 192.168.10.3
step iptables -w -t nat -S
step iptables -w -S FORWARD
step sysctl net.ipv4.ip_forward
step "$MYDOCKER_NET" doctor
step "$MYDOCKER_NET" network create --driver bridge --subnet 192.168.10.0/24 testbridge || true
step "$MYDOCKER_NET" network remove testbridge || true
step "$MYDOCKER_NET" network disconnect testbridge c1
step "$MYDOCKER_NET" network remove --force testbridge backend
step "$MYDOCKER_NET" network list
step ip -br link
step iptables -w -t nat -S
step iptables -w -S FORWARD
echo
echo "# demo done: the namespace and everything in it go away now"
