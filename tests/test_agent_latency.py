"""Issue 10, reroute latency: which LSA changes wake which loop (pure
layer, ``AgentCore``), and the sender's pipelined requests (``Agent``
with a stand-in client)."""

import asyncio
import textwrap
from pathlib import Path

import pytest
from helpers.flooding import Fabric

from pyfrr_pwr.agent.core import AgentCore
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
    _lsa(core, api.LsaUpdate, A1, PEER, 33, [_link(1)])  # a link, in any area
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

    def __init__(self, n, refuse=()):
        self.connected = True
        self.written: list = []
        self.n = n
        self.refuse = refuse
        self.all_out = asyncio.Event()

    async def request(self, req, check=True):
        self.written.append(req)
        if len(self.written) >= self.n:
            self.all_out.set()
        await asyncio.wait_for(self.all_out.wait(), 2.0)
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


# -- our own deletes: ospfd 8.4.4 never notifies the client that asked --------


FIG7 = Path(__file__).resolve().parents[1] / "containerlab/fig-2-1-7.clab.yml"


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
