"""AgentCore, the agent's pure decision layer, driven message by message."""
import textwrap

import pytest

from pyfrr_pwr.agent.core import AgentCore
from pyfrr_pwr.files.power import load_power
from pyfrr_pwr.proto import ospfapi as api
from pyfrr_pwr.proto import wire


@pytest.fixture
def core(tmp_path):
    p = tmp_path / "power.yml"
    p.write_text(textwrap.dedent("""\
        ports:
          eth1: {speed: 10G, power_w: 2.0}
          eth2: {speed: 10G, power_w: 5.0}
        te_endpoint: {tail: true}
        banding: {ratio: 1.25, hysteresis: 0.05}
        """))
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


def test_session_reset_reoriginates_everything(core):
    bring_up(core)
    core.session_reset()
    assert core.links["eth1"].opaque_id is None and not core.ready
    reqs = bring_up(core, now=30.0)
    assert len(originations(reqs)) == 3
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
