"""The per-router agent's pure decision layer: ``AgentCore``.

It takes OSPF API messages (RFC 2328 interface and neighbour states, our
area-scoped opaque LSAs, RFC 5250 sec. 3), interface addresses and
measurements, keeps one TED per area, and returns the API requests to send.
No I/O: the asyncio shells (``daemon``, ``signalling``, ``measure``) feed it.
It composes one part per concept:

* ``advertise``: our links' and node's PWR LSAs (draft sec. 2.1.6, 2.1.9);
* ``vectors``: an ABR's reachability vectors (draft sec. 2.1, 2.1.9);
* ``headend``: the head-end's inter-area choice (draft sec. 2.2);
* ``reservations``: bandwidth reserved on our links (draft sec. 2.2);
* ``control``: the control socket's answers;
* ``cats`` (issue 9): a compute site's energy status (``set_energy``, banded
  by ``cats.energy.EnergyAdvert``) and service instances ride in the node
  LSA; the probes' delay figures (``set_delays``) in the Link TLVs;
  ``timings`` counts and times the computations for ``agent.exporter``;
* ``srv6`` / ``sidplan`` (shell and plan, fed in by the daemon): our SRv6
  SIDs, flooded through ``advertise`` (``set_srv6``); ``sid_table`` is
  what the TEDs learnt of everyone's, as a ``dataplane.sidlist.SidTable``.

What arrives from the network is hostile (issue 11 sec. 1): nothing the
core computes from it raises out of ``handle``, ``evaluate``, ``tick`` or
``apply_vectors``. A fault is logged, counted in ``stats`` under a named
reason (``ted_apply_errors``, ``evaluate_errors``, ``dropped_vector_encode``,
...) and the rest is served.

Restart safety (issue 11 sec. 2), the rules:

* LSDB sync. After a (re)connect nothing is originated until the LSDB sync
  is complete (``awaiting_sync``; the daemon's sentinel rule decides when,
  see ``daemon``), so the opaque IDs ospfd already holds for us are known.
* Opaque IDs. Our LSAs (advertising router = our router ID, our opaque
  type) that the sync or any notification reports, live or at MaxAge, are
  remembered (``own_ids``, for an hour, MaxAge plus margin); new IDs are
  allocated after the highest of them and never one of them, and (with
  ``on_id_block``, the daemon's state file) after every ID an earlier
  process of ours handed out. A new LSA therefore never has the LS ID of
  a copy a neighbour may still hold at MaxAge, whose sequence number the
  new instance's initial one would collide with (RFC 2328 sec. 13.1, 13.4).
* Re-origination. An LSA of ours that we still want and that ospfd deletes
  (a delete notification not followed within ``FLUSH_GRACE`` s by the
  update of a replacement, at once for a MaxAge one, or absent from a
  re-sync) is originated again under a new ID (``reoriginated_flushed``).
  A live LSA of ours this session never originated (a leftover) is taken
  over and deleted (``stale_own_flushed``).
* Re-sync. The TED is implausible when one of our advertised LSAs is
  missing from our own TED for ``OWN_MISSING_S`` s, or a link between two
  routers that both advertise is one-sided for ``ONE_SIDED_S`` s;
  ``resync_due`` then asks for a new LSDB sync, at most every
  ``RESYNC_MIN_S`` s, the interval doubling (to ``RESYNC_MAX_S``) while
  re-syncs change nothing.
* Age-out. An LSA of our opaque type whose advertising router has no
  router LSA (type 1) in that area for ``ORPHAN_GRACE`` s (10 s) is dropped
  from our TED (never from ospfd's LSDB), counted in ``aged_out_lsas``;
  it comes back with the next update after the router LSA does. The rule
  holds in an area once a router LSA was seen there (the daemon
  subscribes to type 1 as well as type 10), so a core fed no router LSAs
  ages nothing out.

The head-end's view (issue 10). ``ted_gen`` counts TED changes. The daemon
publishes a settled copy of the TEDs (``publish_view``) after a burst of
changes; ``path_choice`` then chooses from that view, never from a mix of
old and new vectors, and remembers each choice asked for (at most
``MAX_CHOICES``) so that the daemon recomputes them from the next view at
once (``compute_choices``, ``store_choices``): the choice follows the LSA
that changed, a query reads it.

Suppressed vectors (draft sec. 2.2, suppression of frequent updates): an
ABR's vector whose new value stays inside its band is not re-originated;
if the exact value advertised then differs from the current one for
``VECTOR_REFRESH_S`` s, it goes out after all (``vectors_refreshed``), so
banding delays a value but never keeps an old one for ever (the stale
reserved-era vector that kept a released path's PWR from coming back).
"""

from __future__ import annotations

import logging
from collections import Counter
from types import SimpleNamespace

from pyfrr_pwr.agent import reservations as res
from pyfrr_pwr.agent.advertise import Advertiser, LinkState, OwnLink, Session
from pyfrr_pwr.agent.exporter import Timings
from pyfrr_pwr.agent.headend import choose
from pyfrr_pwr.agent.leak import Leaker
from pyfrr_pwr.agent.vectors import AbrVectors
from pyfrr_pwr.cats import energy as cats_energy
from pyfrr_pwr.cats import service as cats_service
from pyfrr_pwr.files.power import PowerConfig
from pyfrr_pwr.model import metric
from pyfrr_pwr.model.constraints import Constraints
from pyfrr_pwr.model.ted import TED
from pyfrr_pwr.proto import ospfapi as api
from pyfrr_pwr.proto import wire
from pyfrr_pwr.proto.control import AgentRefusal, PathChoice

__all__ = ["AgentCore", "OwnLink"]

log = logging.getLogger("pyfrr_pwr.agent")

