"""Our own PWR LSAs: one per link end, and the node LSA (pure, no I/O).

Each link end is one area-scoped opaque LSA (type 10, RFC 5250 sec. 3)
holding one Link TLV (RFC 3630 sec. 2.4.2) with the draft's PWR sub-TLVs
(draft sec. 2.1.9); the node LSA holds the TE Endpoint and Area Border
TLVs (draft sec. 2) and, once the agent installed its SRv6 SIDs
(``srv6``, issue 7), the SRv6 Locator TLV; each Link TLV then carries its
End.X SID.

How updates travel (draft sec. 2.1.6 and the second sec. 2.2, dampening;
FRR facts in ../shared/notes): a new value is advertised only when its
banded metric leaves its interval (``metric.Banding``), and never more often
than ``min_interval`` per link. ospfd 8.4.4 refreshes an API opaque LSA at
most once per 5 s (OSPF_MIN_LS_INTERVAL), so an update is originated under
a NEW opaque ID with a higher ``generation`` first, and the old ID is
deleted after it (make-before-break); readers keep the newest generation
per link, so a link never disappears while it changes.

A link's advertisement is a state machine (``LinkState``, ``LinkEvent``,
``transition``): NOT_ADVERTISED, ADVERTISED, or DEFERRED (advertised, with a
newer value waiting out ``min_interval``). A request counts as done when it
is queued: ospfd answers only to refuse, so there is no "originating" state
to wait in, and a withdrawn or refused link is simply not advertised
again. A link whose LSA ospfd flushed behind our back (FLUSHED: the core
saw it deleted and not replaced, or missing from an LSDB re-sync, issue 11
sec. 2) goes back to NOT_ADVERTISED too, and the next evaluation
originates it again, under a new opaque ID. ``OwnLink.step`` is the only
place the state changes.

Issue 9 (CATS seed): a compute site floods its Node Energy and Service
Instance TLVs (``node_extra``, kept by the core: the energy TLV changes
only when ``cats.energy.EnergyAdvert`` says so, banded and rate-limited
there) in a *site LSA* of their own beside the node LSA, one per area
(``site_requests``: an energy update then replaces nothing the TE graph
is built from). A Link TLV carries the probes' RFC 7471 delay
figures (``delays``, else the configured ones). A delay-only change is
banded like PWR (draft sec. 2.2): each figure re-originates the link only
when it leaves its geometric band, and then under the same
``min_interval`` as a PWR change; a figure appearing or vanishing
re-originates. Probes' noise inside a band therefore floods nothing.

Nothing computed here may raise out of ``evaluate``: a link (or node LSA)
whose TLV cannot be built or encoded is skipped, logged and counted
(``metric_errors``, ``evaluate_errors``), and the others go out.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum

from pyfrr_pwr.files.power import PowerConfig
from pyfrr_pwr.model import advert, metric
from pyfrr_pwr.proto import ospfapi as api
from pyfrr_pwr.proto import wire

__all__ = ["LinkState", "LinkEvent", "TRANSITIONS", "IllegalTransition", "transition", "Attachment", "Session", "OwnLink", "NodeLsa", "Advertiser"]

log = logging.getLogger("pyfrr_pwr.agent")

DELAY_FIGURES = ("delay_us", "delay_min_us", "delay_max_us", "delay_var_us")  # RFC 7471 sec. 4.1-4.3


class LinkState(Enum):
    NOT_ADVERTISED = "not advertised"  # nothing of ours in the LSDB for this link
    ADVERTISED = "advertised"  # our LSA carries the current value (inside its band)
    DEFERRED = "deferred"  # advertised; a newer value waits out min_interval (sec. 2.1.6)


class LinkEvent(Enum):
    ORIGINATE = "originate"  # the link is up in a ready area: its first LSA
    REATTACH = "reattach"  # area, neighbour, addresses or reservations changed: a new LSA at once
    UPDATE = "update"  # the value left its band, or a deferred one is due: make-before-break
    DEFER = "defer"  # it left its band within min_interval of the last origination
    WITHDRAW = "withdraw"  # neighbour, interface or area gone: delete our LSA
    REFUSED = "refused"  # ospfd refused the origination (area not ready)
    FLUSHED = "flushed"  # ospfd deleted our LSA behind our back: originate anew
    RESET = "reset"  # the API session is gone, and ospfd flushed what we originated


_NA, _AD, _DE = LinkState.NOT_ADVERTISED, LinkState.ADVERTISED, LinkState.DEFERRED
_E = LinkEvent
TRANSITIONS = {
    (_NA, _E.ORIGINATE): _AD,
    (_AD, _E.REATTACH): _AD,
    (_DE, _E.REATTACH): _AD,
    (_AD, _E.UPDATE): _AD,
    (_DE, _E.UPDATE): _AD,
    (_AD, _E.DEFER): _DE,
    (_DE, _E.DEFER): _DE,
    (_AD, _E.WITHDRAW): _NA,
    (_DE, _E.WITHDRAW): _NA,
    (_AD, _E.REFUSED): _NA,
    (_DE, _E.REFUSED): _NA,
    (_NA, _E.FLUSHED): _NA,  # a flush of what we no longer advertise changes nothing
    (_AD, _E.FLUSHED): _NA,
    (_DE, _E.FLUSHED): _NA,
    (_NA, _E.RESET): _NA,
    (_AD, _E.RESET): _NA,
    (_DE, _E.RESET): _NA,
}


class IllegalTransition(ValueError):
    pass


def transition(state: LinkState, event: LinkEvent) -> LinkState:
    """The link advertisement's one transition function."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(f"no {event.value!r} from {state.value!r}") from None


