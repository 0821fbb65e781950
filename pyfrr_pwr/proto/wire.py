"""The PWR LSA body: encoding and decoding, sans-I/O.

A PWR LSA is a type-10 (area-local) opaque LSA of a private opaque type
(default 200; ospfd owns type 1, see docs/wire-format.md) whose body uses
RFC 3630 TLV framing. This module turns TLV objects into body bytes (what
follows the 20-byte LSA header) and back; it does no I/O. Their JSON forms
live in ``pyfrr_pwr.proto.wirejson``.

Code points come in two profiles (docs/wire-format.md explains why):

* ``draft``: the draft's own Link sub-TLV numbers (sec. 2.1.9: 10, 11, 12).
  They collide with IANA assignments (RFC 6827, RFC 4203), so they are safe
  only inside our private opaque type.
* ``experimental``: the same sub-TLVs at 32768-32770, RFC 3630 sec. 6's
  experimental range, safe in any TE LSA.

Node-level TLVs (TE Endpoint, Area Border, TE Reachability Vector, draft
sec. 2 and 2.1.9) have no numbers in the draft; both profiles put them in
the experimental top-level range 32768-32770. Ours for SRv6 (issue 7): the
SRv6 Locator TLV (top-level 32771: locator, End SID, End.DX4 SIDs) and the
End.X SID Link sub-TLV (32773, 16 octets), in both profiles. Ours for
computing-power collaboration (issue 9): the Node Energy TLV (32772) and
the Service Instance TLV (32773), each with nested sub-TLVs of its own;
RFC 7471's min/max delay (28) and delay variation (29) Link sub-TLVs; the
path info's former reserved 16 bits carry the jitter sum.

Framing is walked by the C core (``pwr_tlv_walk``), which never reads past
the buffer. ``decode`` of any byte string returns or raises ``DecodeError``
naming the offset and the fault.

Floats: one policy (csrc/pwr_tlv.h: NaN, negatives and > FLT_MAX refused,
-0.0 sent as +0.0, subnormals by gradual underflow), two paths. ``encode``
and ``decode`` check each float in Python and pack it with ``struct``, in
the one call that packs its sub-TLV header or path entry anyway;
``pack_floats`` / ``unpack_floats`` send batches through the C kernel.
tests/test_wire.py checks that both paths agree on every float (NaN,
infinities, negatives, subnormals, > FLT_MAX included). Measured with
``.venv/bin/python bench/test_bench_floats.py --old OLD`` (OLD: ``git show
b073b82:pyfrr_pwr/proto/wire.py``, one cffi call per float), min of 7
interleaved runs, CPython 3.11 on a shared 2-core VM (load ~3), in us:

* one float: C call 1.75; ``struct.pack`` 0.09, with the checks 0.20
* a Link TLV's 6 float sub-TLVs: one C call + splice 4.21; struct each 2.47
* a 52-path vector's entries: one C call for the 104 floats + splice 48.0;
  one struct call per entry 40.0 (the floats alone: C 3.6, struct 19.5)
* encode / decode a Link TLV: old 28.0 / 43.5, now 7.1 / 22.2
* encode / decode a 52-path vector: old 571 / 400, now 144 / 127 (most of
  this gain is inet_pton / inet_ntoa in place of ``ipaddress``)
"""

from __future__ import annotations

import ipaddress
import math
import socket
import struct
from collections.abc import Iterable

from pyfrr_pwr._core import ffi, lib
from pyfrr_pwr.proto import tlvs as _tlvs
from pyfrr_pwr.proto.f32 import _chk, _f32_at, pack_floats, unpack_floats
from pyfrr_pwr.proto.tlvs import *  # noqa: F403 (the TLV objects and code points, re-exported)
from pyfrr_pwr.proto.tlvs import (  # the ones used here
    MAX_BODY,
    PATH_INFO_LEN,
    PROFILES,
    SRV6_DX4_LEN,
    SRV6_LOC_FIXED_LEN,
    ST_ADMIN_GROUP,
    ST_AVAIL_BW,
    ST_DELAY,
    ST_DELAY_MINMAX,
    ST_DELAY_VAR,
    ST_END_X_SID,
    ST_GENERATION,
    ST_HIGHEST_BW,
    ST_LINK_ID,
    ST_LINK_TYPE,
    ST_LOCAL_ADDR,
    ST_MAX_BW,
    ST_REMOTE_ADDR,
    ST_TE_METRIC,
    TLV,
    TLV_AREA_BORDER,
    TLV_LINK,
    TLV_NODE_ENERGY,
    TLV_REACH_VECTOR,
    TLV_SERVICE_INSTANCE,
    TLV_SRV6_LOCATOR,
    TLV_TE_ENDPOINT,
    VEC_F_FRAGMENT,
    AreaBorder,
    DecodeError,
    Fragment,
    LinkTLV,
    NodeEnergy,
    PathInfo,
    ReachabilityVector,
    ServiceInstance,
    SRv6Locator,
    TEEndpoint,
    UnknownTLV,
)

__all__ = [*_tlvs.__all__, "encode", "decode", "pack_floats", "unpack_floats", "make_lsid", "split_lsid"]


# ---------------------------------------------------------------- helpers


def _ip(s: str, what: str) -> bytes:
    try:  # fast, and as strict as ipaddress (dotted quad, no leading zeros)
        return socket.inet_pton(socket.AF_INET, s)
    except (OSError, TypeError, ValueError):
        pass
    try:  # an int, bytes or IPv4Address; or an error naming the field
        return ipaddress.IPv4Address(s).packed
    except (ipaddress.AddressValueError, ValueError):
        raise ValueError(f"{what}: {s!r} is not an IPv4 address / router ID") from None


_ipstr = socket.inet_ntoa  # 4 octets -> dotted quad


