"""The per-router agent: measures, advertises PWR LSAs, keeps the TEDs.

``AgentCore`` is pure: it takes OSPF API messages, interface addresses and
measurements, and returns the API requests to send. ``Agent`` is the asyncio
shell: the API session (``apiclient``), the measurement loop (pyroute2
netlink counters, power readers) and the control socket.

How updates travel (draft sec. 2.1.6, 2.2 dampening; FRR facts in
../shared/notes): each link end is one LSA (one Link TLV, RFC 3630 sec.
2.4.2). A new value is advertised only when its banded metric leaves its
interval (``metric.Banding``), and never more often than ``min_interval``
per link. ospfd 8.4.4 refreshes an API opaque LSA at most once per 5 s
(OSPF_MIN_LS_INTERVAL), so an update is originated under a NEW opaque ID
with a higher ``generation`` first, and the old ID is deleted after it
(make-before-break); readers keep the newest generation per link, so a link
never disappears while it changes.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import signal
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from pyfrr_pwr.files.power import PowerConfig, load_power
from pyfrr_pwr.model import advert, metric
from pyfrr_pwr.model.constraints import NAMES, Constraints
from pyfrr_pwr.model.ted import TED
from pyfrr_pwr.proto import ospfapi as api
from pyfrr_pwr.proto import wire

__all__ = ["AgentCore", "Agent", "OwnLink"]

log = logging.getLogger("pyfrr_pwr.agent")


@dataclass
class OwnLink:
    ifname: str
    ifaddr: str | None = None
    area: str | None = None
    nbr_id: str | None = None
    nbr_addr: str | None = None
    opaque_id: int | None = None
    generation: int = 0
    tlv: wire.LinkTLV | None = None
    band: metric.Banding | None = None
    last_sent: float = -math.inf
    sent_key: tuple | None = None  # (area, nbr_id, nbr_addr, ifaddr) advertised
    pending: bool = False


@dataclass
class VecLsa:
    generation: int
    opaque_ids: list
    sig: tuple


@dataclass
class NodeLsa:
    area: str
    opaque_id: int
    tlvs: list


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
        self.links = {ifn: OwnLink(ifn) for ifn in cfg.ports}
        self.ifaddrs: dict = {}  # ifname -> IPv4 address (netlink)
        self.ism: dict = {}  # ifaddr -> area (ospfd)
        self.nbrs: dict = {}  # (ifaddr, nbr_addr) -> (router_id, status)
        self.ready: set = set()
        self.teds: dict = {}
        self.used_bps: dict = {}
        self.measured_w: dict = {}
        self.node_lsas: dict = {}  # area -> NodeLsa
        self.next_id = 1
        self.stats: Counter = Counter()
        self.ted_changed_at: dict = {}  # (adv, link_id, local) -> monotonic time of last TED change
        self.resync_seen: set | None = None  # during an LSDB re-sync: (area, adv, lsid) reported
        self.link_speed: dict = {}  # ifname -> negotiated bits/s (ethtool)
        # ABR: vectors originated, (into area, chain, described area) -> VecLsa
        self.vec_state: dict = {}
        self.vec_gen = 0
        self.vec_band = metric.Banding.geometric(1e-15, 1e13, cfg.band_ratio, 0.0)
        self.vectors_dirty = True
        self.vcomp = None  # interarea.VectorComputer: incremental ABR state
        # bandwidth reservations on our own links (draft sec. 2.2), bytes/s
        self.reservations: dict = {}  # id -> {"ifname": str|None, "bw": float, "next": router ID|None}

    # -- session -------------------------------------------------------------

    def session_reset(self) -> None:
        """ospfd went away: it flushed everything we originated. The TEDs are
        kept (stale but useful) until the next LSDB sync says what is gone."""
        self.ready.clear()
        self.ism.clear()
        self.nbrs.clear()
        self.node_lsas.clear()
        self.vec_state.clear()
        self.vectors_dirty = True
        for l in self.links.values():
            l.opaque_id, l.sent_key, l.tlv, l.band, l.pending = None, None, None, None, False
            l.last_sent = -math.inf
        self.resync_seen = set()

    def resync_done(self) -> int:
        """The LSDB sync after a (re)connect is complete: drop every LSA it
        did not report. Returns how many were dropped."""
        seen, self.resync_seen = self.resync_seen, None
        if seen is None:
            return 0
        gone = 0
        for area, ted in self.teds.items():
            for key in [k for k in ted.lsas if (area, *k) not in seen]:
                del ted.lsas[key]
                gone += 1
        return gone

    def _alloc(self, taken: set = frozenset()) -> int:
        used = {l.opaque_id for l in self.links.values()} | {n.opaque_id for n in self.node_lsas.values()}
        used |= {i for v in self.vec_state.values() for i in v.opaque_ids} | taken
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

    def handle(self, m, now: float) -> list:
        """One message from ospfd -> requests to send."""
        if isinstance(m, api.RouterIdChange):
            self.router_id = m.router_id if m.router_id != "0.0.0.0" else None
        elif isinstance(m, api.ReadyNotify):
            if m.lsa_type == 10 and m.opaque_type == self.opaque_type:
                self.ready.add(m.addr)
        elif isinstance(m, (api.NewIf, api.IsmChange)):
            down = isinstance(m, api.IsmChange) and m.status <= 1
            if down:
                self.ism.pop(m.ifaddr, None)
            else:
                self.ism[m.ifaddr] = m.area
        elif isinstance(m, api.DelIf):
            self.ism.pop(m.ifaddr, None)
        elif isinstance(m, api.NsmChange):
            # ospfd also reports its per-interface "self" neighbour
            # (nbr_self, our own router ID): keyed by neighbour address too
            key = (m.ifaddr, m.nbraddr)
            if m.status <= 2:
                self.nbrs.pop(key, None)
            else:
                self.nbrs[key] = (m.router_id, m.status)
        elif isinstance(m, (api.LsaUpdate, api.LsaDelete)):
            h = m.header
            if h.type != 10 or h.opaque_type != self.opaque_type:
                return []
            ted = self.ted(m.area)
            self.vectors_dirty = True
            if isinstance(m, api.LsaUpdate) and self.resync_seen is not None:
                self.resync_seen.add((m.area, h.adv_router, h.lsid))
            if isinstance(m, api.LsaUpdate):
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

    def _link_state(self, l: OwnLink) -> None:
        l.ifaddr = self.ifaddrs.get(l.ifname)
        l.area = self.ism.get(l.ifaddr) if l.ifaddr else None
        full = sorted(
            (addr, rid)
            for (ifa, addr), (rid, st) in self.nbrs.items()
            if ifa == l.ifaddr and st == api.NSM_FULL and rid != self.router_id
        )
        if l.ifaddr and full:  # point-to-point: one neighbour
            l.nbr_addr, l.nbr_id = full[0]
        else:
            l.nbr_id = l.nbr_addr = None

    def reserved_bps(self, ifname: str) -> float:
        return sum(r["bw"] * 8 for r in self.reservations.values() if r["ifname"] == ifname)

    def _available(self, ifname: str) -> float | None:
        p = self.cfg.ports[ifname]
        if p.available is not None:
            avail = p.available  # a configured figure wins (labs model the draft's table)
        elif ifname in self.used_bps:
            avail = max(p.speed - self.used_bps[ifname], 0.0)
        else:
            avail = p.speed
        return max(avail - self.reserved_bps(ifname), 0.0)

    def _originate(self, area: str, tlvs: list, old_id: int | None) -> tuple[int, list]:
        oid = self._alloc()
        body = wire.encode(tlvs, self.profile)
        reqs = [api.OriginateRequest(10, self.opaque_type, oid, body, area=area)]
        if old_id is not None:
            reqs.append(api.DeleteRequest(10, self.opaque_type, old_id, area))
        self.stats["originations"] += 1
        return oid, reqs

    def evaluate(self, now: float) -> list:
        reqs: list = []
        for l in self.links.values():
            self._link_state(l)
            # a reservation changes the key: bandwidth is a hard constraint,
            # flooded at once, past banding and min_interval
            key = (l.area, l.nbr_id, l.nbr_addr, l.ifaddr, self.reserved_bps(l.ifname))
            up = l.area is not None and l.nbr_id is not None and l.area in self.ready
            if not up:
                if l.opaque_id is not None and l.sent_key and l.sent_key[0] in self.ready:
                    reqs.append(api.DeleteRequest(10, self.opaque_type, l.opaque_id, l.sent_key[0]))
                    self.stats["withdrawals"] += 1
                if l.opaque_id is not None:
                    l.opaque_id, l.sent_key, l.tlv, l.band = None, None, None, None
                continue
            try:
                tlv = advert.link_tlv(self.cfg, l.ifname, l.nbr_id, l.ifaddr, l.nbr_addr, self._available(l.ifname), self.used_bps, measured_w=self.measured_w)
            except ValueError as exc:
                self.stats["metric_errors"] += 1
                log.warning("%s: cannot compute POWER: %s", l.ifname, exc)
                continue
            value = metric.effective_metric(tlv.pwr_consumed, tlv.pwr_available)
            if l.sent_key != key or l.band is None:
                l.band = metric.Banding.geometric(1e-15, 1e3, self.cfg.band_ratio, self.cfg.hysteresis)
                l.band.update(value)
                send = True
            else:
                moved = l.band.update(value) is not None
                send = moved or l.pending
                if send and now - l.last_sent < self.min_interval:
                    l.pending = True  # sec. 2.1.6: not more often than min_interval
                    self.stats["deferred"] += 1
                    continue
                if not moved and not l.pending and replace(tlv, generation=l.generation) != l.tlv:
                    self.stats["suppressed"] += 1  # changed, but inside its band
            if send:
                l.generation = (l.generation + 1) & 0xFFFFFFFF
                tlv = replace(tlv, generation=l.generation)
                old = l.opaque_id if l.sent_key and l.sent_key[0] == l.area else None
                if l.opaque_id is not None and old is None and l.sent_key and l.sent_key[0] in self.ready:
                    reqs.append(api.DeleteRequest(10, self.opaque_type, l.opaque_id, l.sent_key[0]))
                l.opaque_id, r = self._originate(l.area, [tlv], old)
                reqs += r
                l.tlv, l.sent_key, l.last_sent, l.pending = tlv, key, now, False
        reqs += self._node_lsas()
        return reqs

    def _node_lsas(self) -> list:
        reqs = []
        if self.router_id is None:
            return reqs
        areas = {a for a in self.ism.values()}
        for area in sorted(areas & self.ready):
            tlvs = advert.node_tlvs(self.cfg, self.router_id, areas)
            cur = self.node_lsas.get(area)
            if not tlvs:
                continue
            if cur is None or cur.tlvs != tlvs:
                oid, r = self._originate(area, tlvs, cur.opaque_id if cur else None)
                self.node_lsas[area] = NodeLsa(area, oid, tlvs)
                reqs += r
        return reqs

    def refused(self, req, err: int) -> None:
        """ospfd refused a request: an area that is not ready any more."""
        if isinstance(req, api.OriginateRequest) and err == api.ApiErr.NOTREADY:
            self.ready.discard(req.area)
            for l in self.links.values():
                if l.opaque_id == req.opaque_id:
                    l.opaque_id, l.sent_key = None, None
            for a, n in list(self.node_lsas.items()):
                if n.opaque_id == req.opaque_id:
                    del self.node_lsas[a]

    # -- inter-area (draft sec. 2.1, 2.1.9) ---------------------------------------

    def abr_areas(self) -> list:
        return sorted(set(self.ism.values()) & self.ready)

    def vector_snapshot(self):
        """What an ABR's vector computation needs, copied so a worker thread
        can compute while the event loop keeps changing the TEDs."""
        areas = self.abr_areas()
        if self.router_id is None or len(areas) < 2:
            return None
        from pyfrr_pwr.paths.interarea import complete_vectors

        teds = {}
        for a in areas:
            t = TED(a, self.profile)
            t.lsas = dict(self.ted(a).lsas)
            teds[a] = t
        learnt = {a: complete_vectors(teds[a]) for a in areas}
        self.vectors_dirty = False
        if self.vcomp is None or self.vcomp.abr != self.router_id:
            from pyfrr_pwr.paths.interarea import VectorComputer

            self.vcomp = VectorComputer(self.router_id, self.cfg.k, self.cfg.ksp_constraints)
        return (self.vcomp, teds, learnt)

    @staticmethod
    def compute_vectors(snapshot) -> dict:
        """Runs on a worker thread (the C core releases the GIL); the
        VectorComputer is touched by one computation at a time."""
        vcomp, teds, learnt = snapshot
        return vcomp.compute(teds, learnt)

    def apply_vectors(self, by_area: dict) -> list:
        """Originate what changed by band (sec. 2.2), withdraw what is gone;
        each vector's fragments under new IDs first, the old ones deleted
        after (no gap for readers)."""
        from pyfrr_pwr.paths.interarea import fragment, signature

        wanted = {(into, v.abr_chain, v.area): v for into, vecs in by_area.items() if into in self.ready for v in vecs}
        reqs = []
        for key, v in sorted(wanted.items()):
            sig = signature(v, self.vec_band)
            cur = self.vec_state.get(key)
            if cur is not None and cur.sig == sig:
                self.stats["vectors_suppressed"] += 1
                continue
            self.vec_gen = (self.vec_gen + 1) & 0xFFFFFFFF
            ids = []
            for f in fragment(v, self.vec_gen):
                oid = self._alloc(set(ids))
                ids.append(oid)
                reqs.append(api.OriginateRequest(10, self.opaque_type, oid, wire.encode([f], self.profile), area=key[0]))
            if cur is not None:
                reqs += [api.DeleteRequest(10, self.opaque_type, oid, key[0]) for oid in cur.opaque_ids]
            self.vec_state[key] = VecLsa(self.vec_gen, ids, sig)
            self.stats["vectors_originated"] += 1
        for key in [k for k in self.vec_state if k not in wanted]:
            if key[0] in self.ready:
                reqs += [api.DeleteRequest(10, self.opaque_type, oid, key[0]) for oid in self.vec_state[key].opaque_ids]
            del self.vec_state[key]
            self.stats["vectors_withdrawn"] += 1
        return reqs

    def inter_area_path(self, dst: str, k: int | None = None, constraints: Constraints | None = None) -> dict:
        """The head-end's request (sec. 2.2): the best path to dst over the
        vectors ABRs leaked into our area(s), with runners-up and ECMP set."""
        from pyfrr_pwr.paths.interarea import complete_vectors, select

        if self.router_id is None:
            raise ValueError("router ID not known yet (is ospfd up?)")
        k = k or self.cfg.k
        best = None
        reasons = []
        for area, ted in sorted(self.teds.items()):
            if self.router_id not in ted.routers():
                continue
            sel = select(self.router_id, dst, ted, complete_vectors(ted), k=k, constraints=constraints)
            if sel.best is None:
                reasons.append(sel.reason)
            elif best is None or sel.best.total.pwr < best.best.total.pwr:
                best = sel
        if best is None:
            raise ValueError("; ".join(reasons) or f"{self.router_id} is in no TE database yet")

        def js(c):
            return {
                "abr_chain": list(c.abr_chain),
                "head_path": list(c.head_path),
                "segments": [
                    {"what": "head-end to first ABR", "pwr_w_per_gbps": metric.w_per_gbps(c.head.pwr), "hops": c.head.hops},
                    {"what": "ABR vector to tail-end", "area": c.area, "pwr_w_per_gbps": metric.w_per_gbps(c.rest.pwr), "hops": c.rest.hops},
                ],
                "pwr": c.total.pwr,
                "pwr_w_per_gbps": metric.w_per_gbps(c.total.pwr),
                "min_avail_bw": c.total.min_bw if math.isfinite(c.total.min_bw) else None,
                "hops": c.total.hops,
                "delay_us": c.total.delay,
            }

        return {"to": dst, "best": js(best.best), "ecmp": [js(c) for c in best.ecmp], "runners_up": [js(c) for c in best.choices[1:]]}

    # -- reservations (draft sec. 2.2) ----------------------------------------

    def reserve_hop(self, rid: str, bw: float, hops: list, plan: list) -> dict:
        """One hop of a reservation along an explicit route. ``hops`` starts
        with us; ``plan`` lists the later segments [{"area", "to"}], which an
        ABR expands with CSPF at the requested bandwidth. Reserves on our own
        link to the next hop and says where the request goes next:
        {"next": router ID, "hops", "plan"} or {"next": None} at the end."""
        from pyfrr_pwr.paths.ksp import k_shortest_paths

        if rid in self.reservations:
            raise ValueError(f"reservation {rid} exists already")
        if len(hops) <= 1:
            if not plan:
                self.reservations[rid] = {"ifname": None, "bw": bw, "next": None}
                return {"next": None}
            seg, plan = plan[0], plan[1:]
            ted = self.teds.get(seg["area"])
            if ted is None:
                raise ValueError(f"{self.router_id}: no TE database for area {seg['area']}")
            G = ted.graph()
            ps = k_shortest_paths(G, self.router_id, seg["to"], 1, min_bandwidth=bw) if self.router_id in G and seg["to"] in G else []
            if not ps:
                raise ValueError(f"{self.router_id}: no path to {seg['to']} in area {seg['area']} with {bw * 8 / 1e9:g} Gb/s available")
            hops = list(ps[0].nodes)
        nxt = hops[1]
        cands = sorted(
            ((self._available(l.ifname) or 0.0, l.ifname) for l in self.links.values() if l.nbr_id == nxt and l.opaque_id is not None),
            reverse=True,
        )
        if not cands:
            raise ValueError(f"{self.router_id}: no link to {nxt}")
        avail_bps, ifn = cands[0]
        if avail_bps < bw * 8:
            raise ValueError(f"{self.router_id}: link {ifn} to {nxt} has {avail_bps / 1e9:g} Gb/s available, {bw * 8 / 1e9:g} Gb/s requested")
        self.reservations[rid] = {"ifname": ifn, "bw": bw, "next": nxt}
        return {"next": nxt, "hops": hops[1:], "plan": plan}

    def release_hop(self, rid: str) -> str | None:
        """Give a reservation's bandwidth back; returns the next hop."""
        r = self.reservations.pop(rid, None)
        return r["next"] if r else None

    # -- views -------------------------------------------------------------------

    def show_links(self) -> list:
        out = []
        for l in self.links.values():
            t = l.tlv
            out.append(
                {
                    "interface": l.ifname,
                    "address": l.ifaddr,
                    "area": l.area,
                    "neighbor": l.nbr_id,
                    "advertised": l.opaque_id is not None,
                    "lsid": wire.make_lsid(self.opaque_type, l.opaque_id) if l.opaque_id is not None else None,
                    "generation": l.generation,
                    "power_consumed": t.pwr_consumed if t else None,
                    "power_available": t.pwr_available if t else None,
                    "avail_bw": t.avail_bw if t else None,
                    "link_speed": self.link_speed.get(l.ifname),
                    "pending": l.pending,
                }
            )
        return out

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


