"""The data plane's thin shell: SRv6 SIDs and encap routes over rtnetlink.

One ``Netlink`` per namespace (per agent) wraps a pyroute2 ``IPRoute``. It
writes SRv6 state straight to the kernel, never through zebra (zebra 8.4.4
keeps one SID per nexthop when it reads routes back and overwrites
nexthop objects: /work/shared/notes/srv6-dataplane-facts.md), and uses
plain routes, no nexthop objects.

What it installs (RFC 8986 behaviours, RFC 8754 SRH):

* ``add_sid``: a seg6local route per SID (End, End.X nh6, End.DX4 nh4,
  End.DT6, End.B6.Encaps with its segments), with the kernel's per-SID
  counters switched on (SEG6_LOCAL_COUNTERS, kernel >= 5.14).
* ``add_encap``: an IPv4 route ``encap seg6 mode encap segs ...`` at the
  head-end; ``add_backup`` the same at a worse metric; ``add_multipath`` a
  weighted multipath route whose nexthops each carry their own SID list.
  Segments are given in path order (first segment first); the SRH stores
  them last segment first, and pyroute2 passes them through in SRH order,
  so this module reverses them (on install and on read-back).

Every route carries the protocol number ``RTPROT_PYFRR_PWR`` (240; 99, the
example in issue 7, is RTPROT_OPENR in the kernel's uapi, and FRR uses
186-198). ``find_installed`` dumps the routes with that number, so a
restarted agent finds its SIDs and LSPs again and can ``adopt`` or remove
them. A registry records exactly what this instance installed (or
adopted); ``remove_all`` deletes exactly that, each delete naming
protocol, table and metric, so nothing of anyone else's goes. Before
replacing a route, ``_claim`` checks its key (prefix, metric, table:
IPv4 and IPv6 routes are not keyed by protocol) is not someone else's;
a key already in the registry is ours (a replace: no dump), and
``ifname_of`` caches address -> interface (cleared by ``forget_addresses``
on link events), so a Switch on the failover path is one netlink request
(remote failover measured 326 -> 113 ms median with both). A
key not in the registry is created with NLM_F_EXCL and claimed (the
dump) only if the kernel answers EEXIST, and ``ifindex`` is cached too,
so a new SID (an ABR's binding SID on an LSP's set-up) is one request as
well: the claim's dump of the namespace's ~100 IPv6 routes had cost it
13 ms idle and 20-110 ms under load (issue 7 sec. 5).

Link events: admin-down flushes seg6local routes (and IPv4 routes) through
that link, and nothing comes back on link-up; ``reinstall_after_link_event``
puts back whatever of ours referenced the interface.

Counters: the kernel counts packets, bytes and errors per seg6local SID
(``sid_counters``; that is per End.X adjacency, per End.DX4 prefix at the
tail and per LSP at an ABR's binding SID); it has no counters for IPv4
routes, encap or not, so the head-end's per-LSP figure is the tail's DX4
or the head's own first End.X SID, or ``link_counters`` per interface.

pyroute2 0.9.7 quirks handled here: its seg6local table lacks
SEG6_LOCAL_COUNTERS and decodes SEG6_LOCAL_SRH's segments wrongly (both
fixed in private subclasses used only by this instance's socket); it
silently drops a seg6 encap inside ``multipath=[...]`` (raw per-hop
RTA_ENCAP attributes work); ``IPRoute.nlm_request`` needs a status key only
``NetlinkSocket`` sets. sysctls are per namespace: they are written from a
short-lived thread that has entered the namespace (setns is per thread).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import threading
from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2 import netns as _netns
from pyroute2.netlink import NLA_F_NESTED, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, nla
from pyroute2.netlink.exceptions import NetlinkError as _PyNetlinkError
from pyroute2.netlink.rtnl import RTM_DELROUTE, RTM_GETROUTE, RTM_NEWROUTE
from pyroute2.netlink.rtnl.rtmsg import rtmsg

from pyfrr_pwr.dataplane import lsp as _lsp
from pyfrr_pwr.dataplane.sids import LocalSid

__all__ = [
    "in_netns",
    "RTPROT_PYFRR_PWR",
    "SID_METRIC",
    "PRIMARY_METRIC",
    "BACKUP_METRIC",
    "SEG6_SYSCTLS",
    "FAILOVER_SYSCTLS",
    "NetlinkError",
    "Nexthop",
    "EncapRoute",
    "SidRoute",
    "LocalRoute",
    "SidCounters",
    "Netlink",
    "NO_SEG6_LWT",
    "seg6_lwtunnels",
]

RTPROT_PYFRR_PWR = 240
SID_METRIC = 1024  # the kernel's default IPv6 metric
PRIMARY_METRIC = 10  # below zebra's fixed 20: the IGP's route is the last resort
BACKUP_METRIC = 15

_ENCAP_SEG6 = 5
_ENCAP_SEG6_LOCAL = 7
_RTN_UNICAST = 1

# (sysctl path under /proc/sys, wanted value); "{if}" is every interface
SEG6_SYSCTLS = (
    ("net/ipv6/conf/all/forwarding", "1"),
    ("net/ipv4/ip_forward", "1"),
    ("net/ipv6/conf/all/seg6_enabled", "1"),
    ("net/ipv6/conf/default/seg6_enabled", "1"),
    ("net/ipv6/conf/{if}/seg6_enabled", "1"),  # the kernel wants "all" and the ingress interface
    ("net/ipv6/conf/all/keep_addr_on_down", "1"),
)
# 0 ms failover to the backup when the first link loses carrier; weighted
# multipath split per flow (L4 hash)
FAILOVER_SYSCTLS = (
    ("net/ipv4/conf/all/ignore_routes_with_linkdown", "1"),
    ("net/ipv6/conf/all/ignore_routes_with_linkdown", "1"),
    ("net/ipv4/fib_multipath_hash_policy", "1"),
)


# A kernel built without SRv6 lightweight tunnels refuses every seg6 and
# seg6local route with EOPNOTSUPP ("lwt encapsulation type not supported"),
# though its seg6_enabled sysctls exist (they belong to IPv6's SRH handling)
NO_SEG6_LWT = "this kernel has no SRv6 lightweight tunnels: it was built without CONFIG_IPV6_SEG6_LWTUNNEL"


def _has_encap(msg) -> bool:
    """A route message with an encapsulation, its own or a next hop's (RTA_MULTIPATH)."""
    for name, value in msg.get("attrs", ()):
        if name == "RTA_ENCAP_TYPE":
            return True
        if name == "RTA_MULTIPATH" and any(a[0] == "RTA_ENCAP_TYPE" for hop in value for a in hop.get("attrs", ())):
            return True
    return False