def _ip6(s: str, what: str) -> bytes:
    """An IPv6 unicast address (a SID), packed; refuses :: and multicast."""
    try:
        a = ipaddress.IPv6Address(s)
    except (ipaddress.AddressValueError, ValueError, TypeError):
        raise ValueError(f"{what}: {s!r} is not an IPv6 address") from None
    if a.is_unspecified or a.is_multicast:
        raise ValueError(f"{what}: {a} is not a unicast SID")
    return a.packed


def _ip6str(b: bytes) -> str:
    return str(ipaddress.IPv6Address(bytes(b)))


def _sid_ok(b: bytes) -> bool:
    return b != b"\0" * 16 and b[0] != 0xFF


def _u(v: int, bits: int, what: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 2**bits:
        raise ValueError(f"{what}: {v!r} is not a {bits}-bit unsigned integer")
    return v


def _tlv(t: int, value: bytes) -> bytes:
    if len(value) > 0xFFFF:
        raise ValueError(f"TLV {t}: value of {len(value)} octets does not fit")
    return struct.pack(">HH", t, len(value)) + value + b"\0" * (-len(value) % 4)


def make_lsid(opaque_type: int, opaque_id: int) -> str:
    """Opaque LS ID = type (8 bits) | ID (24 bits), RFC 5250 sec. 3."""
    _u(opaque_type, 8, "opaque type")
    _u(opaque_id, 24, "opaque ID")
    return str(ipaddress.IPv4Address((opaque_type << 24) | opaque_id))


def split_lsid(lsid: str) -> tuple[int, int]:
    v = int(ipaddress.IPv4Address(lsid))
    return v >> 24, v & 0xFFFFFF


# ------------------------------------------------------- Link sub-TLVs

# The fixed-size Link sub-TLVs after the addresses, in encoding order:
# (code, field, kind, label); per profile, as the PWR codes differ.
_LINK_FIELDS = {
    name: (
        (ST_TE_METRIC, "te_metric", "u32", "TE metric"),
        (ST_MAX_BW, "max_bw", "f32", "maximum bandwidth"),
        (ST_HIGHEST_BW, "highest_bw", "f32", "highest capacity"),
        (ST_ADMIN_GROUP, "admin_group", "u32", "admin group"),
        (ST_DELAY, "delay_us", "delay", "delay"),
        (ST_DELAY_VAR, "delay_var_us", "u24", "delay variation"),
        (ST_AVAIL_BW, "avail_bw", "f32", "available bandwidth"),
        *((prof[k], k, "f32", k) for k in ("pwr_mcast", "pwr_consumed", "pwr_available")),
        (ST_GENERATION, "generation", "u32", "generation"),
    )
    for name, prof in PROFILES.items()
}
# Decoding: every known Link sub-TLV by code, per profile
_LINK_DEC = {
    name: {
        ST_LINK_TYPE: ("link_type", "u8", "link type"),
        ST_LINK_ID: ("link_id", "ip", "link ID"),
        ST_LOCAL_ADDR: ("local_addrs", "ips", "local address"),
        ST_REMOTE_ADDR: ("remote_addrs", "ips", "remote address"),
        **{c: (f, k, lb) for c, f, k, lb in fields},
        ST_END_X_SID: ("end_x", "ip6", "End.X SID"),
        ST_DELAY_MINMAX: ("delay_min_us", "minmax", "min/max delay"),
    }
    for name, fields in _LINK_FIELDS.items()
}
_SUB_F32, _SUB_U32 = struct.Struct(">HHf").pack, struct.Struct(">HHI").pack
_U32_AT = struct.Struct(">I").unpack_from
_PATH = struct.Struct(">4sffIHHII")  # one path info entry, 28 octets (the second H: jitter sum, us)


# ---------------------------------------------------------------- encode


def _encode_link(t: LinkTLV, profile: str) -> bytes:
    sub = [_tlv(ST_LINK_TYPE, bytes([_u(t.link_type, 8, "link_type")])), _tlv(ST_LINK_ID, _ip(t.link_id, "link_id"))]
    if t.local_addrs:
        sub.append(_tlv(ST_LOCAL_ADDR, b"".join(_ip(a, "local_addrs") for a in t.local_addrs)))
    if t.remote_addrs:
        sub.append(_tlv(ST_REMOTE_ADDR, b"".join(_ip(a, "remote_addrs") for a in t.remote_addrs)))
    if t.delay_anomalous and t.delay_us is None:
        raise ValueError("delay_anomalous: set without delay_us")
    for code, name, kind, _ in _LINK_FIELDS[profile]:
        v = getattr(t, name)
        if v is None:
            continue
        if kind == "f32":
            sub.append(_SUB_F32(code, 4, _chk(v, name)))
        elif kind == "u32":
            sub.append(_SUB_U32(code, 4, _u(v, 32, name)))
        elif kind == "u24":  # RFC 7471 sec. 4.3: 8 reserved bits, 24-bit microseconds
            sub.append(_SUB_U32(code, 4, _u(v, 24, name)))
        else:
            sub.append(_SUB_U32(code, 4, _u(v, 24, name) | (0x80000000 if t.delay_anomalous else 0)))
    if (t.delay_min_us is None) != (t.delay_max_us is None):
        raise ValueError("delay_min_us / delay_max_us: give both or neither (RFC 7471 sec. 4.2)")
    if t.delay_min_us is not None:
        lo, hi = _u(t.delay_min_us, 24, "delay_min_us"), _u(t.delay_max_us, 24, "delay_max_us")
        if lo > hi:
            raise ValueError(f"delay_min_us: {lo} exceeds delay_max_us {hi} (RFC 7471 sec. 4.2)")
        sub.append(struct.pack(">HHII", ST_DELAY_MINMAX, 8, lo | (0x80000000 if t.delay_minmax_anomalous else 0), hi))
    elif t.delay_minmax_anomalous:
        raise ValueError("delay_minmax_anomalous: set without delay_min_us / delay_max_us")
    if t.end_x is not None:
        sub.append(_tlv(ST_END_X_SID, _ip6(t.end_x, "end_x")))
    known = _LINK_DEC[profile]
    for ut, uv in t.unknown:
        if _u(ut, 16, "unknown sub-TLV type") in known:
            raise ValueError(f"unknown: sub-TLV {ut} is a known one; set its field instead")
        sub.append(_tlv(ut, bytes(uv)))
    return _tlv(TLV_LINK, b"".join(sub))


def _encode_vector(t: ReachabilityVector) -> bytes:
    if not t.abr_chain:
        raise ValueError("abr_chain: needs at least the originating ABR")
    if len(t.abr_chain) > 255:
        raise ValueError("abr_chain: more than 255 ABRs")
    flags = VEC_F_FRAGMENT if t.fragment else 0
    out = [_ip(t.area, "area"), struct.pack(">BBH", len(t.abr_chain), flags, 0)]
    out += [_ip(a, "abr_chain") for a in t.abr_chain]
    if t.fragment:
        f = t.fragment
        if not (1 <= f.count <= 255 and 0 <= f.index < f.count):
            raise ValueError(f"fragment: index {f.index} of {f.count} is out of range")
        out.append(struct.pack(">IBBH", _u(f.generation, 32, "fragment generation"), f.index, f.count, 0))
    last = -math.inf
    for i, p in enumerate(t.paths):
        pwr = _chk(p.pwr_sum, f"paths[{i}].pwr_sum")
        if pwr < last:
            raise ValueError(f"paths[{i}]: not ordered by increasing pwr_sum (draft sec. 2.1.9)")
        last = pwr
        out.append(
            _PATH.pack(
                _ip(p.endpoint, f"paths[{i}].endpoint"),
                pwr,
                _chk(p.min_avail_bw, f"paths[{i}].min_avail_bw"),
                _u(p.te_metric_sum, 32, f"paths[{i}].te_metric_sum"),
                _u(p.hop_count, 16, f"paths[{i}].hop_count"),
                _u(p.jitter_us, 16, f"paths[{i}].jitter_us"),
                _u(p.admin_groups, 32, f"paths[{i}].admin_groups"),
                _u(p.delay_us, 32, f"paths[{i}].delay_us"),
            )
        )
    return _tlv(TLV_REACH_VECTOR, b"".join(out))


def _locator_net(loc, what: str) -> ipaddress.IPv6Network:
    try:
        net = ipaddress.IPv6Network(loc)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{what}: {loc!r} is not an IPv6 prefix with zero host bits: {exc}") from None
    if net.prefixlen == 0:
        raise ValueError(f"{what}: a /0 is not a locator")
    return net


def _encode_locator(t: SRv6Locator) -> bytes:
    net = _locator_net(t.locator, "SRv6Locator.locator")
    end = _ip6(t.end_sid, "SRv6Locator.end_sid")
    if ipaddress.IPv6Address(end) not in net:
        raise ValueError(f"SRv6Locator.end_sid: {t.end_sid} is not in locator {net}")
    if len(t.dx4) > 0xFFFF:
        raise ValueError("SRv6Locator.dx4: more than 65535 prefixes")
    out = [_ip(t.router_id, "SRv6Locator.router_id"), struct.pack(">BBH", net.prefixlen, 0, len(t.dx4)), net.network_address.packed, end]
    seen = set()
    for i, entry in enumerate(t.dx4):
        try:
            prefix, sid = entry
        except (TypeError, ValueError):
            raise ValueError(f"SRv6Locator.dx4[{i}]: expected (prefix, sid), got {entry!r}") from None
        try:
            p = ipaddress.IPv4Network(prefix)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"SRv6Locator.dx4[{i}]: {prefix!r} is not an IPv4 prefix with zero host bits: {exc}") from None
        if p in seen:
            raise ValueError(f"SRv6Locator.dx4[{i}]: prefix {p} listed twice")
        seen.add(p)
        b = _ip6(sid, f"SRv6Locator.dx4[{i}].sid")
        if ipaddress.IPv6Address(b) not in net:
            raise ValueError(f"SRv6Locator.dx4[{i}]: SID {sid} is not in locator {net}")
        out.append(struct.pack(">BBH", p.prefixlen, 0, 0) + p.network_address.packed + b)
    return _tlv(TLV_SRV6_LOCATOR, b"".join(out))


