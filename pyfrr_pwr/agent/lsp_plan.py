"""Pure planning of head-end LSPs (issue 7): choices as the LSP machine's
paths, the head-end's SID list from a signalling answer, backups among the
choices (draft sec. 2.1.7, second seed sec. 4.2) and the equal-PWR set
with UCMP weights (draft sec. 2.1.5). No I/O: ``agent.lsps`` re-exports
every name here."""

from __future__ import annotations

import ipaddress

from pyfrr_pwr.dataplane import lsp as fsm
from pyfrr_pwr.dataplane import sidlist

MAX_ECMP = 8  # legs of one multipath route


class LspError(ValueError):
    """An LSP that cannot be set up; the message says why."""


# -- pure helpers -----------------------------------------------------------------


def parse_rid(rid: str) -> tuple[str, int]:
    """(head-end router ID, number) of a reservation ID ``"<rid>/<n>"``: the
    two halves of an ABR's binding SID (``sids.binding_sid``)."""
    head, _, n = str(rid).rpartition("/")
    try:
        ipaddress.IPv4Address(head)
        num = int(n)
    except ValueError:
        raise LspError(f"reservation ID {rid!r} is not <head-end router ID>/<number>: no binding SID can be named for it") from None
    if not 0 <= num < 2**32:
        raise LspError(f"reservation ID {rid!r}: number out of 32 bits")
    return head, num


def _key(teds: dict, u: str, v: str):
    """The least-PWRLINK link u -> v over our TEDs (its local address)."""
    best = None
    for _, t in sorted(teds.items()):
        G = t.graph()
        data = G.get_edge_data(u, v) if G.has_node(u) and G.has_node(v) else None
        for k, d in (data or {}).items():
            c = (d.get("weight", 0.0), str(k))
            if best is None or c < best[0]:
                best = (c, k)
    return best[1] if best else f"{u}-{v}"


def candidate_path(c, tail: str, teds: dict) -> fsm.LspPath:
    """A head-end choice (``proto.control.Candidate``) as the machine's
    ``LspPath``: the head-end's own links, then one edge per later segment
    (keyed by the segment's area: only the ABR expanding it knows its
    links), so two choices are the same path when they are the same in
    every part the head-end can see."""
    edges = [(u, v, _key(teds, u, v)) for u, v in zip(c.head_path, c.head_path[1:])]
    chain = list(c.abr_chain)
    if chain:
        ends = chain[1:] + [tail]
        areas = ["0.0.0.0"] * (len(chain) - 1) + [c.vector.area or "?"]
        for a, b, area in zip(chain, ends, areas):
            edges.append((a, b, f"area {area}"))
    pwr = c.pwr if c.pwr == c.pwr and c.pwr >= 0 else 0.0
    return fsm.LspPath(tuple(edges), float(pwr) if pwr != float("inf") else 1e300)


def backup_candidate(choice, primary) -> tuple:
    """A backup for the choice ``primary`` among the head-end's other
    choices (``proto.control.PathChoice``): the cheapest whose head-end
    segment shares no link with the primary's, node-disjoint (no transit
    router, no ABR in common) where one is; ``(Candidate | None, "node" |
    "link" | "none")``. Disjointness is what the head-end can see: its own
    area and the ABR chain; each later segment is the ABRs' own CSPF."""
    pe = set(zip(primary.head_path, primary.head_path[1:]))
    pn = set(primary.head_path[1:]) | set(primary.abr_chain)
    link = None  # ((ABRs shared with the primary, rank), candidate)
    for i, c in enumerate((*choice.ecmp, *choice.runners_up)):
        if (c.head_path, c.abr_chain) == (primary.head_path, primary.abr_chain) or set(zip(c.head_path, c.head_path[1:])) & pe:
            continue
        if not (set(c.head_path[1:]) | set(c.abr_chain)) & pn:
            return c, "node"
        # link-disjoint here: prefer the chain with the fewest ABRs in common, since the
        # segments between shared ABRs are where the two can meet again (each ABR's CSPF)
        key = (len(set(c.abr_chain) & set(primary.abr_chain)), i)
        if link is None or key < link[0]:
            link = (key, c)
    return (link[1], "link") if link else (None, "none")


def _worst(kinds) -> str:
    return max(kinds, key=("node", "link", "none").index, default="node")


def segment_disjointness(primary_route, backup_route, backup_chain=()) -> tuple:
    """What a backup shares with its primary end to end (second seed sec.
    4.2: "as far as the topology allows", reported), from both legs'
    routes as signalling recorded them (every router, every area) and the
    backup's ABR chain: per segment of the backup (the head-end's to its
    first ABR, then each ABR's expansion, draft sec. 2.2) a dict ``from``,
    ``to``, ``disjoint`` ("node": no router and no link of the primary;
    "link": no link; "none"), ``shared_links`` and ``shared_nodes``; and
    the end-to-end level (the worst segment's). A segment's routers are its
    own but its first (each router is counted once); the LSP's head and
    tail are not counted (both legs must have them). Links are router pairs,
    either direction (parallel links are one here: the answer names only
    the head-end's own links' addresses)."""
    p, b = tuple(primary_route), tuple(backup_route)
    if len(p) < 2 or len(b) < 2:
        return (), "none"
    ends = {p[0], p[-1]}
    plinks = {frozenset(x) for x in zip(p, p[1:])}
    pnodes = set(p) - ends
    cuts = [0]
    for a in backup_chain:  # the chain's ABRs in route order
        try:
            cuts.append(b.index(a, cuts[-1]))
        except ValueError:
            continue
    cuts = sorted(set(cuts) | {len(b) - 1})
    out = []
    for i, j in zip(cuts, cuts[1:]):
        seg = b[i : j + 1]
        links = sorted({tuple(sorted(x)) for x in zip(seg, seg[1:]) if frozenset(x) in plinks})
        nodes = sorted((set(seg[1:]) - ends) & pnodes)
        kind = "none" if links else "link" if nodes else "node"
        out.append({"from": seg[0], "to": seg[-1], "disjoint": kind, "shared_links": [list(x) for x in links], "shared_nodes": nodes})
    return tuple(out), _worst(d["disjoint"] for d in out)


