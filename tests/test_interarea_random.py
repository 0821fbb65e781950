"""The head-end's inter-area choice against a central oracle on random
multi-area topologies, with ABRs attached to several areas (issue 11 sec. 6).

The oracle is the cheapest path that follows the area hierarchy of draft
sec. 2 (head area -> backbone -> tail area, crossing areas only at ABRs).
A TE path has no reason to prefer intra-area routes, so an ABR attached to
both the head-end's and the tail-end's area must also offer the detour
through the backbone and another ABR of the tail area when it is cheaper.
"""

import math
import random

import networkx as nx
import pytest

from pyfrr_pwr.model.ted import TED
from pyfrr_pwr.paths import interarea as ia
from pyfrr_pwr.proto import wire

BACKBONE = "0.0.0.0"


def _rid(i: int) -> str:
    return f"10.{i // 200}.{i % 200 + 1}.1"


def random_topology(seed: int):
    """A backbone and 2-3 other areas, each connected; ABRs sit in the
    backbone and one or more other areas; two TE endpoints per
    non-backbone area. Returns ({area: TED}, {abr: [areas]}, endpoints)."""
    rnd = random.Random(seed)
    n_areas = rnd.randint(2, 3)
    areas = [BACKBONE] + [f"0.0.0.{i}" for i in range(1, n_areas + 1)]
    members = {a: set() for a in areas}
    nid = 0
    for a in areas:
        for _ in range(rnd.randint(3, 5)):
            members[a].add(nid)
            nid += 1
    # ABRs: backbone routers that also join 1..n_areas other areas
    bb = sorted(members[BACKBONE])
    abrs = {}
    for a in areas[1:]:
        for r in rnd.sample(bb, rnd.randint(1, 2)):
            members[a].add(r)
            abrs.setdefault(r, {BACKBONE}).add(a)
    for r in rnd.sample(bb, 1):  # one ABR attached to every area
        for a in areas[1:]:
            members[a].add(r)
        abrs.setdefault(r, {BACKBONE}).update(areas)
    endpoints = {}
    for a in areas[1:]:
        inner = sorted(members[a] - set(abrs))
        for r in rnd.sample(inner, min(2, len(inner))):
            endpoints[r] = a
    teds = {a: TED(a) for a in areas}
    addr = iter(range(1, 10**6))
    lsid = iter(range(1, 10**6))
    for a in areas:
        nodes = sorted(members[a])
        g = nx.gnm_random_graph(len(nodes), rnd.randint(len(nodes), 2 * len(nodes)), seed=rnd.randint(0, 10**9))
        pairs = set(map(tuple, map(sorted, g.edges())))
        for i in range(1, len(nodes)):  # a spanning chain: every area is connected
            pairs.add((i - 1, i))
        for i, j in sorted(pairs):
            u, v = nodes[i], nodes[j]
            au, av = next(addr), next(addr)
            for x, y, lx, ly in ((u, v, au, av), (v, u, av, au)):
                tlv = wire.LinkTLV(
                    _rid(y),
                    local_addrs=(f"172.16.{lx // 250}.{lx % 250 + 1}",),
                    remote_addrs=(f"172.16.{ly // 250}.{ly % 250 + 1}",),
                    pwr_consumed=rnd.choice([0.5, 1.0, 2.0, 4.0, 8.0]) * rnd.random() + 0.01,
                    avail_bw=1e9,
                )
                teds[a].apply(_rid(x), wire.make_lsid(200, next(lsid)), wire.encode([tlv]))
    for r, a in endpoints.items():
        teds[a].apply(_rid(r), wire.make_lsid(200, next(lsid)), wire.encode([wire.TEEndpoint(_rid(r), wire.EP_HEAD | wire.EP_TAIL)]))
    for r, ars in abrs.items():
        for a in ars:
            teds[a].apply(_rid(r), wire.make_lsid(200, next(lsid)), wire.encode([wire.AreaBorder(_rid(r), tuple(sorted(ars)))]))
    return teds, {_rid(r): sorted(a) for r, a in abrs.items()}, {_rid(r): a for r, a in endpoints.items()}


