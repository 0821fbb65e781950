"""PWR LSA bodies: golden bytes, round trips, and hostile input."""

import dataclasses
import math
import struct

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pyfrr_pwr._core import ffi, lib
from pyfrr_pwr.proto import f32 as wf32
from pyfrr_pwr.proto import wire, wirejson

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
    "000200400001000101000000000200040a000002000300040a010000000400040a010001000600044e9502f9002000044e6e6b28000b00043f800000000c00043f000000"
)


def test_golden_link_tlv_draft_profile():
    assert wire.encode([LINK]) == LINK_DRAFT
    assert wire.decode(LINK_DRAFT) == [LINK]


def test_golden_link_tlv_experimental_profile_avoids_iana_collisions():
    exp = LINK_DRAFT.replace(bytes.fromhex("000b0004"), bytes.fromhex("80010004")).replace(bytes.fromhex("000c0004"), bytes.fromhex("80020004"))
    assert wire.encode([LINK], profile="experimental") == exp
    assert wire.decode(exp, profile="experimental") == [LINK]
    # sub-TLV 11 is RFC 4203's Link Local/Remote Identifiers: in the
    # experimental profile it must be an unknown sub-TLV, never a PWR value
    (t,) = wire.decode(LINK_DRAFT, profile="experimental")
    assert t.pwr_consumed is None and (11, bytes.fromhex("3f800000")) in t.unknown


# a multi-capacity port running at 10 Gb/s of its 20 (sec. 2.1.1): sub-TLV
# 32772 follows max bw, in both profiles
LINK_HB = dataclasses.replace(LINK, highest_bw=2.5e9)
LINK_HB_DRAFT = bytes.fromhex(
    "000200480001000101000000000200040a000002000300040a010000000400040a010001000600044e9502f9800400044f1502f9002000044e6e6b28000b00043f800000000c00043f000000"
)


def test_golden_highest_capacity_sub_tlv_in_both_profiles():
    assert wire.ST_HIGHEST_BW == 32772
    assert wire.encode([LINK_HB]) == LINK_HB_DRAFT
    assert wire.decode(LINK_HB_DRAFT) == [LINK_HB]
    exp = LINK_HB_DRAFT.replace(bytes.fromhex("000b0004"), bytes.fromhex("80010004")).replace(bytes.fromhex("000c0004"), bytes.fromhex("80020004"))
    assert wire.encode([LINK_HB], profile="experimental") == exp
    assert wire.decode(exp, profile="experimental") == [LINK_HB]
    # absent: the port runs at its highest capacity, nothing is sent
    assert wire.decode(LINK_DRAFT)[0].highest_bw is None
    assert wirejson.from_dict(wirejson.to_dict(LINK_HB)) == LINK_HB
    assert wirejson.to_dict(LINK_HB)["highest_bw"] == 2.5e9


@pytest.mark.parametrize("v", [0.0, -0.0, 1e-45, 1.1754942e-38, 3.4028234663852886e38, 1, 2.5e9])
def test_highest_capacity_accepts_whatever_a_sender_can_send(v):
    (t,) = wire.decode(wire.encode([dataclasses.replace(LINK, highest_bw=v)]))
    assert t.highest_bw == struct.unpack(">f", struct.pack(">f", v))[0]


@pytest.mark.parametrize("v,why", [(math.nan, "NaN"), (-1.0, "negative"), (math.inf, "FLT_MAX"), (3.5e38, "FLT_MAX"), ("1e9", "not a number")])
def test_highest_capacity_is_validated_like_max_bw(v, why):
    for field in ("max_bw", "highest_bw"):
        with pytest.raises(ValueError, match=f"{field}: .*{why}"):
            wire.encode([dataclasses.replace(LINK, **{field: v})])


def test_malformed_highest_capacity_names_the_offset():
    head = "0001000101000000000200040a000002"
    for sub, where, what in (
        ("8004000200000000", 20, "highest capacity sub-TLV 32772: length 2, expected 4"),
        ("800400080000000000000000", 20, "length 8, expected 4"),
        ("800400047fc00000", 24, "highest capacity: NaN"),
        ("80040004ff800000", 24, "highest capacity: negative"),
        ("800400047f800000", 24, "highest capacity: infinite"),
        ("800400043f800000800400043f800000", 28, "appears twice"),
    ):
        body = bytes.fromhex(f"0002{(len(head + sub) // 2):04x}" + head + sub)
        with pytest.raises(wire.DecodeError, match=what) as ei:
            wire.decode(body)
        assert ei.value.offset == where, str(ei.value)


