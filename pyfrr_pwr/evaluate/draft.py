"""Strategies 2 and 3: the draft, with the project's own code.

Both place demands one by one (largest first) as TE LSPs with a bandwidth
reservation, and after each placement every router re-computes what it
advertises exactly as the agent does (``agent.core.AgentCore.evaluate``):

* a port's Link TLV is ``model.advert.link_tlv`` of its router's power
  model at the bandwidth still available and the traffic its line card
  sends (POWER, Available-POWER, the lower of the two: sec. 2.1.1, 2.1.8.2);
* a port with a new reservation floods at once (bandwidth is a hard
  constraint; the agent resets its band then), any other port only when its
  banded figure leaves its interval (``metric.Banding``, sec. 2.2 and
  2.1.6; the agent's ratio 1.25 and hysteresis 0.05 by default). The
  agent's ``min_interval`` is a wall-clock rate limit with nothing to
  simulate offline, where every flood is done before the next demand.

``draft`` (intra-area, sec. 2.1.7): one area holding the whole network; the
head-end runs CSPF (``paths.ksp``, k = 1, ``min_bandwidth`` = the demand)
on PWRLINK (``metric.link_pwrlink``, the TED's weight).

``draft-inter`` (sec. 2, 2.1.9, 2.2): per-area TE databases (``model.ted``)
filled with those TLVs; every ABR's reachability vectors from
``paths.interarea.VectorComputer``, re-flooded only when their banded
signature changes (``interarea.signature``, as the agent does); the
head-end's choice from ``interarea.select`` over its own area and the
vectors; the route is then expanded ABR by ABR with CSPF at the requested
bandwidth, as the agents' reservation signalling does
(``AgentCore.reserve_hop``). If an expansion finds no bandwidth the
head-end tries its next choice; a demand no choice can carry is refused.

Vectors are computed to convergence at the start; then every ``refresh``
placements each ABR recomputes once from what it holds (one turn of the
agents' vector loop, which recomputes when its TEDs changed): 1 is after
every placement, as when demands arrive slower than the loop turns; the
default, an eighth of the demands, is for speed, so head-ends choose on
vectors up to that many placements old and the ABRs' expansion catches
what no longer fits. ``k`` (default 2, the agents' is 8) bounds the paths
per vector entry and per head-end search. On geant and germany50 neither
choice moved the total power by more than a few watts (docs/evaluation.md).

An advertised available bandwidth is never below 0.1 % of the capacity
(``metric.clamp_avail_bw``), so CSPF can pick a full link for a demand
smaller than that. A head-end would see the reservation fail; here the
placement checks the true residual and retries without that link
(counted in ``notes['clamp_retries']``).
"""

from __future__ import annotations

import copy
import time

import networkx as nx
import numpy as np

from pyfrr_pwr.evaluate import demands as dem
from pyfrr_pwr.evaluate.network import BACKBONE, Network
from pyfrr_pwr.evaluate.placement import Placement
from pyfrr_pwr.evaluate.powermodel import PowerModel
from pyfrr_pwr.model import advert, metric
from pyfrr_pwr.model.constraints import Constraints
from pyfrr_pwr.model.ted import TED
from pyfrr_pwr.paths import interarea as ia
from pyfrr_pwr.paths.ksp import CompiledGraph
from pyfrr_pwr.proto import wire

__all__ = ["Advertiser", "run_intra", "run_inter", "InterArea"]

RESIDUAL_TOL = 1e-6  # bits/s of round-off a reservation may exceed the capacity by


def _addr(arc: int) -> str:
    """A /31 per link for the TEDs' pairing of link ends (RFC 3630 sec. 2.5.3-4)."""
    x = (172 << 24) | (16 << 16) | arc
    return ".".join(str((x >> s) & 255) for s in (24, 16, 8, 0))


