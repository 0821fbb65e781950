"""Transit-side soft state: bandwidth bookings that expire unless the
head-end refreshes them (pure, no I/O).

RSVP-TE keeps reservations as soft state (RFC 2205 sec. 1.2, RFC 3209):
a path whose head-end died or moved away frees its bandwidth by itself,
without a release message having to arrive. Every router on an LSP's path
books bandwidth on its own outgoing link (draft sec. 2.2: "once a path in
the TLV has been used for reserving bandwidth", the available bandwidth it
advertises drops); the head-end's ``lsp.Refresh`` actions renew the
bookings every ``REFRESH`` seconds and a booking not renewed for ``HOLD``
seconds times out. The defaults, 5 s and 15 s, survive two lost refreshes
and free a dead LSP's bandwidth within 15 s (RFC 2205's 30 s / ~157 s are
for a much larger Internet; a power-aware agent re-optimises in seconds).

Costs: ``book``/``refresh``/``release`` O(1), ``expire(now)`` O(expired),
``reserved(link)`` O(1). Every booking has the same hold time, so a refresh
always moves a booking to the end of the expiry order: an insertion-ordered
dict is the whole priority queue (``now`` must not run backwards; pass a
monotonic clock). Per-link totals are kept incrementally.

Make-before-break (RFC 3209 sec. 2.2, shared-explicit style): bookings that
name the same ``share`` (an LSP's session, head-end + LSP ID) count once on
a link they have in common, at the largest of their bandwidths; so the new
path of a re-optimised LSP does not need its bandwidth twice on the links
it shares with the old path. Bookings of one share on one link are few (two
during make-before-break), which keeps that O(1).
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass

__all__ = ["Booking", "SoftState", "REFRESH", "HOLD"]

REFRESH = 5.0
HOLD = 15.0


@dataclass(frozen=True)
class Booking:
    key: Hashable  # e.g. (head-end, LSP ID, signal ID)
    link: Hashable  # our outgoing interface
    bw: float  # bytes/s
    expires: float
    share: Hashable  # bookings of one share on one link count once (at their max)


class SoftState:
    def __init__(self, hold: float = HOLD):
        if not (isinstance(hold, (int, float)) and math.isfinite(hold) and hold > 0):
            raise ValueError(f"hold time {hold!r} must be a positive number of seconds")
        self.hold = float(hold)
        self._b: dict = {}  # key -> Booking, in expiry order
        self._groups: dict = {}  # (link, share) -> {key: bw}
        self._contrib: dict = {}  # (link, share) -> max bw of the group
        self._total: dict = {}  # link -> sum of its groups' contributions
        self._nlink: dict = {}  # link -> number of its groups
        self._now = -math.inf

    # -- time ------------------------------------------------------------

    def _clock(self, now: float) -> None:
        if not isinstance(now, (int, float)) or math.isnan(now):
            raise ValueError(f"now {now!r} is not a time")
        if now < self._now:
            raise ValueError(f"time ran backwards: {now} after {self._now} (use a monotonic clock)")
        self._now = now

    # -- totals ----------------------------------------------------------

    def _join(self, b: Booking) -> None:
        g = (b.link, b.share)
        members = self._groups.get(g)
        if members is None:
            members = self._groups[g] = {}
            self._nlink[b.link] = self._nlink.get(b.link, 0) + 1
        members[b.key] = b.bw
        self._regroup(g, members)

    def _leave(self, b: Booking) -> None:
        g = (b.link, b.share)
        members = self._groups[g]
        del members[b.key]
        self._regroup(g, members)

    def _regroup(self, g, members: dict) -> None:
        link = g[0]
        old = self._contrib.pop(g, 0.0)
        if members:
            new = self._contrib[g] = max(members.values())  # a group is one or two bookings
            self._total[link] = self._total.get(link, 0.0) - old + new
            return
        del self._groups[g]
        self._nlink[link] -= 1
        if self._nlink[link]:
            self._total[link] -= old
        else:  # the link's last booking went: an exact zero, no float residue
            del self._nlink[link]
            self._total.pop(link, None)

    # -- bookings --------------------------------------------------------

    def book(self, now: float, key: Hashable, link: Hashable, bw: float, *, share: Hashable = None) -> Booking:
        """Book (or re-book: new link or bandwidth) and refresh. ``share``
        defaults to the key itself (shares with nothing)."""
        self._clock(now)
        if not (isinstance(bw, (int, float)) and not isinstance(bw, bool) and math.isfinite(bw) and bw >= 0):
            raise ValueError(f"booking {key!r}: bandwidth {bw!r} must be a finite number >= 0")
        share = key if share is None else share
        old = self._b.pop(key, None)
        if old is not None:
            self._leave(old)
        b = Booking(key, link, float(bw), now + self.hold, share)
        self._b[key] = b
        self._join(b)
        return b

    def refresh(self, now: float, key: Hashable) -> bool:
        """Renew one booking; False if it is not (or no longer) here."""
        self._clock(now)
        b = self._b.pop(key, None)
        if b is None:
            return False
        self._b[key] = Booking(b.key, b.link, b.bw, now + self.hold, b.share)
        return True

    def release(self, key: Hashable) -> Booking | None:
        b = self._b.pop(key, None)
        if b is not None:
            self._leave(b)
        return b

    def expire(self, now: float) -> list:
        """Remove and return the bookings whose hold time ran out by ``now``."""
        self._clock(now)
        out = []
        while self._b:
            key = next(iter(self._b))
            b = self._b[key]
            if b.expires > now:
                break
            out.append(self.release(key))
        return out

    # -- views -----------------------------------------------------------

    def reserved(self, link: Hashable) -> float:
        """Bandwidth booked on ``link`` (shares counted once)."""
        return self._total.get(link, 0.0)

    def totals(self) -> dict:
        return dict(self._total)

    def next_expiry(self) -> float | None:
        return next(iter(self._b.values())).expires if self._b else None

    def get(self, key: Hashable) -> Booking | None:
        return self._b.get(key)

    def bookings(self) -> list:
        return list(self._b.values())

    def __len__(self) -> int:
        return len(self._b)

    def __contains__(self, key) -> bool:
        return key in self._b
