"""IPv6 in a lab node (issue 7): its addresses and SRv6 locator, read from
the node's frr.conf, and the always-up device that holds the locator.

The locator comes from the topology, not from a rule here: a router's
frr.conf holds it as the address of ``interface sr0`` (``ipv6 address
LOC::1/48``; tools/gen_topologies.py writes
``pyfrr_pwr.dataplane.sids.default_locator(router ID)``). The lab makes
``sr0`` before FRR starts (``setup_sid_device``: a veth pair kept up, as
these kernels have no dummy devices, with that address and the SRv6
sysctls), so zebra finds the address it is configured with and ospf6d
advertises the /48 from its first hello. A node whose frr.conf has no
``interface sr0`` address gets no device and no SRv6 sysctls.

``ipv6_routes`` reads a node's kernel IPv6 routes (netlink, no vtysh:
cheaper on a loaded machine), which is what ``Readiness.wait_locators``
polls until every router's locator is routed in every other router.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import subprocess
from pathlib import Path

from pyroute2 import IPRoute

from pyfrr_pwr.dataplane.netlink import Netlink, NetlinkError
from pyfrr_pwr.lab.common import LabError

__all__ = ["SID_DEVICE", "ipv6_addresses", "sid_address", "setup_sid_device", "ipv6_routes"]

SID_DEVICE = "sr0"

_IFACE = re.compile(r"^interface\s+(\S+)")
_ADDR6 = re.compile(r"^\s+ipv6 address\s+(\S+)")


def ipv6_addresses(path: Path | str) -> dict:
    """{ifname: [IPv6Interface, ...]} from the ``interface`` stanzas of an
    frr.conf (``ipv6 address P/L`` lines); a bad address is a LabError
    naming file and line."""
    out: dict = {}
    cur = None
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as exc:
        raise LabError(f"{path}: cannot read: {exc.strerror}") from None
    for no, line in enumerate(text.splitlines(), 1):
        s = line.rstrip()
        if m := _IFACE.match(s):
            cur = m.group(1)
            continue
        if not s or not s[0].isspace():
            cur = None  # `exit`, `!`, or the next top-level statement
            continue
        if cur is not None and (m := _ADDR6.match(s)):
            try:
                a = ipaddress.IPv6Interface(m.group(1))
            except ValueError:
                raise LabError(f"{path}:{no}: interface {cur}: ipv6 address {m.group(1)[:60]!r} is not X:X::X:X/M") from None
            out.setdefault(cur, []).append(a)
    return out


def sid_address(addresses: dict, device: str = SID_DEVICE) -> ipaddress.IPv6Interface | None:
    """The locator address (LOC::1/48) of the always-up device, if any."""
    for a in addresses.get(device, []):
        if not a.ip.is_link_local:
            return a
    return None


def setup_sid_device(ns: str, address: ipaddress.IPv6Interface, device: str = SID_DEVICE) -> None:
    """In namespace ``ns``: the always-up device with ``address`` on it,
    the SRv6 sysctls (seg6_enabled on every interface there is and on
    later ones, IPv6 forwarding, keep_addr_on_down, and the failover ones:
    ignore_routes_with_linkdown, L4 multipath hash), and the SRv6 tunnel
    source (``ip sr tunsrc``) set to the address. Call after the links
    are in the namespace."""
    try:
        with Netlink(netns=ns) as nl:
            nl.ensure_sid_device(str(address.ip), address.network.prefixlen, device)
            nl.enable_seg6()
    except NetlinkError as exc:
        raise LabError(f"{ns}: {device}: {exc}") from None
    r = subprocess.run(["ip", "netns", "exec", ns, "ip", "sr", "tunsrc", "set", str(address.ip)], capture_output=True, text=True)
    if r.returncode:
        raise LabError(f"{ns}: ip sr tunsrc set {address.ip}: {r.stderr.strip()[:200]}")


def ipv6_routes(ns: str) -> set:
    """{IPv6Network} of the unicast routes in namespace ``ns``'s main table."""
    out = set()
    with IPRoute(netns=ns) as ip:
        for r in ip.get_routes(family=socket.AF_INET6, table=254):
            if r["type"] != 1:  # RTN_UNICAST (not local, multicast...)
                continue
            dst = r.get_attr("RTA_DST")
            if dst:
                out.add(ipaddress.IPv6Network(f"{dst}/{r['dst_len']}", strict=False))
    return out
