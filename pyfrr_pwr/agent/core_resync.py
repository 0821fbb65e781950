"""``AgentCore``'s session, LSDB re-sync and housekeeping rules (a mixin
of ``agent.core``; bodies moved from there verbatim). The rules are those of
``agent.core``'s docstring, "Restart safety": nothing is originated before
the LSDB sync of a session is complete; a re-sync is asked for when the
TEDs look implausible, rate-limited with a doubling interval; LSAs whose
originator lost its router LSA age out of our TED after ``ORPHAN_GRACE``.
"""

from __future__ import annotations

import logging

from pyfrr_pwr.agent.advertise import LinkState
from pyfrr_pwr.agent.core_intake import MAX_AGE
from pyfrr_pwr.proto import wire

__all__ = ["Resync"]

log = logging.getLogger("pyfrr_pwr.agent")

OWN_ID_MEMORY_S = MAX_AGE + 300.0  # how long an ID of ours is never reused

ORPHAN_GRACE = 10.0  # s without a router LSA before the originator's LSAs age out
OWN_MISSING_S = 3.0
ONE_SIDED_S = 10.0
RESYNC_MIN_S, RESYNC_MAX_S = 30.0, 600.0
TICK_EVALUATE_S = 5.0  # at rest, tick evaluates this often (belt and braces)


