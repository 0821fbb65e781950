"""The agent process: ``Agent`` wires the asyncio tasks around an
``AgentCore``, ``run_agent`` runs it (``pyfrr-pwr agent``).

Tasks: the OSPF API session (``apiclient``: register opaque type 10/T,
RFC 5250 sec. 3, and sync the router ID, interface and neighbour states and
the LSDB), the measurement loop (``measure``), the sender (one queue of API
requests, in order, reporting refusals back to the core), the ABR vector
loop (draft sec. 2.1; computed on a worker thread, sec. 2.3), the control
socket (``control``, typed by ``proto.control``) and the signalling server
(``signalling``, draft sec. 2.2), housekeeping (``AgentCore.tick``,
LSDB re-syncs when the TEDs look wrong), and our SRv6 SIDs (``srv6``,
issue 7: installed once the router ID is known, kept in step with links
and link events (rtnetlink, see "Pushed" below), flooded through the core,
removed when the agent stops; a node without IPv6 / seg6 / ``sr0`` runs
without them, ``status.srv6`` says why).

Robustness (issue 11 sec. 1): every task runs under a supervisor that logs,
counts (``<task>_crashes``) and restarts it; inside, every step from
received data to a request is guarded and counted under a named reason
(``handle_errors``, ``vector_compute_errors``, ``dropped_request_encode``,
``sender_errors``, ...), so the agent keeps serving.

Sessions (issue 11 sec. 2). On every (re)connect: register opaque type
10/T (OPAQUETYPEINUSE: an ERROR naming the type, ``api_problem`` in
``status``, retried with backoff), register for and sync router LSAs
(type 1, for the core's age-out rule) and ours (type 10), then wait for
the sync to be complete. The sync-done rule: ospfd sends no marker for
SYNC_LSDB and its REPLY can overtake the notifications by far (the "0.2 s
of silence" this replaced was fooled by a loaded ospfd), so after the
SYNC_LSDB reply the agent sends SYNC_ROUTER_ID and waits for its
ROUTER_ID_CHANGE, which ospfd queues on the same FIFO behind every
notification of the sync (``OspfApiClient.barrier``, ospf_apiserver.c).
Only then is the core synced and allowed to originate. The opaque IDs a
process hands out are persisted in blocks next to the control socket
(``<socket>.ids``), so a restarted agent starts past them even when ospfd
no longer holds their MaxAge copies.

Pushed, not polled (issue 10). A TED change (``AgentCore.ted_gen``) wakes
the head-end's view loop at once, and a change in what this ABR's vectors
are computed from (``AgentCore.vec_gen``: not its peers' vectors in a
non-backbone area, not the delete of an instance a make-before-break
replacement superseded) the ABR vector loop; both first let a
burst of changes settle (quiet for ``*_QUIET_S``, at most ``*_MAX_S``), so
what they compute comes from one consistent view of the area instead of a
mix of old and new vectors (draft sec. 2.2: a head-end chooses from what
the ABRs leaked; re-choosing at every fragment of a burst showed
intermediate chains). The view loop publishes the settled TEDs
(``AgentCore.publish_view``) and recomputes, off the event loop, every
choice the control socket was asked for, so the head-end's choice follows
the LSA that changed and a query reads it. The SRv6 loop syncs on the
measurer's rtnetlink events (links, IPv4 and IPv6 addresses, IPv6
neighbours appearing or going: End.X next hops are learnt after a link
comes up), with a few follow-ups after each, and every
``SRV6_FALLBACK_PERIODS`` periods besides. The sender pipelines: every
request queued is written before the first reply is awaited. With
``PYFRR_PWR_TRACE=1`` in its environment the agent logs a timestamped line
at each step a reroute takes (``agent.trace``; ``lab.trace`` reads them).

Computing-power collaboration (issue 9), each task only when configured,
each at its own pace and supervised like the rest:

* energy: a compute site (``cats.site``) with readers (power.yml
  ``energy:``) runs the telemetry poller (``telemetry.poller``) at its
  interval; every interval (and when a change the rate limit held back is
  due) the newest readings go to ``AgentCore.set_energy``
  (``AgentCore.energy_status``: names mapped, wrong units dropped and
  counted), which
  floods the Node Energy TLV only when ``EnergyAdvert`` says so;
* probes (``cats.probe.enabled``): ``agent.probe.ProbeAgent`` reflects every
  probe and probes each Full neighbour every ``cats.probe.interval`` s;
  the figures go to ``AgentCore.set_delays`` (configured delays win);
* the Prometheus exporter (``agent.exporter``; ``agent.exporter.enabled``,
  off by default) serves ``/metrics`` from ``exporter.state_of``.

SIGHUP reloads power.yml (``reload``): what needs no restart applies at
once; each field that does is logged and kept as it runs; a file that does
not load is logged naming file, line and field, and the running
configuration stays. The agent never dies of it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from pathlib import Path

from pyfrr_pwr.agent import control, reload, sidplan
from pyfrr_pwr.agent.apiclient import ApiReplyError
from pyfrr_pwr.agent.core import ID_SPACE, AgentCore
from pyfrr_pwr.agent.exporter import Exporter, state_of
from pyfrr_pwr.agent.lsps import LspManager
from pyfrr_pwr.agent.measure import Measurer
from pyfrr_pwr.agent.signalling import SIGNAL_PORT, Signalling
from pyfrr_pwr.agent.srv6 import Srv6Node
from pyfrr_pwr.agent.trace import ENABLED as TRACING
from pyfrr_pwr.agent.trace import trace
from pyfrr_pwr.dataplane.sids import SidError
from pyfrr_pwr.files.power import PowerConfig, load_power
from pyfrr_pwr.proto import control as msg
from pyfrr_pwr.proto import ospfapi as api
from pyfrr_pwr.proto import wire

__all__ = ["Agent", "run_agent", "main", "parse_args"]

log = logging.getLogger("pyfrr_pwr.agent")

# router LSAs (the core's age-out rule) and our opaque type's LSAs
LSA_FILTER = api.LsaFilter((1, api.LSA_OPAQUE_AREA), api.ORIGIN_ANY)
SYNC_TIMEOUT = 30.0  # s for the sync's sentinel to arrive
TYPE_IN_USE_LOG_S = 60.0  # the OPAQUETYPEINUSE error is repeated this often
VECTOR_QUIET_S, VECTOR_MAX_S = 0.01, 0.1  # an ABR's settle before computing vectors
VECTOR_FALLBACK_S = 5.0  # the vector loop looks anyway this often (belt and braces)
VIEW_QUIET_S, VIEW_MAX_S = 0.02, 0.2  # a head-end's settle before it chooses again
# a vector or choice round whose last run took less CPU than this runs on the
# event loop: a worker thread costs two wake-ups and GIL hand-overs beside a
# busy loop (issue 10, fig-2-0 at load 2: 5-8 ms median wall for rounds of
# 0.5-2.5 ms CPU), more than the round itself; a dearer one goes to a thread
INLINE_CPU_S = 0.005
# SRv6 syncs on link, address (IPv4 and IPv6) and IPv6 neighbour events (the
# measurer's rtnetlink socket), then every period for SRV6_FOLLOW_UPS periods,
# and every SRV6_FALLBACK_PERIODS periods besides (belt and braces: what no
# event tells, e.g. a SID route someone else deleted): a sync dumps links,
# addresses, neighbours and routes, the agent's dearest work at rest (issue 10:
# every 30 s it was most of an idle agent's CPU)
SRV6_FOLLOW_UPS, SRV6_FALLBACK_PERIODS = 5, 300
ENERGY_MIN_WAIT_S = 0.5  # s: the energy loop never wakes sooner than this (a failing TLV build cannot spin it)
DEFAULT_SOCKET = "/run/pyfrr-pwr/agent.sock"


def private_dir(d: Path) -> None:
    """The control socket's directory must be ours and closed to others:
    whoever may write there can replace agent.sock with their own (issue 11
    sec. 3: a frr:frr 0755 directory let the frr user do it). Created 0700;
    an existing one owned by someone else or writable by group or others
    is refused with what to do."""
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = d.stat()
    if st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise PermissionError(
            f"control socket directory {d} is owned by uid {st.st_uid} with mode {st.st_mode & 0o777:04o}: "
            f"another user could replace the socket; make it owned by uid {os.geteuid()}, mode 0700"
        )


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
        self._awaiting: set = set()  # reply tasks of batches sent (``_replies``), kept from the GC
        self.client = OspfApiClient(
            api_host, api_port, on_message=self._on_message, on_connect=self._on_connect, on_disconnect=self._on_disconnect, name=f"{name}/ospfapi"
        )
        self.measurer = Measurer(cfg, name, a.get("window", window), self.core.link_speed)
        self._vec_kick = asyncio.Event()  # a TED changed: the ABR vector loop
        self._view_kick = asyncio.Event()  # a TED changed: the head-end's view loop
        self._srv6_kick = asyncio.Event()  # an interface or address changed: SRv6 sync
        self._seen_gen = -1
        self._seen_vec_gen = -1
        self._gen_at = self._vec_gen_at = -float("inf")  # monotonic time _kick saw ted_gen / vec_gen change
        self._cpu_last: dict = {}  # "vectors" / "choices" -> CPU s its last round took (_run_round)
        self.measurer.on_link_change = self._srv6_kick.set
        self.signalling = Signalling(self.core, self._queue.put_nowait, a.get("signal_port", SIGNAL_PORT))
        try:
            s6 = sidplan.settings(a.get("srv6"))
        except SidError as exc:
            log.error("%s: %s: running without SRv6", name, exc)
            s6 = sidplan.Srv6Settings(enabled=False)
        self.srv6 = Srv6Node(s6, cfg.ports, getattr(cfg, "te_tail", False), name=name, inputs=self.measurer.srv6_inputs)
        self.lsps = LspManager(self.core, self.signalling, self.srv6, name)
        # issue 9: telemetry poller (a compute site with readers), probes, exporter
        cats = getattr(cfg, "cats", None)
        self.poller = None
        if self.core.energy is not None:
            from pyfrr_pwr.telemetry import poller

            try:
                self.poller = poller.build(getattr(cfg, "energy", None))
            except Exception as exc:  # a reader that cannot be built: run without energy readings
                log.error("%s: energy readers: %s: running without them", name, exc)
        elif getattr(cfg, "energy", None):
            log.warning("%s: energy readers configured but cats.site is off: their readings are not advertised", name)
        self.probe_settings = getattr(cats, "probe", None)
        self.probe = None  # agent.probe.ProbeAgent, once the router ID is known
        self.exporter = Exporter(getattr(cats, "exporter", None), lambda: state_of(self.core, self.lsps, self.core.energy))
        self.sync_timeout = SYNC_TIMEOUT
        self._resync_task: asyncio.Task | None = None
        self._reloading: asyncio.Future | None = None  # reload(): the one running
        self._reload_again = False  # a SIGHUP came during it
        self._type_in_use_logged = -float("inf")
        self.id_file = Path(socket_path).with_suffix(".ids")
        self._load_ids()

    # -- opaque IDs across restarts --------------------------------------------

    def _load_ids(self) -> None:
        """Start past every opaque ID an earlier agent of this router handed
        out (its ``<socket>.ids``); the hook keeps the file ahead of us."""
        try:
            v = int(self.id_file.read_text().strip())
            if 1 <= v < ID_SPACE:
                self.core.next_id = v
                log.info("%s: opaque IDs continue from %d (%s)", self.name, v, self.id_file)
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            log.warning("%s: ignoring %s: %s", self.name, self.id_file, exc)
        self.core.on_id_block = self._save_ids

    def _save_ids(self, mark: int) -> None:
        tmp = self.id_file.with_suffix(".ids.tmp")
        self.id_file.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(f"{mark}\n")
        os.replace(tmp, self.id_file)

    # -- API session ---------------------------------------------------------

    def _emit(self, reqs: list) -> None:
        if reqs:
            self._queue.put_nowait(reqs)
        self._kick()

    def _kick(self) -> None:
        """Wake the loops that follow the TEDs (pushed, not polled): the
        view loop on any TED change, the vector loop on a change in what
        an ABR's vectors are computed from (``AgentCore.vec_gen``), or
        when they are due anyway (a flush, a refresh); a router that is
        no ABR has no vector round to run."""
        gen = self.core.ted_gen
        if gen != self._seen_gen:
            self._seen_gen = gen
            self._gen_at = time.monotonic()
            self._view_kick.set()
        vgen = self.core.vec_gen
        if vgen != self._seen_vec_gen or self.core.vectors_dirty:
            if vgen != self._seen_vec_gen:
                self._vec_gen_at = time.monotonic()
            self._seen_vec_gen = vgen
            if len(self.core.abr_areas()) >= 2:
                self._vec_kick.set()

    def _on_message(self, m) -> None:
        if TRACING:
            _trace_message(m)
        try:
            self._emit(self.core.handle(m, time.monotonic()))
        except Exception as exc:  # handle() does not raise; belt and braces
            self.core.report("handle_errors", exc, f"dropped {type(m).__name__}")

    def _on_disconnect(self, client) -> None:
        if self._resync_task is not None:
            self._resync_task.cancel()
        while not self._queue.empty():  # requests of the lost session: ospfd flushed it all
            self._queue.get_nowait()
        self.core.session_reset()

    def _type_in_use(self, ot: int) -> None:
        self.core.api_problem = f"opaque type {api.LSA_OPAQUE_AREA}/{ot} is registered by another client of ospfd's API"
        self.core.stats["opaque_type_in_use"] += 1
        now = time.monotonic()
        if now - self._type_in_use_logged >= TYPE_IN_USE_LOG_S:
            self._type_in_use_logged = now
            log.error(
                "%s: ospfd refused opaque type %d/%d: another OSPF API client registered it (OPAQUETYPEINUSE). None of our LSAs can be "
                "originated until it unregisters or disconnects: find it with `ss -tnp '( sport = :%d )'` in this router's namespace and stop it, "
                "or run every agent with another agent.opaque_type (128-255). Retrying with backoff.",
                self.name, api.LSA_OPAQUE_AREA, ot, api.API_PORT,
            )  # fmt: skip

    async def _on_connect(self, client) -> None:
        ot = self.core.opaque_type
        self.core.session_reset()
        learnt = self.core.stats["own_lsas_learnt"]
        try:
            await client.request(api.RegisterOpaqueType(api.LSA_OPAQUE_AREA, ot))
        except ApiReplyError as exc:
            if exc.reply.errcode == api.ApiErr.OPAQUETYPEINUSE:
                self._type_in_use(ot)
            raise
        if self.core.api_problem:
            log.warning("%s: opaque type %d/%d registered at last", self.name, api.LSA_OPAQUE_AREA, ot)
        self.core.api_problem = None
        self._type_in_use_logged = -float("inf")
        await client.request(api.RegisterEvent(LSA_FILTER))
        for req in (api.SyncRouterId(), api.SyncIsm(), api.SyncNsm(), api.SyncLsdb(LSA_FILTER)):
            await client.request(req)
        # complete once the sentinel queued behind the sync's notifications is in
        await client.barrier(self.sync_timeout)
        gone = self.core.resync_done()
        self._emit(self.core.evaluate(time.monotonic()))
        log.info(
            "%s: registered opaque type %d/%d, LSDB synced (%d own LSAs learnt, %d stale LSAs dropped; IDs continue from %d)",
            self.name, api.LSA_OPAQUE_AREA, ot, self.core.stats["own_lsas_learnt"] - learnt, gone, self.core.next_id,
        )  # fmt: skip

    async def _resync(self, why: str) -> None:
        """A new LSDB sync within the session (the TEDs look wrong)."""
        connects = self.client.stats["connects"]
        log.warning("%s: %s: syncing the LSDB again", self.name, why)
        self.core.begin_resync(time.monotonic())
        try:
            await self.client.request(api.SyncLsdb(LSA_FILTER))
            await self.client.barrier(self.sync_timeout)
        except Exception as exc:
            if self.client.stats["connects"] == connects and self.client.connected:
                self.core.abort_resync()
            log.warning("%s: LSDB re-sync abandoned: %s", self.name, exc)
            return
        gone = self.core.resync_done()
        now = time.monotonic()
        self.core.resync_finished(now)
        self._emit(self.core.evaluate(now))
        log.warning("%s: LSDB re-synced: %d changes (%d stale LSAs dropped)", self.name, self.core.resync_changed, gone)

    async def _sender(self) -> None:
        """Send what the core asked for, in order, pipelined: every request
        is written as soon as it is queued, and the replies are awaited
        beside it (``_replies``; issue 10: one round trip each, 5-12 ms on
        a loaded router, made an ABR's three vectors take 40 ms to leave,
        and while a link went down ospfd, busy with its SPF, answered a
        withdrawal 30-57 ms late, which held back the new vectors queued
        behind it). ospfd reads the sync connection one request at a time,
        in order (ospf_apiserver.c), so make-before-break (originate, then
        delete) holds; each reply is still matched to its request, and
        refusals reach the core."""
        while True:
            reqs = list(await self._queue.get())
            while not self._queue.empty():
                reqs += self._queue.get_nowait()
            if not self.client.connected:
                continue
            if TRACING:
                for r in reqs:
                    trace("send", type(r).__name__, getattr(r, "area", "-"), getattr(r, "opaque_id", "-"))
            # tasks start in creation order and write before their first await
            sent = [asyncio.ensure_future(self.client.request(r, check=False)) for r in reqs]
            t = asyncio.ensure_future(self._replies(reqs, sent))
            self._awaiting.add(t)
            t.add_done_callback(self._awaiting.discard)

    async def _replies(self, reqs: list, sent: list) -> None:
        """One batch's replies, in order: what failed is counted or logged,
        what ospfd refused goes to the core."""
        lost = False
        for r, rep in zip(reqs, await asyncio.gather(*sent, return_exceptions=True)):
            if isinstance(rep, (TimeoutError, ConnectionError)):
                if not lost:  # one line for a session lost under a batch
                    log.warning("%s: %s", self.name, rep)
                lost = True
            elif isinstance(rep, ValueError):  # encode_request: a body ospfd cannot take
                self.core.report("dropped_request_encode", rep, f"dropped {type(r).__name__}")
            elif isinstance(rep, Exception):
                self.core.report("sender_errors", rep, f"dropped {type(r).__name__}")
            elif not rep.ok:
                log.warning("%s: ospfd refused %s: %s", self.name, type(r).__name__, rep.error)
                try:
                    self.core.refused(r, rep.errcode)
                except Exception as exc:  # one refusal the core cannot take must not lose the rest
                    self.core.report("sender_errors", exc, f"refusal of {type(r).__name__}")

    async def _settle(self, quiet: float, most: float, changed_at=None) -> None:
        """Return once the TEDs went ``quiet`` s without a change (the last
        one at ``changed_at()``, monotonic, as ``_kick`` saw it; default a
        ``ted_gen`` change), or ``most`` s after the call (a burst of
        changes is taken whole). Sleeps until exactly ``quiet`` after the
        last change, not in ``quiet`` steps that sample the counter (which
        returned between 1 and 2 ``quiet`` after it: issue 10, 5-10 ms per
        ABR and head-end stage of a reroute)."""
        changed_at = changed_at or (lambda: self._gen_at)
        end = time.monotonic() + most
        while True:
            wait = min(changed_at() + quiet, end) - time.monotonic()
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    async def _vector_loop(self, period: float = VECTOR_FALLBACK_S) -> None:
        """ABR work off the event loop (draft sec. 2.3: extra cores): when a
        TED changed (woken by ``_kick``; at most ``period`` s apart anyway),
        let the burst settle, snapshot, compute on a worker thread, originate."""
        while True:
            try:
                await asyncio.wait_for(self._vec_kick.wait(), period)
            except TimeoutError:
                pass
            self._vec_kick.clear()
            try:
                if len(self.core.abr_areas()) < 2:
                    continue  # no ABR, no vectors (draft sec. 2.1); a second area ready kicks us: _kick
                if self.core.vectors_dirty and not self.core.vectors_urgent:
                    trace("vec_kick", self.core.vec_gen)
                    await self._settle(VECTOR_QUIET_S, VECTOR_MAX_S, lambda: self._vec_gen_at)
                elif self.core.vectors_dirty:  # our own link went down: nothing to let settle (AgentCore.vectors_urgent)
                    trace("vec_kick", self.core.vec_gen, "urgent")
                await self._vector_round()
            except Exception as exc:
                self.core.report("vector_loop_errors", exc, "vector round failed")

    async def _view_loop(self) -> None:
        """The head-end's consistent view: after a settled burst of TED
        changes, publish it and recompute the choices asked for (off the
        event loop: ``AgentCore.compute_choices`` reads only the view)."""
        while True:
            await self._view_kick.wait()
            try:
                trace("view_kick", self.core.ted_gen)
                await self._settle(VIEW_QUIET_S, VIEW_MAX_S)
                self._view_kick.clear()
                job = self.core.publish_view()
                trace("view_published", self.core.view_gen)
                if job is not None:
                    t0 = time.monotonic()
                    changed = self.core.stats["choices_changed"]
                    with self.core.timings("choices"):
                        res = await self._run_round("choices", AgentCore.compute_choices, job)
                    self.core.store_choices(job, res)
                    self.core.stats["view_round_ms_last"] = round((time.monotonic() - t0) * 1e3, 1)
                    trace(
                        "view_choices",
                        job[0],
                        self.core.stats["choices_changed"] - changed,
                        self.core.stats["view_round_ms_last"],
                        round(self._cpu_last.get("choices", 0) * 1e3, 2),
                    )
                self.lsps.kick()  # LSPs re-optimise from the new view at once
            except Exception as exc:
                self.core.report("view_errors", exc, "head-end view round failed")

    async def _run_round(self, kind: str, fn, arg):
        """``fn(arg)``, on the event loop if its last round was cheap
        (``INLINE_CPU_S``), else on a worker thread (draft sec. 2.3); the
        first round of each kind goes to a thread."""

        def timed(a):
            t = time.thread_time()
            try:
                return fn(a)
            finally:
                self._cpu_last[kind] = time.thread_time() - t

        if self._cpu_last.get(kind, float("inf")) < INLINE_CPU_S:
            return timed(arg)
        return await asyncio.to_thread(timed, arg)

    async def _vector_round(self) -> None:
        if not self.core.vectors_dirty or not self.client.connected or self.core.awaiting_sync:
            return
        snap = self.core.vector_snapshot()
        if snap is None:
            return
        t0 = time.monotonic()
        trace("vec_start", self.core.vec_gen)
        try:
            with self.core.timings("vectors"):
                res = await self._run_round("vectors", AgentCore.compute_vectors, snap)
        except Exception as exc:
            self.core.report("vector_compute_errors", exc, "vector computation failed")
            return
        self.core.stats["vector_round_ms_last"] = round((time.monotonic() - t0) * 1e3, 1)  # a gauge: where reroute time goes
        self.core.stats["vector_rounds"] += 1  # a counter: tests wait for the ABRs to go quiet on it
        reqs = self.core.apply_vectors(res, time.monotonic())
        trace(
            "vec_done",
            self.core.stats["vector_round_ms_last"],
            sum(isinstance(r, api.OriginateRequest) for r in reqs),
            round(self._cpu_last.get("vectors", 0) * 1e3, 2),
        )
        self._emit(reqs)

    async def _housekeeping(self, period: float = 0.5) -> None:
        """``AgentCore.tick``, and a re-sync when ``resync_due`` says so."""
        while True:
            await asyncio.sleep(period)
            try:
                if not self.client.connected or self.core.awaiting_sync:
                    continue
                now = time.monotonic()
                self._emit(self.core.tick(now))
                self._emit(self.core.leak_update(now, time.time()))
                self._kick()
                if self._resync_task is None or self._resync_task.done():
                    why = self.core.resync_due(now)
                    if why:
                        self._resync_task = asyncio.create_task(self._resync(why))
            except Exception as exc:
                self.core.report("housekeeping_errors", exc, "housekeeping failed")

    async def _srv6_loop(self) -> None:
        """Our SIDs (issue 7): start once the router ID is known, then keep
        them in step (``Srv6Node.sync``) and flood what is installed."""
        s6 = self.srv6
        while self.core.router_id is None:
            await asyncio.sleep(0.2)
        if s6.nl is None and s6.disabled is None:
            await asyncio.to_thread(s6.start, self.core.router_id)
        follow = SRV6_FOLLOW_UPS  # the first neighbours come after the start
        while True:
            self._emit(self.core.set_srv6(s6.advertised() if s6.disabled is None else None, s6.status(), time.monotonic()))
            if s6.nl is None:  # without SRv6 the task idles (a finished task would stop the agent)
                await asyncio.Event().wait()
            # on the measurer's interface events, a few follow-ups, and rarely besides
            p = s6.settings.period
            try:
                await asyncio.wait_for(self._srv6_kick.wait(), p if follow else p * SRV6_FALLBACK_PERIODS)
                follow = SRV6_FOLLOW_UPS
            except TimeoutError:
                follow = max(0, follow - 1)
            await asyncio.sleep(s6.settings.period / 10)  # a burst of link events, taken whole
            self._srv6_kick.clear()
            await asyncio.to_thread(s6.sync)

    async def _energy_loop(self) -> None:
        """A site's energy status (issue 9 sec. 1): every poller interval,
        even without new readings (a change the rate limit held back goes
        out), and at the moment a held-back change is due; nothing faster."""
        p = self.poller
        while True:
            readings = p.latest().values() if p is not None else ()
            status = AgentCore.energy_status(readings, self.core.stats, (self.cfg.energy or {}).get("supply_capacity_w"))
            self._emit(self.core.set_energy(status, time.monotonic(), time.time()))
            if p is None:  # services only: their TLVs are in the node LSA already
                await asyncio.Event().wait()
            wait = p.interval
            e = self.core.energy
            wall = time.time()
            due = self.core.energy_due(wall)
            if e is not None and e.pending and due is not None:
                wait = min(wait, max(ENERGY_MIN_WAIT_S, due - wall))
            await asyncio.sleep(wait)

    def _probe_peers(self, port: int) -> dict:
        """ifname -> (neighbour router ID, its address, probe port) of every
        link with a Full neighbour."""
        return {ifn: (l.nbr_id, l.nbr_addr, port) for ifn, l in self.core.links.items() if l.nbr_id and l.nbr_addr}

    async def _probe_loop(self) -> None:
        """Delay probes (issue 9 sec. 2; ``agent.probe``): one round per
        ``cats.probe.interval``, the figures to the core after each."""
        from pyfrr_pwr.agent.probe import ProbeAgent

        ps = self.probe_settings
        while self.core.router_id is None:
            await asyncio.sleep(0.2)
        pa = ProbeAgent(self.core.router_id, {}, ps.port, ps.interval, ps.window, ps.clock)
        await pa.start()
        self.probe = pa
        configured = getattr(getattr(self.cfg, "cats", None), "port_delays", None) or {}
        try:
            while True:
                pa.set_peers(self._probe_peers(ps.port))
                pa.send_round()
                await asyncio.sleep(ps.interval)
                self._emit(self.core.set_delays(pa.figures(configured), time.monotonic()))
        finally:
            pa.close()
            self.probe = None

    async def _supervised(self, name: str, run) -> None:
        """Run ``run()`` for ever: a crash is logged, counted
        (``<name>_crashes``) and the task started again a second later."""
        while True:
            try:
                await run()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.core.report(f"{name}_crashes", exc, f"task {name} crashed, restarting it")
                await asyncio.sleep(1.0)

    # -- reload (SIGHUP) -------------------------------------------------------------

    def reload(self) -> None:
        """SIGHUP: read power.yml again and apply what needs no restart
        (``_reload``). One reload at a time; a SIGHUP during one runs one
        more after it (the file may have changed again)."""
        if self._reloading is not None and not self._reloading.done():
            self._reload_again = True
            return
        self._reloading = asyncio.ensure_future(self._reloads())

    async def _reloads(self) -> None:
        while True:
            self._reload_again = False
            await self._reload()
            if not self._reload_again:
                return

    async def _reload(self) -> bool:
        """``reload`` proper. The file is read and checked off the event
        loop: the schema check runs in a child process (``files.schemacheck``:
        jsonschema never resident in the agent), a fresh interpreter once
        threads run, 0.2-0.3 s that would otherwise stall floods and
        signalling. A file that does not load keeps the running
        configuration; never raises. True if the new configuration runs."""
        path = self.cfg.path
        try:
            new = await asyncio.to_thread(load_power, path, isolate_schema=True)
        except Exception as exc:  # ConfigError names file, line and field
            self.core.stats["reload_errors"] += 1
            log.error("%s: reload of %s failed, the running configuration stays: %s", self.name, path, exc)
            return False
        try:
            d = reload.diff(self.cfg, new)
            eff = reload.merge(self.cfg, new)
            for f in d.restart:
                log.warning("%s: reload of %s: %s changed and needs a restart; it stays as it runs", self.name, path, f)
            if d.applied:
                self.core.reconfigure(eff)
                self.measurer.window = eff.agent.get("window", self.measurer.window)
                self.measurer.set_config(eff)
                self.interval = self.measurer.interval = eff.agent.get("interval", self.interval)
                self.cfg = eff
                self._emit(self.core.evaluate(time.monotonic()))
        except Exception as exc:
            self.core.stats["reload_errors"] += 1
            log.error("%s: reload of %s failed while applying it: %s: %s", self.name, path, type(exc).__name__, exc, exc_info=True)
            return False
        self.core.stats["reloads"] += 1
        log.warning("%s: reloaded %s: %s", self.name, path, ("applied " + ", ".join(d.applied)) if d.applied else "nothing to apply without a restart")
        return True

    # -- control socket ------------------------------------------------------------

    async def _answer(self, line: bytes) -> msg.Reply:
        try:
            req = msg.decode(line, msg.CONTROL)
            if isinstance(req, self.lsps.REQUESTS):
                return msg.Reply(True, await self.lsps.control(req))
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
        private_dir(path.parent)
        path.unlink(missing_ok=True)
        old = os.umask(0o177)
        try:
            server = await asyncio.start_unix_server(self._control, path=str(path))
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        try:
            await self.signalling.start()
        except BaseException:  # e.g. the signalling port is taken: leave no socket behind
            server.close()
            path.unlink(missing_ok=True)
            raise
        tasks = [
            asyncio.create_task(self._supervised("ospfapi", self.client.run)),
            asyncio.create_task(self._supervised("measure", lambda: self.measurer.run(self.core, self._emit, self.interval))),
            asyncio.create_task(self._supervised("sender", self._sender)),
            asyncio.create_task(self._supervised("vectors", self._vector_loop)),
            asyncio.create_task(self._supervised("view", self._view_loop)),
            asyncio.create_task(self._supervised("housekeeping", self._housekeeping)),
            # soft-state reservations: refreshes out, expiries in (issue 7, 11 sec. 3)
            asyncio.create_task(self._supervised("signalling", self.signalling.run_timers)),
            asyncio.create_task(self._supervised("srv6", self._srv6_loop)),
            asyncio.create_task(self._supervised("lsps", self.lsps.run)),
        ]
        # issue 9, each only when configured (a finished task would stop the agent)
        if self.core.energy is not None:
            tasks.append(asyncio.create_task(self._supervised("energy", self._energy_loop)))
        if self.poller is not None:
            tasks.append(asyncio.create_task(self._supervised("energy_poller", self.poller.run)))
        if self.probe_settings is not None and self.probe_settings.enabled:
            tasks.append(asyncio.create_task(self._supervised("probe", self._probe_loop)))
        if self.exporter.enabled:
            tasks.append(asyncio.create_task(self._supervised("exporter", self.exporter.run)))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
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
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.poller is not None:  # the readers' sessions and threads
                try:
                    await self.poller.stop()
                except Exception as exc:
                    self.core.report("energy_stop_errors", exc, "stopping the energy poller failed")
            if self.probe is not None:
                self.probe.close()
            try:
                await self.exporter.stop()
            except Exception as exc:
                self.core.report("exporter_stop_errors", exc, "stopping the exporter failed")
            try:  # our LSPs' routes go before the SIDs they use (issue 7)
                await self.lsps.stop()
            except Exception as exc:
                self.core.report("lsp_stop_errors", exc, "removing our LSPs failed")
            try:  # exactly the SIDs we installed go (issue 7)
                await asyncio.to_thread(self.srv6.stop)
            except Exception as exc:
                self.core.report("srv6_stop_errors", exc, "removing our SIDs failed")
            self.signalling.close()  # the server, the connections it serves and those it keeps
            await self.client.close()
            path.unlink(missing_ok=True)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            log.info("%s: stopped", self.name)


def _trace_message(m) -> None:
    """A trace line (``agent.trace``) for what ospfd told us that moves a
    reroute: LSAs of opaque type 10, neighbour and interface states."""
    if isinstance(m, (api.LsaUpdate, api.LsaDelete)):
        h = m.header
        if h.type == api.LSA_OPAQUE_AREA:
            trace("lsa_upd" if isinstance(m, api.LsaUpdate) else "lsa_del", m.area, h.adv_router, h.lsid)
    elif isinstance(m, api.NsmChange):
        trace("nsm", m.ifaddr, m.router_id, int(m.status))
    elif isinstance(m, api.IsmChange):
        trace("ism", m.ifaddr, m.area, int(m.status))


def run_agent(config: str, socket_path: str, api: str = "127.0.0.1:2607", name: str | None = None) -> int:
    # vector and choice rounds run on a worker thread whose C calls drop and
    # re-take the GIL; each re-take waited up to a whole 5 ms switch interval
    # while the event loop ran Python during a flood (1.35 ms alone, 9.2 ms
    # beside a busy loop; 5.7 ms at 0.5 ms): issue 10's reroute latency
    sys.setswitchinterval(0.001)
    cfg = load_power(config, isolate_schema=True)  # jsonschema never resident in the agent (files.schemacheck)
    host, _, port = (cfg.agent.get("api") or api).rpartition(":")
    agent = Agent(cfg, socket_path, host or "127.0.0.1", int(port), name=name or cfg.router or "agent")
    try:
        asyncio.run(agent.run())
    except KeyboardInterrupt:
        pass
    return 0


def _api_arg(s: str) -> str:
    """An argparse type: HOST:PORT, port 1..65535 (``files.power.parse_api``)."""
    import argparse

    from pyfrr_pwr.files.power import parse_api

    try:
        parse_api(s)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return s


def parse_args(argv: list[str] | None = None):
    """The options of ``pyfrr-pwr agent`` (a leading ``agent`` is skipped);
    a usage error exits 2 (argparse)."""
    import argparse
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["agent"]:
        args = args[1:]
    ap = argparse.ArgumentParser(prog="pyfrr-pwr agent", description="run the per-router agent beside ospfd")
    ap.add_argument("-c", "--config", required=True, help="power configuration YAML")
    ap.add_argument("--socket", default=DEFAULT_SOCKET, help="control socket path")
    ap.add_argument("--api", type=_api_arg, default="127.0.0.1:2607", help="ospfd API server HOST:PORT")
    ap.add_argument("--name")
    ap.add_argument("--log-file")
    ap.add_argument("--debug", action="store_true")
    return ap.parse_args(args)


def setup_logging(a) -> None:
    logging.basicConfig(
        level=logging.DEBUG if a.debug else logging.INFO,
        format=f"%(asctime)s pyfrr-pwr[{a.name or 'agent'}] %(levelname)s %(name)s: %(message)s",
        filename=a.log_file,
    )


def main(argv: list[str] | None = None) -> int:
    """The agent's lean entry point (``python -P -c "from
    pyfrr_pwr.agent.daemon import main; ..." agent -c ...``; what the lab
    runs, and what ``pyfrr-pwr agent`` dispatches to): the options of
    ``pyfrr-pwr agent``, without importing the whole CLI (rich, numpy's
    evaluation modules, the offline tools), which cost every agent of a
    lab seconds of start-up and tens of MiB (issue 10)."""
    a = parse_args(argv)
    setup_logging(a)
    try:
        return run_agent(a.config, a.socket, a.api, a.name)
    except Exception as exc:  # a bad configuration: one line naming file, line, field
        log.error("%s", exc)
        return 1