def hierarchy_oracle(teds, src, src_area, dst, dst_area):
    """Cheapest path head area -> backbone -> tail area, changing area only
    at a router present in both (an ABR), at no cost."""
    order = [src_area, BACKBONE, dst_area]
    L = nx.DiGraph()
    for i, a in enumerate(order):
        for u, v, d in teds[a].graph().edges(data=True):
            w = d["weight"]
            if not L.has_edge((u, i), (v, i)) or L[(u, i)][(v, i)]["weight"] > w:
                L.add_edge((u, i), (v, i), weight=w)
    for i in range(len(order)):
        for j in range(i + 1, len(order)):
            for r in teds[order[i]].routers() & teds[order[j]].routers():
                L.add_edge((r, i), (r, j), weight=0.0)
    try:
        return nx.dijkstra_path_length(L, (src, 0), (dst, len(order) - 1))
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        return math.inf


def _converged(teds, abrs, k):
    ia.converge({abr: {a: teds[a] for a in ars} for abr, ars in abrs.items()}, k=k)
    return teds


@pytest.mark.parametrize("seed", range(60))
def test_random_multi_area_choice_equals_the_hierarchy_optimum(seed):
    teds, abrs, endpoints = random_topology(seed)
    _converged(teds, abrs, k=4)
    for h, ha in sorted(endpoints.items()):
        for t, ta in sorted(endpoints.items()):
            if ha == ta:
                continue
            want = hierarchy_oracle(teds, h, ha, t, ta)
            sel = ia.select(h, t, teds[ha], ia.complete_vectors(teds[ha]), k=4)
            assert math.isfinite(want)
            assert sel.best is not None, sel.reason
            assert sel.best.total.pwr == pytest.approx(want, rel=1e-5), (h, t, sel.best.abr_chain)


def test_an_abr_in_both_areas_offers_the_cheaper_detour_through_the_backbone():
    """Head area 1 and tail area 2 share ABR X; inside area 2 X's link to
    the tail-end is dear, while X -> Y over the backbone and Y -> tail in
    area 2 is cheap. X must advertise the detour into area 1."""
    X, Y, H, T = "10.0.0.1", "10.0.0.2", "10.0.1.1", "10.0.2.1"
    teds = {a: TED(a) for a in (BACKBONE, "0.0.0.1", "0.0.0.2")}
    n = iter(range(1, 1000))

    def link(area, a, b, pwr):
        la, lb = next(n), next(n)
        for x, y, lx, ly in ((a, b, la, lb), (b, a, lb, la)):
            tlv = wire.LinkTLV(y, local_addrs=(f"172.16.0.{lx}",), remote_addrs=(f"172.16.0.{ly}",), pwr_consumed=pwr, avail_bw=1e9)
            teds[area].apply(x, wire.make_lsid(200, next(n)), wire.encode([tlv]))

    link("0.0.0.1", H, X, 1.0)
    link(BACKBONE, X, Y, 1.0)
    link("0.0.0.2", X, T, 100.0)
    link("0.0.0.2", Y, T, 1.0)
    teds["0.0.0.1"].apply(H, wire.make_lsid(200, 900), wire.encode([wire.TEEndpoint(H, wire.EP_HEAD)]))
    teds["0.0.0.2"].apply(T, wire.make_lsid(200, 901), wire.encode([wire.TEEndpoint(T, wire.EP_TAIL)]))
    abrs = {X: [BACKBONE, "0.0.0.1", "0.0.0.2"], Y: [BACKBONE, "0.0.0.2"]}
    _converged(teds, abrs, k=2)
    sel = ia.select(H, T, teds["0.0.0.1"], ia.complete_vectors(teds["0.0.0.1"]), k=2)
    assert sel.best.total.pwr == pytest.approx(3.0)
    assert sel.best.abr_chain == (X, Y)
