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
import struct
from collections.abc import Iterable

from pyfrr_pwr.proto import tlvs as _tlvs
from pyfrr_pwr.proto.catswire import _decode_energy, _decode_service, _encode_energy, _encode_service
from pyfrr_pwr.proto.f32 import _chk, _f32_at, pack_floats, unpack_floats
from pyfrr_pwr.proto.framing import (  # noqa: F401 (_ip6str, _sid_ok and the packers are used by callers through wire)
    _SUB_F32,
    _SUB_U32,
    _U32_AT,
    _ip,
    _ip6,
    _ip6str,
    _ipstr,
    _need,
    _sid_ok,
    _tlv,
    _u,
    _walk,
    make_lsid,
    split_lsid,
)
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
