"""AgentCore, the agent's pure decision layer, driven message by message;
its control answers, signalling and the CLI's agent_request without ospfd."""

import asyncio
import json
import socket
import textwrap
import threading

import pytest

from pyfrr_pwr.agent import control
from pyfrr_pwr.agent.advertise import LinkState
from pyfrr_pwr.agent.core import AgentCore
from pyfrr_pwr.files.power import load_power
from pyfrr_pwr.proto import control as pc
from pyfrr_pwr.proto import ospfapi as api
from pyfrr_pwr.proto import wire


@pytest.fixture
def core(tmp_path):
    p = tmp_path / "power.yml"
    p.write_text(
        textwrap.dedent("""\
        ports:
          eth1: {speed: 10G, power_w: 2.0}
          eth2: {speed: 10G, power_w: 5.0}
        te_endpoint: {tail: true}
        banding: {ratio: 1.25, hysteresis: 0.05}
        """)
    )
    c = AgentCore(load_power(p), min_interval=1.0)
    c.ifaddrs = {"eth1": "10.0.1.0", "eth2": "10.0.2.0"}
    return c


def bring_up(core, now=0.0):
    reqs = []
    for m in (
        api.RouterIdChange("1.1.1.1"),
        api.IsmChange("10.0.1.0", "0.0.0.1", 4),
        api.IsmChange("10.0.2.0", "0.0.0.1", 4),
        # ospfd's own "self" neighbour on the interface must be ignored
        api.NsmChange("10.0.1.0", "10.0.1.0", "1.1.1.1", 5),
        api.NsmChange("10.0.1.0", "10.0.1.1", "2.2.2.2", 9),
        api.NsmChange("10.0.2.0", "10.0.2.1", "3.3.3.3", 9),
        api.ReadyNotify(10, 200, "0.0.0.1"),
    ):
        reqs += core.handle(m, now)
    return reqs


def originations(reqs):
    return [r for r in reqs if isinstance(r, api.OriginateRequest)]


def test_nothing_is_originated_before_ospfd_says_ready(core):
    reqs = []
    for m in (api.RouterIdChange("1.1.1.1"), api.IsmChange("10.0.1.0", "0.0.0.1", 4), api.NsmChange("10.0.1.0", "10.0.1.1", "2.2.2.2", 9)):
        reqs += core.handle(m, 0.0)
    assert reqs == []


def test_one_lsa_per_link_and_a_node_lsa(core):
    reqs = bring_up(core)
    o = originations(reqs)
    assert len(o) == 3 and all(r.area == "0.0.0.1" and r.opaque_type == 200 for r in o)
    bodies = [wire.decode(r.body) for r in o]
    links = [t[0] for t in bodies if isinstance(t[0], wire.LinkTLV)]
    assert {(l.link_id, l.local_addrs, l.remote_addrs) for l in links} == {
        ("2.2.2.2", ("10.0.1.0",), ("10.0.1.1",)),
        ("3.3.3.3", ("10.0.2.0",), ("10.0.2.1",)),
    }
    assert [t for t in bodies if isinstance(t[0], wire.TEEndpoint)][0][0].flags == wire.EP_TAIL
    assert len({r.opaque_id for r in o}) == 3


def test_change_inside_the_band_sends_nothing_and_outside_is_make_before_break(core):
    bring_up(core)
    first = core.links["eth1"]
    old_id, gen = first.opaque_id, first.generation
    assert core.set_measurements({}, {"eth1": 2.04}, 5.0) == []  # +2 %
    reqs = core.set_measurements({}, {"eth1": 4.0}, 6.0)  # x2: leaves the band
    assert [type(r).__name__ for r in reqs] == ["OriginateRequest", "DeleteRequest"]
    assert reqs[1].opaque_id == old_id and reqs[0].opaque_id != old_id  # new ID first
    (tlv,) = wire.decode(reqs[0].body)
    assert tlv.generation == gen + 1
    assert tlv.pwr_consumed * 1.25e8 == pytest.approx(0.4)


