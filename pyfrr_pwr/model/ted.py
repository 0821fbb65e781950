"""Per-area TE database built from decoded PWR LSAs.

Nodes are router IDs. A link is known from each end's Link TLV (one per LSA,
RFC 3630 sec. 2.4.2); the two ends are paired by router IDs and interface
addresses, so parallel links (draft sec. 2.1.1, L1-L3) stay apart. PWRLINK,
the CSPF weight, is the mean of both ends' POWER (sec. 2.1.1), each end's
POWER being the lower of its consumed and available ratios (sec. 2.1.8.2).
The mean is weighted when an end is a multi-capacity port running below
its highest capacity (sec. 2.1.1): an end weighs max_bw / highest_bw of its
own Link TLV (``highest_bw``: Link sub-TLV 32772), 1.0 when it sends no
highest capacity, so links of single-capacity ports keep the plain mean
(``metric.link_pwrlink``, shared with the offline tables).
A link seen from one end only is kept and marked ``one_sided``; it is left
out of the CSPF graph unless asked for, as OSPF's two-way check would.

When one router advertises the same link under two LSAs (make-before-break
re-origination under a new opaque ID), the higher ``generation`` wins
(RFC 1982 serial arithmetic), so readers never see the link vanish.

SRv6 (issue 7): ``srv6()`` and ``end_x()`` return, as plain data, the
locators and SIDs routers flood (SRv6 Locator TLV, End.X SID Link
sub-TLV); ``sid_adverts()`` gives them in the form of
``dataplane.sids.SidPlan.advertised()``, ready for
``dataplane.sidlist.SidTable.of``. The model does not import the data
plane (layering): the agent builds the table.

Pure: ``apply``/``withdraw`` take bytes and return what changed; no I/O.
A malformed body is logged, counted in ``stats`` and dropped, and whatever
the TED held for that LSA stays as it was.

Delay variation (RFC 7471 sec. 4.3): a Link TLV's ``delay_var_us``, when the
router sends it, becomes the arc's ``delay_var`` (µs); the inter-area
aggregates sum it as the path's jitter (issue 9).

Compute sites (issue 9): ``energy()`` and ``services()`` index the Node
Energy and Service Instance TLVs by their site (origin router ID), whether
the site advertised them in this area or an ABR leaked a copy in
(``agent.leak``; the copy's leak sub-TLV names the origin area and the ABR
chain, draft sec. 2.1.9's {ABR1, ABR2, ...}). A site's own copy wins over a
leaked one. A copy that names another router without being a well-formed
leak from an ABR of this area (unknown origin: the chain must end in the
advertising router, which sends an Area Border TLV naming the origin area,
or the backbone for a longer chain), or one that claims to come from this
very area, is left out and counted once (``leak_unknown_origin``). ABRs
are trusted as for reachability vectors: OSPF has no origin
authentication, so a router that lies about being an ABR is out of reach.

Caching (issue 10): ``graph()`` is built once per topology generation and
shared by every caller until an LSA changes in a TLV that enters the graph
(reachability vectors, Node Energy and Service Instance TLVs do not: a
site's carbon intensity moving is no topology change); callers must treat it as read
only. ``lsas`` is a dict that counts its changes (``_Lsas``), so code that
writes it directly (``ted.lsas[key] = [...]``, ``del ted.lsas[key]``,
``ted.lsas = {...}``) invalidates the cache too; only mutating an LSA's
TLV list in place would go unseen, and nothing does.

networkx is imported where a graph is built (``graph()``), not with this
module: an agent that computes no path (most routers of an area) never
loads it (issue 10: agent RSS, ~4 MiB even lean, ``lazypkg``).
"""

from __future__ import annotations

import logging
import weakref
from collections import Counter, deque
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING

from pyfrr_pwr.model import metric
from pyfrr_pwr.proto import wire

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["TED", "LinkEnd", "TEDLink", "SiteCopy", "serial_newer", "patch_origin"]

log = logging.getLogger("pyfrr_pwr.ted")