class NetlinkError(RuntimeError):
    """A kernel operation failed; the message names the route and why,
    ``code`` the kernel's errno (None: not the kernel's refusal)."""

    def __init__(self, *args, code: int | None = None):
        super().__init__(*args)
        self.code = code


# -- pyroute2 0.9.7 fix-ups, private to our socket ----------------------------


def _recompile(cls):
    # pyroute2 caches a class's compiled NLA table in name-mangled class
    # attributes, which subclasses inherit: reset them so ours compile
    cls._nlmsg_base__compiled_nla = False
    cls._nlmsg_base__t_nla_map = None
    cls._nlmsg_base__r_nla_map = None
    return cls


_base_local = rtmsg.seg6local_encap_info


@_recompile
class _seg6local(_base_local):
    nla_map = tuple(_base_local.nla_map) + (("SEG6_LOCAL_COUNTERS", "counters"),)

    @_recompile
    class counters(nla):
        nla_flags = NLA_F_NESTED
        nla_map = (
            ("SEG6_LOCAL_CNT_UNSPEC", "none"),
            ("SEG6_LOCAL_CNT_PAD", "none"),
            ("SEG6_LOCAL_CNT_PACKETS", "uint64"),
            ("SEG6_LOCAL_CNT_BYTES", "uint64"),
            ("SEG6_LOCAL_CNT_ERRORS", "uint64"),
        )

    class ipv6_sr_hdr(_base_local.ipv6_sr_hdr):
        def decode(self):
            nla.decode(self)
            start = self.offset + 4 + 8  # NLA header, SRH fixed part
            n = self["first_segment"] + 1
            raw = bytes(self.data[start : start + 16 * n])
            self["segs"] = [socket.inet_ntop(socket.AF_INET6, raw[i * 16 : i * 16 + 16]) for i in range(len(raw) // 16)]


class _rtmsg(rtmsg):
    encaps = dict(rtmsg.encaps)
    encaps[_ENCAP_SEG6_LOCAL] = _seg6local


# -- what we install ----------------------------------------------------------


@dataclass(frozen=True)
class Nexthop:
    """One nexthop of an encap route: segments in path order, the device
    (whose carrier decides whether the route is usable) and its weight."""

    segs: tuple
    dev: str
    weight: int = 1


@dataclass(frozen=True)
class EncapRoute:
    prefix: str
    nexthops: tuple
    metric: int

    @property
    def key(self) -> tuple:
        return (socket.AF_INET, self.prefix, self.metric)

    @property
    def devs(self) -> set:
        return {n.dev for n in self.nexthops}


@dataclass(frozen=True)
class SidRoute:
    sid: LocalSid
    metric: int = SID_METRIC
    counted: bool = True

    @property
    def key(self) -> tuple:
        return (socket.AF_INET6, f"{self.sid.sid}/128", self.metric)

    @property
    def devs(self) -> set:
        return {self.sid.dev} if self.sid.dev else set()


@dataclass(frozen=True)
class LocalRoute:
    """``local ADDRESS/128 dev DEV`` in our table: End.DT6 (RFC 8986 sec.
    4.6) looks the decapsulated packet up in that table only, where the
    kernel's own local routes are not (they live in table 255), so a
    liveness probe to the node's address arriving through a binding SID
    would be sent out of ``sr0`` instead of delivered."""

    address: str
    dev: str
    metric: int = SID_METRIC

    @property
    def key(self) -> tuple:
        return (socket.AF_INET6, f"{self.address}/128", self.metric)

    @property
    def devs(self) -> set:
        return {self.dev}


@dataclass(frozen=True)
class SidCounters:
    packets: int
    bytes: int
    errors: int


def _v4net(prefix) -> str:
    try:
        return str(ipaddress.IPv4Network(prefix))
    except (ValueError, TypeError) as exc:
        raise NetlinkError(f"{prefix!r} is not an IPv4 prefix: {exc}") from None


def _segs(segs) -> tuple:
    try:
        out = tuple(str(ipaddress.IPv6Address(s)) for s in segs)
    except (ValueError, TypeError) as exc:
        raise NetlinkError(f"bad segment list {segs!r}: {exc}") from None
    if not out:
        raise NetlinkError("empty segment list")
    return out


def in_netns(netns: str | None, fn):
    """``fn()`` run in namespace ``netns`` by a short-lived thread that
    entered it (setns is per thread; a socket made there stays there); in
    ours for None. An exception is handed to the caller."""
    if netns is None:
        return fn()
    box: dict = {}

    def run():
        try:
            _netns.setns(netns, flags=0)
            box["v"] = fn()
        except BaseException as exc:  # handed to the caller
            box["e"] = exc

    t = threading.Thread(target=run, name=f"setns-{netns}", daemon=True)
    t.start()
    t.join()
    if "e" in box:
        raise box["e"]
    return box["v"]


def seg6_lwtunnels() -> bool:
    """Whether this kernel installs SRv6 routes at all: False when it was
    built without CONFIG_IPV6_SEG6_LWTUNNEL (``NO_SEG6_LWT``). Told by
    installing one counted End SID on ``lo`` of a throwaway namespace, the
    message the agent's first SID sends, so the answer is the agent's.
    Raises NetlinkError when it cannot tell (no CAP_SYS_ADMIN for the
    namespace, any other refusal)."""
    name = f"pyfrr-pwr-seg6-probe-{os.getpid()}-{threading.get_ident()}"
    try:
        _netns.create(name)
    except OSError as exc:
        raise NetlinkError(f"cannot create namespace {name} to probe for SRv6: {exc}") from None
    try:
        with Netlink(name) as nl:
            nl.ipr.link("set", index=nl.ifindex("lo"), state="up")
            try:
                nl.add_sid(LocalSid("fc00:5eb6::1", "End", dev="lo"))
            except NetlinkError as exc:
                if exc.code == errno.EOPNOTSUPP:
                    return False
                raise
            return True
    finally:
        _netns.remove(name)


class Netlink:
    """The kernel of one namespace (``netns`` name, None: ours)."""

    def __init__(self, netns: str | None = None, *, proto: int = RTPROT_PYFRR_PWR, table: int = 254):
        if not (isinstance(proto, int) and 5 <= proto <= 255):
            raise ValueError(f"protocol {proto!r}: must be 5..255 (0-4 are the kernel's)")
        self.netns = netns
        self.proto = proto
        self.table = table
        kw = {"netns": netns, "flags": 0} if netns else {}
        try:
            # strict checking (NETLINK_GET_STRICT_CHK, kernel >= 4.20) makes
            # the kernel filter a route dump by the header's protocol and
            # table (_ours), so only our routes are decoded
            self.ipr = IPRoute(strict_check=True, **kw)
        except OSError as exc:
            raise NetlinkError(f"cannot open rtnetlink in namespace {netns!r}: {exc}") from None
        self.ipr.asyncore.status.setdefault("nlm_generator", False)
        m = self.ipr.marshal
        m.msg_map = dict(m.msg_map)
        for t in (RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE):
            m.msg_map[t] = _rtmsg
        self.registry: dict = {}  # key -> SidRoute | EncapRoute
        self._ifname_cache: dict = {}  # local address -> ifname (ifname_of)
        self._ifindex_cache: dict = {}  # ifname -> index (ifindex)

    def close(self) -> None:
        self.ipr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"Netlink(netns={self.netns!r}, proto={self.proto}, {len(self.registry)} routes)"

    # -- low level -------------------------------------------------------

    def _where(self) -> str:
        return f" in {self.netns}" if self.netns else ""

    def _request(self, msg, msg_type: int, flags: int, what: str):
        try:
            return self.ipr.nlm_request(msg, msg_type=msg_type, msg_flags=flags)
        except _PyNetlinkError as exc:
            why = os.strerror(exc.code) if exc.code else str(exc)
            if exc.code == errno.EOPNOTSUPP and _has_encap(msg):
                why += f" ({NO_SEG6_LWT})"
            raise NetlinkError(f"{what}{self._where()}: {why}", code=exc.code) from None

    def _msg(self, family: int, dst: str, plen: int, metric: int, attrs: list, scope: int = 0):
        m = _rtmsg()
        m["family"] = family
        m["dst_len"] = plen
        m["src_len"] = 0
        m["tos"] = 0
        m["table"] = self.table if self.table < 256 else 252
        m["proto"] = self.proto
        m["scope"] = scope
        m["type"] = _RTN_UNICAST
        m["flags"] = 0
        m["attrs"] = [["RTA_DST", dst], ["RTA_TABLE", self.table], ["RTA_PRIORITY", metric], *attrs]
        return m

    def ifindex(self, ifname: str) -> int:
        """An interface's index, cached (each install names its device: a
        lookup per install was one more kernel round trip); cleared by
        ``forget_addresses``, and by ``_add`` when the kernel answers
        ENODEV (a device re-created under the same name)."""
        cache = self._ifindex_cache
        hit = cache.get(ifname)
        if hit is not None:
            return hit
        idx = self.ipr.link_lookup(ifname=ifname)
        if not idx:
            raise NetlinkError(f"no interface {ifname}{self._where()}")
        cache[ifname] = idx[0]
        return idx[0]

    def ifname(self, index: int) -> str | None:
        for l in self.ipr.get_links(index):
            return l.get_attr("IFLA_IFNAME")
        return None

    def ifname_of(self, address: str) -> str:
        """The interface holding a local address (an LSP's first link key).
        Cached (a Switch on the failover path must not dump every address):
        ``forget_addresses`` clears the cache on link/address events."""
        a = str(ipaddress.ip_address(address))
        hit = self._ifname_cache.get(a)
        if hit is not None:
            return hit
        fam = socket.AF_INET if ":" not in a else socket.AF_INET6
        for m in self.ipr.get_addr(family=fam):
            if m.get_attr("IFA_ADDRESS") == a or m.get_attr("IFA_LOCAL") == a:
                name = self.ifname(m["index"])
                if name is not None:
                    self._ifname_cache[a] = name
                return name
        raise NetlinkError(f"no interface has address {a}{self._where()}")

    def forget_addresses(self) -> None:
        """Clear the address -> interface and interface -> index caches
        (call on link events: an address may have moved or gone, a device
        been re-created)."""
        self._ifname_cache.clear()
        self._ifindex_cache.clear()

    def _dump(self, family: int, proto: int = 0) -> list:
        """Every route of ``family``, or with ``proto`` only that protocol's
        routes of our table: the kernel filters a strict-checked dump by
        rtm_protocol and the table (ip_valid_fib_dump_req), so pyroute2
        decodes only those (a dump of fig-2-0's ~170 routes was 25-36 ms of
        CPU per SRv6 sync); a kernel that ignores the filter sends all of
        them, and the caller's own check still applies."""
        m = _rtmsg()
        m["family"] = family
        if proto:
            m["proto"] = proto
            m["table"] = self.table if self.table < 256 else 252  # RT_TABLE_COMPAT: the real one in RTA_TABLE
            if self.table >= 256:
                m["attrs"] = [["RTA_TABLE", self.table]]
        return list(self._request(m, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, "route dump"))

    def _table_of(self, r) -> int:
        return r.get_attr("RTA_TABLE") or r["table"]

    def _same_key(self, r, family: int, dst: str, plen: int, metric: int) -> bool:
        if r["family"] != family or r["dst_len"] != plen or self._table_of(r) != self.table:
            return False
        rdst = r.get_attr("RTA_DST") or ("0.0.0.0" if family == socket.AF_INET else "::")
        return rdst == dst and (r.get_attr("RTA_PRIORITY") or 0) == metric

    def _claim(self, family: int, dst: str, plen: int, metric: int) -> None:
        """Refuse to replace a route that is someone else's."""
        for r in self._dump(family):
            if self._same_key(r, family, dst, plen, metric) and r["proto"] != self.proto:
                raise NetlinkError(f"route {dst}/{plen} metric {metric} table {self.table}{self._where()} belongs to protocol {r['proto']}; not replacing it")

    def _add(self, entry, build, what: str) -> None:
        """Install ``entry``; ``build()`` makes its RTM_NEWROUTE (called
        again for a second try: a message is not sent twice).

        One request in the common cases (issue 7 sec. 5: the claim's dump
        of every route cost an ABR's binding SID 10-70 ms under load): a key
        in the registry is ours (a replace); a key we do not hold is created
        with NLM_F_EXCL, which the kernel refuses with EEXIST if any route
        has that key (rtnetlink(7); fib6_add_rt2node, fib_table_insert
        compare destination, table and metric), so only then is it claimed
        (the dump: someone else's is refused, ours from an earlier run
        replaced). An interface index taken from the cache that the kernel
        no longer knows (ENODEV: the device was re-created) is looked up
        afresh, once."""
        family, dst, metric = entry.key
        addr, plen = dst.split("/")
        base = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE
        ours = entry.key in self.registry
        for attempt in (0, 1):
            try:
                self._request(build(), RTM_NEWROUTE, base | (NLM_F_REPLACE if ours else NLM_F_EXCL), what)
                break
            except NetlinkError as exc:
                if exc.code == errno.ENODEV and attempt == 0 and self._ifindex_cache:
                    self._ifindex_cache.clear()
                    continue
                if exc.code != errno.EEXIST or ours:
                    raise
            # someone's route has that key: ours from an earlier run is replaced, anyone else's refused
            self._claim(family, addr, int(plen), metric)
            self._request(build(), RTM_NEWROUTE, base | NLM_F_REPLACE, what)
            break
        self.registry[entry.key] = entry

    def _delete(self, key) -> bool:
        family, dst, metric = key
        addr, plen = dst.split("/")
        # scope "nowhere" matches any scope, as `ip route del` does
        m = self._msg(family, addr, int(plen), metric, [], scope=255 if family == socket.AF_INET else 0)
        try:
            self.ipr.nlm_request(m, msg_type=RTM_DELROUTE, msg_flags=NLM_F_REQUEST | NLM_F_ACK)
        except _PyNetlinkError as exc:
            if exc.code in (errno.ESRCH, errno.ENOENT):
                return False  # gone already (a link event flushed it)
            raise NetlinkError(f"delete {dst} metric {metric}{self._where()}: {os.strerror(exc.code)}") from None
        return True

    # -- SIDs ------------------------------------------------------------

    def add_sid(self, sid: LocalSid, *, count: bool = True, metric: int = SID_METRIC) -> SidRoute:
        """Install (or replace) one seg6local SID."""
        if not sid.dev:
            raise NetlinkError(f"SID {sid.sid} ({sid.behaviour}) has no device")
        enc: list = [["SEG6_LOCAL_ACTION", sid.behaviour]]
        if sid.behaviour == "End.X":
            enc.append(["SEG6_LOCAL_NH6", sid.nh6])
        elif sid.behaviour == "End.DX4":
            enc.append(["SEG6_LOCAL_NH4", sid.nh4])
        elif sid.behaviour == "End.DT6":
            enc.append(["SEG6_LOCAL_TABLE", sid.table])
        elif sid.behaviour == "End.B6.Encaps":
            enc.append(["SEG6_LOCAL_SRH", {"mode": "encap", "segs": list(reversed(_segs(sid.segs)))}])
        if count:
            enc.append(["SEG6_LOCAL_COUNTERS", {"attrs": [["SEG6_LOCAL_CNT_PACKETS", 0], ["SEG6_LOCAL_CNT_BYTES", 0], ["SEG6_LOCAL_CNT_ERRORS", 0]]}])
        entry = SidRoute(sid, metric, count)

        def build():
            return self._msg(
                socket.AF_INET6,
                sid.sid,
                128,
                metric,
                [["RTA_OIF", self.ifindex(sid.dev)], ["RTA_ENCAP_TYPE", _ENCAP_SEG6_LOCAL], ["RTA_ENCAP", {"attrs": enc}]],
            )

        self._add(entry, build, f"add SID {sid.describe()}")
        return entry

    def remove_sid(self, sid, metric: int = SID_METRIC) -> bool:
        """Remove one of our SIDs (a LocalSid or its address)."""
        addr = sid.sid if isinstance(sid, LocalSid) else str(ipaddress.IPv6Address(sid))
        key = (socket.AF_INET6, f"{addr}/128", metric)
        if key not in self.registry:
            raise NetlinkError(f"SID {addr} metric {metric} is not one we installed{self._where()}")
        del self.registry[key]
        return self._delete(key)

    def add_local(self, address: str, dev: str, metric: int = SID_METRIC) -> LocalRoute:
        """Install (or replace) a ``local`` route for one of the node's own
        addresses in our table (``LocalRoute``)."""
        a = str(ipaddress.IPv6Address(address))
        entry = LocalRoute(a, dev, metric)

        def build():
            m = self._msg(socket.AF_INET6, a, 128, metric, [["RTA_OIF", self.ifindex(dev)]], scope=254)
            m["type"] = 2  # RTN_LOCAL
            return m

        self._add(entry, build, f"add local route {a}")
        return entry

    # -- encap routes -----------------------------------------------------

    def add_encap(self, prefix, segs, dev: str, metric: int = PRIMARY_METRIC) -> EncapRoute:
        """Install or replace ``prefix encap seg6 mode encap segs ... dev``;
        ``segs`` in path order."""
        return self.add_multipath(prefix, [Nexthop(tuple(segs), dev, 1)], metric)

    def add_backup(self, prefix, segs, dev: str, metric: int = BACKUP_METRIC) -> EncapRoute:
        return self.add_encap(prefix, segs, dev, metric)

    def add_multipath(self, prefix, nexthops, metric: int = PRIMARY_METRIC) -> EncapRoute:
        """One route, one SID list per nexthop (weights 1..256). A single
        nexthop is installed as a plain route."""
        p = _v4net(prefix)
        hops = tuple(n if isinstance(n, Nexthop) else Nexthop(*n) for n in nexthops)
        if not hops:
            raise NetlinkError(f"route {p}: no nexthops")
        for n in hops:
            if not (isinstance(n.weight, int) and 1 <= n.weight <= 256):
                raise NetlinkError(f"route {p}: weight {n.weight!r} must be 1..256")
        hops = tuple(Nexthop(_segs(n.segs), n.dev, n.weight) for n in hops)

        def srh(segs):
            return {"attrs": [["SEG6_IPTUNNEL_SRH", {"mode": "encap", "segs": list(reversed(segs))}]]}

        addr, plen = p.split("/")

        def build():
            if len(hops) == 1:  # a device route: link scope, as `ip route add ... dev` makes it
                attrs = [["RTA_OIF", self.ifindex(hops[0].dev)], ["RTA_ENCAP_TYPE", _ENCAP_SEG6], ["RTA_ENCAP", srh(hops[0].segs)]]
                return self._msg(socket.AF_INET, addr, int(plen), metric, attrs, 253)
            mp = [
                {"oif": self.ifindex(n.dev), "hops": n.weight - 1, "flags": 0, "attrs": [["RTA_ENCAP_TYPE", _ENCAP_SEG6], ["RTA_ENCAP", srh(n.segs)]]}
                for n in hops
            ]
            return self._msg(socket.AF_INET, addr, int(plen), metric, [["RTA_MULTIPATH", mp]], 0)

        entry = EncapRoute(p, hops, metric)
        self._add(entry, build, f"add encap route {p} metric {metric}")
        return entry

    def exact_delete_msg(self, entry: EncapRoute, ifindex: int) -> bytes:
        """An RTM_DELROUTE for ``entry`` (one of ours, a single nexthop)
        naming its device and its SRv6 encap, encoded: the kernel deletes
        the route only while it is exactly that (fib_table_delete matches
        the nexthop's device and, through lwtunnel_cmp_encap, its SRH; a
        route replaced meanwhile, by a make-before-break for one, stays:
        ESRCH). Built once, sent later from another thread and socket
        (``agent.lsp_live``'s switch in the prober's thread); the registry
        is not touched: the LSP machine's own Switch follows."""
        (hop,) = entry.nexthops
        family, dst, metric = entry.key
        addr, plen = dst.split("/")
        srh = {"attrs": [["SEG6_IPTUNNEL_SRH", {"mode": "encap", "segs": list(reversed(hop.segs))}]]}  # SRH order, as add_multipath
        m = self._msg(family, addr, int(plen), metric, [["RTA_OIF", ifindex], ["RTA_ENCAP_TYPE", _ENCAP_SEG6], ["RTA_ENCAP", srh]], scope=255)
        m["header"]["type"] = RTM_DELROUTE
        m["header"]["flags"] = NLM_F_REQUEST | NLM_F_ACK
        m.encode()
        return bytes(m.data)

    def remove_encap(self, prefix, metric: int = PRIMARY_METRIC) -> bool:
        key = (socket.AF_INET, _v4net(prefix), metric)
        if key not in self.registry:
            raise NetlinkError(f"route {key[1]} metric {metric} is not one we installed{self._where()}")
        del self.registry[key]
        return self._delete(key)

    # -- LSP actions ------------------------------------------------------

    def execute(self, action) -> bool:
        """Carry out an ``lsp`` kernel action (InstallEncap, RemoveEncap,
        InstallBackup, RemoveBackup, Switch): True if it was one. A leg's
        device is the interface holding its first link's local address."""
        if isinstance(action, (_lsp.InstallEncap, _lsp.Switch)):
            hops = [Nexthop(l.segs, self.ifname_of(l.first_hop[2]), l.weight) for l in action.legs]
            for p in action.prefixes:
                self.add_multipath(p, hops, action.metric)
        elif isinstance(action, _lsp.InstallBackup):
            l = action.leg
            for p in action.prefixes:
                self.add_encap(p, l.segs, self.ifname_of(l.first_hop[2]), action.metric)
        elif isinstance(action, (_lsp.RemoveEncap, _lsp.RemoveBackup)):
            for p in action.prefixes:
                if (socket.AF_INET, _v4net(p), action.metric) in self.registry:
                    self.remove_encap(p, action.metric)
        else:
            return False
        return True

    # -- the registry, restarts and link events -----------------------------

    def installed(self) -> list:
        return list(self.registry.values())

    def remove_all(self) -> int:
        """Remove exactly what we installed or adopted; the count removed
        from the kernel (entries already flushed count not)."""
        n = 0
        for key in list(self.registry):
            del self.registry[key]
            n += self._delete(key)
        return n

    def _ours(self, family: int) -> list:
        return [r for r in self._dump(family, self.proto) if r["proto"] == self.proto and self._table_of(r) == self.table]

    def _decode(self, r):
        family = r["family"]
        dst = r.get_attr("RTA_DST") or ("0.0.0.0" if family == socket.AF_INET else "::")
        metric = r.get_attr("RTA_PRIORITY") or 0
        if family == socket.AF_INET6 and r.get_attr("RTA_ENCAP_TYPE") == _ENCAP_SEG6_LOCAL and r["dst_len"] == 128:
            enc = r.get_attr("RTA_ENCAP")
            names = {"SEG6_LOCAL_ACTION": None}
            for k, v, *_ in enc["attrs"]:
                names[k] = v
            action = {v: k for k, v in _base_local.action.actions.items()}.get(names["SEG6_LOCAL_ACTION"], str(names["SEG6_LOCAL_ACTION"]))
            srh = names.get("SEG6_LOCAL_SRH")
            segs = tuple(reversed(srh["segs"])) if srh else ()
            oif = r.get_attr("RTA_OIF")
            try:
                sid = LocalSid(
                    dst,
                    action,
                    dev=self.ifname(oif) if oif else None,
                    nh6=names.get("SEG6_LOCAL_NH6"),
                    nh4=names.get("SEG6_LOCAL_NH4"),
                    table=names.get("SEG6_LOCAL_TABLE"),
                    segs=segs,
                )
            except ValueError:
                return None
            return SidRoute(sid, metric, "SEG6_LOCAL_COUNTERS" in names)
        if family == socket.AF_INET:
            prefix = f"{dst}/{r['dst_len']}"
            hops = []
            mp = r.get_attr("RTA_MULTIPATH")
            if mp:
                for h in mp:
                    segs = self._encap_segs(h)
                    if segs is None:
                        return None
                    hops.append(Nexthop(segs, self.ifname(h["oif"]), h["hops"] + 1))
            else:
                segs = self._encap_segs(r)
                if segs is None:
                    return None
                hops.append(Nexthop(segs, self.ifname(r.get_attr("RTA_OIF")), 1))
            return EncapRoute(prefix, tuple(hops), metric)
        return None

    @staticmethod
    def _encap_segs(m) -> tuple | None:
        if m.get_attr("RTA_ENCAP_TYPE") != _ENCAP_SEG6:
            return None
        enc = m.get_attr("RTA_ENCAP")
        srh = enc.get_attr("SEG6_IPTUNNEL_SRH") if enc is not None else None
        return tuple(reversed(srh["segs"])) if srh else None

    def find_installed(self) -> list:
        """Our SIDs and encap routes as the kernel has them now (protocol
        ``proto``, table ``table``): SidRoute and EncapRoute entries, for
        ``adopt`` or for comparing with what the agent wants."""
        out = []
        for fam in (socket.AF_INET6, socket.AF_INET):
            for r in self._ours(fam):
                e = self._decode(r)
                if e is not None:
                    out.append(e)
        return out

    def adopt(self, entries) -> None:
        """Take entries (``find_installed``) into the registry: remove_all
        and reinstall then cover them."""
        for e in entries:
            self.registry[e.key] = e

    def missing(self, ifname: str | None = None) -> list:
        """Registry entries the kernel no longer has (restricted to those
        using ``ifname``)."""
        have = set()
        for fam in (socket.AF_INET6, socket.AF_INET):
            for r in self._ours(fam):
                dst = r.get_attr("RTA_DST") or ("0.0.0.0" if fam == socket.AF_INET else "::")
                have.add((fam, f"{dst}/{r['dst_len']}", r.get_attr("RTA_PRIORITY") or 0))
        return [e for k, e in self.registry.items() if k not in have and (ifname is None or ifname in e.devs)]

    def reinstall(self, entry) -> None:
        if isinstance(entry, SidRoute):
            self.add_sid(entry.sid, count=entry.counted, metric=entry.metric)
        elif isinstance(entry, LocalRoute):
            self.add_local(entry.address, entry.dev, entry.metric)
        else:
            self.add_multipath(entry.prefix, entry.nexthops, entry.metric)

    def reinstall_missing(self, ifname: str | None = None) -> list:
        """Put back what of ours the kernel lost; returns what was put back.
        Entries whose device is still down stay missing (and are listed in
        the NetlinkError raised after the rest went in)."""
        done, failed = [], []
        for e in sorted(self.missing(ifname), key=lambda e: isinstance(e, EncapRoute)):  # SIDs first
            try:
                self.reinstall(e)
                done.append(e)
            except NetlinkError as exc:
                failed.append(str(exc))
        if failed:
            raise NetlinkError("could not reinstall: " + "; ".join(failed))
        return done

    def reinstall_after_link_event(self, ifname: str) -> list:
        """After ``ifname`` came back up: admin-down flushed the seg6local
        routes (End.X) and IPv4 routes through it, and nothing returns by
        itself."""
        self.forget_addresses()
        return self.reinstall_missing(ifname)

    # -- counters ----------------------------------------------------------

    def sid_counters(self) -> dict:
        """Per-SID counters of our seg6local SIDs that have them: {sid: SidCounters}."""
        out = {}
        for r in self._ours(socket.AF_INET6):
            if r.get_attr("RTA_ENCAP_TYPE") != _ENCAP_SEG6_LOCAL:
                continue
            enc = r.get_attr("RTA_ENCAP")
            c = enc.get_attr("SEG6_LOCAL_COUNTERS")
            if c is not None:
                out[r.get_attr("RTA_DST")] = SidCounters(
                    c.get_attr("SEG6_LOCAL_CNT_PACKETS") or 0, c.get_attr("SEG6_LOCAL_CNT_BYTES") or 0, c.get_attr("SEG6_LOCAL_CNT_ERRORS") or 0
                )
        return out

    def link_counters(self, ifname: str) -> dict:
        """rx/tx packets/bytes/errors/dropped of one interface (IFLA_STATS64)."""
        for l in self.ipr.get_links(self.ifindex(ifname)):
            s = l.get_attr("IFLA_STATS64") or l.get_attr("IFLA_STATS") or {}
            return {k: s.get(k, 0) for k in ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_errors", "tx_errors", "rx_dropped", "tx_dropped")}
        raise NetlinkError(f"no interface {ifname}{self._where()}")

    # -- the always-up device -----------------------------------------------

    def ensure_sid_device(self, address: str, plen: int = 48, name: str = "sr0", peer: str | None = None) -> bool:
        """The device that holds the locator and the node's SIDs: no dummy
        devices in these kernels, so a veth pair kept up inside the
        namespace (``name``, ``peer``). Creates it if missing, sets both ends
        up, puts ``address/plen`` (``SidPlan.address``, the locator) on it.
        True if it was created. Not in the registry: ``remove_all`` leaves it."""
        peer = peer or f"{name}p"
        created = False
        if not self.ipr.link_lookup(ifname=name):
            try:
                self.ipr.link("add", ifname=name, kind="veth", peer=peer)
            except _PyNetlinkError as exc:
                raise NetlinkError(f"create veth {name}/{peer}{self._where()}: {os.strerror(exc.code)}") from None
            created = True
        for n in (name, peer):
            self.ipr.link("set", index=self.ifindex(n), state="up")
        idx = self.ifindex(name)
        a = str(ipaddress.IPv6Address(address))
        if not any(m.get_attr("IFA_ADDRESS") == a for m in self.ipr.get_addr(family=socket.AF_INET6, index=idx)):
            self.ipr.addr("add", index=idx, address=a, prefixlen=plen)
        return created

    # -- sysctls -----------------------------------------------------------

    def _in_netns(self, fn):
        return in_netns(self.netns, fn)

    @staticmethod
    def _wanted(ifnames, failover: bool) -> list:
        if ifnames is None:
            ifnames = [n for n in os.listdir("/proc/sys/net/ipv6/conf") if n not in ("all", "default")]
        out = []
        for path, v in SEG6_SYSCTLS + (FAILOVER_SYSCTLS if failover else ()):
            if "{if}" in path:
                out += [(path.replace("{if}", n), v) for n in ifnames]
            else:
                out.append((path, v))
        return out

    def check_sysctls(self, ifnames=None, *, failover: bool = True) -> list:
        """[(sysctl, wanted, actual)] of what is not as SRv6 needs (actual
        None: the kernel has no such sysctl)."""

        def run():
            bad = []
            for path, v in self._wanted(ifnames, failover):
                try:
                    with open(f"/proc/sys/{path}") as f:
                        cur = f.read().strip()
                except FileNotFoundError:
                    cur = None
                if cur != v:
                    bad.append((path.replace("/", "."), v, cur))
            return bad

        return self._in_netns(run)

    def enable_seg6(self, ifnames=None, *, failover: bool = True) -> list:
        """Set the sysctls SRv6 needs (all interfaces when ``ifnames`` is
        None); returns what was changed; raises naming what the kernel
        lacks."""

        def run():
            changed, lacking = [], []
            for path, v in self._wanted(ifnames, failover):
                p = f"/proc/sys/{path}"
                try:
                    with open(p) as f:
                        if f.read().strip() == v:
                            continue
                    with open(p, "w") as f:
                        f.write(v)
                    changed.append(path.replace("/", "."))
                except FileNotFoundError:
                    lacking.append(path.replace("/", "."))
            if lacking:
                raise NetlinkError(f"kernel lacks sysctl(s) {', '.join(lacking)}{self._where()}")
            return changed

        return self._in_netns(run)
