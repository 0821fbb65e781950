"""The head-end's inter-area path choice (draft sec. 2.2, "TE Path
Head-end Operation"; pure, no I/O).

A head-end joins its own area's power-shortest paths to each ABR with the
vectors the ABRs leaked into the area (sec. 2.1.1) and picks the least total
PWR, with the equal-PWR set (sec. 2.1.5) and the runners-up. A router in
several areas asks each of them and keeps the best. Each candidate carries
its delay and (issue 9, RFC 7471 sec. 4.3) jitter sums; a request no path
meets is refused naming each failed bound, its limit and the best figure
available (``AgentRefusal.unmet``).
"""

from __future__ import annotations

import math

from pyfrr_pwr.model import metric
from pyfrr_pwr.model.constraints import Constraints
from pyfrr_pwr.proto.control import AgentRefusal, Candidate, PathChoice, Segment

__all__ = ["choose", "candidate"]


def candidate(c) -> Candidate:
    """An ``interarea.Choice`` as the control socket's record."""
    return Candidate(
        abr_chain=tuple(c.abr_chain),
        head_path=tuple(c.head_path),
        segments=(
            Segment(what="head-end to first ABR", pwr_w_per_gbps=metric.w_per_gbps(c.head.pwr), hops=c.head.hops),
            Segment(what="ABR vector to tail-end", area=c.area, pwr_w_per_gbps=metric.w_per_gbps(c.rest.pwr), hops=c.rest.hops),
        ),
        pwr=c.total.pwr,
        pwr_w_per_gbps=metric.w_per_gbps(c.total.pwr),
        min_avail_bw=c.total.min_bw if math.isfinite(c.total.min_bw) else None,
        hops=c.total.hops,
        delay_us=c.total.delay,
        jitter_us=float(c.total.jitter),
    )


def choose(router_id: str | None, teds: dict, dst: str, k: int, constraints: Constraints | None = None) -> PathChoice:
    """The best path from ``router_id`` to ``dst`` over the vectors in our
    areas' TEDs; refuses with every area's reason when there is none."""
    from pyfrr_pwr.paths.interarea import complete_vectors, select

    if router_id is None:
        raise AgentRefusal("router ID not known yet (is ospfd up?)")
    best = None
    reasons = []
    unmet: list = []
    for _, ted in sorted(teds.items()):
        if router_id not in ted.routers():
            continue
        # our own vectors only restate, rounded to float32, the intra-area
        # paths we search exactly in the area they describe
        vecs = [(adv, v) for adv, v in complete_vectors(ted) if adv != router_id]
        sel = select(router_id, dst, ted, vecs, k=k, constraints=constraints)
        if sel.best is None:
            reasons.append(sel.reason)
            unmet += getattr(sel, "unmet", ())
        elif best is None or sel.best.total.pwr < best.best.total.pwr:
            best = sel
    if best is None:
        # a request no path meets says which bound failed and the best
        # figure there was (issue 9: interarea.Selection.unmet); the text
        # names them (select's reason carries them), ``unmet`` keeps them
        text = "; ".join(reasons) or f"{router_id} is in no TE database yet"
        missing = [str(u) for u in unmet if str(u) not in text]
        exc = AgentRefusal("; ".join([text, *missing]))
        exc.unmet = tuple({"bound": u.bound, "limit": u.limit, "best": u.best} for u in unmet)
        raise exc
    return PathChoice(to=dst, best=candidate(best.best), ecmp=tuple(candidate(c) for c in best.ecmp), runners_up=tuple(candidate(c) for c in best.choices[1:]))
