"""Reservation signalling between agents: the asyncio shell (draft sec. 2.2).

No RSVP-TE here: a reservation travels hop by hop as JSON lines over TCP
(port 2700 by default, ``agent.signal_port``), from the head-end along the
chosen route, inside each router's namespace and reached over the routed
network by router ID (``address_of``). Each hop reserves on its own link
(``reservations.reserve_hop``), forwards, and re-evaluates its
advertisements (re-floods) ``flood_hold`` s after the rest of the path has
answered: the flood informs later path computations, the booking made
before forwarding is what admission counts; a failure further on releases the hop again and
travels back as the error. Messages are ``proto.control``'s SignalReserve /
SignalRefresh / SignalRelease, each inside an authenticated envelope
(``proto.signal``).

Connections are kept (issue 7 sec. 5: a fresh connect per hop cost each
hop a connect and an accept, event-loop round trips on two busy agents): a
connection carries one request at a time, each answered before the next;
the sender keeps it for its next request to that neighbour (up to
``MAX_POOLED`` idle ones each, unused at most ``pool_idle`` s, shorter than
a peer's ``idle_timeout`` so it is rarely closed under a request), and a
kept one that turns out broken (reset, or closed before any answer) is
retried once on a fresh connection, sealed anew. Every line on it is still
its own authenticated, nonce-bound, replay-checked envelope.

Hardening (issue 11):

* every line is an envelope under the domain's key (``agent.signal_key``,
  key ID ``agent.signal_key_id``): HMAC-SHA256, addressed to us, fresh and
  never seen before; anything else is refused and counted in
  ``stats["signal_rejected_<reason>"]`` (malformed, unauthenticated,
  unknown_key, bad_mac, misdirected, stale, replay, invalid: a field out
  of bounds, too_long, timeout, busy, empty, not_owner, wrong_sender).
  Replies are envelopes too, bound to the request's nonce;
* without a key there is no signalling: the port stays shut and the control
  socket's reserve is refused, naming the file;
* at most ``max_connections`` connections at once (one more is closed at
  once, unless a kept connection is idle: the oldest idle one goes,
  ``signal_idle_evicted``), ``read_timeout`` to send the first request line
  (a half-open connection is closed), lines of at most ``signal.MAX_LINE``
  bytes; a kept connection is closed after ``idle_timeout`` s without a
  line (``signal_idle_closed``), once it is ``conn_lifetime`` s old
  (``signal_conn_expired``), and at the first line refused (not an
  authentic envelope for us, an invalid request, or another sender than the
  one it carries: ``wrong_sender``), so a peer without the key holds one for
  ``read_timeout`` at most and no peer holds one for ever;
* a booking records who made it (the previous hop: the authenticated
  sender of the reserve); only that router refreshes or releases it there,
  and a local release (the control socket) only releases our own.

LSPs (issue 7): a reserve with ``dataplane`` set also sets up the data
plane hop by hop through the ``dataplane`` hook (``agent.lsps``): each hop
answers the link it reserved, an ABR that expanded its segment installs a
binding SID for it and answers that, the tail answers its SIDs; a hop
whose part fails unwinds its booking and the rest of the path. A booking
that goes (released or expired) takes its binding SID with it. An ABR
installs its binding SID on the forward leg where it can tell the list
already (``dataplane.pre_install``, issue 7 sec. 5): once the request has
left, while the rest of the path is set up; the answer then only checks
it (replacing it if the answer asks for another list), and a failure
further on removes it with the booking.

Soft state (issue 7): bookings live in a ``reservations.Table`` and expire
``reservation_hold`` seconds (default 15) after their last refresh; the
head-end refreshes its reservations every ``reservation_refresh`` seconds
(default 5), one SignalRefresh per next hop for up to
``control.MAX_REFRESH_IDS`` of them, which each hop applies and forwards.
A refresh that does not get through marks the head-end's reservation
``lost`` (where and why). ``run_timers`` (a task of the daemon) sends the
refreshes and expires what was not refreshed; an expiry frees the
bandwidth and re-floods the link at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable

from pyfrr_pwr.agent import reservations
from pyfrr_pwr.agent.control import constraints as _constraints
from pyfrr_pwr.agent.trace import trace
from pyfrr_pwr.dataplane.softstate import HOLD, REFRESH
from pyfrr_pwr.proto import control as msg
from pyfrr_pwr.proto import signal as sig

__all__ = ["Signalling", "SIGNAL_PORT", "MAX_CONNECTIONS", "READ_TIMEOUT"]

log = logging.getLogger("pyfrr_pwr.agent")


def expand_avoiding(teds: dict, router_id: str, seg: dict, bw: float, avoid) -> tuple:
    """An ABR's CSPF for its segment of a backup (draft sec. 2.2) that
    avoids the primary's routers and links as far as its area allows
    (second seed sec. 4.2; ``paths.disjoint.avoiding``): (the explicit
    hops from us to the segment's end, or None; "node" | "link" | "none")."""
    from pyfrr_pwr.model.constraints import Constraints
    from pyfrr_pwr.paths.disjoint import avoiding

    ted = teds.get(seg.get("area"))
    if ted is None:
        return None, "none"
    p, kind = avoiding(ted.graph(), router_id, seg.get("to"), tuple(avoid), Constraints(min_bandwidth=bw))
    return (list(p.nodes) if p is not None else None), kind


SIGNAL_PORT = 2700
MAX_CONNECTIONS = 128  # signalling connections served at once
READ_TIMEOUT = 5.0  # s to send the request line (and to take the answer)
CONNECT_TIMEOUT = 5.0  # s to reach the next hop
REPLY_TIMEOUT = 30.0  # s for a reserve's or release's answer (the rest of the path)
IDLE_TIMEOUT = 30.0  # s a served connection is kept waiting for its next request line
POOL_IDLE = 20.0  # s a connection to a neighbour is kept unused (below a peer's IDLE_TIMEOUT: no race)
CONN_LIFETIME = 300.0  # s after which a connection is not used again (whoever holds it)
MAX_POOLED = 4  # idle connections kept per neighbour (concurrent requests open more)
# s from a hop's answer to its re-flood of what it booked (0: right after the
# answer has left). The flood wakes every agent of the area while the head-end
# still installs its route: on fig-2-0 a 0.5 s hold took the area-2 power
# change until the new route from 344 to 231 ms median (issue 7 sec. 5; 0 lost
# in 20 rounds). Admission is unaffected (a hop books before it forwards); a
# head-end computing meanwhile sees the older figure, and a path that no longer
# fits is refused by the hop, as a flood in flight would have it anyway
# (the dampening of draft sec. 2.1.6 delays floods the same way).
FLOOD_HOLD = 0.5
MAX_FLOOD_HOLD = 5.0  # s: the flood only informs later path computations, but should not lag them by much
MAX_ERROR = 2 * msg.MAX_REASON  # characters of a refusal relayed from further on


class _Conn:
    """A client connection to a neighbour's agent, kept between requests."""

    __slots__ = ("r", "w", "opened", "since", "loop")

    def __init__(self, r, w):
        self.r, self.w = r, w
        self.opened = self.since = time.monotonic()
        self.loop = asyncio.get_running_loop()

    def stale(self, now: float, idle: float) -> bool:
        """Not to be used again: the peer hung up, it was unused ``idle`` s
        (the peer may hang up any moment), or it belongs to another loop."""
        return self.w.is_closing() or self.r.at_eof() or now - self.since > idle or self.loop is not asyncio.get_running_loop()

    def drop(self) -> None:
        try:
            self.w.transport.abort()
        except RuntimeError:  # its loop is closed: nothing left to tell it
            pass


class _Broken(Exception):
    """A connection that failed before any answer came."""


class _Closed:
    """What ``start`` returns without a key: a server that never opened."""

    sockets = ()

    def close(self) -> None:
        pass

    async def wait_closed(self) -> None:
        pass

    def is_serving(self) -> bool:
        return False

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        pass


def _positive(v, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise ValueError(f"agent.{what} must be a number of seconds > 0, got {v!r}")
    return float(v)


class Signalling:
    """``emit(reqs)`` queues the OSPF API requests an evaluation returned.

    The key and the timers come from ``core.cfg.agent`` (keywords win, for
    tests; ``agent.signal_flood_hold`` is ``flood_hold``); ``address_of(router
    ID) -> (host, port)`` says where a router's agent listens (default: its
    router ID, our port); ``clock`` is the
    monotonic clock of the soft state and ``clock_ms`` the wall clock (ms)
    of the envelopes' time window."""

    def __init__(
        self,
        core,
        emit: Callable[[list], None],
        port: int = SIGNAL_PORT,
        *,
        key: str | bytes | None = None,
        key_id: int | None = None,
        refresh: float | None = None,
        hold: float | None = None,
        address_of: Callable[[str], tuple] | None = None,
        clock: Callable[[], float] = time.monotonic,
        clock_ms: Callable[[], int] | None = None,
        max_connections: int = MAX_CONNECTIONS,
        read_timeout: float = READ_TIMEOUT,
        connect_timeout: float = CONNECT_TIMEOUT,
        reply_timeout: float = REPLY_TIMEOUT,
        idle_timeout: float = IDLE_TIMEOUT,
        pool_idle: float = POOL_IDLE,
        conn_lifetime: float = CONN_LIFETIME,
        flood_hold: float | None = None,
    ):
        self.core = core
        self.emit = emit
        self.port = port
        self.counter = 0  # reservations we started
        cfg = getattr(core, "cfg", None)
        a = dict(getattr(cfg, "agent", None) or {})
        key = a.get("signal_key") if key is None else key
        kid = a.get("signal_key_id", 1) if key_id is None else key_id
        self.refresh = _positive(a.get("reservation_refresh", REFRESH) if refresh is None else refresh, "reservation_refresh")
        self.hold = _positive(a.get("reservation_hold", HOLD) if hold is None else hold, "reservation_hold")
        if self.hold <= self.refresh:
            raise ValueError(f"agent.reservation_hold ({self.hold:g} s) must be longer than agent.reservation_refresh ({self.refresh:g} s)")
        self.no_key = f"no signal_key in {getattr(cfg, 'path', None) or 'power.yml'}: reservations need an authenticated signalling key"
        self.clock = clock
        self.signer = self.verifier = None
        if key is not None:
            kw = {} if clock_ms is None else {"clock_ms": clock_ms}
            try:
                self.signer = sig.Signer({kid: key}, kid, **kw)
                self.verifier = sig.Verifier({kid: key}, sig.ReplayGuard(**kw))
            except ValueError as exc:
                raise ValueError(f"agent.signal_key: {exc}") from None
            if not isinstance(core.reservations, reservations.Table):
                if core.reservations:
                    raise ValueError("the core holds reservations already: create Signalling first")
                core.reservations = reservations.Table(self.hold, clock)
        self.address_of = address_of or (lambda rid: (rid, self.port))
        self.max_connections = max_connections
        self.read_timeout = read_timeout
        self.connect_timeout = connect_timeout
        self.reply_timeout = reply_timeout
        self.idle_timeout = idle_timeout
        self.pool_idle = pool_idle
        self.conn_lifetime = conn_lifetime
        fh = a.get("signal_flood_hold", FLOOD_HOLD) if flood_hold is None else flood_hold
        top = MAX_FLOOD_HOLD if flood_hold is None else math.inf  # a keyword (tests) may hold it for ever
        if isinstance(fh, bool) or not isinstance(fh, (int, float)) or math.isnan(fh) or not 0 <= fh <= top:
            raise ValueError(f"agent.signal_flood_hold must be a number of seconds in 0..{MAX_FLOOD_HOLD:g}, got {fh!r}")
        self.flood_hold = float(fh)
        self._flood_timer = None  # the pending re-flood (one for every booking made meanwhile)
        self.active = 0  # connections being served
        self._served: set = set()  # their writers
        self._idle: dict = {}  # the served ones waiting for a next line (insertion-ordered: oldest first)
        self._pool: dict = {}  # router ID -> [_Conn]: our idle connections to it, newest last
        self.server = None
        self._refreshing: asyncio.Task | None = None
        # issue 7: who installs an LSP's binding SIDs and answers a tail's
        # SIDs (``agent.lsps.LspManager``: on_reserved, on_gone); None: no LSPs
        self.dataplane = None

    @property
    def stats(self):
        return self.core.stats

    @property
    def table(self) -> reservations.Table | None:
        t = self.core.reservations
        return t if isinstance(t, reservations.Table) else None

    def _evaluate(self) -> None:
        self.emit(self.core.evaluate(time.monotonic()))

    def _flood_later(self) -> None:
        """Re-flood what we booked ``flood_hold`` s from now (0: once the
        running request has answered and the loop turns); one evaluation
        for all bookings made meanwhile; a release or expiry evaluates at
        once, and takes any booking pending with it."""
        if self._flood_timer is None:
            self._flood_timer = asyncio.get_running_loop().call_later(self.flood_hold, self._flood_due)

    def _flood_due(self) -> None:
        self._flood_timer = None
        self._evaluate()

    def _reject(self, reason: str) -> None:
        self.stats[f"signal_rejected_{reason}"] += 1

    def _capacity(self, ifname: str) -> float | None:
        p = self.core.cfg.ports.get(ifname)
        return p.speed if p is not None else None

    # -- the server ----------------------------------------------------------

    async def start(self, host: str = "0.0.0.0"):
        """Listen on our port; without a key, do not (a closed stand-in)."""
        if self.signer is None:
            log.warning("%s; signalling port %d stays closed", self.no_key, self.port)
            self.stats["signal_disabled"] = 1
            return _Closed()
        self.server = await asyncio.start_server(self.serve, host=host, port=self.port, reuse_address=True, limit=sig.MAX_LINE)
        return self.server

    def _make_room(self) -> bool:
        """At ``max_connections``: close the connection idle longest (one
        kept between requests, waiting for its next line) to take a new
        one; False if none is idle. A kept connection never makes us
        refuse a new one."""
        for w in self._idle:
            del self._idle[w]
            self.stats["signal_idle_evicted"] += 1
            self._served.discard(w)
            self.active -= 1
            w.transport.abort()
            return True
        return False

    async def serve(self, reader, writer) -> None:
        """One connection: request lines answered one at a time, each an
        envelope checked on its own (``answer``). The first line must come
        within ``read_timeout``; after an answer the connection is kept for
        the sender's next request (a neighbour reuses it: ``send``) until
        ``idle_timeout`` passes without a line (``signal_idle_closed``), it
        is ``conn_lifetime`` old (``signal_conn_expired``), or a line is
        refused (the connection then ends with the refusal). A kept
        connection carries only its first sender's requests."""
        trace("sig_accept")
        if self.active >= self.max_connections and not self._make_room():
            self._reject("busy")
            writer.transport.abort()
            return
        self.active += 1
        self._served.add(writer)
        opened = time.monotonic()
        peer = None  # the authenticated sender of the first line
        try:
            while True:
                if peer is not None:
                    self._idle[writer] = None
                try:
                    async with asyncio.timeout(self.read_timeout if peer is None else self.idle_timeout):
                        line = await reader.readline()
                except TimeoutError:
                    if peer is None:
                        self._reject("timeout")
                    else:
                        self.stats["signal_idle_closed"] += 1
                    return
                except ValueError:  # over the StreamReader's limit
                    self._reject("too_long")
                    writer.write(msg.encode(msg.Reply(False, error=f"signal rejected: line over {sig.MAX_LINE} bytes")))
                    async with asyncio.timeout(self.read_timeout):
                        await writer.drain()
                    return
                finally:
                    self._idle.pop(writer, None)
                if writer not in self._served:  # evicted while idle
                    return
                if not line:
                    if peer is None:
                        self._reject("empty")
                    return
                trace("sig_line")
                out, sender = await self._answer(line, peer)
                trace("sig_answer")
                writer.write(out)
                async with asyncio.timeout(self.read_timeout):
                    await writer.drain()
                if sender is None or not line.endswith(b"\n"):  # refused, or the peer's last line
                    return
                peer = sender
                if time.monotonic() - opened >= self.conn_lifetime:
                    self.stats["signal_conn_expired"] += 1
                    return
        except (ConnectionError, TimeoutError):  # a peer gone, or not reading its answer
            pass
        finally:
            if writer in self._served:
                self._served.discard(writer)
                self.active -= 1
            writer.close()

    async def answer(self, line: bytes) -> bytes:
        """The reply line to one request line (authenticated or refused)."""
        return (await self._answer(line, None))[0]

    async def _answer(self, line: bytes, peer: str | None) -> tuple[bytes, str | None]:
        """(the reply line, the authenticated sender; None if the line was
        refused before it was handled). ``peer``: the sender a kept
        connection belongs to."""
        me = self.core.router_id
        try:
            env = self.verifier.open(line, me)
        except sig.SignalError as exc:
            self._reject(exc.reason)
            return msg.encode(msg.Reply(False, error=f"signal rejected: {exc.reason}: {exc}")), None
        if peer is not None and env.sender != peer:
            self._reject("wrong_sender")
            return msg.encode(msg.Reply(False, error=f"signal rejected: wrong_sender: this connection carries {peer}'s requests")), None
        trace("sig_in", env.sender, env.body.get("cmd"), env.body.get("id"))
        keep = env.sender
        try:
            req = msg.from_json(env.body, msg.SIGNAL)
        except msg.ProtocolError as exc:
            self._reject("invalid")
            rep, keep = msg.Reply(False, error=f"{me}: invalid request: {exc}"[:MAX_ERROR]), None
        else:
            try:
                rep = msg.Reply(True, await self.handle(req, sender=env.sender))
            except Exception as exc:  # refusals, and failures further on
                if not isinstance(exc, ValueError):
                    log.exception("signalling: %s from %s", type(req).__name__, env.sender)
                self.stats["signal_refused"] += 1
                rep = msg.Reply(False, error=str(exc)[:MAX_ERROR])
        try:
            return self.signer.seal({"re": env.nonce, "reply": rep.to_json()}, me, env.sender)[0], keep
        except ValueError as exc:  # an answer over the line limit: say so instead
            log.error("signalling: answer to %s: %s", env.sender, exc)
            return self.signer.seal({"re": env.nonce, "reply": msg.Reply(False, error=f"{me}: answer too long").to_json()}, me, env.sender)[0], keep

    def close(self) -> None:
        """Close what is open: the server, the connections it serves and
        the ones kept to our neighbours (the agent stops)."""
        if self.server is not None:
            self.server.close()
        if self._flood_timer is not None:
            self._flood_timer.cancel()
            self._flood_timer = None
        for w in list(self._served):
            w.transport.abort()
        self._idle.clear()
        for conns in self._pool.values():
            for c in conns:
                c.drop()
        self._pool.clear()

    # -- the client ----------------------------------------------------------

    def _take(self, router_id: str):
        """A kept connection to ``router_id`` that is still good, or None."""
        conns = self._pool.get(router_id)
        now = time.monotonic()
        while conns:
            c = conns.pop()
            if c.stale(now, self.pool_idle):
                c.drop()
                continue
            return c
        return None

    def _keep(self, router_id: str, c) -> None:
        """Keep a connection whose answer came complete, for the next request."""
        now = time.monotonic()
        conns = self._pool.setdefault(router_id, [])
        if len(conns) >= MAX_POOLED or now - c.opened >= self.conn_lifetime or c.w.is_closing():
            c.drop()
            return
        c.since = now
        conns.append(c)

    def sweep(self) -> None:
        """Close kept connections unused for ``pool_idle`` s (``run_timers``)."""
        now = time.monotonic()
        for rid in list(self._pool):
            conns = self._pool[rid]
            for c in [c for c in conns if c.stale(now, self.pool_idle)]:
                conns.remove(c)
                c.drop()
            if not conns:
                del self._pool[rid]

    async def send(self, router_id: str, req):
        """One request to the agent of ``router_id``; its typed result.
        Raises AgentRefusal for anything but an authentic positive answer.
        Uses a connection kept from an earlier request when there is one
        (no connect: the line goes out at once); one that turns out broken
        (reset, or closed before any answer: e.g. the peer's idle timeout)
        is retried once on a fresh connection, sealed anew (a fresh nonce:
        the peer may have seen the first)."""
        if self.signer is None:
            raise msg.AgentRefusal(self.no_key)
        me = self.core.router_id
        if me is None:
            raise msg.AgentRefusal("router ID not known yet (is ospfd up?)")
        try:
            msg._ipv4(router_id, "next hop")
        except ValueError as exc:
            raise msg.AgentRefusal(f"{me}: cannot signal {router_id}: {exc}") from None
        trace("sig_send", router_id, req.CMD, getattr(req, "id", "-"))
        c = self._take(router_id)
        while True:
            try:
                line, nonce = self.signer.seal({"cmd": req.CMD, **req.to_json()}, me, router_id)
            except ValueError as exc:
                raise msg.AgentRefusal(f"{me}: cannot signal {router_id}: {exc}") from None
            pooled = c is not None
            if pooled:
                self.stats["signal_pool_reused"] += 1
            else:
                c = await self._connect(router_id)
            trace("sig_conn", router_id)
            try:
                got = await self._exchange(router_id, c, line)
            except BaseException as exc:  # cancelled too: a connection mid-exchange is never reused
                c.drop()
                if not isinstance(exc, _Broken):
                    raise
                if not pooled:
                    raise msg.AgentRefusal(f"{router_id}: {exc}") from None
                self.stats["signal_pool_retries"] += 1  # kept too long, or the peer restarted: once more, afresh
                c = None
                continue
            break
        trace("sig_reply", router_id, getattr(req, "id", "-"))
        try:
            rep = self._open_reply(router_id, got, nonce)
        except msg.AgentRefusal:
            c.drop()  # not in step with us: never reuse it
            raise
        self._keep(router_id, c)
        if not rep.ok:
            raise msg.AgentRefusal(str(rep.error)[:MAX_ERROR])
        try:
            return msg.result_of(req, rep)
        except msg.ProtocolError as exc:
            self._reject("invalid")
            raise msg.AgentRefusal(f"{router_id}: invalid answer: {exc}") from None

    async def _connect(self, router_id: str) -> _Conn:
        host, port = self.address_of(router_id)
        try:
            async with asyncio.timeout(self.connect_timeout):
                r, w = await asyncio.open_connection(host, port, limit=sig.MAX_LINE)
        except (OSError, TimeoutError) as exc:
            raise msg.AgentRefusal(f"{router_id}: no agent answers on port {port}: {exc or 'timeout'}") from None
        self.stats["signal_pool_opened"] += 1
        return _Conn(r, w)

    async def _exchange(self, router_id: str, c: _Conn, line: bytes) -> bytes:
        """Write one request line, read its answer line. _Broken: the
        connection failed before any answer came (worth one retry on a fresh
        one when it was a kept one); AgentRefusal for the rest."""
        try:
            c.w.write(line)  # at once: a kept connection needs no await before its request leaves
            async with asyncio.timeout(self.connect_timeout):
                await c.w.drain()
            async with asyncio.timeout(self.reply_timeout):
                got = await c.r.readline()
        except ConnectionError as exc:
            raise _Broken(f"connection lost: {exc}") from None
        except TimeoutError:
            raise msg.AgentRefusal(f"{router_id}: no answer within {self.reply_timeout:g} s") from None
        except ValueError:
            raise msg.AgentRefusal(f"{router_id}: answer over {sig.MAX_LINE} bytes") from None
        if not got:
            raise _Broken("no agent answered (connection closed)")
        return got

    def _open_reply(self, router_id: str, line: bytes, nonce: str) -> msg.Reply:
        try:
            env = self.verifier.open(line, self.core.router_id)
        except sig.SignalError as exc:
            try:  # a peer that could not verify us answers unsigned: a refusal either way
                plain = msg.decode(line, msg.REPLY)
            except msg.ProtocolError:
                plain = None
            if plain is not None and not plain.ok:
                self.stats["signal_refused_by_peer"] += 1
                raise msg.AgentRefusal(f"{router_id} refused our message: {str(plain.error)[:MAX_ERROR]}") from None
            self._reject(exc.reason)
            raise msg.AgentRefusal(f"{router_id}: no authentic answer: {exc}") from None
        if env.sender != router_id:
            self._reject("wrong_sender")
            raise msg.AgentRefusal(f"{router_id}: the answer comes from {env.sender}")
        body = env.body
        if set(body) != {"re", "reply"} or body["re"] != nonce:
            self._reject("unbound")
            raise msg.AgentRefusal(f"{router_id}: the answer is not to our request")
        try:
            return msg.from_json(body["reply"], msg.REPLY)
        except msg.ProtocolError as exc:
            self._reject("invalid")
            raise msg.AgentRefusal(f"{router_id}: invalid answer: {exc}") from None

    # -- requests -------------------------------------------------------------

    async def handle(self, req, sender: str | None = None):
        """One signalling request; ``sender`` the authenticated router that
        sent it (None: in-process, e.g. the head-end itself)."""
        if isinstance(req, msg.SignalReserve):
            return await self._reserve(req, sender, head=False)
        if isinstance(req, msg.SignalRefresh):
            return await self._refresh(req, sender)
        if isinstance(req, msg.SignalRelease):
            return await self._release(req.id, sender)
        raise TypeError(f"not a signalling request: {req!r}")

    async def _reserve(self, req: msg.SignalReserve, sender: str | None, head: bool) -> msg.Route:
        c = self.core
        if not req.hops or req.hops[0] != c.router_id:
            raise msg.AgentRefusal(f"{c.router_id}: the route's next hop is {req.hops[0] if req.hops else None}, not us")
        hops, plan = list(req.hops), msg.to_json(req.plan)
        avoid = tuple(req.avoid)
        if avoid and len(hops) <= 1 and plan:  # we expand a backup's segment: away from its primary
            exp, kind = expand_avoiding(c.teds, c.router_id, plan[0], req.bw, avoid)
            if exp is not None and len(exp) > 1:
                hops, plan = exp, plan[1:]
                self.stats[f"backup_segments_{kind}_disjoint"] += 1
        step = reservations.reserve_hop(
            c.reservations,
            req.id,
            req.bw,
            hops,
            plan,
            router_id=c.router_id,
            teds=c.teds,
            links=c.links.values(),
            available=c._available,
            capacity=self._capacity,
            owner=sender,
            head=head,
        )
        trace("sig_booked", req.id)
        if step["next"] is None:
            self._evaluate()  # the tail books no link: no flood to hold back
            down = None
        else:
            fwd = msg.SignalReserve(
                id=req.id,
                bw=req.bw,
                hops=tuple(step["hops"]),
                plan=tuple(msg.PlanStep(**p) for p in step["plan"]),
                dataplane=req.dataplane,
                prefixes=req.prefixes,
                avoid=avoid,
            )
            pre: list = []  # our binding SID installed ahead (``dataplane.pre_install``), once it ran
            early = None
            ahead = getattr(self.dataplane, "pre_install", None) if req.dataplane else None
            if ahead is not None and len(req.hops) <= 1 and bool(req.plan):
                # issue 7 sec. 5: an ABR that expanded its segment installs its
                # binding SID while the rest of the path is set up: queued behind
                # the send, which runs at once up to its first wait (the request
                # leaves first); the answer then only checks it
                def install_ahead():
                    try:
                        a = ahead(req, step)
                    except Exception as exc:
                        self.core.report("binding_ahead_errors", exc, f"binding SID of {req.id} on the forward leg")
                        return
                    if a is not None:
                        pre.append(a)

                early = asyncio.get_running_loop().call_soon(install_ahead)
            try:
                down = await self.send(step["next"], fwd)
            except Exception as exc:
                if early is not None:
                    early.cancel()  # not run yet: nothing installed, nothing to run
                if req.id in c.reservations and c.reservations[req.id].get("from") == sender:
                    c.release_hop(req.id)
                    self._evaluate()
                if pre:  # nothing half installed: the binding SID goes with the booking
                    await pre[0].settle()
                    self._dataplane_gone(req.id)
                raise msg.AgentRefusal(str(exc)[:MAX_ERROR]) from None
            finally:
                if early is not None:
                    early.cancel()  # a cancelled set-up too (its booking expires, and takes what ran with it)
            if pre:
                await pre[0].settle()
            # Booked before forwarding, so admission here counted it all
            # along. Re-flooding our link's lower available bandwidth (draft
            # sec. 2.2; the TE LSA's unreserved bandwidth, RFC 3630 sec.
            # 2.5.8) only informs later path computations, so it follows the
            # rest of the path's answer, as RSVP commits a reservation on the
            # Resv (RFC 2205 sec. 2.1), and our own answer: the flood wakes
            # every agent of the area (TED, views, ABR rounds: 0.5-1 s of CPU
            # per LSP on fig-2-0), which competes with the set-up's own hops
            # (issue 7 sec. 5); ``flood_hold`` > 0 moves it past the whole
            # set-up. A path that fails further on floods nothing.
            self._flood_later()
        t = self.table
        if t is not None:
            if req.id not in t:  # released or expired while the rest was set up
                raise msg.AgentRefusal(f"{c.router_id}: reservation {req.id} went while it was set up")
            t.refresh(req.id)
        route = msg.Route(route=(c.router_id, *(down.route if down else ())))
        if step["next"] is None:
            pre = []
        if req.dataplane:
            # issue 7: the LSP's data plane, upstream like an RSVP Resv's labels
            # (RFC 3209 sec. 4.1): our link, our binding SID where we are an
            # ABR expanding a segment (draft sec. 2.2), the tail's SIDs
            try:
                if self.dataplane is None:
                    raise msg.AgentRefusal(f"{c.router_id}: no SRv6 data plane here")
                kw = {"pre": pre[0]} if pre else {}
                route = self.dataplane.on_reserved(req, step, down, expands=len(req.hops) <= 1 and bool(req.plan), **kw)
                trace("sig_dataplane", req.id)
            except Exception as exc:
                if not isinstance(exc, ValueError):
                    log.exception("signalling: data plane of %s", req.id)
                if req.id in c.reservations:  # unwind our hop and the rest of the path
                    await self._release(req.id, sender)
                raise msg.AgentRefusal(str(exc)[:MAX_ERROR]) from None
        if t is not None and head:
            t.set_state(req.id, "up")
        return route

    async def _release(self, rid: str, sender: str | None) -> msg.Released:
        c = self.core
        e = c.reservations.get(rid)
        if sender is None:
            if e is None:
                raise msg.AgentRefusal(f"no reservation {rid} here")
            if e.get("from") is not None:
                raise msg.AgentRefusal(
                    f"reservation {rid} here belongs to {e['from']}'s path: only it releases it (or it expires {self.hold:g} s after its last refresh)"
                )
        elif e is None:
            return msg.Released(id=rid)  # gone already (expired, or never reached us)
        elif e.get("from") != sender:
            self._reject("not_owner")
            raise msg.AgentRefusal(f"{c.router_id}: {sender} does not hold reservation {rid} here")
        nxt = c.release_hop(rid)
        self._evaluate()
        self._dataplane_gone(rid)
        if nxt:
            try:
                await self.send(nxt, msg.SignalRelease(id=rid))
            except Exception as exc:  # the hops further on let it expire
                self.stats["release_unacknowledged"] += 1
                log.warning("%s: release of %s at %s: %s (it expires there by itself)", c.router_id, rid, nxt, exc)
        return msg.Released(id=rid)

    async def _refresh(self, req: msg.SignalRefresh, sender: str | None) -> msg.Refreshed:
        c, t = self.core, self.table
        me = c.router_id
        lost, by_next = [], {}
        for rid in dict.fromkeys(req.ids):
            e = c.reservations.get(rid)
            if e is None:
                self.stats["refresh_unknown"] += 1
                lost.append(msg.Lost(id=rid, at=me, reason="no reservation here (expired or released)"))
                continue
            if e.get("from") != sender:
                self._reject("not_owner")
                lost.append(msg.Lost(id=rid, at=me, reason=f"{sender} does not hold it here"))
                continue
            if t is not None:
                t.refresh(rid)
            if e["next"]:
                by_next.setdefault(e["next"], []).append(rid)
        self.stats["refreshes_received"] += 1
        lost += await self._refresh_on(by_next, max(req.wait - 0.25, req.wait / 2))
        return msg.Refreshed(lost=tuple(lost))

    async def _refresh_on(self, by_next: dict, wait: float) -> list:
        """Refresh ``{next hop: [ID]}`` further on; what was lost there."""
        wait = min(wait, msg.MAX_WAIT)
        jobs = [(n, ids[i : i + msg.MAX_REFRESH_IDS]) for n, ids in by_next.items() for i in range(0, len(ids), msg.MAX_REFRESH_IDS)]
        if not jobs:
            return []
        gate = asyncio.Semaphore(16)  # connections at once

        async def one(nxt, ids):
            async with gate:
                try:
                    rep = await asyncio.wait_for(self.send(nxt, msg.SignalRefresh(ids=tuple(ids), wait=wait)), wait)
                except TimeoutError:
                    return [msg.Lost(id=i, at=nxt, reason=f"no answer within {wait:g} s") for i in ids]
                except Exception as exc:
                    return [msg.Lost(id=i, at=nxt, reason=str(exc)[: msg.MAX_LOST_REASON]) for i in ids]
            want = set(ids)
            return [l for l in rep.lost if l.id in want]

        self.stats["refreshes_sent"] += len(jobs)
        return [l for part in await asyncio.gather(*(one(n, ids) for n, ids in jobs)) for l in part]

    # -- soft state: the head-end's refreshes, everyone's expiry ----------------

    async def refresh_all(self) -> list:
        """The head-end's refresh of every reservation it holds (set up
        ones: a pending one is still travelling); marks each up or lost.
        Returns what was lost."""
        t = self.table
        if t is None or not t.own:
            return []
        by_next = {}
        for rid in list(t.own):
            e = t[rid]
            if e["state"] == "pending":
                continue
            t.refresh(rid)
            if e["next"]:
                by_next.setdefault(e["next"], []).append(rid)
        lost = {l.id: l for l in await self._refresh_on(by_next, min(0.8 * self.refresh, msg.MAX_WAIT))}
        for rid in (r for ids in by_next.values() for r in ids):
            e = t.get(rid)
            if e is None:  # released meanwhile
                continue
            l = lost.get(rid)
            if l is None:
                if e["state"] != "up":
                    t.set_state(rid, "up")
            elif e.get("lost") != {"at": l.at, "reason": l.reason}:
                if e["state"] != "lost":
                    self.stats["reservations_lost"] += 1
                    log.warning("%s: reservation %s lost at %s: %s", self.core.router_id, rid, l.at, l.reason)
                t.set_state(rid, "lost", {"at": l.at, "reason": l.reason})
        return list(lost.values())

    def expire(self) -> list:
        """Drop the bookings not refreshed within the hold time, give their
        bandwidth back and re-flood; [(ID, entry)]."""
        t = self.table
        if t is None:
            return []
        gone = t.expire()
        for rid, _ in gone:
            self._dataplane_gone(rid)
        if gone:
            self.stats["reservations_expired"] += len(gone)
            log.info("%s: %d reservation(s) expired: %s", self.core.router_id, len(gone), ", ".join(r for r, _ in gone[:5]))
            self._evaluate()
        return gone

    def _dataplane_gone(self, rid: str) -> None:
        """A booking went (released or expired): its binding SID goes too."""
        if self.dataplane is not None:
            try:
                self.dataplane.on_gone(rid)
            except Exception as exc:
                self.core.report("dataplane_release_errors", exc, f"data plane of {rid}")

    async def run_timers(self) -> None:
        """The soft state's clock work; never returns (a daemon task)."""
        if self.table is None:  # no key: nothing to refresh or expire, ever
            await asyncio.Event().wait()
        next_refresh = self.clock() + self.refresh
        while True:
            self.sweep()
            t = self.table
            nxt = t.next_expiry()
            wake = next_refresh if nxt is None else min(next_refresh, nxt)
            await asyncio.sleep(min(max(wake - self.clock(), 0.01), self.refresh))
            try:
                self.expire()
            except Exception:
                log.exception("signalling: expiry")
            if self.clock() >= next_refresh:
                next_refresh = self.clock() + self.refresh
                if self._refreshing is None or self._refreshing.done():
                    self._refreshing = asyncio.create_task(self._refresh_task())
                else:
                    self.stats["refresh_overrun"] += 1

    async def _refresh_task(self) -> None:
        try:
            await self.refresh_all()
        except Exception:
            log.exception("signalling: refresh")

    # -- the control socket's reserve / release ---------------------------------

    async def reserve_path(self, dst: str, bw: float, k: int | None = None, constraints=None) -> msg.Reserved:
        """Choose (with min_bandwidth=bw; ``constraints`` a Constraints or
        a dict of its fields) and reserve an inter-area path."""
        bw = self._check_bw(bw)
        cons = _constraints(constraints, min_bandwidth=bw)
        sel = self.core.path_choice(dst, k, cons)
        hops, plan = reservations.plan(sel.best, dst)
        rid, route = await self.reserve_route(hops, bw, plan)
        return msg.Reserved(id=rid, bw=bw, route=route, path=sel)

    async def reserve_route(self, hops, bw: float, plan=()) -> tuple[str, tuple]:
        """Reserve an explicit route as its head-end (``hops`` starts with
        us; ``plan`` the later segments, PlanSteps or {"area", "to"});
        (the reservation's ID, the route reserved)."""
        bw = self._check_bw(bw)
        self.counter += 1
        rid = f"{self.core.router_id}/{self.counter}"
        steps = tuple(p if isinstance(p, msg.PlanStep) else msg.PlanStep(**p) for p in plan)
        res = await self._reserve(msg.SignalReserve(id=rid, bw=bw, hops=tuple(hops), plan=steps), None, head=True)
        return rid, res.route

    async def reserve_lsp(self, hops, bw: float, plan=(), prefixes=(), avoid=()) -> tuple[str, msg.Route]:
        """Reserve an explicit route for an LSP (issue 7): as
        ``reserve_route``, with the data plane set up along it (binding SIDs
        at expanding ABRs); (ID, the Route with links, binding, tail SIDs).
        ``avoid``: a backup's primary route (router IDs): each ABR expands
        its segment away from it (``expand_avoiding``)."""
        bw = self._check_bw(bw)
        if self.signer is None:
            raise msg.AgentRefusal(self.no_key)
        self.counter += 1
        rid = f"{self.core.router_id}/{self.counter}"
        steps = tuple(p if isinstance(p, msg.PlanStep) else msg.PlanStep(**p) for p in plan)
        req = msg.SignalReserve(id=rid, bw=bw, hops=tuple(hops), plan=steps, dataplane=True, prefixes=tuple(prefixes), avoid=tuple(avoid or ()))
        return rid, await self._reserve(req, None, head=True)

    @staticmethod
    def _check_bw(bw) -> float:
        try:
            return msg._bw(bw, "bw")
        except msg.ProtocolError as exc:
            raise msg.AgentRefusal(str(exc)) from None

    async def release(self, rid: str) -> msg.Released:
        return await self._release(rid, None)

    async def control(self, req):
        """A control-socket Reserve or Release."""
        if isinstance(req, msg.Reserve):
            if self.signer is None:
                raise msg.AgentRefusal(self.no_key)
            return await self.reserve_path(req.to, float(req.bw), req.k, req.constraints)
        return await self.release(req.id)
