"""Strategy 4, the reference no router has: minimum total power for the
same demands and the same power model, as a mathematical programme solved
by HiGHS.

Traffic is a multi-commodity flow aggregated by source (exact for costs
that depend only on each arc's total: any such flow splits into
per-demand flows), so the optimum may split a demand over many paths: it
is a lower bound for any single-path or ECMP placement.

* Arc load x_a = the sum of the flows on a, at most the arc's capacity.
* Line card load u_c = (the loads its ports send) / its port capacity
  (``powermodel``), power = profile(u_c) (draft sec. 2.1.8). A convex
  profile (linear, exponential) is the maximum of the lines through
  consecutive calibration points, exactly the curve the accounting
  evaluates, so with every element on the programme is an LP. A concave
  (flattening) profile needs binaries: an incremental piecewise-linear
  model over the breakpoints ``CONCAVE_BREAKS`` whose chords lie below the
  curve, so the programme's bound stays a valid lower bound.
* ``sleep``: a binary per link (on, or off with both ports) and per line
  card (on if any of its links is), so idle draw counts only for what is
  on: a MILP, the problem the power-down heuristic approximates.

A MILP starts from a placement given as ``start`` (``sweep`` hands it the
heuristic placement that draws least under the same accounting): a MIP
start, so the answer is never worse than the best heuristic's.

Why ``highspy`` and not ``scipy.optimize.milp`` (the same HiGHS): scipy's
interface takes no MIP start and sets no solver options. From scratch,
HiGHS spends seconds in root cuts on germany50 and its first solutions draw
more than the power-down heuristic's; with the start it can only improve.

The solver stops at ``time_limit`` seconds and hands back its best
solution and its dual bound. The power reported is the accounting of the
solution's loads by the model itself (loads under 1 kb/s are solver
round-off and read as zero); ``bound_w`` is the programme's lower bound:
no placement of these demands on this model draws less, and the gap
between the two is what is left open.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix

from pyfrr_pwr.evaluate.network import Network
from pyfrr_pwr.evaluate.placement import Placement
from pyfrr_pwr.evaluate.powermodel import PowerModel
from pyfrr_pwr.files.power import ConfigError

__all__ = ["run", "CONCAVE_BREAKS"]

CONCAVE_BREAKS = (0.0, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0)
G = 1e9  # the programme works in Gb/s
ZERO_GBPS = 1e-6  # flows below 1 kb/s are solver round-off


def _segments(profile, concave: bool):
    """(u0, u1, slope, value at u0 relative to the idle draw) per segment."""
    if concave:
        us = list(CONCAVE_BREAKS)
    else:
        us = [u for u, _ in profile.points]
    p0 = profile(0.0)
    out = []
    for a, b in zip(us, us[1:]):
        ga, gb = profile(a) - p0, profile(b) - p0
        out.append((a, b, (gb - ga) / (b - a), ga))
    return out


class _Builder:
    def __init__(self):
        self.n = 0
        self.rows, self.cols, self.vals = [], [], []
        self.lo, self.hi = [], []
        self.c, self.lb, self.ub, self.integ = [], [], [], []
        self.m = 0

    def var(self, count, cost=0.0, lb=0.0, ub=np.inf, integer=False) -> np.ndarray:
        idx = np.arange(self.n, self.n + count)
        self.n += count
        self.c += [cost] * count if np.isscalar(cost) else list(cost)
        self.lb += [lb] * count if np.isscalar(lb) else list(lb)
        self.ub += [ub] * count if np.isscalar(ub) else list(ub)
        self.integ += [1 if integer else 0] * count
        return idx

    def row(self, cols, vals, lo, hi) -> None:
        self.rows += [self.m] * len(cols)
        self.cols += list(cols)
        self.vals += list(vals)
        self.lo.append(lo)
        self.hi.append(hi)
        self.m += 1


@dataclass
class _Model:
    P: _Builder
    F: np.ndarray
    X: np.ndarray
    Z: np.ndarray | None
    cards: list  # per card: dict(Y, U, T, D, W, segs, concave)
    const: float
    srcs: list
    sidx: dict


def _build(net: Network, pm: PowerModel, demands: list, sleep: bool) -> _Model:
    A, N = net.n_arcs, len(net.nodes)
    srcs = sorted({d.src for d in demands}, key=net.index)
    sidx = {s: i for i, s in enumerate(srcs)}
    b = np.zeros((len(srcs), N))
    for d in demands:
        b[sidx[d.src], net.index(d.src)] += d.bps / G
        b[sidx[d.src], net.index(d.dst)] -= d.bps / G
    P = _Builder()
    F = P.var(len(srcs) * A).reshape(len(srcs), A)
    X = P.var(A)
    caps = net.caps / G
    Z = None
    if sleep:
        port_w = [sum(pm.cards[pm.card_of[a]].port_w[pm.cards[pm.card_of[a]].arcs.index(a)] for a in (2 * l, 2 * l + 1)) for l in range(len(net.links))]
        Z = P.var(len(net.links), cost=port_w, lb=0, ub=1, integer=True)
    tails, heads = net.tails, net.heads
    for si in range(len(srcs)):
        for v in range(N):
            out_a = np.flatnonzero(tails == v)
            in_a = np.flatnonzero(heads == v)
            P.row(list(F[si, out_a]) + list(F[si, in_a]), [1.0] * len(out_a) + [-1.0] * len(in_a), b[si, v], b[si, v])
    for a in range(A):
        P.row(list(F[:, a]) + [X[a]], [1.0] * len(srcs) + [-1.0], 0.0, 0.0)
        if sleep:
            P.row([X[a], Z[a // 2]], [1.0, -caps[a]], -np.inf, 0.0)
    const = float(sum(pm.chassis_w.values()))
    cards = []
    for card in pm.cards:
        prof = card.profile
        concave = prof.shape == "flattening"
        idle = prof(0.0)
        cap_c = card.speed / G
        c = {"concave": concave, "Y": None, "T": None, "D": None, "W": None}
        if sleep:
            c["Y"] = Y = P.var(1, cost=idle, lb=0, ub=1, integer=True)[0]
            for a in card.arcs:
                P.row([Z[a // 2], Y], [1.0, -1.0], -np.inf, 0.0)
        else:
            const += idle + sum(card.port_w)
        c["U"] = U = P.var(1, lb=0, ub=1)[0]
        P.row([X[a] for a in card.arcs] + [U], [1.0 / cap_c] * len(card.arcs) + [-1.0], 0.0, 0.0)
        c["segs"] = segs = _segments(prof, concave)
        if not concave:
            c["T"] = T = P.var(1, cost=1.0)[0]
            for u0, _, slope, g0 in segs:
                icpt = g0 - slope * u0  # the line's value at u = 0 (<= 0 for a convex curve)
                if sleep:
                    P.row([T, U, c["Y"]], [1.0, -slope, -icpt], 0.0, np.inf)
                else:
                    P.row([T, U], [1.0, -slope], icpt, np.inf)
        else:
            c["D"] = D = P.var(len(segs), cost=[sg[2] for sg in segs], lb=0, ub=[sg[1] - sg[0] for sg in segs])
            c["W"] = W = P.var(len(segs) - 1, lb=0, ub=1, integer=True)
            P.row(list(D) + [U], [1.0] * len(D) + [-1.0], 0.0, 0.0)
            for j in range(len(segs) - 1):
                L0, L1 = segs[j][1] - segs[j][0], segs[j + 1][1] - segs[j + 1][0]
                P.row([D[j], W[j]], [1.0, -L0], 0.0, np.inf)  # segment j full before
                P.row([D[j + 1], W[j]], [1.0, -L1], -np.inf, 0.0)  # before segment j+1 starts
            if sleep:
                P.row([D[0], c["Y"]], [1.0, -(segs[0][1] - segs[0][0])], -np.inf, 0.0)
        cards.append(c)
    P.ub = list(np.array(P.ub, dtype=float))
    for a in range(A):
        P.ub[X[a]] = caps[a]
    return _Model(P, F, X, Z, cards, const, srcs, sidx)


def _start(net: Network, pm: PowerModel, demands: list, model: _Model, start: Placement) -> np.ndarray | None:
    """A feasible point of the programme from a placement that carried
    every demand within capacity (the MIP start)."""
    if not all(r is not None for r in start.routes) or (start.loads > net.caps * (1 + 1e-9)).any():
        return None
    x = np.zeros(model.P.n)
    for d, r in zip(demands, start.routes):
        for a, f in r.items():
            x[model.F[model.sidx[d.src], a]] += f * d.bps / G
    loads = x[model.F].sum(axis=0)
    x[model.X] = np.minimum(loads, net.caps / G)
    busy = (loads[0::2] > 0) | (loads[1::2] > 0)
    if model.Z is not None:
        x[model.Z] = busy.astype(float)
    for card, c in zip(pm.cards, model.cards):
        u = min(sum(loads[a] for a in card.arcs) / (card.speed / G), 1.0)
        on = any(busy[a // 2] for a in card.arcs)
        if c["Y"] is not None:
            x[c["Y"]] = float(on)
        x[c["U"]] = u
        if c["T"] is not None:
            x[c["T"]] = max(0.0, max(sg[2] * u + (sg[3] - sg[2] * sg[0]) * (1.0 if (on or c["Y"] is None) else 0.0) for sg in c["segs"]))
        else:
            rest = u
            for j, sg in enumerate(c["segs"]):
                L = sg[1] - sg[0]
                take = min(rest, L)
                x[c["D"][j]] = take
                rest -= take
                if j < len(c["W"]):
                    x[c["W"][j]] = 1.0 if take >= L - 1e-12 and rest > 0 else 0.0
    return x


def run(net: Network, pm: PowerModel, demands: list, sleep: bool = False, time_limit: float = 10.0, start: Placement | None = None) -> Placement:
    t0 = time.perf_counter()
    name = "optimum-sleep" if sleep else "optimum"
    A = net.n_arcs
    model = _build(net, pm, demands, sleep)
    P = model.P
    M = coo_matrix((P.vals, (P.rows, P.cols)), shape=(P.m, P.n)).tocsr()
    integ = np.array(P.integ)
    kind = "MILP" if integ.any() else "LP"
    x0 = _start(net, pm, demands, model, start) if (start is not None and kind == "MILP") else None
    res = _solve(np.array(P.c), integ, np.array(P.lb, dtype=float), np.array(P.ub, dtype=float), M, np.array(P.lo), np.array(P.hi), time_limit, x0)
    secs = time.perf_counter() - t0
    const = model.const
    notes = {
        "programme": kind,
        "status": res["status"],
        "message": res["message"],
        "variables": P.n,
        "constraints": P.m,
        "binaries": int(integ.sum()),
        "time_limit": time_limit,
        "mip_start": start.strategy if x0 is not None else None,
    }
    if res["x"] is None:
        notes["infeasible"] = res["infeasible"]
        notes["no_solution"] = True
        notes["bound_w"] = None if res["bound"] is None else float(res["bound"]) + const
        return Placement(name, np.zeros(A), [None] * len(demands), sleep=sleep, seconds=secs, notes=notes)
    x = res["x"]
    loads = np.where(x[model.X] < ZERO_GBPS, 0.0, x[model.X]) * G
    notes["objective_w"] = float(res["objective"]) + const
    notes["bound_w"] = float(res["bound"]) + const
    notes["optimal"] = res["optimal"]
    return Placement(name, loads, [{} for _ in demands], sleep=sleep, seconds=secs, notes={**notes, "fractional": True})


def _highs():
    """A silent ``highspy.Highs``: its constructor prints a banner on the C
    stdout (once per process), which would corrupt ``--json`` output."""
    try:
        import highspy
    except ImportError:
        raise ConfigError("the optimum needs the highspy package (pip install highspy)") from None
    import os
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
            h.setOptionValue("output_flag", False)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    return h


def _solve(c, integ, lb, ub, M, lo, hi, time_limit, x0):
    """HiGHS through its Python binding ``highspy`` (scipy's HiGHS has no
    MIP start: from scratch it finds, in seconds, placements several times
    worse than the power-down heuristic on germany50)."""
    h = _highs()
    import highspy

    h.setOptionValue("time_limit", max(float(time_limit), 0.1))
    h.setOptionValue("mip_rel_gap", 1e-4)
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", 0)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(c), M.shape[0]
    lp.col_cost_ = c
    lp.col_lower_ = lb
    lp.col_upper_ = np.where(np.isinf(ub), highspy.kHighsInf, ub)
    lp.row_lower_ = np.where(np.isinf(lo), -highspy.kHighsInf, lo)
    lp.row_upper_ = np.where(np.isinf(hi), highspy.kHighsInf, hi)
    csc = M.tocsc()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = csc.indptr
    lp.a_matrix_.index_ = csc.indices
    lp.a_matrix_.value_ = csc.data
    if integ.any():
        lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in integ]
    h.passModel(lp)
    if x0 is not None:
        sol = highspy.HighsSolution()
        sol.col_value = list(x0)
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    st = h.getModelStatus()
    info = h.getInfo()
    ok = info.primal_solution_status == 2  # kSolutionStatusFeasible
    infeasible = st == highspy.HighsModelStatus.kInfeasible
    bound = info.mip_dual_bound if integ.any() else info.objective_function_value
    return {
        "status": h.modelStatusToString(st),
        "message": h.modelStatusToString(st),
        "x": np.array(h.getSolution().col_value) if ok else None,
        "objective": info.objective_function_value,
        "bound": bound if ok or integ.any() else None,
        "optimal": st == highspy.HighsModelStatus.kOptimal,
        "infeasible": infeasible,
    }
