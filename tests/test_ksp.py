"""KSP against networkx and brute force; constraints inside the search."""

import itertools
import math
import threading

import networkx as nx
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pyfrr_pwr.paths.ksp import CompiledGraph, Path, k_shortest_paths

WEIGHTS = st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 3.5])


@st.composite
def digraphs(draw, max_nodes=9):
    n = draw(st.integers(2, max_nodes))
    G = nx.DiGraph()
    G.add_nodes_from(range(n))
    for u, v in itertools.permutations(range(n), 2):
        if draw(st.booleans()):
            G.add_edge(u, v, weight=draw(st.one_of(WEIGHTS, st.floats(0.01, 1.0))))
    return G


@st.composite
def multidigraphs(draw, max_nodes=6, max_edges=14):
    n = draw(st.integers(2, max_nodes))
    G = nx.MultiDiGraph()
    G.add_nodes_from(range(n))
    for _ in range(draw(st.integers(0, max_edges))):
        u = draw(st.integers(0, n - 1))
        v = draw(st.integers(0, n - 1))
        G.add_edge(
            u,
            v,
            weight=draw(WEIGHTS),
            avail_bw=draw(st.sampled_from([1.0, 5.0, 10.0])),
            admin_group=draw(st.integers(0, 7)),
            delay=draw(st.sampled_from([0.0, 10.0, 25.0, 100.0])),
            delay_var=draw(st.sampled_from([0.0, 1.0, 5.0, 20.0])),
        )
    return G


def brute_force(G, s, t, c):
    """The cost of every simple path that meets the constraints, sorted."""
    return sorted(sum(G.edges[e]["weight"] for e in p) for p in brute_force_paths(G, s, t, c))


def assert_valid(G, s, t, paths, c):
    seen = set()
    for p in paths:
        assert p.nodes[0] == s and p.nodes[-1] == t
        assert len(set(p.nodes)) == len(p.nodes), "loop in path"
        assert len(p.edges) == len(p.nodes) - 1
        for (u, v, k), a, b in zip(p.edges, p.nodes, p.nodes[1:]):
            assert (u, v) == (a, b)
            d = G.edges[u, v, k]
            if "min_bandwidth" in c:
                assert d["avail_bw"] >= c["min_bandwidth"]
            assert not d["admin_group"] & c.get("admin_exclude", 0)
            if c.get("admin_include_any"):
                assert d["admin_group"] & c["admin_include_any"]
            assert u not in c.get("exclude_nodes", ()) and v not in c.get("exclude_nodes", ())
        if "max_hops" in c:
            assert len(p.edges) <= c["max_hops"]
        if "max_delay" in c:
            assert sum(G.edges[e]["delay"] for e in p.edges) <= c["max_delay"]
        if "max_jitter" in c:
            assert sum(G.edges[e].get("delay_var", 0) for e in p.edges) <= c["max_jitter"]
        assert math.isclose(p.cost, sum(G.edges[e]["weight"] for e in p.edges), rel_tol=1e-12, abs_tol=1e-12)
        assert p.edges not in seen, "duplicate path"
        seen.add(p.edges)
    costs = [p.cost for p in paths]
    assert costs == sorted(costs)


@given(digraphs(), st.integers(1, 25), st.data())
def test_costs_equal_networkx_shortest_simple_paths(G, k, data):
    s = data.draw(st.sampled_from(list(G)))
    t = data.draw(st.sampled_from(list(G)))
    assume(s != t)
    ours = [p.cost for p in k_shortest_paths(G, s, t, k)]
    try:
        ref = [nx.path_weight(G, p, "weight") for p in itertools.islice(nx.shortest_simple_paths(G, s, t, "weight"), k)]
    except nx.NetworkXNoPath:
        ref = []
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


CONSTRAINT_SETS = st.fixed_dictionaries(
    {},
    optional={
        "min_bandwidth": st.sampled_from([1.0, 5.0, 10.0]),
        "max_hops": st.integers(0, 5),
        "max_delay": st.sampled_from([0.0, 20.0, 50.0, 120.0]),
        "max_jitter": st.sampled_from([0.0, 2.0, 6.0, 25.0]),
        "admin_include_any": st.integers(1, 7),
        "admin_include_all": st.integers(1, 3),
        "admin_exclude": st.integers(1, 7),
    },
)


@given(multidigraphs(), st.integers(1, 12), CONSTRAINT_SETS, st.data())
def test_multidigraph_matches_brute_force_under_constraints(G, k, c, data):
    s = data.draw(st.sampled_from(list(G)))
    t = data.draw(st.sampled_from(list(G)))
    assume(s != t)
    edges = list(G.edges(keys=True))
    if edges and data.draw(st.booleans()):
        c["exclude_edges"] = [data.draw(st.sampled_from(edges))]
    others = [n for n in G if n not in (s, t)]
    if others and data.draw(st.booleans()):
        c["exclude_nodes"] = [data.draw(st.sampled_from(others))]
    paths = k_shortest_paths(G, s, t, k, **c)
    assert_valid(G, s, t, paths, c)
    ref = brute_force(G, s, t, c)[:k]
    assert len(paths) == len(ref)
    for p, r in zip(paths, ref):
        assert math.isclose(p.cost, r, rel_tol=1e-9, abs_tol=1e-12)


