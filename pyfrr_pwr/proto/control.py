"""The agent's two line protocols as typed messages, and their one codec.

* The control socket (a Unix socket, one JSON object a line each way): an
  operator's or a lab's requests to the local agent: status, its links, its
  TEDs, intra-area paths (draft sec. 2.1.7), the head-end's inter-area
  choice (draft sec. 2.2, "TE Path Head-end Operation"), reservations.
* Agent-to-agent signalling (TCP port 2700, one request a connection): a
  reservation travelling hop by hop along the chosen path (draft sec. 2.2;
  no RSVP-TE here), its soft-state refreshes and its release. On the wire
  each request and reply is the ``body`` of an authenticated envelope
  (``proto.signal``); their fields are bounded and checked here.

On the wire a request is ``{"cmd": NAME, field: value, ...}`` and a reply
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}``, as
they were when they were plain dicts. Fields equal to their default are
left out. A request's CSPF constraints travel flat, as named fields (those
of ``model.constraints.Constraints.to_dict()``). This layer sits below
``model`` and so does not know their names: every field a path request does
not define goes into its ``constraints`` dict, and the agent's
``Constraints.of`` refuses a name it does not know.

``decode`` raises ``ProtocolError`` (a ``ValueError``) naming the field at
fault, and nothing else, whatever the bytes.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar

__all__ = [
    "ProtocolError", "AgentRefusal", "AgentError",
    "Status", "Links", "Ted", "TedTimes", "Paths", "Path", "Reserve", "Release", "Reservations", "Vectors", "Lsps", "Service",
    "PlanStep", "SignalReserve", "SignalRelease", "SignalRefresh", "Reply",
    "Segment", "Candidate", "PathChoice", "FoundPath", "AreaPaths", "Reserved", "Released", "Route", "PrefixSid", "Lost", "Refreshed",
    "MAX_ID_LEN", "MAX_HOPS", "MAX_PLAN", "MAX_ROUTE", "MAX_REFRESH_IDS", "MAX_BW", "MAX_REASON", "MAX_LOST_REASON", "MAX_WAIT", "MAX_PREFIXES",
    "Protocol", "CONTROL", "SIGNAL", "REPLY", "encode", "decode", "from_json", "to_json", "result_of",
]  # fmt: skip


class ProtocolError(ValueError):
    """A line that is no valid message; ``field`` names the one at fault."""

    def __init__(self, msg: str, field: str | None = None):
        super().__init__(msg)
        self.field = field


class AgentRefusal(ValueError):
    """Raised inside the agent for a request it declines; the client sees
    the message as the reply's ``error``."""


class AgentError(ValueError):
    """Client side: the agent refused a request (``ok`` false) or no agent
    answers. Not a configuration error: nothing in a file is at fault. A
    ValueError, as the ConfigError it replaces was, so callers that retry
    on ValueError while a network converges keep doing so."""


# ------------------------------------------------------------ field checks


def _str(v, where):
    if not isinstance(v, str):
        raise ProtocolError(f"{where} must be a string, got {v!r}", where)
    return v


def _int(v, where):
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 2**31:
        raise ProtocolError(f"{where} must be an integer from 0 to 2^31-1, got {v!r}", where)
    return v


def _num(v, where):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise ProtocolError(f"{where} must be a finite number >= 0, got {v!r}", where)
    return v


def _real(v, where):  # a figure in a result: may be infinite, never NaN
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
        raise ProtocolError(f"{where} must be a number, got {v!r}", where)
    return v


def _bool(v, where):
    if not isinstance(v, bool):
        raise ProtocolError(f"{where} must be true or false, got {v!r}", where)
    return v


def _opt(check):
    def f(v, where):
        return None if v is None else check(v, where)

    return f


def _strs(v, where):
    if not isinstance(v, list):
        raise ProtocolError(f"{where} must be a list of strings, got {v!r}", where)
    return tuple(_str(x, f"{where}[{i}]") for i, x in enumerate(v))


