"""A fake OSPF flooding loop between in-memory AgentCores (test helper).

In the style of aioquic's client/server pairs: no ospfd, no sockets, no
namespaces. Each router of a topology file gets an ``AgentCore``; the fabric
tells it what ospfd would (its router ID, interface states, Full neighbours,
"ready" per area) and turns the requests it returns into the notifications
ospfd would send to every agent of the area:

    OriginateRequest -> LsaUpdate (type 10, lsid from wire.make_lsid,
                        adv_router = the originator's router ID, seq + 1
                        on a refresh of the same LS ID)
    DeleteRequest    -> LsaDelete (the last instance's header at MaxAge)

delivered through ``core.handle(msg, now)`` to every core with an interface
in that area (the originator too: agents register for ORIGIN_ANY), looping
until nothing more is sent. ABRs compute their vectors the way the agent's
vector loop does: ``vector_snapshot()``, ``AgentCore.compute_vectors()``,
``apply_vectors()``.

A request ospfd would refuse (an area the router is not in, deleting an LSA
that does not exist) is recorded in ``errors``; tests assert it stays empty.
Only AgentCore's public surface is used.

Restarts and hostile LSAs (issue 11): ``restart_agent`` replaces a router's
core by a fresh one as ospfd sees a killed agent (its LSAs flushed, kept at
MaxAge by the neighbours, and by the router itself unless told otherwise),
then connects and syncs it as the daemon does (``session_reset``, the
session's messages, the LSDB sync, ``resync_done``). An origination that
reuses an LS ID a neighbour still holds at MaxAge while the router itself
no longer does starts at the initial sequence number and collides with
that copy: ospfd floods the copy back and flushes the new LSA, which is
recorded in ``errors`` and delivered as the delete it is. ``flush_behind``
is ospfd flushing an LSA of an agent without being asked; ``inject`` is an
LSA from anywhere (a hostile or rogue originator); ``router_lsas=True``
gives every router a router LSA (type 1) per area, ``drop_router_lsa``
takes one away.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

from pyfrr_pwr.agent.core import AgentCore
from pyfrr_pwr.files.topology import Topology, load_topology
from pyfrr_pwr.model.constraints import Constraints
from pyfrr_pwr.proto import ospfapi as api
from pyfrr_pwr.proto import wire

MAX_AGE = 3600
INITIAL_SEQ = 0x80000001


def serial_after(a: int, b: int) -> bool:
    """LS sequence number a is newer than b (signed 32-bit, RFC 2328 sec. 12.1.6)."""
    return (a - b) & 0xFFFFFFFF < 0x80000000 and a != b


ISM_LOOPBACK, ISM_P2P = 2, 4


@dataclass
class Node:
    name: str
    core: AgentCore
    areas: set
    ifaddrs: dict  # ifname -> address
    nbrs: list = field(default_factory=list)  # NsmChange per Full neighbour
    ism: list = field(default_factory=list)  # IsmChange per interface


class Fabric:
    """Cores for ``routers`` (default: every router with a power file) of a
    topology, joined by fake flooding. Adjacencies form only between two
    routers that both have a core (a subset is a smaller network).

    A delete reaches every agent of the area but the one that asked for it,
    as with FRR 8.4.4's ospfd (measured on fig-2-0: an ABR's DeleteRequest
    for its own Link TLV never came back to it as LSA_DELETE_NOTIFY);
    ``echo_own_deletes=True`` delivers it to the asker too."""

    @classmethod
    def up(cls, topology, **kw) -> Fabric:
        """A fabric brought up whose flooding raised nothing (a fixture's body)."""
        f = cls(topology, **kw)
        f.bring_up()
        assert f.errors == []
        return f

    def __init__(self, topology: str | Path | Topology, routers=None, now: float = 0.0, router_lsas: bool = False, echo_own_deletes: bool = False):
        self.echo_own_deletes = echo_own_deletes
        self.topo = topology if isinstance(topology, Topology) else load_topology(topology)
        names = list(routers) if routers is not None else [n for n, r in self.topo.routers.items() if r.power is not None]
        self.now = now
        self.nodes: dict[str, Node] = {}
        for n in names:
            r = self.topo.routers[n]
            a = r.power.agent
            core = AgentCore(r.power, a.get("opaque_type", wire.DEFAULT_OPAQUE_TYPE), a.get("profile", "draft"), a.get("min_interval", 1.0))
            ifaddrs = {i.name: str(i.address.ip) for i in r.interfaces.values() if i.address is not None}
            ism = [
                api.IsmChange(str(i.address.ip), i.area, ISM_LOOPBACK if i.name == "lo" else ISM_P2P)
                for i in r.interfaces.values()
                if i.address is not None and i.area
            ]
            self.nodes[n] = Node(n, core, set(r.areas), ifaddrs, ism=ism)
        for l in self.topo.links:
            for (na, ia), (nb, ib) in ((l.a, l.b), (l.b, l.a)):
                if na in self.nodes and nb in self.nodes:
                    fa, fb = self.topo.routers[na].interfaces.get(ia), self.topo.routers[nb].interfaces.get(ib)
                    if fa and fb and fa.address and fb.address:
                        self.nodes[na].nbrs.append(api.NsmChange(str(fa.address.ip), str(fb.address.ip), self.topo.routers[nb].router_id, api.NSM_FULL))
        self.lsdb: dict = {}  # area -> {(adv, lsid): (LsaHeader, body)}
        self.maxage: dict = {}  # area -> {(adv, lsid): LsaHeader}: flushed copies the neighbours still hold
        self.local_maxage: dict = {}  # area -> {(adv, lsid): LsaHeader}: flushed copies the originator still holds
        self.router_lsas = router_lsas
        self.queue: deque = deque()  # (node name, request)
        self.errors: list = []
        self.delivered = 0
        self.observers: list = []  # called as f(name, msg) after each delivery

    # -- who is who --------------------------------------------------------

    def core(self, name: str) -> AgentCore:
        return self.nodes[name].core

    def rid(self, name: str) -> str:
        return self.topo.routers[name].router_id

    def by_rid(self, router_id: str) -> str:
        (n,) = [n for n in self.nodes if self.rid(n) == router_id]
        return n

    @property
    def abrs(self) -> list:
        return sorted(n for n, nd in self.nodes.items() if len(nd.areas) > 1)

    # -- ospfd's side --------------------------------------------------------

    def bring_up(self, settle: bool = True) -> None:
        """What ospfd reports after the API session's syncs, per router."""
        for n, nd in self.nodes.items():
            c = nd.core
            self.send(n, c.handle(api.RouterIdChange(self.rid(n)), self.now))
            self.send(n, c.set_interfaces(nd.ifaddrs, self.now))
            for m in nd.ism:
                self.send(n, c.handle(m, self.now))
            for m in nd.nbrs:
                self.send(n, c.handle(m, self.now))
            for area in sorted(nd.areas):
                self.send(n, c.handle(api.ReadyNotify(10, c.opaque_type, area), self.now))
        if self.router_lsas:
            for n, nd in self.nodes.items():
                for area in sorted(nd.areas):
                    self.router_lsa(n, area)
        if settle:
            self.settle()

    def router_lsa(self, name: str, area: str) -> None:
        """``name``'s router LSA (type 1) in ``area`` (the core reads only
        its presence: the body is a bare header of no links)."""
        rid = self.rid(name)
        hdr = api.LsaHeader(0, 0x02, 1, rid, rid, INITIAL_SEQ, 0, 24)
        self.lsdb.setdefault(area, {})[(rid, rid, 1)] = (hdr, b"\0\0\0\0")
        self._deliver(area, name, api.LsaUpdate, hdr, b"\0\0\0\0")

    def drop_router_lsa(self, name: str, area: str) -> None:
        rid = self.rid(name)
        hdr, body = self.lsdb[area].pop((rid, rid, 1))
        self._deliver(area, name, api.LsaDelete, replace(hdr, age=MAX_AGE), body)

    def inject(self, area: str, adv: str, lsid: str, body: bytes, age: int = 1) -> None:
        """An LSA of our opaque type from ``adv`` (any router ID, with or
        without a core), delivered to every core of the area."""
        hdr = api.LsaHeader(age, 0x42, 10, lsid, adv, INITIAL_SEQ, 0, 20 + len(body))
        self.lsdb.setdefault(area, {})[(adv, lsid)] = (hdr, body)
        self._deliver(area, None, api.LsaUpdate, hdr, body)

    def flush_behind(self, name: str, lsid: str, area: str) -> None:
        """ospfd flushes ``name``'s LSA ``lsid`` without being asked (a
        newer self-originated copy came back): each reader, the originator
        too, sees the live instance deleted, and no update follows."""
        adv = self.rid(name)
        hdr, body = self.lsdb[area].pop((adv, lsid))
        self.maxage.setdefault(area, {})[(adv, lsid)] = replace(hdr, age=MAX_AGE)
        self._deliver(area, name, api.LsaDelete, hdr, body)

    def restart_agent(self, name: str, local_maxage_kept: bool = True, id_state: int | None = None) -> AgentCore:
        """Kill ``name``'s agent and start a new one (a fresh AgentCore):
        ospfd flushes everything the old one originated (each reader sees
        the delete; the copies stay at MaxAge with the neighbours, and with
        the router itself if ``local_maxage_kept``), then the new agent
        connects and syncs. ``id_state`` is what the old agent's state file
        holds (``AgentCore.on_id_block``), None for no file."""
        nd = self.nodes[name]
        adv = self.rid(name)
        old = nd.core
        for area in sorted(nd.areas):
            db = self.lsdb.get(area, {})
            for key in [k for k in db if k[0] == adv and len(k) == 2]:
                hdr, body = db.pop(key)
                self.maxage.setdefault(area, {})[key] = replace(hdr, age=MAX_AGE)
                if local_maxage_kept:
                    self.local_maxage.setdefault(area, {})[key] = replace(hdr, age=MAX_AGE)
                for n, other in self.nodes.items():
                    if n != name and area in other.areas:
                        self.send(n, other.core.handle(api.LsaDelete("0.0.0.0", area, False, hdr, body), self.now))
        self.flood()
        a = old.cfg.agent
        core = AgentCore(old.cfg, a.get("opaque_type", wire.DEFAULT_OPAQUE_TYPE), a.get("profile", "draft"), a.get("min_interval", 1.0))
        if id_state is not None:
            core.next_id = id_state
        nd.core = core
        self.connect(name)
        return core

    def connect(self, name: str) -> None:
        """What the daemon does on connecting: session_reset, the session's
        messages, the LSDB sync (every LSA of the router's areas, its own
        local MaxAge copies included), resync_done, evaluate."""
        nd = self.nodes[name]
        c = nd.core
        c.session_reset()
        self.send(name, c.handle(api.RouterIdChange(self.rid(name)), self.now))
        self.send(name, c.set_interfaces(nd.ifaddrs, self.now))
        for m in nd.ism:
            self.send(name, c.handle(m, self.now))
        for m in nd.nbrs:
            self.send(name, c.handle(m, self.now))
        for area in sorted(nd.areas):
            self.send(name, c.handle(api.ReadyNotify(10, c.opaque_type, area), self.now))
        self._sync(name)
        c.resync_done()
        self.send(name, c.evaluate(self.now))
        self.flood()

    def _sync(self, name: str) -> None:
        """SYNC_LSDB: every LSA of the router's areas as an update (its own
        local MaxAge copies too, as ospfd reports them)."""
        c = self.nodes[name].core
        for area in sorted(self.nodes[name].areas):
            for (adv, *_), (hdr, body) in sorted(self.lsdb.get(area, {}).items()):
                self.send(name, c.handle(api.LsaUpdate("0.0.0.0", area, adv == self.rid(name), hdr, body), self.now))
            for (adv, _lsid), hdr in sorted(self.local_maxage.get(area, {}).items()):
                if adv == self.rid(name):
                    self.send(name, c.handle(api.LsaUpdate("0.0.0.0", area, True, hdr, b""), self.now))

    def resync(self, name: str) -> None:
        """A re-sync within the session, as the daemon runs one when
        ``resync_due`` asks: begin_resync, the sync, resync_done."""
        c = self.nodes[name].core
        c.begin_resync(self.now)
        self._sync(name)
        c.resync_done()
        c.resync_finished(self.now)
        self.send(name, c.evaluate(self.now))
        self.flood()

    def age_maxage(self) -> None:
        """Every MaxAge copy is gone, everywhere."""
        self.maxage.clear()
        self.local_maxage.clear()

    def send(self, name: str, reqs: list) -> None:
        self.queue.extend((name, r) for r in reqs)

    def _deliver(self, area: str, origin: str | None, msg_cls, header, body, skip: str | None = None) -> None:
        for n, nd in self.nodes.items():
            if area in nd.areas and n != skip:
                msg = msg_cls("0.0.0.0", area, n == origin, header, body)
                self.delivered += 1
                self.send(n, nd.core.handle(msg, self.now))
                for f in self.observers:
                    f(n, msg)

    def _process(self, name: str, req) -> None:
        nd = self.nodes[name]
        adv = self.rid(name)
        if isinstance(req, api.OriginateRequest):
            if req.lsa_type != 10 or req.area not in nd.areas:
                self.errors.append((name, req, "not in that area"))
                return
            lsid = wire.make_lsid(req.opaque_type, req.opaque_id)
            db = self.lsdb.setdefault(req.area, {})
            old = db.get((adv, lsid))
            local = self.local_maxage.get(req.area, {}).pop((adv, lsid), None)
            held = self.maxage.get(req.area, {}).pop((adv, lsid), None)
            seq = old[0].seq + 1 if old else local.seq + 1 if local else INITIAL_SEQ
            hdr = api.LsaHeader(0, 0x42, 10, lsid, adv, seq, 0, 20 + len(req.body))
            if held is not None and not serial_after(seq, held.seq):
                # RFC 2328 sec. 13.1: the neighbours' MaxAge copy is not
                # older; it comes back and ospfd flushes the new instance
                self.errors.append((name, req, f"LS ID {lsid} reused while a neighbour holds it at MaxAge (seq {held.seq:#x}): flushed"))
                self.maxage.setdefault(req.area, {})[(adv, lsid)] = held
                self._deliver(req.area, name, api.LsaUpdate, hdr, req.body)
                self._deliver(req.area, name, api.LsaDelete, hdr, req.body)
                return
            db[(adv, lsid)] = (hdr, req.body)
            self._deliver(req.area, name, api.LsaUpdate, hdr, req.body)
        elif isinstance(req, api.DeleteRequest):
            lsid = wire.make_lsid(req.opaque_type, req.opaque_id)
            old = self.lsdb.get(req.addr, {}).pop((adv, lsid), None)
            if req.lsa_type != 10 or old is None:
                self.errors.append((name, req, "no such LSA"))
                return
            hdr, body = old
            self.maxage.setdefault(req.addr, {})[(adv, lsid)] = replace(hdr, age=MAX_AGE)
            skip = None if self.echo_own_deletes else name
            self._deliver(req.addr, name, api.LsaDelete, replace(hdr, age=MAX_AGE), body, skip=skip)
        else:
            self.errors.append((name, req, "unexpected request"))

    def flood(self, limit: int = 100_000) -> int:
        """Deliver until quiet; returns how many requests were processed."""
        done = 0
        while self.queue:
            name, req = self.queue.popleft()
            self._process(name, req)
            done += 1
            assert done < limit, "flooding does not quiesce"
        return done

    def vectors(self) -> int:
        """One round of every ABR's vector computation (as the agent's vector
        loop: snapshot, compute, apply), flooded. Returns requests sent."""
        sent = 0
        for n in self.abrs:
            c = self.core(n)
            snap = c.vector_snapshot()
            if snap is None:
                continue
            reqs = c.apply_vectors(AgentCore.compute_vectors(snap))
            sent += len(reqs)
            self.send(n, reqs)
            self.flood()
        return sent

    def settle(self, rounds: int = 20) -> int:
        """Flood, then ABR rounds until no ABR sends anything."""
        self.flood()
        for i in range(rounds):
            if not self.vectors():
                return i
        raise AssertionError(f"ABR vectors still changing after {rounds} rounds")

    def tick(self, dt: float) -> None:
        self.now += dt

    # -- head-end requests and reservation signalling (as Agent does) ---------

    def reserve(self, head: str, dst_rid: str, bw: float, rid: str, k: int | None = None) -> list:
        """Agent.reserve_path without sockets: the head-end's choice at bw
        (bytes/s), then reserve_hop router by router; after each hop the
        router re-evaluates and floods what changed. Returns the route."""
        c = self.core(head)
        b = c.inter_area_path(dst_rid, k, Constraints(min_bandwidth=bw))["best"]
        plan = []
        if b["abr_chain"]:
            if len(b["abr_chain"]) > 1:
                plan.append({"area": "0.0.0.0", "to": b["abr_chain"][1]})
            plan.append({"area": b["segments"][1]["area"], "to": dst_rid})
        hops, name, route = b["head_path"], head, []
        while True:
            core = self.core(name)
            try:
                step = core.reserve_hop(rid, bw, hops, plan)
            except ValueError:
                if route:  # as the agents do: the hops before give theirs back
                    self.release(head, rid)
                raise
            self.send(name, core.evaluate(self.now))
            self.flood()
            route.append(core.router_id)
            if step["next"] is None:
                return route
            name, hops, plan = self.by_rid(step["next"]), step["hops"], step["plan"]

    def release(self, head: str, rid: str) -> None:
        name = head
        while name is not None:
            core = self.core(name)
            nxt = core.release_hop(rid)
            self.send(name, core.evaluate(self.now))
            self.flood()
            name = self.by_rid(nxt) if nxt else None