def test_updates_are_rate_limited_per_link(core):
    bring_up(core)
    assert core.set_measurements({}, {"eth1": 4.0}, 10.0)
    assert core.set_measurements({}, {"eth1": 8.0}, 10.3) == []  # within min_interval
    assert core.links["eth1"].pending
    reqs = core.evaluate(11.1)
    (o,) = originations(reqs)
    assert wire.decode(o.body)[0].pwr_consumed * 1.25e8 == pytest.approx(0.8)


def test_neighbour_loss_withdraws_the_link(core):
    bring_up(core)
    lid = core.links["eth2"].opaque_id
    reqs = core.handle(api.NsmChange("10.0.2.0", "10.0.2.1", "3.3.3.3", 2), 20.0)
    assert api.DeleteRequest(10, 200, lid, "0.0.0.1") in reqs
    assert core.links["eth2"].opaque_id is None


def test_ted_from_notifications_and_malformed_lsas_counted(core):
    bring_up(core)
    body = wire.encode([wire.LinkTLV("1.1.1.1", local_addrs=("10.0.1.1",), remote_addrs=("10.0.1.0",), pwr_consumed=1e-9)])
    hdr = api.LsaHeader(1, 0, 10, "200.0.0.7", "2.2.2.2", 0x80000001, 0, 20 + len(body))
    core.handle(api.LsaUpdate("0.0.0.0", "0.0.0.1", False, hdr, body), 1.0)
    assert ("2.2.2.2", "200.0.0.7") in core.teds["0.0.0.1"].lsas
    core.handle(api.LsaUpdate("0.0.0.0", "0.0.0.1", False, hdr, b"\x00\x02\x00\xff"), 2.0)
    assert core.stats["malformed_lsas"] == 1
    assert ("2.2.2.2", "200.0.0.7") in core.teds["0.0.0.1"].lsas  # old instance kept
    core.handle(api.LsaDelete("0.0.0.0", "0.0.0.1", False, hdr, body), 3.0)
    assert ("2.2.2.2", "200.0.0.7") not in core.teds["0.0.0.1"].lsas
    # other opaque types are none of our business
    other = api.LsaHeader(1, 0, 10, "1.0.0.1", "2.2.2.2", 1, 0, 24)
    core.handle(api.LsaUpdate("0.0.0.0", "0.0.0.1", False, other, b"\0\0\0\0"), 4.0)
    assert ("2.2.2.2", "1.0.0.1") not in core.teds["0.0.0.1"].lsas


def test_session_reset_reoriginates_everything_once_the_lsdb_is_synced(core):
    first = {r.opaque_id for r in originations(bring_up(core))}
    core.session_reset()
    assert core.links["eth1"].opaque_id is None and not core.ready
    # nothing goes out before the new session's LSDB sync is complete: the
    # IDs ospfd holds for us are not known yet
    assert bring_up(core, now=30.0) == [] and core.awaiting_sync
    core.resync_done()
    reqs = core.evaluate(30.0)
    assert len(originations(reqs)) == 3
    assert not first & {r.opaque_id for r in originations(reqs)}  # IDs keep counting too
    assert core.links["eth1"].generation == 2  # keeps counting across sessions


def test_notready_reply_marks_area_not_ready(core):
    reqs = bring_up(core)
    core.refused(originations(reqs)[0], api.ApiErr.NOTREADY)
    assert "0.0.0.1" not in core.ready


