"""An ABR's binding SID installed on the forward leg (issue 7 sec. 5):
the ABR that expanded its segment knows, before the answer comes back,
the list its binding SID (End.B6.Encaps, RFC 8986 sec. 4.13) will push:
End.X of each reserved link of its segment, the next ABR's binding SID
(named by that ABR's locator and the LSP: ``sids.binding_sid``) and the
tail's End.DT6 SID. It installs it while the request travels on, so the
answer (RFC 3209 sec. 4.1's Resv direction) only checks it. A prediction
the answer contradicts is replaced; a failure further on removes it with
the booking (nothing half installed).

Pure first (``lsp_plan.predict_binding_segs``), then the LSP manager's
hook with a kernel on a thread of its own, then signalling over loopback
TCP with a recording data plane."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import networkx as nx
import pytest
from helpers.signalnet import A, B, C, Net

from pyfrr_pwr.agent import lsps, reservations
from pyfrr_pwr.agent.lsp_plan import predict_binding_segs
from pyfrr_pwr.agent.lsp_transit import Ahead
from pyfrr_pwr.dataplane import sidlist, sids
from pyfrr_pwr.proto import control as pc

HEAD, ABR, R5, ABR2, TAIL = "10.0.0.1", "10.0.0.3", "10.0.0.5", "10.0.0.6", "10.0.0.4"
AREA = "0.0.0.2"
RID, NUM = f"{HEAD}/7", 7


def plan_of(rid, links=(), prefixes=()):
    adjs = [sids.Adjacency(f"eth{i + 1}", f"fd01::{i + 2}", l) for i, l in enumerate(links)]
    return sids.SidPlan.build(rid, adjacencies=adjs, prefixes=[sids.Dx4Prefix(p, "0.0.0.0") for p in prefixes])


PLANS = {
    ABR: plan_of(ABR, ["10.3.0.0"]),
    R5: plan_of(R5, ["10.5.0.0", "10.5.1.0"]),
    ABR2: plan_of(ABR2, ["10.6.0.0"]),
    TAIL: plan_of(TAIL, [], ["10.20.201.0/24"]),
}
TABLE = sidlist.SidTable.of(PLANS.values())


def graph(parallel=False):
    """ABR -> R5 -> TAIL (and R5 -> ABR2), keyed by the near end's address."""
    G = nx.MultiDiGraph()
    G.add_edge(ABR, R5, key="10.3.0.0")
    G.add_edge(R5, TAIL, key="10.5.0.0")
    G.add_edge(R5, ABR2, key="10.5.1.0")
    if parallel:
        G.add_edge(R5, TAIL, key="10.5.9.0")
    return G


def ex(u, local):
    return TABLE.end_x[(u, local)]


# -- pure ------------------------------------------------------------------------------


def test_the_list_follows_the_segment_then_the_tails_end_dt6():
    segs = predict_binding_segs(ABR, "10.3.0.0", (R5, TAIL), graph(), TABLE, head=HEAD, num=NUM, end_expands=False, tail=TAIL)
    assert segs == (ex(ABR, "10.3.0.0"), ex(R5, "10.5.0.0"), PLANS[TAIL].dt6.sid)


def test_a_segment_ending_at_an_abr_that_expands_pushes_that_abrs_binding_sid():
    segs = predict_binding_segs(ABR, "10.3.0.0", (R5, ABR2), graph(), TABLE, head=HEAD, num=NUM, end_expands=True, tail=TAIL)
    assert segs == (ex(ABR, "10.3.0.0"), ex(R5, "10.5.1.0"), sids.binding_sid(PLANS[ABR2].locator, HEAD, NUM), PLANS[TAIL].dt6.sid)


def test_a_tail_in_another_area_has_the_default_end_dt6_of_its_router_id():
    far = "10.0.0.44"
    segs = predict_binding_segs(ABR, "10.3.0.0", (R5, ABR2), graph(), TABLE, head=HEAD, num=NUM, end_expands=True, tail=far)
    assert segs[-1] == sids.dt6_sid(sids.default_locator(far))


def test_what_the_answer_could_decide_otherwise_is_not_predicted():
    kw = {"head": HEAD, "num": NUM, "tail": TAIL}
    # two links R5 -> TAIL: R5 books the one it has most bandwidth on
    assert predict_binding_segs(ABR, "10.3.0.0", (R5, TAIL), graph(parallel=True), TABLE, end_expands=False, **kw) is None
    # no End.X SID advertised for our link, or no locator for the next ABR
    assert predict_binding_segs(ABR, "10.3.9.9", (R5, TAIL), graph(), TABLE, end_expands=False, **kw) is None
    assert predict_binding_segs(ABR, "10.3.0.0", (R5, ABR2), graph(), sidlist.SidTable.of([PLANS[ABR], PLANS[R5]]), end_expands=True, **kw) is None
    assert predict_binding_segs(ABR, "10.3.0.0", (), graph(), TABLE, end_expands=False, **kw) is None
    assert predict_binding_segs(ABR, "10.3.0.0", (R5, TAIL), None, TABLE, end_expands=False, **kw) is None


