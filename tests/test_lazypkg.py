"""lazypkg: the agent imports networkx's graph classes and pyroute2's IPRoute
without the rest of either library, and anything else still works, loaded
on first use (issue 10: agent RSS). Each case runs in a fresh interpreter,
since the point is what a process has imported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def run(code: str) -> dict:
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


PRELUDE = """
import json, sys
from pyfrr_pwr import lazypkg
how = lazypkg.install()
def loaded(prefix): return sorted(m for m in sys.modules if m == prefix or m.startswith(prefix + "."))
"""


def test_the_agent_imports_neither_library_whole():
    out = run(
        PRELUDE
        + """
import pyfrr_pwr.agent.daemon
import networkx, pyroute2  # a router that builds a graph (model.ted imports networkx there)
print(json.dumps({"how": how, "nx": loaded("networkx.algorithms"), "ndb": loaded("pyroute2.ndb"),
                  "nx_n": len(loaded("networkx")), "pr_n": len(loaded("pyroute2"))}))
"""
    )
    assert out["how"] == {"networkx": "deferred", "pyroute2": "deferred"}
    assert out["nx"] == [] and out["ndb"] == []
    # The whole libraries are 285 and 163 modules (networkx 3.6, pyroute2 0.9).
    assert out["nx_n"] < 60 and out["pr_n"] < 130


def test_graph_classes_work_and_anything_else_loads_on_first_use():
    out = run(
        PRELUDE
        + """
import networkx as nx
g = nx.MultiDiGraph()
g.add_edge("a", "b", key=1, weight=1.0)
g.add_edge("b", "c", key=1, weight=1.0)
g.add_edge("a", "c", key=2, weight=5.0)
before = loaded("networkx.algorithms")
try:
    nx.MultiDiGraph().remove_node("x")
    err = None
except nx.NetworkXError as e:
    err = type(e).__name__
sp = nx.shortest_path(g, "a", "c", weight="weight")
flow = nx.maximum_flow_value(nx.DiGraph([("a", "b", {"capacity": 2})]), "a", "b")
print(json.dumps({"before": before, "err": err, "sp": sp, "flow": flow,
                  "after": bool(loaded("networkx.algorithms")), "copy": sorted(g.copy().edges())}))
"""
    )
    assert out["before"] == []
    assert out["err"] == "NetworkXError"
    assert out["sp"] == ["a", "b", "c"] and out["flow"] == 2
    assert out["after"] is True
    assert out["copy"] == [["a", "b"], ["a", "c"], ["b", "c"]]


def test_pyroute2_names_beyond_the_core_load_on_first_use():
    out = run(
        PRELUDE
        + """
from pyroute2 import IPRoute, NetlinkError, netns
lean = loaded("pyroute2.ndb")
from pyroute2 import NDB
import pyroute2
print(json.dumps({"lean": lean, "ndb": NDB.__module__, "same": pyroute2.IPRoute is IPRoute,
                  "netns": netns.__name__, "missing": hasattr(pyroute2, "no_such_name")}))
"""
    )
    assert out["lean"] == []
    assert out["ndb"] == "pyroute2.ndb.main"
    assert out["same"] is True and out["netns"] == "pyroute2.netns"
    assert out["missing"] is False


def test_a_library_already_imported_is_left_alone():
    out = run(
        """
import json, networkx
from pyfrr_pwr import lazypkg
print(json.dumps(lazypkg.install(["networkx", "no_such_package_here"])))
"""
    )
    assert out == {"networkx": "loaded", "no_such_package_here": "absent"}


@pytest.mark.parametrize("broken", ["networkx", "pyroute2"])
def test_a_core_that_no_longer_matches_falls_back_to_the_whole_import(broken):
    out = run(
        f"""
import json, sys
from pyfrr_pwr import lazypkg
def boom(mod): raise ImportError("layout changed")
lazypkg._CORES["{broken}"] = boom
how = lazypkg.install(["{broken}"])
import {broken}
print(json.dumps({{"how": how, "now": lazypkg.status(), "n": len([m for m in sys.modules if m.startswith("{broken}.")])}}))
"""
    )
    assert out["how"] == {broken: "deferred"}
    assert out["now"] == {broken: "full"}
    assert out["n"] > 150


def test_nothing_is_imported_before_the_first_import_and_then_it_is_lean():
    out = run(
        PRELUDE
        + """
before = loaded("networkx") + loaded("pyroute2")
first = lazypkg.status()
import networkx.classes  # a submodule first: the package is built lean before it
from pyroute2 import IPRoute
print(json.dumps({"before": before, "first": first, "now": lazypkg.status(), "again": lazypkg.install(),
                  "graph": type(networkx.MultiDiGraph()).__name__, "nx_alg": loaded("networkx.algorithms")}))
"""
    )
    assert out["before"] == []
    assert out["first"] == {"networkx": "deferred", "pyroute2": "deferred"}
    assert out["now"] == {"networkx": "lean", "pyroute2": "lean"}
    assert out["again"] == {"networkx": "loaded", "pyroute2": "loaded"}
    assert out["graph"] == "MultiDiGraph" and out["nx_alg"] == []


def test_networkx_does_not_bring_email_zipfile_or_csv_and_they_work_when_used():
    """networkx's backend look-up (``networkx.utils.backends``: entry points)
    imports ``importlib.metadata``, whose top imports ``csv`` and, through
    ``_adapters``, ``email.message`` (about 1.4 MiB of RSS in every agent
    that builds a graph) for what ``entry_points()`` never calls on a plain
    site-packages. They load on first use, with the same answers a plain
    interpreter gives."""
    plain = run(
        """
import json, importlib.metadata as md
print(json.dumps({"eps": sorted(e.name for e in md.entry_points(group="networkx.backends")),
                  "version": md.version("networkx"), "name": md.metadata("networkx")["Name"]}))
"""
    )
    out = run(
        PRELUDE
        + """
import networkx as nx
nx.DiGraph().add_edge(1, 2)
import importlib.metadata as md
lean = {"email": loaded("email.message"), "csv": type(sys.modules["csv"]).__name__, "ran": "reader" in vars(sys.modules["csv"])}
eps = sorted(e.name for e in md.entry_points(group="networkx.backends"))
version, name = md.version("networkx"), md.metadata("networkx")["Name"]
import csv, io, zipfile
rows = list(csv.reader(io.StringIO("a,b\\n1,2\\n")))
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr("x.txt", "hi")
print(json.dumps({"lean": lean, "eps": eps, "version": version, "name": name, "rows": rows,
                  "zip": zipfile.ZipFile(io.BytesIO(buf.getvalue())).read("x.txt").decode(), "email": bool(loaded("email.message"))}))
"""
    )
    assert out["lean"] == {"email": [], "csv": "LazyModule", "ran": False}
    assert (out["eps"], out["version"], out["name"]) == (plain["eps"], plain["version"], plain["name"])
    assert out["rows"] == [["a", "b"], ["1", "2"]] and out["zip"] == "hi" and out["email"] is True
