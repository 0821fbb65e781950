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
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

import networkx as nx

from pyfrr_pwr.model import metric
from pyfrr_pwr.proto import wire

__all__ = ["TED", "LinkEnd", "TEDLink", "serial_newer"]

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
        return metric.capacity_weight(self.tlv.max_bw, self.tlv.highest_bw)


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


class TED:
    def __init__(self, area: str, profile: str = "draft"):
        self.area = area
        self.profile = profile
        self.lsas: dict = {}  # (adv router, lsid) -> list of TLVs
        self.stats: Counter = Counter()

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

    def ends(self) -> list[LinkEnd]:
        """Newest advertisement of every link end."""
        best: dict = {}
        for adv, lsid, t in self._tlvs(wire.LinkTLV):
            e = LinkEnd(adv, lsid, t)
            cur = best.get(e.ident)
            if cur is None:
                best[e.ident] = e
                continue
            g_new, g_cur = t.generation or 0, cur.tlv.generation or 0
            if serial_newer(g_new, g_cur) or (g_new == g_cur and lsid > cur.lsid):
                best[e.ident] = e
        return sorted(best.values(), key=lambda e: e.ident)

    def links(self) -> list[TEDLink]:
        ends = self.ends()
        by_addr = {(e.router, e.tlv.link_id, e.local, e.remote): e for e in ends}
        by_pair: dict = {}
        for e in ends:
            by_pair.setdefault((e.router, e.tlv.link_id), []).append(e)
        out = []
        for e in ends:
            far = None
            if e.local and e.remote:
                far = by_addr.get((e.tlv.link_id, e.router, e.remote, e.local))
            if far is None and not (e.local and e.remote):
                rev = by_pair.get((e.tlv.link_id, e.router), [])
                if len(rev) == 1 and len(by_pair[(e.router, e.tlv.link_id)]) == 1:
                    far = rev[0]
            out.append(TEDLink(e, far))
        return out

    def routers(self) -> set:
        return {adv for adv, _ in self.lsas}

    def endpoints(self) -> dict:
        return {t.router_id: t for _, _, t in self._tlvs(wire.TEEndpoint)}

    def area_borders(self) -> dict:
        return {t.router_id: t for _, _, t in self._tlvs(wire.AreaBorder)}

    def vectors(self) -> list:
        return [(adv, lsid, t) for adv, lsid, t in self._tlvs(wire.ReachabilityVector)]

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
        the near end's interface address, weighted by PWRLINK."""
        G = nx.MultiDiGraph(area=self.area)
        for rid in sorted(self.routers()):
            G.add_node(rid)
        for rid, ep in self.endpoints().items():
            G.add_node(rid, te_endpoint=ep.flags)
        for rid, ab in self.area_borders().items():
            G.add_node(rid, abr=ab.areas)
        for l in self.links():
            if l.one_sided and not include_one_sided:
                continue
            w = l.pwrlink
            if w is None:
                continue  # no PWR sub-TLV: not a power-aware link
            t = l.near.tlv
            G.add_edge(
                l.near.router,
                t.link_id,
                key=l.near.local or l.near.lsid,
                weight=w,
                avail_bw=t.avail_bw if t.avail_bw is not None else float("inf"),
                max_bw=t.max_bw,
                admin_group=t.admin_group or 0,
                delay=float(t.delay_us or 0),
                te_metric=t.te_metric,
                one_sided=l.one_sided,
                pwr_near=l.near.power,
                pwr_far=l.far.power if l.far else None,
                lsid=l.near.lsid,
                remote=l.near.remote,
            )
        return G
