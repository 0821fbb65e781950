"""The PWR LSA body: encoding and decoding, sans-I/O.

A PWR LSA is a type-10 (area-local) opaque LSA of a private opaque type
(default 200; ospfd owns type 1, see docs/wire-format.md) whose body uses
RFC 3630 TLV framing. This module turns TLV objects into body bytes (what
follows the 20-byte LSA header) and back; it does no I/O.

Code points come in two profiles (docs/wire-format.md explains why):

* ``draft``: the draft's own Link sub-TLV numbers (sec. 2.1.9: 10, 11, 12).
  They collide with IANA assignments (RFC 6827, RFC 4203), so they are safe
  only inside our private opaque type.
* ``experimental``: the same sub-TLVs at 32768-32770, RFC 3630 sec. 6's
  experimental range, safe in any TE LSA.

Node-level TLVs (TE Endpoint, Area Border, TE Reachability Vector, draft
sec. 2 and 2.1.9) have no numbers in the draft; both profiles put them in
the experimental top-level range 32768-32770.

Framing is walked by the C core (``pwr_tlv_walk``), which never reads past
the buffer; floats go through the C float32 kernels with the documented
NaN/infinity/negative policy. ``decode`` of any byte string returns or
raises ``DecodeError`` naming the offset and the fault.

``struct`` is used for the fixed integer fields: no library writes RFC 3630
TLVs, and the format is small enough that a dependency would cost more than
it saves.
"""
from __future__ import annotations

import array
import ipaddress
import math
import struct
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence, Union

from pyfrr_pwr._core import ffi, lib

__all__ = [
    "DecodeError",
    "LinkTLV",
    "TEEndpoint",
    "AreaBorder",
    "PathInfo",
    "Fragment",
    "ReachabilityVector",
    "UnknownTLV",
    "encode",
    "decode",
    "pack_floats",
    "unpack_floats",
    "PROFILES",
    "MAX_BODY",
    "DEFAULT_OPAQUE_TYPE",
    "make_lsid",
    "split_lsid",
    "to_dict",
    "from_dict",
]

MAX_BODY = 1480  # ospfd's limit for an API-originated body (ospf_api.h)
DEFAULT_OPAQUE_TYPE = 200  # private range 128-255 (RFC 5250 sec. 3)

# RFC 3630 sec. 2.4: top-level TLVs
TLV_LINK = 2
# Node-level TLVs of draft sec. 2 / 2.1.9, in the experimental range
TLV_TE_ENDPOINT = 32768
TLV_AREA_BORDER = 32769
TLV_REACH_VECTOR = 32770

# Link sub-TLVs common to both profiles
ST_LINK_TYPE = 1  # RFC 3630 sec. 2.5.1
ST_LINK_ID = 2  # sec. 2.5.2
ST_LOCAL_ADDR = 3  # sec. 2.5.3
ST_REMOTE_ADDR = 4  # sec. 2.5.4
ST_TE_METRIC = 5  # sec. 2.5.5
ST_MAX_BW = 6  # sec. 2.5.6
ST_ADMIN_GROUP = 9  # sec. 2.5.9
ST_DELAY = 27  # RFC 7471 sec. 4.1
ST_AVAIL_BW = 32  # RFC 7471 sec. 4.6
ST_GENERATION = 32771  # ours: newest-instance counter (docs/wire-format.md)

PROFILES = {
    "draft": {"pwr_mcast": 10, "pwr_consumed": 11, "pwr_available": 12},
    "experimental": {"pwr_mcast": 32768, "pwr_consumed": 32769, "pwr_available": 32770},
}

LINK_P2P = 1
LINK_MULTIACCESS = 2
EP_HEAD = 0x1
EP_TAIL = 0x2
VEC_F_FRAGMENT = 0x80
PATH_INFO_LEN = 28


class DecodeError(ValueError):
    """A PWR LSA body that does not parse; ``offset`` is where it broke."""

    def __init__(self, offset: int, msg: str):
        super().__init__(f"offset {offset}: {msg}")
        self.offset = offset
        self.reason = msg