def test_known_sub_tlv_is_refused_as_unknown():
    with pytest.raises(ValueError, match="sub-TLV 32772 is a known one"):
        wire.encode([dataclasses.replace(LINK, unknown=((32772, b"\0\0\0\0"),))])
    # sub-TLV 11 is known in the draft profile only
    wire.encode([dataclasses.replace(LINK, pwr_consumed=None, unknown=((11, b"\0" * 8),))], profile="experimental")
    with pytest.raises(ValueError, match="known"):
        wire.encode([dataclasses.replace(LINK, pwr_consumed=None, unknown=((11, b"\0" * 8),))])


def test_golden_node_tlvs():
    tlvs = [
        wire.TEEndpoint("10.0.0.9", wire.EP_HEAD | wire.EP_TAIL),
        wire.AreaBorder("10.0.0.9", ("0.0.0.0", "0.0.0.1")),
        wire.ReachabilityVector(("10.0.0.1", "10.0.0.2"), "0.0.0.2", (wire.PathInfo("10.0.0.7", 0.5, 1e9, 30, 3, 1, 250),)),
    ]
    gold = bytes.fromhex(
        "800000080a00000900000003"
        "8001000c0a0000090000000000000001"
        "8002002c"
        "00000002"
        "02000000"
        "0a000001"
        "0a000002"
        "0a000007"
        "3f000000"
        "4e6e6b28"
        "0000001e"
        "00030000"
        "00000001"
        "000000fa"
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
    highest_bw=opt(f32),
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
        (bytes.fromhex("000200180001000101000000000200040a0000020001000101000000"), 20, "twice"),
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
    assert wire.pack_floats([0.0, -0.0, 1.5]) == bytes.fromhex("00000000000000003fc00000")
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
    assert [wirejson.from_dict(wirejson.to_dict(t)) for t in ts] == ts
    with pytest.raises(ValueError, match=r"x\[0\]: unknown field"):
        wirejson.from_dict({"tlv": "link", "link_id": "1.1.1.1", "bogus": 1}, "x[0]")
    with pytest.raises(ValueError, match="unknown kind"):
        wirejson.from_dict({"tlv": "nope"})


@given(st.lists(tlvs, max_size=4))
def test_json_round_trip(ts):
    assert [wirejson.from_dict(wirejson.to_dict(t)) for t in ts] == ts


# ------------------------------------------- one float policy, two paths

FLT_MAX = 3.4028234663852886e38
SPECIALS = [0.0, -0.0, math.nan, -math.nan, math.inf, -math.inf, FLT_MAX, math.nextafter(FLT_MAX, math.inf),
            FLT_MAX * (1 + 2**-25), 3.5e38, 1e-45, 7.006e-46, 7e-46, 1e-50, 5e-324, -5e-324, -1e-45,
            1.1754943508222875e-38, 1.1754942106924411e-38, -1.0, 1e300, -1e300]  # fmt: skip
any_number = (
    st.floats()  # NaN, infinities, negatives, subnormals, > FLT_MAX
    | st.floats(width=32)
    | st.floats(min_value=FLT_MAX * (1 - 2**-20), max_value=FLT_MAX * (1 + 2**-20))
    | st.floats(min_value=-1e-37, max_value=1e-37)
    | st.sampled_from(SPECIALS)
    | st.integers(-(2**1100), 2**1100)
)
PACK_WHY = {lib.PWR_F32_ENAN: "is NaN", lib.PWR_F32_ENEG: "is negative", lib.PWR_F32_ERANGE: "exceeds FLT_MAX"}


def c_pack(v, flags=0):
    out = ffi.new("uint8_t[4]")
    rc = lib.pwr_f32_pack(ffi.new("double[1]", [v]), 1, out, 4, flags, ffi.NULL)
    return rc, bytes(ffi.buffer(out))


@given(any_number)
@example(2**128 - 2**103)  # an int over FLT_MAX that rounds to it as a double
def test_struct_path_and_c_kernel_agree_on_every_float(v):
    try:
        rc, packed = c_pack(v)
    except OverflowError:  # an int beyond any double: the C path names it too
        with pytest.raises(ValueError, match="FLT_MAX|negative"):
            wire.pack_floats([v])
        with pytest.raises(ValueError, match="FLT_MAX|negative"):
            wf32._chk(v, "x")
        return
    assert wf32._pack_code(float(v)) == rc
    assert wf32._pack_code(float(v), saturate=True) == c_pack(v, lib.PWR_F32_SATURATE)[0]
    link = dataclasses.replace(LINK, highest_bw=v)
    vec = wire.ReachabilityVector(("1.1.1.1",), "0.0.0.1", (wire.PathInfo("2.2.2.2", v, v),))
    if rc == lib.PWR_F32_OK:
        assert struct.pack(">f", wf32._chk(v, "x")) == packed == wire.pack_floats([v])
        assert bytes.fromhex("80040004") + packed in wire.encode([link])
        assert wire.encode([vec])[20:28] == packed * 2
    else:
        for encode in (lambda: wf32._chk(v, "x"), lambda: wire.pack_floats([v]), lambda: wire.encode([link]),
                       lambda: wire.encode([vec])):  # fmt: skip
            with pytest.raises(ValueError, match=PACK_WHY[rc]):
                encode()


@given(st.integers(0, 2**32 - 1) | st.sampled_from([0x7FC00000, 0xFFC00000, 0x7F800001, 0x7F800000, 0xFF800000,
                                                    0x80000000, 0x80000001, 0x00000001, 0x7F7FFFFF]))  # fmt: skip
def test_struct_path_and_c_kernel_agree_on_every_decoded_float(u):
    raw = u.to_bytes(4, "big")
    out = ffi.new("double[1]")
    rc = lib.pwr_f32_unpack(raw, 4, out, 1, lib.PWR_F32_STRICT, ffi.NULL)
    assert wf32._unpack_code(struct.unpack(">f", raw)[0]) == rc
    body = bytes.fromhex("000200180001000101000000000200040a00000280040004") + raw
    if rc == lib.PWR_F32_OK:
        x = wf32._f32_at(raw, 0, "v")
        assert struct.pack(">d", x) == struct.pack(">d", out[0])  # same bits, -0.0 included
        assert wire.decode(body)[0].highest_bw == x
        assert wire.unpack_floats(raw, strict=True) == [x]
    else:
        why = {lib.PWR_F32_ENAN: "NaN", lib.PWR_F32_ENEG: "negative", lib.PWR_F32_EINF: "infinite"}[rc]
        for dec in (lambda: wf32._f32_at(raw, 0, "v"), lambda: wire.decode(body), lambda: wire.unpack_floats(raw, True)):
            with pytest.raises(wire.DecodeError, match=why):
                dec()


def test_pack_floats_names_what_is_not_a_number():
    with pytest.raises(ValueError, match=r"float #1: '2' is not a number"):
        wire.pack_floats(x for x in (1.0, "2"))
    with pytest.raises(ValueError, match=r"float #0: .* exceeds FLT_MAX"):
        wire.pack_floats([10**400])
    assert wire.pack_floats([True, 2]) == struct.pack(">2f", 1, 2)


def test_pack_floats_never_reinterprets_other_buffers():
    import numpy as np

    ints = np.array([1, 2, 3], dtype=np.int64)
    assert wire.pack_floats(ints) == struct.pack(">3f", 1, 2, 3)
    assert wire.pack_floats(np.array([1.5, 2.5], dtype=np.float32)) == struct.pack(">2f", 1.5, 2.5)
    strided = np.arange(10, dtype=np.float64)[::2]
    assert wire.pack_floats(strided) == struct.pack(">5f", 0, 2, 4, 6, 8)
    assert wire.pack_floats(x for x in (1.0, 2.0)) == struct.pack(">2f", 1, 2)


# ------------------------------------------------- SRv6 (issue 7): locator TLV, End.X sub-TLV

LOC = wire.SRv6Locator("10.0.0.2", "fd00:a00:2::/48", "fd00:a00:2:1::", (("192.0.2.0/24", "fd00:a00:2:4:0:18:c000:200"),))
LOC_BYTES = bytes.fromhex(
    "80030040"  # type 32771, length 40 + 24
    "0a000002"
    "30000001"  # router ID; /48, reserved, 1 entry
    "fd000a00000200000000000000000000"  # locator
    "fd000a00000200010000000000000000"  # End SID
    "18000000"
    "c0000200"
    "fd000a000002000400000018c0000200"  # /24, 192.0.2.0, End.DX4 SID
)
END_X_LINK = wire.LinkTLV("10.0.0.3", local_addrs=("10.1.2.1",), end_x="fd00:a00:2:2::a01:201")
END_X_BYTES = bytes.fromhex("0002002c0001000101000000000200040a000003000300040a01020180050010fd000a0000020002000000000a010201")


@pytest.mark.parametrize("profile", sorted(wire.PROFILES))
def test_golden_srv6_locator_and_end_x_in_both_profiles(profile):
    assert wire.TLV_SRV6_LOCATOR == 32771 and wire.ST_END_X_SID == 32773
    assert wire.encode([LOC], profile) == LOC_BYTES
    assert wire.decode(LOC_BYTES, profile) == [LOC]
    assert wire.encode([END_X_LINK], profile) == END_X_BYTES
    assert wire.decode(END_X_BYTES, profile) == [END_X_LINK]


def test_srv6_locator_without_prefixes_and_json():
    t = wire.SRv6Locator("10.0.0.1", "fd00:a00:1::/48", "fd00:a00:1:1::")
    b = wire.encode([t])
    assert len(b) == 4 + 40 and wire.decode(b) == [t]
    for x in (t, LOC, END_X_LINK):
        d = wirejson.to_dict(x)
        assert wirejson.from_dict(d) == x
    assert wirejson.to_dict(LOC)["tlv"] == "srv6-locator"
    assert wirejson.to_dict(LOC)["dx4"] == [["192.0.2.0/24", "fd00:a00:2:4:0:18:c000:200"]]
    with pytest.raises(ValueError, match="dx4"):
        wirejson.from_dict({"tlv": "srv6-locator", "router_id": "10.0.0.1", "locator": "fd00::/48", "end_sid": "fd00:0:0:1::", "dx4": ["x"]})


@pytest.mark.parametrize(
    "t,what",
    [
        (dataclasses.replace(LOC, end_sid="fd00:a00:3:1::"), "not in locator"),
        (dataclasses.replace(LOC, locator="fd00:a00:2::1/48"), "host bits"),
        (dataclasses.replace(LOC, end_sid="ff02::1"), "unicast"),
        (dataclasses.replace(LOC, dx4=(("192.0.2.1/24", "fd00:a00:2:4::"),)), "IPv4 prefix"),
        (dataclasses.replace(LOC, dx4=(("192.0.2.0/24", "fd00:a00:9:4::"),)), "not in locator"),
        (dataclasses.replace(LOC, dx4=LOC.dx4 * 2), "twice"),
        (dataclasses.replace(LOC, router_id="x"), "router_id"),
        (dataclasses.replace(END_X_LINK, end_x="::"), "unicast"),
        (dataclasses.replace(END_X_LINK, end_x="10.0.0.1"), "IPv6"),
    ],
)
def test_srv6_encode_refuses_what_it_cannot_send(t, what):
    with pytest.raises(ValueError, match=what):
        wire.encode([t])


def _patch(b: bytes, off: int, new: bytes) -> bytes:
    return b[:off] + new + b[off + len(new) :]


@pytest.mark.parametrize(
    "body,where,what",
    [
        (LOC_BYTES[:4] + LOC_BYTES[4:], None, None),
        (bytes.fromhex("80030024") + LOC_BYTES[4:40], 0, "not 40 \\+ 24N"),
        (_patch(LOC_BYTES, 2, b"\x00\x41") + b"\0" * 4, 0, "not 40 \\+ 24N"),
        (_patch(LOC_BYTES, 10, b"\x00\x02"), 10, "2 End.DX4 entries announced, 1 present"),
        (_patch(LOC_BYTES, 8, b"\x00"), 8, "locator length 0"),
        (_patch(LOC_BYTES, 8, b"\x81"), 8, "locator length 129"),
        (_patch(LOC_BYTES, 12 + 15, b"\x01"), 12, "host bits"),
        (_patch(LOC_BYTES, 28, bytes.fromhex("fd000a03")), 28, "End SID"),
        (_patch(LOC_BYTES, 28, b"\xff"), 28, "End SID"),
        (_patch(LOC_BYTES, 44, b"\x21"), 44, "prefix length 33"),
        (_patch(LOC_BYTES, 48 + 3, b"\x01"), 48, "host bits"),
        (_patch(LOC_BYTES, 52, b"\0" * 16), 52, "End.DX4 SID"),
        (LOC_BYTES[:-2], 0, "runs past"),
        (END_X_BYTES[:2] + b"\x00\x28" + END_X_BYTES[4:28] + bytes.fromhex("8005000c") + END_X_BYTES[32:44], 28, "length 12, expected 16"),
        (_patch(END_X_BYTES, 32, b"\xff"), 32, "not a unicast SID"),
        (_patch(END_X_BYTES, 32, b"\0" * 16), 32, "not a unicast SID"),
        (END_X_BYTES[:2] + b"\x00\x40" + END_X_BYTES[4:] + END_X_BYTES[28:], 48, "appears twice"),
    ],
)
def test_srv6_decode_errors_name_offset_and_fault(body, where, what):
    if what is None:
        assert wire.decode(body) == [LOC]
        return
    with pytest.raises(wire.DecodeError, match=what) as ei:
        wire.decode(body)
    assert ei.value.offset == where, str(ei.value)


def test_srv6_locator_with_two_entries_refuses_a_duplicate_prefix():
    e = LOC_BYTES[44:]
    b = _patch(LOC_BYTES[:44], 2, b"\x00\x58")
    b = _patch(b, 10, b"\x00\x02") + e + e
    with pytest.raises(wire.DecodeError, match="appears twice") as ei:
        wire.decode(b)
    assert ei.value.offset == 68


ip6_in = lambda loc: st.integers(1, 2**80 - 1).map(lambda v: str(__import__("ipaddress").IPv6Address(loc | v)))  # noqa: E731


@st.composite
def srv6_locators(draw):
    import ipaddress

    base = int(ipaddress.IPv6Address("fd00::")) | (draw(st.integers(1, 2**32 - 1)) << 80)
    pfx = draw(
        st.lists(
            st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)).map(lambda t: str(ipaddress.IPv4Network((t[0], t[1]), strict=False))),
            max_size=5,
            unique=True,
        )
    )
    return wire.SRv6Locator(draw(ip), str(ipaddress.IPv6Network((base, 48))), draw(ip6_in(base)), tuple((p, draw(ip6_in(base))) for p in pfx))


