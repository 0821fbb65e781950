"""The routers-and-hosts rig of the real-kernel data-plane tests: network
namespaces, veth links with IPv4 /24 and IPv6 /64 addresses, and a host
behind each edge router with its default route (no FRR daemons)."""

import subprocess


def _sh(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def wire(ns: dict, links, addr, hosts) -> None:
    """``ns``: {node: namespace name}; ``links``: (router, ifname, peer,
    peer ifname, link number); ``addr(node, link)`` -> (IPv4, IPv6);
    ``hosts``: (host, router, gateway IPv4, host /24's first three octets),
    the host's eth0 facing the router's h<router>."""

    def ip(n, *args):
        _sh("ip", "-n", ns[n], *args)

    for name in ns.values():
        _sh("ip", "netns", "add", name)
        _sh("ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0")
        _sh("ip", "-n", name, "link", "set", "dev", "lo", "up")
    for l in links:
        u, ui, v, vi, _ = l
        _sh("ip", "link", "add", "name", ui, "netns", ns[u], "type", "veth", "peer", "name", vi, "netns", ns[v])
        for n, i in ((u, ui), (v, vi)):
            a4, a6 = addr(n, l)
            ip(n, "addr", "add", f"{a4}/24", "dev", i)
            ip(n, "addr", "add", f"{a6}/64", "dev", i)
            ip(n, "link", "set", "dev", i, "up")
    for host, r, gw, net in hosts:
        _sh("ip", "link", "add", "name", "eth0", "netns", ns[host], "type", "veth", "peer", "name", f"h{r}", "netns", ns[r])
        ip(host, "addr", "add", f"{net}.2/24", "dev", "eth0")
        ip(r, "addr", "add", f"{gw}/24", "dev", f"h{r}")
        ip(host, "link", "set", "dev", "eth0", "up")
        ip(r, "link", "set", "dev", f"h{r}", "up")
        ip(host, "route", "add", "default", "via", gw)