# -- the LSP manager's hook, a kernel on a thread of its own ---------------------------


class _Recorder:
    def __init__(self):
        self.sids, self.adds, self.fail = {}, [], None

    def add_sid(self, sid):
        if self.fail:
            raise self.fail
        self.adds.append(sid)
        self.sids[sid.sid] = sid

    def remove_sid(self, sid):
        return self.sids.pop(sid.sid, None) is not None


class _ThreadKernel:
    """As ``lsps._OwnThread``: calls on one thread, in order."""

    def __init__(self):
        self.ex = ThreadPoolExecutor(1)
        self.plain = _Recorder()

    def submit(self, fn, *a):
        return self.ex.submit(fn, *a)

    def add_sid(self, sid):
        return self.ex.submit(self.plain.add_sid, sid).result()

    def remove_sid(self, sid):
        return self.ex.submit(self.plain.remove_sid, sid).result()


@dataclass
class _Link:
    ifaddr: str


class _Ted:
    def __init__(self, G):
        self.G = G

    def graph(self):
        return self.G


@dataclass
class _Core:
    router_id: str
    reservations: dict = field(default_factory=dict)
    links: dict = field(default_factory=dict)
    teds: dict = field(default_factory=dict)
    reports: list = field(default_factory=list)

    def sid_table(self, area=None):
        return TABLE

    def report(self, reason, exc, what=""):
        self.reports.append(reason)


class _Srv6:
    def __init__(self, rid):
        self.plan, self.disabled = PLANS[rid], None


def _abr():
    k = _ThreadKernel()
    m = lsps.LspManager(_Core(ABR, teds={AREA: _Ted(graph())}), None, _Srv6(ABR))
    m.nl, m._cleaned = k, True
    m.core.reservations[RID] = {"ifname": "eth1"}
    m.core.links["eth1"] = _Link("10.3.0.0")
    return m, k


REQ = pc.SignalReserve(id=RID, bw=1.0, hops=(ABR,), plan=(pc.PlanStep(area=AREA, to=TAIL),), dataplane=True)
STEP = {"next": R5, "hops": [R5, TAIL], "plan": []}
DX4 = (pc.PrefixSid("10.20.201.0/24", PLANS[TAIL].dx4("10.20.201.0/24").sid),)


def _answer(link="10.5.0.0"):
    return pc.Route(route=(R5, TAIL), links=(link,), dt6=PLANS[TAIL].dt6.sid, dx4=DX4)


def test_installed_ahead_and_kept_when_the_answer_asks_for_exactly_it():
    async def go():
        m, k = _abr()
        pre = m.pre_install(REQ, STEP)
        await pre.settle()
        assert pre.ok and [s.sid for s in k.plain.adds] == [sids.binding_sid(PLANS[ABR].locator, HEAD, NUM)]
        r = m.on_reserved(REQ, STEP, _answer(), expands=True, pre=pre)
        assert r.binding == pre.sid.sid and r.links == () and r.dx4 == DX4
        assert len(k.plain.adds) == 1 and m.stats["bindings_ahead"] == 1  # the answer installed nothing more
        assert k.plain.sids[r.binding].segs == (ex(ABR, "10.3.0.0"), ex(R5, "10.5.0.0"), PLANS[TAIL].dt6.sid)
        m.on_gone(RID)
        assert k.plain.sids == {}

    asyncio.run(go())


def test_an_answer_that_differs_replaces_the_early_one():
    async def go():
        m, k = _abr()
        pre = m.pre_install(REQ, STEP)
        await pre.settle()
        r = m.on_reserved(REQ, STEP, _answer("10.5.1.0"), expands=True, pre=pre)  # R5 booked another link than the TED said
        assert len(k.plain.adds) == 2 and m.stats["bindings_ahead_missed"] == 1
        assert k.plain.sids[r.binding].segs == (ex(ABR, "10.3.0.0"), ex(R5, "10.5.1.0"), PLANS[TAIL].dt6.sid)
        assert m.bindings[RID].segs == k.plain.sids[r.binding].segs

    asyncio.run(go())


def test_an_early_install_the_kernel_refused_leaves_nothing_and_the_answer_installs_it():
    async def go():
        m, k = _abr()
        k.plain.fail = RuntimeError("EPERM")
        pre = m.pre_install(REQ, STEP)
        await pre.settle()
        assert not pre.ok and RID not in m.bindings and k.plain.sids == {}
        m.on_gone(RID)  # a release now: nothing to remove, no error
        k.plain.fail = None
        r = m.on_reserved(REQ, STEP, _answer(), expands=True, pre=pre)
        assert list(k.plain.sids) == [r.binding] and m.bindings[RID].sid == r.binding

    asyncio.run(go())