srv6_links = st.builds(
    wire.LinkTLV,
    link_id=ip,
    local_addrs=st.lists(ip, max_size=2).map(tuple),
    te_metric=opt(u32),
    end_x=opt(ip6_in(int(__import__("ipaddress").IPv6Address("fd00:a00:1::")))),
)


@given(st.lists(srv6_locators() | srv6_links, max_size=4), st.sampled_from(sorted(wire.PROFILES)))
def test_srv6_round_trip(ts, profile):
    body = wire.encode(ts, profile)
    assert wire.decode(body, profile) == ts
    assert [wirejson.from_dict(wirejson.to_dict(t)) for t in ts] == ts


@given(st.lists(srv6_locators() | srv6_links, min_size=1, max_size=3), st.data())
def test_srv6_mutated_bodies_only_raise_decode_error(ts, data):
    body = bytearray(wire.encode(ts))
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
    except wire.DecodeError as exc:
        assert 0 <= exc.offset <= len(body)


# ---------------------------------------------- issue 9: energy, CATS, delay

ENERGY = wire.NodeEnergy(
    "10.0.0.1",
    power_w=wire.Reading(350.0, 1700000000, 3, "measured", 1),
    supply_load=wire.Reading(0.5, 1700000000, 0, "estimated", 2),
    price_per_mwh=wire.Reading(-5.5, 1700000000, 0, "estimated", 2),
    currency="EUR",
    sources=((1, "redfish"), (2, "grid")),
)


