"""Random multi-area ASes and the hierarchy oracle (draft sec. 2.1): the
inputs and the reference answer of the random inter-area tests."""

import math
import random

import networkx as nx

from pyfrr_pwr.model.ted import TED
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
