"""One pause of the cyclic garbage collector, shared by every thread that
builds many acyclic objects at once (a KSP batch's Paths, a transit
combination's wire records): they cannot form cycles, and collections
would rescan them (and every other tracked object) for nothing.

``gc.disable()`` is process-wide, so pauses on several threads must be
one: the first to enter turns the GC off (if it was on) and the last to
leave turns it back on. Two independent pauses would let the one that ends
first switch it on under the other, and one begun during the other's would
never pause at all. A GC the caller turned off stays off.
"""

from __future__ import annotations

import gc
import threading

__all__ = ["GCPause", "pause"]


class GCPause:
    """``with pause:`` (re-entrant across threads, and nestable)."""

    __slots__ = ("_lock", "_inside", "_resume")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inside = 0  # pauses entered and not left
        self._resume = False  # the first of them found the GC on

    def __enter__(self) -> None:
        with self._lock:
            if not self._inside:
                self._resume = gc.isenabled()
                if self._resume:
                    gc.disable()
            self._inside += 1

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._inside -= 1
            if not self._inside and self._resume:
                self._resume = False
                gc.enable()


pause = GCPause()