def test_golden_node_energy_tlv():
    body = wire.encode([ENERGY])
    # TLV 32772, router ID; source 1 "redfish" (3 octets of padding), source 2 "grid";
    # power 350 W (age 3 s, measured, source 1); supply load 0.5 (estimated, source 2);
    # price -5.5 EUR/MWh (19 octets: the reading, "EUR", one of padding)
    want = bytes.fromhex("""
        8004 0060 0a000001
        0008 0009 0001 72656466697368 000000
        0008 0006 0002 67726964 0000
        0001 0010 43af0000 6553f100 0003 01 00 0001 0000
        0004 0010 3f000000 6553f100 0000 02 00 0002 0000
        0006 0013 c0b00000 6553f100 0000 02 00 0002 0000 455552 00
    """)
    assert body == want
    assert wire.decode(body) == [ENERGY]
    assert wire.TLV_NODE_ENERGY == 32772 and wire.TLV_SERVICE_INSTANCE == 32773
    assert wirejson.from_dict(wirejson.to_dict(ENERGY)) == ENERGY


SERVICE = wire.ServiceInstance(
    "10.0.0.1", "inference", "10.9.0.1", 1.25e8, (wire.L0Metric(4, 250.0, "mean", "measured", 10000),), 7, "normalised", "mean", 10000
)