MAX_AGE = 3600  # RFC 2328 sec. B, MaxAge
LSA_ROUTER = 1
ID_SPACE = 1 << 24  # opaque IDs are 24 bits (RFC 5250 sec. 3)
ID_BLOCK = 4096  # IDs reserved per write of the state file (on_id_block)
OWN_ID_MEMORY_S = MAX_AGE + 300.0  # how long an ID of ours is never reused
FLUSH_GRACE = 0.5  # s: a delete of our LSA not replaced by then is a flush
ORPHAN_GRACE = 10.0  # s without a router LSA before the originator's LSAs age out
OWN_MISSING_S = 3.0
ONE_SIDED_S = 10.0
RESYNC_MIN_S, RESYNC_MAX_S = 30.0, 600.0
TICK_EVALUATE_S = 5.0  # at rest, tick evaluates this often (belt and braces)
MAX_CHOICES = 256  # head-end choices remembered and recomputed per view
VECTOR_REFRESH_S = 2.0  # a suppressed vector change goes out after this long
# telemetry reading names (files.energycfg.READINGS) -> Node Energy fields
# (cats.energy.FIELDS); the units are checked by cats.energy.status_of
READING_FIELDS = {
    "power": "power_w",
    "capacity": "capacity_w",
    "energy": "energy_j",
    "supply_load": "supply_load",
    "green_share": "green_share",
    "price": "price_per_mwh",
    "carbon_intensity": "carbon_g_per_kwh",
}


_LEAK_TLVS = (wire.NodeEnergy, wire.ServiceInstance, wire.AreaBorder)  # what agent.leak's plan reads
LEAK_CHECK_S = 5.0  # s between staleness checks of leaked readings


def _leak_max_age(cfg) -> float:
    """A leaked reading's age limit: the site setting's (cats.energy_advert.max_age)."""
    ea = getattr(getattr(cfg, "cats", None), "energy_advert", None) or {}
    return float(ea.get("max_age", 300.0))


def _age(h) -> int:
    return h.age & 0x7FFF  # without DoNotAge (RFC 1793)