class Resync:
    """Session resets, LSDB (re-)syncs, age-out and the periodic tick."""

    # -- session -------------------------------------------------------------

    def session_reset(self) -> None:
        """ospfd went away: it flushed everything we originated. The TEDs are
        kept (stale but useful) until the next LSDB sync says what is gone;
        nothing is originated before it is complete (``resync_done``)."""
        self.ready.clear()
        self.ism.clear()
        self.nbrs.clear()
        self.adv.reset()
        self.abr.reset()
        self.leak.reset()
        self.resync_seen = set()
        self._resync_routers = set()
        self._resync_wanted = set()
        self._resync_changes = 0
        self.session_ids = set()
        self.flush_pending.clear()
        self._given_up = set()
        self._implausible_since.clear()
        self.synced = False
        self.awaiting_sync = True

    def begin_resync(self, now: float | None = None) -> None:
        """A new LSDB sync within the session (``resync_due``): what it does
        not report is dropped at ``resync_done``, and so is every LSA of ours
        we want now and it does not report (then originated again)."""
        self.resync_seen = set()
        self._resync_routers = set()
        self._resync_wanted = self._wanted()
        self._resync_changes = 0

    def abort_resync(self) -> None:
        self.resync_seen = self._resync_routers = None
        self._resync_wanted = set()

    def resync_done(self) -> int:
        """The LSDB sync is complete: drop every LSA it did not report (and
        every router LSA), re-originate ours it did not report. Returns how
        many LSAs were dropped; the next ``evaluate`` originates."""
        seen, self.resync_seen = self.resync_seen, None
        routers, self._resync_routers = self._resync_routers, None
        self.synced = True
        self.awaiting_sync = False
        if seen is None:
            return 0
        gone = 0
        for area, ted in self.teds.items():
            for key in [k for k in ted.lsas if (area, *k) not in seen]:
                del ted.lsas[key]
                gone += 1
        if routers is not None:
            for area, rs in self.router_lsas.items():
                rs &= {adv for a, adv in routers if a == area}
        lost = 0
        for area, oid in self._resync_wanted & self._wanted():
            if (area, self.router_id, wire.make_lsid(self.opaque_type, oid)) not in seen:
                lost += self._flushed(area, oid, "missing from the LSDB re-sync")
        self._resync_wanted = set()
        self._resync_changes += gone + lost
        self.leak_dirty = True  # the next LSA or tick leaks what the synced TEDs hold
        if gone:
            self.vectors_dirty = True
        return gone

    @property
    def resync_changed(self) -> int:
        """What the last sync changed: LSAs added, dropped, re-originated."""
        return self._resync_changes

    # -- housekeeping (the daemon calls it about every 0.5 s) --------------------

    def tick(self, now: float) -> list:
        """Timed work: deletes of ours that turned out to be flushes, LSAs
        whose originator lost its router LSA, forgetting IDs older than
        ``OWN_ID_MEMORY_S``. Returns the requests to send; never raises."""
        try:
            self._age_out(now)
            self._refresh_suppressed(now)
            for oid in [i for i, t in self.own_ids.items() if now - t > OWN_ID_MEMORY_S]:
                del self.own_ids[oid]
        except Exception as exc:
            self.report("housekeeping_errors", exc, "housekeeping failed")
        # every input change evaluates at once (handle, set_*): at rest only
        # what waits on the clock needs this one (issue 10: CPU at rest)
        if self.flush_pending or any(l.state is LinkState.DEFERRED for l in self.links.values()) or now - self._tick_evaluated >= TICK_EVALUATE_S:
            self._tick_evaluated = now
            return self._own_requests(self.evaluate(now), now)
        return []

    def _age_out(self, now: float) -> None:
        for area, ted in self.teds.items():
            present = self.router_lsas.get(area)
            if not present:
                continue  # no router LSA ever seen here: the rule is off
            for adv in ted.routers():
                if adv in present:
                    self.orphan_since.pop((area, adv), None)
                    continue
                since = self.orphan_since.setdefault((area, adv), now)
                if now - since >= ORPHAN_GRACE:
                    self._aged_out.add((area, adv))
                    n = ted.withdraw_router(adv)
                    self.stats["aged_out_lsas"] += n
                    self.vectors_dirty = True
                    log.warning(
                        "area %s: %d LSAs of opaque type %d from %s aged out of the TED: no router LSA from it for %.0f s",
                        area,
                        n,
                        self.opaque_type,
                        adv,
                        now - since,
                    )
        for key in [k for k in self.orphan_since if k[1] in self.router_lsas.get(k[0], ())]:
            del self.orphan_since[key]

    def resync_due(self, now: float) -> str | None:
        """Why the TEDs look wrong enough for a new LSDB sync (module
        docstring), or None; rate-limited, and counted when it says yes."""
        if self.awaiting_sync or self.resync_seen is not None:
            return None  # a sync is under way
        wrong = {}
        try:
            for l in self.links.values():
                if l.advertised and now - l.last_sent >= 1.0:
                    if (self.router_id, wire.make_lsid(self.opaque_type, l.opaque_id)) not in self.ted(l.sent.area).lsas:
                        wrong[("own", l.sent.area, l.opaque_id)] = f"our LSA for {l.ifname} is missing from our TED of area {l.sent.area}"
            for area, ted in self.teds.items():
                wrong.update(self._one_sided(area, ted))
        except Exception as exc:
            self.report("housekeeping_errors", exc, "TED check failed")
            return None
        since = self._implausible_since
        for k in [k for k in since if k not in wrong]:
            del since[k]
        why = ("asked", self._asked_resync) if self._asked_resync else None
        for k, text in wrong.items():
            t = since.setdefault(k, now)
            if why is None and now - t >= (OWN_MISSING_S if k[0] == "own" else ONE_SIDED_S):
                why = (k[0], text)
        if why is None or now < self._resync_ok_at:
            return None
        self._asked_resync = None
        self.stats["resyncs"] += 1
        self.stats[f"resyncs_{ {'own': 'own_missing', 'one-sided': 'one_sided'}.get(why[0], 'router_back') }"] += 1
        self._resync_ok_at = now + self._resync_interval
        return why[1]

    def _one_sided(self, area: str, ted) -> dict:
        """``resync_due``'s one-sided links of ``ted`` (toward a router it
        knows), scanned again only when the TED changed (``_Lsas.gen``
        counts every change): the scan builds every link of the area, and
        housekeeping asked for it every 0.5 s at rest (issue 10)."""
        lsas = ted.lsas
        gen = getattr(lsas, "gen", None)
        m = self._one_sided_memo.get(area)
        if m is not None and gen is not None and m[0] is lsas and m[1] == gen:
            return m[2]
        routers = ted.routers()
        out = {
            ("one-sided", area, tl.near.ident): f"link {tl.near.router}->{tl.near.tlv.link_id} is one-sided in area {area}"
            for tl in ted.links()
            if tl.one_sided and tl.near.tlv.link_id in routers
        }
        self._one_sided_memo[area] = (lsas, gen, out)
        return out

    def resync_finished(self, now: float) -> None:
        """After a re-sync ``resync_due`` asked for: the next may come after
        ``RESYNC_MIN_S`` if it changed something, else twice as late as the
        last (at most ``RESYNC_MAX_S``)."""
        if self._resync_changes:
            self._resync_interval = RESYNC_MIN_S
        else:
            self._resync_interval = min(self._resync_interval * 2, RESYNC_MAX_S)
        self._resync_ok_at = now + self._resync_interval
        self._implausible_since.clear()