def test_parallel_links_are_distinct_paths():
    # draft sec. 2.1.1: L1, L2, L3 all join A and D
    G = nx.MultiDiGraph()
    for key, w in (("L1", 1.2), ("L2", 1.5), ("L3", 2.25)):
        G.add_edge("A", "D", key=key, weight=w)
    paths = k_shortest_paths(G, "A", "D", 5)
    assert [p.edges for p in paths] == [(("A", "D", "L1"),), (("A", "D", "L2"),), (("A", "D", "L3"),)]
    assert [p.cost for p in paths] == [1.2, 1.5, 2.25]


def test_fig_2_1_7_path_from_the_draft():
    G = nx.DiGraph()
    for u, v, w in [
        ("A", "B", 0.05),
        ("C", "B", 0.5),
        ("C", "H", 0.5),
        ("B", "D", 0.1),
        ("D", "G", 0.03),
        ("G", "H", 0.2),
        ("G", "E", 0.5),
        ("H", "X", 0.1),
        ("B", "E", 0.5),
        ("E", "X", 0.3),
    ]:
        G.add_edge(u, v, weight=w)
    best = k_shortest_paths(G, "B", "X", 1)[0]
    assert best.nodes == ("B", "D", "G", "H", "X")
    assert math.isclose(best.cost, 0.43)


def test_constraints_prune_inside_search_so_k_feasible_paths_come_back():
    # many cheap paths that break the bandwidth constraint, then feasible ones:
    # filtering the first k results would return nothing.
    G = nx.DiGraph()
    for i in range(20):
        G.add_edge("s", f"a{i}", weight=0.1, avail_bw=1.0)
        G.add_edge(f"a{i}", "t", weight=0.1, avail_bw=1.0)
    for i in range(3):
        G.add_edge("s", f"b{i}", weight=5 + i, avail_bw=100.0)
        G.add_edge(f"b{i}", "t", weight=5, avail_bw=100.0)
    paths = k_shortest_paths(G, "s", "t", 3, min_bandwidth=50.0)
    assert [p.nodes[1] for p in paths] == ["b0", "b1", "b2"]


def test_delay_bound_needs_more_than_one_label_per_node():
    # cheapest way into m is slow; the feasible path enters m by a dearer, faster arc
    G = nx.MultiDiGraph()
    G.add_edge("s", "m", key="slow", weight=1.0, delay=100.0)
    G.add_edge("s", "m", key="fast", weight=2.0, delay=10.0)
    G.add_edge("m", "t", key=0, weight=1.0, delay=10.0)
    paths = k_shortest_paths(G, "s", "t", 5, max_delay=50.0)
    assert [p.edges for p in paths] == [(("s", "m", "fast"), ("m", "t", 0))]


def test_compiled_graph_batch_calls_agree_with_single_queries():
    G = nx.gnp_random_graph(40, 0.15, seed=3, directed=True)
    for i, (u, v) in enumerate(G.edges):
        G.edges[u, v]["weight"] = (i * 7919 % 97) / 10 + 0.01
    cg = CompiledGraph.from_networkx(G)
    targets = [5, 9, 17, 33]
    one = cg.one_to_many(0, targets, 6)
    many = cg.many_to_one([1, 2, 3], 7, 6)
    for t in targets:
        assert one[t] == cg.k_shortest_paths(0, t, 6)
    for s in (1, 2, 3):
        assert many[s] == cg.k_shortest_paths(s, 7, 6)


def test_threads_share_a_compiled_graph():
    G = nx.grid_2d_graph(12, 12).to_directed()
    for i, e in enumerate(G.edges):
        G.edges[e]["weight"] = (i % 13) / 10 + 0.05
    cg = CompiledGraph.from_networkx(G)
    want = cg.k_shortest_paths((0, 0), (11, 11), 16)
    got, errors = [], []

    def work():
        try:
            for _ in range(20):
                got.append(cg.k_shortest_paths((0, 0), (11, 11), 16))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    assert all(r == want for r in got) and len(got) == 80


def test_no_path_and_trivial_cases():
    G = nx.DiGraph([(0, 1), (2, 3)])
    assert k_shortest_paths(G, 0, 3, 4) == []
    assert k_shortest_paths(G, 0, 1, 0) == []
    assert k_shortest_paths(G, 0, 0, 3) == [Path((0,), (), 0.0)]


@pytest.mark.parametrize(
    "kw,msg",
    [
        ({"max_hops": -1}, "max_hops"),
        ({"admin_exclude": 2**32}, "admin_exclude"),
        ({"min_bandwidth": -1}, "min_bandwidth"),
        ({"max_delay": float("nan")}, "max_delay"),
        ({"exclude_edges": [(0, 5)]}, "exclude_edges"),
    ],
)
def test_bad_constraints_are_named(kw, msg):
    G = nx.DiGraph([(0, 1)])
    with pytest.raises(ValueError, match=msg):
        k_shortest_paths(G, 0, 1, 1, **kw)


def test_unknown_constraint_and_node():
    G = nx.DiGraph([(0, 1)])
    with pytest.raises(TypeError, match="max_hop"):
        k_shortest_paths(G, 0, 1, 1, max_hop=3)
    with pytest.raises(nx.NodeNotFound):
        k_shortest_paths(G, 0, 9, 1)


