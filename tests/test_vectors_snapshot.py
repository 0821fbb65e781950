"""An ABR's vector snapshot keeps its TED copies from round to round and
brings them up to date with only the LSAs that changed (issue 10): the
vectors must stay those of a computation from scratch (fresh copies, fresh
VectorComputer), whatever the sequence of link and power changes; an
unchanged area must keep its graph object; and copies a computation is
reading must not change under it."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from helpers.flooding import Fabric

from pyfrr_pwr.agent.core import AgentCore
from pyfrr_pwr.agent.vectors import AbrVectors
from pyfrr_pwr.proto import ospfapi as api

ROOT = Path(__file__).resolve().parents[1]
FIG20 = ROOT / "containerlab/fig-2-0.clab.yml"
NSM_DOWN = 2


def _fresh_vectors(c: AgentCore) -> dict:
    """What a from-scratch round computes: new copies, new computer."""
    av = AbrVectors(c.abr.cfg, c.abr.opaque_type, c.abr.profile, c.abr.stats.copy(), c.abr.alloc)
    return AbrVectors.compute(av.snapshot(c.router_id, c.abr_areas(), c.ted))


def _link_state(f: Fabric, link, state: int) -> None:
    (na, ia), (nb, ib) = link.a, link.b
    fa, fb = f.topo.routers[na].interfaces[ia], f.topo.routers[nb].interfaces[ib]
    for x, y, xn, yn in ((fa, fb, na, nb), (fb, fa, nb, na)):
        f.send(xn, f.core(xn).handle(api.NsmChange(str(x.address.ip), str(y.address.ip), f.rid(yn), state), f.now))
    f.flood()


def _router_links(f: Fabric) -> list:
    """Links between two routers with cores (not the hosts')."""
    return [l for l in f.topo.links if l.a[0] in f.nodes and l.b[0] in f.nodes and f.topo.routers[l.a[0]].interfaces[l.a[1]].address is not None]


@pytest.fixture
def fig20():
    return Fabric.up(FIG20)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_vectors_after_random_link_and_power_changes_equal_a_computation_from_scratch(fig20, seed):
    f, rng = fig20, random.Random(seed)
    links = _router_links(f)
    down: set = set()
    for step in range(14):
        f.tick(2.0)  # past every router's min_interval: each change goes out
        if rng.random() < 0.5:
            i = rng.randrange(len(links))
            _link_state(f, links[i], api.NSM_FULL if i in down else NSM_DOWN)
            down ^= {i}
        else:
            l = links[rng.randrange(len(links))]
            name, ifname = l.a if rng.random() < 0.5 else l.b
            f.send(name, f.core(name).set_measurements({}, {ifname: rng.choice([1.0, 4.0, 12.0, 30.0])}, f.now))
            f.flood()
        for n in f.abrs:  # the vector loop, as the agent runs it; the vectors flood
            c = f.core(n)
            got = AgentCore.compute_vectors(c.vector_snapshot())
            assert got == _fresh_vectors(c), f"seed {seed} step {step}: {n}'s vectors differ from scratch"
            for a in c.abr_areas():  # the copy holds the source's LSAs, in its order
                assert list(c.abr._copies[a][2].lsas.items()) == list(c.ted(a).lsas.items())
            f.send(n, c.apply_vectors(got))
            f.flood()
    assert f.errors == []


def test_an_area_that_did_not_change_keeps_its_graph_object(fig20):
    f = fig20
    f.settle()
    c = f.core("ABR1")
    areas = c.abr_areas()
    _, teds1, _, _ = snap1 = c.vector_snapshot()
    AgentCore.compute_vectors(snap1)
    g1 = {a: teds1[a].graph() for a in areas}
    # a link inside area 0.0.0.2, which ABR1 does not border
    (l,) = [l for l in f.topo.links if {l.a[0], l.b[0]} == {"R6", "R4"}]
    _link_state(f, l, NSM_DOWN)
    _, teds2, _, _ = snap2 = c.vector_snapshot()
    assert AgentCore.compute_vectors(snap2) == _fresh_vectors(c)
    for a in areas:
        if a != "0.0.0.0":  # the backbone holds the vectors that changed; area 1 does not
            assert teds2[a].graph() is g1[a]


def test_an_lsa_withdrawn_and_back_keeps_the_copy_in_the_sources_order(fig20):
    f = fig20
    f.settle()
    c = f.core("ABR1")
    AgentCore.compute_vectors(c.vector_snapshot())
    src = c.ted("0.0.0.1").lsas
    key = next(iter(src))
    tlvs = src.pop(key)
    src[key] = tlvs  # same LSA, now last
    _, teds, _, _ = snap = c.vector_snapshot()
    assert list(teds["0.0.0.1"].lsas) == list(src)
    assert AgentCore.compute_vectors(snap) == _fresh_vectors(c)


def test_copies_a_computation_reads_are_left_alone(fig20):
    f = fig20
    f.settle()
    c = f.core("ABR1")
    first = c.vector_snapshot()
    AgentCore.compute_vectors(first)
    _, teds1, _, busy = first
    before = {a: dict(t.lsas) for a, t in teds1.items()}
    (l,) = [l for l in f.topo.links if {l.a[0], l.b[0]} == {"R1", "ABR1"}]
    _link_state(f, l, NSM_DOWN)
    with busy:  # as a worker still computing from the kept copies
        _, teds2, _, _ = second = c.vector_snapshot()
    assert {a: dict(t.lsas) for a, t in teds1.items()} == before
    assert all(teds2[a] is not teds1[a] for a in teds1)
    assert AgentCore.compute_vectors(second) == _fresh_vectors(c)
    # the next round, with no computation running, updates the kept copies
    _, teds3, _, _ = third = c.vector_snapshot()
    assert all(teds3[a] is teds1[a] for a in teds1)
    assert AgentCore.compute_vectors(third) == _fresh_vectors(c)
