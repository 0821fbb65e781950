"""The agent against a hostile network and its own restarts (issue 11 sec. 1,
2 and the opaque-type squatter of sec. 3), without ospfd: AgentCores joined
by the fake flooding loop (helpers/flooding), the daemon's loop functions
run directly, and a fake ospfd speaking the API's two connections.

Sec. 1: nothing computed from received data raises out of the agent; the
fault is counted under a named reason and the agent keeps serving.
Sec. 2: a restarted agent continues past its own LSAs (and past what its
state file says), re-originates what ospfd flushed, deletes leftovers; the
LSDB sync is complete at ospfd's sentinel, not after a silence; implausible
TEDs are re-synced (rate-limited); LSAs of routers without a router LSA age
out of the TEDs.
"""

import asyncio
import logging
import struct
import textwrap

import pytest
from conftest import ROOT
from helpers.flooding import MAX_AGE, Fabric

from pyfrr_pwr.agent import control
from pyfrr_pwr.agent.core import ORPHAN_GRACE, AgentCore
from pyfrr_pwr.agent.daemon import Agent
from pyfrr_pwr.files.power import load_power
from pyfrr_pwr.model import metric
from pyfrr_pwr.paths import interarea as ia
from pyfrr_pwr.proto import control as pc
from pyfrr_pwr.proto import ospfapi as api
from pyfrr_pwr.proto import wire

FIG7 = ROOT / "containerlab/fig-2-1-7.clab.yml"
A1 = "0.0.0.1"
AREA1_READERS = "BCDEGX"


def ends(core, area=A1):
    t = core.teds.get(area)
    return {(l.near.router, l.near.tlv.link_id, l.near.local): l for l in t.links()} if t else {}


def two_sided(core, area=A1):
    return {k for k, l in ends(core, area).items() if not l.one_sided}


def h_ends(f):
    h = f.rid("H")
    return {k for k in two_sided(f.core("G")) if h in k[:2]}


@pytest.fixture
def fig7():
    return Fabric.up(FIG7)


# -- sec. 1: the network cannot kill an ABR's agent ------------------------------


def _unsaturated(monkeypatch):
    """interarea as it was before the saturation fix (tests/test_hostile):
    sums past FLT_MAX reach the encoder, which raises. The agent must
    survive that class of fault whatever the computation does."""

    def then(self, other):
        return ia.Aggregate(
            self.pwr + other.pwr,
            min(self.min_bw, other.min_bw),
            self.te_metric + other.te_metric,
            self.hops + other.hops,
            self.admin | other.admin,
            self.delay + other.delay,
        )

    def info(self, endpoint):
        return wire.PathInfo(endpoint, self.pwr, min(self.min_bw, metric.FLT_MAX), self.te_metric, self.hops, self.admin, int(self.delay))

    monkeypatch.setattr(ia.Aggregate, "then", then)
    monkeypatch.setattr(ia.Aggregate, "info", info)


def _hostile(f):
    """Issue 11 sec. 1's two LSAs, from backbone router A: its end of A-B
    at PWR 1e30 (newer than A's own), and a vector whose PWR sum is
    FLT_MAX. B extends the vector into area 1 over A-B: 5e29 + FLT_MAX.
    A's agent leaves the fabric first (its LSAs stay): the LSAs come from a
    router that is not ours, and no agent of ours takes them for its own."""
    f.nodes.pop("A")
    a, b = f.topo.routers["A"], f.topo.routers["B"]
    (lnk,) = [l for l in f.topo.links if {l.a[0], l.b[0]} == {"A", "B"}]
    ia_, ib_ = (lnk.a[1], lnk.b[1]) if lnk.a[0] == "A" else (lnk.b[1], lnk.a[1])
    tlv = wire.LinkTLV(
        b.router_id,
        local_addrs=(str(a.interfaces[ia_].address.ip),),
        remote_addrs=(str(b.interfaces[ib_].address.ip),),
        pwr_consumed=1e30,
        avail_bw=1e9,
        generation=1 << 30,
    )
    f.inject("0.0.0.0", a.router_id, wire.make_lsid(200, 0xABC01), wire.encode([tlv]))
    vec = wire.ReachabilityVector((a.router_id,), "0.0.0.2", (wire.PathInfo("10.99.0.9", metric.FLT_MAX, metric.FLT_MAX),))
    f.inject("0.0.0.0", a.router_id, wire.make_lsid(200, 0xABC02), wire.encode([vec]))
    f.flood()


