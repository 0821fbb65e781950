"""Timestamped trace lines: where reroute time goes (issue 10).

Off unless the environment says ``PYFRR_PWR_TRACE=1`` (the lab passes its
environment to the agents it starts; ``bench/test_bench_agent.py`` sets it
to break each latency down). A line is ``TRACE <monotonic s> <event>
<fields>`` on the agent's log. CLOCK_MONOTONIC is one clock for every
network namespace of a host (only a time namespace would shift it), so
the lines of every agent of a lab and the bench's own timestamps sort
into one timeline (``pyfrr_pwr.lab.trace``).

Off, ``trace`` is one global test: cheap enough for the paths it sits in
(one per API message, origination, loop round).
"""

from __future__ import annotations

import logging
import os
import time

__all__ = ["ENABLED", "trace", "parse_line"]

ENABLED = os.environ.get("PYFRR_PWR_TRACE", "") not in ("", "0")
log = logging.getLogger("pyfrr_pwr.trace")


def trace(event: str, *fields) -> None:
    if ENABLED:
        log.info("TRACE %.6f %s %s", time.monotonic(), event, " ".join(map(str, fields)))


def parse_line(line: str) -> tuple[float, str, list[str]] | None:
    """(monotonic time, event, fields) of a trace line, None for any other."""
    i = line.find("TRACE ")
    if i < 0:
        return None
    parts = line[i + 6 :].split()
    if len(parts) < 2:
        return None
    try:
        return float(parts[0]), parts[1], parts[2:]
    except ValueError:
        return None
