"""One TE-LSP at its head-end: a sans-I/O state machine (pure, no I/O).

The draft instantiates a TE-LSP on the power-shortest path and builds
another one when the PWRLINK metrics move (sec. 2.1.7: "another power
shortest path ... would be constructed"), over equal-PWR alternatives when
there are several (sec. 2.1.5), with the PWR metric banded so that small
fluctuations do not cause re-computation (sec. 2.2, 2.1.6). The second
seed (CATS sec. 4.2) asks for multipath redundancy and sub-second
self-healing. Here the LSP is an SRv6 path (no MPLS in these kernels):
installing it is an IPv4 encap route at the head-end (``netlink``).

Like h11 or aioquic, the machine does no I/O and reads no clock: ``handle``
takes an event (each carries ``now``) and returns the actions to carry out,
as data, in order; ``next_deadline()`` says when to deliver a ``Tick``.
The agent signals, builds SID lists (``sidlist``) and talks to the kernel.

States::

    DOWN --setup--> SETTING_UP --all legs signalled--> UP
    UP --better path by the margin--> REOPTIMIZING --signalled--> UP
    any --release--> RELEASING --releases confirmed or timeout--> GONE
    SETTING_UP --failure/timeout--> DOWN (retry after a backoff: Recompute)

Make-before-break: in REOPTIMIZING the new path is signalled while the old
one carries traffic; once every new leg is signalled, the encap route is
replaced (``InstallEncap``, a route replace: atomic) and only then are the
old legs released (``Release`` after ``InstallEncap`` in the same list).

Hysteresis: a new best path replaces the current one only if its PWR is
lower by the relative ``margin`` and by ``min_gain``, and not within
``holddown`` seconds of the last re-optimisation. With
``metric.Banding.geometric``'s ratio r, two paths banded one band apart
differ by 1 - 1/r (0.2 at r = 1.25): the default margin 0.25 is wider, so
banding alone cannot flip an LSP back and forth. A broken primary (a link
of it down) is moved at once, margin or not.

Protection: an optional backup path is signalled too and installed as a
second route at a worse metric (the kernel falls over to it by itself when
the primary's first link loses carrier, 0 ms with
``ignore_routes_with_linkdown``). When liveness of the primary is lost
(BFD over the SR path, 44-66 ms at 20 ms x 3), ``Switch`` moves the primary
route to the backup's SID list; when it is restored, traffic returns after
``wtr`` seconds (wait to restore, as in RFC 4427 recovery) so a flapping
primary does not drag traffic along. Without a working backup the encap
route is removed: traffic falls back to the IGP's route rather than into a
black hole.

No race between a re-optimisation and a liveness switch: a loss of the
primary's liveness is acted on at once (``Switch``), and a re-optimisation
in flight then is dropped (released: its path was chosen before the
failure was known, and its completion would move traffic off the working
backup onto a path nobody has probed); for ``switch_hold`` s after the
switch no new re-optimisation starts (the head-end's view is still
settling), then ``Recompute`` asks for the best path again (if one was
dropped or held back). A broken primary (``LinkDown``: the failure is in
the TED) is moved at once.

Equal-PWR legs: ``SetupRequested`` and ``PwrChanged`` take one or more
paths; each is a leg, signalled on its own for its weighted share of the
bandwidth, installed together as one weighted multipath route.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from pyfrr_pwr.dataplane.lspmsg import (  # events, actions, states: re-exported
    EncapLeg,
    InstallBackup,
    InstallEncap,
    Leg,
    LinkDown,
    LivenessLost,
    LivenessRestored,
    LspConfig,
    LspPath,
    PwrChanged,
    Recompute,
    Refresh,
    Release,
    Released,
    ReleaseRequested,
    RemoveBackup,
    RemoveEncap,
    SetupRequested,
    Signal,
    SignallingFailed,
    SignallingSucceeded,
    State,
    Switch,
    Tick,
)

__all__ = [
    "State",
    "LspConfig",
    "LspPath",
    "Leg",
    "EncapLeg",
    "SetupRequested",
    "SignallingSucceeded",
    "SignallingFailed",
    "Tick",
    "PwrChanged",
    "LivenessLost",
    "LivenessRestored",
    "LinkDown",
    "ReleaseRequested",
    "Released",
    "Signal",
    "Refresh",
    "Release",
    "InstallEncap",
    "RemoveEncap",
    "InstallBackup",
    "RemoveBackup",
    "Switch",
    "Recompute",
    "Lsp",
]


@dataclass
class _Attempt:
    kind: str  # "setup" or "reopt"
    paths: dict  # sig -> LspPath
    got: dict = field(default_factory=dict)  # sig -> Leg
    deadline: float = math.inf


def _bundle_pwr(paths) -> float:
    w = sum(p.weight for p in paths)
    return sum(p.pwr * p.weight for p in paths) / w


def _same(paths_a, paths_b) -> bool:
    return {p.edges for p in paths_a} == {p.edges for p in paths_b}


class Lsp:
    """One LSP at its head-end. ``prefixes``: the IPv4 prefixes it carries.
    Signalling instances are numbered from ``sig_base`` + 1: a restarted
    agent passes a base above what it used before (e.g. a boot counter
    shifted left), so its new bookings never collide with stale ones."""

    def __init__(self, lsp_id: int, head: str, tail: str, prefixes, bandwidth: float = 0.0, config: LspConfig | None = None, *, sig_base: int = 0):
        if not (isinstance(lsp_id, int) and 0 <= lsp_id < 2**32):
            raise ValueError(f"LSP ID {lsp_id!r} must be a 32-bit unsigned integer")
        if not (isinstance(bandwidth, (int, float)) and math.isfinite(bandwidth) and bandwidth >= 0):
            raise ValueError(f"bandwidth {bandwidth!r} must be a finite number >= 0")
        prefixes = tuple(prefixes)
        if not prefixes:
            raise ValueError(f"LSP {lsp_id}: no prefixes to carry")
        self.lsp_id = lsp_id
        self.head = head
        self.tail = tail
        self.prefixes = prefixes
        self.bandwidth = float(bandwidth)
        self.config = config or LspConfig()
        self.state = State.DOWN
        self.primary: tuple = ()  # Legs of the primary (installed)
        self.primary_pwr: float | None = None
        self.backup: Leg | None = None  # signalled backup
        self.backup_installed = False
        self.active: str | None = None  # "primary", "backup", "igp" (no encap route) or None
        self.primary_alive = True
        self.alive_legs: tuple | None = None  # primary legs the prober still sees answering (None: all)
        self.backup_alive = True
        self.primary_broken = False
        self.failures = 0
        self.last_reopt = -math.inf
        self.refresh_at: float | None = None
        self.wtr_at: float | None = None
        self.retry_at: float | None = None
        self.release_deadline: float | None = None
        self.switched_at = -math.inf  # the last liveness switch off the primary
        self.reopt_at: float | None = None  # a Recompute due once that switch settled
        self.stats: Counter = Counter()
        self.last_reason: str | None = None  # why the last attempt failed
        self._attempt: _Attempt | None = None
        self._battempt: tuple | None = None  # (sig, path, deadline)
        self._aborted: dict = {}  # sig -> path: released before its answer came
        self._waiting: set = set()  # sigs whose release is unconfirmed
        if not (isinstance(sig_base, int) and sig_base >= 0):
            raise ValueError(f"sig_base {sig_base!r} must be an integer >= 0")
        self._sig = sig_base

    # -- public -----------------------------------------------------------

    def handle(self, ev) -> list:
        if self.state is State.GONE:
            if isinstance(ev, SignallingSucceeded):
                return self._late_success(ev)
            return []
        h = {
            SetupRequested: self._on_setup,
            SignallingSucceeded: self._on_success,
            SignallingFailed: self._on_failure,
            Tick: self._on_tick,
            PwrChanged: self._on_pwr,
            LivenessLost: self._on_lost,
            LivenessRestored: self._on_restored,
            LinkDown: self._on_link_down,
            ReleaseRequested: self._on_release,
            Released: self._on_released,
        }.get(type(ev))
        if h is None:
            raise TypeError(f"not an LSP event: {ev!r}")
        return h(ev)

    def next_deadline(self) -> float | None:
        ds = [self.wtr_at, self.retry_at, self.release_deadline]
        if self._attempt:
            ds.append(self._attempt.deadline)
        if self._battempt:
            ds.append(self._battempt[2])
        if self.state in (State.UP, State.REOPTIMIZING):
            ds += [self.refresh_at, self.reopt_at]
        ds = [d for d in ds if d is not None]
        return min(ds) if ds else None

    @property
    def legs(self) -> tuple:
        """Every signalled leg we hold: primary, backup, attempt."""
        out = list(self.primary)
        if self.backup:
            out.append(self.backup)
        if self._attempt:
            out.extend(self._attempt.got.values())
        return tuple(out)

    def snapshot(self) -> dict:
        return {
            "lsp_id": self.lsp_id,
            "head": self.head,
            "tail": self.tail,
            "state": self.state.value,
            "active": self.active,
            "primary": [{"sig": l.sig, "nodes": list(l.path.nodes), "pwr": l.path.pwr, "weight": l.path.weight, "segs": list(l.segs)} for l in self.primary],
            "primary_pwr": self.primary_pwr,
            "backup": None
            if self.backup is None
            else {"sig": self.backup.sig, "nodes": list(self.backup.path.nodes), "installed": self.backup_installed, "alive": self.backup_alive},
            "primary_alive": self.primary_alive,
            "primary_broken": self.primary_broken,
            "pending": sorted(self._attempt.paths) if self._attempt else [],
            "stats": dict(self.stats),
        }

    # -- helpers ------------------------------------------------------------

    def _new_sig(self) -> int:
        self._sig += 1
        return self._sig

    def _start(self, now: float, kind: str, paths) -> list:
        paths = tuple(paths)
        if not paths or not all(isinstance(p, LspPath) for p in paths):
            raise ValueError(f"LSP {self.lsp_id}: need one or more LspPath, got {paths!r}")
        total = sum(p.weight for p in paths)
        self._attempt = _Attempt(kind, {}, deadline=now + self.config.setup_timeout)
        out = []
        for p in paths:
            sig = self._new_sig()
            self._attempt.paths[sig] = p
            out.append(Signal(self.lsp_id, sig, p, self.bandwidth * p.weight / total, "primary"))
        self.stats["signalled"] += len(paths)
        return out

    def _start_backup(self, now: float, path: LspPath) -> list:
        sig = self._new_sig()
        self._battempt = (sig, path, now + self.config.setup_timeout)
        return [Signal(self.lsp_id, sig, path, self.bandwidth if self.config.reserve_backup else 0.0, "backup")]

    def _abort(self, reason: str) -> list:
        """Release every leg of the primary attempt, answered or not."""
        a, self._attempt = self._attempt, None
        out = []
        for sig, p in a.paths.items():
            out.append(Release(self.lsp_id, sig, p))
            if sig not in a.got:
                self._aborted[sig] = p  # its answer may still come
        self.stats[f"{a.kind}_failed"] += 1
        self.last_reason = reason
        return out

    def _drop_battempt(self) -> list:
        sig, p, _ = self._battempt
        self._battempt = None
        self._aborted[sig] = p
        return [Release(self.lsp_id, sig, p)]

    def _encap(self, legs) -> tuple:
        return tuple(EncapLeg(l.segs, l.path.weight, l.path.first_hop) for l in legs)

    def _backoff(self) -> float:
        c = self.config
        return min(c.retry_max, c.retry_min * 2 ** max(0, self.failures - 1))

    def _late_success(self, ev) -> list:
        p = self._aborted.pop(ev.sig, None)
        if p is None:
            self.stats["stale"] += 1
            return []
        return [Release(self.lsp_id, ev.sig, p)]

    def _install_backup(self) -> list:
        if self.backup is None or self.backup_installed or not self.backup_alive:
            return []
        self.backup_installed = True
        return [InstallBackup(self.lsp_id, self.prefixes, self._encap([self.backup])[0], self.config.backup_metric)]

    def _remove_backup(self) -> list:
        if not self.backup_installed:
            return []
        self.backup_installed = False
        return [RemoveBackup(self.lsp_id, self.prefixes, self.config.backup_metric)]

    def _fail_over(self) -> list:
        """The primary cannot carry traffic: to the backup, else to the IGP."""
        if self.active != "primary":
            return []
        m = self.config.primary_metric
        if self.backup is not None and self.backup_alive:
            self.active = "backup"
            self.stats["switch_to_backup"] += 1
            return [Switch(self.lsp_id, self.prefixes, "backup", self._encap([self.backup]), m)] + self._install_backup()
        self.active = "igp"
        self.stats["fall_back_to_igp"] += 1
        return [RemoveEncap(self.lsp_id, self.prefixes, m)] + self._remove_backup()

    def _revert(self) -> list:
        """The primary carries traffic again."""
        self.wtr_at = None
        if self.active == "primary" or self.primary_broken or not self.primary_alive:
            return []
        was = self.active
        self.active = "primary"
        self.stats["revert"] += 1
        m = self.config.primary_metric
        if was == "igp":
            return [InstallEncap(self.lsp_id, self.prefixes, self._encap(self._usable()), m)] + self._install_backup()
        return [Switch(self.lsp_id, self.prefixes, "primary", self._encap(self._usable()), m)]

    def _usable(self) -> tuple:
        """The primary's legs to route over: those the prober did not see
        fail (draft sec. 2.1.5's equal-PWR set minus failed legs)."""
        if self.alive_legs is None:
            return self.primary
        legs = tuple(self.primary[i] for i in self.alive_legs if 0 <= i < len(self.primary))
        return legs or self.primary

    # -- events -------------------------------------------------------------

    def _on_setup(self, ev: SetupRequested) -> list:
        if self.state in (State.RELEASING,):
            return []
        out = []
        if self.state is State.DOWN:
            self.retry_at = None
            out += self._start(ev.now, "setup", ev.paths)
            self.state = State.SETTING_UP
        elif self.state is State.SETTING_UP:
            out += self._abort("set-up restarted")
            out += self._start(ev.now, "setup", ev.paths)
        else:  # UP or REOPTIMIZING: move now
            if self._attempt:
                out += self._abort("re-routed")
            if _same(ev.paths, [l.path for l in self.primary]):
                self.state = State.UP
            else:
                out += self._start(ev.now, "reopt", ev.paths)
                self.state = State.REOPTIMIZING
        if ev.backup is not None and (self.backup is None or self.backup.path.edges != ev.backup.edges):
            if self._battempt:
                out += self._drop_battempt()
            out += self._start_backup(ev.now, ev.backup)
        return out

    def _on_success(self, ev: SignallingSucceeded) -> list:
        a = self._attempt
        if self.state is State.RELEASING:
            return self._late_success(ev)  # the release dropped attempts into _aborted
        if a is not None and ev.sig in a.paths and ev.sig not in a.got:
            p = a.paths[ev.sig]
            a.got[ev.sig] = Leg(ev.sig, p, tuple(ev.segs), tuple(ev.route) if ev.route else p.edges)
            if len(a.got) < len(a.paths):
                return []
            return self._complete(ev.now)
        if self._battempt and self._battempt[0] == ev.sig:
            sig, p, _ = self._battempt
            self._battempt = None
            leg = Leg(sig, p, tuple(ev.segs), tuple(ev.route) if ev.route else p.edges)
            out = []
            old = self.backup
            self.backup = leg
            self.backup_alive = True
            if self.state in (State.UP, State.REOPTIMIZING):
                if self.backup_installed:
                    self.backup_installed = False  # replaced below
                out += self._install_backup()
                if self.active == "backup":
                    out.append(Switch(self.lsp_id, self.prefixes, "backup", self._encap([leg]), self.config.primary_metric))
            if old is not None:
                out.append(Release(self.lsp_id, old.sig, old.path))
            return out
        return self._late_success(ev)

    def _complete(self, now: float) -> list:
        a, self._attempt = self._attempt, None
        legs = tuple(a.got[s] for s in sorted(a.got))
        m = self.config.primary_metric
        out = [InstallEncap(self.lsp_id, self.prefixes, self._encap(legs), m)]
        old = self.primary
        self.primary = legs
        self.alive_legs = None  # a new set: every leg installed (the prober restarts legs it held down)
        self.primary_pwr = _bundle_pwr([l.path for l in legs])
        self.active = "primary"
        self.primary_alive = True
        self.primary_broken = False
        self.wtr_at = None
        self.retry_at = None
        self.failures = 0
        if a.kind == "setup":
            self.refresh_at = now + self.config.refresh
            self.stats["up"] += 1
        else:
            self.last_reopt = now
            self.stats["reoptimized"] += 1
        out += self._install_backup()
        # make-before-break: the old legs go only after the new route is in
        out += [Release(self.lsp_id, l.sig, l.path) for l in old]
        self.state = State.UP
        return out

    def _fail_attempt(self, now: float, reason: str) -> list:
        kind = self._attempt.kind
        out = self._abort(reason)
        self.failures += 1
        if kind == "setup":
            if self._battempt:
                out += self._drop_battempt()
            if self.backup is not None:
                out.append(Release(self.lsp_id, self.backup.sig, self.backup.path))
                self.backup = None
            self.state = State.DOWN
            self.retry_at = now + self._backoff()
        else:
            self.state = State.UP
            self.last_reopt = now  # the hold-down applies to failed attempts too
            if self.primary_broken:
                self.retry_at = now + self._backoff()
        return out

    def _on_failure(self, ev: SignallingFailed) -> list:
        a = self._attempt
        if a is not None and ev.sig in a.paths and ev.sig not in a.got:
            return self._fail_attempt(ev.now, ev.reason or "signalling failed")
        if self._battempt and self._battempt[0] == ev.sig:
            self._battempt = None
            self.stats["backup_failed"] += 1
            return []
        self._aborted.pop(ev.sig, None)
        return []

    def _on_tick(self, ev: Tick) -> list:
        now = ev.now
        out = []
        if self.state is State.RELEASING:
            if self.release_deadline is not None and now >= self.release_deadline:
                self._finish()
            return out
        if self._attempt and now >= self._attempt.deadline:
            out += self._fail_attempt(now, f"signalling timed out after {self.config.setup_timeout:g} s")
        if self._battempt and now >= self._battempt[2]:
            out += self._drop_battempt()
            self.stats["backup_failed"] += 1
        if self.state in (State.UP, State.REOPTIMIZING) and self.refresh_at is not None and now >= self.refresh_at:
            out += [Refresh(self.lsp_id, l.sig, l.path) for l in self.primary]
            if self.backup:
                out.append(Refresh(self.lsp_id, self.backup.sig, self.backup.path))
            self.refresh_at = now + self.config.refresh
        if self.wtr_at is not None and now >= self.wtr_at:
            out += self._revert()
        if self.reopt_at is not None and now >= self.reopt_at:
            self.reopt_at = None
            if self.state is State.UP:  # the view has settled: the best path again (draft sec. 2.2)
                out.append(Recompute(self.lsp_id, "re-optimise after the switch to the backup settled"))
        if self.retry_at is not None and now >= self.retry_at:
            reason = "retry set-up" if self.state is State.DOWN else "primary broken, re-optimisation failed"
            self.failures += 1
            self.retry_at = now + self._backoff()
            out.append(Recompute(self.lsp_id, reason))
        return out

    def _on_pwr(self, ev: PwrChanged) -> list:
        if self.state is not State.UP:
            return []
        if ev.current_pwr is not None:
            self.primary_pwr = ev.current_pwr
        out = []
        best = tuple(ev.best)
        if best and not _same(best, [l.path for l in self.primary]):
            cur = self.primary_pwr if self.primary_pwr is not None else math.inf
            new = _bundle_pwr(best)
            c = self.config
            better = new < cur * (1 - c.margin) and cur - new > c.min_gain
            must = self.primary_broken or self.active == "igp"
            if (must or better) and not self.primary_broken and ev.now < self.switched_at + c.switch_hold:
                # a liveness switch is settling: this view may not know the failure yet
                self.stats["reopt_deferred"] += 1
                self.reopt_at = self.switched_at + c.switch_hold
            elif must or (better and ev.now >= self.last_reopt + c.holddown):
                out += self._start(ev.now, "reopt", best)
                self.state = State.REOPTIMIZING
            elif better:
                self.stats["held_down"] += 1
            else:
                self.stats["within_margin"] += 1
        if ev.backup is not None and self._battempt is None and (self.backup is None or self.backup.path.edges != ev.backup.edges):
            out += self._start_backup(ev.now, ev.backup)
        return out

    def _on_lost(self, ev: LivenessLost) -> list:
        if self.state not in (State.UP, State.REOPTIMIZING):
            return []
        if ev.which == "backup":
            if not self.backup_alive:
                return []
            self.backup_alive = False
            if self.active == "backup":  # both down
                self.active = "igp"
                self.stats["fall_back_to_igp"] += 1
                return [RemoveEncap(self.lsp_id, self.prefixes, self.config.primary_metric)] + self._remove_backup()
            return self._remove_backup()
        if ev.leg is not None:  # one leg of several failed, others answer: route over those, no backup
            if not ev.alive:
                return self._on_lost(LivenessLost(ev.now, "primary"))
            self.alive_legs = tuple(ev.alive)
            self.stats["leg_down"] += 1
            if self.active != "primary":
                return []
            return [Switch(self.lsp_id, self.prefixes, "primary", self._encap(self._usable()), self.config.primary_metric)]
        if not self.primary_alive:
            return []
        self.primary_alive = False
        self.wtr_at = None
        out = self._fail_over()  # first: the switch is due now
        self.switched_at = ev.now
        if self._attempt is not None and self._attempt.kind == "reopt":
            # its path was chosen before this failure was known: completing it would move
            # traffic off the working backup onto a path nobody has probed
            self.stats["reopt_dropped_by_switch"] += 1
            out += self._abort("re-optimisation dropped: the primary's liveness was lost meanwhile")
            self.state = State.UP
            self.reopt_at = ev.now + self.config.switch_hold  # asked again once the view settled
        return out

    def _on_restored(self, ev: LivenessRestored) -> list:
        if self.state not in (State.UP, State.REOPTIMIZING):
            return []
        if ev.which == "backup":
            if self.backup_alive:
                return []
            self.backup_alive = True
            out = []
            if self.active == "igp" and self.backup is not None:
                self.active = "backup"
                out.append(Switch(self.lsp_id, self.prefixes, "backup", self._encap([self.backup]), self.config.primary_metric))
            return out + self._install_backup()
        if ev.alive:
            self.alive_legs = tuple(ev.alive)
        if ev.leg is not None:  # a failed leg rejoins the multipath at once (the others carried traffic meanwhile)
            self.stats["leg_up"] += 1
            if self.active != "primary" or not self.primary_alive:
                return []
            return [Switch(self.lsp_id, self.prefixes, "primary", self._encap(self._usable()), self.config.primary_metric)]
        if self.primary_alive:
            return []
        self.primary_alive = True
        if self.active != "primary" and not self.primary_broken:
            if self.config.wtr == 0:
                return self._revert()
            self.wtr_at = ev.now + self.config.wtr
        return []

    def _on_link_down(self, ev: LinkDown) -> list:
        link = tuple(ev.link)
        out = []
        a = self._attempt
        if a is not None and any(link in p.edges for p in a.paths.values()):
            out += self._fail_attempt(ev.now, f"link {link} down")
        if self._battempt and link in self._battempt[1].edges:
            out += self._drop_battempt()
        if self.state not in (State.UP, State.REOPTIMIZING):
            return out
        if self.backup is not None and link in self.backup.route + self.backup.path.edges:
            b, self.backup = self.backup, None
            if self.active == "backup":
                if self.primary_alive and not self.primary_broken:
                    out += self._revert()
                else:
                    self.active = "igp"
                    self.stats["fall_back_to_igp"] += 1
                    out.append(RemoveEncap(self.lsp_id, self.prefixes, self.config.primary_metric))
            out += self._remove_backup()
            out.append(Release(self.lsp_id, b.sig, b.path))
            out.append(Recompute(self.lsp_id, f"backup link {link} down"))
        if any(link in l.route or link in l.path.edges for l in self.primary) and not self.primary_broken:
            self.primary_broken = True
            self.primary_alive = False
            self.wtr_at = None
            out += self._fail_over()
            out.append(Recompute(self.lsp_id, f"primary link {link} down"))
        return out

    def _on_release(self, ev: ReleaseRequested) -> list:
        out = []
        if self.active in ("primary", "backup"):
            out.append(RemoveEncap(self.lsp_id, self.prefixes, self.config.primary_metric))
        out += self._remove_backup()
        legs = list(self.primary) + ([self.backup] if self.backup else [])
        if self._attempt:
            for sig, p in self._attempt.paths.items():
                if sig in self._attempt.got:
                    legs.append(self._attempt.got[sig])
                else:
                    out.append(Release(self.lsp_id, sig, p))
                    self._aborted[sig] = p
            self._attempt = None
        if self._battempt:
            out += self._drop_battempt()
        for l in legs:
            out.append(Release(self.lsp_id, l.sig, l.path))
            self._waiting.add(l.sig)
        self.primary, self.backup, self.active = (), None, None
        self.wtr_at = self.retry_at = self.refresh_at = self.reopt_at = None
        if self._waiting:
            self.state = State.RELEASING
            self.release_deadline = ev.now + self.config.release_timeout
        else:
            self._finish()
        return out

    def _on_released(self, ev: Released) -> list:
        self._waiting.discard(ev.sig)
        if self.state is State.RELEASING and not self._waiting:
            self._finish()
        return []

    def _finish(self) -> None:
        self.state = State.GONE
        self.release_deadline = None
        self._waiting.clear()