@dataclass(frozen=True)
class Attachment:
    """What a link's LSA says besides its power: a change re-originates at
    once, past banding and min_interval (reserved bandwidth is a hard
    constraint, draft sec. 2.2)."""

    area: str
    nbr_id: str
    nbr_addr: str
    ifaddr: str
    reserved_bps: float
    end_x: str | None = None  # our End.X SID for the link (issue 7): a new one re-originates


@dataclass(frozen=True)
class Session:
    """What ospfd (and netlink) told the agent, as the advertiser reads it."""

    router_id: str | None
    ifaddrs: dict  # ifname -> IPv4 address
    ism: dict  # ifaddr -> area
    nbrs: dict  # (ifaddr, nbr_addr) -> (router_id, status)
    ready: set  # areas ospfd accepts type-10 originations in


@dataclass
class OwnLink:
    ifname: str
    # observed (ospfd, netlink)
    ifaddr: str | None = None
    area: str | None = None
    nbr_id: str | None = None
    nbr_addr: str | None = None
    # advertised
    state: LinkState = LinkState.NOT_ADVERTISED
    sent: Attachment | None = None
    opaque_id: int | None = None
    generation: int = 0  # keeps counting across withdrawals and sessions
    tlv: wire.LinkTLV | None = None
    band: metric.Banding | None = None
    last_sent: float = -math.inf

    @property
    def advertised(self) -> bool:
        return self.state is not LinkState.NOT_ADVERTISED

    @property
    def pending(self) -> bool:
        return self.state is LinkState.DEFERRED

    def step(self, event: LinkEvent, now: float | None = None, *, sent=None, opaque_id=None, tlv=None, band=None) -> LinkState:
        """Take ``event``; an origination (ORIGINATE, REATTACH, UPDATE) says
        what was sent. Every field changes here and nowhere else."""
        new = transition(self.state, event)
        if new is LinkState.NOT_ADVERTISED:
            self.sent = self.opaque_id = self.tlv = self.band = None
            if event in (LinkEvent.RESET, LinkEvent.FLUSHED):
                self.last_sent = -math.inf  # no min_interval wait for what is gone
        elif event is not LinkEvent.DEFER:
            if sent is None or opaque_id is None or tlv is None or now is None or (band is None and event is not LinkEvent.UPDATE):
                raise ValueError(f"{self.ifname}: {event.value} needs what was sent")
            self.sent, self.opaque_id, self.tlv, self.last_sent = sent, opaque_id, tlv, now
            if band is not None:
                self.band = band
        self.state = new
        return new


@dataclass
class NodeLsa:
    area: str
    opaque_id: int
    tlvs: list