def test_negative_or_nan_weight_rejected_with_edge_named():
    G = nx.DiGraph()
    G.add_edge("a", "b", weight=-1)
    with pytest.raises(ValueError, match="a->b"):
        k_shortest_paths(G, "a", "b", 1)
    G["a"]["b"]["weight"] = float("nan")
    with pytest.raises(ValueError, match="a->b"):
        k_shortest_paths(G, "a", "b", 1)


def test_costs_agree_with_scipy_yen_and_igraph_on_a_grid():
    """The benchmark's peers compute the same thing (bench/ times them)."""
    import random

    import igraph as ig
    import numpy as np
    import scipy.sparse as sp
    from scipy.sparse.csgraph import yen

    U = nx.grid_2d_graph(8, 8)
    G = nx.DiGraph()
    rnd = random.Random(9)
    idx = {n: i for i, n in enumerate(U)}
    for u, v in U.edges:
        G.add_edge(idx[u], idx[v], weight=rnd.uniform(0.01, 1))
        G.add_edge(idx[v], idx[u], weight=rnd.uniform(0.01, 1))
    ours = [p.cost for p in k_shortest_paths(G, 0, 63, 20)]
    u, v, w = zip(*((a, b, d["weight"]) for a, b, d in G.edges(data=True)))
    A = sp.csr_array((np.array(w), (np.array(u), np.array(v))), shape=(64, 64))
    A.indices, A.indptr = A.indices.astype(np.int32), A.indptr.astype(np.int32)
    assert np.allclose(ours, yen(A, 0, 63, 20))
    g = ig.Graph(n=64, edges=list(G.edges), directed=True)
    g.es["weight"] = [d["weight"] for _, _, d in G.edges(data=True)]
    ep = g.get_k_shortest_paths(0, to=63, k=20, weights="weight", mode="out", output="epath")
    assert np.allclose(ours, [sum(g.es[e]["weight"] for e in p) for p in ep])


# -- networkx on multigraphs: each link subdivided, so parallel links are distinct paths --


def subdivided(G, c):
    """A DiGraph whose simple paths are G's simple link paths that pass c's arc filters.

    Link (u, v, key) becomes u -> ("mid", u, v, key) -> v carrying the whole
    weight on the first half: mid nodes have one way in and one way out.
    """
    H = nx.DiGraph()
    H.add_nodes_from(n for n in G if n not in c.get("exclude_nodes", ()))
    for u, v, k, d in G.edges(keys=True, data=True):
        ag = d.get("admin_group", 0)
        if u not in H or v not in H or (u, v, k) in c.get("exclude_edges", ()):
            continue
        if c.get("min_bandwidth") is not None and d.get("avail_bw", math.inf) < c["min_bandwidth"]:
            continue
        if ag & c.get("admin_exclude", 0) or (c.get("admin_include_any") and not ag & c["admin_include_any"]):
            continue
        if ag & c.get("admin_include_all", 0) != c.get("admin_include_all", 0):
            continue
        mid = ("mid", u, v, k)
        H.add_edge(u, mid, weight=d["weight"], delay=d.get("delay", 0.0), delay_var=d.get("delay_var", 0.0))
        H.add_edge(mid, v, weight=0.0, delay=0.0, delay_var=0.0)
    return H


def networkx_reference(G, s, t, k, c):
    H = subdivided(G, c)
    if s not in H or t not in H:
        return []
    out = []
    try:
        for p in nx.shortest_simple_paths(H, s, t, "weight"):
            hops = (len(p) - 1) // 2
            if c.get("max_hops") is not None and hops > c["max_hops"]:
                continue
            if c.get("max_delay") is not None and nx.path_weight(H, p, "delay") > c["max_delay"]:
                continue
            if c.get("max_jitter") is not None and nx.path_weight(H, p, "delay_var") > c["max_jitter"]:
                continue
            out.append(nx.path_weight(H, p, "weight"))
            if len(out) == k:
                break
    except nx.NetworkXNoPath:
        pass
    return out


@given(multidigraphs(max_nodes=7, max_edges=18), st.integers(1, 12), CONSTRAINT_SETS, st.data())
def test_multidigraph_matches_networkx_shortest_simple_paths_with_constraints(G, k, c, data):
    s = data.draw(st.sampled_from(list(G)))
    t = data.draw(st.sampled_from(list(G)))
    assume(s != t)
    # parallel links on purpose: duplicate some links with other weights
    for u, v, _key, d in list(G.edges(keys=True, data=True)):
        if data.draw(st.booleans()):
            G.add_edge(u, v, **{**d, "weight": data.draw(WEIGHTS)})
    edges = list(G.edges(keys=True))
    if edges and data.draw(st.booleans()):
        c["exclude_edges"] = [data.draw(st.sampled_from(edges))]
    others = [n for n in G if n not in (s, t)]
    if others and data.draw(st.booleans()):
        c["exclude_nodes"] = [data.draw(st.sampled_from(others))]
    paths = k_shortest_paths(G, s, t, k, **c)
    assert_valid(G, s, t, paths, c)
    ref = networkx_reference(G, s, t, k, c)
    assert len(paths) == len(ref)
    for p, r in zip(paths, ref):
        assert math.isclose(p.cost, r, rel_tol=1e-9, abs_tol=1e-12)
    assert CompiledGraph.from_networkx(G).costs(s, t, k, **c) == [p.cost for p in paths]


