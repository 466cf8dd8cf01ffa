"""mydocker-net: bridge networks for containers, built from real ip and iptables commands."""

__version__ = "0.1.0"