def test_golden_service_instance_tlv():
    body = wire.encode([SERVICE])
    # TLV 32773, router ID; service ID "inference"; instance address; capacity 1.25e8
    # bytes/s; L0 cpu_power (4) mean measured 10 s 250 W; L2 score 7 normalised mean 10 s
    want = bytes.fromhex("""
        8005 0040 0a000001
        0001 0009 696e666572656e6365 000000
        0002 0004 0a090001
        0003 0004 4cee6b28
        0004 000c 0004 01 02 00002710 437a0000
        0005 0008 07 03 01 00 00002710
    """)
    assert body == want
    assert wire.decode(body) == [SERVICE]
    assert wirejson.from_dict(wirejson.to_dict(SERVICE)) == SERVICE
    v6 = wire.ServiceInstance("10.0.0.1", "inference", "fd00::9")
    assert wire.decode(wire.encode([v6])) == [v6]


DELAY_LINK = wire.LinkTLV("10.0.0.2", delay_us=100, delay_min_us=90, delay_max_us=130, delay_minmax_anomalous=True, delay_var_us=12)


def test_golden_rfc7471_delay_sub_tlvs():
    body = wire.encode([DELAY_LINK])
    # 27 delay, 29 delay variation (8 reserved bits, 24-bit us), 28 min/max (A flag on min)
    assert body == bytes.fromhex("0002002c0001000101000000000200040a000002001b000400000064001d00040000000c001c00088000005a00000082")
    assert wire.decode(body) == [DELAY_LINK]
    for prof in wire.PROFILES:  # the RFC 7471 numbers in both profiles: no collision
        assert wire.decode(wire.encode([DELAY_LINK], prof), prof) == [DELAY_LINK]
    # RFC 7471 sec. 4.3: reserved bits ignored on receipt
    (t,) = wire.decode(body.replace(bytes.fromhex("001d00040000000c"), bytes.fromhex("001d0004ff00000c")))
    assert t.delay_var_us == 12