def test_reconnect_keeps_the_ted_until_the_resync_says_what_is_gone(core):
    bring_up(core)
    body = wire.encode([wire.LinkTLV("1.1.1.1", local_addrs=("10.0.1.1",), remote_addrs=("10.0.1.0",), pwr_consumed=1e-9)])
    for lsid in ("200.0.0.7", "200.0.0.8"):
        hdr = api.LsaHeader(1, 0, 10, lsid, "2.2.2.2", 1, 0, 20 + len(body))
        core.handle(api.LsaUpdate("0.0.0.0", "0.0.0.1", False, hdr, body), 1.0)
    core.session_reset()  # ospfd restarted
    assert len(core.teds["0.0.0.1"].lsas) == 2  # still answering queries meanwhile
    hdr = api.LsaHeader(1, 0, 10, "200.0.0.7", "2.2.2.2", 2, 0, 20 + len(body))
    core.handle(api.LsaUpdate("0.0.0.0", "0.0.0.1", False, hdr, body), 2.0)  # the re-sync
    assert core.resync_done() == 1
    assert list(core.teds["0.0.0.1"].lsas) == [("2.2.2.2", "200.0.0.7")]


# -- the advertisement lifecycle, seen through the core ------------------------


def test_link_states_follow_the_advertisements(core):
    assert {l.state for l in core.links.values()} == {LinkState.NOT_ADVERTISED}
    reqs = bring_up(core)
    l = core.links["eth1"]
    assert l.state is LinkState.ADVERTISED and l.sent.area == "0.0.0.1" and l.sent.nbr_id == "2.2.2.2"
    core.set_measurements({}, {"eth1": 4.0}, 10.0)
    core.set_measurements({}, {"eth1": 8.0}, 10.3)
    assert l.state is LinkState.DEFERRED
    core.evaluate(11.5)
    assert l.state is LinkState.ADVERTISED
    (o,) = [r for r in originations(reqs) if r.opaque_id == core.links["eth2"].opaque_id]
    core.refused(o, api.ApiErr.NOTREADY)
    assert core.links["eth2"].state is LinkState.NOT_ADVERTISED and core.links["eth2"].opaque_id is None


def test_a_flushed_link_goes_back_to_not_advertised_and_out_again_under_a_new_id(core):
    from pyfrr_pwr.agent.advertise import LinkEvent, transition

    for s in LinkState:
        assert transition(s, LinkEvent.FLUSHED) is LinkState.NOT_ADVERTISED
    bring_up(core)
    l = core.links["eth1"]
    old, gen = l.opaque_id, l.generation
    core.set_measurements({}, {"eth1": 4.0}, 10.0)
    core.set_measurements({}, {"eth1": 8.0}, 10.3)
    assert l.state is LinkState.DEFERRED
    hdr = api.LsaHeader(3600, 0, 10, wire.make_lsid(200, l.opaque_id), "1.1.1.1", 0x80000002, 0, 24)
    reqs = core.handle(api.LsaDelete("0.0.0.0", "0.0.0.1", True, hdr, b"\0\0\0\0"), 10.4)  # at MaxAge: gone at once
    (o,) = originations(reqs)  # no min_interval wait, no delete of what is gone
    assert not [r for r in reqs if isinstance(r, api.DeleteRequest)]
    assert l.state is LinkState.ADVERTISED and o.opaque_id == l.opaque_id
    assert l.opaque_id not in (old, hdr.opaque_id) and l.generation == gen + 2
    assert wire.decode(o.body)[0].pwr_consumed * 1.25e8 == pytest.approx(0.8)


def test_a_reservation_reattaches_at_once_past_min_interval(core):
    bring_up(core)
    l = core.links["eth1"]
    old, gen = l.opaque_id, l.generation
    step = core.reserve_hop("r/1", 1.25e8, ["1.1.1.1", "2.2.2.2"], [])
    assert step == {"next": "2.2.2.2", "hops": ["2.2.2.2"], "plan": []}
    reqs = core.evaluate(0.1)  # well within min_interval of the first origination
    assert [type(r).__name__ for r in reqs] == ["OriginateRequest", "DeleteRequest"] and reqs[1].opaque_id == old
    (tlv,) = wire.decode(reqs[0].body)
    assert tlv.generation == gen + 1 and l.sent.reserved_bps == 1e9
    assert core.release_hop("r/1") == "2.2.2.2" and core.reservations == {}


