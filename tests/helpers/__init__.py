"""Helpers shared by the integration tests and the lab benchmarks."""

import asyncio
import time


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
