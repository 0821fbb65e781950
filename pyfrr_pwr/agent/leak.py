"""An ABR's leaking of compute sites' energy status and service instances
across areas (issue 9 sec. 3), pure.

Node Energy (32772) and Service Instance (32773) TLVs ride in area-scoped
opaque LSAs, so a head-end in another area never sees a remote site's
figures and ``cats.service`` would charge it the worst advertised ones.
ABRs therefore carry them across, the way they leak TE reachability
vectors (draft sec. 2.1, 2.1.9; ``paths.interarea``, ``agent.vectors``):

* **Which copies, into which areas.** A site's own copy learnt in a
  non-backbone area goes into the backbone (with no backbone attached,
  into every other area of the ABR); a copy learnt in the backbone, the
  site's own or one another ABR leaked there, goes into every non-backbone
  area. A copy learnt in a non-backbone area that is itself leaked is never
  leaked again: it came from the backbone, so nothing can circle (as
  vectors, draft sec. 2: only the backbone's are extended), and a chain is
  at most two ABRs long.
* **Never back where it came from.** Not into the copy's origin area, not
  into an area where the site advertises its own copy (the site's own area
  copy wins, here and in the readers, ``model.ted.TED.energy``), not if
  this ABR is in the chain already, not our own LSAs' copies.
* **What a copy keeps.** The site's router ID, every reading's value,
  timestamp, age, accuracy and source; it gains the leak sub-TLV (origin
  area, ABR chain with this ABR last; docs/wire-format.md). A reading
  older than ``max_age`` (its advertised age, or the time since its
  timestamp when ``now`` is given: the labs share one clock) is left out,
  as the site itself would (``cats.energy``); a copy with nothing fresh
  left is dropped (``leak_stale``), as is one dated in the future
  (``leak_future_ts``). Copies a TED does not believe (unknown origin)
  never get here: the TED drops and counts them.
* **Dedupe.** One copy per site (energy) and per (site, service, address)
  into each area: the site's own copy before a leaked one, then the newest
  readings, the shortest chain, the lowest advertising router.
* **Bounded size.** Copies go out in LSAs of their own (not the node LSA,
  whose 1480 octets a few sites would fill), a site's energy and instances
  together, sites in router-ID order, at most ``max_lsas`` bodies per area;
  what does not fit is left out and counted (``leak_truncated``).

``plan`` says what goes where; ``pack`` makes the bodies; ``Leaker`` keeps
what was originated and turns a plan into ospfd requests, each change under
new opaque IDs first and the old ones deleted after (no gap for readers,
as ``agent.vectors``). Nothing here raises out to the agent.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

from pyfrr_pwr.proto import ospfapi as api
from pyfrr_pwr.proto import wire

__all__ = ["BACKBONE", "MAX_AGE", "MAX_LSAS", "FUTURE_SKEW", "plan", "pack", "Leaker", "LeakLsa"]

log = logging.getLogger("pyfrr_pwr.agent")

BACKBONE = "0.0.0.0"  # as paths.interarea
MAX_AGE = 300.0  # s: cats.energy_advert.max_age's default
MAX_LSAS = 4  # leak LSAs per area
FUTURE_SKEW = 300.0  # s a reading's timestamp may lie ahead of ours
_FIELDS = tuple(name for name, *_ in wire.NE_READINGS)


def _age(r: wire.Reading, now: float | None) -> float:
    since = (now - r.ts) if (now is not None and r.ts) else 0.0
    return max(float(r.age_s), since)


def _fresh(t: wire.NodeEnergy, now: float | None, max_age: float) -> tuple[wire.NodeEnergy | None, str | None]:
    """The copy with its stale readings left out, or (None, why)."""
    kw, kept = {}, 0
    for name in _FIELDS:
        r = getattr(t, name)
        if r is None:
            continue
        if now is not None and r.ts and r.ts > now + FUTURE_SKEW:
            return None, "leak_future_ts"
        if _age(r, now) > max_age:
            kw[name] = None
            if name == "price_per_mwh":
                kw["currency"] = None
        else:
            kept += 1
    if not kept:
        return None, "leak_stale"
    return (replace(t, **kw) if kw else t), None


def _targets(src: str, areas: list, leaked: bool) -> list:
    """The areas a copy learnt in ``src`` may go into (module docstring)."""
    if src == BACKBONE:
        return [a for a in areas if a != BACKBONE]
    if leaked:
        return []
    return [BACKBONE] if BACKBONE in areas else [a for a in areas if a != src]


def plan(
    router_id: str | None, teds: dict, now: float | None = None, max_age: float = MAX_AGE, stats: Counter | None = None, dropped: list | None = None
) -> dict:
    """{into area: [TLV, ...]}: the Node Energy and Service Instance copies
    this ABR leaks, given its TEDs (area -> ``TED``, the areas it is
    attached to and ready in). Sorted by site, energy first. A copy left
    out as stale or future-dated is counted in ``stats`` (each call) and
    appended to ``dropped`` as (reason, source area, TLV)."""
    stats = stats if stats is not None else Counter()
    areas = sorted(teds)
    if router_id is None or len(areas) < 2:
        return {}
    # sites with their own copy in an area: never leaked into it
    own_in = {a: {c.origin for c in (*teds[a].energy().values(), *teds[a].services().values()) if not c.leaked} for a in areas}
    best: dict = {}  # (into, key) -> (rank, tlv)
    for src in areas:
        ted = teds[src]
        for key, c in [*ted.energy().items(), *(((k,), v) for k, v in ted.services().items())]:
            t = c.tlv
            if c.adv == router_id or t.router_id == router_id or router_id in t.abr_chain or len(t.abr_chain) >= wire.MAX_LEAK_CHAIN:
                continue
            into = [a for a in _targets(src, areas, c.leaked) if a != (t.origin_area or src) and t.router_id not in own_in[a]]
            if not into:
                continue
            if type(t) is wire.NodeEnergy:
                t, why = _fresh(t, now, max_age)
                if t is None:
                    stats[why] += 1
                    if dropped is not None:
                        dropped.append((why, src, c.tlv))
                    continue
            out = replace(t, origin_area=t.origin_area or src, abr_chain=(*t.abr_chain, router_id))
            rk = c.rank()
            for a in into:
                cur = best.get((a, key))
                if cur is None or rk < cur[0]:
                    best[(a, key)] = (rk, out)
    res: dict = {}
    for (a, _key), (_rk, t) in sorted(best.items(), key=lambda kv: (kv[0][0], _order(kv[1][1]))):
        res.setdefault(a, []).append(t)
    return res


def _order(t) -> tuple:
    if type(t) is wire.NodeEnergy:
        return (t.router_id, 0, "", "")
    return (t.router_id, 1, t.service_id, t.address)


def pack(tlvs: list, profile: str = "draft", max_lsas: int = MAX_LSAS, stats: Counter | None = None) -> list:
    """LSA bodies (each at most ``wire.MAX_BODY`` octets) holding ``tlvs``
    (``plan``'s list for one area), a site's TLVs in one body, at most
    ``max_lsas`` bodies; what does not fit or cannot be encoded is left out
    and counted (``leak_truncated``, ``leak_encode_errors``)."""
    stats = stats if stats is not None else Counter()
    groups: dict = {}
    for t in tlvs:
        groups.setdefault(t.router_id, []).append(t)
    bodies: list = []
    cur: list = []
    cur_len = 0
    for site in sorted(groups, key=_rid_key):
        try:
            parts = [wire.encode([t], profile) for t in groups[site]]
        except (ValueError, TypeError) as exc:
            stats["leak_encode_errors"] += 1
            log.warning("leaked TLVs of site %s not sent, cannot encode them: %s", site, exc)
            continue
        n = sum(len(p) for p in parts)
        if n > wire.MAX_BODY:
            stats["leak_truncated"] += len(parts)
            continue
        if cur_len + n > wire.MAX_BODY:
            bodies.append(b"".join(cur))
            cur, cur_len = [], 0
        if len(bodies) >= max_lsas:
            stats["leak_truncated"] += len(parts)
            continue
        cur.append(b"".join(parts))
        cur_len += n
    if cur and len(bodies) < max_lsas:
        bodies.append(b"".join(cur))
    return bodies


def _rid_key(rid: str) -> tuple:
    try:
        return tuple(int(x) for x in rid.split("."))
    except ValueError:
        return (1 << 9, rid)


@dataclass
class LeakLsa:
    opaque_ids: list
    bodies: list


class Leaker:
    """What this ABR leaked: into area -> LeakLsa. ``update`` turns the
    current plan into requests; the core calls it when a TED changed (or
    on its tick, so readings turning stale stop being leaked)."""

    def __init__(self, opaque_type: int, profile: str, stats: Counter, alloc: Callable, max_age: float = MAX_AGE, max_lsas: int = MAX_LSAS):
        self.opaque_type = opaque_type
        self.profile = profile
        self.stats = stats
        self.alloc = alloc
        self.max_age = max_age
        self.max_lsas = max_lsas
        self.lsas: dict = {}
        self._dropped: set = set()  # (reason, area, TLV) counted already

    def used_ids(self) -> set:
        return {i for v in self.lsas.values() for i in v.opaque_ids}

    def wanted(self) -> set:
        return {(a, i) for a, v in self.lsas.items() for i in v.opaque_ids}

    def flushed(self, area: str, opaque_id: int) -> bool:
        """ospfd no longer holds one of ours: the area's copies go out again,
        under new IDs, at the next ``update``."""
        v = self.lsas.get(area)
        if v is None or opaque_id not in v.opaque_ids:
            return False
        v.opaque_ids = [i for i in v.opaque_ids if i != opaque_id]
        v.bodies = None  # differs from every plan: re-originated
        return True

    def reset(self) -> None:
        self.lsas.clear()

    def _delete(self, oid: int, area: str):
        return api.DeleteRequest(api.LSA_OPAQUE_AREA, self.opaque_type, oid, area)

    def update(self, router_id: str | None, teds: dict, ready: set, now: float | None = None) -> list:
        """Requests bringing the leaked LSAs in line with ``plan``: new IDs
        first, then the old ones deleted. Never raises (``leak_errors``)."""
        try:
            dropped: list = []
            want = plan(router_id, {a: t for a, t in teds.items() if a in ready}, now, self.max_age, None, dropped)
            now_dropped = set(dropped)
            for why, _src, _t in now_dropped - self._dropped:  # each stale copy counted once
                self.stats[why] += 1
            self._dropped = now_dropped
            reqs: list = []
            for area in sorted(set(want) | set(self.lsas)):
                bodies = pack(want.get(area, []), self.profile, self.max_lsas, self.stats) if area in ready else []
                cur = self.lsas.get(area)
                if cur is not None and cur.bodies == bodies:
                    continue
                ids: list = []
                for body in bodies:
                    oid = self.alloc(set(ids))
                    ids.append(oid)
                    reqs.append(api.OriginateRequest(api.LSA_OPAQUE_AREA, self.opaque_type, oid, body, area=area))
                if cur is not None and area in ready:
                    reqs += [self._delete(oid, area) for oid in cur.opaque_ids]
                if bodies:
                    self.lsas[area] = LeakLsa(ids, bodies)
                    self.stats["leak_originated"] += 1
                else:
                    self.lsas.pop(area, None)
                    if cur is not None:
                        self.stats["leak_withdrawn"] += 1
            return reqs
        except Exception as exc:  # computed from received data: never out to the agent
            self.stats["leak_errors"] += 1
            log.warning("leaking site TLVs failed: %s: %s", type(exc).__name__, exc)
            return []
