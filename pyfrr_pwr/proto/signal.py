"""The authenticated envelope of an agent-to-agent signalling message (pure).

Every line on the reservation port (2700) is one envelope: a JSON object in
canonical form (keys sorted, no whitespace, ASCII only, no NaN), then a
newline::

    {"body":{...},"from":"10.20.255.1","kid":1,"mac":"<64 hex>",
     "nonce":"<24 hex>","to":"10.20.255.2","ts":1718000000123,"v":1}

``body`` is the message itself (a ``proto.control`` signalling request, or
a reply bound to one); ``from`` the sender's router ID, ``to`` the
receiver's (so a message captured on its way to one router is refused by
every other), ``kid`` the key ID (0-255, as OSPF's MD5 key ID: two keys may
be live during a key change), ``ts`` the sender's wall clock in ms since the
epoch and ``nonce`` 96 random bits.

``mac`` is HMAC-SHA256 (RFC 2104) under the key ``kid`` over a fixed binary
encoding of all the other fields, each of fixed length except the last::

    b"pyfrr-pwr signal v1\\0" | kid (1) | from (4) | to (4) | ts (8, big-endian)
    | nonce (12) | len(body) (4) | body (canonical JSON)

Nothing is left to interpretation: the receiver re-encodes what it parsed
and refuses a line that is not byte for byte that canonical form, so any
change to any byte of a line fails (``Malformed`` where the bytes no longer
parse or are not canonical, ``BadMac`` where they are), and the MAC is
compared in constant time (``hmac.compare_digest``).

Replay protection: a time window plus a bounded nonce cache, not a
per-sender sequence number. Why:

* an agent sends on several TCP connections at once (a reservation being
  set up while refreshes travel; refreshes to two next hops relayed by the
  same router), so one sender's messages reach a receiver out of order; a
  highest-sequence rule would refuse the later-numbered one's predecessor,
  and an IPsec-style window needs counters that survive restarts;
* a sender keeps no state across restarts: the clock is its counter.

The rule: a message is *stale* (``Stale``) if its ``ts`` is more than
``window`` (30 s) away from the receiver's clock, or older than the
receiver's *floor*; a message is a *replay* (``Replay``) if its (sender,
nonce) was accepted already. Accepted nonces are remembered until they fall
out of the window, so the cache holds what one window brings, and at most
``max_nonces`` (16384, about 3 MB) entries: when it is full the oldest is
dropped and the floor raised past it, so a dropped nonce can never be
accepted again (overload makes late messages stale, it never opens a
replay). The floor starts at the receiver's start time: a restarted
receiver has forgotten its cache, and refuses what was sent before it
started. Routers' clocks must agree within the window (NTP; the labs share
the host's clock). Only a message whose MAC verified touches the cache, so
no one without the key can fill it.

The key is a group key shared by the routing domain (like OSPF's MD5 key):
it proves a message comes from a router of the domain, not which one; a
key holder can claim any ``from``. The agents treat key holders as the
routers they say they are.

``open`` raises ``SignalError`` (a ``ValueError``; ``reason`` a short name
for counters, ``field`` the field at fault) and nothing else, whatever the
bytes.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import ipaddress
import json
import os
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "SignalError", "Malformed", "Unauthenticated", "UnknownKeyId", "BadMac", "Misdirected", "Stale", "Replay",
    "Envelope", "Signer", "ReplayGuard", "Verifier", "canonical", "mac_input",
    "VERSION", "MAX_LINE", "WINDOW_MS", "MAX_NONCES", "MIN_KEY_LEN",
]  # fmt: skip

VERSION = 1
MAX_LINE = 64 * 1024  # bytes of one envelope line, newline included
WINDOW_MS = 30_000  # how far a message's ts may be from our clock
MAX_NONCES = 16384  # nonces remembered (about 3 MB at most)
MIN_KEY_LEN = 16
NONCE_BYTES = 12
DOMAIN = b"pyfrr-pwr signal v1\0"
FIELDS = ("body", "from", "kid", "mac", "nonce", "to", "ts", "v")

_HEX = {n: re.compile(rf"[0-9a-f]{{{n}}}") for n in (2 * NONCE_BYTES, 64)}
_IPV4 = re.compile(r"(?:0|[1-9][0-9]{0,2})(?:\.(?:0|[1-9][0-9]{0,2})){3}")


# ------------------------------------------------------------ errors


class SignalError(ValueError):
    """A line that is no authentic, fresh envelope for us."""

    reason = "malformed"

    def __init__(self, msg: str, field: str | None = None):
        super().__init__(f"{msg}" if field is None else f"{field}: {msg}")
        self.field = field


class Malformed(SignalError):
    """Not an envelope: no JSON object, a field missing, unknown or of the
    wrong type, or not in canonical form."""

    reason = "malformed"


class Unauthenticated(SignalError):
    """A JSON object without a MAC: a plain (unsigned) message."""

    reason = "unauthenticated"


class UnknownKeyId(SignalError):
    reason = "unknown_key"


class BadMac(SignalError):
    """The MAC does not verify: forged, altered, or another key."""

    reason = "bad_mac"


class Misdirected(SignalError):
    """Authentic, but addressed to another router."""

    reason = "misdirected"


class Stale(SignalError):
    """Outside the time window, or older than the receiver's floor."""

    reason = "stale"


