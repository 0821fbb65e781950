"""Issue 10, reroute latency: which LSA changes wake which loop (pure
layer, ``AgentCore``), and the sender's pipelined requests (``Agent``
with a stand-in client)."""

import asyncio
import textwrap
from pathlib import Path

import pytest
from helpers.flooding import Fabric

from pyfrr_pwr.agent.core import AgentCore
from pyfrr_pwr.agent.headend import choose
from pyfrr_pwr.agent.vectors import VecLsa
from pyfrr_pwr.files.power import load_power
from pyfrr_pwr.proto import ospfapi as api
from pyfrr_pwr.proto import wire

A1, BB = "0.0.0.1", "0.0.0.0"
PEER = "2.2.2.2"


@pytest.fixture
def core(tmp_path):
    p = tmp_path / "power.yml"
    p.write_text(
        textwrap.dedent("""\
        ports:
          eth1: {speed: 10G, power_w: 2.0}
        """)
    )
    c = AgentCore(load_power(p), min_interval=1.0)
    c.handle(api.RouterIdChange("1.1.1.1"), 0.0)
    return c


def _lsa(core, cls, area, adv, oid, tlvs, now=1.0):
    body = wire.encode(tlvs)
    hdr = api.LsaHeader(1, 0, 10, wire.make_lsid(200, oid), adv, 0x80000001, 0, 20 + len(body))
    return core.handle(cls("0.0.0.0", area, False, hdr, body), now)


def _link(gen, local="10.0.9.1", pwr=1e-9):
    return wire.LinkTLV("1.1.1.1", local_addrs=(local,), remote_addrs=("10.0.9.0",), pwr_consumed=pwr, generation=gen)


def _vec(gen, index=0, count=1, adv=PEER, area=BB):
    return wire.ReachabilityVector((adv,), "0.0.0.2", (wire.PathInfo("10.9.0.1", 1.0, 1e9, 2),), wire.Fragment(gen, index, count))


def test_the_delete_of_a_replaced_link_instance_changes_nothing(core):
    """make-before-break (agent.advertise): the new instance under a new
    ID, then the old one deleted; the delete wakes no loop."""
    _lsa(core, api.LsaUpdate, A1, PEER, 7, [_link(1)])
    _lsa(core, api.LsaUpdate, A1, PEER, 8, [_link(2, pwr=5e-9)])
    gen, vgen = core.ted_gen, core.vec_gen
    _lsa(core, api.LsaDelete, A1, PEER, 7, [_link(1)])
    assert (core.ted_gen, core.vec_gen) == (gen, vgen)
    assert core.stats["superseded_deletes"] == 1
    assert (PEER, wire.make_lsid(200, 7)) not in core.teds[A1].lsas  # gone from the TED all the same
    # the last instance going is a change
    _lsa(core, api.LsaDelete, A1, PEER, 8, [_link(2)])
    assert core.ted_gen == gen + 1 and core.vec_gen == vgen + 1
    # a delete of what the TED does not hold changes nothing either
    _lsa(core, api.LsaDelete, A1, PEER, 9, [_link(3)])
    assert core.ted_gen == gen + 1


def test_an_older_instance_deleted_after_a_newer_one_of_another_link_is_a_change(core):
    _lsa(core, api.LsaUpdate, A1, PEER, 7, [_link(1)])
    _lsa(core, api.LsaUpdate, A1, PEER, 8, [_link(2, local="10.0.8.1")])  # another link end
    gen = core.ted_gen
    _lsa(core, api.LsaDelete, A1, PEER, 7, [_link(1)])
    assert core.ted_gen == gen + 1


def test_a_vector_fragment_is_superseded_only_by_a_complete_newer_generation(core):
    _lsa(core, api.LsaUpdate, BB, PEER, 20, [_vec(1)])
    _lsa(core, api.LsaUpdate, BB, PEER, 21, [_vec(2, 0, 2)])  # half of generation 2
    gen = core.ted_gen
    _lsa(core, api.LsaDelete, BB, PEER, 20, [_vec(1)])
    assert core.ted_gen == gen + 1  # generation 2 is incomplete: the vector changed
    _lsa(core, api.LsaUpdate, BB, PEER, 20, [_vec(3)])
    _lsa(core, api.LsaUpdate, BB, PEER, 22, [_vec(4)])
    gen = core.ted_gen
    _lsa(core, api.LsaDelete, BB, PEER, 20, [_vec(3)])
    assert core.ted_gen == gen