class Agent:
    """The asyncio shell around AgentCore."""

    def __init__(self, cfg: PowerConfig, socket_path: str, api_host: str = "127.0.0.1", api_port: int = api.API_PORT, interval: float = 0.1, window: float = 1.0, name: str = "agent"):
        a = cfg.agent
        self.cfg = cfg
        self.core = AgentCore(cfg, a.get("opaque_type", wire.DEFAULT_OPAQUE_TYPE), a.get("profile", "draft"), a.get("min_interval", 1.0))
        self.interval = a.get("interval", interval)
        self.window = a.get("window", window)
        self.socket_path = socket_path
        self.name = name
        from pyfrr_pwr.agent.apiclient import OspfApiClient

        self.client = OspfApiClient(api_host, api_port, on_message=self._on_message, on_connect=self._on_connect, on_disconnect=self._on_disconnect, name=f"{name}/ospfapi")
        self.samples: dict = {}  # ifname -> list[(t, tx_bytes)]
        self._ipr = None
        self._polls = 0
        self.signal_port = cfg.agent.get("signal_port", 2700)
        self.res_counter = 0
        self._addrs: dict | None = None
        self._names: set = set()
        self.readers = self._readers()
        self._send_lock = asyncio.Lock()
        self._queue: asyncio.Queue = asyncio.Queue()

    def _readers(self) -> dict:
        from pyfrr_pwr.telemetry.sensors import make_reader

        out = {}
        for name, c in self.cfg.line_cards.items():
            if c.power_reader:
                out[name] = make_reader(c.power_reader)
        for name, p in self.cfg.ports.items():
            if p.power_reader:
                out[name] = make_reader(p.power_reader)
        return out

    # -- API session ---------------------------------------------------------

    def _on_message(self, m) -> None:
        self._queue.put_nowait(self.core.handle(m, time.monotonic()))

    def _on_disconnect(self, client) -> None:
        self.core.session_reset()

    async def _on_connect(self, client) -> None:
        ot = self.core.opaque_type
        self.core.session_reset()
        await client.request(api.RegisterOpaqueType(10, ot))
        await client.request(api.RegisterEvent(api.LsaFilter((10,), api.ORIGIN_ANY)))
        for req in (api.SyncRouterId(), api.SyncIsm(), api.SyncNsm(), api.SyncLsdb(api.LsaFilter((10,), api.ORIGIN_ANY))):
            await client.request(req)
        # the sync's notifications travel on the other connection: let them land
        n = -1
        while n != client.stats["LsaUpdate"]:
            n = client.stats["LsaUpdate"]
            await asyncio.sleep(0.2)
        gone = self.core.resync_done()
        log.info("%s: registered opaque type 10/%d, LSDB synced (%d stale LSAs dropped)", self.name, ot, gone)

    async def _sender(self) -> None:
        while True:
            reqs = await self._queue.get()
            for r in reqs:
                if not self.client.connected:
                    break
                try:
                    rep = await self.client.request(r, check=False)
                    if not rep.ok:
                        log.warning("%s: ospfd refused %s: %s", self.name, type(r).__name__, rep.error)
                        self.core.refused(r, rep.errcode)
                except (TimeoutError, ConnectionError) as exc:
                    log.warning("%s: %s", self.name, exc)
                    break

    # -- measurements ----------------------------------------------------------

    def _netlink_snapshot(self) -> tuple[dict, dict]:
        """Interface addresses and tx byte counters (netlink, pyroute2). One
        socket kept open, one link dump per poll; addresses are re-read only
        every 20 polls or when the set of links changes."""
        from pyroute2 import IPRoute

        if self._ipr is None:
            self._ipr = IPRoute()
        ip = self._ipr
        tx, names = {}, {}
        for l in ip.get_links():
            n = l.get_attr("IFLA_IFNAME")
            names[l["index"]] = n
            st = l.get_attr("IFLA_STATS64")
            if st is not None and n in self.cfg.ports:
                tx[n] = st["tx_bytes"]
        self._polls += 1
        if self._addrs is None or self._polls % 20 == 0 or set(names.values()) != self._names:
            addrs = {}
            for a in ip.get_addr(family=2):
                n = names.get(a["index"])
                if n and n not in addrs:
                    addrs[n] = a.get_attr("IFA_ADDRESS")
            self._addrs, self._names = addrs, set(names.values())
            self._speeds()
        return self._addrs, tx

    def _speeds(self) -> None:
        """Negotiated link speed (pyroute2's ethtool); the configured speed
        stays the capacity, a mismatch is logged once per value."""
        from pyroute2.ethtool import Ethtool

        try:
            et = Ethtool()
        except Exception as exc:  # no ethtool netlink family: nothing to compare
            log.debug("%s: ethtool unavailable: %s", self.name, exc)
            return
        try:
            for ifn, p in self.cfg.ports.items():
                try:
                    mbps = et.get_link_mode(ifn).speed
                except Exception:
                    continue
                if not mbps or mbps < 0:
                    continue
                bps = mbps * 1e6
                if self.core.link_speed.get(ifn) != bps and bps != p.speed:
                    log.warning("%s: %s runs at %g Mb/s, configured speed is %g Mb/s", self.name, ifn, mbps, p.speed / 1e6)
                self.core.link_speed[ifn] = bps
        finally:
            et.close()

    def _rates(self, tx: dict, now: float) -> dict:
        used = {}
        for ifn, b in tx.items():
            if ifn not in self.cfg.ports:
                continue
            s = self.samples.setdefault(ifn, [])
            s.append((now, b))
            while len(s) > 2 and now - s[1][0] >= self.window:
                s.pop(0)
            if len(s) >= 2 and s[-1][0] > s[0][0]:
                used[ifn] = max(s[-1][1] - s[0][1], 0) * 8 / (s[-1][0] - s[0][0])
        return used

    async def _measure(self) -> None:
        while True:
            try:
                addrs, tx = await asyncio.to_thread(self._netlink_snapshot)
                now = time.monotonic()
                used = self._rates(tx, now)
                watts = {}
                for name, r in self.readers.items():
                    w = r.read()
                    if w is not None:
                        watts[name] = w
                self.core.ifaddrs = addrs
                self._queue.put_nowait(self.core.set_measurements(used, watts, now))
            except Exception:
                log.exception("%s: measurement failed", self.name)
            await asyncio.sleep(self.interval)

    # -- reservation signalling between agents ---------------------------------

    async def _signal(self, reader, writer) -> None:
        try:
            line = await reader.readline()
            req = json.loads(line)
            try:
                res = await self._signal_request(req)
                out = {"ok": True, "result": res}
            except Exception as exc:
                out = {"ok": False, "error": str(exc)}
            writer.write((json.dumps(out) + "\n").encode())
            await writer.drain()
        except (ValueError, ConnectionError):
            self.core.stats["bad_signal"] += 1
        finally:
            writer.close()

    async def _send_signal(self, router_id: str, req: dict) -> dict:
        r, w = await asyncio.wait_for(asyncio.open_connection(router_id, self.signal_port), 5)
        try:
            w.write((json.dumps(req) + "\n").encode())
            await w.drain()
            rep = json.loads(await asyncio.wait_for(r.readline(), 30))
        finally:
            w.close()
        if not rep.get("ok"):
            raise ValueError(rep.get("error"))
        return rep["result"]

    async def _signal_request(self, req: dict):
        c = self.core
        if req.get("cmd") == "reserve":
            step = c.reserve_hop(req["id"], float(req["bw"]), req["hops"], req["plan"])
            self._queue.put_nowait(c.evaluate(time.monotonic()))
            if step["next"] is None:
                return {"route": [c.router_id]}
            try:
                res = await self._send_signal(step["next"], {"cmd": "reserve", "id": req["id"], "bw": req["bw"], "hops": step["hops"], "plan": step["plan"]})
            except Exception as exc:
                c.release_hop(req["id"])
                self._queue.put_nowait(c.evaluate(time.monotonic()))
                raise ValueError(str(exc)) from None
            return {"route": [c.router_id, *res["route"]]}
        if req.get("cmd") == "release":
            if req.get("origin", True) and req["id"] not in c.reservations:
                raise ValueError(f"no reservation {req['id']} here")
            req = {**req, "origin": False}
            nxt = c.release_hop(req["id"])
            self._queue.put_nowait(c.evaluate(time.monotonic()))
            if nxt:
                await self._send_signal(nxt, req)
            return {"released": req["id"]}
        raise ValueError(f"unknown signal {req.get('cmd')!r}")

    async def reserve_path(self, dst: str, bw: float, k: int | None = None, constraints: Constraints | None = None) -> dict:
        """Choose (with min_bandwidth=bw) and reserve an inter-area path."""
        cons = Constraints.of(constraints, min_bandwidth=bw)
        sel = self.core.inter_area_path(dst, k, cons)
        b = sel["best"]
        self.res_counter += 1
        rid = f"{self.core.router_id}/{self.res_counter}"
        plan = []
        if b["abr_chain"]:
            if len(b["abr_chain"]) > 1:
                plan.append({"area": "0.0.0.0", "to": b["abr_chain"][1]})
            plan.append({"area": b["segments"][1]["area"], "to": dst})
        res = await self._signal_request({"cmd": "reserve", "id": rid, "bw": bw, "hops": b["head_path"], "plan": plan})
        return {"id": rid, "bw": bw, "route": res["route"], "path": sel}

    async def _vector_loop(self, period: float = 0.3) -> None:
        """ABR work off the event loop (draft sec. 2.3: extra cores): when a
        TED changed, snapshot, compute on a worker thread, originate."""
        while True:
            await asyncio.sleep(period)
            if not self.core.vectors_dirty or not self.client.connected:
                continue
            snap = self.core.vector_snapshot()
            if snap is None:
                continue
            try:
                res = await asyncio.to_thread(AgentCore.compute_vectors, snap)
            except Exception:
                log.exception("%s: vector computation failed", self.name)
                continue
            reqs = self.core.apply_vectors(res)
            if reqs:
                self._queue.put_nowait(reqs)

    # -- control socket ------------------------------------------------------------

    async def _control(self, reader, writer) -> None:
        try:
            while line := await reader.readline():
                try:
                    req = json.loads(line)
                    if req.get("cmd") == "reserve":
                        res = await self.reserve_path(req["to"], float(req["bw"]), req.get("k"), Constraints.of({kk: req[kk] for kk in ("max_delay", "max_hops") if req.get(kk) is not None}))
                    elif req.get("cmd") == "release":
                        res = await self._signal_request({"cmd": "release", "id": req["id"]})
                    else:
                        res = self.command(req)
                    out = {"ok": True, "result": res}
                except Exception as exc:  # report, never die
                    out = {"ok": False, "error": str(exc)}
                writer.write((json.dumps(out) + "\n").encode())
                await writer.drain()
        finally:
            writer.close()

    def command(self, req: dict):
        cmd = req.get("cmd")
        c = self.core
        if cmd == "status":
            return {
                "name": self.name,
                "router_id": c.router_id,
                "connected": self.client.connected,
                "ready_areas": sorted(c.ready),
                "interfaces": c.ism,
                "neighbors": [{"interface": k[0], "address": k[1], "router_id": v[0], "state": api.NSM_STATES.get(v[1], v[1])} for k, v in sorted(c.nbrs.items())],
                "stats": dict(c.stats),
                "api_stats": dict(self.client.stats),
            }
        if cmd == "links":
            return c.show_links()
        if cmd == "ted":
            return c.show_ted(req.get("area"))
        if cmd == "ted_times":
            return [[list(k), v] for k, v in c.ted_changed_at.items()]
        if cmd == "paths":
            from pyfrr_pwr.paths.ksp import k_shortest_paths

            src = req.get("from") or c.router_id
            dst = req["to"]
            k = int(req.get("k", c.cfg.k))
            areas = [a for a, t in c.teds.items() if src in t.routers() and dst in t.routers()]
            if req.get("area"):
                areas = [req["area"]]
            if not areas:
                raise ValueError(f"no area's TED holds both {src} and {dst}")
            G = c.ted(areas[0]).graph()
            cons = Constraints.of({kk: v for kk, v in req.items() if kk in NAMES and v is not None})
            ps = k_shortest_paths(G, src, dst, k, cons)
            return {"area": areas[0], "paths": [{"nodes": list(p.nodes), "pwr": p.cost, "pwr_w_per_gbps": metric.w_per_gbps(p.cost)} for p in ps]}
        if cmd == "path":
            cons = Constraints.of({kk: v for kk, v in req.items() if kk in NAMES and v is not None})
            return c.inter_area_path(req["to"], req.get("k"), cons)
        if cmd == "reservations":
            return c.reservations
        if cmd == "vectors":
            from pyfrr_pwr.paths.interarea import complete_vectors

            return {a: [{"from": adv, "abr_chain": list(v.abr_chain), "area": v.area, "paths": [{"endpoint": p.endpoint, "pwr": p.pwr_sum, "min_avail_bw": p.min_avail_bw, "hops": p.hop_count} for p in v.paths]} for adv, v in complete_vectors(t)] for a, t in sorted(c.teds.items())}
        raise ValueError(f"unknown command {cmd!r} (status, links, ted, paths, path, vectors)")

    async def run(self) -> None:
        path = Path(self.socket_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        old = os.umask(0o177)
        try:
            server = await asyncio.start_unix_server(self._control, path=str(path))
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        # reservation signalling between agents (no RSVP-TE here): inside the
        # router's namespace, reached over the routed network by router ID
        signal_server = await asyncio.start_server(self._signal, host="0.0.0.0", port=self.signal_port, reuse_address=True)
        tasks = [asyncio.create_task(self.client.run()), asyncio.create_task(self._measure()), asyncio.create_task(self._sender()), asyncio.create_task(self._vector_loop())]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info("%s: control socket %s", self.name, path)
        try:
            async with server:
                done, _ = await asyncio.wait([*tasks, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
                for t in done:
                    if t.exception() if not t.cancelled() else None:
                        raise t.exception()
        finally:
            for t in tasks:
                t.cancel()
            signal_server.close()
            await self.client.close()
            path.unlink(missing_ok=True)
            log.info("%s: stopped", self.name)


def run_agent(config: str, socket_path: str, api: str = "127.0.0.1:2607", name: str | None = None) -> int:
    cfg = load_power(config)
    host, _, port = (cfg.agent.get("api") or api).rpartition(":")
    agent = Agent(cfg, socket_path, host or "127.0.0.1", int(port), name=name or cfg.router or "agent")
    try:
        asyncio.run(agent.run())
    except KeyboardInterrupt:
        pass
    return 0
