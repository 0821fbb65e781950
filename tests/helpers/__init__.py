"""Helpers shared by the integration tests and the lab benchmarks."""

import asyncio
import functools
import os
import time

import pytest


@functools.cache  # the kernel's answer, asked once a run
def no_seg6_lwtunnels() -> str | None:
    """Why this kernel cannot install SRv6 routes, or None when it can (or
    cannot be asked: not root; the ``frr`` check says so)."""
    from pyfrr_pwr.dataplane.netlink import NO_SEG6_LWT, seg6_lwtunnels

    if os.geteuid() != 0 or seg6_lwtunnels():
        return None
    return f"{NO_SEG6_LWT} ({os.uname().release}); no install step can add it"


def skip_without_seg6(item) -> None:
    """A test marked ``srv6_kernel`` installs SRv6 routes: skipped, naming
    the kernel option, where the kernel has none (nothing can install it)."""
    if item.get_closest_marker("srv6_kernel") is not None and (why := no_seg6_lwtunnels()):
        pytest.skip(why)


def wait_for(cond, timeout=20.0, what="condition", step=0.1):
    """Poll cond() until it is truthy (returned) or the deadline passes."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            last = cond()
            if last:
                return last
        except (ConnectionError, OSError, ValueError, KeyError) as exc:
            last = exc
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


async def until(pred, what: str, timeout: float = 10.0):
    """``wait_for`` inside an event loop: poll ``pred()`` (the loop runs
    meanwhile), failing after ``timeout``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        assert loop.time() < end, f"no {what} within {timeout:g} s"
        await asyncio.sleep(0.01)
