"""TE database: pairing, parallel links, one-sided links, newest instance,
malformed LSAs dropped without losing state."""

import dataclasses

import pytest

from pyfrr_pwr.model.ted import TED, serial_newer
from pyfrr_pwr.paths.ksp import k_shortest_paths
from pyfrr_pwr.proto import wire


def link(nbr, local, remote, pwr, gen=None, avail=1e9):
    return wire.LinkTLV(link_id=nbr, local_addrs=(local,), remote_addrs=(remote,), avail_bw=avail, max_bw=1.25e9, pwr_consumed=pwr, generation=gen)


def body(*tlvs):
    return wire.encode(list(tlvs))


@pytest.fixture
def ted():
    t = TED("0.0.0.1")
    # A - D over two parallel links, L1 and L2 (draft sec. 2.1.1)
    t.apply("1.1.1.1", "200.0.0.1", body(link("4.4.4.4", "10.0.1.0", "10.0.1.1", 2.0)))
    t.apply("4.4.4.4", "200.0.0.1", body(link("1.1.1.1", "10.0.1.1", "10.0.1.0", 1.0)))
    t.apply("1.1.1.1", "200.0.0.2", body(link("4.4.4.4", "10.0.2.0", "10.0.2.1", 3.0)))
    t.apply("4.4.4.4", "200.0.0.2", body(link("1.1.1.1", "10.0.2.1", "10.0.2.0", 3.0)))
    return t


def test_pairs_both_ends_and_keeps_parallel_links_apart(ted):
    G = ted.graph()
    assert G.number_of_edges("1.1.1.1", "4.4.4.4") == 2
    assert G.edges["1.1.1.1", "4.4.4.4", "10.0.1.0"]["weight"] == 1.5  # mean of 2 and 1
    assert G.edges["4.4.4.4", "1.1.1.1", "10.0.1.1"]["weight"] == 1.5
    assert G.edges["1.1.1.1", "4.4.4.4", "10.0.2.0"]["weight"] == 3.0
    costs = [p.cost for p in k_shortest_paths(G, "1.1.1.1", "4.4.4.4", 5)]
    assert costs == [1.5, 3.0]


def test_one_sided_links_are_kept_but_not_used(ted):
    ted.apply("1.1.1.1", "200.0.0.3", body(link("9.9.9.9", "10.0.3.0", "10.0.3.1", 0.1)))
    assert any(l.one_sided for l in ted.links())
    assert not ted.graph().has_edge("1.1.1.1", "9.9.9.9")
    assert ted.graph(include_one_sided=True).edges["1.1.1.1", "9.9.9.9", "10.0.3.0"]["one_sided"]


def test_newest_generation_wins_make_before_break(ted):
    # the same link re-originated under a new opaque ID with a newer generation
    ted.apply("1.1.1.1", "200.0.0.9", body(link("4.4.4.4", "10.0.1.0", "10.0.1.1", 4.0, gen=2)))
    G = ted.graph()
    assert G.number_of_edges("1.1.1.1", "4.4.4.4") == 2
    assert G.edges["1.1.1.1", "4.4.4.4", "10.0.1.0"]["weight"] == 2.5
    # the old instance's withdrawal changes nothing
    ted.withdraw("1.1.1.1", "200.0.0.1")
    assert ted.graph().edges["1.1.1.1", "4.4.4.4", "10.0.1.0"]["weight"] == 2.5
    assert serial_newer(1, 0xFFFFFFFF) and not serial_newer(0xFFFFFFFF, 1)


def test_malformed_lsa_is_counted_dropped_and_old_state_kept(ted, caplog):
    before = ted.graph().edges["1.1.1.1", "4.4.4.4", "10.0.1.0"]["weight"]
    ok = ted.apply("1.1.1.1", "200.0.0.1", b"\x00\x02\x00\xff\x00")
    assert not ok
    assert ted.stats["malformed"] == 1
    assert ted.graph().edges["1.1.1.1", "4.4.4.4", "10.0.1.0"]["weight"] == before
    assert "dropped malformed PWR LSA 200.0.0.1 from 1.1.1.1" in caplog.text


def test_node_tlvs(ted):
    ted.apply("1.1.1.1", "200.0.0.7", body(wire.TEEndpoint("1.1.1.1"), wire.AreaBorder("1.1.1.1", ("0.0.0.0", "0.0.0.1"))))
    G = ted.graph()
    assert G.nodes["1.1.1.1"]["te_endpoint"] == 3
    assert G.nodes["1.1.1.1"]["abr"] == ("0.0.0.0", "0.0.0.1")
    assert ted.withdraw_router("1.1.1.1") == 3
    assert "1.1.1.1" not in ted.endpoints()


def test_an_end_that_sends_no_highest_capacity_weighs_one(ted):
    # every end of the fixture is a single-capacity port: plain means
    assert {l.near.weight for l in ted.links()} == {1.0}
    assert all(l.pwrlink == (l.near.power + l.far.power) / 2 for l in ted.links())
    nomax = wire.LinkTLV(link_id="4.4.4.4", local_addrs=("10.0.4.0",), remote_addrs=("10.0.4.1",), pwr_consumed=1.0)
    ted.apply("1.1.1.1", "200.0.0.4", body(nomax))
    assert [l.near.weight for l in ted.links() if l.near.local == "10.0.4.0"] == [1.0]