# -- in-place updates: equal to a fresh compile of the changed graph --

ATTR_CHANGES = st.fixed_dictionaries(
    {},
    optional={
        "weight": WEIGHTS,
        "avail_bw": st.sampled_from([1.0, 5.0, 10.0]),
        "admin_group": st.integers(0, 7),
        "delay": st.sampled_from([0.0, 10.0, 25.0, 100.0]),
        "delay_var": st.sampled_from([0.0, 1.0, 5.0, 20.0]),
    },
)


def all_pairs_results(cg, G, k, c):
    return {(s, t): cg.k_shortest_paths(s, t, k, **c) for s in G for t in G}


@given(multidigraphs(max_nodes=6, max_edges=16), st.integers(1, 8), CONSTRAINT_SETS, st.data())
def test_set_weights_equals_a_fresh_compile(G, k, c, data):
    cg = CompiledGraph.from_networkx(G)
    assert cg.edge_keys == tuple(G.edges(keys=True))
    cg.k_shortest_paths(0, 1, k)  # a workspace that saw the old weights
    new = [data.draw(st.one_of(WEIGHTS, st.floats(0.0, 10.0))) for _ in cg.edge_keys]
    cg.set_weights(new)
    H = G.copy()
    for (u, v, key), w in zip(cg.edge_keys, new):
        H.edges[u, v, key]["weight"] = w
    fresh = CompiledGraph.from_networkx(H)
    assert all_pairs_results(cg, H, k, c) == all_pairs_results(fresh, H, k, c)
    assert list(cg.weights) == new


@given(multidigraphs(max_nodes=6, max_edges=16), st.integers(1, 8), CONSTRAINT_SETS, st.data())
def test_update_edges_equals_a_fresh_compile(G, k, c, data):
    assume(G.number_of_edges() > 0)
    cg = CompiledGraph.from_networkx(G)
    keys = data.draw(st.lists(st.sampled_from(list(cg.edge_keys)), unique=True, max_size=6))
    changes = {e: data.draw(ATTR_CHANGES) for e in keys}
    cg.update_edges(changes)
    H = G.copy()
    for e, attrs in changes.items():
        H.edges[e].update(attrs)
    fresh = CompiledGraph.from_networkx(H)
    assert all_pairs_results(cg, H, k, c) == all_pairs_results(fresh, H, k, c)
    for s in H:
        for t in H:
            assert cg.costs(s, t, k, **c) == fresh.costs(s, t, k, **c)


@given(digraphs(max_nodes=7), st.integers(1, 10), st.data())
def test_costs_only_equals_path_costs(G, k, data):
    cg = CompiledGraph.from_networkx(G)
    s = data.draw(st.sampled_from(list(G)))
    t = data.draw(st.sampled_from(list(G)))
    assert cg.costs(s, t, k) == [p.cost for p in cg.k_shortest_paths(s, t, k)]


def test_update_edges_on_a_digraph_takes_key_none_or_0_and_names_bad_edges():
    G = nx.DiGraph()
    G.add_edge("a", "b", weight=1.0)
    G.add_edge("b", "c", weight=1.0)
    G.add_edge("a", "c", weight=3.0)
    cg = CompiledGraph.from_networkx(G)
    assert cg.edge_keys == (("a", "b", None), ("a", "c", None), ("b", "c", None))
    assert cg.costs("a", "c", 2) == [2.0, 3.0]
    cg.update_edges({("a", "b", None): {"weight": 2.5}, ("b", "c", 0): {"delay": 7.0}})
    assert cg.costs("a", "c", 2) == [3.0, 3.5]
    assert cg.k_shortest_paths("a", "c", 1, max_delay=5.0)[0].nodes == ("a", "c")
    cg.update_edges({("a", "c"): {"admin_group": 4}})
    assert cg.costs("a", "c", 2, admin_exclude=4) == [3.5]
    with pytest.raises(KeyError, match="'c', 'a'"):
        cg.update_edges({("c", "a", None): {"weight": 1.0}})
    with pytest.raises(ValueError, match="weight"):
        cg.update_edges({("a", "b", None): {"weight": -1.0}})
    with pytest.raises(ValueError, match="colour"):
        cg.update_edges({("a", "b", None): {"colour": 1}})
    with pytest.raises(ValueError, match="admin_group"):
        cg.update_edges({("a", "b", None): {"admin_group": 2**32}})
    # a rejected update changed nothing, not even the edges listed before the bad one
    with pytest.raises(ValueError):
        cg.update_edges({("a", "c", None): {"weight": 0.1}, ("a", "b", None): {"delay": math.nan}})
    assert cg.costs("a", "c", 2) == [3.0, 3.5]


@pytest.mark.parametrize("bad", [[1.0, 2.0], [1.0, -0.5, 1.0], [1.0, math.nan, 1.0], [math.inf, 1.0, 1.0]])
def test_set_weights_rejects_wrong_length_negative_and_non_finite(bad):
    G = nx.DiGraph([(0, 1), (1, 2), (0, 2)])
    cg = CompiledGraph.from_networkx(G)
    before = cg.costs(0, 2, 2)
    with pytest.raises(ValueError, match="set_weights"):
        cg.set_weights(bad)
    assert cg.costs(0, 2, 2) == before