def _any(v, where):
    return v


# signalling: what a peer sends is bounded and checked field by field
MAX_ID_LEN = 64  # a reservation ID ("<head-end router ID>/<n>")
MAX_HOPS = 64  # routers in one explicit route segment
MAX_PLAN = 8  # later segments of an inter-area reservation
MAX_ROUTE = 256  # routers in a whole reserved route
MAX_REFRESH_IDS = 256  # reservations refreshed by one message
MAX_BW = 1.25e13  # bytes/s (100 Tb/s): over any link's capacity; each hop checks its own link's
MAX_REASON = 512  # characters of a refusal relayed from further on
MAX_LOST_REASON = 100  # characters of why a refresh did not get through (a full Refreshed fits a line)
MAX_WAIT = 60.0  # seconds a refresh may wait for the hops further on
MAX_PREFIXES = 16  # IPv4 prefixes one LSP carries (issue 7)
_ID = re.compile(rf"[A-Za-z0-9._:/-]{{1,{MAX_ID_LEN}}}")
_DOTTED = re.compile(r"(?:0|[1-9][0-9]{0,2})(?:\.(?:0|[1-9][0-9]{0,2})){3}")


def _ipv4(v, where):
    if not isinstance(v, str) or not _DOTTED.fullmatch(v) or any(int(x) > 255 for x in v.split(".")):
        raise ProtocolError(f"{where} must be an IPv4 router ID (dotted quad), got {str(v)[:40]!r}", where)
    return v


def _sid(v, where):
    if not isinstance(v, str) or not _ID.fullmatch(v):
        raise ProtocolError(f"{where} must be an ID of 1 to {MAX_ID_LEN} characters A-Z a-z 0-9 . _ : / -, got {str(v)[:80]!r}", where)
    return v


def _bw(v, where):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 < v <= MAX_BW:
        raise ProtocolError(f"{where} must be a finite number of bytes/s > 0 and <= {MAX_BW:g}, got {v!r}", where)
    return v


def _wait(v, where):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 < v <= MAX_WAIT:
        raise ProtocolError(f"{where} must be a number of seconds > 0 and <= {MAX_WAIT:g}, got {v!r}", where)
    return v


_V4NET = re.compile(r"[0-9.]{7,15}/[0-9]{1,2}")


def _v4prefix(v, where):
    """An IPv4 prefix in canonical form ("10.20.201.0/24"; no host bits)."""
    import ipaddress

    if not isinstance(v, str) or not _V4NET.fullmatch(v):
        raise ProtocolError(f"{where} must be an IPv4 prefix a.b.c.d/len, got {str(v)[:40]!r}", where)
    try:
        return str(ipaddress.IPv4Network(v))
    except ValueError as exc:
        raise ProtocolError(f"{where}: {exc}", where) from None


def _v6(v, where):
    """An IPv6 address (a SID), canonical."""
    import ipaddress

    if not isinstance(v, str) or len(v) > 45:
        raise ProtocolError(f"{where} must be an IPv6 address, got {str(v)[:50]!r}", where)
    try:
        return str(ipaddress.IPv6Address(v))
    except ValueError:
        raise ProtocolError(f"{where} must be an IPv6 address, got {v[:50]!r}", where) from None


def _reason(v, where):
    return _str(v, where)[:MAX_LOST_REASON]


def _bounded(check, lo: int, hi: int):
    """A list of ``lo`` to ``hi`` items, each checked."""

    def f(v, where):
        if not isinstance(v, list):
            raise ProtocolError(f"{where} must be a list, got {type(v).__name__}", where)
        if not lo <= len(v) <= hi:
            raise ProtocolError(f"{where} must hold {lo} to {hi} items, got {len(v)}", where)
        return tuple(check(x, f"{where}[{i}]") for i, x in enumerate(v))

    return f