def _ne(rid, ci, ts=1_800_000_000, **kw):
    return wire.NodeEnergy(rid, carbon_g_per_kwh=wire.Reading(ci, ts), **kw)


def test_site_tlvs_are_indexed_by_origin_own_copy_first():
    # issue 9 sec. 3: a site's figures in its own area or leaked by an ABR (agent.leak)
    t = TED("0.0.0.1")
    site, abr = "10.0.0.7", "10.0.0.4"
    t.apply(abr, "200.0.0.1", body(wire.AreaBorder(abr, ("0.0.0.0", "0.0.0.1"))))
    leaked = _ne(site, 50.0, origin_area="0.0.0.2", abr_chain=("10.0.0.5", abr))
    si = wire.ServiceInstance(site, "infer", "10.9.0.1", origin_area="0.0.0.2", abr_chain=("10.0.0.5", abr))
    t.apply(abr, "200.0.0.2", body(leaked, si))
    (c,) = t.energy().values()
    assert c.origin == site and c.via == abr and c.tlv == leaked
    assert t.services()[(site, "infer", "10.9.0.1")].via == abr
    # the site's own copy (older readings and all) wins over the leaked one
    t.apply(site, "200.0.0.3", body(_ne(site, 900.0, ts=1)))
    c = t.energy()[site]
    assert c.via is None and not c.leaked and c.tlv.carbon_g_per_kwh.value == 900.0
    assert t.stats["leak_unknown_origin"] == 0


@pytest.mark.parametrize(
    "adv,tlv,abr_areas",
    [
        ("10.0.0.9", _ne("10.0.0.7", 1.0), None),  # speaks for another router without a leak sub-TLV
        ("10.0.0.4", _ne("10.0.0.7", 1.0, origin_area="0.0.0.2", abr_chain=("10.0.0.4",)), None),  # no Area Border TLV: no ABR
        ("10.0.0.4", _ne("10.0.0.7", 1.0, origin_area="0.0.0.2", abr_chain=("10.0.0.5",)), ("0.0.0.0", "0.0.0.2")),  # chain ends elsewhere
        ("10.0.0.4", _ne("10.0.0.7", 1.0, origin_area="0.0.0.1", abr_chain=("10.0.0.4",)), ("0.0.0.0", "0.0.0.1")),  # "leaked" into its own area
        ("10.0.0.4", _ne("10.0.0.7", 1.0, origin_area="0.0.0.3", abr_chain=("10.0.0.4",)), ("0.0.0.0", "0.0.0.1")),  # from an area it does not border
        ("10.0.0.4", _ne("10.0.0.4", 1.0, origin_area="0.0.0.3", abr_chain=("10.0.0.4",)), ("0.0.0.1", "0.0.0.3")),  # its own figures as a leak
    ],
)
def test_unbelievable_site_copies_are_dropped_and_counted_once(adv, tlv, abr_areas):
    t = TED("0.0.0.1")
    if abr_areas:
        t.apply(adv, "200.0.0.1", body(wire.AreaBorder(adv, abr_areas)))
    t.apply(adv, "200.0.0.2", body(tlv))
    assert t.energy() == {}
    assert t.energy() == {} and t.stats["leak_unknown_origin"] == 1  # a second look counts nothing
    t.withdraw(adv, "200.0.0.2")
    assert t.energy() == {} and t.stats["leak_unknown_origin"] == 1


def test_endpoints_follow_every_change_of_a_te_endpoint_lsa_and_only_those():
    """The endpoint view is cached per change of an LSA that carries (or
    carried) a TE Endpoint TLV (issue 10: a link's figures moving must not
    cost a rescan of the LSDB)."""
    t = TED("0.0.0.1")
    link = wire.LinkTLV("1.0.0.2", local_addrs=("172.16.0.1",), pwr_consumed=1.0)
    t.apply_tlvs("1.0.0.1", "l", [link])
    t.apply_tlvs("1.0.0.1", "ep", [wire.TEEndpoint("1.0.0.1")])
    assert set(t.endpoints()) == {"1.0.0.1"}
    cache = t.__dict__["_endpoints_cache"]
    t.apply_tlvs("1.0.0.1", "l", [dataclasses.replace(link, pwr_consumed=2.0)])
    assert set(t.endpoints()) == {"1.0.0.1"} and t.__dict__["_endpoints_cache"] is cache
    t.apply_tlvs("1.0.0.1", "ep", [wire.TEEndpoint("1.0.0.1", wire.EP_HEAD)])
    assert t.endpoints()["1.0.0.1"].flags == wire.EP_HEAD
    t.apply_tlvs("1.0.0.1", "ep", [link])  # the LSA no longer carries one
    assert t.endpoints() == {}
    t.apply_tlvs("1.0.0.2", "ep", [wire.TEEndpoint("1.0.0.2")])
    assert set(t.endpoints()) == {"1.0.0.2"}
    t.withdraw("1.0.0.2", "ep")
    assert t.endpoints() == {}
    t.lsas.update({("1.0.0.3", "x"): [wire.TEEndpoint("1.0.0.3")]})
    assert set(t.endpoints()) == {"1.0.0.3"}
    t.lsas.clear()
    assert t.endpoints() == {}
