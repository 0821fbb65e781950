"""Node Energy and Service Instance TLVs (ours, issue 9), sans-I/O.

The computing-power collaboration seed (cats-computing-power-collaboration,
sec. 4) asks for the energy status of compute sites and of their power
system, and for service-instance metrics, to be flooded beside the PWR
figures; docs/wire-format.md gives both TLVs' layouts. Each carries the
router ID first, then sub-TLVs of its own registry in RFC 3630 framing,
and an ABR's leaked copy adds the leak sub-TLV (origin area and ABR chain,
draft sec. 2.1.9's {ABR1, ABR2, ...}). ``wire.encode`` / ``wire.decode``
dispatch here; the framing and field checks are ``framing``'s.
"""

from __future__ import annotations

import ipaddress
import math
import struct

from pyfrr_pwr.proto import tlvs as _tlvs
from pyfrr_pwr.proto.f32 import _chk, _f32_at
from pyfrr_pwr.proto.framing import _SUB_F32, _ip, _ipstr, _need, _tlv, _u, _walk
from pyfrr_pwr.proto.tlvs import TLV_NODE_ENERGY, TLV_SERVICE_INSTANCE, DecodeError, NodeEnergy, ServiceInstance

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
