"""Backup paths disjoint from a fixed primary (paths.disjoint), against a
brute-force oracle that enumerates every simple path of small random
multigraphs shaped like the TED (links in both directions, parallel links,
keys the local address, ``remote`` the far end's key)."""

import math

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyfrr_pwr.model.constraints import Constraints
from pyfrr_pwr.paths.disjoint import avoiding, backup_path, physical_links, protect


@st.composite
def ted_graphs(draw):
    n = draw(st.integers(3, 6))
    links = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.integers(1, 9), st.integers(1, 9)), min_size=2, max_size=11))
    G = nx.MultiDiGraph()
    G.add_nodes_from(range(n))
    for i, (u, v, w1, w2) in enumerate(links):
        if u == v:
            continue
        G.add_edge(u, v, key=2 * i, weight=w1, remote=2 * i + 1)
        G.add_edge(v, u, key=2 * i + 1, weight=w2, remote=2 * i)
    src, dst = draw(st.sampled_from([(a, b) for a in range(n) for b in range(n) if a != b]))
    paths = list(nx.all_simple_edge_paths(G, src, dst))
    if not paths:
        return G, src, dst, None
    return G, src, dst, draw(st.sampled_from(paths))


def cost(G, p):
    return sum(G.edges[e]["weight"] for e in p)


def oracle(G, src, dst, primary):
    """(kind, cost) of the best backup by enumeration."""
    links = physical_links(G, primary)
    transit = {e[1] for e in primary[:-1]}
    best = {"node": math.inf, "link": math.inf}
    for p in nx.all_simple_edge_paths(G, src, dst):
        if links & set(p):
            continue
        c = cost(G, p)
        best["link"] = min(best["link"], c)
        if not transit & {e[1] for e in p[:-1]}:
            best["node"] = min(best["node"], c)
    for kind in ("node", "link"):
        if best[kind] < math.inf:
            return kind, best[kind]
    return "none", None


@given(ted_graphs())
def test_backup_matches_brute_force(case):
    G, src, dst, primary = case
    if primary is None:
        return
    path, kind = backup_path(G, primary, src, dst)
    want_kind, want_cost = oracle(G, src, dst, primary)
    assert kind == want_kind
    if kind == "none":
        assert path is None
        return
    assert path.cost == pytest.approx(want_cost)
    assert path.cost == pytest.approx(cost(G, path.edges))
    assert path.nodes[0] == src and path.nodes[-1] == dst
    assert not physical_links(G, primary) & set(path.edges)
    if kind == "node":
        assert not {e[1] for e in primary[:-1]} & set(path.nodes[1:-1])


@given(ted_graphs())
def test_trap_flag_means_a_disjoint_pair_exists(case):
    G, src, dst, primary = case
    if primary is None:
        return
    b = protect(G, primary, src, dst)
    if b.kind != "none":
        assert not b.trap
        return
    # a trap: some pair of link-disjoint paths exists (enumerate pairs)
    paths = [set(physical_links(G, p)) for p in nx.all_simple_edge_paths(G, src, dst)]
    pair = any(not (a & c) for i, a in enumerate(paths) for c in paths[i + 1 :])
    assert b.trap == pair


def ring():
    """a-b-c primary (cheap), a-d-e-c backup; b-e a chord."""
    G = nx.MultiDiGraph()
    for u, v, w in [("a", "b", 1), ("b", "c", 1), ("a", "d", 2), ("d", "e", 2), ("e", "c", 2), ("b", "e", 1)]:
        G.add_edge(u, v, key=f"{u}{v}", weight=w, remote=f"{v}{u}", avail_bw=100.0)
        G.add_edge(v, u, key=f"{v}{u}", weight=w, remote=f"{u}{v}", avail_bw=100.0)
    return G


PRIMARY = [("a", "b", "ab"), ("b", "c", "bc")]


def test_node_disjoint_preferred_over_cheaper_link_disjoint():
    G = ring()
    # a-b-e-c costs 4 but shares router b; a-d-e-c costs 6 and shares nothing
    path, kind = backup_path(G, PRIMARY, "a", "c")
    assert kind == "node" and path.nodes == ("a", "d", "e", "c")


