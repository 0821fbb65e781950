"""Head-end LSPs over SRv6, and their part at ABRs and tail-ends (issue 7).

There is no MPLS in these kernels: a TE-LSP (draft sec. 1.2, 2.1.7) is an
SRv6 path. ``LspManager`` is the daemon's one hook for it: the control
requests it answers (Reserve, Release, Lsps), its task and what it removes
when the agent stops. It drives one ``dataplane.lsp.Lsp`` state machine per
LSP (sans-I/O: events in, actions out) and carries the actions out against
signalling and the kernel (``dataplane.netlink``).

Set-up (``path TO --reserve BW [--prefix P ...]``): the head-end's choice
(draft sec. 2.2) gives the explicit route of its own area and the later
segments; ``Signalling.reserve_lsp`` reserves it hop by hop with the data
plane flag set. Answers travel upstream, like the labels of an RSVP Resv
(RFC 3209 sec. 4.1): each hop adds the local address of the link it
reserved; an ABR that expanded its segment (CSPF in its area, sec. 2.2)
builds that segment's SID list from its TED (End.X per hop, then the next
ABR's binding SID, then the tail's End.DT6 SID), installs it as a binding
SID (End.B6.Encaps, RFC 8986 sec. 4.13) and answers that instead of its
segment's links; the tail answers its End.DT6 SID and the End.DX4 SIDs of
the LSP's prefixes (refusing a prefix it does not serve). The head-end
then builds its list from its own TED (``AgentCore.sid_table``): End.X of
each hop to the first ABR, that ABR's binding SID, the tail's End.DX4 SID,
and installs one IPv4-in-IPv6 encap route per prefix. Why binding SIDs at
every expanding ABR rather than one long list: the head-end's TED does not
hold the other areas' SIDs (and should not: sec. 2.1 keeps areas apart),
each ABR knows its segment only after its own CSPF, and the head-end's SRH
stays short whatever the path's length (docs/dataplane.md).

Any failure on the way (no SID for a hop, a prefix not the tail's, not
enough bandwidth, a link gone) unwinds what was done on every router
(signalling releases the hops it booked, each takes its binding SID with
it; the head-end removes its routes) and the request fails naming it.

Soft state: the reservations are refreshed by signalling; a hop whose
booking expires (``agent.reservation_hold``) removes its binding SID with
it. At the head-end a leg found lost or expired is set up again from
scratch; while it is down the encap route is gone and traffic follows the
IGP. Restart: the kernel's routes of protocol ``RTPROT_PYFRR_PWR`` that are
encap routes or binding SIDs belong to LSPs nobody maintains any more (the
LSPs' state lived in the dead process): they are removed at start
(``stale_lsp_routes_removed``), so traffic falls back to the IGP; the
reservations further on expire by themselves.

Re-optimisation (draft sec. 2.2, "another power shortest path ... would be
constructed"): when the live TEDs or the head-end's published view
(``core.view_gen``, what ``path_choice`` reads) changed, the head-end asks
for the best path (or equal-PWR set) again and hands it to the machine
(``PwrChanged``), which applies the margin and hold-down (hysteresis) and,
if it moves, signals the new path, replaces the encap route (a netlink
route replace: atomic, make-before-break) and releases the old one. The
task wakes on ``kick()``, at a machine's deadline, or every
``reoptimize_period`` s while it has LSPs or binding SIDs; else every 5 s.

Protection (issue 7 sec. 4): with ``backup`` (or ``agent.lsp.protection``)
the machine signals a backup too (``backup_candidate``: the cheapest other
choice whose head-end segment shares no link with the primary's; else
``paths.disjoint.protect`` on the head-end's own segment) and pre-installs
it at a worse metric, so a first-hop carrier loss switches in the kernel.
Remote failures: every agent runs an ``agent.liveness.LivenessService``
(the reflector), the head-end one ``dataplane.liveness.Prober`` per
protected LSP whose verdicts feed the machine as LivenessLost/Restored
(``_probe_path`` says what a probe covers). Equal-PWR legs (``ecmp``,
sec. 2.1.5): the choice's ECMP set as one weighted multipath route, UCMP
weights from available bandwidth (``ucmp_weights``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from pyfrr_pwr.dataplane import lsp as fsm
from pyfrr_pwr.dataplane import sidlist

__all__ = [
    "LspError",
    "HeadLsp",
    "plan_lsp",
    "HeadEnds",
    "LspManager",
    "candidate_path",
    "backup_candidate",
    "ecmp_set",
    "ucmp_weights",
    "head_segs",
    "parse_rid",
]

MAX_ECMP = 8  # legs of one multipath route

log = logging.getLogger("pyfrr_pwr.agent.lsps")

try:  # helper H2's protection modules, when they exist
    from pyfrr_pwr.paths import disjoint as _disjoint  # noqa: F401
except ImportError:  # pragma: no cover - depends on the tree
    _disjoint = None


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
    link = None
    for c in (*choice.ecmp, *choice.runners_up):
        if (c.head_path, c.abr_chain) == (primary.head_path, primary.abr_chain) or set(zip(c.head_path, c.head_path[1:])) & pe:
            continue
        if not (set(c.head_path[1:]) | set(c.abr_chain)) & pn:
            return c, "node"
        link = link or c
    return (link, "link") if link else (None, "none")


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


# -- the intra-area planner (kept: tests and offline use) ----------------------------


@dataclass
class HeadLsp:
    id: str
    tail: str
    route: tuple
    edges: tuple
    prefixes: tuple
    segs: tuple
    area: str
    dev: str | None = None
    installed: list = field(default_factory=list)  # prefixes installed

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "tail": self.tail,
            "area": self.area,
            "route": list(self.route),
            "links": [list(e) for e in self.edges],
            "prefixes": list(self.prefixes),
            "segs": list(self.segs),
            "dev": self.dev,
            "installed": list(self.installed),
        }


def _edges(G, route) -> tuple:
    out = []
    for u, v in zip(route, route[1:]):
        data = G.get_edge_data(u, v) if G.has_node(u) and G.has_node(v) else None
        if not data:
            raise LspError(f"no link {u} -> {v} in the TED of area {G.graph.get('area')}")
        key = min(data, key=lambda k: (data[k].get("weight", 0.0), str(k)))
        out.append((u, v, key))
    return tuple(out)


def plan_lsp(lsp_id: str, route, teds: dict, table: sidlist.SidTable, prefixes=None) -> HeadLsp:
    """The LSP of a reserved ``route`` (router IDs, head first) over one
    area's TED; ``prefixes`` (default: the tail's End.DX4 prefixes)."""
    route = tuple(route)
    if len(route) < 2:
        raise LspError(f"LSP {lsp_id}: route {list(route)} has no hop")
    head, tail = route[0], route[-1]
    area = next((a for a, t in sorted(teds.items()) if set(route) <= t.routers()), None)
    if area is None:
        raise LspError(f"LSP {lsp_id}: no single area holds route {list(route)}; inter-area LSPs go through LspManager (binding SIDs at ABRs)")
    if prefixes:
        try:
            pfx = tuple(str(ipaddress.IPv4Network(p)) for p in prefixes)
        except ValueError as exc:
            raise LspError(f"LSP {lsp_id}: {exc}") from None
    else:
        pfx = tuple(sorted(p for r, p in table.dx4 if r == tail))
        if not pfx:
            raise LspError(f"LSP {lsp_id}: tail {tail} advertises no TE prefix (End.DX4 SID); name one")
    edges = _edges(teds[area].graph(), route)
    segs = None
    for p in pfx:
        try:
            s = tuple(sidlist.build(list(edges), table, p, tail=tail, head=head).segs)
        except sidlist.SidListError as exc:
            raise LspError(f"LSP {lsp_id}: {exc}") from None
        if segs is not None and s[:-1] != segs[:-1]:
            raise LspError(f"LSP {lsp_id}: prefixes take different paths")
        segs = segs or s
    return HeadLsp(lsp_id, tail, route, edges, pfx, segs, area)


class HeadEnds:
    """The LSPs this head-end installed (``nl``: a ``Netlink``)."""

    def __init__(self, nl):
        self.nl = nl
        self.lsps: dict = {}

    def setup(self, lsp: HeadLsp, table: sidlist.SidTable) -> HeadLsp:
        if lsp.id in self.lsps:
            raise LspError(f"LSP {lsp.id} exists")
        lsp.dev = self.nl.ifname_of(lsp.edges[0][2])
        try:
            for p in lsp.prefixes:
                segs = (*lsp.segs[:-1], table.dx4_of(lsp.tail, p))
                self.nl.add_encap(p, segs, lsp.dev)
                lsp.installed.append(p)
        except Exception:
            self._remove(lsp)
            raise
        self.lsps[lsp.id] = lsp
        return lsp

    def _remove(self, lsp: HeadLsp) -> int:
        n = 0
        for p in list(lsp.installed):
            n += bool(self.nl.remove_encap(p))
            lsp.installed.remove(p)
        return n

    def release(self, lsp_id: str) -> int:
        lsp = self.lsps.pop(lsp_id, None)
        return self._remove(lsp) if lsp else 0

    def show(self) -> list:
        return [l.to_json() for _, l in sorted(self.lsps.items())]


# -- the agent's LSPs ----------------------------------------------------------------


@dataclass
class _LegInfo:
    """A signalled leg as the head-end knows it: its reservation, the
    answer's route and the SID list per prefix."""

    rid: str
    route: tuple
    links: tuple
    binding: str | None
    segs: tuple  # path order, without the last (per-prefix End.DX4) SID
    dx4: dict  # prefix -> the tail's End.DX4 SID
    dev: str
    pwr: float
    role: str = "primary"
    target: str | None = None  # the tail's node address (LOC::1): the probes' destination


