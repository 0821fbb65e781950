"""The control socket's answers, as a pure function of (core, request).

``answer`` takes a typed request (``proto.control``) and returns its
``Reply``; a refusal (``AgentRefusal``, or any error computing the answer)
becomes ``ok: false`` with the message. Reserve and release are not here:
they travel to other agents and belong to the asyncio ``signalling`` shell.
Constraints arrive as a dict of field names and become a
``model.constraints.Constraints`` here (proto sits below model).

``service`` (issue 9, CATS seed sec. 1): the head-end's choice of a
service instance, ranked by ``cats.service`` over the paths the head-end
chooses to each site (``AgentCore.path_choice``: from the published view,
intra- and inter-area) and the sites' energy status in the same TEDs.
It answers ``proto.control.Service``.
"""

from __future__ import annotations

import time
from contextlib import nullcontext

from pyfrr_pwr.agent import vectors
from pyfrr_pwr.model import metric
from pyfrr_pwr.model.constraints import Constraints
from pyfrr_pwr.proto import control as msg
from pyfrr_pwr.proto import ospfapi as api

__all__ = ["answer", "result", "constraints", "service", "LOCAL"]

LOCAL = (msg.Status, msg.Links, msg.Ted, msg.TedTimes, msg.Paths, msg.Path, msg.Reservations, msg.Vectors, msg.Service)


def constraints(d: dict, **kw) -> Constraints:
    """A request's constraints dict as ``Constraints`` (keywords win)."""
    try:
        return Constraints.of(d, **kw)
    except TypeError as exc:  # an unknown name
        raise msg.AgentRefusal(str(exc)) from None


def status(core, name: str, connected: bool, api_stats: dict) -> dict:
    return {
        "name": name,
        "router_id": core.router_id,
        "connected": connected,
        "synced": connected and core.synced,
        "api_problem": getattr(core, "api_problem", None),  # e.g. our opaque type registered by another client
        "ready_areas": sorted(core.ready),
        "interfaces": core.ism,
        "neighbors": [{"interface": k[0], "address": k[1], "router_id": v[0], "state": api.NSM_STATES.get(v[1], v[1])} for k, v in sorted(core.nbrs.items())],
        "stats": dict(core.stats),
        "api_stats": dict(api_stats),
        # issue 7: our SRv6 SIDs (agent.srv6); None until the shell started
        "srv6": getattr(core, "srv6_status", None),
    }


def paths(core, req: msg.Paths) -> msg.AreaPaths:
    """k power-shortest paths inside one area's TED (draft sec. 2.1.7)."""
    from pyfrr_pwr.paths.ksp import k_shortest_paths

    src = req.src or core.router_id
    k = req.k if req.k is not None else core.cfg.k
    areas = [req.area] if req.area else [a for a, t in core.teds.items() if src in t.routers() and req.to in t.routers()]
    if not areas:
        raise msg.AgentRefusal(f"no area's TED holds both {src} and {req.to}")
    ps = k_shortest_paths(core.ted(areas[0]).graph(), src, req.to, k, constraints(req.constraints))
    return msg.AreaPaths(area=areas[0], paths=tuple(msg.FoundPath(nodes=tuple(p.nodes), pwr=p.cost, pwr_w_per_gbps=metric.w_per_gbps(p.cost)) for p in ps))


def service(core, req) -> dict:
    """The ranked instances of ``req.service`` (``cats.service.answer``):
    every site's instances with their cheapest feasible path, each term of
    the joint cost shown; a bad field is refused naming it. Paths come
    from the head-end's choice with the demand as a bandwidth bound (the
    delay and jitter bounds are checked per candidate by the ranking, so
    a site just out of bounds is reported with its figures, not hidden);
    energy and instances from the same TEDs (the published view if any)."""
    from pyfrr_pwr.cats import service as cs

    try:
        r = cs.request(req.service, req.demand, req.max_delay_us, req.max_jitter_us, req.weights, req.critical, getattr(core.cfg, "cats", None))
    except ValueError as exc:
        raise msg.AgentRefusal(str(exc)) from None
    k = req.k or core.cfg.k
    cons = constraints({}, min_bandwidth=r.demand) if r.demand else None

    def paths_for(site):
        try:
            return cs.figures_of(core.path_choice(site, k, cons))
        except msg.AgentRefusal:
            return []

    teds = core.view if getattr(core, "view", None) is not None else core.teds
    timings = getattr(core, "timings", None)
    with timings("service") if timings is not None else nullcontext():
        return cs.answer(
            r, teds, paths_for, router_id=core.router_id, now=time.time(), max_age=core.leak.max_age, stats=core.stats
        )  # readings stale here are left out


def result(core, req, *, name: str = "agent", connected: bool = False, api_stats: dict | None = None):
    """The answer to one local request; raises to refuse."""
    if isinstance(req, msg.Status):
        return status(core, name, connected, api_stats or {})
    if isinstance(req, msg.Links):
        return core.show_links()
    if isinstance(req, msg.Ted):
        return core.show_ted(req.area)
    if isinstance(req, msg.TedTimes):
        return [[list(k), v] for k, v in core.ted_changed_at.items()]
    if isinstance(req, msg.Paths):
        return paths(core, req)
    if isinstance(req, msg.Path):
        return core.path_choice(req.to, req.k, constraints(req.constraints))
    if isinstance(req, msg.Reservations):
        return core.reservations
    if isinstance(req, msg.Vectors):
        return vectors.show(core.teds)
    if isinstance(req, msg.Service):
        return service(core, req)
    raise TypeError(f"not a local control request: {req!r}")


def answer(core, req, **status_kw) -> msg.Reply:
    """``result`` as a Reply: refusals (and any error) as ``ok: false``."""
    try:
        return msg.Reply(True, result(core, req, **status_kw))
    except Exception as exc:  # report, never die
        return msg.Reply(False, error=str(exc))
