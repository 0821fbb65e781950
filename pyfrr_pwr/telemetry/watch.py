"""Sensor files polled off the event loop: a C thread (csrc/pwr_watch.c)
reads each file at its own period and signals an eventfd only when a
file's text (or the outcome of reading it) changed.

Why C and a thread, not an asyncio timer: a sysfs attribute gives no
notification of a new value (hwmon readings are not sysfs_notify()'d, and
inotify sees no sysfs changes), so it is polled, and on the lab VM a poll
from the agent's event loop cost ~0.5 ms of CPU a wake-up where the C
thread's wake-up and six reads cost ~0.14 ms (issue 10: R4's six sensors
read ten times a second kept its agent at 0.65 % at rest). What a reading
means stays in Python (``telemetry.sensors``: robust parsing, the hold of
the last good figure): on a change the caller reads the sensors as before.
No library does this: pyinotify, watchdog and asyncio's file watchers all
rest on inotify.
"""

from __future__ import annotations

import os

from pyfrr_pwr._core import ffi, lib

__all__ = ["SysfsWatch", "WatchError"]

_ERR = {lib.PWR_WATCH_EINVAL: "invalid path or period", lib.PWR_WATCH_ENOMEM: "out of memory", lib.PWR_WATCH_ETHREAD: "cannot start its thread"}
MIN_PERIOD = lib.PWR_WATCH_MIN_PERIOD_US / 1e6  # s


class WatchError(Exception):
    pass


class SysfsWatch:
    """Watches ``paths``, path i every ``periods[i]`` s (at least
    ``MIN_PERIOD``). ``fileno()`` turns readable after a round that saw a
    change (the first round always does); ``drain()`` resets it."""

    def __init__(self, paths, periods) -> None:
        paths, periods = list(paths), [float(p) for p in periods]
        if not paths or len(paths) != len(periods):
            raise WatchError(f"{len(paths)} paths and {len(periods)} periods")
        self.paths = paths
        self._fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        names = [ffi.new("char[]", os.fsencode(p)) for p in paths]
        err = ffi.new("int *")
        w = lib.pwr_watch_new(len(paths), ffi.new("const char *[]", names), ffi.new("double[]", [max(p, MIN_PERIOD) for p in periods]), self._fd, err)
        if w == ffi.NULL:
            os.close(self._fd)
            raise WatchError(f"cannot watch {', '.join(map(str, paths))}: {_ERR.get(err[0], err[0])}")
        self._w = ffi.gc(w, lib.pwr_watch_free)  # stops and joins the thread

    def fileno(self) -> int:
        return self._fd

    def drain(self) -> bool:
        """True if a change was signalled since the last drain."""
        try:
            os.eventfd_read(self._fd)
        except BlockingIOError:
            return False
        return True

    def rounds(self) -> int:
        return lib.pwr_watch_rounds(self._w)

    def confirmed(self, i: int) -> float | None:
        """time.monotonic() of path i's last read that found its text
        unchanged; None before any."""
        t = lib.pwr_watch_confirmed(self._w, i)
        return None if t < 0 else t

    def close(self) -> None:
        if self._w is not None:
            ffi.release(self._w)  # pwr_watch_free now: the thread is gone before the fd
            self._w = None
            os.close(self._fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
