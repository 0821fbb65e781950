"""The SID list of a chosen path (RFC 8986, RFC 8754; pure, no I/O).

A path is what ``paths.ksp`` returns: nodes (router IDs) and the links
taken as the TED graph's ``(u, v, key)`` edges, ``key`` the local IPv4
interface address (``model.ted.TED.graph``). ``build`` turns it into the
segments the head-end pushes, from a ``SidTable`` of what routers
advertised (``sids.SidPlan.advertised``).

Pinned hop by hop
-----------------
Each hop is the End.X SID of the link's near end, so the path is exactly
the chosen one: no IGP decision is left, and parallel links stay apart
(draft sec. 2.1.1, L1-L3). The first segment is the head-end's own End.X:
the head's input path processes it (checked on these kernels), so even the
first link is pinned. The list ends with the tail's End.DX4 SID for the
prefix, which strips the outer header and hands the IPv4 packet to the
prefix's next hop. One hop costs one segment; a path of n links has n + 1.

Compression (``compress=True``, only with the IGP graph ``igp``): a run of
hops from u to w whose links are the IGP's *unique* shortest path from u
to w needs no End.X SIDs at all: the next segment is a SID of w (its End.X,
End.DX4, End.DT6 or binding SID), all of w's SIDs sit in w's locator, and
the IGP routes that locator along this very run. (A node SID End(w) there
would only repeat what w's next SID already says, so none is pushed.) Equal
cost IGP alternatives keep the End.X SIDs: the IGP might split the run. The
price of compression: the IGP may move a compressed run when it
reconverges, which a pinned path never does.

Too deep: binding SIDs at ABRs
------------------------------
Hardware and MTU limit the SRH (``max_depth`` segments, default 8). A
longer list is split at ABRs (draft sec. 2.2: the ABRs expand their own
segment) into End.B6.Encaps binding SIDs: the head-end's list runs to the
first ABR and ends ``[..., B(abr), DX4(tail)]``; that ABR's binding SID
pushes a new outer header with the rest ``[..., DT6(tail)]`` (splitting
again at a later ABR if still too long). End.B6.Encaps acts only on a
packet with segments left after it (RFC 8986's End.B6.Encaps steps
S02-S04 pass a packet with Segments Left 0 on untouched; Linux drops it,
as checked on these kernels: error counter up, nothing forwarded), so the inner
list keeps the tail's End.DX4 SID; the binding list ends with the tail's
End.DT6 SID, which strips its outer header at the tail, where the inner
header's DX4 SID takes over. Splitting is greedy: each list reaches the
farthest ABR it can, so the fewest ABRs hold state.

ABRs are the split points (not any router) because they are where the
draft already hands a TE-LSP from one area's computation to the next, and
they hold the LSP's state in any case. The same mechanism serves an
inter-area LSP whose head-end only knows its own area's segment: give
``build`` the path up to the first ABR and the real ``tail``; the list then
ends ``[..., B(abr), DX4(tail)]``, and that ABR runs ``build(...,
binding=True)`` over its own segment and installs the result as
``SidPlan.binding``. Binding SIDs are derived from the ABR's locator, the
head-end and the LSP ID (``sids.binding_sid``), so the head-end can name
one before the ABR has installed it.
"""

from __future__ import annotations

import heapq
import ipaddress
import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from pyfrr_pwr.dataplane import sids

__all__ = ["SidListError", "SidTable", "BindingInstall", "SidList", "build", "path_edges", "abrs_of", "MAX_DEPTH"]

MAX_DEPTH = 8


class SidListError(ValueError):
    """A path that cannot be turned into a SID list; the message says why."""