def test_only_what_an_abr_extends_wakes_its_vector_loop(core):
    """draft sec. 2: an ABR extends vectors other routers leaked into the
    backbone; vectors in another area (its peers', into that area) and its
    own enter no vector it computes, but every change reaches the view."""
    core.abr.dirty = False
    gen, vgen = core.ted_gen, core.vec_gen
    _lsa(core, api.LsaUpdate, A1, PEER, 30, [_vec(1, area=A1)])
    assert core.ted_gen == gen + 1 and core.vec_gen == vgen and not core.vectors_dirty
    core.abr.lsas[(BB, ("1.1.1.1",), "0.0.0.2")] = VecLsa(1, [31], ())  # one we originated
    core.session_ids.add(31)
    _lsa(core, api.LsaUpdate, BB, "1.1.1.1", 31, [_vec(1, adv="1.1.1.1")])  # our own, back from ospfd
    assert core.vec_gen == vgen and not core.vectors_dirty
    _lsa(core, api.LsaUpdate, BB, PEER, 32, [_vec(1)])
    assert core.vec_gen == vgen + 1 and core.vectors_dirty
    _lsa(core, api.LsaUpdate, A1, "3.3.3.3", 33, [_link(1)])  # a link, in any area (its router new there: a graph node)
    assert core.vec_gen == vgen + 2 and core.ted_gen == gen + 4


def test_a_backbone_vector_about_our_only_other_area_wakes_no_vector_round(core):
    """It is never leaked back into the area it describes (draft sec. 2,
    ``VectorComputer``): an ABR of the backbone and area 2 has nowhere to
    extend a peer's vector about area 2; one also in area 3 has."""
    for m in (api.IsmChange("10.0.9.1", BB, 4), api.IsmChange("10.0.8.1", "0.0.0.2", 4)):
        core.handle(m, 0.5)
    vgen = core.vec_gen
    _lsa(core, api.LsaUpdate, BB, PEER, 40, [_vec(1)])  # describes 0.0.0.2
    assert core.vec_gen == vgen
    core.handle(api.IsmChange("10.0.7.1", "0.0.0.3", 4), 0.6)
    _lsa(core, api.LsaUpdate, BB, PEER, 40, [_vec(2)])
    assert core.vec_gen == vgen + 1


class _Client:
    """Stands in for OspfApiClient: records when each request was written
    and replies only once the whole batch is out (a pipelined sender
    passes; one that waits for each reply before the next deadlocks)."""

    def __init__(self, n, refuse=(), patience=2.0):
        self.connected = True
        self.written: list = []
        self.n = n
        self.refuse = refuse
        self.patience = patience  # s a request waits for the rest (None: for ever)
        self.all_out = asyncio.Event()

    async def request(self, req, check=True):
        self.written.append(req)
        if len(self.written) >= self.n:
            self.all_out.set()
        await asyncio.wait_for(self.all_out.wait(), self.patience)
        err = api.ApiErr.NOTREADY if req in self.refuse else 0
        return api.Reply(0, err)


def test_the_sender_writes_a_batch_without_waiting_for_each_reply(tmp_path):
    from pyfrr_pwr.agent.daemon import Agent

    p = tmp_path / "power.yml"
    p.write_text("ports:\n  eth1: {speed: 10G, power_w: 2.0}\n")
    reqs = [api.OriginateRequest(api.LSA_OPAQUE_AREA, 200, i, b"", area=A1) for i in (1, 2)] + [api.DeleteRequest(api.LSA_OPAQUE_AREA, 200, 9, A1)]

    async def run():
        agent = Agent(load_power(p), str(tmp_path / "s" / "agent.sock"))
        agent.client = _Client(len(reqs), refuse=(reqs[1],))
        refused = []
        agent.core.refused = lambda r, err: refused.append((r, err))
        agent._queue.put_nowait(reqs)
        task = asyncio.create_task(agent._sender())
        await asyncio.wait_for(agent.client.all_out.wait(), 2.0)
        for _ in range(20):
            await asyncio.sleep(0.01)
        task.cancel()
        return agent.client.written, refused

    written, refused = asyncio.run(run())
    assert written == reqs  # in order: make-before-break survives pipelining
    assert refused == [(reqs[1], api.ApiErr.NOTREADY)]


