"""The OSPF API protocol layer, byte by byte (no sockets)."""

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyfrr_pwr.proto import ospfapi as api


def test_register_opaque_type_bytes():
    assert api.encode_request(api.RegisterOpaqueType(10, 200), 1) == bytes.fromhex("01010004 00000001 0ac80000")


def test_lsa_filter_type_mask_is_one_shifted_by_type_minus_one():
    # type 10 -> 0x0200 (ospf_api.h Power2[10]); FRR's ospfclient.py sends 0x0400
    f = api.LsaFilter((10,), api.ORIGIN_ANY, ("0.0.0.1",))
    assert f.pack() == bytes.fromhex("0200 02 01 00000001")
    assert api.LsaFilter((1, 2, 10)).pack()[:2] == bytes.fromhex("0203")
    with pytest.raises(ValueError):
        api.LsaFilter((17,)).pack()
    assert api.encode_request(api.RegisterEvent(f), 7) == bytes.fromhex("01030008 00000007 0200020100000001")
    assert api.encode_request(api.SyncLsdb(api.LsaFilter()), 8)[1] == api.MsgType.SYNC_LSDB


def test_originate_request_bytes():
    body = bytes.fromhex("80000008 0a000001 00000003")
    msg = api.encode_request(api.OriginateRequest(10, 200, 5, body, area="0.0.0.1"), 3)
    assert msg[:8] == bytes.fromhex("01050028 00000003")  # 8 + 20 + 12 octets
    assert msg[8:16] == bytes.fromhex("00000000 00000001")  # ifaddr, area
    hdr = api.LsaHeader.unpack(msg, 16)
    assert (hdr.type, hdr.lsid, hdr.length) == (10, "200.0.0.5", 32)
    assert msg[36:] == body
    with pytest.raises(ValueError, match="multiple of 4"):
        api.encode_request(api.OriginateRequest(10, 200, 5, b"abc"), 1)
    with pytest.raises(ValueError, match="24 bits"):
        api.encode_request(api.OriginateRequest(10, 200, 1 << 24, b""), 1)


def test_delete_request_with_zero_length_flag():
    assert api.encode_request(api.DeleteRequest(10, 200, 5, "0.0.0.1", zero_len=True), 4) == bytes.fromhex("0106000c 00000004 00000001 0ac80001 00000005")


@pytest.mark.parametrize("req,t", [(api.SyncReachable(), 7), (api.SyncIsm(), 8), (api.SyncNsm(), 9), (api.SyncRouterId(), 19)])
def test_sync_requests_carry_four_zero_bytes(req, t):
    assert api.encode_request(req, 9) == struct.pack(">BBHL", 1, t, 4, 9) + b"\0" * 4


def msg(t, body, seq=0):
    return struct.pack(">BBHL", 1, t, len(body), seq) + body


LSA_HDR = api.LsaHeader(3, 0x42, 10, "200.0.0.5", "10.17.255.2", 0x80000002, 0xABCD, 32)
LSA_BODY = bytes.fromhex("80000008 0a000001 00000003")


