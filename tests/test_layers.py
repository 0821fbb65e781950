"""The package's layers (README, Layout): every import points down, and
the module graph has no cycles. Read from the source, nothing imported."""

import ast
from pathlib import Path

import networkx as nx
from conftest import ROOT

PKG = ROOT / "pyfrr_pwr"

# bottom to top; a subpackage may import its own modules and anything on a
# lower rank, never a sibling of its rank or anything above
RANKS = {
    "_core": 0,
    "_build_core": 0,
    "lazypkg": 0,
    "proto": 0,
    "model": 1,
    "paths": 2,
    "files": 2,
    "telemetry": 2,
    "dataplane": 2,
    "cats": 2,
    "offline": 3,
    "agent": 3,
    "evaluate": 4,
    "lab": 4,
    "cli": 5,
}


def _modules():
    for f in sorted(PKG.rglob("*.py")):
        rel = f.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), f


def _imports(name: str, f: Path):
    tree = ast.parse(f.read_text(), str(f))
    pkg = name if f.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("pyfrr_pwr"):
                    yield a.name
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                mod = ".".join(base + ([mod] if mod else []))
            if mod.startswith("pyfrr_pwr"):
                yield mod
                for a in node.names:  # `from pyfrr_pwr.x import module`
                    yield f"{mod}.{a.name}"


def _layer(mod: str) -> str | None:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else None


def graph():
    mods = dict(_modules())
    G = nx.DiGraph()
    for name, f in mods.items():
        G.add_node(name)
        for dep in _imports(name, f):
            while dep not in mods and "." in dep:  # a name inside a module
                dep = dep.rpartition(".")[0]
            # a package's own __init__ runs before any of its modules anyway
            if dep in mods and dep != name and not name.startswith(dep + "."):
                G.add_edge(name, dep)
    return G


def test_every_subpackage_has_a_rank():
    layers = {_layer(m) for m in graph() if _layer(m)}
    assert layers <= set(RANKS), f"give {sorted(layers - set(RANKS))} a rank in RANKS (and the README's layout table)"


def test_imports_point_down():
    bad = []
    for a, b in graph().edges():
        la, lb = _layer(a), _layer(b)
        if la == lb or la is None or lb is None:
            continue
        if RANKS[lb] >= RANKS[la]:
            bad.append(f"{a} -> {b} ({la} rank {RANKS[la]} imports {lb} rank {RANKS[lb]})")
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    # imports inside functions count too: a cycle there still couples the modules
    cycles = list(nx.simple_cycles(graph()))
    assert not cycles, cycles[:5]