def test_the_sender_writes_a_later_batch_while_an_earlier_one_awaits_its_replies(tmp_path):
    """A reply ospfd is slow to give (its thread busy with an SPF while a
    link went down: 30-57 ms in fig-2-0) must not hold back what the core
    asks for next: an ABR's new vectors waited behind the reply to its
    Link TLV's withdrawal."""
    from pyfrr_pwr.agent.daemon import Agent

    p = tmp_path / "power.yml"
    p.write_text("ports:\n  eth1: {speed: 10G, power_w: 2.0}\n")
    reqs = [api.DeleteRequest(api.LSA_OPAQUE_AREA, 200, 9, A1)] + [api.OriginateRequest(api.LSA_OPAQUE_AREA, 200, i, b"", area=A1) for i in (1, 2)]

    async def run():
        agent = Agent(load_power(p), str(tmp_path / "s" / "agent.sock"))
        agent.client = _Client(len(reqs), refuse=(reqs[2],), patience=None)  # a sender that waits deadlocks
        refused = []
        agent.core.refused = lambda r, err: refused.append((r, err))
        task = asyncio.create_task(agent._sender())
        agent._queue.put_nowait(reqs[:1])
        for _ in range(200):
            if agent.client.written:
                break
            await asyncio.sleep(0.005)
        agent._queue.put_nowait(reqs[1:])  # while the first awaits its reply
        await asyncio.wait_for(agent.client.all_out.wait(), 2.0)
        for _ in range(200):
            if refused:
                break
            await asyncio.sleep(0.005)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return agent.client.written, refused

    written, refused = asyncio.run(run())
    assert written == reqs
    assert refused == [(reqs[2], api.ApiErr.NOTREADY)]


# -- our own deletes: ospfd 8.4.4 never notifies the client that asked --------


FIG7 = Path(__file__).resolve().parents[1] / "containerlab/fig-2-1-7.clab.yml"
FIG20 = Path(__file__).resolve().parents[1] / "containerlab/fig-2-0.clab.yml"


def _ted_is_lsdb(f):
    """Every agent's TED holds exactly the LSAs ospfd's LSDB does."""
    for n, nd in f.nodes.items():
        for area in nd.areas:
            lsdb = {k for k in f.lsdb.get(area, {}) if len(k) == 2}
            assert set(nd.core.teds[area].lsas) == lsdb, (n, area)


def _g_h_arcs(f, reader):
    G = f.core(reader).teds["0.0.0.1"].graph()
    g, h = f.rid("G"), f.rid("H")
    return G.number_of_edges(g, h) + G.number_of_edges(h, g)


def test_our_own_link_going_down_leaves_our_ted_at_once():
    """G's link to H goes down: G's TED drops G's end when G asks for the
    delete, not when H's delete floods round (which can be 60 ms in
    fig-2-0 while ospfd runs its SPF), and the vector and view loops are
    woken by it."""
    f = Fabric.up(FIG7)  # deletes not echoed to the asker, as ospfd 8.4.4
    g = f.core("G")
    assert _g_h_arcs(f, "G") == 2
    gen, vgen = g.ted_gen, g.vec_gen
    reqs = g.handle(api.IsmChange(f.nodes["G"].ifaddrs["eth2"], "0.0.0.1", api.IsmState.DOWN), f.now)
    assert [type(r) for r in reqs] == [api.DeleteRequest]
    assert _g_h_arcs(f, "G") == 0  # H's end is still there, one-sided: out of the CSPF graph
    assert g.ted_gen == gen + 1 and g.vec_gen == vgen + 1 and g.stats["own_deletes_applied"] == 1
    f.send("G", reqs)
    f.settle()
    assert f.errors == []
    _ted_is_lsdb(f)


def test_our_replaced_instances_leave_our_ted_after_their_replacements():
    """Make-before-break (agent.advertise, agent.vectors): the old
    instance of each of our LSAs leaves our own TED once the new one's
    update is in, so the link never leaves G's TED while it changes, and
    nothing piles up there (each change used to leave one more instance
    of ours behind: links, and every vector an ABR replaced)."""
    f = Fabric.up(FIG7)  # deletes not echoed to the asker, as ospfd 8.4.4
    g = f.core("G")
    seen = []
    f.observers.append(lambda n, m: seen.append(_g_h_arcs(f, "G")) if n == "G" else None)
    for i in range(6):
        f.tick(1.5)
        f.send("G", g.set_measurements({}, {"eth2": 20.0 if i % 2 == 0 else 2.0}, f.now))
        f.settle()
    assert f.errors == [] and seen and set(seen) == {2}
    assert g.stats["originations"] >= 6 and f.core("B").stats["vectors_originated"] > 2
    _ted_is_lsdb(f)


def test_a_late_update_of_an_instance_we_withdrew_stays_out_of_our_ted(core):
    """ospfd reports an instance of ours we already replaced or withdrew
    (its update queued behind our delete): our TED does not take it back,
    as no delete would ever take it out again."""
    core.handle(api.ReadyNotify(10, 200, A1), 0.1)
    oid = core._alloc()
    gen = core.ted_gen
    _lsa(core, api.LsaUpdate, A1, "1.1.1.1", oid, [_link(1)])
    assert core.stats["own_late_updates"] == 1 and core.ted_gen == gen
    assert ("1.1.1.1", wire.make_lsid(200, oid)) not in core.teds[A1].lsas