# ------------------------------------------- Node Energy / Service Instance
# (ours, issue 9; docs/wire-format.md). Both carry the router ID first, then
# sub-TLVs of their own registry in RFC 3630 framing.

_FLT_MAX = 3.4028234663852886e38
_READING = struct.Struct(">fIHBBHH")  # value, ts, age, accuracy, rsvd, source, rsvd: 16 octets
_ACC_NAME = {v: k for k, v in _tlvs.ACCURACY.items()}
_NE_BY_CODE = {code: (name, unit, kind) for name, code, unit, kind in _tlvs.NE_READINGS}
_L0 = struct.Struct(">HBBIf")
_L2 = struct.Struct(">BBBBI")
_SRC_NAME = {v: k for k, v in _tlvs.METRIC_SOURCES.items()}
_STAT_NAME = {v: k for k, v in _tlvs.STATISTICS.items()}


def _signed(v, what: str) -> float:
    """A finite float32 that may be negative (an electricity price)."""
    if isinstance(v, (bool, str, bytes)) or not isinstance(v, (int, float)):
        raise ValueError(f"{what}: {v!r} is not a number")
    try:
        x = float(v)
    except OverflowError:
        x = math.inf
    if not (math.isfinite(x) and abs(x) <= _FLT_MAX):
        raise ValueError(f"{what}: {v!r} is not a finite float32")
    return x + 0.0