def test_updates_while_other_threads_query_see_one_state_or_the_other():
    G = nx.grid_2d_graph(10, 10).to_directed()
    cg = CompiledGraph.from_networkx(G)
    w0 = [1.0] * len(cg.edge_keys)
    w1 = [(i % 7) / 3 + 0.1 for i in range(len(cg.edge_keys))]
    want = []
    for w in (w0, w1):
        cg.set_weights(w)
        want.append(cg.k_shortest_paths((0, 0), (9, 9), 8))
    got, errors, stop = [], [], threading.Event()

    def work():
        try:
            while not stop.is_set():
                got.append(cg.k_shortest_paths((0, 0), (9, 9), 8))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    ts = [threading.Thread(target=work) for _ in range(3)]
    for t in ts:
        t.start()
    for i in range(200):
        cg.set_weights(w1 if i % 2 else w0)
    stop.set()
    for t in ts:
        t.join()
    assert not errors and got
    assert all(r in want for r in got)


def test_jitter_bound_sums_delay_variation_and_needs_more_than_one_label_per_node():
    # RFC 7471 sec. 4.3 delay variation, summed along the path (a conservative bound)
    G = nx.MultiDiGraph()
    G.add_edge("s", "m", key="jittery", weight=1.0, delay_var=30.0)
    G.add_edge("s", "m", key="steady", weight=2.0, delay_var=1.0)
    G.add_edge("m", "t", key=0, weight=1.0, delay_var=2.0)
    cg = CompiledGraph.from_networkx(G)
    assert [p.edges for p in cg.k_shortest_paths("s", "t", 5, max_jitter=10.0)] == [(("s", "m", "steady"), ("m", "t", 0))]
    assert cg.costs("s", "t", 5) == [2.0, 3.0]
    cg.update_edges({("s", "m", "jittery"): {"delay_var": 5.0}})
    assert cg.costs("s", "t", 5, max_jitter=10.0) == [2.0, 3.0]
    with pytest.raises(ValueError, match="delay_var"):
        cg.update_edges({("s", "m", "steady"): {"delay_var": -1.0}})
    G.edges["s", "m", "steady"]["delay_var"] = math.nan
    with pytest.raises(ValueError, match="delay_var"):
        CompiledGraph.from_networkx(G)


# -- result building: the flat one-call copy equals reading each path from C --


def paths_from_c_one_by_one(cg, ws, nq):
    """The reference: each path read with pwr_result_path, nodes from its arcs' heads."""
    from pyfrr_pwr._core import ffi, lib

    ln, arcs, first = ffi.new("int32_t *"), ffi.new("const int32_t **"), ffi.new("int32_t *")
    out = []
    for q in range(nq):
        cnt = lib.pwr_result_query(ws, q, first)
        paths = []
        for p in range(first[0], first[0] + cnt):
            cost = lib.pwr_result_path(ws, p, ln, arcs)
            ids = [arcs[0][i] for i in range(ln[0])]
            edges = tuple(cg.edge_keys[a] for a in ids)
            paths.append((edges, cost))
        out.append(paths)
    return out


@given(multidigraphs(max_nodes=7, max_edges=18), st.integers(0, 10), CONSTRAINT_SETS, st.data())
def test_batch_paths_equal_paths_read_one_by_one_from_c(G, k, c, data):
    cg = CompiledGraph.from_networkx(G)
    nodes = list(G)
    pairs = data.draw(st.lists(st.tuples(st.sampled_from(nodes), st.sampled_from(nodes)), max_size=80))
    pairs.sort(key=lambda p: repr(p[1]))  # runs of one target, as callers group them
    got = cg.batch(pairs, k, **c)
    assert len(got) == len(pairs)
    from pyfrr_pwr.model.constraints import Constraints
    from pyfrr_pwr.paths import ksp

    # the same queries in one C call, read back path by path
    cons = Constraints.of(None, **c) if c else ksp._NO_CONSTRAINTS
    from pyfrr_pwr._core import ffi

    src = ffi.new("int32_t[]", [cg.index[s] for s, _ in pairs] or [0])
    dst = ffi.new("int32_t[]", [cg.index[t] for _, t in pairs] or [0])
    ws, _ = cg._query(src, dst, len(pairs), k, cons)
    want = paths_from_c_one_by_one(cg, ws, len(pairs))
    for (s, t), paths, ref in zip(pairs, got, want):
        assert [(p.edges, p.cost) for p in paths] == ref
        for p in paths:
            assert isinstance(p, Path) and type(p.nodes) is tuple and type(p.edges) is tuple
            assert p.nodes == (s, *(v for _, v, _ in p.edges))
            assert p.nodes[-1] == t
        assert paths == cg.k_shortest_paths(s, t, k, **c)


# -- ties: the canonical order (pwr_ksp.h, ksp.py's docstring) --

EXACT_WEIGHTS = st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.0, 2.0, 3.0])  # sums exact in binary: ties are true ties


def canonical_order(G, paths):
    """The documented order: cost, then hops, then step by step the lower next node
    (its place in G's node order), then between parallel links the one first in G's edge order."""
    node_pos = {n: i for i, n in enumerate(G)}
    edge_pos = {e: i for i, e in enumerate(G.edges(keys=True))}
    return sorted(paths, key=lambda p: (sum(G.edges[e]["weight"] for e in p), len(p), [(node_pos[e[1]], edge_pos[e]) for e in p]))