# -- what a link going down or coming up wakes (issue 10) ----------------------


def _down(f, name, ifname):
    c = f.core(name)
    return c.handle(api.IsmChange(f.nodes[name].ifaddrs[ifname], "0.0.0.1", api.IsmState.DOWN), f.now)


def test_the_far_end_of_a_link_already_gone_wakes_no_vector_round():
    """G's end of G-H withdrawn: the link leaves every CSPF graph (a
    one-sided link is left out, as OSPF's two-way check, RFC 2328 sec.
    16.1 (2b)); H's end going after it changes no graph, so it wakes no
    ABR's vector loop (in fig-2-0 the far end's delete came 60-90 ms
    later and held the ABRs' settle or ran a second round), while every
    view still follows it. The vectors are what a fresh round computes."""
    f = Fabric.up(FIG7)
    b = f.core("B")
    gen, vgen = b.ted_gen, b.vec_gen
    f.send("G", _down(f, "G", "eth2"))
    f.flood()
    assert b.vec_gen == vgen + 1 and b.ted_gen == gen + 1
    G0 = b.teds["0.0.0.1"].graph()
    f.send("H", _down(f, "H", "eth2"))
    f.flood()
    assert b.ted_gen == gen + 2 and b.vec_gen == vgen + 1  # seen, and not a vector input
    assert sorted(b.teds["0.0.0.1"].graph().edges) == sorted(G0.edges)
    f.settle()
    assert f.errors == []
    _ted_is_lsdb(f)
    for n in f.abrs:  # nothing left for a round the skipped wake-up would have run
        c = f.core(n)
        assert c.apply_vectors(AgentCore.compute_vectors(c.vector_snapshot())) == []


def test_the_first_end_of_a_link_coming_up_wakes_no_vector_round_the_second_does():
    f = Fabric.up(FIG7)
    for n in ("G", "H"):
        f.send(n, _down(f, n, "eth2"))
    f.settle()
    b = f.core("B")
    vgen = b.vec_gen
    gi, hi = (next(m for m in f.nodes[n].ism if m.ifaddr == f.nodes[n].ifaddrs["eth2"]) for n in ("G", "H"))
    f.send("G", f.core("G").handle(gi, f.now))
    f.flood()
    assert b.vec_gen == vgen  # G's end alone: one-sided, in no graph
    f.send("H", f.core("H").handle(hi, f.now))
    f.flood()
    assert b.vec_gen == vgen + 1
    assert _g_h_arcs(f, "B") == 2


def test_our_own_link_withdrawn_makes_the_vector_round_urgent():
    """An ABR's own link going down (draft sec. 2.2: its vectors must
    follow the topology): the vector loop need not let a burst settle,
    nothing else is coming from this router's side. A make-before-break
    replacement of our link, a peer's link and the round's snapshot leave
    it at False."""
    f = Fabric.up(FIG7)
    b = f.core("B")
    assert not b.vectors_urgent
    f.tick(1.5)
    f.send("B", b.set_measurements({}, {n: 20.0 for n in b.cfg.ports}, f.now))
    f.flood()
    assert b.stats["originations"] and not b.vectors_urgent
    f.send("G", _down(f, "G", "eth2"))
    f.flood()
    assert not b.vectors_urgent  # a peer's link
    ifname = next(i for i, a in f.nodes["B"].ifaddrs.items() if i != "lo" and any(m.ifaddr == a and m.area == "0.0.0.1" for m in f.nodes["B"].ism))
    reqs = _down(f, "B", ifname)
    assert api.DeleteRequest in {type(r) for r in reqs} and b.vectors_urgent
    b.vector_snapshot()
    assert not b.vectors_urgent