# ---------------------------------------------------------------- TLVs


@dataclass(frozen=True)
class LinkTLV:
    """RFC 3630 Link TLV carrying the draft's PWR sub-TLVs (sec. 2.1.9).

    Bandwidths are bytes/s (RFC 3630 sec. 2.5.6); PWR ratios are watts per
    byte/s of available bandwidth; delay is microseconds (RFC 7471).
    """

    link_id: str
    link_type: int = LINK_P2P
    local_addrs: tuple = ()
    remote_addrs: tuple = ()
    te_metric: int | None = None
    max_bw: float | None = None
    avail_bw: float | None = None
    admin_group: int | None = None
    delay_us: int | None = None
    delay_anomalous: bool = False
    pwr_mcast: float | None = None  # Power-to-Multicast-replication-capacity
    pwr_consumed: float | None = None  # Consumed-Power-to-Available-Bandwidth
    pwr_available: float | None = None  # Available-Power-to-Available-Bandwidth
    generation: int | None = None
    unknown: tuple = ()  # ((type, bytes), ...) kept for re-encoding


@dataclass(frozen=True)
class TEEndpoint:
    """TE Endpoint TLV (draft sec. 2): this router is in {N'}."""

    router_id: str
    flags: int = EP_HEAD | EP_TAIL


@dataclass(frozen=True)
class AreaBorder:
    """Area Border TLV (draft sec. 2): an ABR and the areas it joins."""

    router_id: str
    areas: tuple = ()


@dataclass(frozen=True)
class PathInfo:
    """One <endpoint, Path info> entry (draft sec. 2.1.9): aggregates only."""

    endpoint: str
    pwr_sum: float
    min_avail_bw: float
    te_metric_sum: int = 0
    hop_count: int = 0
    admin_groups: int = 0  # OR of the links' admin groups
    delay_us: int = 0


@dataclass(frozen=True)
class Fragment:
    """Where one LSA's share of a long vector sits among its siblings."""

    generation: int
    index: int
    count: int


@dataclass(frozen=True)
class ReachabilityVector:
    """TE Reachability Vector TLV (draft sec. 2.1.9).

    ``abr_chain`` is the draft's ``{ABR1, ABR2, ...}``: the originating ABR
    first, then the ABRs the vector was learnt through. ``area`` is the area
    whose endpoints the paths reach. Paths are ordered by PWR sum.
    """

    abr_chain: tuple
    area: str
    paths: tuple = ()
    fragment: Fragment | None = None


@dataclass(frozen=True)
class UnknownTLV:
    type: int
    value: bytes


TLV = Union[LinkTLV, TEEndpoint, AreaBorder, ReachabilityVector, UnknownTLV]


# ---------------------------------------------------------------- floats


_PACK_ERR = {-1: "is NaN", -2: "is negative", -3: "exceeds FLT_MAX", -4: "no room"}
_pack, _from_buffer, _SATURATE = lib.pwr_f32_pack, ffi.from_buffer, lib.PWR_F32_SATURATE


def pack_floats(values: Sequence[float], saturate: bool = False) -> bytes:
    """Big-endian IEEE-754 binary32 run (C fast path).

    Rejects NaN and negative values; values above FLT_MAX (and +inf) raise
    unless ``saturate``, which clamps them to FLT_MAX. Accepts any sequence
    of numbers or a float64 buffer (numpy array) without copying it.
    """
    buf = None
    if type(values) is not list:
        try:
            mv = memoryview(values)
            if mv.format == "d" and mv.c_contiguous and mv.ndim == 1:
                buf = _from_buffer("double[]", mv)  # float64 buffer: no copy
        except TypeError:
            pass
    if buf is None:  # any other sequence: convert (array does it at C speed)
        try:
            arr = array.array("d", values)
        except TypeError:
            arr = array.array("d", [float(v) for v in values])
        buf = _from_buffer("double[]", arr)
    n = len(buf)
    out = bytearray(4 * n)
    flags = _SATURATE if saturate else 0
    rc = _pack(buf, n, _from_buffer(out), 4 * n, flags, ffi.NULL)
    if rc:  # rare: ask again for the index of the value at fault
        bad = ffi.new("size_t *")
        _pack(buf, n, _from_buffer(out), 4 * n, flags, bad)
        raise ValueError(f"float #{bad[0]} ({buf[bad[0]]!r}) {_PACK_ERR.get(rc, rc)}")
    return bytes(out)