def brute_force_paths(G, s, t, c):
    """Every simple path s -> t (as (u, v, key) tuples) that meets c, in no particular order."""
    c = dict(c)
    out = []

    def dfs(u, seen, path):
        if u == t:
            out.append(tuple(path))
            return
        for _, v, k, d in G.out_edges(u, keys=True, data=True):
            if v in seen or v in c.get("exclude_nodes", ()) or (u, v, k) in c.get("exclude_edges", ()):
                continue
            if c.get("min_bandwidth") is not None and d.get("avail_bw", math.inf) < c["min_bandwidth"]:
                continue
            ag = d.get("admin_group", 0)
            if ag & c.get("admin_exclude", 0) or (c.get("admin_include_any") and not ag & c["admin_include_any"]):
                continue
            if ag & c.get("admin_include_all", 0) != c.get("admin_include_all", 0):
                continue
            path.append((u, v, k))
            seen.add(v)
            dfs(v, seen, path)
            seen.discard(v)
            path.pop()

    if s not in c.get("exclude_nodes", ()):
        dfs(s, {s}, [])
    keep = []
    for p in out:
        if c.get("max_hops") is not None and len(p) > c["max_hops"]:
            continue
        if c.get("max_delay") is not None and sum(G.edges[e].get("delay", 0) for e in p) > c["max_delay"]:
            continue
        if c.get("max_jitter") is not None and sum(G.edges[e].get("delay_var", 0) for e in p) > c["max_jitter"]:
            continue
        keep.append(p)
    return keep


@st.composite
def tie_multigraphs(draw, max_nodes=6, max_edges=16):
    """Multigraphs full of equal-cost paths: few exact weights, parallel links, node labels out of order."""
    n = draw(st.integers(2, max_nodes))
    labels = draw(st.permutations(list(range(n))))
    G = nx.MultiDiGraph()
    G.add_nodes_from(labels)
    for _ in range(draw(st.integers(0, max_edges))):
        u = draw(st.sampled_from(labels))
        v = draw(st.sampled_from(labels))
        G.add_edge(
            u,
            v,
            weight=draw(EXACT_WEIGHTS),
            avail_bw=draw(st.sampled_from([1.0, 10.0])),
            admin_group=draw(st.integers(0, 3)),
            delay=draw(st.sampled_from([0.0, 10.0, 25.0])),
            delay_var=draw(st.sampled_from([0.0, 1.0, 5.0])),
        )
    return G


TIE_CONSTRAINTS = st.fixed_dictionaries(
    {},
    optional={
        "min_bandwidth": st.just(5.0),
        "max_hops": st.integers(0, 4),
        "max_delay": st.sampled_from([0.0, 20.0, 50.0]),
        "max_jitter": st.sampled_from([0.0, 2.0, 6.0]),
        "admin_exclude": st.integers(1, 3),
    },
)


@given(tie_multigraphs(), st.integers(1, 14), TIE_CONSTRAINTS, st.data())
def test_ties_come_out_in_the_canonical_order_and_k_cuts_it(G, k, c, data):
    """The k paths are exactly the first k of every feasible simple path in the
    documented order: which of several equal-cost paths is returned (and which
    one a cut at k keeps) never depends on the search's internals."""
    s = data.draw(st.sampled_from(list(G)))
    t = data.draw(st.sampled_from(list(G)))
    assume(s != t)
    paths = k_shortest_paths(G, s, t, k, **c)
    want = canonical_order(G, brute_force_paths(G, s, t, c))[:k]
    assert [p.edges for p in paths] == want
    assert [p.cost for p in paths] == [sum(G.edges[e]["weight"] for e in p) for p in want]


def test_ties_on_a_unit_grid_follow_the_node_order():
    """A 4x4 grid with unit weights: 20 shortest corner-to-corner paths of one cost
    and hop count; they come out by node sequence, in G's node order."""
    G = nx.grid_2d_graph(4, 4).to_directed()
    nx.set_edge_attributes(G, 1.0, "weight")
    paths = k_shortest_paths(G, (0, 0), (3, 3), 25)
    assert [p.cost for p in paths[:20]] == [6.0] * 20 and paths[20].cost == 8.0
    pos = {n: i for i, n in enumerate(G)}
    seqs = [[pos[n] for n in p.nodes] for p in paths[:20]]
    assert seqs == sorted(seqs) and len(set(map(tuple, seqs))) == 20
    # the same graph with its nodes inserted in reverse order: the reverse choice
    H = nx.DiGraph()
    H.add_nodes_from(reversed(list(G)))
    H.add_edges_from(G.edges(data=True))
    first = k_shortest_paths(H, (0, 0), (3, 3), 1)[0]
    posh = {n: i for i, n in enumerate(H)}
    assert [posh[n] for n in first.nodes] == min([posh[n] for n in p.nodes] for p in paths[:20])


# -- Path: the named tuple it was, built lazily --