def test_nothing_is_installed_ahead_where_it_cannot_be_told():
    async def go():
        m, k = _abr()
        m.core.teds[AREA] = _Ted(graph(parallel=True))
        assert m.pre_install(REQ, STEP) is None
        assert k.plain.adds == [] and RID not in m.bindings and m.stats["bindings_not_ahead"] == 1

    asyncio.run(go())


# -- signalling: the install leaves before the answer, and goes on any failure ------------


class _Dataplane:
    """Every hop's data plane hook, recording; B is the expanding ABR."""

    def __init__(self, me, events, refuse=False):
        self.me, self.events, self.refuse = me, events, refuse
        self.gone = []

    def pre_install(self, req, step):
        self.events.append(("ahead", self.me))
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return Ahead(sids.LocalSid(f"fd00::{self.me.split('.')[-1]}", "End.B6.Encaps", dev="sr0", segs=("fd00::9",)), fut)

    def on_reserved(self, req, step, down, expands, pre=None):
        self.events.append(("reserved", self.me, pre is not None and pre.ok))
        if self.refuse:
            raise ValueError(f"{self.me}: no SID for a hop")
        return pc.Route(route=(self.me, *(down.route if down else ())))

    def on_gone(self, rid):
        self.gone.append(rid)


def _expanding_b(monkeypatch):
    """B expands its one-hop segment to C (a TED-less stand-in for its CSPF)."""
    real = reservations.reserve_hop

    def hop(table, rid, bw, hops, plan, *, router_id, **kw):
        if router_id == B and len(hops) <= 1 and plan:
            hops, plan = [B, C], []
        return real(table, rid, bw, hops, plan, router_id=router_id, **kw)

    monkeypatch.setattr(reservations, "reserve_hop", hop)


async def _lsp(n):
    return await n.sigs[A].reserve_lsp([A, B], 1e8, [{"area": AREA, "to": C}])


def test_the_abr_installs_before_the_rest_of_the_path_answers(tmp_path, monkeypatch):
    _expanding_b(monkeypatch)

    async def go():
        async with Net(tmp_path) as n:
            ev = []
            for r in (A, B, C):
                n.sigs[r].dataplane = _Dataplane(r, ev)
            rid, route = await _lsp(n)
            assert route.route == (A, B, C)
            assert ev == [("ahead", B), ("reserved", C, False), ("reserved", B, True), ("reserved", A, False)]
            assert n.sigs[B].dataplane.gone == [] and rid in n.table(B)

    asyncio.run(go())


@pytest.mark.parametrize("how", ["refused", "down"])
def test_a_failure_further_on_takes_the_early_binding_sid_with_the_booking(tmp_path, monkeypatch, how):
    _expanding_b(monkeypatch)

    async def go():
        async with Net(tmp_path) as n:
            ev = []
            for r in (A, B, C):
                n.sigs[r].dataplane = _Dataplane(r, ev, refuse=(r == C))
            if how == "down":
                await n.down(C)
            with pytest.raises(pc.AgentRefusal, match=f"{C}: " + ("no SID for a hop" if how == "refused" else "no agent answers")):
                await _lsp(n)
            assert ("ahead", B) in ev and not any(e[:2] == ("reserved", B) for e in ev)
            assert n.sigs[B].dataplane.gone == [f"{A}/1"]  # its binding SID went with its booking
            assert not n.table(A) and not n.table(B) and n.core(B).reserved_bps("eth2") == 0

    asyncio.run(go())


def test_the_request_leaves_before_anything_already_queued_and_the_install_after(tmp_path, monkeypatch):
    """The forward leg is not delayed: B's send runs at once up to its
    first wait, ahead of callbacks already queued on its loop (a pending
    re-flood, another message); the early install is queued behind them."""
    ev = []
    real = reservations.reserve_hop

    def hop(table, rid, bw, hops, plan, *, router_id, **kw):
        if router_id == B and len(hops) <= 1 and plan:
            hops, plan = [B, C], []
            asyncio.get_running_loop().call_soon(ev.append, ("queued", B))
        return real(table, rid, bw, hops, plan, router_id=router_id, **kw)

    monkeypatch.setattr(reservations, "reserve_hop", hop)

    async def go():
        async with Net(tmp_path) as n:
            for r in (A, B, C):
                n.sigs[r].dataplane = _Dataplane(r, ev)
            send = n.sigs[B].send

            async def recorded(rid, req):
                ev.append(("send", B, rid))
                return await send(rid, req)

            n.sigs[B].send = recorded
            await _lsp(n)
            assert ev[:3] == [("send", B, C), ("queued", B), ("ahead", B)]

    asyncio.run(go())