@dataclass
class _Head:
    id: str  # the user's name: the ID of its first reservation
    num: int  # the machine's LSP ID
    tail: str
    bw: float
    want_prefixes: tuple  # asked for (empty: the tail's)
    k: int | None
    constraints: dict
    m: fsm.Lsp
    plans: dict = field(default_factory=dict)  # path edges -> (hops, plan, candidate)
    legs: dict = field(default_factory=dict)  # sig -> _LegInfo
    by_segs: dict = field(default_factory=dict)  # EncapLeg.segs -> _LegInfo
    prefixes: tuple = ()  # what it carries (the tail's answer)
    pwr_setup: float | None = None
    pwr_now: float | None = None
    created: float = 0.0
    up_at: float | None = None
    backup_kind: str | None = None  # "node", "link", "none"; None: no backup asked
    backup_srlg: bool | None = None  # backup disjoint in shared-risk groups too (None: unknown)
    backup_trap: bool = False  # no disjoint backup for this primary, though a disjoint pair exists
    probed: object = None  # the probe paths last given to the prober (None: no prober)
    ecmp: bool = False  # carries the equal-PWR set (--ecmp)
    waiter: asyncio.Future | None = None
    error: str | None = None
    tasks: set = field(default_factory=set)


class _OwnThread:
    """A Netlink used from one thread of its own: pyroute2 0.9's IPRoute
    runs an asyncio loop of its own, which cannot run inside the agent's.
    Calls block the caller for the kernel's answer (milliseconds)."""

    def __init__(self, factory, netns):
        from concurrent.futures import ThreadPoolExecutor

        self._ex = ThreadPoolExecutor(1, thread_name_prefix="lsp-netlink")
        self._nl = self._ex.submit(factory, netns).result()

    @property
    def registry(self) -> dict:
        return self._nl.registry

    def __getattr__(self, name):
        fn = getattr(self._nl, name)
        if not callable(fn):
            return fn
        return lambda *a, **kw: self._ex.submit(fn, *a, **kw).result()

    def close(self) -> None:
        try:
            self._ex.submit(self._nl.close).result()
        finally:
            self._ex.shutdown(wait=False)


