"""The central inter-area oracle on fig-2-0 (test helper): the cheapest path
over the whole topology that crosses areas only through ABRs, a view no
router has. Shared by the offline, in-memory and FRR inter-area tests."""

import math

import networkx as nx

HEADS = ["TEh1", "TEh2", "TEh3"]
TAILS = ["TEt1", "TEt2", "TEt4"]


def area_order(head: str) -> list:
    """Head-end area -> backbone -> tail-end area, for fig-2-0's names."""
    return ["0.0.0.1", "0.0.0.0", "0.0.0.2"] if head.startswith("TEh") else ["0.0.0.2", "0.0.0.0", "0.0.0.1"]


def layered(teds, order, min_bw=None):
    """One copy of each area's graph, in the order head area -> backbone ->
    tail area, joined by zero-cost, zero-hop steps between an ABR's copies:
    every path through it crosses areas only at ABRs."""
    L = nx.DiGraph()
    for a in order:
        for u, v, d in teds[a].graph().edges(data=True):
            if min_bw is not None and d["avail_bw"] < min_bw:
                continue
            w = d["weight"]
            if not L.has_edge((u, a), (v, a)) or L[(u, a)][(v, a)]["weight"] > w:
                L.add_edge((u, a), (v, a), weight=w, hop=1)
    for a, b in zip(order, order[1:]):
        for r in teds[a].routers() & teds[b].routers():
            L.add_edge((r, a), (r, b), weight=0.0, hop=0)
    return L


def oracle(teds, src, dst, order, min_bw=None):
    """Central computation over the whole topology: the cheapest path that
    crosses areas only through ABRs."""
    try:
        return nx.dijkstra_path_length(layered(teds, order, min_bw), (src, order[0]), (dst, order[-1]))
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        return math.inf