def test_link_disjoint_when_a_router_is_unavoidable():
    G = ring()
    G.remove_edges_from([("a", "d", "ad"), ("d", "a", "da")])
    G.add_edge("a", "b", key="ab2", weight=3, remote="ba2")
    G.add_edge("b", "a", key="ba2", weight=3, remote="ab2")
    path, kind = backup_path(G, PRIMARY, "a", "c")
    assert kind == "link"
    assert path.edges[0] == ("a", "b", "ab2")  # the parallel link, not the primary's


def test_reverse_direction_counts_as_the_same_link():
    G = nx.MultiDiGraph()
    for u, v, w in [("s", "x", 1), ("x", "t", 1), ("s", "y", 1), ("y", "x", 1)]:
        G.add_edge(u, v, key=u + v, weight=w, remote=v + u)
        G.add_edge(v, u, key=v + u, weight=w, remote=u + v)
    # primary s-y-x-t; the only other path s-x-t shares x-t: none
    b = protect(G, [("s", "y", "sy"), ("y", "x", "yx"), ("x", "t", "xt")], "s", "t")
    assert b.kind == "none" and b.path is None and not b.trap


def test_trap_topology_is_reported():
    # the classic trap: primary s-a-b-t blocks both s-a-...-t and s-...-b-t
    G = nx.MultiDiGraph()
    for u, v, w in [("s", "a", 1), ("a", "b", 1), ("b", "t", 1), ("s", "c", 2), ("c", "b", 2), ("a", "d", 2), ("d", "t", 2)]:
        G.add_edge(u, v, key=u + v, weight=w, remote=v + u)
        G.add_edge(v, u, key=v + u, weight=w, remote=u + v)
    b = protect(G, [("s", "a", "sa"), ("a", "b", "ab"), ("b", "t", "bt")], "s", "t")
    assert b.kind == "none" and b.trap  # s-c-b-t and s-a-d-t would be a disjoint pair


def test_constraints_apply_to_the_backup():
    G = ring()
    for e in [("d", "e", "de")]:
        G.edges[e]["avail_bw"] = 10.0
    # a-d-e-c is the only disjoint path and d-e is too thin for 50
    assert backup_path(G, PRIMARY, "a", "c", Constraints(min_bandwidth=50.0)) == (None, "none")
    path, kind = backup_path(G, PRIMARY, "a", "c", Constraints(min_bandwidth=5.0))
    assert kind == "node" and path.nodes == ("a", "d", "e", "c")
    assert backup_path(G, PRIMARY, "a", "c", Constraints(exclude_nodes=("e",))) == (None, "none")


def test_shared_risk_groups():
    G = ring()
    G.edges["a", "b", "ab"]["srlg"] = [7]
    G.edges["a", "d", "ad"]["srlg"] = [8]
    b = protect(G, PRIMARY, "a", "c")
    assert (b.kind, b.srlg, b.path.nodes) == ("node", True, ("a", "d", "e", "c"))
    G.edges["d", "e", "de"]["srlg"] = [9, 7]  # same duct as the primary's first link
    b = protect(G, PRIMARY, "a", "c")
    assert (b.kind, b.srlg, b.path.nodes) == ("node", False, ("a", "d", "e", "c"))  # node-disjoint beats shared-risk-free
    G.add_edge("d", "e", key="de2", weight=3, remote="ed2")
    G.add_edge("e", "d", key="ed2", weight=3, remote="de2")
    b = protect(G, PRIMARY, "a", "c")
    assert (b.kind, b.srlg, b.path.edges[1]) == ("node", True, ("d", "e", "de2"))  # dearer, but no shared risk
    assert protect(ring(), PRIMARY, "a", "c").srlg is None


def test_plain_digraph():
    G = nx.DiGraph()
    nx.add_path(G, [0, 1, 2], weight=1)
    nx.add_path(G, [0, 3, 2], weight=5)
    path, kind = backup_path(G, [(0, 1, None), (1, 2, None)], 0, 2)
    assert kind == "node" and path.nodes == (0, 3, 2)


