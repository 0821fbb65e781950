"""asyncio transport for the OSPF API (the protocol itself is in ospfapi).

Owns the two connections: "sync" from local port P to ospfd's 2607 (requests
and replies) and "async" accepted on P + 1 (notifications), per
ospfd/ospf_apiserver.c. ``OspfApiClient.run()`` keeps a session alive:
connect, call ``on_connect`` (where the owner re-registers, re-syncs and
re-originates), pump messages to ``on_message``, and on loss reconnect with
exponential backoff. Malformed messages are logged and counted, never fatal;
an error in ``on_connect`` (or any other) ends the session, is logged and
counted (``session_errors``) and the client connects again: ``run`` never
raises.

``barrier()`` returns once every notification ospfd queued before it was
called has been received. ospfd (ospf_apiserver.c, 8.4.4) writes every
notification, the LSA_UPDATE_NOTIFYs a SYNC_LSDB produces included, to one
FIFO for the async connection, one message per event-loop turn, and handles
requests one at a time, each completely, before it reads the next; the
REPLY travels on the other connection and can overtake them by a long way
(thousands of LSAs, a loaded router). SYNC_ROUTER_ID's answer, a
ROUTER_ID_CHANGE carrying the request's sequence number, joins the same
FIFO behind everything queued before: its arrival is the sentinel.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from pyfrr_pwr.proto import ospfapi as api

__all__ = ["OspfApiClient", "ApiReplyError", "ApiConnectionError"]

log = logging.getLogger("pyfrr_pwr.apiclient")


class ApiReplyError(Exception):
    def __init__(self, request, reply: api.Reply):
        super().__init__(f"{type(request).__name__} refused by ospfd: {reply.error}")
        self.request = request
        self.reply = reply


class ApiConnectionError(ConnectionError):
    pass


def _local_ip(host: str) -> str:
    """Bind the pair to loopback when ospfd is local: the P + 1 listener
    then cannot be reached (and fed forged notifications) from a
    neighbour before ospfd connects back (issue 11 sec. 3)."""
    try:
        return "127.0.0.1" if ipaddress.ip_address(host).is_loopback else "0.0.0.0"
    except ValueError:
        return "127.0.0.1" if host == "localhost" else "0.0.0.0"


def _bind_pair(local_ip: str = "127.0.0.1") -> tuple[socket.socket, socket.socket]:
    """A sync socket bound to P and a listener on P + 1 (ospfd connects back
    to the client's source port plus one, ospf_apiserver.c)."""
    for _ in range(200):
        p = random.randrange(20000, 60000, 2)
        if p + 1 == api.API_PORT:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((local_ip, p))
            ls.bind((local_ip, p + 1))
            ls.listen(1)
            s.setblocking(False)
            ls.setblocking(False)
            return s, ls
        except OSError:
            s.close()
            ls.close()
    raise ApiConnectionError("no free pair of local ports for the OSPF API")


class _SeqDecoder(api.Decoder):
    """``api.Decoder`` that also gives each message's header sequence
    number (ROUTER_ID_CHANGE does not keep it)."""

    def feed_seq(self, data: bytes) -> list:
        buf = bytes(self.buf) + bytes(data)
        seqs, off = [], 0
        while len(buf) - off >= api.HDR.size:
            ver, _, ln, seq = api.HDR.unpack_from(buf, off)
            if ver != api.API_VERSION or ln > self.max_body or len(buf) - off < api.HDR.size + ln:
                break
            seqs.append(seq)
            off += api.HDR.size + ln
        msgs = self.feed(data)
        return list(zip(seqs, msgs))


class OspfApiClient:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = api.API_PORT,
        timeout: float = 5.0,
        on_message: Callable[[object], None] | None = None,
        on_connect: Callable[[OspfApiClient], Awaitable[None]] | None = None,
        on_disconnect: Callable[[OspfApiClient], None] | None = None,
        name: str = "ospfapi",
    ):
        self.host, self.port, self.timeout = host, port, timeout
        self.on_message = on_message or (lambda m: None)
        self.on_connect = on_connect
        self.on_disconnect = on_disconnect
        self.name = name
        self.state = api.ClientState(timeout)
        self.stats: Counter = Counter()
        self._waiters: dict[int, asyncio.Future] = {}
        self._barriers: dict[int, asyncio.Future] = {}  # SYNC_ROUTER_ID seq -> its async sentinel
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: list[asyncio.Task] = []
        self._closed = asyncio.Event()
        self._closed.set()
        self._stop = False
        self.connected = False

    # -- one session -----------------------------------------------------

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        s, ls = _bind_pair(_local_ip(self.host))
        try:
            await asyncio.wait_for(loop.sock_connect(s, (self.host, self.port)), self.timeout)
            a = await asyncio.wait_for(self._accept_from_server(loop, ls, s.getpeername()[0]), self.timeout)
        except (TimeoutError, OSError) as exc:
            s.close()
            ls.close()
            raise ApiConnectionError(f"{self.name}: cannot reach ospfd's API at {self.host}:{self.port}: {exc or 'timeout'}") from None
        ls.close()
        sr, sw = await asyncio.open_connection(sock=s)
        ar, aw = await asyncio.open_connection(sock=a)
        self._writer = sw
        self._async_writer = aw  # kept: dropping it would let GC close the socket
        self.state = api.ClientState(self.timeout)
        self._closed = asyncio.Event()
        self.connected = True
        self.stats["connects"] += 1
        self._tasks = [
            asyncio.create_task(self._pump(sr, sync=True)),
            asyncio.create_task(self._pump(ar, sync=False)),
        ]
        log.info("%s: connected to ospfd API at %s:%d", self.name, self.host, self.port)

    async def _accept_from_server(self, loop, ls: socket.socket, server_ip: str) -> socket.socket:
        """The notification connection, from ospfd's address only; anything
        else that reaches the listener first is dropped and counted."""
        while True:
            a, peer = await loop.sock_accept(ls)
            if peer[0] == server_ip:
                return a
            self.stats["foreign_async_connections"] += 1
            log.warning("%s: dropped a notification connection from %s (ospfd is %s)", self.name, peer[0], server_ip)
            a.close()

    async def _pump(self, reader: asyncio.StreamReader, sync: bool) -> None:
        dec = _SeqDecoder()
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    raise ApiConnectionError("ospfd closed the connection")
                for seq, m in dec.feed_seq(data):
                    self._dispatch(m, sync)
                    if not sync and isinstance(m, api.RouterIdChange):
                        fut = self._barriers.pop(seq, None)
                        if fut is not None and not fut.done():
                            fut.set_result(m)
        except (api.ProtocolError, ApiConnectionError, OSError) as exc:
            if self.connected:
                log.warning("%s: %s connection lost: %s", self.name, "sync" if sync else "async", exc)
                if isinstance(exc, api.ProtocolError):
                    self.stats["protocol_errors"] += 1
            self._lost()
        except asyncio.CancelledError:
            pass

    def _dispatch(self, m, sync: bool) -> None:
        if isinstance(m, api.Malformed):
            self.stats["malformed"] += 1
            log.warning("%s: dropped malformed message type %d seq %d: %s", self.name, m.msgtype, m.seq, m.reason)
            return
        if isinstance(m, api.Reply):
            req = self.state.on_reply(m)
            fut = self._waiters.pop(m.seq, None)
            if req is None or fut is None:
                self.stats["unmatched_replies"] += 1
                log.warning("%s: reply seq %d matches no request", self.name, m.seq)
            elif not fut.done():
                fut.set_result(m)
            return
        self.stats[type(m).__name__] += 1
        try:
            self.on_message(m)
        except Exception:  # a bug in a handler must not kill the session
            self.stats["handler_errors"] += 1
            log.exception("%s: handler failed on %s", self.name, type(m).__name__)

    def _lost(self) -> None:
        if not self.connected:
            return
        self.connected = False
        for t in self._tasks:
            if t is not asyncio.current_task():
                t.cancel()
        for w in (self._writer, getattr(self, "_async_writer", None)):
            if w is not None:
                w.close()
        for p in self.state.reset():
            fut = self._waiters.pop(p.seq, None)
            if fut and not fut.done():
                fut.set_exception(ApiConnectionError("connection to ospfd lost"))
        for fut in self._barriers.values():
            if not fut.done():
                fut.set_exception(ApiConnectionError("connection to ospfd lost"))
        self._barriers.clear()
        self._closed.set()
        if self.on_disconnect:
            self.on_disconnect(self)

    async def request(self, req, check: bool = True, _sent=None) -> api.Reply:
        """Send one request and wait for its reply (timeout: self.timeout).
        With ``check``, a non-zero error code raises ApiReplyError."""
        if not self.connected or self._writer is None:
            raise ApiConnectionError(f"{self.name}: not connected")
        seq, data = self.state.send(req, time.monotonic())
        fut = asyncio.get_running_loop().create_future()
        self._waiters[seq] = fut
        if _sent is not None:
            _sent(seq)
        self._writer.write(data)
        try:
            reply = await asyncio.wait_for(fut, self.timeout)
        except TimeoutError:
            self._waiters.pop(seq, None)
            self.state.pending.pop(seq, None)
            self.stats["timeouts"] += 1
            raise TimeoutError(f"{self.name}: no reply to {type(req).__name__} (seq {seq}) in {self.timeout}s") from None
        if check and not reply.ok:
            raise ApiReplyError(req, reply)
        return reply

    async def barrier(self, timeout: float = 30.0) -> None:
        """Return once every notification ospfd queued before this call has
        arrived (module docstring: SYNC_ROUTER_ID's ROUTER_ID_CHANGE is the
        sentinel). TimeoutError if it does not come in ``timeout`` s."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()

        def sent(seq: int) -> None:
            self._barriers[seq] = fut

        await self.request(api.SyncRouterId(), _sent=sent)
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout)
        except TimeoutError:
            self.stats["barrier_timeouts"] += 1
            raise TimeoutError(f"{self.name}: ospfd's notifications did not catch up in {timeout}s (no ROUTER_ID_CHANGE sentinel)") from None
        finally:
            for k in [k for k, f in self._barriers.items() if f is fut]:
                del self._barriers[k]

    async def close(self) -> None:
        self._stop = True
        self._lost()
        for t in self._tasks:
            t.cancel()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    # -- a session kept alive ----------------------------------------------

    async def run(self, backoff_min: float = 0.1, backoff_max: float = 5.0) -> None:
        """Connect, hand over to on_connect, and reconnect on loss, forever
        (until close())."""
        delay = backoff_min
        while not self._stop:
            try:
                await self.connect()
                if self.on_connect:
                    await self.on_connect(self)
                delay = backoff_min
                await self.wait_closed()
            except (ApiConnectionError, ApiReplyError, TimeoutError, OSError) as exc:
                log.warning("%s: %s; retrying in %.1fs", self.name, exc, delay)
                self._lost()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug in on_connect: never the end of the agent
                self.stats["session_errors"] += 1
                log.exception("%s: session setup failed; retrying in %.1fs", self.name, delay)
                self._lost()
            if self._stop:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, backoff_max)