def _list_of(cls):
    def f(v, where):
        if not isinstance(v, list):
            raise ProtocolError(f"{where} must be a list, got {v!r}", where)
        return tuple(cls._from(x, f"{where}[{i}]") for i, x in enumerate(v))

    return f


def _record(cls):
    return lambda v, where: cls._from(v, where)


def _f(check, default=MISSING, key=None):
    """A message field: how to check it, its default (left off the wire
    when the value equals it), its JSON key."""
    return field(default=default, metadata={"check": check, "key": key})


def to_json(v):
    """A message, result record or plain value as JSON-able data."""
    if isinstance(v, _Record):
        return v.to_json()
    if isinstance(v, (list, tuple)):
        return [to_json(x) for x in v]
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    return v


class _Record:
    """JSON object <-> frozen dataclass, field by field (``_f`` metadata)."""

    EXTRA: ClassVar[str | None] = None  # the field that takes unknown keys

    @classmethod
    def _spec(cls):
        return [(f, f.metadata.get("key") or f.name) for f in fields(cls) if f.name != cls.EXTRA]

    def to_json(self) -> dict:
        out = {}
        for f, key in self._spec():
            v = getattr(self, f.name)
            dflt = f.default_factory() if f.default_factory is not MISSING else f.default
            if f.default is MISSING and f.default_factory is MISSING or v != dflt:
                out[key] = to_json(v)
        if self.EXTRA:
            for k, v in getattr(self, self.EXTRA).items():
                if not isinstance(k, str) or k in out or k == "cmd" or k in {key for _, key in self._spec()}:
                    raise ProtocolError(f"{self.EXTRA}: {k!r} clashes with a field of the message", self.EXTRA)
                out[k] = to_json(v)
        return out

    @classmethod
    def _from(cls, d, where: str = "", skip: tuple = ()):
        if not isinstance(d, dict):
            raise ProtocolError(f"{where or cls.__name__} must be a JSON object, got {type(d).__name__}", where or None)
        kw, seen = {}, set(skip)
        for f, key in cls._spec():
            fw = f"{where}.{key}" if where else key
            if key in d:
                kw[f.name] = f.metadata["check"](d[key], fw)
            elif f.default is MISSING and f.default_factory is MISSING:
                raise ProtocolError(f"{fw} is missing", fw)
            seen.add(key)
        rest = {k: v for k, v in d.items() if k not in seen}
        if cls.EXTRA:  # constraints: a null one is unset, as it always was
            kw[cls.EXTRA] = {k: v for k, v in rest.items() if v is not None}
        elif rest:
            k = sorted(rest)[0]
            fw = f"{where}.{k}" if where else k
            raise ProtocolError(f"unknown field {fw!r}", fw)
        return cls(**kw)

    @classmethod
    def from_json(cls, d):
        return cls._from(d)


# ------------------------------------------------------------ results


@dataclass(frozen=True, kw_only=True)
class Segment(_Record):
    what: str = _f(_str)
    area: str | None = _f(_opt(_str), None)  # the vector's area; the head-end segment has none
    pwr_w_per_gbps: float = _f(_real)
    hops: int = _f(_int)


def _two_segments(v, where):
    segs = _list_of(Segment)(v, where)
    if len(segs) != 2:
        raise ProtocolError(f"{where} must hold two segments (head-end, vector), got {len(segs)}", where)
    return segs


@dataclass(frozen=True)
class Candidate(_Record):
    """One inter-area choice: the head-end's segment to the first ABR, then
    that ABR's vector to the tail-end (draft sec. 2.2)."""

    abr_chain: tuple = _f(_strs)
    head_path: tuple = _f(_strs)
    segments: tuple = _f(_two_segments)  # (head-end to first ABR, ABR vector to tail-end)
    pwr: float = _f(_real)
    pwr_w_per_gbps: float = _f(_real)
    min_avail_bw: float | None = _f(_opt(_real))
    hops: int = _f(_int)
    delay_us: float | None = _f(_opt(_real))
    jitter_us: float | None = _f(_opt(_real), None)  # summed delay variation (RFC 7471 sec. 4.3), when known

    @property
    def head(self) -> Segment:
        return self.segments[0]

    @property
    def vector(self) -> Segment:
        return self.segments[1]