def test_the_two_hostile_lsas_make_the_abr_drop_one_vector_and_keep_the_others(fig7, monkeypatch):
    f = fig7
    _unsaturated(monkeypatch)
    b = f.core("B")
    before = dict(b.abr.lsas)
    _hostile(f)
    f.settle()  # B computes and applies: the (B, A) vector into area 1 cannot be encoded
    assert b.stats["dropped_vector_encode"] >= 1
    assert f.errors == []
    # what B advertised before stays; its other vectors are untouched
    assert set(before) <= set(b.abr.lsas)
    assert (A1, (b.router_id, f.rid("A")), "0.0.0.2") not in b.abr.lsas


def _agent(tmp_path, core) -> Agent:
    a = Agent(core.cfg, str(tmp_path / "agent.sock"), name=f"t-{core.router_id}")
    a.core = core  # the fabric's core: the daemon's loops drive it
    a.client.connected = True
    return a


def test_the_daemons_vector_loop_survives_hostile_lsas_and_a_failing_computation(fig7, tmp_path, monkeypatch):
    f = fig7
    _unsaturated(monkeypatch)
    b = f.core("B")
    agent = _agent(tmp_path, b)
    _hostile(f)  # B's TED changed: its vector loop will compute

    calls = []
    real = AgentCore.compute_vectors

    def compute(snap):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("injected into compute")
        return real(snap)

    monkeypatch.setattr(AgentCore, "compute_vectors", staticmethod(compute))

    async def run():
        task = asyncio.create_task(agent._vector_loop(period=0.01))
        for _ in range(3):  # three TED changes, three rounds
            b.vectors_dirty = True
            await asyncio.sleep(0.15)
        alive = not task.done()
        task.cancel()
        return alive

    assert asyncio.run(run()), "the vector loop died"
    assert len(calls) >= 3  # it went on computing after both faults
    assert b.stats["dropped_vector_encode"] >= 1
    assert b.stats["vector_compute_errors"] == 1
    # and the agent still answers
    st = control.answer(b, pc.Status(), name="B", connected=True, api_stats={})
    assert st.ok and st.result["stats"]["vector_compute_errors"] == 1


def test_evaluation_and_ted_faults_are_counted_not_raised(fig7, monkeypatch):
    f = fig7
    g = f.core("G")
    import pyfrr_pwr.agent.advertise as advertise

    def boom(*a, **kw):
        raise RuntimeError("injected into link_tlv")

    monkeypatch.setattr(advertise.advert, "link_tlv", boom)
    f.tick(5.0)
    assert g.set_measurements({}, {"eth2": 20.0}, f.now) == []
    assert g.stats["evaluate_errors"] >= 1
    monkeypatch.undo()

    def bad_apply(self, adv, lsid, body):
        raise RuntimeError("injected into TED.apply")

    from pyfrr_pwr.model.ted import TED

    monkeypatch.setattr(TED, "apply", bad_apply)
    hdr = api.LsaHeader(1, 0, 10, "200.0.0.99", "10.17.255.99", 1, 0, 24)
    assert g.handle(api.LsaUpdate("0.0.0.0", A1, False, hdr, b"\0\0\0\0"), f.now) == []
    assert g.stats["ted_apply_errors"] == 1
    monkeypatch.undo()
    # G still works: the change of its power goes out
    f.tick(1.0)
    f.send("G", g.set_measurements({}, {"eth2": 20.0}, f.now))
    f.flood()
    assert f.errors == []


def test_the_sender_drops_an_unencodable_request_and_sends_the_next(fig7, tmp_path):
    g = fig7.core("G")
    agent = _agent(tmp_path, g)
    sent = []

    class Client:
        connected = True

        async def request(self, r, check=True):
            api.encode_request(r, 1)  # what the real client does first
            sent.append(r)
            return api.Reply(1, 0)

    agent.client = Client()
    big = api.OriginateRequest(10, 200, 7, b"\0" * 1484, area=A1)  # over ospfd's 1480
    ok = api.DeleteRequest(10, 200, 8, A1)

    async def run():
        task = asyncio.create_task(agent._sender())
        agent._queue.put_nowait([big, ok])
        await asyncio.sleep(0.05)
        alive = not task.done()
        task.cancel()
        return alive

    assert asyncio.run(run())
    assert sent == [ok] and g.stats["dropped_request_encode"] == 1