def test_moving_area_deletes_in_the_old_area_first(core):
    bring_up(core)
    old = core.links["eth1"].opaque_id
    core.handle(api.ReadyNotify(10, 200, "0.0.0.2"), 1.0)
    reqs = core.handle(api.IsmChange("10.0.1.0", "0.0.0.2", 4), 2.0)
    assert reqs[0] == api.DeleteRequest(10, 200, old, "0.0.0.1")
    assert reqs[1].area == "0.0.0.2" and core.links["eth1"].sent.area == "0.0.0.2"


# -- the control socket and signalling, without ospfd -----------------------------


def test_control_answers_are_a_pure_function_of_core_and_request(core):
    bring_up(core)
    st = control.answer(core, pc.Status(), name="r1", connected=True, api_stats={"connects": 1})
    assert st.ok and st.result["router_id"] == "1.1.1.1" and st.result["neighbors"][1]["state"] == "Full"
    links = control.answer(core, pc.Links()).result
    assert [l["state"] for l in links] == ["advertised", "advertised"]
    bad = control.answer(core, pc.Path(to="9.9.9.9", constraints={"max_hopz": 1}))
    assert not bad.ok and "max_hopz" in bad.error
    assert not control.answer(core, pc.Path(to="9.9.9.9")).ok


def test_the_daemon_answers_raw_lines(tmp_path, core):
    from pyfrr_pwr.agent.daemon import Agent

    a = Agent(core.cfg, str(tmp_path / "s.sock"), name="r1")

    def ask(line):
        return json.loads(pc.encode(asyncio.run(a._answer(line))))

    assert ask(b'{"cmd": "status"}\n')["result"]["name"] == "r1"
    rep = ask(b'{"cmd": "nope"}\n')
    assert rep["ok"] is False and all(c in rep["error"] for c in pc.CONTROL.kinds)
    assert ask(b"not json\n")["ok"] is False
    assert ask(b'{"cmd": "path", "to": "9.9.9.9"}\n') == {"ok": False, "error": "router ID not known yet (is ospfd up?)"}
    assert ask(b'{"cmd": "release", "id": "x/1"}\n') == {"ok": False, "error": "no reservation x/1 here"}


def test_signalling_at_the_tail_and_an_unknown_release(core):
    from pyfrr_pwr.agent.signalling import Signalling

    bring_up(core)
    sent = []
    sig = Signalling(core, sent.append)
    assert asyncio.run(sig.handle(pc.SignalReserve(id="r/1", bw=1e8, hops=("1.1.1.1",)))) == pc.Route(route=("1.1.1.1",))
    assert core.reservations["r/1"] == {"ifname": None, "bw": 1e8, "next": None} and sent
    assert asyncio.run(sig.release("r/1")) == pc.Released(id="r/1")
    with pytest.raises(pc.AgentRefusal, match="no reservation r/1 here"):
        asyncio.run(sig.release("r/1"))


