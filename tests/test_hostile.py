"""What arrives from the network is hostile (issue 11 sec. 1): well-formed
LSAs with extreme figures must not make an ABR's own computation fail."""

from pyfrr_pwr.model import metric
from pyfrr_pwr.model.ted import TED
from pyfrr_pwr.paths import interarea as ia
from pyfrr_pwr.proto import wire

BB, A1, A2 = "0.0.0.0", "0.0.0.1", "0.0.0.2"
X, Y, H, T = "10.0.0.1", "10.0.0.2", "10.0.1.1", "10.0.2.1"


def _link(ted, a, b, pwr, n):
    for x, y, lx, ly in ((a, b, n, n + 1), (b, a, n + 1, n)):
        tlv = wire.LinkTLV(y, local_addrs=(f"172.16.0.{lx}",), remote_addrs=(f"172.16.0.{ly}",), pwr_consumed=pwr, avail_bw=1e9)
        ted.apply(x, wire.make_lsid(200, 100 + lx), wire.encode([tlv]))


def test_extreme_pwr_from_a_backbone_router_keeps_the_abr_vectors_encodable():
    """A link end with PWR 1e30 and a vector whose PWR sum is FLT_MAX: the
    extended sums exceed FLT_MAX; they saturate instead of raising."""
    teds = {BB: TED(BB), A1: TED(A1)}
    _link(teds[BB], X, Y, 1e30, 1)
    _link(teds[A1], X, H, 1.0, 3)
    hostile = wire.ReachabilityVector((Y,), A2, (wire.PathInfo(T, metric.FLT_MAX, metric.FLT_MAX),))
    teds[BB].apply(Y, wire.make_lsid(200, 900), wire.encode([hostile]))
    out = ia.abr_vectors(X, teds, k=2)
    transit = [v for v in out[A1] if v.abr_chain == (X, Y)]
    assert transit and transit[0].paths[0].pwr_sum == metric.FLT_MAX
    for vecs in out.values():
        for v in vecs:
            for f in ia.fragment(v, 1):
                assert wire.decode(wire.encode([f])) == [f]


def test_aggregate_sums_saturate():
    a = ia.Aggregate(metric.FLT_MAX, 1e9, 0xFFFFFFFF, 0xFFFF, 0, 4e9)
    s = a.then(a)
    assert s.pwr == metric.FLT_MAX and s.te_metric == 0xFFFFFFFF
    info = s.info("10.0.0.9")
    assert wire.decode(wire.encode([wire.ReachabilityVector((X,), A1, (info,))]))


def test_hostile_energy_and_service_lsas_neither_crash_nor_win():
    """Issue 9: a site advertising absurd figures (FLT_MAX power, a tiny
    capacity, a hugely negative price) ranks last with a finite ordering;
    a malformed Node Energy TLV is counted and dropped by the TED."""
    from pyfrr_pwr.cats import service as cs

    ted = TED(A1)
    good = wire.ServiceInstance(X, "svc", "10.9.0.1", 1e9)
    evil = wire.ServiceInstance(Y, "svc", "10.9.0.2", 1e-45)
    ne_x = wire.NodeEnergy(X, power_w=wire.Reading(500.0), carbon_g_per_kwh=wire.Reading(300.0), price_per_mwh=wire.Reading(50.0), currency="EUR")
    ne_y = wire.NodeEnergy(
        Y, power_w=wire.Reading(metric.FLT_MAX), carbon_g_per_kwh=wire.Reading(0.0), price_per_mwh=wire.Reading(-metric.FLT_MAX), currency="EUR"
    )
    ted.apply(X, wire.make_lsid(200, 1), wire.encode([ne_x, good]))
    ted.apply(Y, wire.make_lsid(200, 2), wire.encode([ne_y, evil]))
    assert not ted.apply(H, wire.make_lsid(200, 3), bytes.fromhex("80040008") + bytes(4) + bytes.fromhex("00010004"))
    assert ted.stats["malformed"] == 1
    paths = {X: [cs.PathFigures(X, 1e-9)], Y: [cs.PathFigures(Y, 0.0)]}
    r = cs.rank(cs.instances_in({A1: ted}, "svc"), paths, cs.energy_in({A1: ted}), cs.Request("svc", demand=1e6))
    assert [e["site"] for e in r.ranked + r.rejected][0] == X
    for e in r.ranked + r.rejected:
        assert e["cost"] == e["cost"]  # never NaN