# -- sec. 2: restarts ---------------------------------------------------------------


def test_a_restarted_agent_continues_past_its_own_lsas(fig7):
    f = fig7
    want = h_ends(f)
    assert len(want) == 6
    old_ids = {k[1] for a in f.lsdb.values() for k in a if k[0] == f.rid("H")}
    h = f.restart_agent("H")  # ospfd keeps the flushed copies at MaxAge
    assert f.errors == []
    assert h.stats["own_lsas_learnt"] == len(old_ids)
    new_ids = {k[1] for a in f.lsdb.values() for k in a if k[0] == f.rid("H") and len(k) == 2}
    assert new_ids and not new_ids & old_ids
    assert min(wire.split_lsid(i)[1] for i in new_ids) > max(wire.split_lsid(i)[1] for i in old_ids)
    for r in AREA1_READERS:
        assert want <= two_sided(f.core(r)), r


def test_the_state_file_covers_maxage_copies_the_router_itself_dropped(fig7):
    """The neighbours still hold H's flushed LSAs at MaxAge, H no longer
    does: the sync shows nothing, and an ID used again would collide with
    the neighbours' copies. The IDs persisted in blocks (on_id_block, the
    daemon's state file) keep the new agent clear of them."""
    f = Fabric(FIG7)
    marks = []
    f.core("H").on_id_block = marks.append
    f.bring_up()
    assert marks
    h = f.restart_agent("H", local_maxage_kept=False, id_state=marks[-1])
    assert f.errors == []
    assert h.stats["own_lsas_learnt"] == 0
    for r in AREA1_READERS:
        assert h_ends(f) and h_ends(f) <= two_sided(f.core(r)), r


def test_without_a_state_file_a_collision_is_repaired_by_reoriginating(fig7):
    """The worst case: nothing tells the new agent which IDs were used. Its
    LSAs collide with the neighbours' MaxAge copies and ospfd flushes them
    (what issue 11 saw for 50 s); the agent sees each deleted and not
    replaced, and originates it again under a new ID."""
    f = fig7
    want = h_ends(f)
    h = f.restart_agent("H", local_maxage_kept=False)
    assert f.errors and all("MaxAge" in e[2] for e in f.errors)  # the collision, as modelled
    f.errors.clear()
    f.tick(1.0)
    f.send("H", h.tick(f.now))
    f.flood()
    assert f.errors == []
    assert h.stats["reoriginated_flushed"] >= 3
    for r in AREA1_READERS:
        assert want <= two_sided(f.core(r)), r


def test_an_lsa_flushed_behind_the_agents_back_comes_back_under_a_new_id(fig7):
    f = fig7
    h = f.core("H")
    want = h_ends(f)
    l = h.links["eth2"]
    old = wire.make_lsid(200, l.opaque_id)
    f.flush_behind("H", old, A1)
    f.flood()
    assert not want <= two_sided(f.core("X"))  # H-G is one-sided at X now
    f.tick(0.1)
    f.send("H", h.tick(f.now))
    f.flood()
    assert not want <= two_sided(f.core("X"))  # inside FLUSH_GRACE: a replacement may follow
    f.tick(1.0)
    f.send("H", h.tick(f.now))
    f.flood()
    assert f.errors == []
    assert h.stats["reoriginated_flushed"] == 1 and l.advertised and wire.make_lsid(200, l.opaque_id) != old
    for r in AREA1_READERS:
        assert want <= two_sided(f.core(r)), r


def test_a_replaced_instance_is_not_taken_for_a_flush(fig7):
    """ospfd's periodic refresh reaches us as a delete, then the update."""
    f = fig7
    h = f.core("H")
    l = h.links["eth2"]
    lsid = wire.make_lsid(200, l.opaque_id)
    hdr, body = f.lsdb[A1][(f.rid("H"), lsid)]
    assert h.handle(api.LsaDelete("0.0.0.0", A1, True, hdr, body), f.now) == []
    assert h.handle(api.LsaUpdate("0.0.0.0", A1, True, hdr, body), f.now) == []
    f.tick(2.0)
    assert h.tick(f.now) == [] and h.stats["reoriginated_flushed"] == 0