def test_path_info_carries_jitter_in_the_reserved_field():
    v = wire.ReachabilityVector(("1.1.1.1",), "0.0.0.1", (wire.PathInfo("2.2.2.2", 1.0, 1.0, 5, 2, 0, 300, 77),))
    body = wire.encode([v])
    assert len(body) == 4 + 8 + 4 + wire.PATH_INFO_LEN and body[-10:-8] == (77).to_bytes(2, "big")
    assert wire.decode(body) == [v]
    old = wire.ReachabilityVector(("1.1.1.1",), "0.0.0.1", (wire.PathInfo("2.2.2.2", 1.0, 1.0),))
    assert wire.decode(wire.encode([old]))[0].paths[0].jitter_us == 0  # an old sender's zero: no variation known
    with pytest.raises(ValueError, match="jitter_us"):
        wire.encode([wire.ReachabilityVector(("1.1.1.1",), "0.0.0.1", (wire.PathInfo("2.2.2.2", 1.0, 1.0, jitter_us=70000),))])


@pytest.mark.parametrize(
    "t,what",
    [
        (dataclasses.replace(DELAY_LINK, delay_min_us=200), "exceeds delay_max_us"),
        (dataclasses.replace(DELAY_LINK, delay_max_us=None), "both or neither"),
        (dataclasses.replace(DELAY_LINK, delay_var_us=1 << 24), "24-bit"),
        (dataclasses.replace(ENERGY, supply_load=wire.Reading(1.5)), "ratio"),
        (dataclasses.replace(ENERGY, power_w=wire.Reading(math.nan)), "NaN"),
        (dataclasses.replace(ENERGY, power_w=wire.Reading(-1.0)), "negative"),
        (dataclasses.replace(ENERGY, price_per_mwh=wire.Reading(math.inf)), "finite"),
        (dataclasses.replace(ENERGY, currency="eur"), "ISO 4217"),
        (dataclasses.replace(ENERGY, power_w=wire.Reading(1.0, source=9)), "not named"),
        (dataclasses.replace(ENERGY, power_w=wire.Reading(1.0, accuracy="gold")), "accuracy"),
        (dataclasses.replace(ENERGY, sources=((1, "a"), (1, "b"))), "twice"),
        (dataclasses.replace(ENERGY, sources=((1, "x" * 65),)), "at most 64"),
        (dataclasses.replace(ENERGY, sources=((1, "bad\nname"),)), "printable"),
        (dataclasses.replace(SERVICE, l2_score=11), "0..10"),
        (dataclasses.replace(SERVICE, address="224.0.0.1"), "unicast"),
        (dataclasses.replace(SERVICE, address="nope"), "not an IP"),
        (dataclasses.replace(SERVICE, service_id=""), "printable"),
        (dataclasses.replace(SERVICE, l0=(wire.L0Metric(1, 0.5), wire.L0Metric(1, 0.6))), "twice"),
        (dataclasses.replace(SERVICE, l0=(wire.L0Metric(1, 0.5, statistic="p99"),)), "statistic"),
    ],
)
def test_issue9_encode_refuses_what_it_cannot_send(t, what):
    with pytest.raises(ValueError, match=what):
        wire.encode([t])