def serial_newer(a: int, b: int) -> bool:
    """a is newer than b in 32-bit serial arithmetic (RFC 1982)."""
    return a != b and ((a - b) & 0xFFFFFFFF) < 0x80000000


@dataclass(frozen=True)
class LinkEnd:
    router: str  # advertising router ID
    lsid: str
    tlv: wire.LinkTLV

    @property
    def local(self) -> str | None:
        return self.tlv.local_addrs[0] if self.tlv.local_addrs else None

    @property
    def remote(self) -> str | None:
        return self.tlv.remote_addrs[0] if self.tlv.remote_addrs else None

    @property
    def ident(self) -> tuple:
        return (self.router, self.tlv.link_id, self.local or self.lsid)

    @property
    def power(self) -> float | None:
        return metric.effective_metric(self.tlv.pwr_consumed, self.tlv.pwr_available)

    @property
    def weight(self) -> float:
        """This end's PWRLINK weight: running over highest capacity (sec.
        2.1.1), 1.0 for a port that sends no highest capacity."""
        return self.weight_of(self.tlv)

    @staticmethod
    def weight_of(tlv: wire.LinkTLV) -> float:
        return metric.capacity_weight(tlv.max_bw, tlv.highest_bw)


@dataclass(frozen=True)
class TEDLink:
    """One direction of a link: ``near`` advertised it, ``far`` is the
    other end's advertisement (None when one-sided)."""

    near: LinkEnd
    far: LinkEnd | None

    @property
    def one_sided(self) -> bool:
        return self.far is None

    @property
    def pwrlink(self) -> float | None:
        if self.far is None:
            return self.near.power
        return metric.link_pwrlink(self.near.power, self.far.power, self.near.weight, self.far.weight)


@dataclass(frozen=True)
class SiteCopy:
    """A compute site's Node Energy or Service Instance TLV as one area's
    TED holds it: ``adv`` advertised it in LSA ``lsid``; ``via`` is the ABR
    that leaked it in (None: the site's own copy)."""

    tlv: object  # wire.NodeEnergy | wire.ServiceInstance
    adv: str
    lsid: str

    @property
    def origin(self) -> str:
        return self.tlv.router_id

    @property
    def leaked(self) -> bool:
        return bool(self.tlv.abr_chain)

    @property
    def via(self) -> str | None:
        return self.adv if self.leaked else None

    @property
    def newest_ts(self) -> int:
        """Newest reading's timestamp (Node Energy; 0 for an instance)."""
        return max((r.ts for r in (getattr(self.tlv, n, None) for n in _NE_FIELDS) if r is not None), default=0)

    def rank(self) -> tuple:
        """Smaller wins: own copy, then newest readings, fewest ABRs, lowest
        advertising router and LS ID (deterministic)."""
        return (self.leaked, -self.newest_ts, len(self.tlv.abr_chain), self.adv, self.lsid)


_NE_FIELDS = tuple(name for name, *_ in wire.NE_READINGS)
BACKBONE = "0.0.0.0"  # as paths.interarea (which sits above this module)


# TLVs that never enter ``graph()``: vectors, and a compute site's energy
# status and service instances (issue 9: a carbon-intensity change is no
# topology change, so it costs no graph rebuild nor path recomputation)
_OFF_GRAPH = (wire.ReachabilityVector, wire.NodeEnergy, wire.ServiceInstance)


def _vectors_only(tlvs) -> bool:
    """An LSA whose TLVs are all off-graph (reachability vectors, Node
    Energy, Service Instance; or none): it adds nothing to ``graph()``
    beyond its router."""
    return all(type(t) in _OFF_GRAPH for t in tlvs)


def _has_ep(tlvs) -> bool:
    return any(isinstance(t, wire.TEEndpoint) for t in tlvs)


def _graph_part(tlvs) -> list:
    return [t for t in tlvs if type(t) not in _OFF_GRAPH]


_MISSING = object()
_ident = itemgetter(0)


