"""PWR LSA bodies: golden bytes, round trips, and hostile input."""
import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyfrr_pwr.proto import wire

LINK = wire.LinkTLV(
    link_id="10.0.0.2",
    local_addrs=("10.1.0.0",),
    remote_addrs=("10.1.0.1",),
    max_bw=1.25e9,
    avail_bw=1e9,
    pwr_consumed=1.0,
    pwr_available=0.5,
)
LINK_DRAFT = bytes.fromhex(
    "00020040"
    "0001000101000000"
    "000200040a000002"
    "000300040a010000"
    "000400040a010001"
    "000600044e9502f9"
    "002000044e6e6b28"
    "000b00043f800000"
    "000c00043f000000"
)


def test_golden_link_tlv_draft_profile():
    assert wire.encode([LINK]) == LINK_DRAFT
    assert wire.decode(LINK_DRAFT) == [LINK]


def test_golden_link_tlv_experimental_profile_avoids_iana_collisions():
    exp = LINK_DRAFT.replace(bytes.fromhex("000b0004"), bytes.fromhex("80010004")).replace(
        bytes.fromhex("000c0004"), bytes.fromhex("80020004")
    )
    assert wire.encode([LINK], profile="experimental") == exp
    assert wire.decode(exp, profile="experimental") == [LINK]
    # sub-TLV 11 is RFC 4203's Link Local/Remote Identifiers: in the
    # experimental profile it must be an unknown sub-TLV, never a PWR value
    (t,) = wire.decode(LINK_DRAFT, profile="experimental")
    assert t.pwr_consumed is None and (11, bytes.fromhex("3f800000")) in t.unknown


def test_golden_node_tlvs():
    tlvs = [
        wire.TEEndpoint("10.0.0.9", wire.EP_HEAD | wire.EP_TAIL),
        wire.AreaBorder("10.0.0.9", ("0.0.0.0", "0.0.0.1")),
        wire.ReachabilityVector(("10.0.0.1", "10.0.0.2"), "0.0.0.2", (wire.PathInfo("10.0.0.7", 0.5, 1e9, 30, 3, 1, 250),)),
    ]
    gold = bytes.fromhex(
        "800000080a00000900000003"
        "8001000c0a0000090000000000000001"
        "8002002c" "00000002" "02000000" "0a000001" "0a000002"
        "0a000007" "3f000000" "4e6e6b28" "0000001e" "00030000" "00000001" "000000fa"
    )
    assert wire.encode(tlvs) == gold
    assert wire.decode(gold) == tlvs


def test_lsid_helpers():
    assert wire.make_lsid(200, 1) == "200.0.0.1"
    assert wire.split_lsid("200.0.0.1") == (200, 1)
    with pytest.raises(ValueError):
        wire.make_lsid(256, 1)


# ------------------------------------------------------------ strategies

f32 = st.floats(min_value=0, max_value=3.4028234663852886e38, width=32, allow_nan=False, allow_infinity=False)
ip = st.integers(0, 2**32 - 1).map(lambda v: ".".join(str(b) for b in v.to_bytes(4, "big")))
u32 = st.integers(0, 2**32 - 1)
opt = lambda s: st.none() | s  # noqa: E731

links = st.builds(
    wire.LinkTLV,
    link_id=ip,
    link_type=st.integers(0, 255),
    local_addrs=st.lists(ip, max_size=3).map(tuple),
    remote_addrs=st.lists(ip, max_size=3).map(tuple),
    te_metric=opt(u32),
    max_bw=opt(f32),
    avail_bw=opt(f32),
    admin_group=opt(u32),
    delay_us=opt(st.integers(0, 2**24 - 1)),
    pwr_mcast=opt(f32),
    pwr_consumed=opt(f32),
    pwr_available=opt(f32),
    generation=opt(u32),
    unknown=st.lists(st.tuples(st.integers(40000, 65535), st.binary(max_size=9)), max_size=2).map(tuple),
)
paths = st.lists(
    st.builds(wire.PathInfo, endpoint=ip, pwr_sum=f32, min_avail_bw=f32, te_metric_sum=u32, hop_count=st.integers(0, 65535), admin_groups=u32, delay_us=u32),
    max_size=5,
).map(lambda ps: tuple(sorted(ps, key=lambda p: p.pwr_sum)))
vectors = st.builds(
    wire.ReachabilityVector,
    abr_chain=st.lists(ip, min_size=1, max_size=4).map(tuple),
    area=ip,
    paths=paths,
    fragment=opt(st.builds(wire.Fragment, generation=u32, index=st.just(0), count=st.integers(1, 255))),
)
tlvs = st.one_of(
    links,
    vectors,
    st.builds(wire.TEEndpoint, router_id=ip, flags=u32),
    st.builds(wire.AreaBorder, router_id=ip, areas=st.lists(ip, min_size=1, max_size=4).map(tuple)),
    st.builds(wire.UnknownTLV, type=st.integers(40000, 65535), value=st.binary(max_size=12)),
)


@given(st.lists(tlvs, max_size=4), st.sampled_from(sorted(wire.PROFILES)))
def test_round_trip(ts, profile):
    try:
        body = wire.encode(ts, profile)
    except ValueError as exc:
        assert "exceeds 1480" in str(exc)
        return
    assert len(body) % 4 == 0 and len(body) <= wire.MAX_BODY
    back = wire.decode(body, profile)
    assert back == ts
    assert wire.encode(back, profile) == body