def ecmp_set(choice, tail: str, teds: dict, most: int = MAX_ECMP) -> tuple:
    """The head-end's choice and its equal-PWR alternatives (draft sec.
    2.1.5), best first, one per distinct path as the machine sees it
    (``candidate_path``), at most ``most``."""
    out, seen = [], set()
    for c in (choice.best, *choice.ecmp):
        e = candidate_path(c, tail, teds).edges
        if e not in seen:
            seen.add(e)
            out.append(c)
        if len(out) >= most:
            break
    return tuple(out)


def ucmp_weights(cands) -> tuple:
    """Multipath weights (1..256) in proportion to each candidate's
    available bandwidth (``min_avail_bw``, its bottleneck): unequal-cost
    load sharing of equal-PWR paths. Unknown bandwidth counts as the
    largest known one (all unknown: equal weights)."""
    bws = [c.min_avail_bw if c.min_avail_bw is not None and c.min_avail_bw == c.min_avail_bw and c.min_avail_bw > 0 else None for c in cands]
    known = [b for b in bws if b is not None and b != float("inf")]
    top = max(known) if known else None
    if top is None:
        return tuple(1 for _ in cands)
    return tuple(max(1, min(256, round(256 * min(b if b is not None else top, top) / top))) for b in bws)


def head_segs(route, table: sidlist.SidTable, own_end_x=None, max_depth: int = sidlist.MAX_DEPTH) -> tuple:
    """The head-end's SID list (path order) for one prefix, from a
    signalling answer (``proto.control.Route``): End.X of each hop whose
    link it names (RFC 8986 sec. 4.2), the first ABR's binding SID if any,
    then the tail's End.DX4 SID; None for the last (per prefix)."""
    n = len(route.links)
    if n == 0:
        raise LspError(f"the answer names no link from {route.route[0]}: nothing to pin")
    routers = route.route[: n + 1]
    segs = []
    for u, local in zip(routers, route.links):
        try:
            segs.append(table.end_x_of(u, local))
        except sidlist.SidListError:
            s = own_end_x(u, local) if own_end_x else None
            if s is None:
                raise LspError(f"SID list cannot be built: no End.X SID advertised by {u} for link {local}") from None
            segs.append(s)
    if route.binding:
        segs.append(route.binding)
    if len(segs) + 1 > max_depth:
        raise LspError(f"SID list of {len(segs) + 1} segments exceeds agent.lsp.max_depth {max_depth}")
    return tuple(segs)


def predict_binding_segs(me: str, my_local: str, seg_hops, G, table: sidlist.SidTable, *, head: str, num: int, end_expands: bool, tail: str, own_end_x=None):
    """An expanding ABR's binding-SID list as it will be once the rest of
    the path has answered, known on the forward leg (issue 7 sec. 5: the
    install then overlaps the rest of the set-up instead of waiting on the
    answer): End.X of our reserved link (``my_local``), then of each later
    router of our segment ``seg_hops`` (after us, ending at the segment's
    end) to the next, the end ABR's binding SID if it expands a segment
    in turn (``end_expands``; RFC 8986 sec. 4.13: its SID is named by its
    locator and the LSP, ``sids.binding_sid``), and the tail's End.DT6 SID.

    None where the answer could differ: a later hop with more than one
    link to its next in ``G`` (the area's TED graph, keyed by the near
    end's address: the hop books the one it has most bandwidth on), or a
    SID or locator not in ``table``; the tail's End.DT6 SID, when no TED
    here holds the tail (another area), is the default one of its router
    ID (``sids.default_locator``). A prediction is checked against the
    answer (``TransitMixin.on_reserved``), never trusted."""
    from pyfrr_pwr.dataplane import sids

    routers = (me, *seg_hops)
    if len(routers) < 2:
        return None
    locals_ = [my_local]
    for u, v in zip(routers[1:-1], routers[2:]):
        data = G.get_edge_data(u, v) if G is not None and G.has_node(u) and G.has_node(v) else None
        if not data or len(data) != 1:
            return None
        locals_.append(next(iter(data)))
    segs = []
    for u, local in zip(routers, locals_):
        s = table.end_x.get((u, local)) or (own_end_x(u, local) if own_end_x is not None else None)
        if s is None:
            return None
        segs.append(s)
    try:
        if end_expands:
            loc = table.locators.get(routers[-1])
            if loc is None:
                return None
            segs.append(sids.binding_sid(loc, head, num))
        dt6 = table.dt6.get(tail) or sids.dt6_sid(table.locators.get(tail) or sids.default_locator(tail))
    except (sids.SidError, ValueError):
        return None
    segs.append(dt6)
    return tuple(segs)