def _unpack(data: bytes, base: int, what: str, strict: bool = True) -> list[float]:
    n = len(data) // 4
    out = ffi.new("double[]", max(n, 1))
    bad = ffi.new("size_t *")
    rc = lib.pwr_f32_unpack(
        ffi.from_buffer(data), len(data), out, n, lib.PWR_F32_STRICT if strict else 0, bad
    )
    if rc == -4:
        raise DecodeError(base, f"{what}: {len(data)} octets is not a whole number of floats")
    if rc:
        why = {-1: "NaN", -2: "negative", -5: "infinite"}.get(rc, str(rc))
        raise DecodeError(base + 4 * bad[0], f"{what}: {why} value")
    return list(ffi.unpack(out, n))


def unpack_floats(data: bytes, strict: bool = False) -> list[float]:
    """Inverse of pack_floats. With ``strict``, NaN, infinities and negative
    values raise ``DecodeError``."""
    return _unpack(bytes(data), 0, "float run", strict)


# ---------------------------------------------------------------- helpers


def _ip(s: str, what: str) -> bytes:
    try:
        return ipaddress.IPv4Address(s).packed
    except (ipaddress.AddressValueError, ValueError):
        raise ValueError(f"{what}: {s!r} is not an IPv4 address / router ID") from None


def _ipstr(b: bytes) -> str:
    return str(ipaddress.IPv4Address(b))