def test_a_path_behaves_as_the_named_tuple_of_its_fields():
    """Callers unpack, index, compare, hash, sort and pickle paths as the
    (nodes, edges, cost) named tuple they were; lazily built paths and
    paths made by hand are interchangeable."""
    import copy
    import pickle

    G = nx.MultiDiGraph()
    G.add_edge("a", "b", key=0, weight=1.0)
    G.add_edge("a", "b", key=1, weight=2.0)
    G.add_edge("b", "c", key=0, weight=1.0)
    got = CompiledGraph.from_networkx(G).k_shortest_paths("a", "c", 2)
    first = (("a", "b", "c"), (("a", "b", 0), ("b", "c", 0)), 2.0)
    second = (("a", "b", "c"), (("a", "b", 1), ("b", "c", 0)), 3.0)
    assert got == [Path(*first), Path(*second)] and got == [first, second] and [first, second] == got
    p = got[1]
    nodes, edges, cost = p
    assert (nodes, edges, cost) == second and tuple(p) == second and list(p) == list(second)
    assert (p[0], p[1], p[2], p[-1], p[:2]) == (*second, second[2], second[:2]) and len(p) == 3
    assert p.nodes == nodes and p.edges == edges and p.cost == cost == 3.0
    assert hash(p) == hash(second) and hash(Path(*second)) == hash(p) and {p: 1}[Path(*second)] == 1
    assert p != first and not p == first and p != "x" and p != (1, 2)
    assert sorted(got, reverse=True) == [second, first] and got[0] < p and p > got[0] and p <= second
    assert pickle.loads(pickle.dumps(p)) == p and copy.deepcopy(p) == p and type(copy.copy(p)) is Path
    assert repr(p) == repr(Path(*second)) == f"Path(nodes={nodes!r}, edges={edges!r}, cost=3.0)"
    assert p._fields == ("nodes", "edges", "cost") and p._asdict() == dict(zip(p._fields, second))
    assert p._replace(cost=9.0) == (nodes, edges, 9.0) and Path._make(second) == p
    assert Path(nodes=nodes, edges=edges, cost=cost) == p
    with pytest.raises(ValueError):
        p._replace(hops=3)
    with pytest.raises(TypeError):
        assert p < 3


def test_a_result_builds_its_nodes_and_edges_on_first_use_and_keeps_them():
    """A query stores only costs in its paths; the first nodes/edges access
    builds every path of the result at once (one tuple object per path
    field from then on), and what it builds equals the eager reading."""
    G = nx.grid_2d_graph(5, 5).to_directed()
    for i, e in enumerate(G.edges):
        G.edges[e]["weight"] = (i % 5) / 4 + 0.25
    cg = CompiledGraph.from_networkx(G)
    res = cg.batch([((0, 0), (4, 4)), ((4, 0), (4, 4)), ((0, 4), (0, 0))], 6)
    flat = [p for ps in res for p in ps]
    assert len(flat) == 18 and all(p._b is flat[0]._b and p._b[3] is None for p in flat)
    blk = flat[0]._b
    assert res[1][2].edges is res[1][2].edges  # built now, for the whole block, and kept
    assert res[1][2]._b is None and blk[3] is not None and flat[0]._b is blk  # the others pick theirs up on use
    assert flat[0].nodes is blk[3][0][0] and flat[0]._b is None
    for (s, t), ps in zip([((0, 0), (4, 4)), ((4, 0), (4, 4)), ((0, 4), (0, 0))], res):
        for p in ps:
            assert p.nodes == (s, *(v for _, v, _ in p.edges)) and p.nodes[-1] == t
            assert p.cost == sum(G.edges[u, v]["weight"] for u, v, _ in p.edges)
            assert type(p.nodes) is tuple and type(p.edges) is tuple
    # a query's results are its own: the next query on this thread reuses the C buffers
    before = [tuple(p) for p in cg.k_shortest_paths((0, 0), (4, 4), 3)]
    lazy = cg.k_shortest_paths((0, 0), (4, 4), 3)
    cg.batch([((4, 4), (0, 0))] * 5, 8)
    assert [tuple(p) for p in lazy] == before


def _count_c_calls(monkeypatch, what) -> list:
    """Every call into the C core from paths.ksp, recorded as ``what(name, args)``."""
    from pyfrr_pwr.paths import ksp

    calls, real = [], ksp.lib

    class Counting:
        def __getattr__(self, name):
            f = getattr(real, name)
            if not callable(f):
                return f
            return lambda *a: calls.append(what(name, a)) or f(*a)

    monkeypatch.setattr(ksp, "lib", Counting())
    return calls


def test_a_batch_is_one_c_call_per_chunk_and_a_query_one(monkeypatch):
    """The searches and the flat copy of their results are one C call with
    the GIL released (cffi's API mode) per chunk of about ksp._CHUNK queries
    (a chunk ends where the target changes, so reverse searches are still
    shared), so a second thread's searches run while this one builds its
    Python objects (draft sec. 2.3); a query is one C call."""
    from pyfrr_pwr.paths import ksp

    G = nx.grid_2d_graph(6, 6).to_directed()
    cg = CompiledGraph.from_networkx(G)
    cg.k_shortest_paths((0, 0), (5, 5), 1)  # this thread's workspace
    calls = _count_c_calls(monkeypatch, lambda name, a: name)
    pairs = [((0, 0), (5, 5)), ((1, 0), (5, 5)), ((0, 1), (3, 3))] * 40
    assert ksp._CHUNK == 32
    assert cg.batch(pairs[:32], 8) == [cg.batch([p], 8)[0] for p in pairs[:32]]
    assert calls == ["pwr_ksp_flat"] * 33
    del calls[:]
    res = cg.batch(pairs, 8)
    # chunks [0, 32) [32, 65) [65, 98) [98, 120): each ends where the target changes
    assert calls == ["pwr_ksp_flat"] * 4 and len(res) == 120 and all(len(r) == 8 for r in res)
    assert res == [cg.k_shortest_paths(s, t, 8) for s, t in pairs]
    del calls[:]
    assert res[0][0].edges  # building them takes no C call either
    del calls[:]
    assert cg.costs((0, 0), (5, 5), 4) == [10.0] * 4
    cg.k_shortest_paths((0, 0), (5, 5), 4)
    assert calls == ["pwr_ksp_flat1", "pwr_ksp_flat1"]


