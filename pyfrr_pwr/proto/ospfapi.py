"""FRR's OSPF API protocol (ospfd -a), sans-I/O.

Our own implementation, written from the message layouts of FRR 8.4.4's
ospfd/ospf_api.h (read for facts; FRR's GPL ospfclient.py is neither
imported nor copied). Everything here is pure: requests encode to bytes,
``Decoder`` turns received bytes into typed messages, ``ClientState`` matches
replies to requests by sequence number. ``pyfrr_pwr.apiclient`` owns the
sockets.

Wire facts (all fields network byte order):

* Header ``>BBHL``: version 1, message type, body length, sequence number.
* Two TCP connections: requests and their REPLY on the "sync" connection
  the client opens from local port P to ospfd's 2607; every notification on
  the "async" connection ospfd opens back to the client's port P + 1.
* LSA filter ``>HBB`` + area IDs: LSA type t is bit ``1 << (t - 1)``
  (ospf_api.h's Power2[]; FRR 8.4.4's own ospfclient.py gets this wrong).

No library speaks this protocol (the PyPI frr-ospf-api-stream-client is a
GPL, read-only derivative of ospfclient.py), hence the hand-written code.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from enum import IntEnum

__all__ = [
    "MsgType",
    "ApiErr",
    "IsmState",
    "NsmState",
    "LsaHeader",
    "LsaFilter",
    "ProtocolError",
    "Decoder",
    "ClientState",
    "encode_request",
]

API_VERSION = 1
API_PORT = 2607
HDR = struct.Struct(">BBHL")
LSA_HDR = struct.Struct(">HBBIILHH")
MAX_MSG_BODY = 1500 + 64  # OSPF_MAX_LSA_SIZE plus the largest fixed part
MIN_SEQ, MAX_SEQ = 1, 2147483647  # ospf_api.h


class MsgType(IntEnum):
    REGISTER_OPAQUETYPE = 1
    UNREGISTER_OPAQUETYPE = 2
    REGISTER_EVENT = 3
    SYNC_LSDB = 4
    ORIGINATE_REQUEST = 5
    DELETE_REQUEST = 6
    SYNC_REACHABLE = 7
    SYNC_ISM = 8
    SYNC_NSM = 9
    REPLY = 10
    READY_NOTIFY = 11
    LSA_UPDATE_NOTIFY = 12
    LSA_DELETE_NOTIFY = 13
    NEW_IF = 14
    DEL_IF = 15
    ISM_CHANGE = 16
    NSM_CHANGE = 17
    REACHABLE_CHANGE = 18
    SYNC_ROUTER_ID = 19
    ROUTER_ID_CHANGE = 20


class ApiErr(IntEnum):
    OK = 0
    NOSUCHINTERFACE = -1
    NOSUCHAREA = -2
    NOSUCHLSA = -3
    ILLEGALLSATYPE = -4
    OPAQUETYPEINUSE = -5
    OPAQUETYPENOTREGISTERED = -6
    NOTREADY = -7
    NOMEMORY = -8
    ERROR = -9
    UNDEF = -10


ORIGIN_NON_SELF, ORIGIN_SELF, ORIGIN_ANY = 0, 1, 2
DEL_ZERO_LEN_LSA = 0x01  # delete flag: flush with an empty body

# Opaque LSA types (RFC 5250 sec. 3): flooding scope link-local, area, AS.
# PWR LSAs are area-scoped, type 10 (draft sec. 2.1.9, RFC 3630 sec. 2.1).
LSA_OPAQUE_LINK, LSA_OPAQUE_AREA, LSA_OPAQUE_AS = 9, 10, 11


class IsmState(IntEnum):
    """Interface state machine (ospfd/ospf_ism.h; RFC 2328 sec. 9.1)."""

    DEPEND_UPON = 0
    DOWN = 1
    LOOPBACK = 2
    WAITING = 3
    POINT_TO_POINT = 4
    DR_OTHER = 5
    BACKUP = 6
    DR = 7


class NsmState(IntEnum):
    """Neighbour state machine (ospfd/ospf_nsm.h; RFC 2328 sec. 10.1)."""

    DEPEND_UPON = 0
    DELETED = 1
    DOWN = 2
    ATTEMPT = 3
    INIT = 4
    TWO_WAY = 5
    EX_START = 6
    EXCHANGE = 7
    LOADING = 8
    FULL = 9


# ISM/NSM state names as ospfd prints them (ospfd/ospf_ism.h, ospf_nsm.h)
ISM_STATES = {0: "DependUpon", 1: "Down", 2: "Loopback", 3: "Waiting", 4: "PointToPoint", 5: "DROther", 6: "Backup", 7: "DR"}
NSM_STATES = {0: "DependUpon", 1: "Deleted", 2: "Down", 3: "Attempt", 4: "Init", 5: "2-Way", 6: "ExStart", 7: "Exchange", 8: "Loading", 9: "Full"}
NSM_FULL = NsmState.FULL


class ProtocolError(Exception):
    """The byte stream cannot be framed any more: the connection must go."""


def _ip(s: str) -> int:
    return int(ipaddress.IPv4Address(s))


def _ips(v: int) -> str:
    return str(ipaddress.IPv4Address(v))


# ------------------------------------------------------------ structures


@dataclass(frozen=True)
class LsaHeader:
    """RFC 2328 sec. A.4.1 LSA header (``>HBBIILHH``)."""

    age: int
    options: int
    type: int
    lsid: str
    adv_router: str
    seq: int
    checksum: int
    length: int

    def pack(self) -> bytes:
        return LSA_HDR.pack(self.age, self.options, self.type, _ip(self.lsid), _ip(self.adv_router), self.seq, self.checksum, self.length)

    @classmethod
    def unpack(cls, b: bytes, off: int = 0) -> LsaHeader:
        age, opt, t, lsid, adv, seq, ck, ln = LSA_HDR.unpack_from(b, off)
        return cls(age, opt, t, _ips(lsid), _ips(adv), seq, ck, ln)

    @property
    def opaque_type(self) -> int:
        return _ip(self.lsid) >> 24

    @property
    def opaque_id(self) -> int:
        return _ip(self.lsid) & 0xFFFFFF


@dataclass(frozen=True)
class LsaFilter:
    """Which LSAs a client hears about (ospf_api.h struct lsa_filter_type)."""

    lsa_types: tuple = (10,)
    origin: int = ORIGIN_ANY
    areas: tuple = ()

    def pack(self) -> bytes:
        mask = 0
        for t in self.lsa_types:
            if not 1 <= t <= 16:
                raise ValueError(f"LSA type {t} out of range 1-16")
            mask |= 1 << (t - 1)  # Power2[t] in ospf_api.h
        return struct.pack(">HBB", mask, self.origin, len(self.areas)) + b"".join(struct.pack(">I", _ip(a)) for a in self.areas)


# ------------------------------------------------------------ requests


@dataclass(frozen=True)
class RegisterOpaqueType:
    lsa_type: int
    opaque_type: int


@dataclass(frozen=True)
class UnregisterOpaqueType:
    lsa_type: int
    opaque_type: int


@dataclass(frozen=True)
class RegisterEvent:
    filter: LsaFilter = LsaFilter()


@dataclass(frozen=True)
class SyncLsdb:
    filter: LsaFilter = LsaFilter()


@dataclass(frozen=True)
class OriginateRequest:
    """Originate (or refresh: same LS ID) one opaque LSA. ospfd uses only the
    type, LS ID and length of the header it is given and fills in the rest."""

    lsa_type: int
    opaque_type: int
    opaque_id: int
    body: bytes
    area: str = "0.0.0.0"  # type 10
    ifaddr: str = "0.0.0.0"  # type 9


@dataclass(frozen=True)
class DeleteRequest:
    lsa_type: int
    opaque_type: int
    opaque_id: int
    addr: str = "0.0.0.0"  # area ID (type 10) or interface address (type 9)
    zero_len: bool = False  # OSPF_API_DEL_ZERO_LEN_LSA


@dataclass(frozen=True)
class SyncReachable:
    pass


@dataclass(frozen=True)
class SyncIsm:
    pass


@dataclass(frozen=True)
class SyncNsm:
    pass


@dataclass(frozen=True)
class SyncRouterId:
    pass


Request = (
    RegisterOpaqueType | UnregisterOpaqueType | RegisterEvent | SyncLsdb | OriginateRequest | DeleteRequest | SyncReachable | SyncIsm | SyncNsm | SyncRouterId
)


def encode_request(req: Request, seq: int) -> bytes:
    """One request message, header included."""
    if isinstance(req, RegisterOpaqueType):
        t, body = MsgType.REGISTER_OPAQUETYPE, struct.pack(">BBxx", req.lsa_type, req.opaque_type)
    elif isinstance(req, UnregisterOpaqueType):
        t, body = MsgType.UNREGISTER_OPAQUETYPE, struct.pack(">BBxx", req.lsa_type, req.opaque_type)
    elif isinstance(req, RegisterEvent):
        t, body = MsgType.REGISTER_EVENT, req.filter.pack()
    elif isinstance(req, SyncLsdb):
        t, body = MsgType.SYNC_LSDB, req.filter.pack()
    elif isinstance(req, OriginateRequest):
        if len(req.body) % 4 or len(req.body) > 1480:
            raise ValueError(f"opaque LSA body of {len(req.body)} octets: must be a multiple of 4, at most 1480")
        if not 0 <= req.opaque_id < 1 << 24:
            raise ValueError(f"opaque ID {req.opaque_id} is not 24 bits")
        lsid = _ips((req.opaque_type << 24) | req.opaque_id)
        hdr = LsaHeader(0, 0, req.lsa_type, lsid, "0.0.0.0", 0, 0, LSA_HDR.size + len(req.body))
        t, body = MsgType.ORIGINATE_REQUEST, struct.pack(">II", _ip(req.ifaddr), _ip(req.area)) + hdr.pack() + bytes(req.body)
    elif isinstance(req, DeleteRequest):
        flags = DEL_ZERO_LEN_LSA if req.zero_len else 0
        t, body = MsgType.DELETE_REQUEST, struct.pack(">IBBxBL", _ip(req.addr), req.lsa_type, req.opaque_type, flags, req.opaque_id)
    elif isinstance(req, (SyncReachable, SyncIsm, SyncNsm, SyncRouterId)):
        t = {SyncReachable: MsgType.SYNC_REACHABLE, SyncIsm: MsgType.SYNC_ISM, SyncNsm: MsgType.SYNC_NSM, SyncRouterId: MsgType.SYNC_ROUTER_ID}[type(req)]
        body = b"\0\0\0\0"
    else:
        raise TypeError(f"not an OSPF API request: {req!r}")
    if not MIN_SEQ <= seq <= MAX_SEQ:
        raise ValueError(f"sequence number {seq} out of range")
    return HDR.pack(API_VERSION, t, len(body), seq) + body


# ------------------------------------------------------------ from ospfd


@dataclass(frozen=True)
class Reply:
    seq: int
    errcode: int

    @property
    def ok(self) -> bool:
        return self.errcode == 0

    @property
    def error(self) -> str:
        try:
            return ApiErr(self.errcode).name
        except ValueError:
            return f"error {self.errcode}"


@dataclass(frozen=True)
class ReadyNotify:
    lsa_type: int
    opaque_type: int
    addr: str  # area ID for type 10


@dataclass(frozen=True)
class LsaChange:
    """An LSA notification: which LSA, where, and its body."""

    ifaddr: str
    area: str
    self_originated: bool
    header: LsaHeader
    body: bytes
    seq: int = 0


@dataclass(frozen=True)
class LsaUpdate(LsaChange):
    pass


@dataclass(frozen=True)
class LsaDelete(LsaChange):
    pass


@dataclass(frozen=True)
class NewIf:
    ifaddr: str
    area: str


@dataclass(frozen=True)
class DelIf:
    ifaddr: str


@dataclass(frozen=True)
class IsmChange:
    ifaddr: str
    area: str
    status: int

    @property
    def state(self) -> str:
        return ISM_STATES.get(self.status, str(self.status))


@dataclass(frozen=True)
class NsmChange:
    ifaddr: str
    nbraddr: str
    router_id: str
    status: int

    @property
    def state(self) -> str:
        return NSM_STATES.get(self.status, str(self.status))


@dataclass(frozen=True)
class ReachableChange:
    added: tuple
    removed: tuple


@dataclass(frozen=True)
class RouterIdChange:
    router_id: str


@dataclass(frozen=True)
class Malformed:
    """A message whose framing was fine but whose body was not: counted and
    dropped, never fatal."""

    msgtype: int
    seq: int
    reason: str
    raw: bytes = field(repr=False, default=b"")


Message = Reply | ReadyNotify | LsaUpdate | LsaDelete | NewIf | DelIf | IsmChange | NsmChange | ReachableChange | RouterIdChange | Malformed


def _decode_body(t: int, seq: int, b: bytes) -> Message:
    try:
        if t == MsgType.REPLY:
            (err,) = struct.unpack(">bxxx", b)
            return Reply(seq, err)
        if t == MsgType.READY_NOTIFY:
            lt, ot, addr = struct.unpack(">BBxxI", b)
            return ReadyNotify(lt, ot, _ips(addr))
        if t in (MsgType.LSA_UPDATE_NOTIFY, MsgType.LSA_DELETE_NOTIFY):
            ifaddr, area, selfo = struct.unpack_from(">IIBxxx", b)
            hdr = LsaHeader.unpack(b, 12)
            body = b[12 + LSA_HDR.size :]
            if hdr.length < LSA_HDR.size or hdr.length - LSA_HDR.size > len(body):
                return Malformed(t, seq, f"LSA length {hdr.length} does not match the {len(body)} octets of LSA body received", b)
            body = body[: hdr.length - LSA_HDR.size]
            cls = LsaUpdate if t == MsgType.LSA_UPDATE_NOTIFY else LsaDelete
            return cls(_ips(ifaddr), _ips(area), bool(selfo), hdr, bytes(body), seq)
        if t == MsgType.NEW_IF:
            a, ar = struct.unpack(">II", b)
            return NewIf(_ips(a), _ips(ar))
        if t == MsgType.DEL_IF:
            (a,) = struct.unpack(">I", b)
            return DelIf(_ips(a))
        if t == MsgType.ISM_CHANGE:
            a, ar, st = struct.unpack(">IIBxxx", b)
            return IsmChange(_ips(a), _ips(ar), st)
        if t == MsgType.NSM_CHANGE:
            a, n, r, st = struct.unpack(">IIIBxxx", b)
            return NsmChange(_ips(a), _ips(n), _ips(r), st)
        if t == MsgType.REACHABLE_CHANGE:
            nadd, nrem = struct.unpack_from(">HH", b)
            if len(b) != 4 + 4 * (nadd + nrem):
                return Malformed(t, seq, f"{nadd}+{nrem} router IDs announced, {len(b) - 4} octets follow", b)
            ids = [_ips(v) for v in struct.unpack_from(f">{nadd + nrem}I", b, 4)]
            return ReachableChange(tuple(ids[:nadd]), tuple(ids[nadd:]))
        if t == MsgType.ROUTER_ID_CHANGE:
            (r,) = struct.unpack(">I", b)
            return RouterIdChange(_ips(r))
    except struct.error as exc:
        return Malformed(t, seq, f"body of {len(b)} octets: {exc}", b)
    return Malformed(t, seq, f"unknown message type {t}", b)


class Decoder:
    """Byte stream -> messages. Feed it whatever the socket gave.

    A message with a bad body becomes ``Malformed`` (framing survives); a bad
    version or an oversized length means framing is lost and raises
    ``ProtocolError``, after which the connection must be reset.
    """

    def __init__(self, max_body: int = MAX_MSG_BODY):
        self.buf = bytearray()
        self.max_body = max_body

    def feed(self, data: bytes) -> list:
        self.buf += data
        out = []
        while len(self.buf) >= HDR.size:
            ver, t, ln, seq = HDR.unpack_from(self.buf)
            if ver != API_VERSION:
                raise ProtocolError(f"OSPF API version {ver}, expected {API_VERSION}")
            if ln > self.max_body:
                raise ProtocolError(f"message type {t} announces {ln} octets, more than {self.max_body}")
            if len(self.buf) < HDR.size + ln:
                break
            body = bytes(self.buf[HDR.size : HDR.size + ln])
            del self.buf[: HDR.size + ln]
            out.append(_decode_body(t, seq, body))
        return out


@dataclass
class Pending:
    seq: int
    request: object
    deadline: float


class ClientState:
    """Sequence numbers and request/reply matching for one session.

    ``send`` returns the bytes to write on the sync connection; ``on_reply``
    pairs a Reply with its request (or reports it as unmatched).
    ``expired(now)`` lists requests whose reply is overdue.
    """

    def __init__(self, timeout: float = 5.0):
        self.seq = MIN_SEQ - 1
        self.pending: dict[int, Pending] = {}
        self.timeout = timeout

    def next_seq(self) -> int:
        self.seq = self.seq + 1 if self.seq < MAX_SEQ else MIN_SEQ
        return self.seq

    def send(self, req, now: float) -> tuple[int, bytes]:
        seq = self.next_seq()
        data = encode_request(req, seq)
        self.pending[seq] = Pending(seq, req, now + self.timeout)
        return seq, data

    def on_reply(self, reply: Reply):
        """The request this reply answers, or None if none was pending."""
        p = self.pending.pop(reply.seq, None)
        return p.request if p else None

    def expired(self, now: float) -> list[Pending]:
        gone = [p for p in self.pending.values() if p.deadline <= now]
        for p in gone:
            del self.pending[p.seq]
        return gone

    def reset(self) -> list[Pending]:
        """Connection lost: every pending request fails."""
        gone = list(self.pending.values())
        self.pending.clear()
        return gone
