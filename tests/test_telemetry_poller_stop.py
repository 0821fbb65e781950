"""``Poller.stop`` returns once nothing it started still runs: a blocking
reader that outlived its poll's timeout is waited for on its worker thread,
not left behind a pool shut down with ``wait=False`` (the process would
then finalise the interpreter while a reader still runs)."""

import asyncio
import threading

from pyfrr_pwr.telemetry.energy import Reading
from pyfrr_pwr.telemetry.poller import Poller
from pyfrr_pwr.telemetry.store import Store


class Slow:
    """A blocking reader that answers only once released."""

    name = "slow"
    timeout = 0.0  # the poller gives it max(poller timeout, 0 + 1) s

    def __init__(self):
        self.release = threading.Event()
        self.started = threading.Event()
        self.finished = False

    def read(self):
        self.started.set()
        self.release.wait(30)
        self.finished = True
        return [Reading("power", 1.0, "W", 0.0, self.name, "measured")]


def test_stop_waits_for_a_read_still_running_on_its_worker():
    src = Slow()

    async def main():
        p = Poller([src], store=Store(max_age=60), timeout=0.1)
        await p.poll_once()  # the read outlives the poll: counted as a timeout, still running
        assert p.store.drops[("slow", "timeout")] == 1 and src.started.is_set() and not src.finished
        asyncio.get_running_loop().call_later(0.2, src.release.set)  # answers while stop() runs
        await p.stop()
        assert src.finished  # stop returned after the read did, not before
        assert not any(t.is_alive() for t in p._pool._threads)  # its workers joined

    try:
        asyncio.run(main())
    finally:
        src.release.set()  # on a failure, the worker is not left blocked until the process exits
