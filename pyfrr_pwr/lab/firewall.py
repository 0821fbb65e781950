"""nftables rules for who may reach a router's ospfd API and agent.

ospfd's API server (TCP 2607) has no authentication and, in FRR 8.4.4,
listens on 0.0.0.0: whoever reaches it can register an opaque type and
inject LSAs "from" the router. The agents' reservation signalling (TCP 2700
by default, ``agent.signal_port``) is meant for the other agents of the
routing domain only. The policy, per router:

* 2607: only from the router itself (``iif lo``: every locally generated
  packet, to 127.0.0.1 or to one of the router's own addresses, arrives on
  lo). ospfd's connection back to the client's port P+1 is to an ephemeral
  port, untouched.
* 2700: from the router itself, and from the routing domain: a source
  address in the domain's prefixes (router IDs / loopbacks and the
  addresses of the inter-router links; in IPv6 the routers' SRv6 locators
  and the inter-router links' IPv6 prefixes) arriving on an interface that
  faces another router. A host behind a router, even one spoofing a domain
  address, is refused: it arrives on a host-facing interface.
* forwarded TCP to those ports of a domain address is held to the same
  rule, so a router does not carry a host's connection to another router's
  2607 or, from a host-facing interface, to its 2700.
* everything else to those ports is dropped and counted (named counters
  ``api_dropped``, ``signal_dropped``, ``transit_dropped``).

The rules live in their own table (``inet pyfrr_pwr``), replaced as a whole
on every load, with policy accept: they drop only what they name, never
traffic to other ports, and leave any other table alone.

``ruleset`` is pure (text from what the node must admit); ``apply`` loads
it in a lab node's namespace with ``nft -f -``. frr-config/pyfrr-pwr.nft is
the same policy for a real router.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pyfrr_pwr.files.topology import FRR_CONF_TARGET
from pyfrr_pwr.lab.addressing import SID_DEVICE, ipv6_addresses
from pyfrr_pwr.lab.common import LabError

__all__ = ["API_PORT", "SIGNAL_PORT", "TABLE", "Admission", "ruleset", "lab_admissions", "apply", "counters", "nft_available"]

API_PORT = 2607
SIGNAL_PORT = 2700
PROBE_PORT = 8870  # agent.probe: UDP delay probes between neighbours (issue 9)
EXPORTER_PORT = 9469  # agent.exporter: Prometheus /metrics, no authentication
TABLE = "pyfrr_pwr"
COUNTERS = ("api_dropped", "signal_dropped", "transit_dropped", "probe_dropped", "exporter_dropped")
_IFNAME = re.compile(r"^[A-Za-z0-9_.:@+-]{1,15}$")


@dataclass(frozen=True)
class Admission:
    """What one router must admit: the routing domain's prefixes and the
    interfaces on which other routers of the domain are reached."""

    node: str
    domain4: tuple = ()
    domain_ifaces: tuple = ()
    domain6: tuple = ()
    api_port: int = API_PORT
    signal_port: int = SIGNAL_PORT
    probe_port: int = PROBE_PORT  # cats.probe.port (issue 9)
    exporter_port: int = EXPORTER_PORT  # agent.exporter.address's port
    monitor4: tuple = ()  # who may scrape the exporter besides the node (none in a lab)
    monitor6: tuple = ()


def _nets(prefixes, version: int) -> list[str]:
    nets = []
    for p in prefixes:
        n = ipaddress.ip_network(str(p), strict=False)
        if n.version != version:
            raise ValueError(f"{p}: not an IPv{version} prefix")
        nets.append(n)
    return [str(n.network_address) if n.prefixlen == n.max_prefixlen else str(n) for n in ipaddress.collapse_addresses(nets)]


def _set(name: str, typ: str, elems: list[str], interval: bool) -> list[str]:
    out = [f"\tset {name} {{", f"\t\ttype {typ}"]
    if interval:
        out.append("\t\tflags interval")
    if elems:
        out.append(f"\t\telements = {{ {', '.join(elems)} }}")
    return [*out, "\t}"]


def ruleset(adm: Admission, table: str = TABLE) -> str:
    """The nftables ruleset (``nft -f`` text) enforcing the policy above for
    one node. Loading it replaces table ``inet TABLE`` and nothing else."""
    for p in (adm.api_port, adm.signal_port, adm.probe_port, adm.exporter_port):
        if not (isinstance(p, int) and 0 < p < 65536):
            raise ValueError(f"{adm.node}: bad port {p!r}")
    if adm.api_port == adm.signal_port:
        raise ValueError(f"{adm.node}: the agent's signal port {adm.signal_port} is ospfd's API port")
    if adm.exporter_port in (adm.api_port, adm.signal_port):
        raise ValueError(f"{adm.node}: the exporter's port {adm.exporter_port} is ospfd's API or the signal port")
    for i in adm.domain_ifaces:
        if not _IFNAME.match(i):
            raise ValueError(f"{adm.node}: bad interface name {i!r}")
    d4, d6 = _nets(adm.domain4, 4), _nets(adm.domain6, 6)
    ifs = [f'"{i}"' for i in sorted(set(adm.domain_ifaces))]
    api, sig, prb, exp = adm.api_port, adm.signal_port, adm.probe_port, adm.exporter_port
    m4, m6 = _nets(adm.monitor4, 4), _nets(adm.monitor6, 6)
    lines = [
        f"# pyfrr-pwr on {adm.node}: ospfd's API (tcp {api}) only from this node, the agents'",
        f"# signalling (tcp {sig}) only from the routing domain. Generated by pyfrr_pwr.lab.firewall.",
        f"table inet {table}",
        f"delete table inet {table}",
        f"table inet {table} {{",
        "\tcounter api_dropped {",
        f'\t\tcomment "tcp {api} (ospfd API) not from this node"',
        "\t}",
        "\tcounter signal_dropped {",
        f'\t\tcomment "tcp {sig} (agent signalling) not from the routing domain"',
        "\t}",
        "\tcounter transit_dropped {",
        f'\t\tcomment "forwarded tcp {api}/{sig}/{exp} or udp {prb} to a domain address, refused"',
        "\t}",
        "\tcounter probe_dropped {",
        f'\t\tcomment "udp {prb} (delay probes) not from a neighbour"',
        "\t}",
        "\tcounter exporter_dropped {",
        f'\t\tcomment "tcp {exp} (Prometheus exporter) not from this node or the monitoring server"',
        "\t}",
        *_set("domain4", "ipv4_addr", d4, True),
        *_set("domain6", "ipv6_addr", d6, True),
        *_set("domain_ifaces", "ifname", ifs, False),
        *_set("monitor4", "ipv4_addr", m4, True),
        *_set("monitor6", "ipv6_addr", m6, True),
        "\tchain input {",
        "\t\ttype filter hook input priority filter; policy accept;",
        f'\t\tiif "lo" tcp dport {{ {api}, {sig} }} accept',
        f'\t\ttcp dport {api} counter name "api_dropped" drop',
        f"\t\ttcp dport {sig} iifname @domain_ifaces ip saddr @domain4 accept",
        f"\t\ttcp dport {sig} iifname @domain_ifaces ip6 saddr @domain6 accept",
        f'\t\ttcp dport {sig} counter name "signal_dropped" drop',
        f'\t\tiif "lo" udp dport {prb} accept',
        f"\t\tudp dport {prb} iifname @domain_ifaces ip saddr @domain4 accept",
        f"\t\tudp dport {prb} iifname @domain_ifaces ip6 saddr @domain6 accept",
        f'\t\tudp dport {prb} counter name "probe_dropped" drop',
        f'\t\tiif "lo" tcp dport {exp} accept',
        f"\t\ttcp dport {exp} ip saddr @monitor4 accept",
        f"\t\ttcp dport {exp} ip6 saddr @monitor6 accept",
        f'\t\ttcp dport {exp} counter name "exporter_dropped" drop',
        "\t}",
        "\tchain forward {",
        "\t\ttype filter hook forward priority filter; policy accept;",
        f'\t\tip daddr @domain4 tcp dport {api} counter name "transit_dropped" drop',
        f'\t\tip6 daddr @domain6 tcp dport {api} counter name "transit_dropped" drop',
        f"\t\tip daddr @domain4 tcp dport {sig} iifname @domain_ifaces ip saddr @domain4 accept",
        f"\t\tip6 daddr @domain6 tcp dport {sig} iifname @domain_ifaces ip6 saddr @domain6 accept",
        f'\t\tip daddr @domain4 tcp dport {sig} counter name "transit_dropped" drop',
        f'\t\tip6 daddr @domain6 tcp dport {sig} counter name "transit_dropped" drop',
        f'\t\tip daddr @domain4 udp dport {prb} counter name "transit_dropped" drop',
        f'\t\tip6 daddr @domain6 udp dport {prb} counter name "transit_dropped" drop',
        f"\t\tip daddr @domain4 tcp dport {exp} ip saddr @monitor4 accept",
        f"\t\tip6 daddr @domain6 tcp dport {exp} ip6 saddr @monitor6 accept",
        f'\t\tip daddr @domain4 tcp dport {exp} counter name "transit_dropped" drop',
        f'\t\tip6 daddr @domain6 tcp dport {exp} counter name "transit_dropped" drop',
        "\t}",
        "}",
    ]
    return "\n".join(lines) + "\n"


def lab_admissions(topo, ospf_nodes, signal_ports: dict | None = None, ipv6: dict | None = None) -> dict:
    """{node: Admission} for the OSPF routers of a lab topology. The routing
    domain is the lab's own: every router's ID and loopback addresses and
    the prefixes of the links between two of its routers (a link to a host
    node is not in it); a router's domain interfaces are its ends of those
    links. Addresses come from the routers' frr.conf. IPv6 the same
    (``domain6``): the routers' locators (``sr0``'s prefix), loopback IPv6
    addresses and the IPv6 prefixes of their inter-router links; ``ipv6``
    is {node: {ifname: [IPv6Interface]}} (``addressing.ipv6_addresses``),
    read from each router's bound frr.conf when not given."""
    ospf_nodes = set(ospf_nodes)
    signal_ports = signal_ports or {}
    if ipv6 is None:
        ipv6 = {}
        for name in ospf_nodes:
            conf = topo.routers[name].files.get(FRR_CONF_TARGET)
            ipv6[name] = ipv6_addresses(conf) if conf is not None and Path(conf).is_file() else {}
    d4: set = set()
    d6: set = set()
    for name in ospf_nodes:
        v6 = ipv6.get(name) or {}
        for a in v6.get(SID_DEVICE, []):
            d6.add(a.network)
        for a in v6.get("lo", []):
            d6.add(ipaddress.ip_network(f"{a.ip}/128"))
    ifaces: dict = {n: set() for n in ospf_nodes}
    for name in ospf_nodes:
        r = topo.routers[name]
        if r.router_id:
            d4.add(ipaddress.ip_network(f"{r.router_id}/32"))
        lo = r.interfaces.get("lo")
        if lo is not None and lo.address is not None:
            d4.add(ipaddress.ip_network(f"{lo.address.ip}/32"))
    for link in topo.links:
        (a, ai), (b, bi) = link.a, link.b
        if a not in ospf_nodes or b not in ospf_nodes:
            continue
        for node, ifn in ((a, ai), (b, bi)):
            ifaces[node].add(ifn)
            i = topo.routers[node].interfaces.get(ifn)
            if i is not None and i.address is not None:
                d4.add(i.address.network)
            for a in (ipv6.get(node) or {}).get(ifn, []):
                if not a.ip.is_link_local:
                    d6.add(a.network)
    dom = tuple(str(n) for n in sorted(d4))
    dom6 = tuple(str(n) for n in sorted(d6))
    return {n: Admission(n, dom, tuple(sorted(ifaces[n])), dom6, signal_port=signal_ports.get(n, SIGNAL_PORT)) for n in sorted(ospf_nodes)}


def nft_available() -> bool:
    return shutil.which("nft") is not None


def apply(ns: str, text: str) -> None:
    """Load a ruleset in network namespace ``ns`` (atomically: nft applies a
    file as one transaction)."""
    if not nft_available():
        raise LabError("nft not found: the lab firewalls ospfd's API with nftables (apt-get install nftables), or start the lab with firewall=False")
    r = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=text, capture_output=True, text=True)
    if r.returncode:
        raise LabError(f"{ns}: nft refused the firewall rules: {r.stderr.strip()[:400]}")


def counters(ns: str, table: str = TABLE) -> dict:
    """{counter name: packets} of the lab firewall in ``ns`` ({} if none)."""
    r = subprocess.run(["ip", "netns", "exec", ns, "nft", "-j", "list", "counters", "table", "inet", table], capture_output=True, text=True)
    if r.returncode:
        return {}
    out = {}
    for o in json.loads(r.stdout or "{}").get("nftables", []):
        c = o.get("counter")
        if c:
            out[c["name"]] = c.get("packets", 0)
    return out
