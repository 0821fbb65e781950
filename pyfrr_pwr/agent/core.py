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
* ``control``: the control socket's answers.
"""

from __future__ import annotations

from collections import Counter

from pyfrr_pwr.agent import reservations as res
from pyfrr_pwr.agent.advertise import Advertiser, OwnLink, Session
from pyfrr_pwr.agent.headend import choose
from pyfrr_pwr.agent.vectors import AbrVectors
from pyfrr_pwr.files.power import PowerConfig
from pyfrr_pwr.model.constraints import Constraints
from pyfrr_pwr.model.ted import TED
from pyfrr_pwr.proto import ospfapi as api
from pyfrr_pwr.proto import wire
from pyfrr_pwr.proto.control import PathChoice

__all__ = ["AgentCore", "OwnLink"]


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
        self.link_speed: dict = {}  # ifname -> negotiated bits/s (ethtool)
        self.reservations: dict = {}  # id -> {"ifname": str|None, "bw": bytes/s, "next": router ID|None}
        self.adv = Advertiser(cfg, opaque_type, profile, min_interval, self.stats, self._alloc)
        self.abr = AbrVectors(cfg, opaque_type, profile, self.stats, self._alloc)

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

    # -- session -------------------------------------------------------------

    def session_reset(self) -> None:
        """ospfd went away: it flushed everything we originated. The TEDs are
        kept (stale but useful) until the next LSDB sync says what is gone."""
        self.ready.clear()
        self.ism.clear()
        self.nbrs.clear()
        self.adv.reset()
        self.abr.reset()
        self.resync_seen = set()
        self.synced = False

    def resync_done(self) -> int:
        """The LSDB sync after a (re)connect is complete: drop every LSA it
        did not report. Returns how many were dropped."""
        seen, self.resync_seen = self.resync_seen, None
        self.synced = True
        if seen is None:
            return 0
        gone = 0
        for area, ted in self.teds.items():
            for key in [k for k in ted.lsas if (area, *k) not in seen]:
                del ted.lsas[key]
                gone += 1
        return gone

    def _alloc(self, taken: set = frozenset()) -> int:
        """A free 24-bit opaque ID (RFC 5250 sec. 3) for any LSA of ours."""
        used = self.adv.used_ids() | self.abr.used_ids() | taken
        while True:
            oid = self.next_id
            self.next_id = self.next_id + 1 if self.next_id < (1 << 24) - 1 else 1
            if oid not in used:
                return oid

    def ted(self, area: str) -> TED:
        if area not in self.teds:
            self.teds[area] = TED(area, self.profile)
        return self.teds[area]

    # -- inputs ----------------------------------------------------------------

    def _ours(self, lsa_type: int, opaque_type: int) -> bool:
        return lsa_type == api.LSA_OPAQUE_AREA and opaque_type == self.opaque_type

    def handle(self, m, now: float) -> list:
        """One message from ospfd -> requests to send."""
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
            h = m.header
            if not self._ours(h.type, h.opaque_type):
                return []
            ted = self.ted(m.area)
            self.vectors_dirty = True
            if isinstance(m, api.LsaUpdate):
                if self.resync_seen is not None:
                    self.resync_seen.add((m.area, h.adv_router, h.lsid))
                if ted.apply(h.adv_router, h.lsid, m.body):
                    self._touch(ted, h.adv_router, h.lsid, now)
                else:
                    self.stats["malformed_lsas"] += 1
            else:
                ted.withdraw(h.adv_router, h.lsid)
            return []
        return self.evaluate(now)

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

    # -- decisions ---------------------------------------------------------------

    def reserved_bps(self, ifname: str) -> float:
        return res.reserved_bps(self.reservations, ifname)

    def _available(self, ifname: str) -> float | None:
        return res.available_bps(self.cfg.ports[ifname], self.used_bps.get(ifname), self.reserved_bps(ifname))

    def evaluate(self, now: float) -> list:
        s = Session(self.router_id, self.ifaddrs, self.ism, self.nbrs, self.ready)
        return self.adv.evaluate(now, s, self._available, self.reserved_bps, self.used_bps, self.measured_w)

    def refused(self, req, err: int) -> None:
        """ospfd refused a request: an area that is not ready any more."""
        if isinstance(req, api.OriginateRequest) and err == api.ApiErr.NOTREADY:
            self.ready.discard(req.area)
            self.adv.refused(req.opaque_id)

    # -- inter-area (draft sec. 2.1, 2.1.9, 2.2) ------------------------------------

    def abr_areas(self) -> list:
        return sorted(set(self.ism.values()) & self.ready)

    def vector_snapshot(self):
        """What an ABR's vector computation needs, copied so a worker thread
        can compute while the event loop keeps changing the TEDs."""
        return self.abr.snapshot(self.router_id, self.abr_areas(), self.ted)

    compute_vectors = staticmethod(AbrVectors.compute)

    def apply_vectors(self, by_area: dict) -> list:
        """Originate what changed by band (sec. 2.2), withdraw what is gone."""
        return self.abr.apply(by_area, self.ready)

    def path_choice(self, dst: str, k: int | None = None, constraints: Constraints | None = None) -> PathChoice:
        """The head-end's request (sec. 2.2), as a typed record."""
        return choose(self.router_id, self.teds, dst, k or self.cfg.k, constraints)

    def inter_area_path(self, dst: str, k: int | None = None, constraints: Constraints | None = None) -> dict:
        """The head-end's request (sec. 2.2): the best path to dst over the
        vectors ABRs leaked into our area(s), with runners-up and ECMP set."""
        return self.path_choice(dst, k, constraints).to_json()

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
            }
        return out