def _name(s, what: str) -> bytes:
    """A UTF-8 name of 1..MAX_NAME octets with no control characters."""
    if not isinstance(s, str) or not s or any(ord(c) < 0x20 or ord(c) == 0x7F for c in s):
        raise ValueError(f"{what}: {s!r} is not a printable name")
    try:
        b = s.encode("utf-8", "strict")
    except UnicodeEncodeError:
        raise ValueError(f"{what}: {s!r} is not encodable as UTF-8") from None
    if len(b) > _tlvs.MAX_NAME:
        raise ValueError(f"{what}: {len(b)} octets, at most {_tlvs.MAX_NAME}")
    return b


def _name_at(buf: bytes, off: int, ln: int, what: str) -> str:
    if not 1 <= ln <= _tlvs.MAX_NAME:
        raise DecodeError(off - 4, f"{what}: length {ln} is not 1..{_tlvs.MAX_NAME}")
    try:
        s = bytes(buf[off : off + ln]).decode("utf-8", "strict")
    except UnicodeDecodeError:
        raise DecodeError(off, f"{what}: not UTF-8") from None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in s):
        raise DecodeError(off, f"{what}: control characters in a name")
    return s


def _encode_reading(code: int, r, kind: str, name: str, sources: set) -> bytes:
    if not isinstance(r, _tlvs.Reading):
        raise ValueError(f"{name}: expected a Reading, got {type(r).__name__}")
    v = _signed(r.value, f"{name}.value") if kind == "signed" else _chk(r.value, f"{name}.value")
    if kind == "ratio" and not v <= 1.0:
        raise ValueError(f"{name}.value: {v!r} is not a ratio 0..1")
    if r.accuracy not in _tlvs.ACCURACY:
        raise ValueError(f"{name}.accuracy: {r.accuracy!r} is not one of {sorted(_tlvs.ACCURACY)}")
    src = _u(r.source, 16, f"{name}.source")
    if src and src not in sources:
        raise ValueError(f"{name}.source: id {src} is not named in sources")
    return struct.pack(">HH", code, _tlvs.READING_LEN) + _READING.pack(
        v, _u(r.ts, 32, f"{name}.ts"), min(_u(r.age_s, 32, f"{name}.age_s"), 0xFFFF), _tlvs.ACCURACY[r.accuracy], 0, src, 0
    )


def _encode_leak(code: int, t, what: str) -> list:
    """The leak sub-TLV (NE 9 / SI 6) of an ABR's leaked copy, or nothing
    for a site's own: origin area, then the ABR chain (draft sec. 2.1.9's
    {ABR1, ABR2, ...}, the advertising ABR last)."""
    chain = tuple(t.abr_chain or ())
    if t.origin_area is None and not chain:
        return []
    if t.origin_area is None or not 1 <= len(chain) <= _tlvs.MAX_LEAK_CHAIN:
        raise ValueError(f"{what}: a leaked copy needs origin_area and 1..{_tlvs.MAX_LEAK_CHAIN} ABRs in abr_chain")
    if len(set(chain)) != len(chain):
        raise ValueError(f"{what}.abr_chain: an ABR listed twice (a loop)")
    return [_tlv(code, _ip(t.origin_area, f"{what}.origin_area") + b"".join(_ip(a, f"{what}.abr_chain") for a in chain))]


def _decode_leak(buf: bytes, so: int, sl: int, what: str) -> dict:
    if sl < 8 or sl % 4 or sl > 4 + 4 * _tlvs.MAX_LEAK_CHAIN:
        raise DecodeError(so - 4, f"{what} leak sub-TLV: length {sl} is not 4 + 4N, N 1..{_tlvs.MAX_LEAK_CHAIN}")
    chain = tuple(_ipstr(buf[i : i + 4]) for i in range(so + 4, so + sl, 4))
    if len(set(chain)) != len(chain):
        raise DecodeError(so + 4, f"{what} leak sub-TLV: an ABR appears twice in the chain")
    return {"origin_area": _ipstr(buf[so : so + 4]), "abr_chain": chain}


def _encode_energy(t: NodeEnergy) -> bytes:
    out = [_ip(t.router_id, "NodeEnergy.router_id")]
    ids = set()
    for i, entry in enumerate(t.sources):
        try:
            sid, sname = entry
        except (TypeError, ValueError):
            raise ValueError(f"NodeEnergy.sources[{i}]: expected (id, name), got {entry!r}") from None
        if not 1 <= _u(sid, 16, f"NodeEnergy.sources[{i}].id") or sid in ids:
            raise ValueError(f"NodeEnergy.sources[{i}]: id {sid} is 0 or listed twice")
        ids.add(sid)
        out.append(_tlv(_tlvs.NE_SOURCE, struct.pack(">H", sid) + _name(sname, f"NodeEnergy.sources[{i}].name")))
    for name, code, _unit, kind in _tlvs.NE_READINGS:
        r = getattr(t, name)
        if r is None:
            continue
        b = _encode_reading(code, r, kind, f"NodeEnergy.{name}", ids)
        if code == _tlvs.NE_PRICE:
            cur = t.currency
            if not (isinstance(cur, str) and len(cur) == 3 and cur.isascii() and cur.isalpha() and cur.isupper()):
                raise ValueError(f"NodeEnergy.currency: {cur!r} is not an ISO 4217 code (three letters A-Z)")
            b = struct.pack(">HH", code, _tlvs.READING_LEN + 3) + b[4:] + cur.encode() + b"\0"
        out.append(b)
    if t.currency is not None and t.price_per_mwh is None:
        raise ValueError("NodeEnergy.currency: set without price_per_mwh")
    known = set(_NE_BY_CODE) | {_tlvs.NE_SOURCE, _tlvs.NE_LEAK}
    for ut, uv in t.unknown:
        if _u(ut, 16, "unknown sub-TLV type") in known:
            raise ValueError(f"NodeEnergy.unknown: sub-TLV {ut} is a known one")
        out.append(_tlv(ut, bytes(uv)))
    out += _encode_leak(_tlvs.NE_LEAK, t, "NodeEnergy")
    return _tlv(TLV_NODE_ENERGY, b"".join(out))


