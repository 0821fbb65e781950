"""The network an evaluation runs on: routers, full-duplex links, OSPF areas.

Pure: built by ``evaluate.sources`` from a containerlab file or a topohub
network, then read by every strategy. A link has one capacity per
direction (a port transmits at its speed whichever way the other one
runs); arc ``2*i`` is link ``i`` from ``a`` to ``b`` and arc ``2*i+1`` the
way back. The port at the tail of an arc is the one whose available
bandwidth the draft's POWER divides by (sec. 2.1.1).

Areas (draft sec. 2: a backbone and non-backbone areas joined by ABRs) come
from the file, or for a flat network from ``partition``, which needs no
library of its own (networkx has no "balanced connected vertex separator"):

1. ``n_areas`` regions: farthest-point seeds by hop distance from the most
   central node, every node joining its nearest seed (ties to the lower
   seed). These Voronoi cells are connected: a node's neighbour on a
   shortest path to its seed is nearer to that seed and wins the same ties.
2. The backbone: a vertex cover of the links between regions (greedy, most
   such links first), joined into one connected set with
   ``networkx.algorithms.approximation.steiner_tree`` (OSPF needs a
   contiguous backbone, RFC 2328 sec. 3).
3. The areas: the connected parts of what is left. They touch only the
   backbone (every link between regions has a backbone end), so their
   border nodes are ABRs. Parts beyond ``n_areas`` (smallest first) join
   the backbone, which stays connected because they touch it.

A link with both ends in the backbone is in area 0.0.0.0, any other link in
the area of its non-backbone end; a router with links in two areas is an
ABR. Deterministic: every choice breaks ties on node names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import networkx as nx
import numpy as np

__all__ = ["BACKBONE", "Link", "Network", "partition", "area_id"]

BACKBONE = "0.0.0.0"


def area_id(i: int) -> str:
    """Area i as OSPF writes it (area 0 is the backbone)."""
    return ".".join(str((i >> s) & 255) for s in (24, 16, 8, 0))


@dataclass(frozen=True)
class Link:
    id: int
    a: str
    b: str
    capacity: float  # bits/s, each direction
    area: str = BACKBONE
    ifname_a: str | None = None  # the ports at each end (power model, TEDs)
    ifname_b: str | None = None
    igp_cost: int | None = None  # configured OSPF cost, if any
    dist_km: float | None = None


@dataclass(frozen=True)
class Network:
    name: str
    source: str  # where it came from, for reports
    nodes: tuple  # node names, in a fixed order
    links: tuple  # Link, ids 0..n-1 in order
    endpoints: tuple = ()  # TE endpoints (draft sec. 2): where demands start and end
    router_ids: dict = field(default_factory=dict)  # name -> dotted-quad router ID
    pos: dict = field(default_factory=dict)  # name -> (x, y) for drawings
    areas_from: str = "file"  # "file", "partition(N)" or "flat"
    notes: tuple = ()

    def __post_init__(self):
        idx = {n: i for i, n in enumerate(self.nodes)}
        if len(idx) != len(self.nodes):
            raise ValueError(f"{self.source}: duplicate node names")
        for i, l in enumerate(self.links):
            if l.id != i:
                raise ValueError(f"{self.source}: link ids must be 0..n-1 in order")
            if l.a not in idx or l.b not in idx or l.a == l.b:
                raise ValueError(f"{self.source}: link {l.a}-{l.b} joins unknown or equal nodes")
            if not (l.capacity > 0 and math.isfinite(l.capacity)):
                raise ValueError(f"{self.source}: link {l.a}-{l.b}: capacity must be finite and > 0, got {l.capacity!r}")
        object.__setattr__(self, "_idx", idx)
        tails = np.array([idx[x] for l in self.links for x in (l.a, l.b)], dtype=np.int64)
        heads = np.array([idx[x] for l in self.links for x in (l.b, l.a)], dtype=np.int64)
        object.__setattr__(self, "tails", tails)
        object.__setattr__(self, "heads", heads)
        object.__setattr__(self, "caps", np.repeat([l.capacity for l in self.links], 2).astype(float))
        if not self.endpoints:
            object.__setattr__(self, "endpoints", tuple(self.nodes))
        if not self.router_ids:
            object.__setattr__(self, "router_ids", {n: f"10.255.{(i + 1) >> 8}.{(i + 1) & 255}" for i, n in enumerate(self.nodes)})

    # -- arcs ------------------------------------------------------------------

    @property
    def n_arcs(self) -> int:
        return 2 * len(self.links)

    def index(self, node: str) -> int:
        return self._idx[node]

    def arc_ends(self, arc: int) -> tuple:
        l = self.links[arc // 2]
        return (l.a, l.b) if arc % 2 == 0 else (l.b, l.a)

    def arc_port(self, arc: int) -> tuple:
        """(router, ifname) of the port an arc leaves from."""
        l = self.links[arc // 2]
        return (l.a, l.ifname_a) if arc % 2 == 0 else (l.b, l.ifname_b)

    def arcs_from(self, node: str) -> list:
        i = self._idx[node]
        return [a for a in range(self.n_arcs) if self.tails[a] == i]

    # -- areas -----------------------------------------------------------------

    @property
    def areas(self) -> tuple:
        return tuple(sorted({l.area for l in self.links}))

    def node_areas(self, node: str) -> set:
        return {l.area for l in self.links if node in (l.a, l.b)}

    @property
    def abrs(self) -> tuple:
        return tuple(n for n in self.nodes if len(self.node_areas(n)) > 1)

    def graph(self) -> nx.MultiGraph:
        """The undirected topology (one edge per link, key = link id)."""
        G = nx.MultiGraph()
        G.add_nodes_from(self.nodes)
        for l in self.links:
            G.add_edge(l.a, l.b, key=l.id, capacity=l.capacity, area=l.area)
        return G

    def with_capacities(self, caps) -> Network:
        links = tuple(replace(l, capacity=float(c)) for l, c in zip(self.links, caps))
        return replace(self, links=links)

    def with_areas(self, link_areas, how: str) -> Network:
        links = tuple(replace(l, area=a) for l, a in zip(self.links, link_areas))
        return replace(self, links=links, areas_from=how)


def partition(G: nx.Graph, n_areas: int) -> tuple[set, list]:
    """(backbone nodes, [area node sets]) of a connected graph; see the
    module docstring. Fewer areas come back when the graph has no room for
    ``n_areas`` (a ring of four cannot hold three areas and a backbone)."""
    if n_areas < 1:
        raise ValueError(f"need at least one non-backbone area, got {n_areas}")
    G = nx.Graph(G)  # parallel links do not matter here
    if len(G) < 3 or not nx.is_connected(G):
        raise ValueError("can only partition a connected graph of three nodes or more")
    nodes = sorted(G, key=str)
    dist = dict(nx.all_pairs_shortest_path_length(G))
    bc = nx.betweenness_centrality(G)
    center = min(nodes, key=lambda v: (max(dist[v].values()), -bc[v], str(v)))
    seeds = [max(nodes, key=lambda v: (dist[center][v], str(v)))]
    while len(seeds) < min(n_areas, len(nodes)):
        seeds.append(max((v for v in nodes if v not in seeds), key=lambda v: (min(dist[s][v] for s in seeds), dist[center][v], str(v))))
    cell = {v: min(range(len(seeds)), key=lambda i: (dist[seeds[i]][v], i)) for v in nodes}
    cross = sorted(((u, v) if str(u) <= str(v) else (v, u) for u, v in G.edges if cell[u] != cell[v]), key=lambda e: (str(e[0]), str(e[1])))
    B: set = set()
    while True:
        rem = [(u, v) for u, v in cross if u not in B and v not in B]
        if not rem:
            break
        deg: dict = {}
        for u, v in rem:
            deg[u] = deg.get(u, 0) + 1
            deg[v] = deg.get(v, 0) + 1
        B.add(max(sorted(deg, key=str), key=lambda x: (deg[x], bc[x])))
    if not B:  # one region: the most central node and its most central neighbour
        B = {center}
    if len(B) == 1:
        (b,) = B
        B.add(max(sorted(G[b], key=str), key=lambda x: bc[x]))
    if not nx.is_connected(G.subgraph(B)):
        from networkx.algorithms.approximation import steiner_tree

        B |= set(steiner_tree(G, sorted(B, key=str)).nodes)
    parts = sorted((set(c) for c in nx.connected_components(G.subgraph(set(G) - B))), key=lambda c: (-len(c), min(map(str, c))))
    while len(parts) > n_areas:
        B |= parts.pop()
    return B, parts
