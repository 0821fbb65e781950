"""The head-end's inter-area choice against a central oracle on random
multi-area topologies, with ABRs attached to several areas (issue 11 sec. 6).

The oracle is the cheapest path that follows the area hierarchy of draft
sec. 2 (head area -> backbone -> tail area, crossing areas only at ABRs).
A TE path has no reason to prefer intra-area routes, so an ABR attached to
both the head-end's and the tail-end's area must also offer the detour
through the backbone and another ABR of the tail area when it is cheaper.
"""

import math

import pytest
from helpers.random_as import BACKBONE, hierarchy_oracle, random_topology

from pyfrr_pwr.model.ted import TED
from pyfrr_pwr.paths import interarea as ia
from pyfrr_pwr.proto import wire


def _converged(teds, abrs, k):
    ia.converge({abr: {a: teds[a] for a in ars} for abr, ars in abrs.items()}, k=k)
    return teds


@pytest.mark.parametrize("seed", range(60))
def test_random_multi_area_choice_equals_the_hierarchy_optimum(seed):
    teds, abrs, endpoints = random_topology(seed)
    _converged(teds, abrs, k=4)
    for h, ha in sorted(endpoints.items()):
        for t, ta in sorted(endpoints.items()):
            if ha == ta:
                continue
            want = hierarchy_oracle(teds, h, ha, t, ta)
            sel = ia.select(h, t, teds[ha], ia.complete_vectors(teds[ha]), k=4)
            assert math.isfinite(want)
            assert sel.best is not None, sel.reason
            assert sel.best.total.pwr == pytest.approx(want, rel=1e-5), (h, t, sel.best.abr_chain)


def test_an_abr_in_both_areas_offers_the_cheaper_detour_through_the_backbone():
    """Head area 1 and tail area 2 share ABR X; inside area 2 X's link to
    the tail-end is dear, while X -> Y over the backbone and Y -> tail in
    area 2 is cheap. X must advertise the detour into area 1."""
    X, Y, H, T = "10.0.0.1", "10.0.0.2", "10.0.1.1", "10.0.2.1"
    teds = {a: TED(a) for a in (BACKBONE, "0.0.0.1", "0.0.0.2")}
    n = iter(range(1, 1000))

    def link(area, a, b, pwr):
        la, lb = next(n), next(n)
        for x, y, lx, ly in ((a, b, la, lb), (b, a, lb, la)):
            tlv = wire.LinkTLV(y, local_addrs=(f"172.16.0.{lx}",), remote_addrs=(f"172.16.0.{ly}",), pwr_consumed=pwr, avail_bw=1e9)
            teds[area].apply(x, wire.make_lsid(200, next(n)), wire.encode([tlv]))

    link("0.0.0.1", H, X, 1.0)
    link(BACKBONE, X, Y, 1.0)
    link("0.0.0.2", X, T, 100.0)
    link("0.0.0.2", Y, T, 1.0)
    teds["0.0.0.1"].apply(H, wire.make_lsid(200, 900), wire.encode([wire.TEEndpoint(H, wire.EP_HEAD)]))
    teds["0.0.0.2"].apply(T, wire.make_lsid(200, 901), wire.encode([wire.TEEndpoint(T, wire.EP_TAIL)]))
    abrs = {X: [BACKBONE, "0.0.0.1", "0.0.0.2"], Y: [BACKBONE, "0.0.0.2"]}
    _converged(teds, abrs, k=2)
    sel = ia.select(H, T, teds["0.0.0.1"], ia.complete_vectors(teds["0.0.0.1"]), k=2)
    assert sel.best.total.pwr == pytest.approx(3.0)
    assert sel.best.abr_chain == (X, Y)