class Advertiser:
    """Every port's advertisement as reservations are made (see the module
    docstring). ``value[arc]`` is the advertised POWER of the port an arc
    leaves from, ``tlv[arc]`` its Link TLV."""

    def __init__(self, net: Network, pm: PowerModel, band_ratio: float = 1.25, hysteresis: float = 0.05):
        self.net, self.pm = net, pm
        self.ratio, self.hyst = band_ratio, hysteresis
        self.reserved = np.zeros(net.n_arcs)
        self.used = {r: {} for r in net.nodes}  # router -> ifname -> bits/s sent
        self.tlv: list = [None] * net.n_arcs
        self.value = np.zeros(net.n_arcs)
        self.band: list = [None] * net.n_arcs
        self.floods = 0
        self.suppressed = 0
        self._band0 = metric.Banding.geometric(1e-15, 1e3, band_ratio, hysteresis)
        cards = pm.cards
        self.card_arcs = [cards[pm.card_of[a]].arcs for a in range(net.n_arcs)]
        for a in range(net.n_arcs):
            self._send(a, self._make(a))

    def _make(self, a: int) -> wire.LinkTLV:
        net = self.net
        r, _ = net.arc_port(a)
        ifn = self.pm.ifname[a]
        _, h = net.arc_ends(a)
        # a Python float, not numpy's: the wire objects carry it into the
        # ABR vectors, whose array combination takes exact floats only
        avail = float(max(net.caps[a] - self.reserved[a], 0.0))
        return advert.link_tlv(self.pm.routers[r], ifn, net.router_ids[h], _addr(a), _addr(a ^ 1), available_bps=avail, used_bps=self.used[r])

    def _send(self, a: int, tlv: wire.LinkTLV) -> None:
        v = metric.effective_metric(tlv.pwr_consumed, tlv.pwr_available)
        # a fresh band, as the agent makes on a reservation: a copy of one
        # geometric template (the edges are never changed, only shared)
        b = copy.copy(self._band0)
        b.update(v)
        self.tlv[a], self.value[a], self.band[a] = tlv, v, b
        self.floods += 1

    def reserve(self, arcs, bps: float) -> set:
        """Reserve ``bps`` on ``arcs``; returns the arcs whose port
        re-advertised."""
        net = self.net
        for a in arcs:
            self.reserved[a] += bps
            r, _ = net.arc_port(a)
            ifn = self.pm.ifname[a]
            self.used[r][ifn] = self.used[r].get(ifn, 0.0) + bps
        own = set(arcs)
        touched = {x for a in arcs for x in self.card_arcs[a]}
        changed = set()
        for a in sorted(touched):
            tlv = self._make(a)
            if a in own:
                self._send(a, tlv)
                changed.add(a)
                continue
            v = metric.effective_metric(tlv.pwr_consumed, tlv.pwr_available)
            if self.band[a].update(v) is not None:
                self.tlv[a], self.value[a] = tlv, v
                self.floods += 1
                changed.add(a)
            else:
                self.suppressed += 1
        return changed

    def residual_ok(self, arcs, bps: float) -> list:
        """Arcs among ``arcs`` that cannot take ``bps`` more."""
        caps = self.net.caps
        return [a for a in arcs if self.reserved[a] + bps > caps[a] + RESIDUAL_TOL]

    def pwrlink(self, a: int) -> float:
        """The CSPF weight of an arc (sec. 2.1.1): both ends' POWER, as the
        TED pairs them (``metric.link_pwrlink``)."""
        return metric.link_pwrlink(self.value[a], self.value[a ^ 1])


def _route(arcs) -> dict:
    return {a: 1.0 for a in arcs}


