"""Batches on several threads at once (draft sec. 2.3): the process-wide
state a batch touches, the cyclic GC switch, stays consistent."""

import gc
import threading

import networkx as nx
import pytest

from pyfrr_pwr.paths import ksp
from pyfrr_pwr.paths.ksp import CompiledGraph


@pytest.fixture
def gc_state():
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def _gated(monkeypatch):
    """Make the pwr_ksp_flat calls of the threads named in ``entered`` wait,
    inside the call, until the test lets that thread go: ``entered[name]``
    is set once it is inside, ``go[name]`` releases it."""
    real = ksp.lib
    entered: dict = {}
    go: dict = {}

    class Gate:
        def __getattr__(self, name):
            f = getattr(real, name)
            if name != "pwr_ksp_flat":
                return f

            def call(*a):
                me = threading.current_thread().name
                if me not in entered:
                    return f(*a)
                entered[me].set()
                assert go[me].wait(10)
                return f(*a)

            return call

    monkeypatch.setattr(ksp, "lib", Gate())
    return entered, go


def test_concurrent_batches_share_one_gc_pause(monkeypatch, gc_state):
    G = nx.grid_2d_graph(5, 5).to_directed()
    cg = CompiledGraph.from_networkx(G)
    pairs = [((0, 0), (4, 4)), ((4, 0), (4, 4)), ((0, 4), (4, 4))] * 4  # one chunk: one C call a batch
    assert len(pairs) > ksp._GC_PAUSE
    want = cg.batch(pairs, 3)
    gc.enable()
    entered, go = _gated(monkeypatch)
    got, errors = {}, []

    def work():
        try:
            got[threading.current_thread().name] = cg.batch(pairs, 3)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    ts = {}
    for name in ("a", "b"):
        entered[name], go[name] = threading.Event(), threading.Event()
        ts[name] = threading.Thread(target=work, name=name)
    ts["a"].start()
    assert entered["a"].wait(10)
    assert not gc.isenabled()  # paused while "a" makes its paths
    ts["b"].start()
    assert entered["b"].wait(10)
    go["a"].set()
    ts["a"].join(10)
    assert not ts["a"].is_alive()
    assert not gc.isenabled()  # "a" is done, "b" is still inside its batch: still paused
    go["b"].set()
    ts["b"].join(10)
    assert not ts["b"].is_alive()
    assert gc.isenabled()  # the last batch out switched it back on
    assert not errors
    assert got == {"a": want, "b": want}


def test_concurrent_batches_leave_a_gc_the_caller_turned_off_off(monkeypatch, gc_state):
    G = nx.grid_2d_graph(5, 5).to_directed()
    cg = CompiledGraph.from_networkx(G)
    pairs = [((0, 0), (4, 4))] * (ksp._GC_PAUSE + 1)
    gc.disable()
    entered, go = _gated(monkeypatch)
    ts = []
    for name in ("a", "b"):
        entered[name], go[name] = threading.Event(), threading.Event()
        ts.append(threading.Thread(target=cg.batch, args=(pairs, 2), name=name))
        ts[-1].start()
        assert entered[name].wait(10)
    for t, name in zip(ts, ("a", "b")):
        go[name].set()
        t.join(10)
        assert not t.is_alive()
        assert not gc.isenabled()
    assert cg.batch(pairs, 2) == [cg.k_shortest_paths((0, 0), (4, 4), 2)] * len(pairs)
    assert not gc.isenabled()


def test_ksp_batches_and_inter_area_rounds_share_the_one_pause(gc_state):
    """An ABR's vector round (paths.interarea) and a KSP batch on another
    thread pause the one collector: a private pause in either would switch
    it back on under the other (paths.gcpause)."""
    from pyfrr_pwr.paths import gcpause, interarea

    assert ksp.gc_pause is interarea.gc_pause is gcpause.pause
    gc.enable()
    with interarea.gc_pause:
        with ksp.gc_pause:
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inter-area round is still inside
    assert gc.isenabled()