def _one_shot_agent(path, reply: bytes):
    """A Unix socket answering one request line with ``reply``."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen(1)
    got = []

    def run():
        c, _ = srv.accept()
        with c, srv:
            got.append(c.makefile("rb").readline())
            c.sendall(reply)

    threading.Thread(target=run, daemon=True).start()
    return got


def test_agent_request_takes_dicts_or_typed_messages(tmp_path):
    from pyfrr_pwr.cli.agentctl import AgentError, agent_request

    choice = {"to": "9.9.9.9", "best": None, "ecmp": [], "runners_up": []}
    got = _one_shot_agent(tmp_path / "a", b'{"ok": true, "result": {"released": "r/1"}}\n')
    assert agent_request(str(tmp_path / "a"), {"cmd": "release", "id": "r/1"}) == {"released": "r/1"}
    assert json.loads(got[0]) == {"cmd": "release", "id": "r/1"}
    _one_shot_agent(tmp_path / "b", b'{"ok": true, "result": {"released": "r/1"}}\n')
    assert agent_request(str(tmp_path / "b"), pc.Release(id="r/1")) == pc.Released(id="r/1")
    _one_shot_agent(tmp_path / "c", b'{"ok": false, "error": "no inter-area path"}\n')
    with pytest.raises(AgentError, match="agent: no inter-area path"):
        agent_request(str(tmp_path / "c"), pc.Path(to="9.9.9.9"))
    _one_shot_agent(tmp_path / "d", json.dumps({"ok": True, "result": choice}).encode() + b"\n")
    with pytest.raises(pc.ProtocolError, match="result.best"):
        agent_request(str(tmp_path / "d"), pc.Path(to="9.9.9.9"))
    with pytest.raises(AgentError, match="no agent answers there"):
        agent_request(str(tmp_path / "missing"), pc.Status())


def test_no_agent_exits_2_with_the_old_message(tmp_path, capsys):
    from pyfrr_pwr.cli.main import main

    assert main(["show", "links", "--socket", str(tmp_path / "missing")]) == 2
    assert "no agent answers there" in capsys.readouterr().err


def test_a_reservation_signalled_hop_by_hop_over_the_codec():
    """Signalling between in-memory agents: each ``send`` goes through the
    codec to the next router's ``handle``, as over TCP port 2700."""
    from conftest import ROOT
    from helpers.flooding import Fabric

    from pyfrr_pwr.agent.signalling import Signalling

    f = Fabric(ROOT / "containerlab/fig-2-0.clab.yml")
    f.bring_up()
    sigs = {}
    for n, nd in f.nodes.items():
        sigs[nd.core.router_id] = s = Signalling(nd.core, lambda reqs, n=n: f.send(n, reqs))

        async def send(router_id, req, s=s):
            rep = pc.Reply(True, await sigs[router_id].handle(pc.decode(pc.encode(req), pc.SIGNAL)))
            return pc.result_of(req, pc.decode(pc.encode(rep), pc.REPLY))

        s.send = send
    head, t4 = f.core("TEh1"), f.rid("TEt4")
    res = asyncio.run(sigs[head.router_id].reserve_path(t4, 1.25e8))
    assert res.id == f"{head.router_id}/1" and res.route[0] == head.router_id and res.route[-1] == t4
    assert res.path.best.abr_chain and all(res.id in f.core(f.by_rid(r)).reservations for r in res.route)
    f.flood()
    assert f.errors == []
    assert asyncio.run(sigs[head.router_id].release(res.id)) == pc.Released(id=res.id)
    assert not any(nd.core.reservations for nd in f.nodes.values())


def test_a_suppressed_vector_change_goes_out_after_the_refresh_time_not_never(core):
    """sec. 2.2 suppression delays a vector's new value inside its band;
    it must not keep an old one for ever (issue 10: the released path's PWR
    never came back while an intermediate, in-band value stayed advertised)."""
    from pyfrr_pwr.agent.core import VECTOR_REFRESH_S

    bring_up(core)
    core.ready.add("0.0.0.0")

    def vec(pwr):
        return wire.ReachabilityVector(("1.1.1.1", "9.9.9.9"), "0.0.0.2", (wire.PathInfo("10.9.0.1", pwr, 1e9, hop_count=3),))

    first = originations(core.apply_vectors({"0.0.0.0": [vec(10.0)]}, 0.0))
    assert len(first) == 1
    # an in-band change (1 %): suppressed, the advertised value is 10.0
    assert originations(core.apply_vectors({"0.0.0.0": [vec(10.1)]}, 0.1)) == []
    assert core.stats["vectors_suppressed"] == 1
    core.tick(0.1 + VECTOR_REFRESH_S / 2)
    assert core.vectors_dirty is False or core.stats["vectors_refreshed"] == 0
    assert originations(core.apply_vectors({"0.0.0.0": [vec(10.1)]}, 0.2)) == []
    core.tick(0.1 + VECTOR_REFRESH_S)  # the exact value waited long enough
    assert core.stats["vectors_refreshed"] == 1 and core.vectors_dirty
    (o,) = originations(core.apply_vectors({"0.0.0.0": [vec(10.1)]}, 0.3 + VECTOR_REFRESH_S))
    (t,) = [x for x in wire.decode(o.body, core.profile) if isinstance(x, wire.ReachabilityVector)]
    assert t.paths[0].pwr_sum == pytest.approx(10.1, rel=1e-6)
    # now the advertised value is exact: nothing more to refresh
    core.tick(10 * VECTOR_REFRESH_S)
    assert core.stats["vectors_refreshed"] == 1