def run_intra(net: Network, pm: PowerModel, demands: list, band_ratio: float = 1.25, hysteresis: float = 0.05, inplace: bool = True) -> Placement:
    """``inplace``: re-weight the compiled CSPF graph in place after each
    placement (``CompiledGraph.update_edges``); False recompiles it from
    the networkx graph, the reference the tests compare against."""
    t0 = time.perf_counter()
    adv = Advertiser(net, pm, band_ratio, hysteresis)
    G = nx.MultiDiGraph()
    G.add_nodes_from(net.nodes)
    for a in range(net.n_arcs):
        u, v = net.arc_ends(a)
        G.add_edge(u, v, key=a, weight=adv.pwrlink(a), avail_bw=adv.tlv[a].avail_bw)
    routes: list = [None] * len(demands)
    loads = np.zeros(net.n_arcs)
    retries = compiles = 0
    cg = CompiledGraph.from_networkx(G)
    inplace = inplace and hasattr(cg, "update_edges")
    for i in dem.order(net, demands):
        d = demands[i]
        bw = metric.bps_to_Bps(d.bps)
        excl: list = []
        arcs = None
        while True:
            ps = cg.k_shortest_paths(d.src, d.dst, 1, Constraints(min_bandwidth=bw, exclude_edges=tuple(excl)))
            if not ps:
                break
            cand = [e[2] for e in ps[0].edges]
            bad = adv.residual_ok(cand, d.bps)
            if not bad:
                arcs = cand
                break
            retries += 1
            excl += [net.arc_ends(a) + (a,) for a in bad]
        if arcs is None:
            continue
        routes[i] = _route(arcs)
        loads[arcs] += d.bps
        changed = adv.reserve(arcs, d.bps)
        updates = {}
        for a in changed:
            for x in (a, a ^ 1):
                u, v = net.arc_ends(x)
                e = G.edges[u, v, x]
                e["weight"] = adv.pwrlink(x)
                e["avail_bw"] = adv.tlv[x].avail_bw
                updates[(u, v, x)] = {"weight": e["weight"], "avail_bw": e["avail_bw"]}
        if inplace:
            cg.update_edges(updates)
        else:
            cg = CompiledGraph.from_networkx(G)
            compiles += 1
    return Placement(
        "draft",
        loads,
        routes,
        sleep=False,
        seconds=time.perf_counter() - t0,
        notes={"floods": adv.floods, "suppressed": adv.suppressed, "clamp_retries": retries, "compiles": compiles},
    )


# ----------------------------------------------------------------- inter-area


