"""A backup path disjoint from a given primary (protection, issue 7 sec. 4).

The draft picks the primary: it is the power-shortest path (draft sec.
2.1.7), installed and signalled before any backup exists. The backup is
pre-installed at a worse metric and must survive the failures that kill
the primary (second seed sec. 4.2: multipath redundancy; draft sec. 2.1.5).
So the question here is "the cheapest path that shares nothing with *this*
primary", not "the cheapest disjoint pair".

Why not Suurballe/Bhandari
--------------------------
Suurballe's and Bhandari's algorithms find the pair of disjoint paths of
least *total* cost. Their first path is in general not the power-shortest
path: taking them would move the primary off the path the draft chose, to
save cost on the backup, which carries no traffic until a failure. With
the primary fixed, the cheapest disjoint backup is exactly a shortest path
in the graph with the primary's links (and, for node-disjointness, its
transit routers) removed: one constrained search in the KSP core
(``paths.ksp``, ``Constraints.exclude_nodes`` / ``exclude_edges``), which
also enforces the LSP's own constraints (bandwidth, admin groups, delay,
hops) on the backup. That result is optimal for the question asked (a
property test checks it against brute force).

The price of fixing the primary is the "trap" topology: a primary can
block every disjoint backup although a disjoint pair exists (a pair of
edge-disjoint s-t paths exists iff the s-t edge connectivity is >= 2,
Menger). ``protect`` reports that case (``trap=True``) so the agent can
say the primary, not the topology, prevents protection; it does not move
the primary (that is re-optimisation's business, with its hysteresis).

Disjointness levels, best first:
  "node": no transit router and no link of the primary (a router failure
          cannot take both);
  "link": no link of the primary in either direction (a link is a physical
          link: ``(u, v, k)`` and its reverse, matched by the TED's
          ``remote`` address, else by the same key);
  "none": no such path under the constraints.
Shared risk (SRLG): when edges carry an ``srlg`` attribute (an iterable of
group numbers, RFC 4203 sec. 1.4), each level is tried first without any
link that shares a group with the primary; ``Backup.srlg`` says whether
that held (None: the primary has no SRLG information).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import NamedTuple

import networkx as nx

from pyfrr_pwr.model.constraints import Constraints
from pyfrr_pwr.paths.ksp import CompiledGraph, Path

__all__ = ["Backup", "KINDS", "protect", "backup_path", "physical_links", "avoiding"]

KINDS = ("node", "link", "none")


class Backup(NamedTuple):
    path: Path | None
    kind: str  # "node" | "link" | "none"
    srlg: bool | None  # disjoint in shared-risk groups too (None: no SRLG data)
    trap: bool  # no disjoint backup for this primary, but a disjoint pair exists


def _edge_data(G, e) -> dict:
    u, v, k = e
    if G.is_multigraph():
        return G.edges[u, v, k]
    return G.edges[u, v]


def _check_primary(G, primary_edges, src, dst) -> tuple:
    edges = tuple(tuple(e) for e in primary_edges)
    if not edges:
        raise ValueError("primary path has no edges")
    for i, e in enumerate(edges):
        if len(e) != 3:
            raise ValueError(f"primary edge {i} is {e!r}, not (u, v, key)")
        u, v, k = e
        ok = G.has_edge(u, v, k) if G.is_multigraph() else G.has_edge(u, v)
        if not ok:
            raise ValueError(f"primary edge {e!r} is not in the graph")
        if i and edges[i - 1][1] != u:
            raise ValueError(f"primary path breaks between {edges[i - 1]!r} and {e!r}")
    if edges[0][0] != src or edges[-1][1] != dst:
        raise ValueError(f"primary path runs {edges[0][0]!r} -> {edges[-1][1]!r}, not {src!r} -> {dst!r}")
    return edges


def physical_links(G, edges) -> set:
    """``edges`` and their reverse directions: the TED's reverse of
    ``(u, v, k)`` is ``(v, u, remote)``; without ``remote``, ``(v, u, k)``."""
    out = set()
    for u, v, k in edges:
        out.add((u, v, k))
        if G.is_multigraph():
            rk = _edge_data(G, (u, v, k)).get("remote", k)
            if G.has_edge(v, u, rk):
                out.add((v, u, rk))
        elif G.has_edge(v, u):
            out.add((v, u, k))
    return out


def _srlg_edges(G, groups: set) -> set:
    if not groups:
        return set()
    it = G.edges(keys=True, data=True) if G.is_multigraph() else ((u, v, None, d) for u, v, d in G.edges(data=True))
    return {(u, v, k) for u, v, k, d in it if groups & set(d.get("srlg") or ())}


def _parallel_pair(G, src, dst) -> bool:
    # Menger: two edge-disjoint src-dst paths exist iff the max flow with unit
    # capacity per link (parallel links add up) is >= 2
    H = nx.DiGraph()
    for u, v in G.edges():
        c = H.get_edge_data(u, v, {"capacity": 0})["capacity"]
        H.add_edge(u, v, capacity=c + 1)
    return nx.maximum_flow_value(H, src, dst) >= 2


def protect(
    G, primary_edges, src: Hashable, dst: Hashable, constraints: Constraints | None = None, *, cg: CompiledGraph | None = None, weight: str = "weight"
) -> Backup:
    """The cheapest backup for ``primary_edges`` (a chain of ``(u, v, key)``
    from ``src`` to ``dst``), at the best disjointness level the topology
    and ``constraints`` allow. ``cg``: a ``CompiledGraph`` of ``G`` to reuse."""
    edges = _check_primary(G, primary_edges, src, dst)
    cons = Constraints.of(constraints)
    if cg is None:
        cg = CompiledGraph.from_networkx(G, weight=weight)
    transit = {e[1] for e in edges[:-1]}
    links = physical_links(G, edges)
    groups: set = set()
    for e in edges:
        groups |= set(_edge_data(G, e).get("srlg") or ())
    shared = _srlg_edges(G, groups) - links if groups else set()
    # the keys of the compiled graph: a DiGraph's edges are (u, v, None)
    norm = (lambda e: (e[0], e[1], None)) if not G.is_multigraph() else (lambda e: e)
    for kind, xnodes in (("node", transit), ("link", set())):
        if not groups:
            tries = ((None, set()),)
        elif not shared:  # no other link shares a group: every backup avoids them
            tries = ((True, set()),)
        else:
            tries = ((True, shared), (False, set()))
        for srlg_ok, extra in tries:
            c = cons.with_(
                exclude_nodes=tuple(cons.exclude_nodes) + tuple(sorted(xnodes, key=repr)),
                exclude_edges=tuple(cons.exclude_edges) + tuple(norm(e) for e in sorted(links | extra, key=repr)),
            )
            got = cg.k_shortest_paths(src, dst, 1, c)
            if got:
                return Backup(got[0], kind, srlg_ok, False)
    trap = _parallel_pair(G, src, dst)
    return Backup(None, "none", None, trap)


def backup_path(G, primary_edges, src: Hashable, dst: Hashable, constraints: Constraints | None = None, **kw) -> tuple:
    """``(Path | None, "node" | "link" | "none")``: the API H1's LSP manager
    calls (``protect`` has the shared-risk and trap details)."""
    b = protect(G, primary_edges, src, dst, constraints, **kw)
    return b.path, b.kind


def avoiding(G, src: Hashable, dst: Hashable, route, constraints: Constraints | None = None, *, weight: str = "weight") -> tuple:
    """An ABR's expansion of a backup's segment (draft sec. 2.2: each ABR
    runs CSPF for its own area) that shares as little as it can with the
    primary (second seed sec. 4.2), given only the primary's ``route``: its
    routers in order, as signalling recorded them (an ABR sees no other
    area's links, and the primary's links here are the TED links between
    consecutive routers of it, parallel ones included: the conservative
    reading). ``(Path | None, kind)``: "node" avoids every router of the
    primary but ``src`` and ``dst`` and every such link, "link" every such
    link, "none" is the plain shortest path under ``constraints`` (it then
    shares a link with the primary, or there is no path at all)."""
    route = tuple(route)
    pairs = set(zip(route, route[1:]))
    pairs |= {(v, u) for u, v in pairs}
    if G.is_multigraph():
        links = sorted(((u, v, k) for u, v, k in G.edges(keys=True) if (u, v) in pairs), key=repr)
    else:
        links = sorted(((u, v, None) for u, v in G.edges() if (u, v) in pairs), key=repr)
    nodes = sorted((set(route) - {src, dst}) & set(G.nodes), key=repr)
    cons = Constraints.of(constraints)
    if src not in G or dst not in G:
        return None, "none"
    cg = CompiledGraph.from_networkx(G, weight=weight)
    for kind, xnodes, xedges in (("node", nodes, links), ("link", [], links), ("none", [], [])):
        c = cons.with_(exclude_nodes=tuple(cons.exclude_nodes) + tuple(xnodes), exclude_edges=tuple(cons.exclude_edges) + tuple(xedges))
        got = cg.k_shortest_paths(src, dst, 1, c)
        if got:
            return got[0], kind
    return None, "none"