@pytest.mark.parametrize(
    "primary, msg",
    [
        ([], "no edges"),
        ([("a", "b")], "not \\(u, v, key\\)"),
        ([("a", "b", "nope")], "not in the graph"),
        ([("a", "b", "ab"), ("e", "c", "ec")], "breaks"),
        ([("a", "b", "ab")], "not 'a' -> 'c'"),
    ],
)
def test_bad_primary(primary, msg):
    with pytest.raises(ValueError, match=msg):
        backup_path(ring(), primary, "a", "c")


# -- an ABR's expansion of a backup's segment, given only the primary's routers --------


def avoiding_oracle(G, src, dst, route):
    """(kind, cost) by enumeration: the primary's links are every TED link
    between consecutive routers of ``route``, either direction."""
    pairs = set(zip(route, route[1:]))
    pairs |= {(v, u) for u, v in pairs}
    nodes = set(route) - {src, dst}
    best = {"node": math.inf, "link": math.inf, "none": math.inf}
    for p in nx.all_simple_edge_paths(G, src, dst):
        c = cost(G, p)
        best["none"] = min(best["none"], c)
        if {(u, v) for u, v, _ in p} & pairs:
            continue
        best["link"] = min(best["link"], c)
        if not nodes & {e[1] for e in p[:-1]}:
            best["node"] = min(best["node"], c)
    for kind in ("node", "link", "none"):
        if best[kind] < math.inf:
            return kind, best[kind]
    return "none", None


@given(ted_graphs(), st.data())
def test_a_segment_avoiding_the_primarys_routers_matches_brute_force(case, data):
    G, src, dst, primary = case
    if primary is None:
        return
    # the primary may pass anywhere: a simple path between any two routers
    a, b = data.draw(st.sampled_from([(x, y) for x in G for y in G if x != y]))
    ps = list(nx.all_simple_paths(G, a, b))
    route = data.draw(st.sampled_from(ps)) if ps else [a]
    p, kind = avoiding(G, src, dst, route)
    want_kind, want_cost = avoiding_oracle(G, src, dst, route)
    assert kind == want_kind
    if want_cost is None:
        assert p is None
        return
    assert p.nodes[0] == src and p.nodes[-1] == dst and cost(G, p.edges) == pytest.approx(want_cost)
    pairs = set(zip(route, route[1:])) | set(zip(route[1:], route))
    if kind in ("node", "link"):
        assert not {(u, v) for u, v, _ in p.edges} & pairs
    if kind == "node":
        assert not (set(route) - {src, dst}) & set(p.nodes)


def test_avoiding_keeps_the_constraints_and_names_the_level():
    # a - b - d and a - c - d, and a - d direct but thin
    G = nx.MultiDiGraph()
    for u, v, w, bw in (("a", "b", 1, 9), ("b", "d", 1, 9), ("a", "c", 2, 9), ("c", "d", 2, 9), ("a", "d", 1, 1)):
        G.add_edge(u, v, key=f"{u}{v}", weight=w, remote=f"{v}{u}", avail_bw=bw)
        G.add_edge(v, u, key=f"{v}{u}", weight=w, remote=f"{u}{v}", avail_bw=bw)
    p, kind = avoiding(G, "a", "d", ["a", "b", "d"])
    assert kind == "node" and p.nodes == ("a", "d")
    p, kind = avoiding(G, "a", "d", ["a", "b", "d"], Constraints(min_bandwidth=5))
    assert kind == "node" and p.nodes == ("a", "c", "d")
    p, kind = avoiding(G, "a", "d", ["b", "x", "c"], Constraints(min_bandwidth=5))  # b and c on it, none of its links
    assert kind == "link" and p.nodes == ("a", "b", "d")
    p, kind = avoiding(G, "a", "d", ["a", "b", "d", "c", "a"], Constraints(min_bandwidth=5))
    assert kind == "none" and p.nodes == ("a", "b", "d")
    assert avoiding(G, "a", "zz", ["a", "b"]) == (None, "none")