@dataclass
class SidTable:
    """What routers advertised: per router ID its locator, node SID and
    End.DT6 SID; End.X SIDs by (router ID, local IPv4 address); End.DX4
    SIDs by (router ID, prefix)."""

    locators: dict = field(default_factory=dict)
    end: dict = field(default_factory=dict)
    dt6: dict = field(default_factory=dict)
    end_x: dict = field(default_factory=dict)
    dx4: dict = field(default_factory=dict)

    def add(self, adv: dict) -> None:
        """Merge one router's advertisement (``SidPlan.advertised()``),
        replacing what that router advertised before."""
        try:
            rid = sids.router_id(adv["router_id"])
            loc = sids.parse_locator(adv["locator"])
            end_x = {str(ipaddress.IPv4Address(k)): str(ipaddress.IPv6Address(v)) for k, v in adv.get("end_x", {}).items()}
            dx4 = {str(ipaddress.IPv4Network(k)): str(ipaddress.IPv6Address(v)) for k, v in adv.get("dx4", {}).items()}
            end = str(ipaddress.IPv6Address(adv["end"])) if adv.get("end") else None
            dt6 = str(ipaddress.IPv6Address(adv["dt6"])) if adv.get("dt6") else None
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise SidListError(f"bad SID advertisement {adv!r}: {exc}") from None
        self.remove(rid)
        self.locators[rid] = loc
        if end:
            self.end[rid] = end
        if dt6:
            self.dt6[rid] = dt6
        for k, v in end_x.items():
            self.end_x[(rid, k)] = v
        for k, v in dx4.items():
            self.dx4[(rid, k)] = v

    def remove(self, rid: str) -> None:
        self.locators.pop(rid, None)
        self.end.pop(rid, None)
        self.dt6.pop(rid, None)
        for d in (self.end_x, self.dx4):
            for k in [k for k in d if k[0] == rid]:
                del d[k]

    @classmethod
    def of(cls, advertisements: Iterable) -> SidTable:
        """From ``SidPlan`` objects or their ``advertised()`` dicts."""
        t = cls()
        for a in advertisements:
            t.add(a.advertised() if isinstance(a, sids.SidPlan) else a)
        return t

    @classmethod
    def derived(cls, G, prefixes: dict | None = None, block: str = sids.BLOCK) -> SidTable:
        """The table every router would advertise if none configured a
        locator: SIDs follow from router IDs and link keys alone
        (``sids``), so a TED graph (``TED.graph``) is enough. ``prefixes``:
        {tail router ID: [IPv4 prefixes it serves]}. A bootstrap until the
        wire carries SIDs; a router that configured its locator breaks it."""
        if not G.is_multigraph():
            raise SidListError("derived(): needs the TED graph, a MultiDiGraph keyed by local interface addresses")
        t = cls()
        for n in G.nodes:
            loc = sids.default_locator(n, block)
            t.locators[n] = loc
            t.end[n] = sids.end_sid(loc)
            t.dt6[n] = sids.dt6_sid(loc)
        for u, _, key in G.edges(keys=True):
            t.end_x[(u, key)] = sids.end_x_sid(t.locators[u], key)
        for rid, ps in (prefixes or {}).items():
            loc = t.locators.get(rid) or sids.default_locator(rid, block)
            t.locators[rid] = loc
            for p in ps:
                p = str(ipaddress.IPv4Network(p))
                t.dx4[(rid, p)] = sids.dx4_sid(loc, p)
        return t

    def owner(self, sid: str) -> str | None:
        a = ipaddress.IPv6Address(sid)
        for rid, loc in self.locators.items():
            if a in loc:
                return rid
        return None

    # -- lookups with the errors build() raises -----------------------------

    def end_x_of(self, rid: str, local: str) -> str:
        try:
            return self.end_x[(rid, local)]
        except KeyError:
            raise SidListError(f"no End.X SID advertised by {rid} for link {local}") from None

    def dx4_of(self, rid: str, prefix: str) -> str:
        try:
            return self.dx4[(rid, prefix)]
        except KeyError:
            raise SidListError(f"no End.DX4 SID advertised by {rid} for {prefix}") from None

    def dt6_of(self, rid: str) -> str:
        try:
            return self.dt6[rid]
        except KeyError:
            raise SidListError(f"no End.DT6 SID advertised by {rid} (it ends binding-SID lists at the tail)") from None

    def binding_of(self, rid: str, head: str, lsp_id: int | None) -> str:
        if lsp_id is None:
            raise SidListError(f"a binding SID at {rid} needs the LSP ID (lsp_id=)")
        try:
            loc = self.locators[rid]
        except KeyError:
            raise SidListError(f"no locator advertised by {rid}: cannot name its binding SID") from None
        try:
            return sids.binding_sid(loc, head, lsp_id)
        except sids.SidError as exc:
            raise SidListError(str(exc)) from None


@dataclass(frozen=True)
class BindingInstall:
    """A binding SID an ABR must install for the LSP: ``SidPlan.binding(head,
    lsp_id, segs)`` at ``router`` gives the same ``sid``. ``edges`` are the
    hops its list covers."""

    router: str
    sid: str
    segs: tuple
    edges: tuple