def test_a_leftover_live_lsa_of_ours_is_taken_over_and_deleted(fig7):
    f = fig7
    hr = f.rid("H")
    lsid = wire.make_lsid(200, 0x7FFF00)
    body = wire.encode([wire.LinkTLV("10.17.255.99", local_addrs=("10.99.0.1",), remote_addrs=("10.99.0.2",), pwr_consumed=1e-9)])
    f.inject(A1, hr, lsid, body)  # ours, but not from this session
    f.flood()
    assert f.errors == []
    assert (hr, lsid) not in f.lsdb[A1]
    assert f.core("H").stats["stale_own_flushed"] == 1
    assert (hr, lsid) not in f.core("X").teds[A1].lsas


def test_nothing_is_originated_before_the_sync_and_ids_continue_past_it(tmp_path):
    p = tmp_path / "power.yml"
    p.write_text(
        textwrap.dedent("""\
        ports:
          eth1: {speed: 10G, power_w: 2.0}
        """)
    )
    c = AgentCore(load_power(p))
    c.ifaddrs = {"eth1": "10.0.1.0"}
    c.session_reset()
    reqs = []
    for m in (
        api.RouterIdChange("1.1.1.1"),
        api.IsmChange("10.0.1.0", A1, 4),
        api.NsmChange("10.0.1.0", "10.0.1.1", "2.2.2.2", 9),
        api.ReadyNotify(10, 200, A1),
    ):
        reqs += c.handle(m, 0.0)
    assert reqs == []
    # the sync reports a MaxAge copy of ours: skipped, and not in the TED
    hdr = api.LsaHeader(MAX_AGE, 0, 10, wire.make_lsid(200, 41), "1.1.1.1", 0x80000003, 0, 24)
    assert c.handle(api.LsaUpdate("0.0.0.0", A1, True, hdr, b"\0\0\0\0"), 0.1) == []
    assert (hdr.adv_router, hdr.lsid) not in c.ted(A1).lsas
    c.resync_done()
    (o,) = [r for r in c.evaluate(0.2) if isinstance(r, api.OriginateRequest)]
    assert o.opaque_id == 42 and c.stats["own_lsas_learnt"] == 1


# -- sec. 2: implausible TEDs are re-synced, orphans age out -------------------------


def test_an_own_lsa_missing_from_our_ted_asks_for_one_rate_limited_resync(fig7):
    f = fig7
    x = f.core("X")
    l = x.links["eth1"]
    key = (x.router_id, wire.make_lsid(200, l.opaque_id))
    del x.teds[A1].lsas[key]  # a notification that never came
    f.tick(5.0)
    assert x.resync_due(f.now) is None  # not for a moment only
    f.tick(OWN_MISSING := 3.5)
    why = x.resync_due(f.now)
    assert why and "missing from our TED" in why
    assert x.resync_due(f.now + 1) is None  # rate-limited
    f.resync("X")
    assert key in x.teds[A1].lsas and x.stats["resyncs"] == 1 and x.stats["resyncs_own_missing"] == 1
    f.tick(OWN_MISSING)
    assert x.resync_due(f.now) is None


def test_a_resync_reoriginates_an_lsa_of_ours_the_lsdb_lost(fig7):
    f = fig7
    h = f.core("H")
    l = h.links["eth3"]
    lsid = wire.make_lsid(200, l.opaque_id)
    del f.lsdb[A1][(h.router_id, lsid)]  # gone, and nobody said so
    f.resync("H")
    assert f.errors == []
    assert h.stats["reoriginated_flushed"] == 1 and wire.make_lsid(200, l.opaque_id) != lsid
    assert (h.router_id, wire.make_lsid(200, l.opaque_id)) in f.lsdb[A1]


def test_a_long_one_sided_link_between_two_agents_asks_for_a_resync(fig7):
    f = fig7
    x = f.core("X")
    g = f.core("G")
    key = (g.router_id, wire.make_lsid(200, g.links["eth2"].opaque_id))
    del x.teds[A1].lsas[key]
    f.tick(1.0)
    assert x.resync_due(f.now) is None
    f.tick(10.0)
    why = x.resync_due(f.now)
    assert why and "one-sided" in why and x.stats["resyncs_one_sided"] == 1
    f.resync("X")
    assert key in x.teds[A1].lsas and x._resync_interval == 30.0
    f.resync("X")  # one that changes nothing doubles the interval before the next
    assert x._resync_interval == 60.0