def _sub(body: bytes, old: str, new: str) -> bytes:
    o, n = bytes.fromhex(old), bytes.fromhex(new)
    assert o in body
    return body.replace(o, n)


@pytest.mark.parametrize(
    "mutate,what",
    [
        (lambda b: _sub(b, "000400103f000000", "000400103fc00000"), "not a ratio"),
        (lambda b: _sub(b, "0001001043af0000", "000100107fc00000"), "NaN"),
        (lambda b: _sub(b, "00060013c0b00000", "000600137f800000"), "not a finite"),
        (lambda b: _sub(b, "455552", "657572"), "currency"),
        (lambda b: _sub(b, "6553f100000301", "6553f100000309"), "accuracy code"),
        (lambda b: _sub(b, "000301000001", "000301000005"), "not named"),
        (lambda b: _sub(b, "00080006000267726964", "00080006000167726964"), "twice"),
        (lambda b: _sub(b, "000400103f000000", "000100103f000000"), "appears twice"),
        (lambda b: _sub(b, "00080009000172656466697368", "000800090001726564ff697368"), "UTF-8"),
    ],
)
def test_node_energy_decode_errors_name_the_fault(mutate, what):
    with pytest.raises(wire.DecodeError, match=what):
        wire.decode(mutate(wire.encode([ENERGY])))


@pytest.mark.parametrize(
    "mutate,what",
    [
        (lambda b: _sub(b, "0005000807", "000500080b"), "0..10"),
        (lambda b: _sub(b, "000200040a090001", "00020004e0000001"), "unicast"),
        (lambda b: _sub(b, "00010009696e666572656e6365000000", "00090009696e666572656e6365000000"), "mandatory service ID"),
        (lambda b: _sub(b, "0004000c00040102", "0004000c00040902"), "statistic"),
        (lambda b: _sub(b, "000300044cee6b28", "00030004ff800000"), "negative|infinite"),
    ],
)
def test_service_instance_decode_errors_name_the_fault(mutate, what):
    body = mutate(wire.encode([SERVICE]))
    with pytest.raises(wire.DecodeError, match=what):
        wire.decode(body)


def test_unknown_service_sub_tlv_is_kept_not_refused():
    t = dataclasses.replace(SERVICE, unknown=((9, bytes.fromhex("0a090002")),))  # RFC 3630 sec. 2.3.2
    body = wire.encode([t])
    assert body.endswith(bytes.fromhex("000900040a090002"))
    assert wire.decode(body) == [t]


def test_min_greater_than_max_delay_is_a_decode_error():
    body = wire.encode([DELAY_LINK])
    with pytest.raises(wire.DecodeError, match="exceeds max"):
        wire.decode(_sub(body, "8000005a00000082", "800000ff00000082"))


readings = st.builds(wire.Reading, value=f32, ts=u32, age_s=st.integers(0, 65535), accuracy=st.sampled_from(sorted(wire.ACCURACY)), source=st.just(0))
ratios = st.builds(wire.Reading, value=st.floats(0, 1, width=32), ts=u32, accuracy=st.sampled_from(sorted(wire.ACCURACY)))
names = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2FFF, exclude_characters="\x7f"), min_size=1, max_size=20)


@st.composite
def energies(draw):
    srcs = tuple((i + 1, n) for i, n in enumerate(draw(st.lists(names, max_size=3))))
    ids = st.sampled_from([0] + [i for i, _ in srcs])
    r = lambda s: opt(s.flatmap(lambda x: ids.map(lambda i: dataclasses.replace(x, source=i))))  # noqa: E731
    price = draw(r(st.builds(wire.Reading, value=st.floats(-3.4028234663852886e38, 3.4028234663852886e38, width=32), ts=u32)))
    return wire.NodeEnergy(
        draw(ip),
        power_w=draw(r(readings)),
        capacity_w=draw(r(readings)),
        energy_j=draw(r(readings)),
        supply_load=draw(r(ratios)),
        green_share=draw(r(ratios)),
        price_per_mwh=price,
        currency=draw(st.sampled_from(["EUR", "USD", "CNY"])) if price else None,
        carbon_g_per_kwh=draw(r(readings)),
        sources=srcs,
        unknown=tuple((t, b) for t, b in draw(st.lists(st.tuples(st.integers(100, 65535), st.binary(max_size=9)), max_size=2))),
    )