@dataclass(frozen=True)
class SidList:
    """The head-end's segments in path order (first segment first; the
    netlink shell reverses them into SRH order), the binding SIDs ABRs must
    install, in path order, the path's first link (whose interface the
    encap route names), and the ABR beyond the path that expands the rest of
    an inter-area LSP (None when the path reaches the tail)."""

    segs: tuple
    bindings: tuple
    first_hop: tuple
    expands_at: str | None = None

    @property
    def depth(self) -> int:
        return len(self.segs)


def path_edges(path) -> tuple:
    """The ``(u, v, key)`` edges of a ``ksp.Path`` (or anything with
    ``.edges``) or of a sequence of edges, checked to be a chain."""
    edges = tuple(getattr(path, "edges", path))
    if not edges:
        raise SidListError("empty path: no links to pin")
    out = []
    for i, e in enumerate(edges):
        try:
            u, v, key = e
        except (TypeError, ValueError):
            raise SidListError(f"path edge {i} is {e!r}, not (u, v, key)") from None
        if out and out[-1][1] != u:
            raise SidListError(f"path breaks at edge {i}: {out[-1]} ends at {out[-1][1]}, the next starts at {u}")
        out.append((u, v, key))
    nodes = [out[0][0]] + [e[1] for e in out]
    if len(set(nodes)) != len(nodes):
        raise SidListError(f"path visits a router twice: {' -> '.join(nodes)}")
    return tuple(out)


def abrs_of(G) -> set:
    """ABRs of a TED graph (nodes with an ``abr`` attribute, ``TED.graph``)."""
    return {n for n, d in G.nodes(data=True) if d.get("abr")}


class _Igp:
    """Unique-shortest-path questions over the IGP graph."""

    def __init__(self, G, weight: str):
        self.G = G
        self.weight = weight
        self.multi = G.is_multigraph()
        self.cache: dict = {}

    def w(self, u, v, key) -> float | None:
        try:
            d = self.G[u][v][key] if self.multi else self.G[u][v]
        except KeyError:
            return None
        x = d.get(self.weight, 1)
        if not (isinstance(x, (int, float)) and x > 0 and math.isfinite(x)):
            raise SidListError(f"IGP link {u}->{v} ({key}) has weight {x!r}: compression needs positive costs")
        return float(x)

    def from_(self, src):
        """Distances and shortest-path counts (capped at 2) from ``src``;
        parallel links count as distinct paths."""
        if src in self.cache:
            return self.cache[src]
        dist = {src: 0.0}
        count = {src: 1}
        done = set()
        heap = [(0.0, 0, src)]
        tie = 1
        while heap:
            d, _, u = heapq.heappop(heap)
            if u in done:
                continue
            done.add(u)
            if self.multi:
                arcs = ((v, k) for v, ks in self.G[u].items() for k in ks)
            else:
                arcs = ((v, None) for v in self.G[u])
            for v, k in arcs:
                w = self.w(u, v, k)
                nd = d + w
                old = dist.get(v)
                if old is None or nd < old - 1e-12 * max(1.0, abs(old)):
                    dist[v] = nd
                    count[v] = count[u]
                    heapq.heappush(heap, (nd, tie, v))
                    tie += 1
                elif abs(nd - old) <= 1e-12 * max(1.0, abs(old)) and v not in done:
                    count[v] = min(2, count[v] + count[u])
        self.cache[src] = (dist, count)
        return dist, count

    def reach(self, edges, i: int, j: int) -> int:
        """The farthest k in (i, j] such that edges i..k-1 are the unique IGP
        shortest path from edges[i]'s tail; i when not even one hop is."""
        src = edges[i][0]
        dist, count = self.from_(src)
        total = 0.0
        best = i
        for k in range(i, j):
            u, v, key = edges[k]
            w = self.w(u, v, key if self.multi else None)
            if w is None:
                break
            total += w
            d = dist.get(v)
            if d is None or count.get(v, 0) != 1 or abs(total - d) > 1e-9 * max(1.0, d):
                break
            best = k + 1
        return best


