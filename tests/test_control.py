"""The agent's line protocols (proto.control) and the link advertisement
state machine (agent.advertise), without sockets."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyfrr_pwr.agent.advertise import TRANSITIONS, IllegalTransition, LinkEvent, LinkState, OwnLink, transition
from pyfrr_pwr.proto import control as pc
from pyfrr_pwr.proto import wire

SEG_HEAD = {"what": "head-end to first ABR", "pwr_w_per_gbps": 0.2, "hops": 2}
SEG_VEC = {"what": "ABR vector to tail-end", "area": "0.0.0.2", "pwr_w_per_gbps": 0.3, "hops": 3}
CAND = {
    "abr_chain": ["10.0.0.1", "10.0.0.2"],
    "head_path": ["1.1.1.1", "10.0.0.1"],
    "segments": [SEG_HEAD, SEG_VEC],
    "pwr": 4e-9,
    "pwr_w_per_gbps": 0.5,
    "min_avail_bw": None,
    "hops": 5,
    "delay_us": 0.0,
}
CHOICE = {"to": "9.9.9.9", "best": CAND, "ecmp": [CAND], "runners_up": []}

MESSAGES = [
    (pc.Status(), {"cmd": "status"}),
    (pc.Links(), {"cmd": "links"}),
    (pc.Ted(area="0.0.0.1"), {"cmd": "ted", "area": "0.0.0.1"}),
    (pc.Ted(), {"cmd": "ted"}),
    (pc.TedTimes(), {"cmd": "ted_times"}),
    (
        pc.Paths(to="x", src="y", k=3, area="0.0.0.1", constraints={"max_hops": 2}),
        {"cmd": "paths", "to": "x", "from": "y", "k": 3, "area": "0.0.0.1", "max_hops": 2},
    ),
    (pc.Path(to="x"), {"cmd": "path", "to": "x"}),
    (
        pc.Path(to="x", k=2, constraints={"min_bandwidth": 1.25e8, "exclude_nodes": ["a"]}),
        {"cmd": "path", "to": "x", "k": 2, "min_bandwidth": 1.25e8, "exclude_nodes": ["a"]},
    ),
    (pc.Reserve(to="x", bw=1.25e8), {"cmd": "reserve", "to": "x", "bw": 1.25e8}),
    (pc.Release(id="1.1.1.1/3"), {"cmd": "release", "id": "1.1.1.1/3"}),
    (pc.Reservations(), {"cmd": "reservations"}),
    (pc.Vectors(), {"cmd": "vectors"}),
]
SIGNALS = [
    (pc.SignalReserve(id="1.1.1.1/1", bw=1e8, hops=("10.0.0.1", "10.0.0.2"), plan=(pc.PlanStep("0.0.0.0", "10.0.0.3"), pc.PlanStep("0.0.0.2", "10.0.0.4"))),
     {"cmd": "reserve", "id": "1.1.1.1/1", "bw": 1e8, "hops": ["10.0.0.1", "10.0.0.2"], "plan": [{"area": "0.0.0.0", "to": "10.0.0.3"}, {"area": "0.0.0.2", "to": "10.0.0.4"}]}),
    (pc.SignalReserve(id="r/1", bw=1e8, hops=("10.0.0.1",)), {"cmd": "reserve", "id": "r/1", "bw": 1e8, "hops": ["10.0.0.1"]}),
    (pc.SignalRelease(id="r/1"), {"cmd": "release", "id": "r/1"}),
    (pc.SignalRefresh(ids=("r/1", "r/2")), {"cmd": "refresh", "ids": ["r/1", "r/2"]}),
    (pc.SignalRefresh(ids=("r/1",), wait=2.5), {"cmd": "refresh", "ids": ["r/1"], "wait": 2.5}),
]  # fmt: skip


@pytest.mark.parametrize("m,d", MESSAGES)
def test_control_messages_keep_the_json_they_always_had(m, d):
    line = pc.encode(m)
    assert line.endswith(b"\n") and json.loads(line) == d
    assert pc.decode(line) == m
    assert pc.from_json(d) == m


@pytest.mark.parametrize("m,d", SIGNALS)
def test_signalling_messages_round_trip(m, d):
    assert json.loads(pc.encode(m)) == d
    assert pc.decode(pc.encode(m), pc.SIGNAL) == m


def test_replies_round_trip_and_results_come_back_typed():
    ok = pc.decode(pc.encode(pc.Reply(True, {"a": [1, 2]})), pc.REPLY)
    assert ok == pc.Reply(True, {"a": [1, 2]})
    assert json.loads(pc.encode(pc.Reply(False, error="nope"))) == {"ok": False, "error": "nope"}
    choice = pc.result_of(pc.Path(to="9.9.9.9"), pc.Reply(True, CHOICE))
    assert isinstance(choice, pc.PathChoice) and choice.best.vector.area == "0.0.0.2" and choice.best.head.area is None
    assert choice.to_json() == CHOICE  # the record writes exactly what it read
    assert pc.to_json(pc.Reply(True, choice).to_json()["result"]) == CHOICE
    rel = pc.result_of(pc.Release(id="r"), pc.Reply(True, {"released": "r"}))
    assert rel == pc.Released(id="r")
    raw = pc.result_of(pc.Status(), pc.Reply(True, {"x": 1}))
    assert raw == {"x": 1}


def test_errors_name_the_field_at_fault():
    with pytest.raises(
        pc.ProtocolError, match="unknown control command 'bogus'; known: status, links, ted, ted_times, paths, path, reserve, release, reservations, vectors"
    ) as ei:
        pc.decode(b'{"cmd": "bogus"}')
    assert ei.value.field == "cmd"
    for line, field in (
        (b'{"cmd": "path"}', "to"),
        (b'{"cmd": "path", "to": 7}', "to"),
        (b'{"cmd": "reserve", "to": "x", "bw": "1G"}', "bw"),
        (b'{"cmd": "paths", "to": "x", "k": true}', "k"),
        (b'{"cmd": "status", "area": "0.0.0.1"}', "area"),
    ):
        with pytest.raises(pc.ProtocolError) as ei:
            pc.decode(line)
        assert ei.value.field == field and field in str(ei.value)
    with pytest.raises(pc.ProtocolError) as ei:
        pc.decode(b'{"cmd": "reserve", "id": "r", "bw": 1, "hops": ["10.0.0.1"], "plan": [{"area": "0.0.0.0"}]}', pc.SIGNAL)
    assert ei.value.field == "plan[0].to"
    with pytest.raises(pc.ProtocolError) as ei:
        pc.result_of(pc.Path(to="x"), pc.Reply(True, {**CHOICE, "best": {**CAND, "segments": [SEG_HEAD]}}))
    assert ei.value.field == "result.best.segments"


HOP = ["10.0.0.1"]


@pytest.mark.parametrize(
    "d,field",
    [
        ({"id": "r/1", "bw": float("nan"), "hops": HOP}, "bw"),
        ({"id": "r/1", "bw": float("inf"), "hops": HOP}, "bw"),
        ({"id": "r/1", "bw": -1, "hops": HOP}, "bw"),
        ({"id": "r/1", "bw": 0, "hops": HOP}, "bw"),
        ({"id": "r/1", "bw": 1e14, "hops": HOP}, "bw"),
        ({"id": "r/1", "bw": True, "hops": HOP}, "bw"),
        ({"id": "", "bw": 1, "hops": HOP}, "id"),
        ({"id": "x" * 65, "bw": 1, "hops": HOP}, "id"),
        ({"id": "r 1", "bw": 1, "hops": HOP}, "id"),
        ({"id": "r/1", "bw": 1, "hops": []}, "hops"),
        ({"id": "r/1", "bw": 1, "hops": HOP * 65}, "hops"),
        ({"id": "r/1", "bw": 1, "hops": ["a"]}, "hops[0]"),
        ({"id": "r/1", "bw": 1, "hops": ["10.0.0.256"]}, "hops[0]"),
        ({"id": "r/1", "bw": 1, "hops": ["010.0.0.1"]}, "hops[0]"),
        ({"id": "r/1", "bw": 1, "hops": HOP, "plan": [{"area": "0.0.0.0", "to": "10.0.0.2"}] * 9}, "plan"),
        ({"id": "r/1", "bw": 1, "hops": HOP, "plan": [{"area": "backbone", "to": "10.0.0.2"}]}, "plan[0].area"),
    ],
)
def test_every_signalling_field_is_bounded(d, field):
    """issue 11: NaN, negative or huge bandwidth, odd IDs, unbounded lists
    and router IDs that are no IPv4 addresses never reach the agent."""
    with pytest.raises(pc.ProtocolError) as ei:
        pc.from_json({"cmd": "reserve", **d}, pc.SIGNAL)
    assert ei.value.field == field
    line = json.dumps({"cmd": "reserve", **d}).encode()  # NaN and Infinity as Python writes them
    with pytest.raises(pc.ProtocolError):
        pc.decode(line, pc.SIGNAL)


def test_refresh_and_release_fields_are_bounded():
    for d, field in (
        ({"cmd": "refresh", "ids": []}, "ids"),
        ({"cmd": "refresh", "ids": ["r/1"] * (pc.MAX_REFRESH_IDS + 1)}, "ids"),
        ({"cmd": "refresh", "ids": ["r/1"], "wait": 0}, "wait"),
        ({"cmd": "refresh", "ids": ["r/1"], "wait": 1e9}, "wait"),
        ({"cmd": "release", "id": "r/1", "origin": False}, "origin"),  # gone: only the owner releases
    ):
        with pytest.raises(pc.ProtocolError) as ei:
            pc.from_json(d, pc.SIGNAL)
        assert ei.value.field == field
    got = pc.result_of(pc.SignalRefresh(ids=("r/1",)), pc.Reply(True, {"lost": [{"id": "r/1", "at": "10.0.0.2", "reason": "x" * 1000}]}))
    assert got.lost[0].at == "10.0.0.2" and len(got.lost[0].reason) == pc.MAX_LOST_REASON
    with pytest.raises(pc.ProtocolError) as ei:
        pc.result_of(pc.SignalReserve(id="r/1", bw=1, hops=("10.0.0.1",)), pc.Reply(True, {"route": ["10.0.0.1", "evil"]}))
    assert ei.value.field == "result.route[1]"


def test_constraints_travel_flat_and_null_ones_are_unset():
    m = pc.decode(b'{"cmd": "path", "to": "x", "max_delay": null, "max_hops": 3}')
    assert m.constraints == {"max_hops": 3}
    with pytest.raises(pc.ProtocolError, match="clashes"):
        pc.encode(pc.Path(to="x", constraints={"to": "y"}))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=20,
)
_fields = st.sampled_from(["to", "from", "k", "area", "bw", "id", "ids", "wait", "hops", "plan", "origin", "max_hops", "ok", "result", "error", "cmd"])
_cmds = st.sampled_from([*pc.CONTROL.kinds, *pc.SIGNAL.kinds, "nope", 3, None])
_messages = st.builds(lambda cmd, d: {"cmd": cmd, **d}, _cmds, st.dictionaries(_fields, _json, max_size=6))
_protocols = st.sampled_from([pc.CONTROL, pc.SIGNAL, pc.REPLY])


def _only_protocol_errors(line, protocol):
    try:
        m = pc.decode(line, protocol)
    except pc.ProtocolError:
        return
    # whatever decodes encodes again, to a line that decodes to the same
    # (compared as lines: a NaN constraint is not equal to itself)
    line = pc.encode(m)
    assert pc.encode(pc.decode(line, protocol)) == line


@settings(max_examples=400)
@given(st.binary(max_size=64), _protocols)
def test_decode_of_any_bytes_raises_only_protocol_error(b, protocol):
    _only_protocol_errors(b, protocol)


@settings(max_examples=400)
@given(st.one_of(_json, _messages), _protocols)
def test_decode_of_any_json_raises_only_protocol_error(obj, protocol):
    _only_protocol_errors(json.dumps(obj), protocol)


def test_deep_nesting_is_a_protocol_error():
    with pytest.raises(pc.ProtocolError):
        pc.decode(b"[" * 100_000)


# -- the link advertisement's state machine -----------------------------------

NA, AD, DE = LinkState.NOT_ADVERTISED, LinkState.ADVERTISED, LinkState.DEFERRED
E = LinkEvent


def test_the_transition_table():
    assert transition(NA, E.ORIGINATE) is AD
    assert transition(AD, E.DEFER) is DE and transition(DE, E.DEFER) is DE
    assert transition(DE, E.UPDATE) is AD and transition(AD, E.UPDATE) is AD
    assert transition(DE, E.REATTACH) is AD
    for s in (AD, DE):
        for e in (E.WITHDRAW, E.REFUSED, E.RESET):
            assert transition(s, e) is NA
    assert transition(NA, E.RESET) is NA
    illegal = [(s, e) for s in LinkState for e in LinkEvent if (s, e) not in TRANSITIONS]
    assert set(illegal) == {(NA, E.REATTACH), (NA, E.UPDATE), (NA, E.DEFER), (NA, E.WITHDRAW), (NA, E.REFUSED), (AD, E.ORIGINATE), (DE, E.ORIGINATE)}
    for s, e in illegal:
        with pytest.raises(IllegalTransition):
            transition(s, e)


def _sent(**kw):
    from pyfrr_pwr.agent.advertise import Attachment
    from pyfrr_pwr.model import metric

    return {
        "sent": Attachment("0.0.0.1", "2.2.2.2", "10.0.0.1", "10.0.0.0", 0.0),
        "opaque_id": 5,
        "tlv": wire.LinkTLV("2.2.2.2"),
        "band": metric.Banding.geometric(1e-15, 1e3, 1.25, 0.0),
        **kw,
    }


@given(st.lists(st.sampled_from(list(LinkEvent)), max_size=30))
def test_a_link_is_consistent_after_any_legal_sequence(events):
    l = OwnLink("eth1")
    for i, e in enumerate(events):
        if (l.state, e) not in TRANSITIONS:
            with pytest.raises(IllegalTransition):
                l.step(e, float(i), **_sent())
            continue
        l.step(e, float(i), **_sent(opaque_id=i + 1))
        assert l.advertised == (l.sent is not None) == (l.opaque_id is not None) == (l.tlv is not None)
        assert l.pending == (l.state is DE)
        if e is E.RESET:
            assert l.last_sent == float("-inf")


def test_an_origination_must_say_what_was_sent():
    with pytest.raises(ValueError, match="needs what was sent"):
        OwnLink("eth1").step(E.ORIGINATE, 0.0)


# -- issue 7: LSP fields ---------------------------------------------------------


def test_lsp_fields_round_trip_and_are_checked():
    r = pc.Reserve(to="10.0.0.9", bw=1e6, prefixes=("10.20.201.0/24",))
    assert pc.decode(pc.encode(r)) == r
    assert "prefixes" not in pc.Reserve(to="10.0.0.9", bw=1).to_json()  # unchanged on the wire without them
    assert isinstance(pc.decode(b'{"cmd": "lsps"}'), pc.Lsps)
    sr = pc.SignalReserve(id="10.0.0.1/3", bw=1.0, hops=("10.0.0.2",), dataplane=True, prefixes=("10.20.201.0/24",))
    assert pc.decode(pc.encode(sr), pc.SIGNAL) == sr
    rt = pc.Route(
        route=("10.0.0.2", "10.0.0.3"),
        links=("10.1.0.0",),
        binding="fd00:a00:2:b6:a00:1:0:3",
        dt6="fd00:a00:3:6::",
        dx4=(pc.PrefixSid("10.20.201.0/24", "fd00::4"),),
    )
    assert pc.Route.from_json(rt.to_json()) == rt
    for bad, field in (
        ({"cmd": "reserve", "to": "x", "bw": 1, "prefixes": ["10.20.201.1/24"]}, "prefixes[0]"),  # host bits
        ({"cmd": "reserve", "to": "x", "bw": 1, "prefixes": ["fd00::/64"]}, "prefixes[0]"),
        ({"cmd": "reserve", "to": "x", "bw": 1, "prefixes": ["10.0.0.0/24"] * 17}, "prefixes"),
    ):
        with pytest.raises(pc.ProtocolError) as e:
            pc.from_json(bad)
        assert e.value.field == field
    with pytest.raises(pc.ProtocolError, match="IPv6"):
        pc.Route.from_json({"route": ["10.0.0.2"], "binding": "not-a-sid"})