def _u(v: int, bits: int, what: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 2**bits:
        raise ValueError(f"{what}: {v!r} is not a {bits}-bit unsigned integer")
    return v


def _tlv(t: int, value: bytes) -> bytes:
    if len(value) > 0xFFFF:
        raise ValueError(f"TLV {t}: value of {len(value)} octets does not fit")
    return struct.pack(">HH", t, len(value)) + value + b"\0" * (-len(value) % 4)


def _f32(v: float, what: str) -> bytes:
    try:
        return pack_floats([v])
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None


def make_lsid(opaque_type: int, opaque_id: int) -> str:
    """Opaque LS ID = type (8 bits) | ID (24 bits), RFC 5250 sec. 3."""
    _u(opaque_type, 8, "opaque type")
    _u(opaque_id, 24, "opaque ID")
    return str(ipaddress.IPv4Address((opaque_type << 24) | opaque_id))


def split_lsid(lsid: str) -> tuple[int, int]:
    v = int(ipaddress.IPv4Address(lsid))
    return v >> 24, v & 0xFFFFFF


# ---------------------------------------------------------------- encode


def _encode_link(t: LinkTLV, prof: dict) -> bytes:
    sub = [_tlv(ST_LINK_TYPE, bytes([_u(t.link_type, 8, "link_type")]))]
    sub.append(_tlv(ST_LINK_ID, _ip(t.link_id, "link_id")))
    if t.local_addrs:
        sub.append(_tlv(ST_LOCAL_ADDR, b"".join(_ip(a, "local_addrs") for a in t.local_addrs)))
    if t.remote_addrs:
        sub.append(_tlv(ST_REMOTE_ADDR, b"".join(_ip(a, "remote_addrs") for a in t.remote_addrs)))
    if t.te_metric is not None:
        sub.append(_tlv(ST_TE_METRIC, struct.pack(">I", _u(t.te_metric, 32, "te_metric"))))
    if t.max_bw is not None:
        sub.append(_tlv(ST_MAX_BW, _f32(t.max_bw, "max_bw")))
    if t.admin_group is not None:
        sub.append(_tlv(ST_ADMIN_GROUP, struct.pack(">I", _u(t.admin_group, 32, "admin_group"))))
    if t.delay_anomalous and t.delay_us is None:
        raise ValueError("delay_anomalous: set without delay_us")
    if t.delay_us is not None:
        d = _u(t.delay_us, 24, "delay_us") | (0x80000000 if t.delay_anomalous else 0)
        sub.append(_tlv(ST_DELAY, struct.pack(">I", d)))
    if t.avail_bw is not None:
        sub.append(_tlv(ST_AVAIL_BW, _f32(t.avail_bw, "avail_bw")))
    for name in ("pwr_mcast", "pwr_consumed", "pwr_available"):
        v = getattr(t, name)
        if v is not None:
            sub.append(_tlv(prof[name], _f32(v, name)))
    if t.generation is not None:
        sub.append(_tlv(ST_GENERATION, struct.pack(">I", _u(t.generation, 32, "generation"))))
    for ut, uv in t.unknown:
        sub.append(_tlv(_u(ut, 16, "unknown sub-TLV type"), bytes(uv)))
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
        if not p.pwr_sum >= last:
            raise ValueError(f"paths[{i}]: not ordered by increasing pwr_sum (draft sec. 2.1.9)")
        last = p.pwr_sum
        out.append(_ip(p.endpoint, f"paths[{i}].endpoint"))
        out.append(_f32(p.pwr_sum, f"paths[{i}].pwr_sum"))
        out.append(_f32(p.min_avail_bw, f"paths[{i}].min_avail_bw"))
        out.append(
            struct.pack(
                ">IHHII",
                _u(p.te_metric_sum, 32, f"paths[{i}].te_metric_sum"),
                _u(p.hop_count, 16, f"paths[{i}].hop_count"),
                0,
                _u(p.admin_groups, 32, f"paths[{i}].admin_groups"),
                _u(p.delay_us, 32, f"paths[{i}].delay_us"),
            )
        )
    return _tlv(TLV_REACH_VECTOR, b"".join(out))


def encode(tlvs: TLV | Iterable[TLV], profile: str = "draft") -> bytes:
    """Encode TLVs into an LSA body (at most MAX_BODY octets)."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}")
    prof = PROFILES[profile]
    if not isinstance(tlvs, (list, tuple)):
        tlvs = [tlvs]
    parts = []
    for t in tlvs:
        if isinstance(t, LinkTLV):
            parts.append(_encode_link(t, prof))
        elif isinstance(t, TEEndpoint):
            parts.append(
                _tlv(TLV_TE_ENDPOINT, _ip(t.router_id, "router_id") + struct.pack(">I", _u(t.flags, 32, "flags")))
            )
        elif isinstance(t, AreaBorder):
            if not t.areas:
                raise ValueError("AreaBorder.areas: at least one area")
            parts.append(
                _tlv(TLV_AREA_BORDER, _ip(t.router_id, "router_id") + b"".join(_ip(a, "areas") for a in t.areas))
            )
        elif isinstance(t, ReachabilityVector):
            parts.append(_encode_vector(t))
        elif isinstance(t, UnknownTLV):
            parts.append(_tlv(_u(t.type, 16, "TLV type"), bytes(t.value)))
        else:
            raise TypeError(f"cannot encode {type(t).__name__}")
    body = b"".join(parts)
    if len(body) > MAX_BODY:
        raise ValueError(f"LSA body of {len(body)} octets exceeds {MAX_BODY} (ospf_api.h)")
    return body


# ---------------------------------------------------------------- decode


def _walk(buf: bytes, start: int, end: int, what: str) -> list[tuple[int, int, int]]:
    """(type, length, absolute value offset) of each TLV in buf[start:end]."""
    view = buf[start:end]
    n = len(view)
    out = ffi.new("pwr_tlv[]", n // 4 + 1)
    err = ffi.new("size_t *")
    rc = lib.pwr_tlv_walk(ffi.from_buffer(view), n, out, n // 4 + 1, err)
    if rc < 0:
        why = {
            -1: "truncated TLV header",
            -2: "TLV value runs past the end",
            -3: "TLV padding runs past the end",
        }.get(rc, f"walker error {rc}")
        raise DecodeError(start + err[0], f"{what}: {why}")
    return [(out[i].type, out[i].length, start + out[i].value_off) for i in range(rc)]


def _need(length: int, want: int, off: int, what: str) -> None:
    if length != want:
        raise DecodeError(off - 4, f"{what}: length {length}, expected {want}")


def _decode_link(buf: bytes, start: int, end: int, prof: dict) -> LinkTLV:
    f: dict = {}
    unknown = []
    seen: set = set()
    by_code = {v: k for k, v in prof.items()}
    known = _KNOWN_LINK | set(by_code)
    for t, ln, off in _walk(buf, start, end, "Link TLV"):
        val = buf[off : off + ln]
        if t in seen and t in known:
            raise DecodeError(off - 4, f"Link TLV: sub-TLV {t} appears twice (RFC 3630 sec. 2.5)")
        seen.add(t)
        if t == ST_LINK_TYPE:
            _need(ln, 1, off, "link type sub-TLV")
            f["link_type"] = val[0]
        elif t == ST_LINK_ID:
            _need(ln, 4, off, "link ID sub-TLV")
            f["link_id"] = _ipstr(val)
        elif t in (ST_LOCAL_ADDR, ST_REMOTE_ADDR):
            if ln == 0 or ln % 4:
                raise DecodeError(off - 4, f"address sub-TLV {t}: length {ln} is not 4N")
            key = "local_addrs" if t == ST_LOCAL_ADDR else "remote_addrs"
            f[key] = tuple(_ipstr(val[i : i + 4]) for i in range(0, ln, 4))
        elif t == ST_TE_METRIC:
            _need(ln, 4, off, "TE metric sub-TLV")
            f["te_metric"] = struct.unpack(">I", val)[0]
        elif t == ST_MAX_BW:
            _need(ln, 4, off, "maximum bandwidth sub-TLV")
            f["max_bw"] = _unpack(val, off, "maximum bandwidth")[0]
        elif t == ST_ADMIN_GROUP:
            _need(ln, 4, off, "admin group sub-TLV")
            f["admin_group"] = struct.unpack(">I", val)[0]
        elif t == ST_DELAY:
            _need(ln, 4, off, "delay sub-TLV")
            d = struct.unpack(">I", val)[0]
            f["delay_us"] = d & 0xFFFFFF
            f["delay_anomalous"] = bool(d & 0x80000000)
        elif t == ST_AVAIL_BW:
            _need(ln, 4, off, "available bandwidth sub-TLV")
            f["avail_bw"] = _unpack(val, off, "available bandwidth")[0]
        elif t in by_code:
            name = by_code[t]
            _need(ln, 4, off, f"{name} sub-TLV {t}")
            f[name] = _unpack(val, off, name)[0]
        elif t == ST_GENERATION:
            _need(ln, 4, off, "generation sub-TLV")
            f["generation"] = struct.unpack(">I", val)[0]
        else:
            unknown.append((t, bytes(val)))  # RFC 3630 sec. 2.5: ignored
    for st, name in ((ST_LINK_TYPE, "link type"), (ST_LINK_ID, "link ID")):
        if st not in seen:
            raise DecodeError(start - 4, f"Link TLV: mandatory {name} sub-TLV missing (RFC 3630 sec. 2.4.2)")
    return LinkTLV(unknown=tuple(unknown), **f)


_KNOWN_LINK = {
    ST_LINK_TYPE,
    ST_LINK_ID,
    ST_LOCAL_ADDR,
    ST_REMOTE_ADDR,
    ST_TE_METRIC,
    ST_MAX_BW,
    ST_ADMIN_GROUP,
    ST_DELAY,
    ST_AVAIL_BW,
    ST_GENERATION,
}


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
    while p < end:
        ep = _ipstr(buf[p : p + 4])
        pwr, bw = _unpack(buf[p + 4 : p + 12], p + 4, "path info")
        te, hops, _, ag, dl = struct.unpack_from(">IHHII", buf, p + 12)
        if pwr < last:
            raise DecodeError(p, "TE Reachability Vector: path info not ordered by PWR sum (draft sec. 2.1.9)")
        last = pwr
        paths.append(PathInfo(ep, pwr, bw, te, hops, ag, dl))
        p += PATH_INFO_LEN
    return ReachabilityVector(chain, area, tuple(paths), frag)


def decode(body: bytes, profile: str = "draft") -> list[TLV]:
    """Decode an LSA body; raises DecodeError (a ValueError) on any fault."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}")
    prof = PROFILES[profile]
    try:
        body = bytes(body)
    except TypeError:
        raise DecodeError(0, f"body must be bytes, not {type(body).__name__}") from None
    out: list[TLV] = []
    for t, ln, off in _walk(body, 0, len(body), "LSA body"):
        if t == TLV_LINK:
            out.append(_decode_link(body, off, off + ln, prof))
        elif t == TLV_TE_ENDPOINT:
            _need(ln, 8, off, "TE Endpoint TLV")
            out.append(TEEndpoint(_ipstr(body[off : off + 4]), struct.unpack_from(">I", body, off + 4)[0]))
        elif t == TLV_AREA_BORDER:
            if ln < 8 or ln % 4:
                raise DecodeError(off - 4, f"Area Border TLV: length {ln} is not 4 + 4N (N >= 1)")
            areas = tuple(_ipstr(body[o : o + 4]) for o in range(off + 4, off + ln, 4))
            out.append(AreaBorder(_ipstr(body[off : off + 4]), areas))
        elif t == TLV_REACH_VECTOR:
            out.append(_decode_vector(body, off, ln))
        else:
            out.append(UnknownTLV(t, bytes(body[off : off + ln])))
    return out