class Replay(SignalError):
    """This sender's nonce was accepted before."""

    reason = "replay"


# ------------------------------------------------------------ encoding


def canonical(obj) -> bytes:
    """The one JSON encoding: sorted keys, no whitespace, ASCII, no NaN."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def _ip4(s: str) -> bytes:
    return ipaddress.IPv4Address(s).packed


def mac_input(kid: int, sender: str, to: str, ts: int, nonce: str, body: bytes) -> bytes:
    """What the MAC covers: fixed-length fields, the body last with its length."""
    return DOMAIN + struct.pack(">B4s4sQ12sI", kid, _ip4(sender), _ip4(to), ts, bytes.fromhex(nonce), len(body)) + body


def _mac(key: bytes, kid, sender, to, ts, nonce, body: bytes) -> str:
    return hmac.new(key, mac_input(kid, sender, to, ts, nonce, body), hashlib.sha256).hexdigest()


def _keyring(keys: dict) -> dict:
    out = {}
    for kid, key in keys.items():
        if isinstance(kid, bool) or not isinstance(kid, int) or not 0 <= kid <= 255:
            raise ValueError(f"key ID {kid!r} must be an integer from 0 to 255")
        k = key.encode() if isinstance(key, str) else key
        if not isinstance(k, bytes) or len(k) < MIN_KEY_LEN:
            raise ValueError(f"key {kid}: a signalling key must be at least {MIN_KEY_LEN} characters")
        out[kid] = k
    if not out:
        raise ValueError("no signalling key")
    return out


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class Envelope:
    """A verified message."""

    kid: int
    sender: str
    to: str
    ts: int
    nonce: str
    body: dict
    mac: str


class Signer:
    """Seals bodies under key ``kid`` of ``keys`` ({key ID: key})."""

    def __init__(self, keys: dict, kid: int, clock_ms: Callable[[], int] = _wall_ms, rand: Callable[[int], bytes] = os.urandom):
        self.keys = _keyring(keys)
        if kid not in self.keys:
            raise ValueError(f"no key with ID {kid!r} to sign with")
        self.kid = kid
        self.clock_ms = clock_ms
        self.rand = rand

    def seal(self, body: dict, sender: str, to: str) -> tuple[bytes, str]:
        """(the envelope line, its nonce). ``body`` must be a JSON object."""
        if not isinstance(body, dict):
            raise TypeError("a signalling body must be a dict")
        for who, v in (("from", sender), ("to", to)):
            if not isinstance(v, str) or not _IPV4.fullmatch(v):
                raise ValueError(f"{who}: {v!r} is not an IPv4 router ID")
        ts = int(self.clock_ms())
        nonce = self.rand(NONCE_BYTES).hex()
        b = canonical(body)
        env = {"v": VERSION, "kid": self.kid, "from": sender, "to": to, "ts": ts, "nonce": nonce, "body": body}
        env["mac"] = _mac(self.keys[self.kid], self.kid, sender, to, ts, nonce, b)
        line = canonical(env) + b"\n"
        if len(line) > MAX_LINE:
            raise ValueError(f"message of {len(line)} bytes exceeds the {MAX_LINE}-byte line limit")
        return line, nonce


class ReplayGuard:
    """Per-receiver replay state: the window, the floor and the nonce
    cache (see the module's docstring). ``check`` then ``remember``."""

    def __init__(self, window_ms: int = WINDOW_MS, max_nonces: int = MAX_NONCES, clock_ms: Callable[[], int] = _wall_ms):
        if window_ms <= 0 or max_nonces <= 0:
            raise ValueError("window and cache size must be positive")
        self.window_ms = int(window_ms)
        self.max_nonces = int(max_nonces)
        self.clock_ms = clock_ms
        self.floor = int(clock_ms())  # refuse what was sent before we started
        self._seen: dict = {}  # (sender, nonce) -> ts
        self._heap: list = []  # (ts, sender, nonce), oldest first

    def __len__(self) -> int:
        return len(self._seen)

    def _forget(self, now: int) -> None:
        limit = now - self.window_ms
        h = self._heap
        while h and (h[0][0] < limit or h[0][0] < self.floor):
            ts, s, n = heapq.heappop(h)
            self._seen.pop((s, n), None)

    def check(self, sender: str, ts: int, nonce: str) -> None:
        now = int(self.clock_ms())
        if abs(now - ts) > self.window_ms:
            raise Stale(f"sent {(now - ts) / 1000:+.3f} s from our clock, outside the {self.window_ms / 1000:g} s window", "ts")
        if ts < self.floor:
            raise Stale("older than what this receiver still remembers (restart or overload)", "ts")
        if (sender, nonce) in self._seen:
            raise Replay(f"{sender} sent this nonce before", "nonce")

    def remember(self, sender: str, ts: int, nonce: str) -> None:
        self._forget(int(self.clock_ms()))
        if (sender, nonce) in self._seen:
            return
        while len(self._seen) >= self.max_nonces:  # full: drop the oldest, never accept it again
            old, s, n = heapq.heappop(self._heap)
            self._seen.pop((s, n), None)
            self.floor = max(self.floor, old + 1)
        self._seen[(sender, nonce)] = ts
        heapq.heappush(self._heap, (ts, sender, nonce))


def _field(d: dict, name: str, ok: Callable, what: str):
    v = d[name]
    if not ok(v):
        raise Malformed(f"must be {what}, got {str(v)[:40]!r}", name)
    return v


def _is_int(v, lo, hi) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _is_ip4(v) -> bool:
    return isinstance(v, str) and _IPV4.fullmatch(v) is not None and all(int(x) <= 255 for x in v.split("."))


def _no_constants(name):
    raise ValueError(f"{name} is not JSON")


class Verifier:
    """Opens envelopes: any key of ``keys`` ({key ID: key}), one replay
    guard (so one Verifier per receiving agent)."""

    def __init__(self, keys: dict, guard: ReplayGuard | None = None):
        self.keys = _keyring(keys)
        self.guard = guard if guard is not None else ReplayGuard()

    def open(self, line, me: str | None) -> Envelope:
        """Verify one line addressed to router ``me``; its Envelope."""
        env = self.parse(line)
        key = self.keys.get(env.kid)
        if key is None:
            raise UnknownKeyId(f"no key with ID {env.kid} here (known: {', '.join(map(str, sorted(self.keys)))})", "kid")
        want = _mac(key, env.kid, env.sender, env.to, env.ts, env.nonce, canonical(env.body))
        if not hmac.compare_digest(want, env.mac):
            raise BadMac("does not verify (forged or altered, or another key)", "mac")
        if me is None or env.to != me:
            raise Misdirected(f"addressed to {env.to}, we are {me or 'not known yet'}", "to")
        self.guard.check(env.sender, env.ts, env.nonce)
        self.guard.remember(env.sender, env.ts, env.nonce)
        return env

    def parse(self, line) -> Envelope:
        """Structure and canonical form only (no MAC, no replay check)."""
        if isinstance(line, str):
            try:
                line = line.encode()
            except UnicodeError:
                raise Malformed("not ASCII", "line") from None
        if not isinstance(line, (bytes, bytearray)):
            raise Malformed(f"a line must be bytes, got {type(line).__name__}", "line")
        line = bytes(line)
        if len(line) > MAX_LINE:
            raise Malformed(f"{len(line)} bytes, over the {MAX_LINE}-byte limit", "line")
        try:
            d = json.loads(line, parse_constant=_no_constants)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise Malformed(f"not a JSON line: {str(exc)[:80]}", "line") from None
        if not isinstance(d, dict):
            raise Malformed(f"must be a JSON object, got {type(d).__name__}", "line")
        if "mac" not in d:
            raise Unauthenticated("no MAC: an unsigned message", "mac")
        for name in FIELDS:
            if name not in d:
                raise Malformed("is missing", name)
        extra = sorted(k for k in d if k not in FIELDS)
        if extra:
            raise Malformed("unknown field", str(extra[0])[:40])
        _field(d, "v", lambda v: _is_int(v, VERSION, VERSION), f"version {VERSION}")
        _field(d, "kid", lambda v: _is_int(v, 0, 255), "a key ID from 0 to 255")
        _field(d, "from", _is_ip4, "an IPv4 router ID")
        _field(d, "to", _is_ip4, "an IPv4 router ID")
        _field(d, "ts", lambda v: _is_int(v, 0, 2**63 - 1), "ms since the epoch")
        _field(d, "nonce", lambda v: isinstance(v, str) and _HEX[2 * NONCE_BYTES].fullmatch(v) is not None, f"{2 * NONCE_BYTES} lowercase hex digits")
        _field(d, "mac", lambda v: isinstance(v, str) and _HEX[64].fullmatch(v) is not None, "64 lowercase hex digits")
        _field(d, "body", lambda v: isinstance(v, dict), "a JSON object")
        try:
            canon = canonical(d)
        except (ValueError, TypeError, RecursionError):  # cannot happen for parsed JSON; never let it out
            raise Malformed("cannot be re-encoded", "line") from None
        if line != canon + b"\n" and line != canon:
            raise Malformed("not in canonical form (sorted keys, no whitespace, ASCII escapes, one newline)", "line")
        return Envelope(d["kid"], d["from"], d["to"], d["ts"], d["nonce"], d["body"], d["mac"])