def _figures_only(old, new) -> bool:
    """One Link TLV replaced by one of the same link, addresses and
    generation: the pairing of ends stays, only arc figures change."""
    if len(old) != 1 or len(new) != 1:
        return False
    o, t = old[0], new[0]
    return (
        type(o) is wire.LinkTLV
        and type(t) is wire.LinkTLV
        and (o.link_id, o.local_addrs, o.remote_addrs, o.generation, o.link_type) == (t.link_id, t.local_addrs, t.remote_addrs, t.generation, t.link_type)
    )


class _Lsas(dict):
    """(adv router, lsid) -> TLV list, counting the changes that can alter
    ``TED.graph()`` (``topo``): a change to an LSA's TLVs other than
    vectors, Node Energy and Service Instance (``_OFF_GRAPH``), or a router
    appearing or vanishing. Replacing an LSA by an equal one
    counts nothing (a refresh)."""

    __slots__ = ("topo", "gen", "advs", "figlog", "epgen")

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.topo = 0
        self.gen = 0  # every change
        self.epgen = 0  # changes to LSAs carrying a TE Endpoint TLV (what ``TED.endpoints()`` reads)
        self.figlog: deque = deque(maxlen=64)  # (topo, adv, lsid, old TLV, new TLV): figure-only link changes
        self.advs: Counter = Counter(self._adv(k) for k in self)

    @staticmethod
    def _adv(key):
        return key[0] if isinstance(key, tuple) and key else key

    def __setitem__(self, key, tlvs):
        old = dict.get(self, key, _MISSING)
        dict.__setitem__(self, key, tlvs)
        self.gen += 1
        if _has_ep(tlvs) or (old is not _MISSING and _has_ep(old)):
            self.epgen += 1
        if old is _MISSING:
            adv = self._adv(key)
            self.advs[adv] += 1
            if self.advs[adv] == 1 or not _vectors_only(tlvs):
                self.topo += 1
        elif old != tlvs and _graph_part(old) != _graph_part(tlvs):
            self.topo += 1
            if _figures_only(old, tlvs) and isinstance(key, tuple) and len(key) == 2:
                self.figlog.append((self.topo, key[0], key[1], old[0], tlvs[0]))

    def __delitem__(self, key):
        old = dict.__getitem__(self, key)
        dict.__delitem__(self, key)
        self.gen += 1
        if _has_ep(old):
            self.epgen += 1
        adv = self._adv(key)
        self.advs[adv] -= 1
        if self.advs[adv] <= 0:
            del self.advs[adv]
            self.topo += 1
        elif not _vectors_only(old):
            self.topo += 1

    def pop(self, key, default=_MISSING):
        if key in self:
            v = dict.__getitem__(self, key)
            del self[key]
            return v
        if default is _MISSING:
            raise KeyError(key)
        return default

    def popitem(self):
        if not self:
            raise KeyError("popitem(): dictionary is empty")
        key = next(reversed(self))
        return key, self.pop(key)

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return dict.__getitem__(self, key)

    def update(self, *a, **kw):
        for key, v in dict(*a, **kw).items():
            self[key] = v

    def __ior__(self, other):
        self.update(other)
        return self

    def clear(self):
        dict.clear(self)
        self.advs.clear()
        self.topo += 1
        self.gen += 1
        self.epgen += 1

    def __reduce__(self):  # pickles (and copies) as a fresh counting dict
        return (_Lsas, (dict(self),))