def test_a_head_end_chooses_from_its_published_view_and_remembers_the_choice(core):
    """issue 10: with a view published, a TED change does not reach the
    choice until the next view, and the remembered choice is recomputed
    from it (``compute_choices``), not at the next query."""
    bring_up(core)
    with pytest.raises(pc.AgentRefusal):
        core.path_choice("10.9.0.1")  # live TEDs: nothing known
    job = core.publish_view()
    assert job is None  # nothing remembered yet: no view choice asked for
    with pytest.raises(pc.AgentRefusal):
        core.path_choice("10.9.0.1")
    gen = core.ted_gen
    core.vectors_dirty = True  # a TED change
    assert core.ted_gen == gen + 1
    job = core.publish_view()
    assert job is not None and set(job[3]) == {("10.9.0.1", core.cfg.k, "None")}
    res = AgentCore.compute_choices(job)
    core.store_choices(job, res)
    assert isinstance(next(iter(res.values())), pc.AgentRefusal)


# -- measure: rtnetlink events, not dumps (issue 10) ---------------------------


def _nlmsg(ty, body, attrs=b""):
    import struct

    payload = body + attrs
    return struct.pack("=IHHII", 16 + len(payload), ty, 0, 0, 0) + payload + b"\0" * (-len(payload) % 4)


def _rta(ty, val):
    import struct

    return struct.pack("=HH", 4 + len(val), ty) + val + b"\0" * (-len(val) % 4)


def test_rtnetlink_link_and_address_events_become_the_agents_interfaces():
    import socket as so
    import struct

    from pyfrr_pwr.agent.measure import LinkTable, parse_rtnl

    link_up = _nlmsg(16, struct.pack("=BxHiII", 0, 1, 7, 0x1 | 0x10000, 0), _rta(3, b"eth1\0"))
    addr = _nlmsg(20, struct.pack("=BBBBi", so.AF_INET, 31, 0, 0, 7), _rta(2, so.inet_aton("10.0.1.0")) + _rta(1, so.inet_aton("10.0.1.0")))
    addr6 = _nlmsg(20, struct.pack("=BBBBi", so.AF_INET6, 64, 0, 0, 7), _rta(1, b"\xfe\x80" + b"\0" * 14))
    ev = parse_rtnl(link_up + addr + addr6)
    assert ev == [("link", 7, "eth1", True, True), ("addr", 7, "10.0.1.0", 31)]
    t = LinkTable()
    assert all(t.apply(e) for e in ev)
    assert t.ifaddrs() == {"eth1": "10.0.1.0"}
    # carrier lost: the address is no longer the agent's (withdrawn at once)
    down = _nlmsg(16, struct.pack("=BxHiII", 0, 1, 7, 0x1, 0), _rta(3, b"eth1\0"))
    assert t.apply(parse_rtnl(down)[0]) and t.ifaddrs() == {}
    assert not t.apply(parse_rtnl(down)[0])  # the same state again: no change
    assert t.apply(("dellink", 7)) and t.names == {}


