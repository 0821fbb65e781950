"""The agent's SRv6 SID plan, from what it knows (issue 7; pure, no I/O).

``plan`` turns the agent's state into a ``dataplane.sids.SidPlan``: the
router ID (the locator, ``fd00:RRRR:RRRR::/48`` unless configured), one
End.X adjacency per link with an IPv4 local address and a known global
IPv6 address of the neighbour, and one End.DX4 prefix per IPv4 prefix the
router serves as a TE tail-end. What it cannot plan (a link without a
neighbour IPv6 address, a bad setting) is returned as a problem, not
raised, and the rest is planned.

Where the inputs come from (``agent.srv6`` shell reads them from netlink):

* Neighbour IPv6 addresses: the agent's setting ``neighbors`` {ifname:
  address} wins; else a global address in the kernel's IPv6 neighbour
  table on that link, inside one of our own prefixes on it; else, on a
  point-to-point link numbered ``P::1`` / ``P::2`` (the labs' addressing,
  ``tools/gen_topologies.py``) or a /127, the other address
  (``neighbour_ipv6``).
* Tail-end prefixes: the setting ``prefixes`` [{prefix, nh4[, ifname]}]
  wins; else, if the router is a TE tail-end (power.yml ``te_endpoint``),
  every connected IPv4 prefix of an interface that is neither an OSPF/PWR
  port nor the SID device (``attached_prefixes``): the attached hosts. Its
  End.DX4 next hop is the host for a /32, the other address for a /31
  (or /30), else 0.0.0.0, on which Linux's End.DX4 routes the inner packet
  by its own destination (seg6_local.c: ``nh4 ?: daddr``).

Settings: ``cfg.agent["srv6"]`` if present (a dict; power.yml's schema
does not carry it yet), else the defaults of ``Srv6Settings``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from pyfrr_pwr.dataplane import sids

__all__ = ["Srv6Settings", "settings", "neighbour_ipv6", "attached_prefixes", "plan", "PlanResult"]

_KEYS = {"enabled", "locator", "block", "sid_dev", "neighbors", "prefixes", "auto_prefixes", "enable_sysctls", "period"}


@dataclass(frozen=True)
class Srv6Settings:
    enabled: bool = True
    locator: str | None = None  # None: derived from the router ID (sids.default_locator)
    block: str = sids.BLOCK
    sid_dev: str = "sr0"
    neighbors: dict = field(default_factory=dict)  # ifname -> neighbour's global IPv6 address
    prefixes: tuple = ()  # Dx4Prefix: overrides auto_prefixes when given
    auto_prefixes: bool = True  # tail-end: serve the attached IPv4 prefixes
    enable_sysctls: bool = True  # set the seg6 sysctls of our ports at start
    period: float = 1.0  # s between checks for link events and address changes


def settings(d: dict | None) -> Srv6Settings:
    """``cfg.agent["srv6"]`` checked; SidError naming ``agent.srv6.<key>``."""
    if d is None:
        return Srv6Settings()
    if not isinstance(d, dict):
        raise sids.SidError(f"agent.srv6: expected a mapping, got {type(d).__name__}")
    extra = set(d) - _KEYS
    if extra:
        raise sids.SidError(f"agent.srv6: unknown key(s) {sorted(extra)}; known: {sorted(_KEYS)}")
    kw: dict = {}
    for k in ("enabled", "auto_prefixes", "enable_sysctls"):
        if k in d:
            if not isinstance(d[k], bool):
                raise sids.SidError(f"agent.srv6.{k}: expected true or false, got {d[k]!r}")
            kw[k] = d[k]
    if d.get("locator") is not None:
        kw["locator"] = str(sids.parse_locator(d["locator"]))
    if "block" in d:
        sids.default_locator("10.0.0.1", d["block"])  # checks it
        kw["block"] = d["block"]
    if "sid_dev" in d:
        kw["sid_dev"] = sids._ifname(d["sid_dev"], "agent.srv6.sid_dev")
    if "period" in d:
        p = d["period"]
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.05 <= p <= 60:
            raise sids.SidError(f"agent.srv6.period: {p!r} must be 0.05..60 s")
        kw["period"] = float(p)
    nb = d.get("neighbors", {}) or {}
    if not isinstance(nb, dict):
        raise sids.SidError("agent.srv6.neighbors: expected {ifname: IPv6 address}")
    checked = {}
    for ifn, a in nb.items():
        try:
            checked[ifn] = sids.Adjacency(ifn, a, "0.0.0.1").nh6
        except sids.SidError as exc:
            raise sids.SidError(f"agent.srv6.neighbors.{ifn}: {exc}") from None
    kw["neighbors"] = checked
    ps = d.get("prefixes", ()) or ()
    if not isinstance(ps, (list, tuple)):
        raise sids.SidError("agent.srv6.prefixes: expected a list of {prefix, nh4[, ifname]}")
    out = []
    for i, p in enumerate(ps):
        try:
            out.append(p if isinstance(p, sids.Dx4Prefix) else sids.Dx4Prefix(**p))
        except (TypeError, sids.SidError) as exc:
            raise sids.SidError(f"agent.srv6.prefixes[{i}]: {exc}") from None
    kw["prefixes"] = tuple(out)
    return Srv6Settings(**kw)


def neighbour_ipv6(own: list, neighbours: list = ()) -> str | None:
    """The neighbour's global IPv6 address on a point-to-point link, from
    our own addresses on it (``"P::1/64"`` strings or IPv6Interface) and
    the global addresses in the kernel's neighbour table on it. None if it
    cannot be told."""
    ours = []
    for a in own:
        try:
            i = ipaddress.IPv6Interface(a)
        except ValueError:
            continue
        if i.ip.is_link_local or i.ip.is_multicast or i.ip.is_loopback:
            continue
        ours.append(i)
    mine = {i.ip for i in ours}
    for n in neighbours:
        try:
            a = ipaddress.IPv6Address(n)
        except ValueError:
            continue
        if a in mine or a.is_link_local or a.is_multicast:
            continue
        if any(a in i.network for i in ours):
            return str(a)
    for i in ours:
        net, host = i.network, int(i.ip) - int(i.network.network_address)
        if net.prefixlen == 127:
            return str(ipaddress.IPv6Address(int(i.ip) ^ 1))
        if net.prefixlen >= 64 and host in (1, 2):  # P::1 <-> P::2
            return str(ipaddress.IPv6Address(int(net.network_address) + (3 - host)))
    return None


def _dx4_nh(iface: ipaddress.IPv4Interface) -> str:
    n = iface.network
    if n.prefixlen == 32:
        return str(iface.ip)
    if n.prefixlen == 31:
        return str(ipaddress.IPv4Address(int(iface.ip) ^ 1))
    if n.prefixlen == 30:
        hosts = [h for h in n.hosts() if h != iface.ip]
        return str(hosts[0])
    return "0.0.0.0"  # End.DX4 then routes by the inner destination


def attached_prefixes(ifaddrs4: dict, exclude=()) -> list:
    """Dx4Prefix per connected IPv4 prefix of the interfaces not in
    ``exclude`` (``ifaddrs4``: {ifname: ["a.b.c.d/len", ...]})."""
    out, seen = [], set()
    for ifn in sorted(ifaddrs4):
        if ifn in exclude or ifn == "lo":
            continue
        for a in ifaddrs4[ifn]:
            try:
                i = ipaddress.IPv4Interface(a)
            except ValueError:
                continue
            if i.ip.is_loopback or i.ip.is_link_local or str(i.network) in seen:
                continue
            seen.add(str(i.network))
            out.append(sids.Dx4Prefix(str(i.network), _dx4_nh(i)))
    return out


@dataclass(frozen=True)
class PlanResult:
    plan: sids.SidPlan | None
    problems: tuple = ()


def plan(
    router_id: str | None,
    s: Srv6Settings,
    links: dict,
    nbr6: dict | None = None,
    attached: list = (),
    te_tail: bool = False,
) -> PlanResult:
    """The SidPlan of this router. ``links``: {ifname: our IPv4 address on
    it} (the PWR ports that are up); ``nbr6``: {ifname: the neighbour's
    IPv6 address, learnt}; ``attached``: Dx4Prefix candidates
    (``attached_prefixes``), used on a tail-end without configured
    prefixes."""
    if not s.enabled:
        return PlanResult(None, ("disabled in agent.srv6",))
    if router_id is None:
        return PlanResult(None, ("no router ID yet",))
    problems = []
    adjs = []
    for ifn in sorted(links):
        local = links[ifn]
        if not local:
            continue
        nh6 = s.neighbors.get(ifn) or (nbr6 or {}).get(ifn)
        if not nh6:
            problems.append(f"{ifn}: no global IPv6 address of the neighbour known: no End.X SID")
            continue
        try:
            adjs.append(sids.Adjacency(ifn, nh6, local))
        except sids.SidError as exc:
            problems.append(str(exc))
    # two links with one local address (a LAN) would collide: index them
    count: dict = {}
    indexed = []
    for a in adjs:
        n = count.get(a.local, 0)
        count[a.local] = n + 1
        indexed.append(a if n == 0 else sids.Adjacency(a.ifname, a.nh6, a.local, n))
    prefixes = list(s.prefixes) if s.prefixes else (list(attached) if (te_tail and s.auto_prefixes) else [])
    try:
        p = sids.SidPlan.build(router_id, locator=s.locator, adjacencies=indexed, prefixes=prefixes, sid_dev=s.sid_dev, block=s.block)
    except sids.SidError as exc:
        return PlanResult(None, (*problems, str(exc)))
    return PlanResult(p, tuple(problems))