def _decode_energy(buf: bytes, off: int, ln: int) -> NodeEnergy:
    if ln < 4:
        raise DecodeError(off - 4, f"Node Energy TLV: length {ln} < 4")
    f: dict = {"router_id": _ipstr(buf[off : off + 4])}
    seen, sources, unknown, refs = set(), {}, [], []
    for t, sl, so in _walk(buf, off + 4, off + ln, "Node Energy TLV"):
        if t == _tlvs.NE_SOURCE:
            if sl < 3:
                raise DecodeError(so - 4, f"Node Energy source sub-TLV: length {sl} < 3")
            sid = struct.unpack_from(">H", buf, so)[0]
            if sid == 0 or sid in sources:
                raise DecodeError(so, f"Node Energy source sub-TLV: id {sid} is 0 or appears twice")
            sources[sid] = _name_at(buf, so + 2, sl - 2, "Node Energy source name")
            continue
        if t == _tlvs.NE_LEAK:
            if "abr_chain" in f:
                raise DecodeError(so - 4, "Node Energy TLV: leak sub-TLV 9 appears twice")
            f.update(_decode_leak(buf, so, sl, "Node Energy"))
            continue
        spec = _NE_BY_CODE.get(t)
        if spec is None:
            unknown.append((t, bytes(buf[so : so + sl])))
            continue
        name, _unit, kind = spec
        if t in seen:
            raise DecodeError(so - 4, f"Node Energy TLV: sub-TLV {t} ({name}) appears twice")
        seen.add(t)
        _need(sl, _tlvs.READING_LEN + (3 if t == _tlvs.NE_PRICE else 0), so, f"Node Energy {name} sub-TLV {t}")
        v, ts, age, acc, _, src, _ = _READING.unpack_from(buf, so)
        if kind == "signed":
            if not math.isfinite(v):
                raise DecodeError(so, f"Node Energy {name}: not a finite value")
        else:
            v = _f32_at(buf, so, f"Node Energy {name}")
            if kind == "ratio" and v > 1.0:
                raise DecodeError(so, f"Node Energy {name}: {v:g} is not a ratio 0..1")
        if acc not in _ACC_NAME:
            raise DecodeError(so + 10, f"Node Energy {name}: accuracy code {acc} is unknown")
        if src:
            refs.append((src, so + 12, name))
        f[name] = _tlvs.Reading(v + 0.0, ts, age, _ACC_NAME[acc], src)
        if t == _tlvs.NE_PRICE:
            cur = bytes(buf[so + 16 : so + 19])
            if not (cur.isalpha() and cur.isupper() and cur.isascii()):
                raise DecodeError(so + 16, f"Node Energy price: currency {cur!r} is not three letters A-Z")
            f["currency"] = cur.decode()
    for src, at, name in refs:
        if src not in sources:
            raise DecodeError(at, f"Node Energy {name}: source id {src} is not named")
    return NodeEnergy(sources=tuple(sources.items()), unknown=tuple(unknown), **f)


def _encode_service(t: ServiceInstance) -> bytes:
    out = [_ip(t.router_id, "ServiceInstance.router_id"), _tlv(_tlvs.SI_SERVICE_ID, _name(t.service_id, "ServiceInstance.service_id"))]
    try:
        addr = ipaddress.ip_address(t.address)
    except (ValueError, TypeError):
        raise ValueError(f"ServiceInstance.address: {t.address!r} is not an IP address") from None
    if addr.is_unspecified or addr.is_multicast:
        raise ValueError(f"ServiceInstance.address: {addr} is not a unicast address")
    out.append(_tlv(_tlvs.SI_ADDRESS, addr.packed))
    if t.capacity is not None:
        out.append(_SUB_F32(_tlvs.SI_CAPACITY, 4, _chk(t.capacity, "ServiceInstance.capacity")))
    seen = set()
    for i, m in enumerate(t.l0):
        w = f"ServiceInstance.l0[{i}]"
        if not isinstance(m, _tlvs.L0Metric):
            raise ValueError(f"{w}: expected an L0Metric, got {type(m).__name__}")
        if m.statistic not in _tlvs.STATISTICS or m.source not in _tlvs.METRIC_SOURCES:
            raise ValueError(f"{w}: statistic {m.statistic!r} / source {m.source!r} not one of {sorted(_tlvs.STATISTICS)} / {sorted(_tlvs.METRIC_SOURCES)}")
        key = (_u(m.metric, 16, f"{w}.metric"), m.statistic)
        if key in seen:
            raise ValueError(f"{w}: metric {m.metric} {m.statistic} listed twice")
        seen.add(key)
        v = _chk(m.value, f"{w}.value")
        out.append(
            struct.pack(">HH", _tlvs.SI_L0, _tlvs.L0_LEN)
            + _L0.pack(m.metric, _tlvs.STATISTICS[m.statistic], _tlvs.METRIC_SOURCES[m.source], _u(m.window_ms, 32, f"{w}.window_ms"), v)
        )
    if t.l2_score is not None:
        if isinstance(t.l2_score, bool) or not isinstance(t.l2_score, int) or not 0 <= t.l2_score <= 10:
            raise ValueError(f"ServiceInstance.l2_score: {t.l2_score!r} is not an integer 0..10")
        if t.l2_statistic not in _tlvs.STATISTICS or t.l2_source not in _tlvs.METRIC_SOURCES:
            raise ValueError(f"ServiceInstance.l2: statistic {t.l2_statistic!r} / source {t.l2_source!r} unknown")
        out.append(
            struct.pack(">HH", _tlvs.SI_L2, _tlvs.L2_LEN)
            + _L2.pack(
                t.l2_score, _tlvs.METRIC_SOURCES[t.l2_source], _tlvs.STATISTICS[t.l2_statistic], 0, _u(t.l2_window_ms, 32, "ServiceInstance.l2_window_ms")
            )
        )
    elif (t.l2_source, t.l2_statistic, t.l2_window_ms) != ("normalised", "mean", 0):
        raise ValueError("ServiceInstance.l2_*: set without l2_score")
    known = {_tlvs.SI_SERVICE_ID, _tlvs.SI_ADDRESS, _tlvs.SI_CAPACITY, _tlvs.SI_L0, _tlvs.SI_L2, _tlvs.SI_LEAK}
    for ut, uv in t.unknown:
        if _u(ut, 16, "unknown sub-TLV type") in known:
            raise ValueError(f"ServiceInstance.unknown: sub-TLV {ut} is a known one")
        out.append(_tlv(ut, bytes(uv)))
    out += _encode_leak(_tlvs.SI_LEAK, t, "ServiceInstance")
    return _tlv(TLV_SERVICE_INSTANCE, b"".join(out))