def test_a_view_after_a_change_that_alters_no_graph_keeps_its_graph():
    """The head-end's view (issue 10): a new view whose TED changed only in
    vectors (what a reroute elsewhere changes in a head-end's area) keeps
    the previous view's CSPF graph (``TED.graph``: built once per topology
    generation), an unchanged area keeps its very TED, and a link change
    gets a graph of its own; the choice is what the live TEDs give."""
    f = Fabric.up(FIG20)
    h = f.core("TEh1")
    dst = f.rid("TEt2")
    h.publish_view()
    h.path_choice(dst)  # remembered: every view recomputes it
    A = "0.0.0.1"
    v1 = h.view
    g1 = v1[A].graph()
    f.send("R4", f.core("R4").set_measurements({}, {"eth5": 200.0}, f.now + 2))  # R4 is in area 2: vectors change in area 1
    f.tick(2.0)
    f.settle()
    job = h.publish_view()
    assert h.view[A] is not v1[A] and h.view[A].graph() is g1
    h.store_choices(job, h.compute_choices(job))
    assert h.path_choice(dst).to_json() == choose(h.router_id, h.teds, dst, h.cfg.k, None).to_json()
    v2 = h.view
    h.publish_view()  # nothing changed since
    assert h.view[A] is v2[A]
    f.send("TEh1", _down(f, "TEh1", next(i for i in f.nodes["TEh1"].ifaddrs if i != "lo")))
    f.settle()
    h.publish_view()
    assert h.view[A].graph() is not g1
    assert h.path_choice(dst).to_json() == choose(h.router_id, h.teds, dst, h.cfg.k, None).to_json()


# -- the daemon's settle and the urgent vector round (issue 10) ----------------


def _agent(tmp_path, core):
    from pyfrr_pwr.agent.daemon import Agent

    a = Agent(core.cfg, str(tmp_path / "agent.sock"), name=f"t-{core.router_id}")
    a.core = core
    a.client.connected = True
    return a


def test_a_settle_ends_quiet_after_the_last_change_not_in_sampled_steps(tmp_path, monkeypatch):
    """A change 12 ms into a 20 ms quiet: the settle ends 20 ms after that
    change (the counter sampled every 20 ms ended it at 40 ms)."""
    from pyfrr_pwr.agent import daemon

    f = Fabric.up(FIG7)
    b = f.core("B")
    agent = _agent(tmp_path, b)
    clock = [10.0]
    changes = [10.012]
    slept = []

    async def sleep(d):
        slept.append(d)
        end = clock[0] + d
        while changes and changes[0] <= end:
            clock[0] = changes.pop(0)
            b._ted_changed(False)
            agent._kick()
        clock[0] = end

    monkeypatch.setattr(daemon.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(daemon.asyncio, "sleep", sleep)
    b._ted_changed(False)
    agent._kick()  # the burst's first change, at 10.0
    clock[0] = 10.005  # the view loop starts its settle
    asyncio.run(agent._settle(0.02, 0.2))
    assert clock[0] == pytest.approx(10.032)
    assert slept == [pytest.approx(0.015), pytest.approx(0.012)]
    # a burst that never goes quiet ends at ``most``
    b._ted_changed(False)
    agent._kick()
    changes[:] = [10.032 + 0.01 * i for i in range(1, 40)]
    asyncio.run(agent._settle(0.02, 0.1))
    assert clock[0] == pytest.approx(10.132)


@pytest.mark.parametrize("urgent", [False, True])
def test_an_urgent_vector_round_does_not_settle(tmp_path, monkeypatch, urgent):
    f = Fabric.up(FIG7)
    b = f.core("B")
    agent = _agent(tmp_path, b)
    calls = []

    async def settle(quiet, most, changed_at=None):
        calls.append("settle")

    async def run():
        done = asyncio.Event()

        def snap(self):
            calls.append("snap")
            done.set()

        monkeypatch.setattr(type(b), "vector_snapshot", snap)
        agent._settle = settle
        b.vectors_dirty = True
        b.abr.urgent = urgent
        agent._kick()
        task = asyncio.create_task(agent._vector_loop())
        await asyncio.wait_for(done.wait(), 5.0)
        task.cancel()

    asyncio.run(run())
    assert calls == (["snap"] if urgent else ["settle", "snap"])


def test_a_cheap_round_runs_on_the_event_loop_a_dear_one_on_a_thread(tmp_path):
    """The first round of a kind goes to a worker thread; once one took
    less CPU than INLINE_CPU_S the next runs on the event loop (no thread
    hand-over); one dearer than that sends the next back to a thread."""
    import threading
    import time

    from pyfrr_pwr.agent import daemon

    f = Fabric.up(FIG7)
    agent = _agent(tmp_path, f.core("B"))
    where = []

    def fn(a):
        me, dear = a
        where.append(threading.get_ident() == me)
        if dear:  # CPU, not wall time: what the verdict is taken on
            t = time.thread_time()
            while time.thread_time() - t < 2 * daemon.INLINE_CPU_S:
                pass
        return a

    async def run(dear):
        me = threading.get_ident()
        for d in dear:
            assert await agent._run_round("vectors", fn, (me, d)) == (me, d)

    asyncio.run(run([False, False, True, False, False]))
    assert where == [False, True, True, False, True]