class TED:
    def __init__(self, area: str, profile: str = "draft"):
        self.area = area
        self.profile = profile
        self.lsas = {}  # (adv router, lsid) -> list of TLVs (an _Lsas)
        self.stats: Counter = Counter()

    @property
    def lsas(self) -> dict:
        return self._lsas

    @lsas.setter
    def lsas(self, value) -> None:
        self._lsas = value if type(value) is _Lsas else _Lsas(value)

    @property
    def topology_generation(self) -> tuple:
        """Changes whenever ``graph()`` may change (compare with ``==``)."""
        return (id(self._lsas), self._lsas.topo, self.area)

    # -- updates -----------------------------------------------------------

    def apply(self, adv_router: str, lsid: str, body: bytes) -> bool:
        """Install or replace one LSA body. False if it was malformed (then
        the previous instance, if any, is kept)."""
        try:
            tlvs = wire.decode(body, self.profile)
        except wire.DecodeError as exc:
            self.stats["malformed"] += 1
            log.warning("area %s: dropped malformed PWR LSA %s from %s: %s", self.area, lsid, adv_router, exc)
            return False
        self.stats["updates"] += 1
        self.lsas[(adv_router, lsid)] = tlvs
        return True

    def apply_tlvs(self, adv_router: str, lsid: str, tlvs: list) -> None:
        self.lsas[(adv_router, lsid)] = list(tlvs)

    def withdraw(self, adv_router: str, lsid: str) -> bool:
        self.stats["withdrawals"] += 1
        return self.lsas.pop((adv_router, lsid), None) is not None

    def withdraw_router(self, adv_router: str) -> int:
        keys = [k for k in self.lsas if k[0] == adv_router]
        for k in keys:
            del self.lsas[k]
        return len(keys)

    # -- views -------------------------------------------------------------

    def _tlvs(self, cls):
        for (adv, lsid), tlvs in self.lsas.items():
            for t in tlvs:
                if isinstance(t, cls):
                    yield adv, lsid, t

    def _end_rows(self) -> list:
        """Newest advertisement of every link end as ``(ident, router,
        lsid, tlv, local, remote)`` rows, sorted by ident: ``ends()``
        without the objects (the graph is built from these)."""
        best: dict = {}
        for (adv, lsid), tlvs in self.lsas.items():
            for t in tlvs:
                if not isinstance(t, wire.LinkTLV):
                    continue
                la, ra = t.local_addrs, t.remote_addrs
                local = la[0] if la else None
                ident = (adv, t.link_id, local or lsid)  # LinkEnd.ident
                cur = best.get(ident)
                if cur is not None:
                    g_new, g_cur = t.generation or 0, cur[3].generation or 0
                    if not (serial_newer(g_new, g_cur) or (g_new == g_cur and lsid > cur[2])):
                        continue
                best[ident] = (ident, adv, lsid, t, local, ra[0] if ra else None)
        return sorted(best.values(), key=_ident)

    @staticmethod
    def _pairs(rows: list) -> list:
        """(near row, far row or None) indices of every end row: the far end
        is the one with the mirrored router IDs and addresses; an end
        without both addresses pairs only when it is the sole link between
        the two routers both ways."""
        by_addr: dict = {}
        by_pair: dict = {}
        for i, (_, adv, _, t, local, remote) in enumerate(rows):
            by_addr[(adv, t.link_id, local, remote)] = i
            by_pair.setdefault((adv, t.link_id), []).append(i)
        out = []
        for i, (_, adv, _, t, local, remote) in enumerate(rows):
            far = None
            if local and remote:
                far = by_addr.get((t.link_id, adv, remote, local))
            if far is None and not (local and remote):
                rev = by_pair.get((t.link_id, adv), ())
                if len(rev) == 1 and len(by_pair[(adv, t.link_id)]) == 1:
                    far = rev[0]
            out.append((i, far))
        return out

    def ends(self) -> list[LinkEnd]:
        """Newest advertisement of every link end."""
        return [LinkEnd(adv, lsid, t) for _, adv, lsid, t, _, _ in self._end_rows()]

    def links(self) -> list[TEDLink]:
        rows = self._end_rows()
        ends = [LinkEnd(adv, lsid, t) for _, adv, lsid, t, _, _ in rows]
        return [TEDLink(ends[i], None if j is None else ends[j]) for i, j in self._pairs(rows)]

    def routers(self) -> set:
        return {adv for adv, _ in self.lsas}

    def endpoints(self) -> dict:
        lsas = self._lsas
        c = self.__dict__.get("_endpoints_cache")
        if c is None or c[0] is not lsas or c[1] != lsas.epgen:  # only a TE Endpoint LSA's change changes it
            c = self.__dict__["_endpoints_cache"] = (lsas, lsas.epgen, {t.router_id: t for _, _, t in self._tlvs(wire.TEEndpoint)})
        return dict(c[2])  # the caller's own copy

    def area_borders(self) -> dict:
        return {t.router_id: t for _, _, t in self._tlvs(wire.AreaBorder)}

    def vectors(self) -> list:
        lsas = self._lsas
        c = self.__dict__.get("_vectors_cache")
        if c is None or c[0] is not lsas or c[1] != lsas.gen:
            c = self.__dict__["_vectors_cache"] = (lsas, lsas.gen, [(adv, lsid, t) for adv, lsid, t in self._tlvs(wire.ReachabilityVector)])
        return list(c[2])

    def _site_copies(self) -> tuple:
        """(energy, services) views, rebuilt when an LSA changed."""
        lsas = self._lsas
        c = self.__dict__.get("_sites_cache")
        if c is not None and c[0] is lsas and c[1] == lsas.gen:
            return c[2], c[3]
        abrs = self.area_borders()
        counted = self.__dict__.setdefault("_leak_counted", set())
        live = set()
        energy: dict = {}
        services: dict = {}
        for adv, lsid, t in self._tlvs((wire.NodeEnergy, wire.ServiceInstance)):
            why = self._bad_copy(adv, t, abrs)
            if why is not None:
                key = (why, adv, lsid, t)
                live.add(key)
                if key not in counted:
                    counted.add(key)
                    self.stats[why] += 1
                    log.warning("area %s: %s from %s (LSA %s) dropped: %s for site %s", self.area, type(t).__name__, adv, lsid, why, t.router_id)
                continue
            cp = SiteCopy(t, adv, lsid)
            if type(t) is wire.NodeEnergy:
                cur, k, into = energy.get(t.router_id), t.router_id, energy
            else:
                k = (t.router_id, t.service_id, t.address)
                cur, into = services.get(k), services
            if cur is None or cp.rank() < cur.rank():
                into[k] = cp
        counted &= live  # forget what is gone, so the set stays bounded
        self.__dict__["_sites_cache"] = (lsas, lsas.gen, energy, services)
        return energy, services

    def _bad_copy(self, adv: str, t, abrs: dict) -> str | None:
        """Why a site TLV advertised by ``adv`` is not believable, or None."""
        chain = tuple(t.abr_chain or ())
        if not chain:
            return None if t.router_id == adv and t.origin_area is None else "leak_unknown_origin"
        if chain[-1] != adv or adv not in abrs or t.router_id == adv or t.router_id in chain or t.origin_area in (None, self.area):
            return "leak_unknown_origin"
        # one ABR: it borders the origin area; two or more: the last learnt it in the backbone
        if (t.origin_area if len(chain) == 1 else BACKBONE) not in abrs[adv].areas:
            return "leak_unknown_origin"
        return None

    def energy(self) -> dict:
        """{site router ID: SiteCopy} of the Node Energy TLVs held here, own
        copies before leaked ones (module docstring)."""
        return dict(self._site_copies()[0])

    def services(self) -> dict:
        """{(site, service ID, address): SiteCopy} of the Service Instance
        TLVs held here, own copies before leaked ones."""
        return dict(self._site_copies()[1])

    def srv6(self) -> dict:
        """{router ID: (locator, End SID, {IPv4 prefix: End.DX4 SID})} from
        the SRv6 Locator TLVs (one per router; if a router sends several,
        the one of its highest LS ID wins)."""
        out: dict = {}
        for adv, _lsid, t in sorted(self._tlvs(wire.SRv6Locator), key=lambda x: (x[0], x[1])):
            out[adv] = (t.locator, t.end_sid, dict(t.dx4))
        return out

    def end_x(self) -> dict:
        """{(router ID, local IPv4 address): End.X SID} from the newest
        advertisement of every link end that carries one."""
        return {(e.router, e.local): e.tlv.end_x for e in self.ends() if e.tlv.end_x and e.local}

    def sid_adverts(self) -> list:
        """One dict per router with a locator, shaped like
        ``SidPlan.advertised()`` (router_id, locator, end, end_x, dx4)."""
        ex: dict = {}
        for (rid, local), sid in self.end_x().items():
            ex.setdefault(rid, {})[local] = sid
        return [
            {"router_id": rid, "locator": loc, "end": end, "end_x": ex.get(rid, {}), "dx4": dict(dx4)} for rid, (loc, end, dx4) in sorted(self.srv6().items())
        ]

    def graph(self, include_one_sided: bool = False) -> nx.MultiDiGraph:
        """The CSPF graph: one arc per advertised link direction, keyed by
        the near end's interface address, weighted by PWRLINK. Built once
        per topology generation and shared: read only."""
        lsas = self._lsas
        attr = "_graph_one_sided" if include_one_sided else "_graph_cache"
        c = self.__dict__.get(attr)
        if c is not None and c[0] is lsas and c[2] == self.area:
            if c[1] == lsas.topo:
                return c[3]
            # only figure changes of known links since: patch a copy
            log = [x for x in lsas.figlog if x[0] > c[1]]
            if not include_one_sided and len(log) == lsas.topo - c[1] and len(log) <= 64:
                G = self._patched(c[3], [x[1:] for x in log])
                if G is not None:
                    self.__dict__[attr] = (lsas, lsas.topo, self.area, G)
                    return G
        G = self._build_graph(include_one_sided)
        self.__dict__[attr] = (lsas, lsas.topo, self.area, G)
        return G

    def _build_graph(self, include_one_sided: bool) -> nx.MultiDiGraph:
        import networkx as nx  # here, not at the top (module docstring)

        G = nx.MultiDiGraph(area=self.area)
        for rid in sorted(self.routers()):
            G.add_node(rid)
        for rid, ep in self.endpoints().items():
            G.add_node(rid, te_endpoint=ep.flags)
        for rid, ab in self.area_borders().items():
            G.add_node(rid, abr=ab.areas)
        # the arcs of ``links()`` (the same pairing and figures, each end's
        # POWER computed once), added as ``G.add_edge`` would add them
        rows = self._end_rows()
        power = [metric.effective_metric(r[3].pwr_consumed, r[3].pwr_available) for r in rows]
        node, succ, pred = G._node, G._succ, G._pred
        for i, j in self._pairs(rows):
            if j is None and not include_one_sided:
                continue
            ident, u, lsid, t, _, remote = rows[i]
            pn = power[i]
            if j is None:
                w, pf = pn, None
            else:
                pf = power[j]
                ft = rows[j][3]
                w = metric.link_pwrlink(pn, pf, LinkEnd.weight_of(t), LinkEnd.weight_of(ft))
            if w is None:  # no PWR sub-TLV at either end: not a power-aware link
                continue
            d = _arc_dict(t, lsid, remote, j is None, w, pn, pf)
            v, key = t.link_id, ident[2]
            for n in (u, v):
                if n not in node:
                    succ[n], pred[n], node[n] = {}, {}, {}
            kd = succ[u].get(v)
            if kd is None:
                kd = succ[u][v] = pred[v][u] = {}  # one key dict for both sides, as networkx
            if key in kd:
                kd[key].update(d)
            else:
                kd[key] = d
        return G

    def _patched(self, G: nx.MultiDiGraph, changes: list) -> nx.MultiDiGraph | None:
        """A new graph equal to a rebuild after ``changes``, figure-only
        Link TLV replacements (same link, addresses and generation), made by
        copying ``G``'s structure and replacing only the arcs of the changed
        links (both directions: PWRLINK is the mean of both ends, draft sec.
        2.1.1); the other arcs' attribute dicts are shared with ``G``, which
        stays as it was. None when a change cannot be patched (then the
        caller rebuilds)."""
        import networkx as nx  # G exists: already imported

        if type(G) is not nx.MultiDiGraph or not all(hasattr(G, a) for a in ("_succ", "_pred", "_node")):
            return None
        arcs: dict = {}
        for adv, lsid, was, t in changes:
            cur = self._lsas.get((adv, lsid))
            if not cur or len(cur) != 1 or cur[0] is not t:
                return None  # replaced again since: rebuild
            near_key = t.local_addrs[0] if t.local_addrs else lsid
            ne = G._succ.get(adv, {}).get(t.link_id, {}).get(near_key)
            back = G._succ.get(t.link_id, {}).get(adv, {})
            if t.remote_addrs:
                far_key = t.remote_addrs[0]
            elif len(back) == 1:
                (far_key,) = back
            else:
                return None
            fe = back.get(far_key)
            if ne is None or fe is None or ne["one_sided"] or fe["one_sided"] or ne["lsid"] != lsid or fe["pwr_far"] != LinkEnd(adv, lsid, was).power:
                return None
            far_tlvs = [
                x
                for x in self._lsas.get((t.link_id, fe["lsid"]), ())
                if type(x) is wire.LinkTLV and x.link_id == adv and (x.local_addrs[:1] == (far_key,) or (not x.local_addrs and far_key == fe["lsid"]))
            ]
            if len(far_tlvs) != 1:
                return None
            near, far = LinkEnd(adv, lsid, t), LinkEnd(t.link_id, fe["lsid"], far_tlvs[0])
            if ne["pwr_far"] != far.power:
                return None
            dn, df = _arc(TEDLink(near, far)), _arc(TEDLink(far, near))
            if dn is None or df is None:
                return None
            arcs[(adv, t.link_id, near_key)] = dn
            arcs[(t.link_id, adv, far_key)] = df
        H = nx.MultiDiGraph()
        H.graph.update(G.graph)
        H._node = dict(G._node)  # node attribute dicts shared: unchanged
        succ, pred = dict(G._succ), dict(G._pred)
        own_s, own_p, own_k = set(), set(), {}
        for (u, v, key), d in arcs.items():
            if u not in own_s:
                succ[u] = dict(succ[u])
                own_s.add(u)
            if v not in own_p:
                pred[v] = dict(pred[v])
                own_p.add(v)
            kd = own_k.get((u, v))
            if kd is None:
                kd = own_k[(u, v)] = dict(succ[u][v])
                succ[u][v] = kd
                pred[v][u] = kd  # networkx shares one key dict between both sides
            kd[key] = d
        H._succ = H._adj = succ
        H._pred = pred
        _PATCHED_FROM[H] = (weakref.ref(G), frozenset(arcs))
        return H