l0s = st.lists(
    st.builds(
        wire.L0Metric,
        metric=st.integers(0, 65535),
        value=f32,
        statistic=st.sampled_from(sorted(wire.STATISTICS)),
        source=st.sampled_from(sorted(wire.METRIC_SOURCES)),
        window_ms=u32,
    ),
    max_size=4,
    unique_by=lambda m: (m.metric, m.statistic),
).map(tuple)
services = st.builds(
    wire.ServiceInstance,
    router_id=ip,
    service_id=names,
    address=st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)).filter(lambda a: not (a.is_unspecified or a.is_multicast)).map(str),
    capacity=opt(f32),
    l0=l0s,
    l2_score=opt(st.integers(0, 10)),
    l2_source=st.sampled_from(sorted(wire.METRIC_SOURCES)),
    l2_statistic=st.sampled_from(sorted(wire.STATISTICS)),
    l2_window_ms=u32,
    unknown=st.lists(st.tuples(st.integers(100, 65535), st.binary(max_size=9)), max_size=2).map(tuple),
).map(lambda s: s if s.l2_score is not None else dataclasses.replace(s, l2_source="normalised", l2_statistic="mean", l2_window_ms=0))


@st.composite
def delay_links(draw):
    mm = draw(opt(st.tuples(st.integers(0, 2**24 - 1), st.integers(0, 2**24 - 1)).map(sorted)))
    return wire.LinkTLV(
        draw(ip),
        delay_us=draw(opt(st.integers(0, 2**24 - 1))),
        delay_min_us=mm[0] if mm else None,
        delay_max_us=mm[1] if mm else None,
        delay_minmax_anomalous=bool(mm) and draw(st.booleans()),
        delay_var_us=draw(opt(st.integers(0, 2**24 - 1))),
    )


jitter_vectors = st.builds(
    wire.ReachabilityVector,
    abr_chain=st.lists(ip, min_size=1, max_size=2).map(tuple),
    area=ip,
    paths=st.lists(st.builds(wire.PathInfo, endpoint=ip, pwr_sum=f32, min_avail_bw=f32, delay_us=u32, jitter_us=st.integers(0, 65535)), max_size=4).map(
        lambda ps: tuple(sorted(ps, key=lambda p: p.pwr_sum))
    ),
)
issue9 = st.one_of(energies(), services, delay_links(), jitter_vectors)


@given(st.lists(issue9, max_size=4), st.sampled_from(sorted(wire.PROFILES)))
def test_issue9_round_trip(ts, profile):
    try:
        body = wire.encode(ts, profile)
    except ValueError as exc:
        assert "exceeds 1480" in str(exc)
        return
    back = wire.decode(body, profile)
    assert back == ts
    assert wire.encode(back, profile) == body
    assert [wirejson.from_dict(wirejson.to_dict(t)) for t in ts] == ts


@given(st.lists(issue9, min_size=1, max_size=3), st.data())
def test_issue9_mutated_bodies_only_raise_decode_error(ts, data):
    try:
        body = bytearray(wire.encode(ts))
    except ValueError:
        return
    for _ in range(data.draw(st.integers(1, 6))):
        op = data.draw(st.sampled_from(["flip", "truncate", "extend", "length"]))
        if op == "flip" and body:
            body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
        elif op == "truncate":
            del body[data.draw(st.integers(0, len(body))) :]
        elif op == "length" and len(body) >= 4:  # lie about a (sub-)TLV length
            i = data.draw(st.integers(0, (len(body) - 4) // 4)) * 4
            body[i + 2 : i + 4] = data.draw(st.integers(0, 0xFFFF)).to_bytes(2, "big")
        else:
            body += data.draw(st.binary(max_size=8))
    try:
        back = wire.decode(bytes(body))
    except wire.DecodeError:
        return
    wire.encode(back)  # whatever decodes re-encodes


@given(st.binary(max_size=120))
def test_issue9_tlvs_with_random_values_only_raise_decode_error(v):
    for t in (wire.TLV_NODE_ENERGY, wire.TLV_SERVICE_INSTANCE):
        body = struct.pack(">HH", t, len(v)) + v + b"\0" * (-len(v) % 4)
        try:
            wire.decode(body)
        except wire.DecodeError as exc:
            assert 0 <= exc.offset <= len(body)
