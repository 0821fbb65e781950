"""IEEE-754 binary32 floats on the wire, under one policy (csrc/pwr_tlv.h:
NaN, negatives and > FLT_MAX refused, -0.0 sent as +0.0, subnormals by
gradual underflow) and two paths: ``_chk``/``_f32_at`` check one float in
Python for ``wire``'s struct packing, ``pack_floats``/``unpack_floats``
send batches through the C kernel. tests/test_wire.py checks that both
agree on every float; ``wire``'s docstring has the measurements behind the
split.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

from pyfrr_pwr._core import ffi, lib
from pyfrr_pwr.proto.tlvs import DecodeError

__all__ = ["pack_floats", "unpack_floats"]

_FLT_MAX = struct.unpack(">f", b"\x7f\x7f\xff\xff")[0]
_PACK_WHY = {lib.PWR_F32_ENAN: "is NaN", lib.PWR_F32_ENEG: "is negative", lib.PWR_F32_ERANGE: "exceeds FLT_MAX",
             lib.PWR_F32_ESPACE: "no room"}  # fmt: skip
_UNPACK_WHY = {lib.PWR_F32_ENAN: "NaN", lib.PWR_F32_ENEG: "negative", lib.PWR_F32_EINF: "infinite"}
_pack, _from_buffer, _SATURATE = lib.pwr_f32_pack, ffi.from_buffer, lib.PWR_F32_SATURATE


def _pack_code(x: float, saturate: bool = False) -> int:
    """pwr_f32_pack's verdict on one double, in Python (same order)."""
    if x != x:
        return lib.PWR_F32_ENAN
    if x < 0.0:
        return lib.PWR_F32_ENEG
    return lib.PWR_F32_ERANGE if x > _FLT_MAX and not saturate else lib.PWR_F32_OK


def _unpack_code(x: float) -> int:
    """pwr_f32_unpack's strict verdict on one decoded float, in Python."""
    if x != x:
        return lib.PWR_F32_ENAN
    if x < 0.0:
        return lib.PWR_F32_ENEG
    return lib.PWR_F32_EINF if x == math.inf else lib.PWR_F32_OK


def _chk(v, what: str) -> float:
    """v as a double ``struct`` packs exactly as pwr_f32_pack does, or
    ValueError naming ``what``: the struct path of the float policy."""
    if type(v) is not float:  # convert as array("d") does for the C path
        if isinstance(v, (str, bytes, bytearray)):
            raise ValueError(f"{what}: {v!r} is not a number")
        try:
            v = float(v)
        except OverflowError:  # an integer beyond any double
            v = math.inf if v > 0 else -math.inf
        except (TypeError, ValueError):
            raise ValueError(f"{what}: {v!r} is not a number") from None
    if 0.0 <= v <= _FLT_MAX:
        return v + 0.0  # -0.0 is sent as +0.0
    raise ValueError(f"{what}: {v!r} {_PACK_WHY[_pack_code(v)]}")


def pack_floats(values: Sequence[float], saturate: bool = False) -> bytes:
    """Big-endian IEEE-754 binary32 run: one C kernel call for a batch.

    Rejects NaN and negative values; values above FLT_MAX (and +inf) raise
    unless ``saturate``, which clamps them to FLT_MAX. Accepts any iterable
    of numbers or a float64 buffer (numpy array) without copying it.
    """
    buf = None
    if type(values) not in (list, tuple):
        try:
            mv = memoryview(values)
            if mv.format == "d" and mv.c_contiguous and mv.ndim == 1:
                buf = _from_buffer("double[]", mv)  # float64 buffer: no copy
        except TypeError:
            pass
        if buf is None:  # generators are read once; other dtypes converted
            values = values.tolist() if hasattr(values, "tolist") else list(values)
    if buf is None:
        try:
            buf = ffi.new("double[]", values)
        except (TypeError, OverflowError):
            for i, v in enumerate(values):  # name the value at fault
                _chk(v, f"float #{i}")
            raise ValueError("float run: not a sequence of numbers") from None
    n = len(buf)
    out = bytearray(4 * n)
    flags = _SATURATE if saturate else 0
    rc = _pack(buf, n, _from_buffer(out), 4 * n, flags, ffi.NULL)
    if rc:  # rare: ask again for the index of the value at fault
        bad = ffi.new("size_t *")
        _pack(buf, n, _from_buffer(out), 4 * n, flags, bad)
        raise ValueError(f"float #{bad[0]} ({buf[bad[0]]!r}) {_PACK_WHY.get(rc, rc)}")
    return bytes(out)


def unpack_floats(data: bytes, strict: bool = False) -> list[float]:
    """Inverse of pack_floats (one C kernel call). With ``strict``, NaN,
    infinities and negative values raise ``DecodeError``."""
    data = bytes(data)
    n = len(data) // 4
    out = ffi.new("double[]", max(n, 1))
    bad = ffi.new("size_t *")
    rc = lib.pwr_f32_unpack(ffi.from_buffer(data), len(data), out, n, lib.PWR_F32_STRICT if strict else 0, bad)
    if rc == lib.PWR_F32_ESPACE:
        raise DecodeError(0, f"float run: {len(data)} octets is not a whole number of floats")
    if rc:
        raise DecodeError(4 * bad[0], f"float run: {_UNPACK_WHY.get(rc, rc)} value")
    return list(ffi.unpack(out, n))


_F32_AT = struct.Struct(">f").unpack_from


def _f32_at(buf: bytes, off: int, what: str) -> float:
    """The float at buf[off:off+4], under the strict decode policy."""
    x = _F32_AT(buf, off)[0]
    if 0.0 <= x < math.inf:  # -0.0 passes, as in the C kernel
        return x
    raise DecodeError(off, f"{what}: {_UNPACK_WHY[_unpack_code(x)]} value")