_PATCHED_FROM: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # patched graph -> (ref to the graph it was patched from, arcs replaced)


def patch_origin(G) -> tuple | None:
    """(the graph ``G`` was patched from, the arcs ``(u, v, key)`` whose
    attributes were replaced) when ``graph()`` made ``G`` by patching a
    previous graph (figure-only link changes, ``TED._patched``), else None;
    also None once that graph is gone. Every other arc's attribute dict is
    the previous graph's own object."""
    origin = _PATCHED_FROM.get(G)
    if origin is None:
        return None
    prev = origin[0]()
    return None if prev is None else (prev, origin[1])


def _arc(l: TEDLink) -> dict | None:
    """The CSPF arc of one link direction, as ``TED.graph()`` gives it
    (``TEDLink.pwrlink``, each end's POWER computed once)."""
    near, far = l.near, l.far
    pn = near.power
    pf = far.power if far is not None else None
    w = pn if far is None else metric.link_pwrlink(pn, pf, near.weight, far.weight)
    if w is None:
        return None
    return _arc_dict(near.tlv, near.lsid, near.remote, l.one_sided, w, pn, pf)


def _arc_dict(t, lsid: str, remote, one_sided: bool, w: float, pn, pf) -> dict:
    """An arc's attributes from its near end's Link TLV and the link's
    PWRLINK ``w`` (the ends' POWER ``pn``, ``pf``)."""
    d = {
        "weight": w,
        "avail_bw": t.avail_bw if t.avail_bw is not None else float("inf"),
        "max_bw": t.max_bw,
        "admin_group": t.admin_group or 0,
        "delay": float(t.delay_us or 0),
        "te_metric": t.te_metric,
        "one_sided": one_sided,
        "pwr_near": pn,
        "pwr_far": pf,
        "lsid": lsid,
        "remote": remote,
    }
    dv = getattr(t, "delay_var_us", None)  # RFC 7471 sec. 4.3, when sent
    if dv is not None:
        d["delay_var"] = float(dv)
    return d
