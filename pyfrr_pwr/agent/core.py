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
import math
from collections import Counter
from types import SimpleNamespace  # noqa: F401  (re-export: every name core had)

from pyfrr_pwr.agent import reservations as res
from pyfrr_pwr.agent.advertise import Advertiser, LinkState, OwnLink, Session  # noqa: F401
from pyfrr_pwr.agent.core_energy import READING_FIELDS, SiteInputs, cats_energy, cats_service  # noqa: F401
from pyfrr_pwr.agent.core_intake import (  # noqa: F401
    _LEAK_TLVS,
    FLUSH_GRACE,
    ID_BLOCK,
    ID_SPACE,
    LSA_ROUTER,
    MAX_AGE,
    LsaIntake,
    _age,
)
from pyfrr_pwr.agent.core_interarea import (  # noqa: F401
    LEAK_CHECK_S,
    MAX_CHOICES,
    VECTOR_REFRESH_S,
    InterArea,
    _chain,
    _leak_max_age,
    choose,
)
from pyfrr_pwr.agent.core_resync import (  # noqa: F401
    ONE_SIDED_S,
    ORPHAN_GRACE,
    OWN_ID_MEMORY_S,
    OWN_MISSING_S,
    RESYNC_MAX_S,
    RESYNC_MIN_S,
    TICK_EVALUATE_S,
    Resync,
)
from pyfrr_pwr.agent.core_views import Views
from pyfrr_pwr.agent.exporter import Timings
from pyfrr_pwr.agent.leak import Leaker
from pyfrr_pwr.agent.vectors import AbrVectors
from pyfrr_pwr.files.power import PowerConfig
from pyfrr_pwr.model import metric
from pyfrr_pwr.model.constraints import Constraints  # noqa: F401
from pyfrr_pwr.model.ted import TED
from pyfrr_pwr.proto import ospfapi as api  # noqa: F401
from pyfrr_pwr.proto import wire
from pyfrr_pwr.proto.control import AgentRefusal, PathChoice  # noqa: F401

__all__ = ["AgentCore", "OwnLink"]

log = logging.getLogger("pyfrr_pwr.agent")


class AgentCore(LsaIntake, Resync, SiteInputs, InterArea, Views):
    """The agent's pure decision layer, composed of mixins by concept (one
    module each, bodies moved verbatim from this file; one object, one
    state, so every attribute keeps its name and tests reach the same
    methods): ``core_intake`` (LSAs from ospfd, opaque IDs),
    ``core_resync`` (sessions, re-syncs, age-out, tick), ``core_energy``
    (issue 9 site inputs), ``core_interarea`` (ABR vectors, leaks, the
    head-end's choices), ``core_views`` (SRv6, show). What stays here: the
    state, the evaluation of our own links, reload and reservations."""

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
        self._sid_tables: dict = {}  # area (None: all) -> (TED generations, SidTable): Views.sid_table
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
        # our own deletes, applied to our TED since ospfd will not tell us
        # (core_intake): (area, opaque ID) -> (since, IDs whose update it waits for)
        self._own_dels: dict = {}
        self._own_swept = -math.inf
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
        self._one_sided_memo: dict = {}  # area -> (its _Lsas, its gen, one-sided links): resync_due at rest
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
        self.ted_gen = 0  # counts TED changes (the head-end's view loop follows it)
        self.vec_gen = 0  # counts changes in what our vectors are computed from (the vector loop follows it)
        self._lsids: dict = {}  # (area, adv) -> LS IDs it holds in our TED (as applied; entries are looked up)
        self.view: dict | None = None  # the head-end's settled TEDs (publish_view); None: the live ones
        self.view_gen = -1
        self._view_src: dict = {}  # area -> (live TED's lsas, its gen, its topology gen, the view's TED of it): publish_view
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
            self._ted_changed(True)

    @property
    def vectors_urgent(self) -> bool:
        """The next vector round should not wait for a burst to settle: our
        own link was withdrawn (``AbrVectors.urgent``; issue 10: in
        fig-2-0 the settle of the ABR whose link went took 10-78 ms, held
        by ospfd's ISM/NSM notifications and the far end's delete)."""
        return self.abr.urgent

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

    # -- reservations (draft sec. 2.2) ----------------------------------------

    def reserve_hop(self, rid: str, bw: float, hops: list, plan: list) -> dict:
        """One hop of a reservation (``reservations.reserve_hop``)."""
        return res.reserve_hop(
            self.reservations, rid, bw, hops, plan, router_id=self.router_id, teds=self.teds, links=self.links.values(), available=self._available
        )

    def release_hop(self, rid: str) -> str | None:
        """Give a reservation's bandwidth back; returns the next hop."""
        return res.release_hop(self.reservations, rid)