class AgentCore:
    def __init__(
        self,
        cfg: PowerConfig,
        opaque_type: int = wire.DEFAULT_OPAQUE_TYPE,
        profile: str = "draft",
        min_interval: float = 1.0,
    ):
        self.cfg = cfg
        self.opaque_type = opaque_type
        self.profile = profile
        self.min_interval = min_interval
        self.router_id: str | None = None
        self.ifaddrs: dict = {}  # ifname -> IPv4 address (netlink)
        self.ism: dict = {}  # ifaddr -> area (ospfd)
        self.nbrs: dict = {}  # (ifaddr, nbr_addr) -> (router_id, status)
        self.ready: set = set()  # areas ospfd accepts our type-10 LSAs in
        self.teds: dict = {}
        self.used_bps: dict = {}
        self.measured_w: dict = {}
        self.next_id = 1
        self.stats: Counter = Counter()
        self.ted_changed_at: dict = {}  # (adv, link_id, local) -> monotonic time of last TED change
        self.resync_seen: set | None = None  # during an LSDB re-sync: (area, adv, lsid) reported
        self.synced = False  # the LSDB sync of the current API session is complete
        self.awaiting_sync = False  # after session_reset, until resync_done: originate nothing
        self.api_problem: str | None = None  # what keeps us from using ospfd's API (status)
        # restart safety (module docstring)
        self.own_ids: dict = {}  # opaque ID of ours ospfd holds or held -> last noticed
        self.session_ids: set = set()  # IDs allocated in this API session
        self.on_id_block = None  # f(first ID not yet handed out): persist it
        self._id_steps = 0  # allocations left before on_id_block is due
        self.flush_pending: dict = {}  # (area, opaque ID) of ours deleted, not replaced yet -> when
        self._given_up: set = set()  # (area, opaque ID) of ours taken for flushed this session
        self.router_lsas: dict = {}  # area -> router IDs with a router LSA there
        self.orphan_since: dict = {}  # (area, adv) without a router LSA -> since when
        self._aged_out: set = set()  # (area, adv) whose LSAs we aged out
        self._asked_resync: str | None = None
        self._resync_routers: set | None = None
        self._resync_wanted: set = set()
        self._resync_changes = 0
        self._resync_interval = RESYNC_MIN_S
        self._resync_ok_at = -float("inf")
        self._implausible_since: dict = {}  # what looked wrong -> since when
        self.link_speed: dict = {}  # ifname -> negotiated bits/s (ethtool)
        self.reservations: dict = {}  # id -> {"ifname": str|None, "bw": bytes/s, "next": router ID|None}
        self.srv6_status: dict | None = None  # the SRv6 shell's status (daemon), None: not started
        self.adv = Advertiser(cfg, opaque_type, profile, min_interval, self.stats, self._alloc)
        self.abr = AbrVectors(cfg, opaque_type, profile, self.stats, self._alloc)
        # issue 9 sec. 3: an ABR leaks compute sites' energy/service TLVs across areas
        self.leak = Leaker(opaque_type, profile, self.stats, self._alloc, max_age=_leak_max_age(cfg))
        self.leak_dirty = False  # a site TLV (or an ABR) changed in some TED since the last leak_update
        self._leak_checked = -float("inf")  # wall time readings were last checked for staleness
        self._wall_skew: float | None = None  # unix time - monotonic time, as the daemon last said
        self.ted_gen = 0  # counts TED changes (the daemon's loops follow it)
        self.view: dict | None = None  # the head-end's settled TEDs (publish_view); None: the live ones
        self.view_gen = -1
        self._choices: dict = {}  # key -> (view_gen, PathChoice | AgentRefusal)
        self._choice_args: dict = {}  # key -> (dst, k, constraints), oldest first
        self._vec_sent: dict = {}  # vector key -> (VecLsa originated, its exact value)
        self._vec_stale: dict = {}  # vector key -> since when the advertised value is not the exact one
        self._tick_evaluated = -float("inf")
        self.timings = Timings()  # computations and their durations (agent.exporter)
        # issue 9: a compute site's energy status and service instances
        self.energy: cats_energy.EnergyAdvert | None = None
        self.energy_tlv = None  # the Node Energy TLV as last built (router ID set per origination)
        self.delays: dict = {}  # ifname -> RFC 7471 figures fed by the probes (set_delays)
        self._setup_cats(cfg)

    # -- the parts' state, under the names it always had ------------------------

    @property
    def links(self) -> dict:
        return self.adv.links

    @property
    def node_lsas(self) -> dict:
        return self.adv.node_lsas

    @property
    def vec_state(self) -> dict:
        """ABR: vectors originated, (into area, chain, described area) -> VecLsa."""
        return self.abr.lsas

    @property
    def vectors_dirty(self) -> bool:
        return self.abr.dirty

    @vectors_dirty.setter
    def vectors_dirty(self, v: bool) -> None:
        self.abr.dirty = v
        if v:  # set where a TED changes
            self.ted_gen += 1
            self.stats["ted_changes"] += 1

    # -- session -------------------------------------------------------------

    def session_reset(self) -> None:
        """ospfd went away: it flushed everything we originated. The TEDs are
        kept (stale but useful) until the next LSDB sync says what is gone;
        nothing is originated before it is complete (``resync_done``)."""
        self.ready.clear()
        self.ism.clear()
        self.nbrs.clear()
        self.adv.reset()
        self.abr.reset()
        self.leak.reset()
        self.resync_seen = set()
        self._resync_routers = set()
        self._resync_wanted = set()
        self._resync_changes = 0
        self.session_ids = set()
        self.flush_pending.clear()
        self._given_up = set()
        self._implausible_since.clear()
        self.synced = False
        self.awaiting_sync = True

    def begin_resync(self, now: float | None = None) -> None:
        """A new LSDB sync within the session (``resync_due``): what it does
        not report is dropped at ``resync_done``, and so is every LSA of ours
        we want now and it does not report (then originated again)."""
        self.resync_seen = set()
        self._resync_routers = set()
        self._resync_wanted = self._wanted()
        self._resync_changes = 0

    def abort_resync(self) -> None:
        self.resync_seen = self._resync_routers = None
        self._resync_wanted = set()

    def resync_done(self) -> int:
        """The LSDB sync is complete: drop every LSA it did not report (and
        every router LSA), re-originate ours it did not report. Returns how
        many LSAs were dropped; the next ``evaluate`` originates."""
        seen, self.resync_seen = self.resync_seen, None
        routers, self._resync_routers = self._resync_routers, None
        self.synced = True
        self.awaiting_sync = False
        if seen is None:
            return 0
        gone = 0
        for area, ted in self.teds.items():
            for key in [k for k in ted.lsas if (area, *k) not in seen]:
                del ted.lsas[key]
                gone += 1
        if routers is not None:
            for area, rs in self.router_lsas.items():
                rs &= {adv for a, adv in routers if a == area}
        lost = 0
        for area, oid in self._resync_wanted & self._wanted():
            if (area, self.router_id, wire.make_lsid(self.opaque_type, oid)) not in seen:
                lost += self._flushed(area, oid, "missing from the LSDB re-sync")
        self._resync_wanted = set()
        self._resync_changes += gone + lost
        self.leak_dirty = True  # the next LSA or tick leaks what the synced TEDs hold
        if gone:
            self.vectors_dirty = True
        return gone

    @property
    def resync_changed(self) -> int:
        """What the last sync changed: LSAs added, dropped, re-originated."""
        return self._resync_changes

    def _wanted(self) -> set:
        return self.adv.wanted() | self.abr.wanted() | self.leak.wanted()

    def _alloc(self, taken: set = frozenset()) -> int:
        """A free 24-bit opaque ID (RFC 5250 sec. 3) for any LSA of ours:
        the next one, never one we hold, nor one ospfd holds or held for us
        (``own_ids``)."""
        used = self.adv.used_ids() | self.abr.used_ids() | self.leak.used_ids() | taken
        for _ in range(ID_SPACE):
            oid = self.next_id
            self.next_id = self.next_id + 1 if self.next_id < ID_SPACE - 1 else 1
            self._id_steps -= 1
            if oid not in used and oid not in self.own_ids:
                break
        else:
            raise RuntimeError("no free opaque ID")
        if self._id_steps <= 0 and self.on_id_block is not None:
            # persisted before the ID is used: a later process starts past it
            mark = (oid + ID_BLOCK) % ID_SPACE or 1
            try:
                self.on_id_block(mark)
            except Exception as exc:  # the LSDB sync still protects us
                self.report("id_state_errors", exc, "cannot persist the opaque ID mark")
            self._id_steps = ID_BLOCK
        self.session_ids.add(oid)
        return oid

    def continue_ids_past(self, oid: int) -> None:
        """Allocate after ``oid`` from now on if it is ahead of ``next_id``
        (24-bit serial order: at most half the space ahead)."""
        if 0 <= (oid - self.next_id) % ID_SPACE < ID_SPACE // 2:
            self.next_id = oid + 1 if oid < ID_SPACE - 1 else 1
            self._id_steps = 0  # a new block: persist the new mark

    def report(self, reason: str, exc: BaseException, what: str = "") -> None:
        """Count a fault under ``reason`` and log it (the 1st, 2nd, 4th, ...
        of each reason, so a fault repeated at every message cannot flood
        the log); the agent goes on."""
        self.stats[reason] += 1
        n = self.stats[reason]
        if n & (n - 1) == 0:
            log.warning("%s%s: %s (%s: %d so far)", f"{what}: " if what else "", type(exc).__name__, exc, reason, n, exc_info=n == 1)

    def ted(self, area: str) -> TED:
        if area not in self.teds:
            self.teds[area] = TED(area, self.profile)
        return self.teds[area]

    # -- inputs ----------------------------------------------------------------

    def _ours(self, lsa_type: int, opaque_type: int) -> bool:
        return lsa_type == api.LSA_OPAQUE_AREA and opaque_type == self.opaque_type

    def handle(self, m, now: float) -> list:
        """One message from ospfd -> requests to send. Never raises: a fault
        is counted (``handle_errors``) and the message dropped."""
        try:
            return self._handle(m, now)
        except Exception as exc:
            self.report("handle_errors", exc, f"dropped {type(m).__name__}")
            return []

    def _handle(self, m, now: float) -> list:
        if isinstance(m, api.RouterIdChange):
            self.router_id = m.router_id if m.router_id != "0.0.0.0" else None
        elif isinstance(m, api.ReadyNotify):
            if self._ours(m.lsa_type, m.opaque_type):
                self.ready.add(m.addr)
        elif isinstance(m, (api.NewIf, api.IsmChange)):
            if isinstance(m, api.IsmChange) and m.status <= api.IsmState.DOWN:
                self.ism.pop(m.ifaddr, None)
            else:
                self.ism[m.ifaddr] = m.area
        elif isinstance(m, api.DelIf):
            self.ism.pop(m.ifaddr, None)
        elif isinstance(m, api.NsmChange):
            # ospfd also reports its per-interface "self" neighbour
            # (nbr_self, our own router ID): keyed by neighbour address too
            key = (m.ifaddr, m.nbraddr)
            if m.status <= api.NsmState.DOWN:
                self.nbrs.pop(key, None)
            else:
                self.nbrs[key] = (m.router_id, m.status)
        elif isinstance(m, (api.LsaUpdate, api.LsaDelete)):
            return self._lsa(m, now)
        return self.evaluate(now)

    def _lsa(self, m, now: float) -> list:
        h = m.header
        live = isinstance(m, api.LsaUpdate) and _age(h) < MAX_AGE  # a sync reports MaxAge copies too
        if h.type == LSA_ROUTER:
            rs = self.router_lsas.setdefault(m.area, set())
            if live:
                rs.add(h.adv_router)
                self.orphan_since.pop((m.area, h.adv_router), None)
                if (m.area, h.adv_router) in self._aged_out:
                    # its LSAs are still in ospfd's LSDB, not in our TED
                    self._aged_out.discard((m.area, h.adv_router))
                    self._asked_resync = f"router {h.adv_router} has a router LSA in area {m.area} again, after its LSAs aged out"
                if self._resync_routers is not None:
                    self._resync_routers.add((m.area, h.adv_router))
            else:
                rs.discard(h.adv_router)
            return []
        if not self._ours(h.type, h.opaque_type):
            return []
        reqs: list = []
        if h.adv_router == self.router_id or (self.router_id is None and m.self_originated):
            reqs = self._own_lsa(m, live, now)
        ted = self.ted(m.area)
        self.vectors_dirty = True
        was = ted.lsas.get((h.adv_router, h.lsid), ())
        if live:
            if self.resync_seen is not None:
                self.resync_seen.add((m.area, h.adv_router, h.lsid))
                if (h.adv_router, h.lsid) not in ted.lsas:
                    self._resync_changes += 1
            try:
                ok = ted.apply(h.adv_router, h.lsid, m.body)
            except Exception as exc:  # DecodeError is handled in apply; anything else is a fault
                self.report("ted_apply_errors", exc, f"area {m.area}: LSA {h.lsid} from {h.adv_router} dropped")
                return reqs
            if ok:
                self._touch(ted, h.adv_router, h.lsid, now)
            else:
                self.stats["malformed_lsas"] += 1
        else:
            ted.withdraw(h.adv_router, h.lsid)
        if any(type(t) in _LEAK_TLVS for t in (*was, *ted.lsas.get((h.adv_router, h.lsid), ()))):
            self.leak_dirty = True
            reqs += self.leak_update(now)
        return reqs

    def _own_lsa(self, m, live: bool, now: float) -> list:
        """An LSA of ours in ospfd's LSDB (restart safety, module docstring)."""
        h, area = m.header, m.area
        oid = h.opaque_id
        new = oid not in self.own_ids
        self.own_ids[oid] = now
        if new and self.awaiting_sync:
            self.stats["own_lsas_learnt"] += 1
        self.continue_ids_past(oid)
        key = (area, oid)
        if live:
            self.flush_pending.pop(key, None)  # a replacement: delete, then this update
            if key in self._wanted():
                return []
            if key in self._given_up:
                # we took it for flushed, but ospfd still holds it (a late
                # replacement): ours in this session, so a plain delete
                self._given_up.discard(key)
                self.stats["late_replacement_deleted"] += 1
                return [api.DeleteRequest(api.LSA_OPAQUE_AREA, self.opaque_type, oid, area)]
            if oid in self.session_ids:
                return []  # one we replaced or withdrew; its update came late
            # live, ours, and not from this session: a leftover of an earlier
            # agent or ospfd. ospfd deletes only LSAs its client originated,
            # so take it over (same LS ID: ospfd replaces it, past its
            # sequence number) and delete it
            self.session_ids.add(oid)
            self.stats["stale_own_flushed"] += 1
            log.info("area %s: flushing %s, a leftover LSA of ours", area, h.lsid)
            return [
                api.OriginateRequest(api.LSA_OPAQUE_AREA, self.opaque_type, oid, b"", area=area),
                api.DeleteRequest(api.LSA_OPAQUE_AREA, self.opaque_type, oid, area),
            ]
        if key not in self._wanted():
            return []  # one we deleted (make-before-break, withdrawal), or MaxAge from before
        if isinstance(m, api.LsaUpdate) or _age(h) >= MAX_AGE:
            self._flushed(area, oid, "flushed (MaxAge)")
            return self.evaluate(now)
        # ospfd reports a replaced instance as a delete and then an update:
        # the delete is a flush only if no update follows (tick)
        self.flush_pending.setdefault(key, now)
        return []

    def _flushed(self, area: str, oid: int, why: str) -> int:
        """ospfd no longer holds our LSA (area, oid) that we still want: it
        goes out again under a new ID at the next evaluation."""
        self.flush_pending.pop((area, oid), None)
        hit = self.adv.flushed(area, oid) | self.abr.flushed(area, oid)
        if self.leak.flushed(area, oid):
            hit = self.leak_dirty = True
        if hit:
            self._given_up.add((area, oid))
            self.stats["reoriginated_flushed"] += 1
            log.warning("area %s: our LSA %s was %s; originating it again under a new opaque ID", area, wire.make_lsid(self.opaque_type, oid), why)
        return int(hit)

    def _touch(self, ted: TED, adv: str, lsid: str, now: float) -> None:
        for t in ted.lsas.get((adv, lsid), []):
            if isinstance(t, wire.LinkTLV):
                self.ted_changed_at[(adv, t.link_id, t.local_addrs[0] if t.local_addrs else lsid)] = now

    def set_interfaces(self, ifaddrs: dict, now: float) -> list:
        self.ifaddrs = dict(ifaddrs)
        return self.evaluate(now)

    def set_measurements(self, used_bps: dict, measured_w: dict, now: float) -> list:
        self.used_bps = dict(used_bps)
        self.measured_w = dict(measured_w)
        return self.evaluate(now)

    # -- computing-power collaboration (issue 9) ----------------------------------

    def _setup_cats(self, cfg: PowerConfig) -> None:
        """From ``cfg.cats`` (``files.catscfg.CatsSettings``): a site
        (``cats.site``) gets an ``EnergyAdvert`` (kept across reloads with
        the same settings, so the bands and rate limit carry on) and
        advertises its service instances in the node LSA."""
        cats = getattr(cfg, "cats", None)
        if cats is not None and getattr(cats, "site", False):
            kw = dict(getattr(cats, "energy_advert", None) or {})
            if self.energy is None or self._energy_kw != kw:
                self.energy = cats_energy.EnergyAdvert(**kw)
                self.energy_tlv = None
            self._energy_kw = kw
            services = cats_service.service_tlvs("0.0.0.0", getattr(cats, "services", ()) or ())
        else:
            self.energy = self.energy_tlv = None
            self._energy_kw = None
            services = []
        self._services = services
        self._node_extra()

    def _node_extra(self) -> None:
        self.adv.node_extra = ([self.energy_tlv] if self.energy_tlv is not None else []) + list(self._services)

    def set_energy(self, status: dict, now: float, wall: float) -> list:
        """The site's newest energy status (``cats.energy.status_of``;
        ``wall``: unix time, the readings' clock). The Node Energy TLV goes
        out again only when ``EnergyAdvert`` says it is due (banded,
        rate-limited, draft sec. 2.2); a held-back change goes out at a
        later call (the daemon calls every energy interval, and when
        ``energy_due`` says). Never raises (``energy_errors``)."""
        if self.energy is None:
            return []
        try:
            with self.timings("energy"):
                due = self.energy.update(status, wall)
                for k, v in self.energy.stats.items():  # the advert's drop reasons, under our stats
                    self.stats[k] = v
                if not due:
                    return []
                tlv = self.energy.tlv(self.router_id or "0.0.0.0", wall)
                self.stats["energy_originations"] = self.energy.stats["energy_originations"]
                if tlv == self.energy_tlv:
                    return []
                self.energy_tlv = tlv
                self._node_extra()
        except Exception as exc:
            self.report("energy_errors", exc, "energy status dropped")
            return []
        return self.evaluate(now)

    @staticmethod
    def energy_status(readings, stats: Counter | None = None, supply_capacity_w: float | None = None) -> dict:
        """An energy status dict (``cats.energy.status_of``) from the
        telemetry poller's readings (``telemetry.energy.Reading``), their
        names mapped to the Node Energy fields (``READING_FIELDS``). The TLV
        carries the supply load as a share of the supply's capacity (seed
        sec. 4.3): a load read in W becomes that share when power.yml gives
        ``energy.supply_capacity_w``. A reading in another unit than the
        field's is dropped and counted (``energy_dropped_wrong_unit``)."""
        rows = []
        for r in readings:
            name, value, unit = getattr(r, "name", None), getattr(r, "value", None), getattr(r, "unit", None)
            if name == "supply_load" and unit == "W" and supply_capacity_w and isinstance(value, (int, float)):
                value, unit = value / supply_capacity_w, "ratio"
            rows.append(
                SimpleNamespace(
                    name=READING_FIELDS.get(name, name),
                    value=value,
                    unit=unit,
                    ts=getattr(r, "ts", 0),
                    source=getattr(r, "source", ""),
                    accuracy=getattr(r, "accuracy", "unknown"),
                )
            )
        return cats_energy.status_of(rows, stats)

    def energy_due(self, wall: float) -> float | None:
        """Unix time at which a held-back energy change may go out."""
        return self.energy.next_due(wall) if self.energy is not None else None

    def set_delays(self, figures: dict, now: float) -> list:
        """The probes' RFC 7471 figures per port (``ProbeAgent.figures``;
        configured delays already win there). Rounded to whole µs as the
        wire carries them; an unchanged set evaluates nothing. A change
        re-originates a link only out of its delay band (``advertise``)."""
        try:
            clean = {
                ifn: {k: int(round(v)) for k, v in f.items() if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v}
                for ifn, f in (figures or {}).items()
                if isinstance(f, dict)
            }
        except Exception as exc:
            self.report("delay_errors", exc, "probe figures dropped")
            return []
        if clean == self.delays:
            return []
        self.delays = self.adv.delays = clean
        return self.evaluate(now)

    # -- decisions ---------------------------------------------------------------

    def reserved_bps(self, ifname: str) -> float:
        return res.reserved_bps(self.reservations, ifname)

    def _available(self, ifname: str) -> float | None:
        return res.available_bps(self.cfg.ports[ifname], self.used_bps.get(ifname), self.reserved_bps(ifname))

    def evaluate(self, now: float) -> list:
        """Our links' and node's requests. Nothing before the LSDB sync of a
        new session is complete (the IDs ospfd holds for us are unknown).
        Never raises (``evaluate_errors``)."""
        if self.awaiting_sync:
            return []
        try:
            self._due_flushes(now)
            s = Session(self.router_id, self.ifaddrs, self.ism, self.nbrs, self.ready)
            with self.timings("evaluate"):
                return self.adv.evaluate(now, s, self._available, self.reserved_bps, self.used_bps, self.measured_w)
        except Exception as exc:
            self.report("evaluate_errors", exc, "evaluation failed")
            return []

    def _due_flushes(self, now: float) -> None:
        for (area, oid), t in list(self.flush_pending.items()):
            if now - t >= FLUSH_GRACE:
                self._flushed(area, oid, "deleted by ospfd and not replaced")

    # -- housekeeping (the daemon calls it about every 0.5 s) --------------------

    def tick(self, now: float) -> list:
        """Timed work: deletes of ours that turned out to be flushes, LSAs
        whose originator lost its router LSA, forgetting IDs older than
        ``OWN_ID_MEMORY_S``. Returns the requests to send; never raises."""
        try:
            self._age_out(now)
            self._refresh_suppressed(now)
            for oid in [i for i, t in self.own_ids.items() if now - t > OWN_ID_MEMORY_S]:
                del self.own_ids[oid]
        except Exception as exc:
            self.report("housekeeping_errors", exc, "housekeeping failed")
        # every input change evaluates at once (handle, set_*): at rest only
        # what waits on the clock needs this one (issue 10: CPU at rest)
        if self.flush_pending or any(l.state is LinkState.DEFERRED for l in self.links.values()) or now - self._tick_evaluated >= TICK_EVALUATE_S:
            self._tick_evaluated = now
            return self.evaluate(now)
        return []

    def _age_out(self, now: float) -> None:
        for area, ted in self.teds.items():
            present = self.router_lsas.get(area)
            if not present:
                continue  # no router LSA ever seen here: the rule is off
            for adv in ted.routers():
                if adv in present:
                    self.orphan_since.pop((area, adv), None)
                    continue
                since = self.orphan_since.setdefault((area, adv), now)
                if now - since >= ORPHAN_GRACE:
                    self._aged_out.add((area, adv))
                    n = ted.withdraw_router(adv)
                    self.stats["aged_out_lsas"] += n
                    self.vectors_dirty = True
                    log.warning(
                        "area %s: %d LSAs of opaque type %d from %s aged out of the TED: no router LSA from it for %.0f s",
                        area,
                        n,
                        self.opaque_type,
                        adv,
                        now - since,
                    )
        for key in [k for k in self.orphan_since if k[1] in self.router_lsas.get(k[0], ())]:
            del self.orphan_since[key]

    def resync_due(self, now: float) -> str | None:
        """Why the TEDs look wrong enough for a new LSDB sync (module
        docstring), or None; rate-limited, and counted when it says yes."""
        if self.awaiting_sync or self.resync_seen is not None:
            return None  # a sync is under way
        wrong = {}
        try:
            for l in self.links.values():
                if l.advertised and now - l.last_sent >= 1.0:
                    if (self.router_id, wire.make_lsid(self.opaque_type, l.opaque_id)) not in self.ted(l.sent.area).lsas:
                        wrong[("own", l.sent.area, l.opaque_id)] = f"our LSA for {l.ifname} is missing from our TED of area {l.sent.area}"
            for area, ted in self.teds.items():
                routers = ted.routers()
                for tl in ted.links():
                    if tl.one_sided and tl.near.tlv.link_id in routers:
                        wrong[("one-sided", area, tl.near.ident)] = f"link {tl.near.router}->{tl.near.tlv.link_id} is one-sided in area {area}"
        except Exception as exc:
            self.report("housekeeping_errors", exc, "TED check failed")
            return None
        since = self._implausible_since
        for k in [k for k in since if k not in wrong]:
            del since[k]
        why = ("asked", self._asked_resync) if self._asked_resync else None
        for k, text in wrong.items():
            t = since.setdefault(k, now)
            if why is None and now - t >= (OWN_MISSING_S if k[0] == "own" else ONE_SIDED_S):
                why = (k[0], text)
        if why is None or now < self._resync_ok_at:
            return None
        self._asked_resync = None
        self.stats["resyncs"] += 1
        self.stats[f"resyncs_{ {'own': 'own_missing', 'one-sided': 'one_sided'}.get(why[0], 'router_back') }"] += 1
        self._resync_ok_at = now + self._resync_interval
        return why[1]

    def resync_finished(self, now: float) -> None:
        """After a re-sync ``resync_due`` asked for: the next may come after
        ``RESYNC_MIN_S`` if it changed something, else twice as late as the
        last (at most ``RESYNC_MAX_S``)."""
        if self._resync_changes:
            self._resync_interval = RESYNC_MIN_S
        else:
            self._resync_interval = min(self._resync_interval * 2, RESYNC_MAX_S)
        self._resync_ok_at = now + self._resync_interval
        self._implausible_since.clear()

    def refused(self, req, err: int) -> None:
        """ospfd refused a request: an area that is not ready any more."""
        if isinstance(req, api.OriginateRequest) and err == api.ApiErr.NOTREADY:
            self.ready.discard(req.area)
            self.adv.refused(req.opaque_id)

    # -- inter-area (draft sec. 2.1, 2.1.9, 2.2) ------------------------------------

    def leak_update(self, now: float, wall: float | None = None) -> list:
        """ABR: bring the leaked Node Energy / Service Instance LSAs in line
        with the TEDs (``agent.leak``). Runs when a site TLV changed; with
        ``wall`` (unix time, the readings' clock: the daemon's tick) also
        every ``LEAK_CHECK_S`` so readings turning stale stop being leaked.
        Never raises (``leak_errors``, in ``Leaker``)."""
        if self.awaiting_sync:
            return []
        if wall is not None:
            self._wall_skew = wall - now
        elif self._wall_skew is not None:
            wall = now + self._wall_skew  # an LSA's arrival: the readings' clock as last told
        if wall is not None and wall - self._leak_checked >= LEAK_CHECK_S:
            self._leak_checked = wall
            self.leak_dirty = self.leak_dirty or bool(self.leak.lsas)
        if not self.leak_dirty:
            return []
        self.leak_dirty = False
        with self.timings("leak"):
            return self.leak.update(self.router_id, {a: self.teds[a] for a in self.abr_areas() if a in self.teds}, self.ready, wall)

    def abr_areas(self) -> list:
        return sorted(set(self.ism.values()) & self.ready)

    def vector_snapshot(self):
        """What an ABR's vector computation needs, copied so a worker thread
        can compute while the event loop keeps changing the TEDs."""
        return self.abr.snapshot(self.router_id, self.abr_areas(), self.ted)

    compute_vectors = staticmethod(AbrVectors.compute)

    def apply_vectors(self, by_area: dict, now: float = 0.0) -> list:
        """Originate what changed by band (sec. 2.2), withdraw what is gone.
        Nothing before the LSDB sync is complete; never raises."""
        if self.awaiting_sync:
            self.vectors_dirty = True
            return []
        try:
            reqs = self.abr.apply(by_area, self.ready)
        except Exception as exc:
            self.report("vector_apply_errors", exc, "vector origination failed")
            return []
        try:
            self._track_suppressed(by_area, now)
        except Exception as exc:
            self.report("vector_apply_errors", exc, "tracking suppressed vectors failed")
        return reqs

    @staticmethod
    def _exact(v) -> tuple:
        return tuple((p.endpoint, p.pwr_sum, p.min_avail_bw, p.hop_count) for p in v.paths)

    def _track_suppressed(self, by_area: dict, now: float) -> None:
        """Remember the exact value of each vector we originated, and since
        when a computed value differs from it (its change was suppressed)."""
        seen = set()
        for into, vecs in by_area.items():
            for v in vecs:
                key = (into, v.abr_chain, v.area)
                cur = self.abr.lsas.get(key)
                if cur is None:
                    continue
                seen.add(key)
                exact = self._exact(v)
                sent = self._vec_sent.get(key)
                if sent is None or sent[0] is not cur:  # originated in this round
                    self._vec_sent[key] = (cur, exact)
                    self._vec_stale.pop(key, None)
                elif sent[1] != exact:
                    self._vec_stale.setdefault(key, now)
                else:
                    self._vec_stale.pop(key, None)
        for key in [k for k in self._vec_sent if k not in self.abr.lsas]:
            del self._vec_sent[key]
            self._vec_stale.pop(key, None)

    def _refresh_suppressed(self, now: float) -> None:
        """A vector whose exact value waited ``VECTOR_REFRESH_S`` behind its
        band goes out at the next vector round."""
        for key, since in list(self._vec_stale.items()):
            cur = self.abr.lsas.get(key)
            if cur is None:
                del self._vec_stale[key]
            elif now - since >= VECTOR_REFRESH_S:
                del self._vec_stale[key]
                cur.sig = None  # differs from every signature: re-originated
                self.abr.dirty = True
                self.stats["vectors_refreshed"] += 1

    def path_choice(self, dst: str, k: int | None = None, constraints: Constraints | None = None) -> PathChoice:
        """The head-end's request (sec. 2.2), as a typed record: from the
        settled view once the daemon published one (remembered, and
        recomputed at every new view), else from the live TEDs."""
        k = k or self.cfg.k
        if self.view is None:
            with self.timings("path_choice"):
                return choose(self.router_id, self.teds, dst, k, constraints)
        key = (dst, k, repr(constraints))
        self._choice_args.pop(key, None)
        self._choice_args[key] = (dst, k, constraints)  # the newest last
        while len(self._choice_args) > MAX_CHOICES:
            old = next(iter(self._choice_args))
            del self._choice_args[old]
            self._choices.pop(old, None)
        hit = self._choices.get(key)
        if hit is None or hit[0] != self.view_gen:
            with self.timings("path_choice"):
                hit = (self.view_gen, self._choose(self.router_id, self.view, dst, k, constraints))
            self._choices[key] = hit
        if isinstance(hit[1], Exception):
            raise hit[1]
        return hit[1]

    @staticmethod
    def _choose(router_id, teds, dst, k, constraints):
        try:
            return choose(router_id, teds, dst, k, constraints)
        except AgentRefusal as exc:
            return exc

    def publish_view(self):
        """The TEDs as they are now become the head-end's view; returns the
        job that recomputes the remembered choices (``compute_choices``), or
        None if there are none."""
        view = {}
        for a, t in self.teds.items():
            c = TED(a, self.profile)
            c.lsas = dict(t.lsas)
            view[a] = c
        self.view, self.view_gen = view, self.ted_gen
        self.stats["views_published"] += 1
        if not self._choice_args:
            return None
        return (self.view_gen, self.router_id, view, dict(self._choice_args))

    @staticmethod
    def compute_choices(job) -> dict:
        """Runs on a worker thread: reads only the job's view."""
        gen, router_id, view, args = job
        return {key: AgentCore._choose(router_id, view, dst, k, c) for key, (dst, k, c) in args.items()}

    def store_choices(self, job, results: dict) -> None:
        """Keep what ``compute_choices`` found, if its view is still ours;
        count the choices whose best path changed (``choices_changed``)."""
        if job[0] != self.view_gen:
            return
        for key, r in results.items():
            old = self._choices.get(key)
            if old is not None and _chain(old[1]) != _chain(r):
                self.stats["choices_changed"] += 1
            if key in self._choice_args:
                self._choices[key] = (job[0], r)

    # -- reload (SIGHUP) ------------------------------------------------------------

    def reconfigure(self, cfg: PowerConfig) -> None:
        """A reloaded configuration (``reload.merge``: the same ports, the
        same restart-only fields): new power figures, banding, k and timers
        apply from the next evaluation and vector round."""
        old = self.cfg
        self.cfg = self.adv.cfg = self.abr.cfg = cfg
        self.min_interval = self.adv.min_interval = cfg.agent.get("min_interval", 1.0)
        if (old.band_ratio, old.hysteresis) != (cfg.band_ratio, cfg.hysteresis):
            for l in self.links.values():
                if l.band is not None and l.tlv is not None:
                    l.band = metric.Banding.geometric(1e-15, 1e3, cfg.band_ratio, cfg.hysteresis)
                    l.band.update(metric.effective_metric(l.tlv.pwr_consumed, l.tlv.pwr_available))
            self.abr.band = metric.Banding.geometric(1e-15, 1e13, cfg.band_ratio, 0.0)
        if (old.k, old.ksp_constraints) != (cfg.k, cfg.ksp_constraints):
            self.abr.vcomp = None
        self._choices.clear()
        self._setup_cats(cfg)
        self.leak.max_age, self.leak_dirty = _leak_max_age(cfg), True
        self.vectors_dirty = True

    def inter_area_path(self, dst: str, k: int | None = None, constraints: Constraints | None = None) -> dict:
        """The head-end's request (sec. 2.2): the best path to dst over the
        vectors ABRs leaked into our area(s), with runners-up and ECMP set."""
        return self.path_choice(dst, k, constraints).to_json()

    # -- SRv6 (issue 7) --------------------------------------------------------

    def set_srv6(self, advertised: dict | None, status: dict | None, now: float) -> list:
        """The SRv6 shell installed ``advertised`` (``SidPlan.advertised()``
        of what it installed; None: no SRv6): flood it (End.X in our Link
        TLVs, the SRv6 Locator TLV in our node LSAs)."""
        self.srv6_status = status
        if advertised == self.adv.srv6:
            return []
        self.adv.srv6 = advertised
        self.stats["srv6_advert_changes"] += 1
        return self.evaluate(now)

    def sid_table(self, area: str | None = None):
        """The SIDs the TEDs learnt (all areas, or one), with End.DT6 SIDs
        derived from the locators (``sids.dt6_sid``: they are not flooded),
        as a ``dataplane.sidlist.SidTable``."""
        from pyfrr_pwr.dataplane import sidlist, sids

        t = sidlist.SidTable()
        merged: dict = {}
        for a, ted in sorted(self.teds.items()):
            if area is not None and a != area:
                continue
            for adv in ted.sid_adverts():
                cur = merged.setdefault(adv["router_id"], {**adv, "end_x": {}, "dx4": {}})
                cur["end_x"].update(adv["end_x"])
                cur["dx4"].update(adv["dx4"])
        for adv in merged.values():
            try:
                adv["dt6"] = sids.dt6_sid(adv["locator"])
                t.add(adv)
            except (sids.SidError, sidlist.SidListError) as exc:
                self.report("sid_table_errors", exc, f"SIDs of {adv['router_id']} ignored")
        return t

    # -- reservations (draft sec. 2.2) ----------------------------------------

    def reserve_hop(self, rid: str, bw: float, hops: list, plan: list) -> dict:
        """One hop of a reservation (``reservations.reserve_hop``)."""
        return res.reserve_hop(
            self.reservations, rid, bw, hops, plan, router_id=self.router_id, teds=self.teds, links=self.links.values(), available=self._available
        )

    def release_hop(self, rid: str) -> str | None:
        """Give a reservation's bandwidth back; returns the next hop."""
        return res.release_hop(self.reservations, rid)

    # -- views -------------------------------------------------------------------

    def show_links(self) -> list:
        return self.adv.show(self.link_speed)

    def show_ted(self, area: str | None = None) -> dict:
        out = {}
        for a, ted in sorted(self.teds.items()):
            if area and a != area:
                continue
            links = []
            for tl in ted.links():
                links.append(
                    {
                        "from": tl.near.router,
                        "to": tl.near.tlv.link_id,
                        "local": tl.near.local,
                        "remote": tl.near.remote,
                        "lsid": tl.near.lsid,
                        "generation": tl.near.tlv.generation,
                        "power_consumed": tl.near.tlv.pwr_consumed,
                        "power_available": tl.near.tlv.pwr_available,
                        "pwrlink": tl.pwrlink,
                        "avail_bw": tl.near.tlv.avail_bw,
                        "one_sided": tl.one_sided,
                    }
                )
            out[a] = {
                "links": links,
                "endpoints": sorted(ted.endpoints()),
                "area_borders": sorted(ted.area_borders()),
                "malformed": ted.stats["malformed"],
                # issue 7: the SRv6 SIDs learnt (SRv6 Locator TLV, End.X sub-TLVs)
                "srv6": ted.sid_adverts(),
            }
        return out


def _chain(r) -> tuple | None:
    """A choice's ABR chain and head path (None for a refusal)."""
    return None if isinstance(r, Exception) else (tuple(r.best.abr_chain), tuple(r.best.head_path))
