"""Benchmark graphs, built once per session (seeded, so every run and every
peer sees the same graphs)."""

import random
import sys
from pathlib import Path

import networkx as nx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers import skip_without_seg6  # noqa: E402


def pytest_runtest_setup(item):
    skip_without_seg6(item)  # the data-plane benchmarks send traffic through SRv6 LSPs


def _weights(G, seed):
    rnd = random.Random(seed)
    for e in G.edges:
        G.edges[e]["weight"] = rnd.uniform(0.01, 1.0)
    return G


def _bidirectional(U, seed):
    G = nx.DiGraph()
    G.add_nodes_from(U)
    G.add_edges_from(U.edges)
    G.add_edges_from((v, u) for u, v in U.edges)
    G = nx.convert_node_labels_to_integers(G)
    return _weights(G, seed)


def _largest(U):
    return U.subgraph(max(nx.connected_components(U), key=len)).copy()


def _far_pair(G):
    """A source/target pair far apart in hops: what TE paths across an area
    look like, and where Yen does the most work."""
    d = nx.single_source_shortest_path_length(G, 0)
    far = max(d, key=lambda n: (d[n], -n))
    d2 = nx.single_source_shortest_path_length(G, far)
    return far, max(d2, key=lambda n: (d2[n], -n))


GRAPHS = {}


def graph(name):
    if name not in GRAPHS:
        if name == "grid30x30":
            G = _bidirectional(nx.grid_2d_graph(30, 30), 1)
            pair = (0, 899)
        elif name == "waxman1000":
            G = _bidirectional(_largest(nx.waxman_graph(1000, beta=0.2, alpha=0.05, seed=2)), 2)
            pair = _far_pair(G)
        elif name == "ba2000":
            G = _bidirectional(nx.barabasi_albert_graph(2000, 3, seed=3), 3)
            pair = _far_pair(G)
        elif name == "area50":
            G = _bidirectional(_largest(nx.waxman_graph(50, beta=0.6, alpha=0.25, seed=4)), 4)
            pair = _far_pair(G)
        else:
            raise KeyError(name)
        GRAPHS[name] = (G, pair)
    return GRAPHS[name]


@pytest.fixture(scope="session")
def graphs():
    return graph