def test_truncated_or_malformed_rtnetlink_is_skipped_not_read_past():
    import struct

    from pyfrr_pwr.agent.measure import parse_rtnl

    good = _nlmsg(16, struct.pack("=BxHiII", 0, 1, 7, 0x10001, 0), _rta(3, b"eth1\0"))
    assert parse_rtnl(good[:-3]) == []  # the message runs past the buffer
    bad_attr = _nlmsg(16, struct.pack("=BxHiII", 0, 1, 7, 0x10001, 0), struct.pack("=HH", 200, 3) + b"eth1")
    assert parse_rtnl(bad_attr) == [("link", 7, "", True, True)]  # an attribute longer than its message ends the list
    assert parse_rtnl(struct.pack("=IHHII", 4, 16, 0, 0, 0)) == []  # a length below the header
    assert parse_rtnl(b"\x01\x02") == []


def test_the_measurer_reads_counters_only_for_ports_without_a_configured_available(tmp_path):
    from pyfrr_pwr.agent.measure import Measurer

    p = tmp_path / "power.yml"
    p.write_text("ports:\n  eth1: {speed: 10G, power_w: 2.0, available: 5G}\n  eth2: {speed: 10G, power_w: 5.0}\n")
    sysfs = tmp_path / "net"
    for ifn, tx in (("eth1", 100), ("eth2", 200)):
        (sysfs / ifn / "statistics").mkdir(parents=True)
        (sysfs / ifn / "statistics" / "tx_bytes").write_text(f"{tx}\n")
        (sysfs / ifn / "speed").write_text("1000\n")
    speeds: dict = {}
    m = Measurer(load_power(p), "t", 1.0, speeds, sysfs=sysfs)
    assert m.measured == ["eth2"]
    assert m.tx_bytes() == {"eth2": 200}
    m.speeds()
    assert speeds == {"eth1": 1e9, "eth2": 1e9}
    (sysfs / "eth2" / "statistics" / "tx_bytes").write_text("")  # half-written
    assert m.tx_bytes() == {} and m.stats["counter_errors"] == 1


MEASURE_SCRIPT = r"""
import asyncio, json, subprocess, sys
from pyfrr_pwr.agent.measure import Measurer
from pyfrr_pwr.files.power import load_power

class Core:
    links = {}
    def __init__(self):
        self.ifaddrs, self.seen = {}, []
    def set_measurements(self, used, watts, now):
        self.seen.append(dict(self.ifaddrs))
        return []

async def main():
    core = Core()
    m = Measurer(load_power(sys.argv[1]), "t", 1.0, {})
    task = asyncio.create_task(m.run(core, lambda r: None, 0.1))
    await asyncio.sleep(0.3)
    rest0 = m.stats["evaluations"]
    await asyncio.sleep(1.0)  # at rest: nothing polled, nothing evaluated
    rest = m.stats["evaluations"] - rest0
    ip = lambda *a: subprocess.run(["ip", *a], check=True)
    ip("link", "add", "eth1", "type", "veth", "peer", "name", "h5peer")
    ip("addr", "add", "10.9.0.1/31", "dev", "eth1")
    ip("link", "set", "eth1", "up")
    ip("link", "set", "h5peer", "up")
    await asyncio.sleep(0.3)
    up = dict(core.ifaddrs)
    ip("link", "set", "h5peer", "down")  # the far end goes: eth1 loses its carrier
    await asyncio.sleep(0.3)
    down = dict(core.ifaddrs)
    task.cancel()
    print(json.dumps({"rest": rest, "up": up, "down": down, "events": m.stats["netlink_events"]}))

asyncio.run(main())
"""


@pytest.mark.frr
def test_the_measurer_follows_real_link_and_address_events_and_idles_at_rest(tmp_path):
    """Real rtnetlink in a namespace of ours (h5meas): an address and a
    link state arrive as events; at rest nothing is evaluated."""
    import subprocess
    import sys

    p = tmp_path / "power.yml"
    p.write_text("ports:\n  eth1: {speed: 10G, power_w: 2.0, available: 5G}\n")
    ns = "h5meas"
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", MEASURE_SCRIPT, str(p)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    assert out["rest"] == 0
    assert out["up"] == {"eth1": "10.9.0.1"}
    assert out["down"] == {}  # no carrier: not the agent's any more