_SI_ONCE = {_tlvs.SI_SERVICE_ID, _tlvs.SI_ADDRESS, _tlvs.SI_CAPACITY, _tlvs.SI_L2, _tlvs.SI_LEAK}  # L0 repeats, unknown ones may


def _decode_service(buf: bytes, off: int, ln: int) -> ServiceInstance:
    if ln < 4:
        raise DecodeError(off - 4, f"Service Instance TLV: length {ln} < 4")
    f: dict = {"router_id": _ipstr(buf[off : off + 4])}
    seen, l0, l0_keys, unknown = set(), [], set(), []
    for t, sl, so in _walk(buf, off + 4, off + ln, "Service Instance TLV"):
        if t in seen and t in _SI_ONCE:
            raise DecodeError(so - 4, f"Service Instance TLV: sub-TLV {t} appears twice")
        seen.add(t)
        if t == _tlvs.SI_SERVICE_ID:
            f["service_id"] = _name_at(buf, so, sl, "Service Instance service ID")
        elif t == _tlvs.SI_ADDRESS:
            if sl not in (4, 16):
                raise DecodeError(so - 4, f"Service Instance address: length {sl} is not 4 or 16")
            a = ipaddress.ip_address(bytes(buf[so : so + sl]))
            if a.is_unspecified or a.is_multicast:
                raise DecodeError(so, f"Service Instance address: {a} is not unicast")
            f["address"] = str(a)
        elif t == _tlvs.SI_CAPACITY:
            _need(sl, 4, so, "Service Instance capacity")
            f["capacity"] = _f32_at(buf, so, "Service Instance capacity")
        elif t == _tlvs.SI_L0:
            _need(sl, _tlvs.L0_LEN, so, "Service Instance L0 metric")
            m, st, src, win, _ = _L0.unpack_from(buf, so)
            if st not in _STAT_NAME or src not in _SRC_NAME:
                raise DecodeError(so + 2, f"Service Instance L0 metric: statistic {st} / source {src} unknown")
            if (m, st) in l0_keys:
                raise DecodeError(so - 4, f"Service Instance L0 metric {m} {_STAT_NAME[st]} appears twice")
            l0_keys.add((m, st))
            l0.append(_tlvs.L0Metric(m, _f32_at(buf, so + 8, "Service Instance L0 value"), _STAT_NAME[st], _SRC_NAME[src], win))
        elif t == _tlvs.SI_L2:
            _need(sl, _tlvs.L2_LEN, so, "Service Instance L2 score")
            sc, src, st, _, win = _L2.unpack_from(buf, so)
            if sc > 10:
                raise DecodeError(so, f"Service Instance L2 score {sc} is not 0..10")
            if st not in _STAT_NAME or src not in _SRC_NAME:
                raise DecodeError(so + 1, f"Service Instance L2 score: statistic {st} / source {src} unknown")
            f.update(l2_score=sc, l2_source=_SRC_NAME[src], l2_statistic=_STAT_NAME[st], l2_window_ms=win)
        elif t == _tlvs.SI_LEAK:
            f.update(_decode_leak(buf, so, sl, "Service Instance"))
        else:
            unknown.append((t, bytes(buf[so : so + sl])))
    for st, name in ((_tlvs.SI_SERVICE_ID, "service ID"), (_tlvs.SI_ADDRESS, "instance address")):
        if st not in seen:
            raise DecodeError(off - 4, f"Service Instance TLV: mandatory {name} sub-TLV missing")
    return ServiceInstance(l0=tuple(l0), unknown=tuple(unknown), **f)