def test_decode_every_notification():
    d = api.Decoder()
    stream = b"".join(
        [
            msg(10, bytes.fromhex("fb000000"), 5),
            msg(11, bytes.fromhex("0ac80000 00000001")),
            msg(12, bytes.fromhex("00000000 00000001 01000000") + LSA_HDR.pack() + LSA_BODY),
            msg(13, bytes.fromhex("00000000 00000001 00000000") + LSA_HDR.pack() + LSA_BODY),
            msg(14, bytes.fromhex("0a000001 00000001")),
            msg(15, bytes.fromhex("0a000001")),
            msg(16, bytes.fromhex("0a000001 00000001 04000000")),
            msg(17, bytes.fromhex("0a000001 0a000002 0a11ff03 09000000")),
            msg(18, bytes.fromhex("0001 0001 0a11ff01 0a11ff02")),
            msg(20, bytes.fromhex("0a11ff02")),
        ]
    )
    out = []
    for i in range(0, len(stream), 7):  # arbitrary TCP segmentation
        out += d.feed(stream[i : i + 7])
    assert out[0] == api.Reply(5, -5) and out[0].error == "OPAQUETYPEINUSE"
    assert out[1] == api.ReadyNotify(10, 200, "0.0.0.1")
    assert out[2] == api.LsaUpdate("0.0.0.0", "0.0.0.1", True, LSA_HDR, LSA_BODY)
    assert out[2].header.opaque_type == 200 and out[2].header.opaque_id == 5
    assert isinstance(out[3], api.LsaDelete) and not out[3].self_originated
    assert out[4] == api.NewIf("10.0.0.1", "0.0.0.1")
    assert out[5] == api.DelIf("10.0.0.1")
    assert out[6].state == "PointToPoint"
    assert out[7] == api.NsmChange("10.0.0.1", "10.0.0.2", "10.17.255.3", 9) and out[7].state == "Full"
    assert out[8] == api.ReachableChange(("10.17.255.1",), ("10.17.255.2",))
    assert out[9] == api.RouterIdChange("10.17.255.2")
    assert d.buf == bytearray()


def test_malformed_bodies_are_reported_not_fatal():
    d = api.Decoder()
    out = d.feed(
        msg(16, b"\x00\x01")  # too short
        + msg(12, bytes(12) + api.LsaHeader(0, 0, 10, "200.0.0.1", "1.1.1.1", 1, 0, 400).pack() + b"\0" * 8)
        + msg(18, bytes.fromhex("0005 0000 0a000001"))
        + msg(99, b"")
        + msg(15, bytes.fromhex("0a000001"))
    )
    assert [type(m).__name__ for m in out] == ["Malformed", "Malformed", "Malformed", "Malformed", "DelIf"]
    assert "length 400" in out[1].reason


def test_framing_loss_raises_protocol_error():
    with pytest.raises(api.ProtocolError, match="version"):
        api.Decoder().feed(bytes.fromhex("02010004 00000001 00000000"))
    with pytest.raises(api.ProtocolError, match="announces"):
        api.Decoder().feed(bytes.fromhex("0112ffff 00000001"))


@given(st.binary(max_size=300))
def test_decoder_never_raises_anything_else(data):
    d = api.Decoder()
    try:
        d.feed(data)
    except api.ProtocolError:
        pass


def test_client_state_matches_replies_and_expires():
    s = api.ClientState(timeout=2.0)
    seq1, data = s.send(api.RegisterOpaqueType(10, 200), now=100.0)
    seq2, _ = s.send(api.SyncNsm(), now=101.0)
    assert (seq1, seq2) == (1, 2) and data[4:8] == b"\0\0\0\x01"
    assert s.on_reply(api.Reply(2, 0)) == api.SyncNsm()
    assert s.on_reply(api.Reply(2, 0)) is None  # twice: unmatched
    assert [p.seq for p in s.expired(102.5)] == [1]
    s.seq = api.MAX_SEQ
    assert s.next_seq() == api.MIN_SEQ  # wraps inside 1..2^31-1
    s.send(api.SyncIsm(), 0)
    assert len(s.reset()) == 1 and not s.pending


def test_state_enums_agree_with_the_state_names():
    assert [s.value for s in api.IsmState] == sorted(api.ISM_STATES)
    assert [s.value for s in api.NsmState] == sorted(api.NSM_STATES)
    assert api.NSM_FULL == api.NsmState.FULL == 9 and api.NSM_STATES[api.NsmState.FULL] == "Full"
    assert api.ISM_STATES[api.IsmState.POINT_TO_POINT] == "PointToPoint"
    assert (api.LSA_OPAQUE_LINK, api.LSA_OPAQUE_AREA, api.LSA_OPAQUE_AS) == (9, 10, 11)  # RFC 5250 sec. 3