def test_lsas_of_a_router_without_a_router_lsa_age_out_of_the_ted():
    f = Fabric(FIG7, router_lsas=True)
    f.bring_up()
    x = f.core("X")
    rogue = "10.99.0.1"
    for i in range(5):  # a rogue client's LSAs, from a router with no router LSA
        body = wire.encode([wire.LinkTLV(x.router_id, local_addrs=(f"10.99.1.{i}",), remote_addrs=(f"10.99.2.{i}",), pwr_consumed=1e-12)])
        f.inject(A1, rogue, wire.make_lsid(200, 100 + i), body)
    f.flood()
    assert len([k for k in x.teds[A1].lsas if k[0] == rogue]) == 5
    x.tick(f.now)
    f.tick(ORPHAN_GRACE - 1)
    x.tick(f.now)
    assert len([k for k in x.teds[A1].lsas if k[0] == rogue]) == 5  # grace
    f.tick(1.5)
    x.tick(f.now)
    assert not [k for k in x.teds[A1].lsas if k[0] == rogue]
    assert x.stats["aged_out_lsas"] == 5
    assert len(ends(x)) == 16  # the real routers' LSAs stay
    # a real router that loses its router LSA ages out too, and its return
    # asks for a re-sync (its LSAs are still in ospfd's LSDB)
    f.drop_router_lsa("G", A1)
    x.tick(f.now)
    f.tick(ORPHAN_GRACE + 1)
    x.tick(f.now)
    assert not [k for k in x.teds[A1].lsas if k[0] == f.rid("G")]
    f.router_lsa("G", A1)
    why = x.resync_due(f.now)
    assert why and f.rid("G") in why
    f.resync("X")
    assert {k for k in x.teds[A1].lsas if k[0] == f.rid("G")}  # G's are back
    x.tick(f.now)  # the rogue's, back with the sync too, go at once: their grace is over
    assert not [k for k in x.teds[A1].lsas if k[0] == rogue]
    assert len(ends(x)) == 16


def test_a_core_fed_no_router_lsas_ages_nothing_out(fig7):
    f = fig7
    x = f.core("X")
    f.tick(ORPHAN_GRACE * 3)
    x.tick(f.now)
    f.tick(ORPHAN_GRACE * 3)
    x.tick(f.now)
    assert len(ends(x)) == 16 and x.stats["aged_out_lsas"] == 0


# -- a fake ospfd: the sync's end, and an opaque type in use ----------------------------

HDR = api.HDR


def _msg(t, seq, body):
    return HDR.pack(1, t, len(body), seq) + body


class FakeOspfd:
    """ospfd's API server, as far as the agent's session needs it: requests
    answered on the sync connection, notifications through one FIFO on the
    async one (ospf_apiserver.c). ``slow`` pauses the FIFO halfway through
    the sync's notifications, as a loaded ospfd does; ``squatted`` refuses
    our opaque type with OPAQUETYPEINUSE."""

    def __init__(self, lsas, slow=0.0, squatted=False, router_id="1.1.1.1"):
        self.lsas, self.slow, self.squatted, self.router_id = lsas, slow, squatted, router_id
        self.registers = 0

    async def start(self):
        self.server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _session(self, reader, writer):
        host, port = writer.get_extra_info("peername")[:2]
        _, aw = await asyncio.open_connection(host, port + 1)
        fifo = asyncio.Queue()

        async def drain():
            while True:
                item = await fifo.get()
                if isinstance(item, float):
                    await asyncio.sleep(item)
                else:
                    aw.write(item)
                    await aw.drain()

        pump = asyncio.create_task(drain())
        try:
            while True:
                hdr = await reader.readexactly(HDR.size)
                _, t, ln, seq = HDR.unpack(hdr)
                body = await reader.readexactly(ln)
                err = 0
                if t == api.MsgType.REGISTER_OPAQUETYPE:
                    self.registers += 1
                    if self.squatted:
                        err = api.ApiErr.OPAQUETYPEINUSE
                    else:
                        fifo.put_nowait(
                            _msg(api.MsgType.READY_NOTIFY, 0, struct.pack(">BBxxI", 10, body[1], int.from_bytes(bytes(map(int, A1.split("."))), "big")))
                        )
                elif t == api.MsgType.SYNC_ROUTER_ID:
                    fifo.put_nowait(_msg(api.MsgType.ROUTER_ID_CHANGE, seq, bytes(map(int, self.router_id.split(".")))))
                elif t == api.MsgType.SYNC_LSDB:
                    for i, (hdr_, lbody) in enumerate(self.lsas):
                        if self.slow and i == len(self.lsas) // 2:
                            fifo.put_nowait(float(self.slow))
                        area = bytes(map(int, A1.split(".")))
                        fifo.put_nowait(_msg(api.MsgType.LSA_UPDATE_NOTIFY, seq, b"\0\0\0\0" + area + b"\0\0\0\0" + hdr_.pack() + lbody))
                writer.write(_msg(api.MsgType.REPLY, seq, struct.pack(">bxxx", int(err))))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            pump.cancel()
            aw.close()
            writer.close()

    async def close(self):
        self.server.close()