@dataclass(frozen=True)
class PathChoice(_Record):
    """The head-end's answer: the best, its equal-PWR set (sec. 2.1.5) and
    the runners-up."""

    to: str = _f(_str)
    best: Candidate = _f(_record(Candidate))
    ecmp: tuple = _f(_list_of(Candidate))
    runners_up: tuple = _f(_list_of(Candidate))


@dataclass(frozen=True)
class FoundPath(_Record):
    nodes: tuple = _f(_strs)
    pwr: float = _f(_real)
    pwr_w_per_gbps: float = _f(_real)


@dataclass(frozen=True)
class AreaPaths(_Record):
    area: str = _f(_str)
    paths: tuple = _f(_list_of(FoundPath))


@dataclass(frozen=True)
class PrefixSid(_Record):
    """A tail-end's End.DX4 SID for one of its prefixes (RFC 8986 sec. 4.7)."""

    prefix: str = _f(_v4prefix)
    sid: str = _f(_v6)


@dataclass(frozen=True)
class Route(_Record):
    """A reservation's route from the hop that answers on. For an LSP
    (``SignalReserve.dataplane``) the answer also carries, upstream like
    an RSVP Resv's labels (RFC 3209 sec. 4.1): ``links``, the local IPv4
    address of the link each hop reserved, from the answering hop to the
    next binding point; ``binding``, the End.B6.Encaps SID the nearest ABR
    downstream installed for its segment (None: the route reaches the tail
    without one); the tail's End.DT6 SID and its End.DX4 SIDs of the LSP's
    prefixes."""

    route: tuple = _f(_bounded(_ipv4, 1, MAX_ROUTE))
    links: tuple = _f(_bounded(_ipv4, 0, MAX_ROUTE), ())
    binding: str | None = _f(_opt(_v6), None)
    dt6: str | None = _f(_opt(_v6), None)
    dx4: tuple = _f(_bounded(_record(PrefixSid), 0, MAX_PREFIXES), ())


@dataclass(frozen=True)
class Lost(_Record):
    """A reservation a refresh did not reach: ``at`` the router that found
    it gone (or that did not answer), and why."""

    id: str = _f(_sid)
    at: str = _f(_ipv4)
    reason: str = _f(_reason)


@dataclass(frozen=True)
class Refreshed(_Record):
    """A refresh's answer: the reservations lost on the way (none: all well)."""

    lost: tuple = _f(_bounded(_record(Lost), 0, MAX_REFRESH_IDS), ())


@dataclass(frozen=True)
class Reserved(_Record):
    id: str = _f(_str)
    bw: float = _f(_num)
    route: tuple = _f(_strs)
    path: PathChoice = _f(_record(PathChoice))
    lsp: dict | None = _f(_any, None)  # the LSP installed (``show lsps``'s record); None: a reservation only
    no_lsp: str | None = _f(_opt(_str), None)  # a reservation only: why no LSP carries traffic


@dataclass(frozen=True)
class Released(_Record):
    id: str = _f(_str, key="released")


# ------------------------------------------------------------ requests


class _Request(_Record):
    CMD: ClassVar[str]
    RESULT: ClassVar[type | None] = None  # typed result, or None: plain JSON


@dataclass(frozen=True)
class Status(_Request):
    CMD = "status"


@dataclass(frozen=True)
class Links(_Request):
    CMD = "links"


@dataclass(frozen=True)
class Ted(_Request):
    CMD = "ted"
    area: str | None = _f(_opt(_str), None)


@dataclass(frozen=True)
class TedTimes(_Request):
    CMD = "ted_times"


