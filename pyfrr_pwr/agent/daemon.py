"""The agent process: ``Agent`` wires the asyncio tasks around an
``AgentCore``, ``run_agent`` runs it (``pyfrr-pwr agent``).

Tasks: the OSPF API session (``apiclient``: register opaque type 10/T,
RFC 5250 sec. 3, and sync the router ID, interface and neighbour states and
the LSDB), the measurement loop (``measure``), the sender (one queue of API
requests, in order, reporting refusals back to the core), the ABR vector
loop (draft sec. 2.1; computed on a worker thread, sec. 2.3), the control
socket (``control``, typed by ``proto.control``) and the signalling server
(``signalling``, draft sec. 2.2).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from pathlib import Path

from pyfrr_pwr.agent import control
from pyfrr_pwr.agent.core import AgentCore
from pyfrr_pwr.agent.measure import Measurer
from pyfrr_pwr.agent.signalling import SIGNAL_PORT, Signalling
from pyfrr_pwr.files.power import PowerConfig, load_power
from pyfrr_pwr.proto import control as msg
from pyfrr_pwr.proto import ospfapi as api
from pyfrr_pwr.proto import wire

__all__ = ["Agent", "run_agent"]

log = logging.getLogger("pyfrr_pwr.agent")


class Agent:
    """The asyncio shell around AgentCore."""

    def __init__(
        self,
        cfg: PowerConfig,
        socket_path: str,
        api_host: str = "127.0.0.1",
        api_port: int = api.API_PORT,
        interval: float = 0.1,
        window: float = 1.0,
        name: str = "agent",
    ):
        from pyfrr_pwr.agent.apiclient import OspfApiClient

        a = cfg.agent
        self.cfg = cfg
        self.core = AgentCore(cfg, a.get("opaque_type", wire.DEFAULT_OPAQUE_TYPE), a.get("profile", "draft"), a.get("min_interval", 1.0))
        self.interval = a.get("interval", interval)
        self.socket_path = socket_path
        self.name = name
        self._queue: asyncio.Queue = asyncio.Queue()
        self.client = OspfApiClient(
            api_host, api_port, on_message=self._on_message, on_connect=self._on_connect, on_disconnect=self._on_disconnect, name=f"{name}/ospfapi"
        )
        self.measurer = Measurer(cfg, name, a.get("window", window), self.core.link_speed)
        self.signalling = Signalling(self.core, self._queue.put_nowait, a.get("signal_port", SIGNAL_PORT))

    # -- API session ---------------------------------------------------------

    def _on_message(self, m) -> None:
        self._queue.put_nowait(self.core.handle(m, time.monotonic()))

    def _on_disconnect(self, client) -> None:
        self.core.session_reset()

    async def _on_connect(self, client) -> None:
        ot = self.core.opaque_type
        ours = api.LsaFilter((api.LSA_OPAQUE_AREA,), api.ORIGIN_ANY)
        self.core.session_reset()
        await client.request(api.RegisterOpaqueType(api.LSA_OPAQUE_AREA, ot))
        await client.request(api.RegisterEvent(ours))
        for req in (api.SyncRouterId(), api.SyncIsm(), api.SyncNsm(), api.SyncLsdb(ours)):
            await client.request(req)
        # the sync's notifications travel on the other connection: let them land
        n = -1
        while n != client.stats["LsaUpdate"]:
            n = client.stats["LsaUpdate"]
            await asyncio.sleep(0.2)
        gone = self.core.resync_done()
        log.info("%s: registered opaque type %d/%d, LSDB synced (%d stale LSAs dropped)", self.name, api.LSA_OPAQUE_AREA, ot, gone)

    async def _sender(self) -> None:
        while True:
            reqs = await self._queue.get()
            for r in reqs:
                if not self.client.connected:
                    break
                try:
                    rep = await self.client.request(r, check=False)
                    if not rep.ok:
                        log.warning("%s: ospfd refused %s: %s", self.name, type(r).__name__, rep.error)
                        self.core.refused(r, rep.errcode)
                except (TimeoutError, ConnectionError) as exc:
                    log.warning("%s: %s", self.name, exc)
                    break

    async def _vector_loop(self, period: float = 0.3) -> None:
        """ABR work off the event loop (draft sec. 2.3: extra cores): when a
        TED changed, snapshot, compute on a worker thread, originate."""
        while True:
            await asyncio.sleep(period)
            if not self.core.vectors_dirty or not self.client.connected:
                continue
            snap = self.core.vector_snapshot()
            if snap is None:
                continue
            try:
                res = await asyncio.to_thread(AgentCore.compute_vectors, snap)
            except Exception:
                log.exception("%s: vector computation failed", self.name)
                continue
            reqs = self.core.apply_vectors(res)
            if reqs:
                self._queue.put_nowait(reqs)

    # -- control socket ------------------------------------------------------------

    async def _answer(self, line: bytes) -> msg.Reply:
        try:
            req = msg.decode(line, msg.CONTROL)
            if isinstance(req, (msg.Reserve, msg.Release)):
                return msg.Reply(True, await self.signalling.control(req))
        except Exception as exc:  # report, never die
            return msg.Reply(False, error=str(exc))
        return control.answer(self.core, req, name=self.name, connected=self.client.connected, api_stats=self.client.stats)

    async def _control(self, reader, writer) -> None:
        try:
            while line := await reader.readline():
                writer.write(msg.encode(await self._answer(line)))
                await writer.drain()
        finally:
            writer.close()

    async def run(self) -> None:
        path = Path(self.socket_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        old = os.umask(0o177)
        try:
            server = await asyncio.start_unix_server(self._control, path=str(path))
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        signal_server = await self.signalling.start()
        tasks = [
            asyncio.create_task(self.client.run()),
            asyncio.create_task(self.measurer.run(self.core, self._queue.put_nowait, self.interval)),
            asyncio.create_task(self._sender()),
            asyncio.create_task(self._vector_loop()),
        ]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info("%s: control socket %s", self.name, path)
        try:
            async with server:
                done, _ = await asyncio.wait([*tasks, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
                for t in done:
                    if t.exception() if not t.cancelled() else None:
                        raise t.exception()
        finally:
            for t in tasks:
                t.cancel()
            signal_server.close()
            await self.client.close()
            path.unlink(missing_ok=True)
            log.info("%s: stopped", self.name)


def run_agent(config: str, socket_path: str, api: str = "127.0.0.1:2607", name: str | None = None) -> int:
    cfg = load_power(config)
    host, _, port = (cfg.agent.get("api") or api).rpartition(":")
    agent = Agent(cfg, socket_path, host or "127.0.0.1", int(port), name=name or cfg.router or "agent")
    try:
        asyncio.run(agent.run())
    except KeyboardInterrupt:
        pass
    return 0