def test_single_queries_grow_their_buffer_and_equal_the_batch(monkeypatch):
    """A single query lays its results out in this thread's own buffer
    (PWR_FLAT_INTO); one that needs more room than the buffer has gets a
    larger one and its results laid out again without a second search
    (PWR_FLAT_AGAIN). Paths and costs equal the batch's, which reads the
    workspace's own layout."""
    from pyfrr_pwr.paths import ksp

    monkeypatch.setattr(ksp, "_ONE_BUF", 10)  # room for the header, two costs and a count
    G = nx.grid_2d_graph(6, 6).to_directed()
    for i, e in enumerate(G.edges):
        G.edges[e]["weight"] = (i % 3) / 2 + 0.5
    cg = CompiledGraph.from_networkx(G)
    want = cg.batch([((0, 0), (5, 5))], 12)[0]
    assert len(want) == 12
    calls = _count_c_calls(monkeypatch, lambda name, a: (name, a[6]))  # a[6]: the flags
    assert cg.costs((0, 0), (5, 5), 2) == [p.cost for p in want[:2]]
    assert calls == [("pwr_ksp_flat1", ksp._INTO_COSTS)]  # fits: 4 + 2 * 2 + 1 entries of 10
    del calls[:]
    got = cg.k_shortest_paths((0, 0), (5, 5), 12)
    assert calls == [("pwr_ksp_flat1", ksp._INTO_PATHS), ("pwr_ksp_flat1", ksp._INTO_PATHS | ksp._FLAT_AGAIN)]
    assert got == want and [p.cost for p in got] == [p.cost for p in want]
    assert all(type(p.nodes) is tuple and p.nodes[0] == (0, 0) and p.nodes[-1] == (5, 5) for p in got)
    assert all(isinstance(p, Path) for p in got) and Path(*got[3]) == got[3]
    del calls[:]
    assert cg.k_shortest_paths((0, 0), (5, 5), 12) == want and len(calls) == 1  # the larger buffer stays
    assert cg.costs((0, 0), (5, 5), 12) == [p.cost for p in want]
    assert cg.k_shortest_paths((0, 0), (0, 0), 3) == [Path(((0, 0),), (), 0.0)]


def test_flat_into_rejects_a_missing_or_tiny_buffer():
    from pyfrr_pwr._core import ffi, lib
    from pyfrr_pwr.paths import ksp

    G = nx.path_graph(4).to_directed()
    cg = CompiledGraph.from_networkx(G)
    ws = cg._ws()
    out = ffi.new("pwr_flat *")
    assert lib.pwr_ksp_flat1(cg._g, ws, 0, 3, 2, cg._c0, ksp._INTO_PATHS, out) == lib.PWR_EINVAL
    buf = ffi.new("int32_t[]", 3)
    out.flat, out.flat_len = buf, 3
    assert lib.pwr_ksp_flat1(cg._g, ws, 0, 3, 2, cg._c0, ksp._INTO_PATHS, out) == lib.PWR_EINVAL
    big = ffi.new("int32_t[]", 64)
    out.flat, out.flat_len = big, 64
    assert lib.pwr_ksp_flat1(cg._g, ws, 0, 3, 2, cg._c0, ksp._INTO_PATHS, out) == 1
    assert out.flat == big and out.flat_len == 64 and out.costs == ffi.NULL
    # header, one cost (3 hops of weight 1), one count, off, noff, arcs, nodes
    need = 4 + 2 + 1 + 3 * 1 + 2 * 3 + 2
    assert list(big[0:4]) == [need, 1, 3, 1] and ffi.cast("double *", big + 4)[0] == 3.0 and big[6] == 1
    assert list(big[7:9]) == [0, 3] and list(big[9:11]) == [0, 4]
    assert [cg.edge_keys[a][:2] for a in big[11:14]] == [(0, 1), (1, 2), (2, 3)] and list(big[14:18]) == [0, 1, 2, 3]


def test_a_batch_names_the_node_that_is_not_in_the_graph():
    cg = CompiledGraph.from_networkx(nx.DiGraph([(0, 1), (1, 2)]))
    assert [len(r) for r in cg.batch([(0, 2), (1, 2)], 2)] == [1, 1]
    for bad in ([(0, 2), (9, 2)], [(0, 2), (0, 7)], [(0, 2), ([1], 2)]):
        with pytest.raises(nx.NodeNotFound, match=r"not in graph"):
            cg.batch(bad, 2)