class _TED(TED):
    """A TED whose CSPF graph is built once and then patched: when a link
    end re-advertises under the same LSA (same link, same addresses, new
    figures), its two arcs get the attributes ``TED.graph()`` would give
    them (``tests/test_evaluate*.py`` check the two agree); anything else
    rebuilds. Vectors do not enter ``graph()``. The ABRs and head-ends of a
    simulation ask for the graph far more often than a link changes.

    ``TED.graph()`` is one read-only object per topology generation, and
    ``paths.interarea`` keys its caches on that object (per-graph figures,
    compiled graphs; a ``VectorComputer`` reads "the same object" as
    "nothing changed"). So a patch tells that module the object changed
    (``interarea.invalidate``: its per-graph entries for it are dropped),
    and ``new_generation`` (called before every ABR recomputation) hands
    out a copy when anything was patched since.

    ``patch=False`` is the plain ``TED`` (a graph built per generation),
    the reference; ``inplace`` patches the compiled CSPF graph in place
    (``CompiledGraph.update_edges``) rather than recompiling it."""

    def __init__(self, area: str, inplace: bool = True, patch: bool = True):
        super().__init__(area)
        self._g = None
        self._cg = None
        self._cg_of = None  # the graph object _cg was compiled from (patch=False)
        self._dirty = False
        self.inplace, self.patch = inplace, patch

    def _patch(self, adv_router, lsid, tlvs) -> bool:
        old = self.lsas.get((adv_router, lsid))
        if self._g is None or not old or len(old) != 1 or len(tlvs) != 1:
            return False
        o, t = old[0], tlvs[0]
        if not isinstance(o, wire.LinkTLV) or not isinstance(t, wire.LinkTLV):
            return False
        if (o.link_id, o.local_addrs, o.remote_addrs) != (t.link_id, t.local_addrs, t.remote_addrs) or not t.local_addrs or not t.remote_addrs:
            return False
        G = self._g
        near_key, far_key = t.local_addrs[0], t.remote_addrs[0]
        if not G.has_edge(adv_router, t.link_id, near_key) or not G.has_edge(t.link_id, adv_router, far_key):
            return False
        ne, fe = G.edges[adv_router, t.link_id, near_key], G.edges[t.link_id, adv_router, far_key]
        if ne["one_sided"] or fe["one_sided"] or ne["lsid"] != lsid:
            return False
        far_tlv = next(x for x in self.lsas[(t.link_id, fe["lsid"])] if isinstance(x, wire.LinkTLV))
        p_near = metric.effective_metric(t.pwr_consumed, t.pwr_available)
        p_far = ne["pwr_far"]
        w_near = metric.capacity_weight(t.max_bw, getattr(t, "highest_bw", None))
        w_far = metric.capacity_weight(far_tlv.max_bw, getattr(far_tlv, "highest_bw", None))
        ne.update(
            weight=metric.link_pwrlink(p_near, p_far, w_near, w_far),
            avail_bw=t.avail_bw if t.avail_bw is not None else float("inf"),
            max_bw=t.max_bw,
            admin_group=t.admin_group or 0,
            delay=float(t.delay_us or 0),
            te_metric=t.te_metric,
            pwr_near=p_near,
        )
        dv = getattr(t, "delay_var_us", None)  # RFC 7471 sec. 4.3, as TED.graph() reads it
        if dv is not None:
            ne["delay_var"] = float(dv)
        else:
            ne.pop("delay_var", None)
        fe.update(weight=metric.link_pwrlink(fe["pwr_near"], p_near, w_far, w_near), pwr_far=p_near)
        ia.invalidate(G)  # G changed in place: paths.interarea's per-graph caches (issue 10)
        self._dirty = True
        if self._cg is not None:
            if self.inplace and hasattr(self._cg, "update_edges"):
                # the same two arcs in the compiled CSPF graph, in place
                # (the attributes ``CompiledGraph.from_networkx`` reads)
                self._cg.update_edges(
                    {
                        (adv_router, t.link_id, near_key): {k: ne[k] for k in ("weight", "avail_bw", "admin_group", "delay")},
                        (t.link_id, adv_router, far_key): {"weight": fe["weight"]},
                    }
                )
            else:
                self._cg = None
        return True

    def apply_tlvs(self, adv_router, lsid, tlvs):
        if self.patch and not str(lsid).startswith("vector/"):
            if not self._patch(adv_router, lsid, tlvs):
                self._g = self._cg = None
        super().apply_tlvs(adv_router, lsid, tlvs)

    def withdraw(self, adv_router, lsid):
        if not str(lsid).startswith("vector/"):
            self._g = self._cg = None
        return super().withdraw(adv_router, lsid)

    def new_generation(self) -> None:
        """A new graph object if this one was patched since it was handed
        out (see the class docstring)."""
        if self._dirty and self._g is not None:
            self._g = self._g.copy()  # same nodes and arcs, same order: _cg stays valid
        self._dirty = False

    def graph(self, include_one_sided: bool = False):
        if include_one_sided or not self.patch:
            return super().graph(include_one_sided)
        if self._g is None:
            self._g = super().graph().copy()  # ours to patch: TED.graph() is shared and read-only
            self._dirty = False
        return self._g

    def compiled(self) -> CompiledGraph:
        G = self.graph()
        if self._cg is None or (not self.patch and self._cg_of is not G):
            self._cg, self._cg_of = CompiledGraph.from_networkx(G), G
        return self._cg


