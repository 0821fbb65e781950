"""Reservation signalling between agents: the asyncio shell (draft sec. 2.2).

No RSVP-TE here: a reservation travels hop by hop as one JSON line per TCP
connection (port 2700 by default, ``agent.signal_port``), from the head-end
along the chosen route, inside each router's namespace and reached over the
routed network by router ID. Each hop reserves on its own link
(``AgentCore.reserve_hop``), re-evaluates its advertisements and forwards;
a failure further on releases the hop again and travels back as the error.
Messages are ``proto.control``'s SignalReserve / SignalRelease.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from pyfrr_pwr.agent import reservations
from pyfrr_pwr.agent.control import constraints as _constraints
from pyfrr_pwr.proto import control as msg

__all__ = ["Signalling", "SIGNAL_PORT"]

log = logging.getLogger("pyfrr_pwr.agent")

SIGNAL_PORT = 2700


class Signalling:
    """``emit(reqs)`` queues the OSPF API requests an evaluation returned."""

    def __init__(self, core, emit: Callable[[list], None], port: int = SIGNAL_PORT):
        self.core = core
        self.emit = emit
        self.port = port
        self.counter = 0  # reservations we started

    def _evaluate(self) -> None:
        self.emit(self.core.evaluate(time.monotonic()))

    async def start(self, host: str = "0.0.0.0"):
        return await asyncio.start_server(self.serve, host=host, port=self.port, reuse_address=True)

    async def serve(self, reader, writer) -> None:
        """One request a connection, answered with one reply."""
        try:
            line = await reader.readline()
            if not line:
                self.core.stats["bad_signal"] += 1
                return
            try:
                req = msg.decode(line, msg.SIGNAL)
            except msg.ProtocolError as exc:
                self.core.stats["bad_signal"] += 1
                rep = msg.Reply(False, error=str(exc))
            else:
                try:
                    rep = msg.Reply(True, await self.handle(req))
                except Exception as exc:  # refusals, and failures further on
                    rep = msg.Reply(False, error=str(exc))
            writer.write(msg.encode(rep))
            await writer.drain()
        except (ValueError, ConnectionError):  # a line over the stream limit, a peer gone
            self.core.stats["bad_signal"] += 1
        finally:
            writer.close()

    async def send(self, router_id: str, req):
        """One request to the agent of ``router_id``; its typed result."""
        r, w = await asyncio.wait_for(asyncio.open_connection(router_id, self.port), 5)
        try:
            w.write(msg.encode(req))
            await w.drain()
            line = await asyncio.wait_for(r.readline(), 30)
        finally:
            w.close()
        if not line:
            raise msg.AgentRefusal(f"{router_id}: no agent answered (connection closed)")
        try:
            rep = msg.decode(line, msg.REPLY)
        except msg.ProtocolError as exc:
            raise msg.AgentRefusal(f"{router_id}: no agent's answer: {exc}") from None
        if not rep.ok:
            raise msg.AgentRefusal(rep.error)
        return msg.result_of(req, rep)

    async def handle(self, req):
        c = self.core
        if isinstance(req, msg.SignalReserve):
            step = c.reserve_hop(req.id, float(req.bw), list(req.hops), msg.to_json(req.plan))
            self._evaluate()
            if step["next"] is None:
                return msg.Route(route=(c.router_id,))
            fwd = msg.SignalReserve(id=req.id, bw=req.bw, hops=tuple(step["hops"]), plan=tuple(msg.PlanStep(**p) for p in step["plan"]))
            try:
                rest = await self.send(step["next"], fwd)
            except Exception as exc:
                c.release_hop(req.id)
                self._evaluate()
                raise msg.AgentRefusal(str(exc)) from None
            return msg.Route(route=(c.router_id, *rest.route))
        if isinstance(req, msg.SignalRelease):
            if req.origin and req.id not in c.reservations:
                raise msg.AgentRefusal(f"no reservation {req.id} here")
            nxt = c.release_hop(req.id)
            self._evaluate()
            if nxt:
                await self.send(nxt, msg.SignalRelease(id=req.id, origin=False))
            return msg.Released(id=req.id)
        raise TypeError(f"not a signalling request: {req!r}")

    # -- the control socket's reserve / release ---------------------------------

    async def reserve_path(self, dst: str, bw: float, k: int | None = None, constraints=None) -> msg.Reserved:
        """Choose (with min_bandwidth=bw; ``constraints`` a Constraints or
        a dict of its fields) and reserve an inter-area path."""
        cons = _constraints(constraints, min_bandwidth=bw)
        sel = self.core.path_choice(dst, k, cons)
        self.counter += 1
        rid = f"{self.core.router_id}/{self.counter}"
        hops, plan = reservations.plan(sel.best, dst)
        res = await self.handle(msg.SignalReserve(id=rid, bw=bw, hops=tuple(hops), plan=tuple(msg.PlanStep(**p) for p in plan)))
        return msg.Reserved(id=rid, bw=bw, route=res.route, path=sel)

    async def release(self, rid: str) -> msg.Released:
        return await self.handle(msg.SignalRelease(id=rid))

    async def control(self, req):
        """A control-socket Reserve or Release."""
        if isinstance(req, msg.Reserve):
            return await self.reserve_path(req.to, float(req.bw), req.k, req.constraints)
        return await self.release(req.id)