def _lsas(n):
    out = []
    for i in range(n):
        adv = f"10.0.{i // 4}.{i % 4 + 1}"
        body = wire.encode([wire.LinkTLV(f"10.1.0.{i + 1}", local_addrs=(f"10.2.0.{i}",), remote_addrs=(f"10.3.0.{i}",), pwr_consumed=1e-12)])
        out.append((api.LsaHeader(1, 0, 10, wire.make_lsid(200, i + 1), adv, 0x80000001, 0, 20 + len(body)), body))
    return out


@pytest.fixture
def power(tmp_path):
    p = tmp_path / "power.yml"
    p.write_text(
        textwrap.dedent("""\
        ports:
          eth1: {speed: 10G, power_w: 2.0}
        """)
    )
    return load_power(p)


def test_the_sync_is_complete_at_ospfds_sentinel_not_after_a_silence(tmp_path, power):
    """Half the sync, then 0.6 s in which the loaded ospfd writes nothing,
    then the rest: the agent is synced only with all 40 in its TED."""

    async def run():
        fake = await FakeOspfd(_lsas(40), slow=0.6).start()
        agent = Agent(power, str(tmp_path / "a.sock"), api_port=fake.port, name="t")
        at_done = []
        real = agent.core.resync_done

        def done():
            at_done.append(len(agent.core.ted(A1).lsas))
            return real()

        agent.core.resync_done = done
        task = asyncio.create_task(agent.client.run())
        for _ in range(100):
            if agent.core.synced:
                break
            await asyncio.sleep(0.05)
        synced = agent.core.synced
        await agent.client.close()
        task.cancel()
        await asyncio.sleep(0.05)
        await fake.close()
        return agent, synced, at_done

    agent, synced, at_done = asyncio.run(run())
    assert synced and at_done == [40]
    assert agent.core.router_id == "1.1.1.1"


def test_an_opaque_type_in_use_is_an_error_in_status_and_retried(tmp_path, power, caplog):
    async def run():
        fake = await FakeOspfd([], squatted=True).start()
        agent = Agent(power, str(tmp_path / "a.sock"), api_port=fake.port, name="t")
        task = asyncio.create_task(agent.client.run(backoff_min=0.05, backoff_max=0.1))
        for _ in range(100):
            if fake.registers >= 3:
                break
            await asyncio.sleep(0.05)
        st = control.status(agent.core, "t", agent.client.connected, agent.client.stats)
        fake.squatted = False  # the squatter is gone
        for _ in range(100):
            if agent.core.synced:
                break
            await asyncio.sleep(0.05)
        after = control.status(agent.core, "t", agent.client.connected, agent.client.stats)
        await agent.client.close()
        task.cancel()
        await asyncio.sleep(0.05)  # the fake's session sees the close
        await fake.close()
        return st, after, fake.registers

    with caplog.at_level(logging.WARNING, logger="pyfrr_pwr"):
        st, after, n = asyncio.run(run())
    assert n >= 3  # retried
    assert st["api_problem"] == "opaque type 10/200 is registered by another client of ospfd's API"
    assert st["synced"] is False and st["stats"]["opaque_type_in_use"] >= 3
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and r.name.startswith("pyfrr_pwr")]
    assert len(errors) == 1 and "opaque type 10/200" in errors[0].getMessage() and "another OSPF API client" in errors[0].getMessage()
    assert after["synced"] is True and after["api_problem"] is None


def test_the_control_socket_directory_must_be_private(tmp_path):
    """issue 11 sec. 3: a directory others may write to lets them replace
    agent.sock; the agent creates it 0700 and refuses one that is open."""
    import os

    import pytest

    from pyfrr_pwr.agent.daemon import private_dir

    mine = tmp_path / "new"
    private_dir(mine)
    assert mine.stat().st_mode & 0o777 == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o775)
    with pytest.raises(PermissionError, match="mode 0775"):
        private_dir(shared)