# ---------------------------------------------------------------- JSON

_KINDS = {
    "link": LinkTLV,
    "te-endpoint": TEEndpoint,
    "area-border": AreaBorder,
    "reachability-vector": ReachabilityVector,
    "unknown": UnknownTLV,
}
_KIND_OF = {v: k for k, v in _KINDS.items()}


def to_dict(t: TLV) -> dict:
    d = asdict(t)
    if isinstance(t, LinkTLV):
        d["unknown"] = [[ut, uv.hex()] for ut, uv in t.unknown]
    if isinstance(t, UnknownTLV):
        d["value"] = t.value.hex()
    return {"tlv": _KIND_OF[type(t)], **d}


def from_dict(d: dict, where: str = "TLV") -> TLV:
    """Inverse of to_dict; errors name the field at fault."""
    if not isinstance(d, dict) or "tlv" not in d:
        raise ValueError(f"{where}: expected an object with a 'tlv' field")
    kind = d["tlv"]
    if kind not in _KINDS:
        raise ValueError(f"{where}.tlv: unknown kind {kind!r}; one of {sorted(_KINDS)}")
    cls = _KINDS[kind]
    args = {k: v for k, v in d.items() if k != "tlv"}
    names = set(cls.__dataclass_fields__)
    extra = set(args) - names
    if extra:
        raise ValueError(f"{where}: unknown field(s) {sorted(extra)} for {kind}")
    try:
        if cls is LinkTLV:
            for k in ("local_addrs", "remote_addrs"):
                if k in args:
                    args[k] = tuple(args[k])
            args["unknown"] = tuple((int(t), bytes.fromhex(v)) for t, v in args.get("unknown", ()))
        elif cls is AreaBorder:
            args["areas"] = tuple(args.get("areas", ()))
        elif cls is ReachabilityVector:
            args["abr_chain"] = tuple(args.get("abr_chain", ()))
            args["paths"] = tuple(
                PathInfo(**p) for p in args.get("paths", ())
            )
            if args.get("fragment") is not None:
                args["fragment"] = Fragment(**args["fragment"])
        elif cls is UnknownTLV:
            args["value"] = bytes.fromhex(args.get("value", ""))
        return cls(**args)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None
