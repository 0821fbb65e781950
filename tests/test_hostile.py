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
