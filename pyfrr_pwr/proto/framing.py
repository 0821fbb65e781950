"""RFC 3630 TLV framing and the field packers every PWR LSA codec shares.

Sans-I/O and table-free: checked packers for the fixed fields (router IDs,
SIDs, unsigned integers, opaque LS IDs) that raise ``ValueError`` naming
the field, and the TLV walker, which hands the framing to the C core
(``pwr_tlv_walk``, csrc/pwr_tlv.c) so no decoder reads past the buffer it
was given (RFC 3630 sec. 2.3.2: 4-octet alignment, lengths without the
padding). Split out of ``wire`` so the node-level codecs of ``catswire``
use the same checks without a cycle.
"""

from __future__ import annotations

import ipaddress
import socket
import struct

from pyfrr_pwr._core import ffi, lib
from pyfrr_pwr.proto.tlvs import DecodeError


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


_SUB_F32, _SUB_U32 = struct.Struct(">HHf").pack, struct.Struct(">HHI").pack
_U32_AT = struct.Struct(">I").unpack_from

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