class LspManager:
    """The daemon's one hook for LSPs (issue 7): the control requests it
    answers (``REQUESTS``), its task (``run``) and what it removes when the
    agent stops (``stop``). It is also signalling's ``dataplane`` hook
    (``on_reserved``, ``on_gone``): binding SIDs at ABRs, SIDs at tails."""

    REQUESTS: tuple = ()

    def __init__(self, core, signalling, srv6, name: str = "agent", *, netlink=None, clock=time.monotonic):
        from pyfrr_pwr.files.lspcfg import LspSettings
        from pyfrr_pwr.proto import control as msg

        self.core, self.signalling, self.srv6, self.name = core, signalling, srv6, name
        self.REQUESTS = (msg.Reserve, msg.Release, msg.Lsps)
        self.settings = getattr(getattr(core, "cfg", None), "lsp", None) or LspSettings()
        s = self.settings
        hold = getattr(signalling, "refresh", 5.0)
        self.config = fsm.LspConfig(
            refresh=hold, setup_timeout=s.setup_timeout, release_timeout=5.0, margin=s.margin, min_gain=s.min_gain, holddown=s.holddown, wtr=s.wtr
        )
        self._netlink = netlink
        self.clock = clock
        self.nl = None
        self.heads: dict = {}  # LSP ID -> _Head
        self.bindings: dict = {}  # reservation ID -> LocalSid (we are an ABR on it)
        self.stats: Counter = Counter()
        self._num = 0
        self._ted_sig = None
        self._cleaned = False
        self._lost_since: dict = {}  # reservation ID -> when refreshes began to fail
        self.nl_read = None  # a second Netlink for dumps (counters): never in a Switch's way
        self.live = None  # agent.liveness.LivenessService (every agent with SRv6: the reflector)
        self._live_failed = 0.0  # when starting it last failed (retried every 5 s)
        self._kick_ev: asyncio.Event | None = None
        self._links_sig = None
        if signalling is not None:
            signalling.dataplane = self

    # -- the kernel ----------------------------------------------------------------

    def _kernel(self):
        """Our own Netlink (its registry holds only LSP state: encap routes
        and binding SIDs); at first use, what a dead predecessor left goes."""
        if self.nl is None:
            from pyfrr_pwr.dataplane.netlink import Netlink

            self.nl = _OwnThread(self._netlink or Netlink, getattr(self.srv6, "netns", None))
        if not self._cleaned:
            self._cleaned = True
            self._remove_stale()
        return self.nl

    def _remove_stale(self) -> None:
        from pyfrr_pwr.dataplane.netlink import EncapRoute, SidRoute

        try:
            stale = [e for e in self.nl.find_installed() if isinstance(e, EncapRoute) or (isinstance(e, SidRoute) and e.sid.behaviour == "End.B6.Encaps")]
        except Exception as exc:
            self.core.report("lsp_stale_scan_errors", exc, "scanning the kernel for stale LSP routes")
            return
        if stale:
            self.nl.adopt(stale)
            n = self.nl.remove_all()
            self.stats["stale_lsp_routes_removed"] += n
            log.warning("%s: removed %d LSP route(s)/binding SID(s) a previous agent left (nobody maintains them)", self.name, n)

    # -- signalling's data plane hook (every router on an LSP) ---------------------------

    def _end_x(self, table, u: str, local: str) -> str:
        try:
            return table.end_x_of(u, local)
        except sidlist.SidListError:
            s = self._own_end_x(u, local)
            if s is None:
                raise LspError(f"{self.core.router_id}: SID list cannot be built: no End.X SID advertised by {u} for link {local}") from None
            return s

    def _own_end_x(self, u: str, local: str) -> str | None:
        plan = getattr(self.srv6, "plan", None)
        if u != self.core.router_id or plan is None:
            return None
        try:
            return plan.end_x(local).sid
        except Exception:
            return None

    def on_reserved(self, req, step: dict, down, expands: bool):
        """Our part of an LSP's set-up, once the rest of the path answered
        (``down``; None: we are the tail). Returns our answer (a Route)."""
        from pyfrr_pwr.proto import control as msg

        c = self.core
        me = c.router_id
        if not self.settings.enabled:
            raise LspError(f"{me}: LSPs are disabled here (agent.lsp.enabled)")
        if down is None:  # the tail-end: its SIDs
            adv = (self.srv6.advertised() if self.srv6 is not None else None) or {}
            served = dict(adv.get("dx4") or {})
            dt6 = adv.get("dt6")
            if not dt6:
                raise LspError(f"{me}: the tail-end runs no SRv6 (no End.DT6 SID installed)")
            want = tuple(req.prefixes) or tuple(sorted(served))
            if not want:
                raise LspError(f"{me}: the tail-end serves no prefix (no End.DX4 SID): name none it does not have")
            bad = [p for p in want if p not in served]
            if bad:
                raise LspError(f"{me}: {', '.join(bad)} is not a prefix this tail-end serves (it serves {', '.join(sorted(served)) or 'none'})")
            return msg.Route(route=(me,), dt6=dt6, dx4=tuple(msg.PrefixSid(prefix=p, sid=served[p]) for p in want))
        e = c.reservations.get(req.id) or {}
        link = c.links.get(e.get("ifname"))
        if link is None or not link.ifaddr:
            raise LspError(f"{me}: the link reserved for {req.id} has no IPv4 address")
        rest = tuple(down.route)
        links = (link.ifaddr, *down.links)
        if not expands:
            return msg.Route(route=(me, *rest), links=links, binding=down.binding, dt6=down.dt6, dx4=down.dx4)
        # an ABR that expanded its segment: a binding SID for it (RFC 8986 sec. 4.13)
        if not down.dt6:
            raise LspError(f"{me}: the tail answered no End.DT6 SID: the binding SID's list cannot end")
        area = req.plan[0].area
        table = c.sid_table(area)
        routers = (me, *rest)
        segs = [self._end_x(table, u, l) for u, l in zip(routers, links)]
        if down.binding:
            segs.append(down.binding)
        segs.append(down.dt6)
        if len(segs) > self.settings.max_depth:
            raise LspError(f"{me}: the binding SID's list for area {area} needs {len(segs)} segments, over agent.lsp.max_depth {self.settings.max_depth}")
        plan = getattr(self.srv6, "plan", None)
        if plan is None or getattr(self.srv6, "disabled", None):
            raise LspError(f"{me}: no SRv6 here ({getattr(self.srv6, 'disabled', None) or 'no SID plan'}): cannot install a binding SID")
        head, num = parse_rid(req.id)
        sid = plan.binding(head, num, segs)
        self._kernel().add_sid(sid)
        self.bindings[req.id] = sid
        self.stats["bindings_installed"] += 1
        log.info("%s: binding SID %s for %s: %s", self.name, sid.sid, req.id, ",".join(segs))
        return msg.Route(route=(me, *rest), links=(), binding=sid.sid, dt6=down.dt6, dx4=down.dx4)

    def on_gone(self, rid: str) -> None:
        """A booking went (released or expired): its binding SID too."""
        sid = self.bindings.pop(rid, None)
        if sid is None or self.nl is None:
            return
        from pyfrr_pwr.dataplane.netlink import NetlinkError

        try:
            self.nl.remove_sid(sid)
            self.stats["bindings_removed"] += 1
        except NetlinkError as exc:
            self.core.report("binding_remove_errors", exc, f"binding SID of {rid}")

    # -- the head-end ------------------------------------------------------------------

    def _choose(self, tail: str, k, constraints: dict, bw: float | None):
        from pyfrr_pwr.agent.control import constraints as _cons

        cons = _cons(dict(constraints), min_bandwidth=bw) if bw else _cons(dict(constraints))
        return self.core.path_choice(tail, k, cons)

    def _path_of(self, h: _Head, cand) -> fsm.LspPath:
        from pyfrr_pwr.agent import reservations

        p = candidate_path(cand, h.tail, self.core.teds)
        h.plans[p.edges] = (*reservations.plan(cand, h.tail), cand)
        return p

    def _bundle(self, h: _Head, choice) -> tuple:
        """The LSP's primary legs: the best path, or with ``ecmp`` the
        equal-PWR set weighted by available bandwidth (UCMP)."""
        import dataclasses

        if not h.ecmp:
            return (self._path_of(h, choice.best),)
        cands = ecmp_set(choice, h.tail, self.core.teds)
        return tuple(dataclasses.replace(self._path_of(h, c), weight=w) for c, w in zip(cands, ucmp_weights(cands)))

    def _spawn(self, h: _Head, coro) -> None:
        t = asyncio.get_running_loop().create_task(coro)
        h.tasks.add(t)
        t.add_done_callback(h.tasks.discard)

    def _feed(self, h: _Head, ev) -> None:
        for a in h.m.handle(ev):
            try:
                self._do(h, a)
            except Exception as exc:
                self._kernel_failed(h, a, exc)
                break  # the rest was for an LSP that is now released
        if h.m.state is fsm.State.GONE and self.heads.get(h.id) is h:
            del self.heads[h.id]
        self._probe_sync(h)
        self._settle(h)
        self.kick()  # its deadlines may have moved

    def _settle(self, h: _Head) -> None:
        w = h.waiter
        if w is None or w.done():
            return
        if h.m.state is fsm.State.UP and h.m.active == "primary":
            w.set_result(None)
        elif h.error or h.m.state in (fsm.State.DOWN, fsm.State.GONE, fsm.State.RELEASING):
            w.set_result(h.error or h.m.last_reason or f"LSP {h.id} is {h.m.state.value}")

    def _kernel_failed(self, h: _Head, a, exc: Exception) -> None:
        """A kernel action failed: the LSP cannot carry traffic as asked;
        it goes (nothing half installed)."""
        self.stats["kernel_errors"] += 1
        h.error = f"{self.core.router_id}: {type(a).__name__} failed: {exc}"
        log.warning("%s: LSP %s: %s", self.name, h.id, h.error)
        if h.m.state not in (fsm.State.RELEASING, fsm.State.GONE):
            for b in h.m.handle(fsm.ReleaseRequested(self.clock())):
                try:
                    self._do(h, b)
                except Exception as exc2:  # removals are best effort
                    self.core.report("lsp_unwind_errors", exc2, f"LSP {h.id}")
        self._remove_routes(h)

    def _remove_routes(self, h: _Head) -> None:
        import socket as _so

        nl = self.nl
        if nl is None:
            return
        for p in h.prefixes:
            for m in (self.config.primary_metric, self.config.backup_metric):
                if (_so.AF_INET, p, m) in nl.registry:
                    nl.remove_encap(p, m)

    def _install(self, h: _Head, legs, metric: int) -> None:
        from pyfrr_pwr.dataplane.netlink import Nexthop

        infos = [h.by_segs[l.segs] for l in legs]
        nl = self._kernel()
        for p in h.prefixes:
            hops = [Nexthop((*i.segs, i.dx4[p]), i.dev, l.weight) for i, l in zip(infos, legs)]
            nl.add_multipath(p, hops, metric)

    def _do(self, h: _Head, a) -> None:
        import socket as _so

        if isinstance(a, fsm.Signal):
            self._spawn(h, self._signal(h, a))
        elif isinstance(a, fsm.Release):
            i = h.legs.pop(a.sig, None)
            if i is not None:
                self._spawn(h, self._release(h, a.sig, i.rid))
        elif isinstance(a, (fsm.InstallEncap, fsm.Switch)):
            self._install(h, a.legs, a.metric)
            if h.up_at is None:
                h.up_at = self.clock()
        elif isinstance(a, fsm.InstallBackup):
            self._install(h, (a.leg,), a.metric)
        elif isinstance(a, (fsm.RemoveEncap, fsm.RemoveBackup)):
            nl = self.nl
            for p in h.prefixes:
                if nl is not None and (_so.AF_INET, p, a.metric) in nl.registry:
                    nl.remove_encap(p, a.metric)
        elif isinstance(a, fsm.Recompute):
            self._spawn(h, self._recompute(h, a.reason))
        # Refresh: signalling refreshes every reservation we head (run_timers)

    async def _signal(self, h: _Head, a: fsm.Signal) -> None:
        hops, plan, cand = h.plans[a.path.edges]
        rid = None
        try:
            rid, route = await asyncio.wait_for(self.signalling.reserve_lsp(hops, a.bandwidth or h.bw, plan, h.want_prefixes), self.settings.setup_timeout)
            info = self._leg(h, rid, route, a.path.pwr)
            info.role = a.role
        except Exception as exc:
            if rid is not None:
                await self._quiet_release(rid)
            reason = str(exc) or type(exc).__name__
            if isinstance(exc, TimeoutError):
                reason = f"signalling did not answer within {self.settings.setup_timeout:g} s"
            self.stats["signal_failures"] += 1
            if h.waiter is not None and not h.waiter.done():
                h.error = reason
            self._feed(h, fsm.SignallingFailed(self.clock(), a.sig, reason))
            return
        h.legs[a.sig] = info
        h.by_segs[info.segs + (next(iter(info.dx4.values())),)] = info
        self._feed(h, fsm.SignallingSucceeded(self.clock(), a.sig, info.segs + (next(iter(info.dx4.values())),), None))

    def _leg(self, h: _Head, rid: str, route, pwr: float) -> _LegInfo:
        table = self.core.sid_table()
        segs = head_segs(route, table, self._own_end_x, self.settings.max_depth)
        dx4 = {p.prefix: p.sid for p in route.dx4}
        if not dx4:
            raise LspError(f"tail {h.tail} answered no End.DX4 SID")
        if h.prefixes and set(h.prefixes) != set(dx4):
            raise LspError(f"tail {h.tail} answered prefixes {sorted(dx4)}, the LSP carries {list(h.prefixes)}")
        h.prefixes = h.prefixes or tuple(sorted(dx4))
        dev = self._kernel().ifname_of(route.links[0])
        return _LegInfo(rid, tuple(route.route), tuple(route.links), route.binding, segs, dx4, dev, pwr, target=self._tail_address(h.tail, route.dt6, table))

    def _head_backup(self, best, path: fsm.LspPath, h: _Head | None = None) -> tuple:
        """No other choice avoids the primary's links: a backup of the
        head-end's own segment to the same first ABR (or tail) from
        ``paths.disjoint`` (helper H2), the later segments as the primary's.
        It shares that ABR, so it is at most link-disjoint."""
        import dataclasses

        if _disjoint is None:
            return None, "none"
        head_edges = [e for e in path.edges if not str(e[2]).startswith("area ")]
        if not head_edges:
            return None, "none"
        src, dst = head_edges[0][0], head_edges[-1][1]
        for _, ted in sorted(self.core.teds.items()):
            G = ted.graph()
            if not all(G.has_edge(u, v, k) for u, v, k in head_edges):
                continue
            try:
                b = _disjoint.protect(G, head_edges, src, dst)
                p, kind = b.path, b.kind
                if h is not None:
                    h.backup_srlg, h.backup_trap = b.srlg, b.trap
            except Exception as exc:
                self.core.report("backup_path_errors", exc, "backup path")
                return None, "none"
            if p is None:
                return None, "none"
            extra = p.cost - sum(G.edges[e].get("weight", 0.0) for e in head_edges)
            kind = kind if best.abr_chain == () else "link"  # the first ABR is shared
            return dataclasses.replace(best, head_path=tuple(p.nodes), pwr=best.pwr + max(extra, 0.0)), kind
        return None, "none"

    async def _quiet_release(self, rid: str) -> None:
        try:
            await self.signalling.release(rid)
        except Exception as exc:
            self.stats["release_errors"] += 1
            log.info("%s: release of %s: %s (it expires by itself)", self.name, rid, exc)

    async def _release(self, h: _Head, sig: int, rid: str) -> None:
        await self._quiet_release(rid)
        self._feed(h, fsm.Released(self.clock(), sig))

    async def _recompute(self, h: _Head, reason: str) -> None:
        try:
            choice = self._choose(h.tail, h.k, h.constraints, None)
        except Exception as exc:
            self.stats["recompute_failures"] += 1
            log.info("%s: LSP %s: %s: no path: %s", self.name, h.id, reason, exc)
            return
        ps = self._bundle(h, choice)
        now = self.clock()
        if h.m.state is fsm.State.DOWN:
            self._feed(h, fsm.SetupRequested(now, ps))
        else:
            self._feed(h, fsm.PwrChanged(now, ps))

    # -- liveness (issue 7 sec. 4: remote failures) ------------------------------------

    def _tail_address(self, tail: str, dt6: str | None, table) -> str | None:
        """The tail's node address (LOC::1, where every agent's reflector
        listens): from its advertised locator, else from its End.DT6 SID's
        /48 (the default locator length, ``sids``)."""
        from pyfrr_pwr.dataplane import sids

        loc = table.locators.get(tail) if table is not None else None
        try:
            if loc is not None:
                return sids.node_address(loc)
            if dt6:
                return str(ipaddress.IPv6Address(int(ipaddress.IPv6Network(f"{dt6}/48", strict=False).network_address) | 1))
        except (ValueError, sids.SidError):
            return None
        return None

    def _probe_path(self, info: _LegInfo | None):
        """What the prober covers for a leg (docs/protection.md):

        * intra-area (no binding SID): ``liveness.probe_path`` over the
          leg's own links: End.X per hop to the tail, the echo back on the
          reverse links' End.X SIDs; both directions of exactly the LSP's
          links are tested;
        * inter-area: the leg's own SID list (End.X to the first ABR, its
          binding SID: the ABRs' segments as traffic takes them) to the
          tail's node address; the echo returns over the IGP to the first
          ABR's End SID, then on the reverse of the head-end's own links
          (the head-end holds no other area's End.X SIDs). Every forward
          failure on the LSP is seen, and both directions of the head-end's
          segment; a failure on the IGP's return route beyond the first ABR
          too, until OSPF repairs it (primary and backup then fail together:
          the LSP falls to the IGP).
        """
        from pyfrr_pwr.dataplane import liveness as lv

        if info is None or not info.target:
            return None
        if info.binding is None:
            edges = tuple((u, v, k) for u, v, k in zip(info.route, info.route[1:], info.links))
            for area, ted in sorted(self.core.teds.items()):
                G = ted.graph()
                if all(G.has_edge(*e) for e in edges):
                    try:
                        return lv.probe_path(edges, self.core.sid_table(area), G)
                    except (ValueError, sidlist.SidListError, KeyError) as exc:
                        self.stats["probe_path_forward_only"] += 1
                        log.debug("%s: probe path of %s: %s: forward only", self.name, info.rid, exc)
                    break
        try:
            return lv.ProbePath(info.segs, info.target, self._return_via_first_abr(info))
        except ValueError:
            return None

    def _return_via_first_abr(self, info: _LegInfo) -> tuple:
        """An inter-area leg's echo route: over the IGP to the first ABR's
        End SID, then the reverse of the head-end's own links (their End.X
        SIDs), so each leg's echo crosses its own head-end segment and not
        the other leg's (a failure there cannot take both down); () if a
        SID is missing (the echo then follows the IGP all the way)."""
        from pyfrr_pwr.dataplane import sids

        n = len(info.links)
        edges = tuple(zip(info.route[:n], info.route[1 : n + 1], info.links))
        if not edges:
            return ()
        abr = edges[-1][1]
        for area, ted in sorted(self.core.teds.items()):
            G = ted.graph()
            if not all(G.has_edge(*e) for e in edges):
                continue
            try:
                table = self.core.sid_table(area)
                ret = [sids.end_sid(table.locators[abr])]
                for u, v, k in reversed(edges):
                    ret.append(table.end_x_of(v, G.edges[u, v, k]["remote"]))
                return tuple(ret)
            except (KeyError, ValueError, sidlist.SidListError, sids.SidError) as exc:
                self.stats["probe_return_igp"] += 1
                log.debug("%s: echo route of %s: %s: over the IGP", self.name, info.rid, exc)
                return ()
        return ()

    def _probe_stop(self, h: _Head) -> None:
        if h.probed is not None and self.live is not None:
            self.live.remove(h.probed[0])
        h.probed = None

    def _probe_sync(self, h: _Head) -> None:
        """Give the LSP's prober its paths (set-up, re-optimisation, a new
        backup): a Prober per protected LSP, its verdicts fed to the machine."""
        if self.live is None or h.backup_kind is None:
            return
        m = h.m
        if m.state in (fsm.State.DOWN, fsm.State.RELEASING, fsm.State.GONE) or self.heads.get(h.id) is not h:
            self._probe_stop(h)
            return
        from pyfrr_pwr.dataplane import liveness as lv

        pp = self._probe_path(h.legs.get(m.primary[0].sig)) if m.primary else None
        bp = self._probe_path(h.legs.get(m.backup.sig)) if m.backup is not None else None
        key = (m.lsp_id, pp, bp)
        if key == h.probed:
            return
        if h.probed is None or h.probed[0] != m.lsp_id:
            self._probe_stop(h)
            c = self.settings.liveness
            pr = lv.Prober(m.lsp_id, lv.ProberConfig(c.interval, c.multiplier, c.up_after, c.grace))
            self.live.add(pr, lambda a, h=h, n=m.lsp_id: self._on_liveness(h, n, a))
        self.live.handle(m.lsp_id, lv.SetPaths(self.clock(), pp, bp))
        h.probed = key

    def _on_liveness(self, h: _Head, lsp_id: int, a) -> None:
        """A prober's verdict (SwitchToBackup, SwitchBack, BackupDown,
        BackupUp) as LivenessLost/Restored to the LSP's machine, at once:
        the Switch is one netlink request (no dump)."""
        if h.m.lsp_id != lsp_id or self.heads.get(h.id) is not h:
            return
        self.stats[f"liveness_{type(a).__name__}"] += 1
        log.info("%s: LSP %s: liveness %s", self.name, h.id, type(a).__name__)
        self._feed(h, a.event())

    def _liveness_of(self, h: _Head):
        if self.live is None or h.probed is None:
            return None
        e = self.live.probers.get(h.probed[0])
        return e[0].snapshot() if e else None

    async def _live_start(self) -> None:
        """Every agent with SRv6: the reflector (answers probes) and, at a
        head-end, the probers. Needs sr0/sr0p up (the probe route)."""
        from pyfrr_pwr.agent.liveness import LivenessService, install_probe_route

        c = self.settings.liveness
        netns = getattr(self.srv6, "netns", None)
        try:
            await asyncio.to_thread(install_probe_route, netns)
            self._probe_target_route()
            sock = await asyncio.to_thread(self._live_socket, netns, c.port)
            live = LivenessService(sock=sock, port=c.port, key=c.key, allowed=c.allowed, rate=c.rate, clock=self.clock)
            await live.start()
        except Exception as exc:
            self._live_failed = self.clock()
            self.core.report("liveness_start_errors", exc, "starting the liveness prober/reflector (retried)")
            return
        self.live = live
        self.stats["liveness_started"] += 1
        for h in list(self.heads.values()):
            self._probe_sync(h)

    def _probe_target_route(self) -> None:
        """Probes through binding SIDs reach us by End.DT6, which looks the
        inner packet up in the main table only: a ``local`` route for our
        node address there delivers them (``Netlink.add_local``; removed
        with the rest at stop)."""
        from pyfrr_pwr.dataplane import sids

        plan = getattr(self.srv6, "plan", None)
        loc = getattr(plan, "locator", None)
        if loc is None:
            return
        self._kernel().add_local(sids.node_address(loc), getattr(plan, "sid_dev", None) or "sr0")

    @staticmethod
    def _live_socket(netns, port: int):
        import socket as _so

        def make():
            sk = _so.socket(_so.AF_INET6, _so.SOCK_DGRAM)
            sk.setsockopt(_so.SOL_SOCKET, _so.SO_REUSEADDR, 1)
            sk.bind(("::", port))
            return sk

        if netns is None:
            return make()
        from pyroute2 import netns as _netns

        box: dict = {}

        def run():
            try:
                _netns.setns(netns, flags=0)
                box["v"] = make()
            except BaseException as exc:  # handed to the caller
                box["e"] = exc

        import threading

        t = threading.Thread(target=run, daemon=True)
        t.start()
        t.join()
        if "e" in box:
            raise box["e"]
        return box["v"]

    def _reader(self):
        """A second Netlink on a thread of its own for dumps (counters), so
        a Switch never waits behind one."""
        if self.nl_read is None:
            from pyfrr_pwr.dataplane.netlink import Netlink

            self.nl_read = _OwnThread(self._netlink or Netlink, getattr(self.srv6, "netns", None))
        return self.nl_read

    def kick(self) -> None:
        """Wake the task now (the daemon calls it when it published a new
        head-end view: re-optimisation follows the view, not a period)."""
        if self._kick_ev is not None:
            self._kick_ev.set()

    # -- control requests ------------------------------------------------------------

    async def control(self, req):
        from pyfrr_pwr.proto import control as msg

        if isinstance(req, msg.Lsps):
            return self.show()
        if isinstance(req, msg.Release):
            return await self.release(req.id)
        if isinstance(req, msg.Reserve):
            if not self._lsp_capable():
                if req.prefixes:
                    why = getattr(self.srv6, "disabled", None) or ("agent.lsp.enabled is false" if not self.settings.enabled else "SRv6 not started")
                    raise msg.AgentRefusal(f"{self.core.router_id}: no LSP can carry {', '.join(req.prefixes)}: {why}")
                return await self.signalling.control(req)  # a reservation only
            return await self.reserve(req)
        raise TypeError(f"not an LSP request: {req!r}")

    def _lsp_capable(self) -> bool:
        return bool(self.settings.enabled and self.srv6 is not None and getattr(self.srv6, "nl", None) is not None and not getattr(self.srv6, "disabled", None))

    async def reserve(self, req):
        """Set up an LSP (see module docstring); its Reserved record, or an
        AgentRefusal naming what failed (nothing left installed)."""
        from pyfrr_pwr.proto import control as msg

        sg = self.signalling
        if sg.signer is None:
            raise msg.AgentRefusal(sg.no_key)
        bw = sg._check_bw(float(req.bw))
        choice = self._choose(req.to, req.k, req.constraints, bw)
        self._kernel()
        self._num += 1
        m = fsm.Lsp(self._num, self.core.router_id, req.to, tuple(req.prefixes) or ("*",), bw, self.config)
        h = _Head(f"pending-{self._num}", self._num, req.to, bw, tuple(req.prefixes), req.k, dict(req.constraints), m, created=self.clock())
        h.waiter = asyncio.get_running_loop().create_future()
        h.ecmp = bool(getattr(req, "ecmp", False) or self.settings.ecmp)
        paths = self._bundle(h, choice)
        path = paths[0]
        backup = None
        if getattr(req, "backup", False) or self.settings.protection:  # issue 7 sec. 4: pre-installed at a worse metric
            bc, h.backup_kind = backup_candidate(choice, choice.best)
            if bc is None:
                bc, h.backup_kind = self._head_backup(choice.best, path, h)
            backup = self._path_of(h, bc) if bc is not None else None
        self.heads[h.id] = h
        self._feed(h, fsm.SetupRequested(self.clock(), paths, backup))
        why = await h.waiter
        h.waiter = None
        if why is not None:  # nothing half installed: release what is left
            self.heads.pop(h.id, None)
            if h.m.state not in (fsm.State.RELEASING, fsm.State.GONE):
                self._feed(h, fsm.ReleaseRequested(self.clock()))
            self._remove_routes(h)
            await asyncio.gather(*list(h.tasks), return_exceptions=True)
            self.stats["setup_failures"] += 1
            raise msg.AgentRefusal(f"LSP to {req.to} not set up: {why}")
        leg = next(iter(h.legs.values()))
        self.heads.pop(h.id, None)
        h.id = leg.rid
        self.heads[h.id] = h
        h.pwr_setup = h.pwr_now = h.m.primary_pwr
        self.stats["lsps_up"] += 1
        log.info("%s: LSP %s to %s up: %s", self.name, h.id, h.tail, " ".join(leg.route))
        return msg.Reserved(id=h.id, bw=bw, route=leg.route, path=choice, lsp=self._record(h))

    def _find(self, ident: str) -> _Head | None:
        h = self.heads.get(ident)
        if h is not None:
            return h
        for h in self.heads.values():
            if any(i.rid == ident for i in h.legs.values()):
                return h
        return None

    async def release(self, ident: str):
        """Release an LSP (its ID or one of its reservations' IDs): routes,
        reservations and binding SIDs along the path; else a plain
        reservation."""
        from pyfrr_pwr.proto import control as msg

        h = self._find(ident)
        if h is None:
            return await self.signalling.release(ident)
        rids = [i.rid for i in h.legs.values()]
        self._probe_stop(h)
        self._feed(h, fsm.ReleaseRequested(self.clock()))
        self._remove_routes(h)
        self.heads.pop(h.id, None)
        await asyncio.gather(*list(h.tasks), return_exceptions=True)
        self.stats["lsps_released"] += 1
        log.info("%s: LSP %s released (%s)", self.name, h.id, ", ".join(rids))
        return msg.Released(id=h.id)

    # -- views -----------------------------------------------------------------------

    def _record(self, h: _Head, counters: dict | None = None) -> dict:
        snap = h.m.snapshot()
        legs = []
        for i in h.legs.values():
            c = (counters or {}).get(i.segs[0]) if i.segs else None
            legs.append(
                {
                    "role": i.role,
                    "reservation": i.rid,
                    "route": list(i.route),
                    "links": list(i.links),
                    "binding": i.binding,
                    "segs": {p: [*i.segs, s] for p, s in sorted(i.dx4.items())},
                    "dev": i.dev,
                    "packets": c.packets if c else None,
                    "bytes": c.bytes if c else None,
                }
            )
        return {
            "id": h.id,
            "tail": h.tail,
            "state": snap["state"],
            "active": snap["active"],
            "bandwidth": h.bw,
            "prefixes": list(h.prefixes),
            "pwr_setup": h.pwr_setup,
            "pwr_now": h.pwr_now,
            "legs": legs,
            "backup": snap["backup"],
            "ecmp": h.ecmp,
            "backup_disjoint": h.backup_kind,
            "backup_srlg": h.backup_srlg,
            "backup_trap": h.backup_trap,
            "liveness": self._liveness_of(h),
            "up_for": None if h.up_at is None else round(self.clock() - h.up_at, 3),
            "counters": "per first End.X SID (shared by every LSP leaving on that link); the kernel counts no IPv4 route",
            "stats": snap["stats"],
            "last_error": h.error or h.m.last_reason,
        }

    def show(self) -> dict:
        counters = {}
        if self.nl is not None:
            try:
                counters = self._reader().sid_counters()
            except Exception as exc:
                self.core.report("lsp_counter_errors", exc, "reading SID counters")
        return {
            "lsps": [self._record(h, counters) for _, h in sorted(self.heads.items()) if not h.id.startswith("pending-")],
            "bindings": {
                rid: {"sid": s.sid, "segs": list(s.segs), "packets": (counters.get(s.sid).packets if counters.get(s.sid) else None)}
                for rid, s in sorted(self.bindings.items())
            },
            "stats": dict(self.stats),
            "liveness": None if self.live is None else {"port": self.live.port, "probers": len(self.live.probers), "stats": dict(self.live.stats)},
        }

    # -- the task --------------------------------------------------------------------

    def _ted_signature(self) -> tuple:
        """What re-optimisation follows: the head-end's published view
        (``core.view_gen``: path_choice chooses from it, so a TED change not
        yet in the view would choose the old path and be lost), else the
        live TEDs' change counters."""
        live = tuple((a, t.stats["updates"], t.stats["withdrawals"]) for a, t in sorted(self.core.teds.items()))
        if getattr(self.core, "view", None) is not None:
            return ("view", self.core.view_gen, live)
        return live

    IDLE = 5.0  # s between wake-ups with no LSP and no binding SID here

    def _sleep_for(self, now: float) -> float:
        s = self.settings
        if not self.heads and not self.bindings:
            return self.IDLE
        t = s.watch_period
        if s.reoptimize_period > 0:
            t = min(t, s.reoptimize_period)
        for h in self.heads.values():
            d = h.m.next_deadline()
            if d is not None:
                t = min(t, d - now)
        return max(t, 0.001)

    async def run(self) -> None:
        """Watch the LSPs: ticks for the machines (at their deadlines), lost
        legs set up again, re-optimisation when the head-end's view changed
        (woken by ``kick``, else every ``reoptimize_period`` s while there
        are LSPs; every ``IDLE`` s without). Never returns."""
        s = self.settings
        self._kick_ev = asyncio.Event()
        last_watch = -1e300
        first = True
        while True:
            wait = min(s.watch_period, 0.5) if first else self._sleep_for(self.clock())
            first = False
            try:
                await asyncio.wait_for(self._kick_ev.wait(), wait)
            except TimeoutError:
                pass
            self._kick_ev.clear()
            if self.core.router_id is None:
                continue
            if not self._cleaned and self._lsp_capable():
                try:
                    self._kernel()
                except Exception as exc:
                    self.core.report("lsp_kernel_errors", exc, "opening rtnetlink")
            now = self.clock()
            if self.live is None and self._lsp_capable() and getattr(self.srv6, "plan", None) is not None and now - self._live_failed >= self.IDLE:
                await self._live_start()
            for h in list(self.heads.values()):
                try:
                    d = h.m.next_deadline()
                    if d is not None and now >= d:
                        self._feed(h, fsm.Tick(now))
                except Exception as exc:
                    self.core.report("lsp_tick_errors", exc, f"LSP {h.id}")
            if now - last_watch >= s.watch_period:
                last_watch = now
                self._watch()
            if s.reoptimize_period > 0:
                sig = self._ted_signature()
                if sig != self._ted_sig:
                    self._ted_sig = sig
                    self._reoptimize()

    def _lost(self, t, rid: str, now: float) -> bool:
        """A leg is lost when its booking here is gone, a hop said it holds
        none, or refreshes kept failing for the hold time (the hops further
        on have dropped it by then); one refresh that timed out is not."""
        e = t.get(rid)
        if e is None:
            return True
        if e.get("state") != "lost":
            self._lost_since.pop(rid, None)
            return False
        if "no reservation here" in str((e.get("lost") or {}).get("reason")):
            return True
        since = self._lost_since.setdefault(rid, now)
        return now - since >= t.hold

    def _watch(self) -> None:
        """Legs whose reservation was lost (see ``_lost``): the LSP is set
        up again (IGP meanwhile)."""
        links = tuple(sorted((n, getattr(l, "ifaddr", None), getattr(l, "up", None)) for n, l in (getattr(self.core, "links", None) or {}).items()))
        if links != self._links_sig:  # an address may have moved: ifname_of asks the kernel again
            self._links_sig = links
            if self.nl is not None:
                self.nl.forget_addresses()
        t = self.signalling.table if self.signalling is not None else None
        if t is None:
            return
        now = self.clock()
        for h in list(self.heads.values()):
            if h.m.state is not fsm.State.UP or h.id.startswith("pending-"):
                continue
            bad = [i.rid for i in h.legs.values() if self._lost(t, i.rid, now)]
            if bad:
                self.stats["legs_lost"] += len(bad)
                log.warning("%s: LSP %s: reservation(s) %s lost: setting it up again", self.name, h.id, ", ".join(bad))
                self._restart(h)

    def _restart(self, h: _Head) -> None:
        self._feed(h, fsm.ReleaseRequested(self.clock()))
        self._remove_routes(h)
        self._num += 1
        h.m = fsm.Lsp(self._num, self.core.router_id, h.tail, h.want_prefixes or ("*",), h.bw, self.config)
        h.legs.clear()
        h.by_segs.clear()
        h.up_at = None
        self.heads[h.id] = h
        self._spawn(h, self._recompute(h, "reservation lost"))

    def _reoptimize(self) -> None:
        """Draft sec. 2.2: the best path now, to the machines (hysteresis)."""
        for h in list(self.heads.values()):
            if h.m.state is not fsm.State.UP or h.id.startswith("pending-"):
                continue
            try:
                choice = self._choose(h.tail, h.k, h.constraints, None)
            except Exception as exc:
                self.stats["reopt_no_path"] += 1
                log.debug("%s: LSP %s: %s", self.name, h.id, exc)
                continue
            cur = [l.path for l in h.m.primary]
            cur_pwr = None
            for c in (choice.best, *choice.ecmp, *choice.runners_up):
                p = candidate_path(c, h.tail, self.core.teds)
                if cur and p.edges == cur[0].edges:
                    cur_pwr = p.pwr
                    break
            head_part = [e for e in cur[0].edges if not str(e[2]).startswith("area ")] if cur else []
            if cur_pwr is None and head_part:
                # the chain we hold is no choice any more: its first ABR's best
                # from our head path on is a lower bound of what our pinned
                # path costs now (the ABR's vector is its minimum)
                same = [c.pwr for c in (choice.best, *choice.ecmp, *choice.runners_up) if list(c.head_path) == [head_part[0][0], *(e[1] for e in head_part)]]
                cur_pwr = min(same) if same else None
            listed = [c.pwr for c in (choice.best, *choice.ecmp, *choice.runners_up)]
            if cur_pwr is None and cur and listed:
                # neither our path nor its head path is among the candidates
                # any more: it costs at least the dearest of them (a lower
                # bound, like the ABR minimum above). None would tell the
                # machine "unchanged", and a path that got dearer would stay
                # pinned (the re-optimisation test caught it under load)
                cur_pwr = max(listed)
                self.stats["reopt_lower_bound"] += 1
            if cur_pwr is not None:
                h.pwr_now = cur_pwr
            self._feed(h, fsm.PwrChanged(self.clock(), self._bundle(h, choice), cur_pwr))

    async def stop(self) -> None:
        """Release our LSPs (best effort, briefly) and remove exactly the
        routes and binding SIDs we installed."""
        heads = list(self.heads.values())
        try:
            if heads:
                await asyncio.wait_for(asyncio.gather(*(self.release(h.id) for h in heads), return_exceptions=True), 3.0)
        except TimeoutError:
            self.stats["stop_release_timeouts"] += 1
        finally:
            for h in heads:
                for t in list(h.tasks):
                    t.cancel()
            if self.live is not None:
                from pyfrr_pwr.agent.liveness import remove_probe_route

                live, self.live = self.live, None
                try:
                    await live.stop()
                    await asyncio.to_thread(remove_probe_route, getattr(self.srv6, "netns", None))
                except Exception as exc:
                    self.core.report("liveness_stop_errors", exc, "stopping liveness")
            if self.nl_read is not None:
                self.nl_read.close()
                self.nl_read = None
            if self.nl is not None:
                try:
                    n = self.nl.remove_all()
                    log.info("%s: %d LSP route(s)/binding SID(s) removed", self.name, n)
                finally:
                    self.nl.close()
                    self.nl = None
            self.bindings.clear()