def encode(tlvs: TLV | Iterable[TLV], profile: str = "draft") -> bytes:
    """Encode TLVs into an LSA body (at most MAX_BODY octets)."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}")
    if not isinstance(tlvs, (list, tuple)):
        tlvs = [tlvs]
    parts = []
    for t in tlvs:
        if isinstance(t, LinkTLV):
            parts.append(_encode_link(t, profile))
        elif isinstance(t, TEEndpoint):
            parts.append(_tlv(TLV_TE_ENDPOINT, _ip(t.router_id, "router_id") + struct.pack(">I", _u(t.flags, 32, "flags"))))
        elif isinstance(t, AreaBorder):
            if not t.areas:
                raise ValueError("AreaBorder.areas: at least one area")
            parts.append(_tlv(TLV_AREA_BORDER, _ip(t.router_id, "router_id") + b"".join(_ip(a, "areas") for a in t.areas)))
        elif isinstance(t, ReachabilityVector):
            parts.append(_encode_vector(t))
        elif isinstance(t, SRv6Locator):
            parts.append(_encode_locator(t))
        elif isinstance(t, NodeEnergy):
            parts.append(_encode_energy(t))
        elif isinstance(t, ServiceInstance):
            parts.append(_encode_service(t))
        elif isinstance(t, UnknownTLV):
            parts.append(_tlv(_u(t.type, 16, "TLV type"), bytes(t.value)))
        else:
            raise TypeError(f"cannot encode {type(t).__name__}")
    body = b"".join(parts)
    if len(body) > MAX_BODY:
        raise ValueError(f"LSA body of {len(body)} octets exceeds {MAX_BODY} (ospf_api.h)")
    return body


# ---------------------------------------------------------------- decode

_WALK_WHY = {
    lib.PWR_TLV_ETRUNC_HDR: "truncated TLV header",
    lib.PWR_TLV_ETRUNC_VAL: "TLV value runs past the end",
    lib.PWR_TLV_ETRUNC_PAD: "TLV padding runs past the end",
    lib.PWR_TLV_ETOOMANY: "more TLVs than the walker was given room for",
}


def _walk(buf: bytes, start: int, end: int, what: str) -> list[tuple[int, int, int]]:
    """(type, length, absolute value offset) of each TLV in buf[start:end]."""
    view = buf[start:end]
    n = len(view)
    out = ffi.new("pwr_tlv[]", n // 4 + 1)
    err = ffi.new("size_t *")
    rc = lib.pwr_tlv_walk(ffi.from_buffer(view), n, out, n // 4 + 1, err)
    if rc < 0:
        raise DecodeError(start + err[0], f"{what}: {_WALK_WHY.get(rc, f'walker error {rc}')}")
    return [(e.type, e.length, start + e.value_off) for e in ffi.unpack(out, rc)]


def _need(length: int, want: int, off: int, what: str) -> None:
    if length != want:
        raise DecodeError(off - 4, f"{what}: length {length}, expected {want}")


def _decode_link(buf: bytes, start: int, end: int, profile: str) -> LinkTLV:
    f: dict = {}
    unknown = []
    seen: set = set()
    spec = _LINK_DEC[profile]
    for t, ln, off in _walk(buf, start, end, "Link TLV"):
        s = spec.get(t)
        if s is None:
            unknown.append((t, bytes(buf[off : off + ln])))  # RFC 3630 sec. 2.5: ignored
            continue
        if t in seen:
            raise DecodeError(off - 4, f"Link TLV: sub-TLV {t} appears twice (RFC 3630 sec. 2.5)")
        seen.add(t)
        name, kind, label = s
        if kind == "ips":
            if ln == 0 or ln % 4:
                raise DecodeError(off - 4, f"{label} sub-TLV {t}: length {ln} is not 4N")
            f[name] = tuple(_ipstr(buf[i : i + 4]) for i in range(off, off + ln, 4))
            continue
        if kind == "minmax":  # RFC 7471 sec. 4.2: A|rsvd|min(24), rsvd(8)|max(24)
            _need(ln, 8, off, f"{label} sub-TLV {t}")
            a, b = struct.unpack_from(">II", buf, off)
            lo, hi = a & 0xFFFFFF, b & 0xFFFFFF
            if lo > hi:
                raise DecodeError(off, f"{label} sub-TLV {t}: min {lo} us exceeds max {hi} us (RFC 7471 sec. 4.2)")
            f["delay_min_us"], f["delay_max_us"], f["delay_minmax_anomalous"] = lo, hi, bool(a & 0x80000000)
            continue
        if kind == "ip6":
            _need(ln, 16, off, f"{label} sub-TLV {t}")
            v = buf[off : off + 16]
            if not _sid_ok(v):
                raise DecodeError(off, f"{label} sub-TLV {t}: {_ip6str(v)} is not a unicast SID")
            f[name] = _ip6str(v)
            continue
        if ln != (1 if kind == "u8" else 4):
            _need(ln, 1 if kind == "u8" else 4, off, f"{label} sub-TLV {t}")
        if kind == "f32":
            f[name] = _f32_at(buf, off, label)
        elif kind == "u32":
            f[name] = _U32_AT(buf, off)[0]
        elif kind == "u24":  # reserved bits ignored on receipt (RFC 7471 sec. 4.3)
            f[name] = _U32_AT(buf, off)[0] & 0xFFFFFF
        elif kind == "ip":
            f[name] = _ipstr(buf[off : off + 4])
        elif kind == "u8":
            f[name] = buf[off]
        else:  # delay: A flag, 7 reserved bits, 24-bit microseconds
            d = _U32_AT(buf, off)[0]
            f["delay_us"], f["delay_anomalous"] = d & 0xFFFFFF, bool(d & 0x80000000)
    for st, name in ((ST_LINK_TYPE, "link type"), (ST_LINK_ID, "link ID")):
        if st not in seen:
            raise DecodeError(start - 4, f"Link TLV: mandatory {name} sub-TLV missing (RFC 3630 sec. 2.4.2)")
    return LinkTLV(unknown=tuple(unknown), **f)


def _decode_vector(buf: bytes, off: int, ln: int) -> ReachabilityVector:
    end = off + ln
    if ln < 8:
        raise DecodeError(off - 4, f"TE Reachability Vector: length {ln} < 8")
    area = _ipstr(buf[off : off + 4])
    nchain, flags, _ = struct.unpack_from(">BBH", buf, off + 4)
    p = off + 8
    if nchain == 0:
        raise DecodeError(off + 4, "TE Reachability Vector: empty ABR chain")
    if p + 4 * nchain > end:
        raise DecodeError(off + 4, f"TE Reachability Vector: ABR chain of {nchain} overruns the TLV")
    chain = tuple(_ipstr(buf[p + 4 * i : p + 4 * i + 4]) for i in range(nchain))
    p += 4 * nchain
    frag = None
    if flags & VEC_F_FRAGMENT:
        if p + 8 > end:
            raise DecodeError(p, "TE Reachability Vector: fragment field overruns the TLV")
        gen, idx, cnt, _ = struct.unpack_from(">IBBH", buf, p)
        if not (1 <= cnt and idx < cnt):
            raise DecodeError(p, f"TE Reachability Vector: fragment {idx} of {cnt}")
        frag = Fragment(gen, idx, cnt)
        p += 8
    if (end - p) % PATH_INFO_LEN:
        raise DecodeError(p, f"TE Reachability Vector: {end - p} octets of path info is not a multiple of {PATH_INFO_LEN}")
    paths = []
    last = -math.inf
    for ep, pwr, bw, te, hops, jit, ag, dl in _PATH.iter_unpack(buf[p:end]):
        if not (0.0 <= pwr < math.inf and 0.0 <= bw < math.inf):  # rare: name the float at fault
            _f32_at(buf, p + 4, "path info")
            _f32_at(buf, p + 8, "path info")
        if pwr < last:
            raise DecodeError(p, "TE Reachability Vector: path info not ordered by PWR sum (draft sec. 2.1.9)")
        last = pwr
        paths.append(PathInfo(_ipstr(ep), pwr, bw, te, hops, ag, dl, jit))
        p += PATH_INFO_LEN
    return ReachabilityVector(chain, area, tuple(paths), frag)


def _decode_locator(buf: bytes, off: int, ln: int) -> SRv6Locator:
    if ln < SRV6_LOC_FIXED_LEN or (ln - SRV6_LOC_FIXED_LEN) % SRV6_DX4_LEN:
        raise DecodeError(off - 4, f"SRv6 Locator TLV: length {ln} is not {SRV6_LOC_FIXED_LEN} + {SRV6_DX4_LEN}N")
    rid = _ipstr(buf[off : off + 4])
    plen, _, count = struct.unpack_from(">BBH", buf, off + 4)
    if count != (ln - SRV6_LOC_FIXED_LEN) // SRV6_DX4_LEN:
        raise DecodeError(off + 6, f"SRv6 Locator TLV: {count} End.DX4 entries announced, {(ln - SRV6_LOC_FIXED_LEN) // SRV6_DX4_LEN} present")
    if not 1 <= plen <= 128:
        raise DecodeError(off + 4, f"SRv6 Locator TLV: locator length {plen} is not 1..128")
    try:
        net = ipaddress.IPv6Network((bytes(buf[off + 8 : off + 24]), plen))
    except ValueError:
        raise DecodeError(off + 8, f"SRv6 Locator TLV: locator {_ip6str(buf[off + 8 : off + 24])}/{plen} has host bits set") from None
    end = buf[off + 24 : off + 40]
    if not _sid_ok(end) or ipaddress.IPv6Address(bytes(end)) not in net:
        raise DecodeError(off + 24, f"SRv6 Locator TLV: End SID {_ip6str(end)} is not a unicast SID in {net}")
    dx4 = []
    seen = set()
    p = off + SRV6_LOC_FIXED_LEN
    for _ in range(count):
        pl = buf[p]
        if pl > 32:
            raise DecodeError(p, f"SRv6 Locator TLV: End.DX4 prefix length {pl} > 32")
        try:
            pfx = ipaddress.IPv4Network((bytes(buf[p + 4 : p + 8]), pl))
        except ValueError:
            raise DecodeError(p + 4, f"SRv6 Locator TLV: End.DX4 prefix {_ipstr(buf[p + 4 : p + 8])}/{pl} has host bits set") from None
        if pfx in seen:
            raise DecodeError(p, f"SRv6 Locator TLV: End.DX4 prefix {pfx} appears twice")
        seen.add(pfx)
        sid = buf[p + 8 : p + 24]
        if not _sid_ok(sid) or ipaddress.IPv6Address(bytes(sid)) not in net:
            raise DecodeError(p + 8, f"SRv6 Locator TLV: End.DX4 SID {_ip6str(sid)} is not a unicast SID in {net}")
        dx4.append((str(pfx), _ip6str(sid)))
        p += SRV6_DX4_LEN
    return SRv6Locator(rid, str(net), _ip6str(end), tuple(dx4))


def decode(body: bytes, profile: str = "draft") -> list[TLV]:
    """Decode an LSA body; raises DecodeError (a ValueError) on any fault."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}")
    try:
        body = bytes(body)
    except TypeError:
        raise DecodeError(0, f"body must be bytes, not {type(body).__name__}") from None
    out: list[TLV] = []
    for t, ln, off in _walk(body, 0, len(body), "LSA body"):
        if t == TLV_LINK:
            out.append(_decode_link(body, off, off + ln, profile))
        elif t == TLV_TE_ENDPOINT:
            _need(ln, 8, off, "TE Endpoint TLV")
            out.append(TEEndpoint(_ipstr(body[off : off + 4]), _U32_AT(body, off + 4)[0]))
        elif t == TLV_AREA_BORDER:
            if ln < 8 or ln % 4:
                raise DecodeError(off - 4, f"Area Border TLV: length {ln} is not 4 + 4N (N >= 1)")
            areas = tuple(_ipstr(body[o : o + 4]) for o in range(off + 4, off + ln, 4))
            out.append(AreaBorder(_ipstr(body[off : off + 4]), areas))
        elif t == TLV_REACH_VECTOR:
            out.append(_decode_vector(body, off, ln))
        elif t == TLV_SRV6_LOCATOR:
            out.append(_decode_locator(body, off, ln))
        elif t == TLV_NODE_ENERGY:
            out.append(_decode_energy(body, off, ln))
        elif t == TLV_SERVICE_INSTANCE:
            out.append(_decode_service(body, off, ln))
        else:
            out.append(UnknownTLV(t, bytes(body[off : off + ln])))
    return out