def _hops(edges, i: int, j: int, table: SidTable, igp: _Igp | None) -> list:
    """Segments for hops i..j-1, the next segment being a SID of edges[j-1]'s
    far end (compressed when ``igp`` is given)."""
    out = []
    k = i
    while k < j:
        if igp is not None:
            # drop the longest run the IGP agrees with; the hop after it must
            # stay, since its End.X SID is what steers the packet to the run's
            # end (two dropped runs in a row would be one run, unchecked).
            # Greedy is optimal: subpaths of a unique shortest path are too.
            far = igp.reach(edges, k, j)
            if far == j:
                break
            k = far
        u, _, key = edges[k]
        out.append(table.end_x_of(u, key))
        k += 1
    return out


def build(
    path,
    table: SidTable,
    prefix: str,
    *,
    tail: str | None = None,
    head: str | None = None,
    lsp_id: int | None = None,
    max_depth: int = MAX_DEPTH,
    abrs: Collection = (),
    igp=None,
    compress: bool = False,
    weight: str = "weight",
    binding: bool = False,
) -> SidList:
    """The SID list of ``path`` for traffic to the IPv4 ``prefix``.

    ``tail`` is the LSP's tail-end (default: the path's last router); a
    path that stops short of it ends at an ABR that expands the rest.
    ``head`` is the LSP's head-end (default: the path's first router) and
    with ``lsp_id`` names binding SIDs. ``abrs`` are the routers that may
    hold binding SIDs when the list is deeper than ``max_depth``.
    ``compress`` drops End.X SIDs where the IGP graph ``igp`` (edge
    attribute ``weight``) has the same unique shortest path. ``binding``:
    the list is an ABR's binding-SID list (it ends with the tail's End.DT6
    SID rather than its End.DX4 SID).
    """
    edges = path_edges(path)
    try:
        prefix = str(ipaddress.IPv4Network(prefix))
    except (ValueError, TypeError) as exc:
        raise SidListError(f"prefix {prefix!r}: {exc}") from None
    if not isinstance(max_depth, int) or isinstance(max_depth, bool) or max_depth < 2:
        raise SidListError(f"max_depth {max_depth!r} must be an integer >= 2")
    nodes = [edges[0][0]] + [e[1] for e in edges]
    head = head or nodes[0]
    tail = tail or nodes[-1]
    if tail in nodes[:-1]:
        raise SidListError(f"tail {tail} is inside the path {' -> '.join(nodes)}")
    if compress and igp is None:
        raise SidListError("compress=True needs the IGP graph (igp=)")
    g = _Igp(igp, weight) if compress else None
    n = len(edges)
    expands_at = None if nodes[-1] == tail else nodes[-1]
    top = table.dt6_of(tail) if binding else table.dx4_of(tail, prefix)
    # a list ends with the tail's DX4 SID (the head-end's) or DT6 SID (every
    # binding list, which strips its own outer header at the tail)
    terminal = lambda s: top if s == 0 else table.dt6_of(tail)
    # the tail part of the last list: the expanding ABR's binding SID
    beyond = [table.binding_of(expands_at, head, lsp_id)] if expands_at else []
    split_at = {i for i in range(1, n) if nodes[i] in set(abrs)}

    lists = []  # (start, end, segs)
    s = 0
    while True:
        end_segs = beyond + [terminal(s)]
        whole = _hops(edges, s, n, table, g) + end_segs
        if len(whole) <= max_depth:
            lists.append((s, n, whole))
            break
        chosen = None
        for j in sorted((j for j in split_at if j > s), reverse=True):
            segs = _hops(edges, s, j, table, g) + [table.binding_of(nodes[j], head, lsp_id), terminal(s)]
            if len(segs) <= max_depth:
                chosen = (j, segs)
                break
        if chosen is None:
            where = [nodes[j] for j in sorted(split_at) if j > s]
            raise SidListError(
                f"SID list from {nodes[s]} needs {len(whole)} segments (max depth {max_depth}) and "
                + (
                    f"no ABR on the path within reach to split at (ABRs further on: {', '.join(where)})"
                    if where
                    else "there is no ABR further on the path to split at"
                )
            )
        lists.append((s, chosen[0], chosen[1]))
        s = chosen[0]
    bindings = tuple(BindingInstall(nodes[st], table.binding_of(nodes[st], head, lsp_id), tuple(segs), edges[st:en]) for st, en, segs in lists[1:])
    return SidList(tuple(lists[0][2]), bindings, edges[0], expands_at)