@dataclass(frozen=True)
class Paths(_Request):
    """k power-shortest paths inside one area (draft sec. 2.1.7)."""

    CMD, RESULT, EXTRA = "paths", AreaPaths, "constraints"
    to: str = _f(_str)
    src: str | None = _f(_opt(_str), None, key="from")
    k: int | None = _f(_opt(_int), None)
    area: str | None = _f(_opt(_str), None)
    constraints: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Path(_Request):
    """The head-end's inter-area request (draft sec. 2.2)."""

    CMD, RESULT, EXTRA = "path", PathChoice, "constraints"
    to: str = _f(_str)
    k: int | None = _f(_opt(_int), None)
    constraints: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Reserve(_Request):
    """Choose a path with ``bw`` bytes/s available and reserve it; where
    the agent runs SRv6, also set up an LSP carrying ``prefixes`` (default:
    what the tail-end serves, its End.DX4 prefixes) along it (issue 7)."""

    CMD, RESULT, EXTRA = "reserve", Reserved, "constraints"
    to: str = _f(_str)
    bw: float = _f(_num)
    k: int | None = _f(_opt(_int), None)
    prefixes: tuple = _f(_bounded(_v4prefix, 0, MAX_PREFIXES), ())
    backup: bool = _f(_bool, False)  # also a disjoint backup, pre-installed at a worse metric
    ecmp: bool = _f(_bool, False)  # the equal-PWR set as one UCMP multipath route (draft sec. 2.1.5)
    constraints: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Release(_Request):
    CMD, RESULT = "release", Released
    id: str = _f(_str)


@dataclass(frozen=True)
class Reservations(_Request):
    CMD = "reservations"


@dataclass(frozen=True)
class Vectors(_Request):
    CMD = "vectors"


@dataclass(frozen=True)
class Lsps(_Request):
    """The head-end's LSPs (issue 7): state, path, SID list, bandwidth,
    PWR now and at set-up, kernel counters."""

    CMD = "lsps"


@dataclass(frozen=True)
class Service(_Request):
    """Rank the instances of a service for this head-end (issue 9 sec. 3;
    the joint cost is ``cats.service``'s)."""

    CMD = "service"
    service: str = _f(_str)
    demand: float | None = _f(_opt(_num), None)  # bytes/s
    max_delay_us: float | None = _f(_opt(_num), None)
    max_jitter_us: float | None = _f(_opt(_num), None)
    weights: str | None = _f(_opt(_str), None)  # "power=1,carbon=0.5"
    critical: bool = _f(_bool, False)
    k: int | None = _f(_opt(_int), None)


@dataclass(frozen=True)
class PlanStep(_Record):
    """A later segment of a reservation: CSPF from the ABR reached to
    ``to`` inside ``area``, at the reservation's bandwidth."""

    area: str = _f(_ipv4)
    to: str = _f(_ipv4)


@dataclass(frozen=True)
class SignalReserve(_Request):
    """One hop of a reservation: ``hops`` starts with the receiver. ``bw``
    is bytes/s; each hop also checks it against its own link's capacity."""

    CMD, RESULT = "reserve", Route
    id: str = _f(_sid)
    bw: float = _f(_bw)
    hops: tuple = _f(_bounded(_ipv4, 1, MAX_HOPS))
    plan: tuple = _f(_bounded(_record(PlanStep), 0, MAX_PLAN), ())
    # issue 7: the reservation carries an LSP: ABRs install binding SIDs, the
    # tail answers its End.DX4 SIDs for ``prefixes`` (none: all it serves)
    dataplane: bool = _f(_bool, False)
    prefixes: tuple = _f(_bounded(_v4prefix, 0, MAX_PREFIXES), ())
    # second seed sec. 4.2: a backup's reserve names its primary's route (router IDs, every
    # area, as signalling recorded it); each ABR expands its segment away from it
    # (agent.signalling.expand_avoiding: node-disjoint, else link-disjoint, else plain CSPF)
    avoid: tuple = _f(_bounded(_ipv4, 0, MAX_ROUTE), ())