class Advertiser:
    """Our links' and node's LSAs: decides, from what ospfd and netlink
    said and what was measured, which requests to send."""

    def __init__(self, cfg: PowerConfig, opaque_type: int, profile: str, min_interval: float, stats: Counter, alloc: Callable[[], int]):
        self.cfg = cfg
        self.opaque_type = opaque_type
        self.profile = profile
        self.min_interval = min_interval
        self.stats = stats
        self.alloc = alloc
        self.links = {ifn: OwnLink(ifn) for ifn in cfg.ports}
        self.node_lsas: dict = {}  # area -> NodeLsa
        self.site_lsas: dict = {}  # area -> NodeLsa: a compute site's Node Energy / Service Instance TLVs
        # our SRv6 SIDs as flooded (``SidPlan.advertised()``; None: no SRv6):
        # End.X per link in its Link TLV, the locator TLV in the node LSA
        self.srv6: dict | None = None
        # issue 9: a compute site's Node Energy and Service Instance TLVs
        # (router ID set per origination), and the probes' RFC 7471 figures
        # per port (``agent.probe.link_figures``: configured values win there)
        self.node_extra: list = []
        self.delays: dict = {}
        self.delay_bands: dict = {}  # ifname -> {figure: Banding} of what was advertised

    def end_x_of(self, ifaddr: str | None) -> str | None:
        return (self.srv6 or {}).get("end_x", {}).get(ifaddr) if ifaddr else None

    def used_ids(self) -> set:
        return (
            {l.opaque_id for l in self.links.values() if l.opaque_id is not None}
            | {n.opaque_id for n in self.node_lsas.values()}
            | {n.opaque_id for n in self.site_lsas.values()}
        )

    def wanted(self) -> set:
        """(area, opaque ID) of every LSA we mean to have in the LSDB."""
        return (
            {(l.sent.area, l.opaque_id) for l in self.links.values() if l.advertised}
            | {(n.area, n.opaque_id) for n in self.node_lsas.values()}
            | {(n.area, n.opaque_id) for n in self.site_lsas.values()}
        )

    def flushed(self, area: str, opaque_id: int) -> bool:
        """ospfd no longer holds our LSA ``opaque_id`` in ``area``: forget it
        (no delete request: it is gone), so the next evaluation originates
        it again under a new ID. True if it was one of ours."""
        hit = False
        for l in self.links.values():
            if l.advertised and l.opaque_id == opaque_id and l.sent.area == area:
                l.step(LinkEvent.FLUSHED)
                hit = True
        for lsas in (self.node_lsas, self.site_lsas):
            for a, n in list(lsas.items()):
                if a == area and n.opaque_id == opaque_id:
                    del lsas[a]
                    hit = True
        return hit

    def reset(self) -> None:
        """The API session is gone: ospfd flushed everything we originated."""
        self.node_lsas.clear()
        self.site_lsas.clear()
        for l in self.links.values():
            l.step(LinkEvent.RESET)

    def refused(self, opaque_id: int) -> None:
        """ospfd refused an origination (NOTREADY)."""
        for l in self.links.values():
            if l.advertised and l.opaque_id == opaque_id:
                l.step(LinkEvent.REFUSED)
        for lsas in (self.node_lsas, self.site_lsas):
            for a, n in list(lsas.items()):
                if n.opaque_id == opaque_id:
                    del lsas[a]

    def originate(self, area: str, tlvs: list, old_id: int | None) -> tuple[int, list]:
        """A new opaque ID for ``tlvs``, then the old one deleted
        (make-before-break)."""
        oid = self.alloc()
        body = wire.encode(tlvs, self.profile)
        reqs = [api.OriginateRequest(api.LSA_OPAQUE_AREA, self.opaque_type, oid, body, area=area)]
        if old_id is not None:
            reqs.append(api.DeleteRequest(api.LSA_OPAQUE_AREA, self.opaque_type, old_id, area))
        self.stats["originations"] += 1
        return oid, reqs

    def _delete(self, opaque_id: int, area: str):
        return api.DeleteRequest(api.LSA_OPAQUE_AREA, self.opaque_type, opaque_id, area)

    # -- decisions -----------------------------------------------------------

    @staticmethod
    def observe(l: OwnLink, s: Session) -> None:
        """Where the link is now: its address, area and Full neighbour."""
        l.ifaddr = s.ifaddrs.get(l.ifname)
        l.area = s.ism.get(l.ifaddr) if l.ifaddr else None
        full = sorted((addr, rid) for (ifa, addr), (rid, st) in s.nbrs.items() if ifa == l.ifaddr and st == api.NsmState.FULL and rid != s.router_id)
        if l.ifaddr and full:  # point-to-point: one neighbour
            l.nbr_addr, l.nbr_id = full[0]
        else:
            l.nbr_id = l.nbr_addr = None

    def evaluate(self, now: float, s: Session, available: Callable, reserved_bps: Callable, used_bps: dict, measured_w: dict) -> list:
        """Every link, then the node LSAs: the requests to send."""
        reqs: list = []
        for l in self.links.values():
            try:
                self.observe(l, s)
                want = None
                if l.area is not None and l.nbr_id is not None:
                    want = Attachment(l.area, l.nbr_id, l.nbr_addr, l.ifaddr, reserved_bps(l.ifname), self.end_x_of(l.ifaddr))
                reqs += self._link(
                    l,
                    want,
                    s.ready,
                    now,
                    lambda l=l: advert.link_tlv(
                        self.cfg,
                        l.ifname,
                        l.nbr_id,
                        l.ifaddr,
                        l.nbr_addr,
                        available(l.ifname),
                        used_bps,
                        measured_w=measured_w,
                        end_x=self.end_x_of(l.ifaddr),
                        delay=self.delays.get(l.ifname),
                    ),
                )
            except Exception as exc:  # one link's fault must not stop the others
                self._error(f"{l.ifname}: evaluation failed", exc)
        try:
            reqs += self.node_requests(s.router_id, set(s.ism.values()), s.ready)
        except Exception as exc:
            self._error("node LSA: evaluation failed", exc)
        return reqs

    def _error(self, what: str, exc: Exception) -> None:
        """Count, and log the first of every run of doublings (1, 2, 4, ...)
        so a fault repeated at every evaluation cannot flood the log."""
        self.stats["evaluate_errors"] += 1
        n = self.stats["evaluate_errors"]
        if n & (n - 1) == 0:
            log.warning("%s: %s: %s (evaluate_errors: %d)", what, type(exc).__name__, exc, n, exc_info=n == 1)

    def _link(self, l: OwnLink, want: Attachment | None, ready: set, now: float, make_tlv: Callable) -> list:
        if want is None or want.area not in ready:
            if not l.advertised:
                return []
            reqs = []
            if l.sent.area in ready:
                reqs.append(self._delete(l.opaque_id, l.sent.area))
                self.stats["withdrawals"] += 1
            l.step(LinkEvent.WITHDRAW)
            return reqs
        try:
            tlv = make_tlv()
        except ValueError as exc:
            self.stats["metric_errors"] += 1
            log.warning("%s: cannot compute POWER: %s", l.ifname, exc)
            return []
        value = metric.effective_metric(tlv.pwr_consumed, tlv.pwr_available)
        band = None
        if not l.advertised or l.sent != want:
            event = LinkEvent.REATTACH if l.advertised else LinkEvent.ORIGINATE
            band = metric.Banding.geometric(1e-15, 1e3, self.cfg.band_ratio, self.cfg.hysteresis)
            band.update(value)
            self._delay_moved(l.ifname, tlv, reset=True)
        else:
            moved = l.band.update(value) is not None
            moved = self._delay_moved(l.ifname, tlv) or moved
            if not moved and not l.pending:
                if replace(tlv, generation=l.generation) != l.tlv:
                    self.stats["suppressed"] += 1  # changed, but inside its band
                return []
            if now - l.last_sent < self.min_interval:
                l.step(LinkEvent.DEFER)  # sec. 2.1.6: not more often than min_interval
                self.stats["deferred"] += 1
                return []
            event = LinkEvent.UPDATE
        l.generation = (l.generation + 1) & 0xFFFFFFFF
        tlv = replace(tlv, generation=l.generation)
        reqs = []
        old = l.opaque_id if l.advertised and l.sent.area == want.area else None
        if l.advertised and old is None and l.sent.area in ready:
            reqs.append(self._delete(l.opaque_id, l.sent.area))  # moved areas: the old one goes first
        oid, r = self.originate(want.area, [tlv], old)
        l.step(event, now, sent=want, opaque_id=oid, tlv=tlv, band=band)
        return reqs + r

    def _delay_moved(self, ifname: str, tlv: wire.LinkTLV, reset: bool = False) -> bool:
        """Delay-only changes (issue 9 sec. 2) are banded like PWR (draft
        sec. 2.2, suppression of frequent updates): each RFC 7471 figure
        has geometric bands (ratio ``band_ratio``, ``hysteresis``, 1 us up)
        and re-originates the link only when it leaves its band, through
        the same min_interval rate limit as PWR (DEFER). A figure that
        appears or disappears counts as moved. ``reset``: a new LSA went
        out with ``tlv``, its figures are the bands' new reference."""
        bands = self.delay_bands.setdefault(ifname, {})
        moved = False
        for f in DELAY_FIGURES:
            v = getattr(tlv, f, None)
            b = bands.get(f)
            if v is None:
                if b is not None:
                    del bands[f]
                    moved = True
                continue
            if b is None or reset:
                b = bands[f] = metric.Banding.geometric(1.0, float(0xFFFFFF), self.cfg.band_ratio, self.cfg.hysteresis)
                b.update(float(v))
                moved = moved or not reset
            elif b.update(float(v)) is not None:
                moved = True
        return moved and not reset

    def node_requests(self, router_id: str | None, areas: set, ready: set) -> list:
        """TE Endpoint / Area Border TLVs, one node LSA per ready area."""
        reqs: list = []
        if router_id is None:
            return reqs
        for area in sorted(areas & ready):
            tlvs = advert.node_tlvs(self.cfg, router_id, areas, self.srv6 if self.srv6 and self.srv6.get("router_id") == router_id else None)
            cur = self.node_lsas.get(area)
            if not tlvs:
                continue
            if cur is None or cur.tlvs != tlvs:
                oid, r = self.originate(area, tlvs, cur.opaque_id if cur else None)
                self.node_lsas[area] = NodeLsa(area, oid, tlvs)
                reqs += r
        return reqs + self.site_requests(router_id, areas, ready)

    def site_requests(self, router_id: str, areas: set, ready: set) -> list:
        """A compute site's Node Energy and Service Instance TLVs (issue 9,
        ``node_extra``), one LSA per ready area beside the node LSA. Their
        own LSA, so that an energy change (make-before-break: a new opaque
        ID, then the old one deleted) replaces an LSA of nothing but these
        TLVs, which TEDs can tell from a topology change, and the node
        LSA's TE Endpoint / Area Border / SRv6 TLVs are not sent again at
        every energy update."""
        reqs: list = []
        tlvs = [replace(t, router_id=router_id) for t in self.node_extra]
        for area in sorted(set(self.site_lsas) | (areas & ready)):
            cur = self.site_lsas.get(area)
            if not tlvs or area not in areas & ready:
                if cur is not None:  # no longer a site, or the area is gone
                    if area in ready:
                        reqs.append(self._delete(cur.opaque_id, area))
                        self.stats["withdrawals"] += 1
                    del self.site_lsas[area]
                continue
            if cur is None or cur.tlvs != tlvs:
                oid, r = self.originate(area, tlvs, cur.opaque_id if cur else None)
                self.site_lsas[area] = NodeLsa(area, oid, tlvs)
                reqs += r
        return reqs

    # -- view ------------------------------------------------------------------

    def show(self, link_speed: dict) -> list:
        out = []
        for l in self.links.values():
            t = l.tlv
            out.append(
                {
                    "interface": l.ifname,
                    "address": l.ifaddr,
                    "area": l.area,
                    "neighbor": l.nbr_id,
                    "advertised": l.advertised,
                    "lsid": wire.make_lsid(self.opaque_type, l.opaque_id) if l.opaque_id is not None else None,
                    "generation": l.generation,
                    "power_consumed": t.pwr_consumed if t else None,
                    "power_available": t.pwr_available if t else None,
                    "avail_bw": t.avail_bw if t else None,
                    "link_speed": link_speed.get(l.ifname),
                    "pending": l.pending,
                    "state": l.state.value,
                }
            )
        return out