class InterArea:
    """Per-area TEDs, ABR vectors and head-end choices (sec. 2, 2.2)."""

    def __init__(self, net: Network, adv: Advertiser, k: int = 4, band_ratio: float = 1.25, inplace: bool = True, patch: bool = True):
        self.net, self.adv, self.k = net, adv, k
        rid = net.router_ids
        self.name_of = {v: n for n, v in rid.items()}
        self.teds = {a: _TED(a, inplace, patch) for a in net.areas}
        self.arc_of_addr = {_addr(a): a for a in range(net.n_arcs)}
        self.areas_of = {n: sorted(net.node_areas(n)) for n in net.nodes}
        for a in range(net.n_arcs):
            self._install(a)
        for n in net.nodes:
            areas = set(self.areas_of[n])
            tlvs = advert.node_tlvs(adv.pm.routers[n], rid[n], areas)
            for area in areas:
                if tlvs:
                    self.teds[area].apply_tlvs(rid[n], "node", tlvs)
        self.abrs = {rid[n]: {a: self.teds[a] for a in self.areas_of[n]} for n in net.abrs}
        self.vcs = {r: ia.VectorComputer(r, k) for r in self.abrs}
        self.sigs: dict = {}
        self.vband = metric.Banding.geometric(1e-15, 1e13, band_ratio, 0.0)
        self.stats = {"refreshes": 0, "vectors_flooded": 0, "vectors_suppressed": 0, "expansion_failures": 0, "loops": 0}
        self.index: dict = {}  # area -> destination -> [(adv, vector holding only its entries)]
        self._cuts: dict = {}  # (area, adv, lsid) -> (vector, [(destination, its cut)])

    def _install(self, a: int) -> None:
        area = self.net.links[a // 2].area
        r, _ = self.net.arc_port(a)
        self.teds[area].apply_tlvs(self.net.router_ids[r], f"link/{a}", [self.adv.tlv[a]])

    def update(self, arcs) -> None:
        for a in arcs:
            self._install(a)

    def refresh(self, rounds: int = 1) -> None:
        """Every ABR recomputes once from what it holds, and floods the
        vectors whose banded signature changed (the agent's suppression):
        one turn of the agents' vector loop. ``rounds`` > 1 repeats until
        the backbone is stable, as ``interarea.converge`` (the start)."""
        self.stats["refreshes"] += 1
        for ted in self.teds.values():
            ted.new_generation()
        for _ in range(rounds):
            moved = False
            for abr in sorted(self.abrs):
                out = self.vcs[abr].compute(self.abrs[abr])
                for into, vecs in out.items():
                    ted = self.teds[into]
                    wanted = {}
                    for v in vecs:
                        wanted[f"vector/{'/'.join(v.abr_chain)}/{v.area}"] = v
                    for key in [k for (r, k) in ted.lsas if r == abr and k.startswith("vector/") and k not in wanted]:
                        ted.withdraw(abr, key)
                        self.sigs.pop((abr, into, key), None)
                        moved |= into == BACKBONE
                    for key, v in wanted.items():
                        sig = ia.signature(v, self.vband)
                        if self.sigs.get((abr, into, key)) == sig and (abr, key) in ted.lsas:
                            self.stats["vectors_suppressed"] += 1
                            continue
                        self.sigs[(abr, into, key)] = sig
                        ted.apply_tlvs(abr, key, [v])
                        self.stats["vectors_flooded"] += 1
                        moved |= into == BACKBONE
            if not moved:
                break
        self._reindex()

    def _reindex(self) -> None:
        """What a head-end looks up per request: the vectors of its area
        cut down to one destination's entries (``select`` reads no other).
        A vector not re-flooded since the last refresh is the same object,
        and its cut is reused."""
        self.index = {}
        split, cuts = {}, self._cuts
        for area, ted in self.teds.items():
            by: dict = {}
            for adv, lsid, v in ted.vectors():
                key = (area, adv, lsid)
                old = cuts.get(key)
                if old is not None and old[0] is v:
                    per = old[1]
                else:
                    groups: dict = {}
                    for p in v.paths:
                        groups.setdefault(p.endpoint, []).append(p)
                    per = [(ep, wire.ReachabilityVector(v.abr_chain, v.area, tuple(ps))) for ep, ps in groups.items()]
                split[key] = (v, per)
                for ep, cut in per:
                    by.setdefault(ep, []).append((adv, cut))
            self.index[area] = by
        self._cuts = split

    def _expand(self, area: str, frm: str, to: str, bw: float) -> list | None:
        ted = self.teds.get(area)
        if ted is None:
            return None
        cg = ted.compiled()
        if frm not in cg.index or to not in cg.index:
            return None
        ps = cg.k_shortest_paths(frm, to, 1, Constraints(min_bandwidth=bw))
        return [self.arc_of_addr[e[2]] for e in ps[0].edges] if ps else None

    def choices(self, src: str, dst: str, bw: float) -> list:
        """The head-end's ordered choices (``interarea.select`` in every
        area it is in, the best first, as ``AgentCore.inter_area_path``)."""
        rid = self.net.router_ids
        h, t = rid[src], rid[dst]
        out = []
        for area in self.areas_of[src]:
            ted = self.teds[area]
            vecs = self.index.get(area, {}).get(t, [])
            sel = ia.select(h, t, ted, vecs, k=self.k, constraints=Constraints(min_bandwidth=bw), limit=4 * self.k, compiled=ted.compiled())
            out += [(c, area) for c in sel.choices]
        out.sort(key=lambda x: (x[0].total.pwr, x[0].total.hops))
        return out

    def place(self, src: str, dst: str, bps: float) -> list | None:
        """Choose, expand and check one demand's route; None if refused."""
        bw = metric.bps_to_Bps(bps)
        rid = self.net.router_ids
        for c, area in self.choices(src, dst, bw):
            ted = self.teds[area]
            G = ted.graph()
            arcs = []
            nodes = c.head_path
            ok = True
            for u, v in zip(nodes, nodes[1:]):
                # the head-end's own segment: the cheapest parallel link that fits
                best = min(
                    ((d["weight"], self.arc_of_addr[k]) for k, d in G[u][v].items() if d["avail_bw"] >= bw),
                    default=None,
                )
                if best is None:
                    ok = False
                    break
                arcs.append(best[1])
            if not ok:
                continue
            if c.abr_chain:
                plan = []
                if len(c.abr_chain) > 1:
                    plan.append((BACKBONE, c.abr_chain[0], c.abr_chain[1]))
                plan.append((c.area, c.abr_chain[-1], rid[dst]))
                for seg_area, frm, to in plan:
                    seg = self._expand(seg_area, frm, to, bw)
                    if seg is None:
                        ok = False
                        self.stats["expansion_failures"] += 1
                        break
                    arcs += seg
            if not ok or self.adv.residual_ok(arcs, bps):
                continue
            visited = [self.net.arc_ends(a)[0] for a in arcs]
            if len(set(visited)) != len(visited):
                self.stats["loops"] += 1  # segments that meet again: an LSP may not loop
                continue
            return arcs
        return None


def run_inter(
    net: Network,
    pm: PowerModel,
    demands: list,
    k: int = 2,
    refresh: int | None = None,
    band_ratio: float = 1.25,
    hysteresis: float = 0.05,
    inplace: bool = True,
    patch: bool = True,
) -> Placement:
    """``patch``: the TEDs patch their CSPF graphs when a link end
    re-advertises, and ``inplace`` their compiled forms too (``_TED``);
    both False is the plain ``TED``, the reference the tests compare with."""
    if len(net.areas) < 2:
        raise ValueError(f"{net.source}: draft-inter needs areas (a backbone and at least one other area)")
    t0 = time.perf_counter()
    adv = Advertiser(net, pm, band_ratio, hysteresis)
    sim = InterArea(net, adv, k, band_ratio, inplace, patch)
    sim.refresh(rounds=4)
    every = refresh or max(1, len(demands) // 8)
    routes: list = [None] * len(demands)
    loads = np.zeros(net.n_arcs)
    since = 0
    for i in dem.order(net, demands):
        d = demands[i]
        arcs = sim.place(d.src, d.dst, d.bps)
        if arcs is None:
            continue
        routes[i] = _route(arcs)
        loads[arcs] += d.bps
        sim.update(adv.reserve(arcs, d.bps))
        since += 1
        if since >= every:
            sim.refresh()
            since = 0
    notes = {"floods": adv.floods, "suppressed": adv.suppressed, "refresh_every": every, "k": k, **sim.stats}
    return Placement("draft-inter", loads, routes, sleep=False, seconds=time.perf_counter() - t0, notes=notes)