@dataclass(frozen=True)
class SignalRelease(_Request):
    """Give a reservation back, hop by hop; a hop takes it only from the
    router that made its booking (its previous hop)."""

    CMD, RESULT = "release", Released
    id: str = _f(_sid)


@dataclass(frozen=True)
class SignalRefresh(_Request):
    """Soft state: renew these reservations here and further on (each hop
    takes it only from the router that made its bookings). ``wait``: how
    long the sender waits for the answer; the hop gives the hops after it
    a little less, so the first to time out is the one nearest the fault."""

    CMD, RESULT = "refresh", Refreshed
    ids: tuple = _f(_bounded(_sid, 1, MAX_REFRESH_IDS))
    wait: float = _f(_wait, 4.0)


@dataclass(frozen=True)
class Reply(_Record):
    ok: bool
    result: Any = None
    error: str | None = None

    def to_json(self) -> dict:
        return {"ok": True, "result": to_json(self.result)} if self.ok else {"ok": False, "error": str(self.error)}

    @classmethod
    def _from(cls, d, where: str = "", skip: tuple = ()):
        if not isinstance(d, dict):
            raise ProtocolError(f"a reply must be a JSON object, got {type(d).__name__}")
        ok = _bool(d.get("ok"), "ok")
        want = "result" if ok else "error"
        if want not in d:
            raise ProtocolError(f"reply: {want} is missing", want)
        extra = sorted(set(d) - {"ok", want})
        if extra:
            raise ProtocolError(f"reply: unknown field {extra[0]!r}", extra[0])
        return cls(True, d["result"]) if ok else cls(False, error=_str(d["error"], "error"))


# ------------------------------------------------------------ the codec


@dataclass(frozen=True)
class Protocol:
    name: str
    kinds: dict  # cmd -> request class; empty for replies


CONTROL = Protocol("control", {c.CMD: c for c in (Status, Links, Ted, TedTimes, Paths, Path, Reserve, Release, Reservations, Vectors, Lsps, Service)})
SIGNAL = Protocol("signal", {c.CMD: c for c in (SignalReserve, SignalRelease, SignalRefresh)})
REPLY = Protocol("reply", {})


def encode(msg) -> bytes:
    """One message as a JSON line."""
    if not isinstance(msg, (_Request, Reply)):
        raise TypeError(f"not a control or signalling message: {msg!r}")
    d = msg.to_json() if isinstance(msg, Reply) else {"cmd": msg.CMD, **msg.to_json()}
    return (json.dumps(d) + "\n").encode()


def from_json(d, protocol: Protocol = CONTROL):
    """A decoded JSON object (e.g. a caller's dict) as a typed message."""
    if protocol is REPLY:
        return Reply._from(d)
    if not isinstance(d, dict):
        raise ProtocolError(f"a {protocol.name} request must be a JSON object, got {type(d).__name__}")
    cmd = d.get("cmd")
    cls = protocol.kinds.get(cmd) if isinstance(cmd, str) else None
    if cls is None:
        raise ProtocolError(f"unknown {protocol.name} command {cmd!r}; known: {', '.join(protocol.kinds)}", "cmd")
    try:
        return cls._from(d, skip=("cmd",))
    except ProtocolError as exc:
        raise ProtocolError(f"{cmd}: {exc}", exc.field) from None


def decode(line: bytes | str, protocol: Protocol = CONTROL):
    """One JSON line -> a typed message of ``protocol``."""
    try:
        d = json.loads(line)
    except (ValueError, TypeError, RecursionError) as exc:
        raise ProtocolError(f"not a JSON line: {exc}") from None
    return from_json(d, protocol)


def result_of(req, reply: Reply):
    """A reply's result, typed as the request's kind says (plain JSON for
    kinds without a result type)."""
    cls = getattr(req, "RESULT", None)
    return reply.result if cls is None else cls._from(reply.result, "result")
