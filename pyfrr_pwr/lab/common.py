"""What every lab module shares: the error type, where labs live, and the
few /proc and signal helpers that make ``down`` stop exactly what ``up``
started (pid plus process start time, so a recycled pid is never hit)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

__all__ = ["LabError", "RUN_ROOT", "start_time", "alive", "ns_pids", "stop_pids"]

RUN_ROOT = Path(os.environ.get("PYFRR_PWR_RUN", "/run/pyfrr-pwr"))


class LabError(RuntimeError):
    pass


def _stat(pid: int) -> list[str] | None:
    try:
        # fields after the command name, which may itself hold ") "
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def start_time(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (field 22 of
    /proc/PID/stat), or None if there is no such process."""
    f = _stat(pid)
    try:
        return int(f[19]) if f else None
    except (IndexError, ValueError):
        return None


def alive(pid: int, start: int | None) -> bool:
    """``pid`` runs and is the process recorded (same start time). A zombie
    (exited, not yet reaped by its parent: the lab's own process when it
    started the agent) is not alive."""
    f = _stat(pid)
    if not f or f[0] in ("Z", "X"):
        return False
    try:
        return start is None or int(f[19]) == start
    except (IndexError, ValueError):
        return False


def ns_pids(ns: str) -> list[int]:
    r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
    return [int(p) for p in r.stdout.split()] if r.returncode == 0 else []


def stop_pids(procs: list[dict], grace: float = 5.0) -> int:
    """SIGTERM each live recorded process ({"pid", "start"}), SIGKILL what
    is still there after ``grace`` seconds; the number signalled."""
    live = [p for p in procs if alive(p["pid"], p.get("start"))]
    for p in live:
        try:
            os.kill(p["pid"], signal.SIGTERM)
        except ProcessLookupError:
            pass
    end = time.monotonic() + grace
    while time.monotonic() < end and any(alive(p["pid"], p.get("start")) for p in live):
        time.sleep(0.05)
    for p in live:
        if alive(p["pid"], p.get("start")):
            try:
                os.kill(p["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass
    return len(live)