@given(st.binary(max_size=200))
def test_decode_random_bytes_only_raises_decode_error(b):
    try:
        wire.decode(b)
    except wire.DecodeError as exc:
        assert 0 <= exc.offset <= len(b)
        assert isinstance(exc, ValueError)


@given(st.lists(tlvs, min_size=1, max_size=3), st.data())
def test_decode_mutated_bodies_only_raises_decode_error(ts, data):
    try:
        body = bytearray(wire.encode(ts))
    except ValueError:
        return
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "truncate", "extend"]))
        if op == "flip" and body:
            i = data.draw(st.integers(0, len(body) - 1))
            body[i] = data.draw(st.integers(0, 255))
        elif op == "truncate":
            del body[data.draw(st.integers(0, len(body))) :]
        else:
            body += data.draw(st.binary(max_size=8))
    try:
        wire.decode(bytes(body))
    except wire.DecodeError:
        pass


@pytest.mark.parametrize(
    "body,where,what",
    [
        (LINK_DRAFT[:-2], 0, "runs past"),
        (bytes.fromhex("000200080002000400000000"), 0, "mandatory link type"),
        (LINK_DRAFT[:-4] + bytes.fromhex("7fc00000"), 64, "NaN"),
        (LINK_DRAFT[:-4] + bytes.fromhex("bf800000"), 64, "negative"),
        (LINK_DRAFT[:-4] + bytes.fromhex("7f800000"), 64, "infinite"),
        (bytes.fromhex("00020018" "0001000101000000" "000200040a000002" "0001000101000000"), 20, "twice"),
        (bytes.fromhex("000200080001000201020000"), 4, "expected 1"),
        (bytes.fromhex("80020008000000000000000000"), 12, "truncated"),
        (bytes.fromhex("800200080000000000000000"), 8, "empty ABR chain"),
        (bytes.fromhex("8002000c000000000200000001010101"), 8, "overruns"),
    ],
)
def test_decode_errors_name_offset_and_fault(body, where, what):
    with pytest.raises(wire.DecodeError, match=what) as ei:
        wire.decode(body)
    assert ei.value.offset == where, str(ei.value)


def test_vector_order_is_enforced_both_ways():
    bad = wire.ReachabilityVector(("1.1.1.1",), "0.0.0.1", (wire.PathInfo("2.2.2.2", 2.0, 1.0), wire.PathInfo("3.3.3.3", 1.0, 1.0)))
    with pytest.raises(ValueError, match="ordered"):
        wire.encode([bad])
    good = wire.encode([bad.__class__(bad.abr_chain, bad.area, tuple(reversed(bad.paths)))])
    swapped = good[:16] + good[16 + 28 :] + good[16 : 16 + 28]
    with pytest.raises(wire.DecodeError, match="ordered"):
        wire.decode(swapped)


def test_body_limit():
    big = wire.ReachabilityVector(("1.1.1.1",), "0.0.0.1", tuple(wire.PathInfo("2.2.2.2", float(i), 1.0) for i in range(60)))
    with pytest.raises(ValueError, match="1480"):
        wire.encode([big])


def test_float_policy():
    assert wire.pack_floats([0.0, -0.0, 1.5]) == bytes.fromhex("00000000" "00000000" "3fc00000")
    assert wire.pack_floats([1e-45]) == bytes.fromhex("00000001")  # subnormal kept
    assert wire.pack_floats([1e-50]) == bytes.fromhex("00000000")  # below half the least subnormal
    for v, why in ((math.nan, "NaN"), (-1.0, "negative"), (math.inf, "FLT_MAX"), (3.5e38, "FLT_MAX")):
        with pytest.raises(ValueError, match=why):
            wire.pack_floats([v])
    assert wire.pack_floats([math.inf, 3.5e38], saturate=True) == bytes.fromhex("7f7fffff" * 2)
    assert wire.unpack_floats(bytes.fromhex("7fc00000"))[0] != wire.unpack_floats(bytes.fromhex("7fc00000"))[0]
    with pytest.raises(wire.DecodeError):
        wire.unpack_floats(bytes.fromhex("7fc00000"), strict=True)


@given(st.lists(st.floats(min_value=0, max_value=3.4e38, allow_nan=False), max_size=50))
def test_pack_floats_agrees_with_struct(vals):
    assert wire.pack_floats(vals) == struct.pack(f">{len(vals)}f", *vals)
    assert wire.unpack_floats(wire.pack_floats(vals)) == list(struct.unpack(f">{len(vals)}f", struct.pack(f">{len(vals)}f", *vals)))


def test_json_round_trip_and_field_errors():
    ts = wire.decode(LINK_DRAFT)
    assert [wire.from_dict(wire.to_dict(t)) for t in ts] == ts
    with pytest.raises(ValueError, match=r"x\[0\]: unknown field"):
        wire.from_dict({"tlv": "link", "link_id": "1.1.1.1", "bogus": 1}, "x[0]")
    with pytest.raises(ValueError, match="unknown kind"):
        wire.from_dict({"tlv": "nope"})


def test_pack_floats_never_reinterprets_other_buffers():
    import numpy as np

    ints = np.array([1, 2, 3], dtype=np.int64)
    assert wire.pack_floats(ints) == struct.pack(">3f", 1, 2, 3)
    assert wire.pack_floats(np.array([1.5, 2.5], dtype=np.float32)) == struct.pack(">2f", 1.5, 2.5)
    strided = np.arange(10, dtype=np.float64)[::2]
    assert wire.pack_floats(strided) == struct.pack(">5f", 0, 2, 4, 6, 8)
    assert wire.pack_floats((x for x in (1.0, 2.0))) == struct.pack(">2f", 1, 2)
