"""The sdist is complete: it carries the C core's headers as well as its
sources (cffi compiles csrc/ at install time), and the C core builds from
the unpacked sdist alone. No network: setuptools' PEP 517 hook runs with the
venv's setuptools and cffi, on a copy of the tree in tmp_path."""

import re
import shutil
import subprocess
import sys
import tarfile

import pytest
from conftest import ROOT

SKIP = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", ".benchmarks", "results.json", "*.so", "_core.c"
)


@pytest.fixture(scope="module")
def sdist(tmp_path_factory):
    src = tmp_path_factory.mktemp("tree") / "src"
    shutil.copytree(ROOT, src, ignore=SKIP)
    out = tmp_path_factory.mktemp("dist")
    r = subprocess.run(
        [sys.executable, "-c", "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))", str(out)],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    (path,) = out.glob("*.tar.gz")
    return path


def names(path):
    with tarfile.open(path) as t:
        top = t.getnames()[0].split("/")[0]
        return {n.removeprefix(top + "/") for n in t.getnames()}


def test_sdist_carries_every_c_source_and_header(sdist):
    got = names(sdist)
    csrc = {f"csrc/{p.name}" for p in (ROOT / "csrc").iterdir() if p.suffix in (".c", ".h")}
    assert {n for n in got if n.startswith("csrc/")} - {"csrc"} == csrc
    # every header the C sources and the cffi wrapper include is in it
    texts = [(ROOT / n).read_text() for n in csrc] + [(ROOT / "pyfrr_pwr/_build_core.py").read_text()]
    included = {h for t in texts for h in re.findall(r'#include\s+\\?"([^"\\]+)\\?"', t)}
    assert included and {f"csrc/{h}" for h in included} <= got
    assert {"pyfrr_pwr/_build_core.py", "setup.py", "pyproject.toml", "MANIFEST.in"} <= got


def test_sdist_ships_the_tests_and_their_data_not_build_products(sdist):
    got = names(sdist)
    assert {
        "tests/conftest.py",
        "tests/helpers/__init__.py",
        "tests/c/check_core.c",
        "tests/data/mini/mini.clab.yml",
        "containerlab/fig-2-0.clab.yml",
        "tools/gen_topologies.py",
    } <= got
    assert not [n for n in got if n.endswith((".so", ".o", ".pyc")) or n == "pyfrr_pwr/_core.c"]


def test_c_core_builds_from_the_unpacked_sdist(sdist, tmp_path):
    with tarfile.open(sdist) as t:
        t.extractall(tmp_path, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    (src,) = tmp_path.iterdir()
    r = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=src, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    r = subprocess.run([sys.executable, "-c", "import pyfrr_pwr._core as c; print(c.__file__)"], cwd=src, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith(str(src)), r.stdout + r.stderr


# -- what the tests import ------------------------------------------------------


def imported_modules(path):
    import ast

    mods = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            mods |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            mods.add(node.module.split(".")[0])
    return mods


TEST_FILES = sorted((ROOT / "tests").rglob("*.py"))


def test_no_test_module_imports_another():
    """Shared code lives in tests/helpers (or conftest), never in a test_*.py."""
    tests = {p.stem for p in (ROOT / "tests").glob("test_*.py")}
    bad = {str(p.relative_to(ROOT)): sorted(imported_modules(p) & tests) for p in TEST_FILES}
    assert not {k: v for k, v in bad.items() if v}


def test_what_the_tests_import_is_installed_by_the_test_extra():
    """Every third-party module a test imports comes from the dependencies or
    the `test` extra (bench/ has its own extra)."""
    import importlib.metadata as md
    import tomllib

    proj = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def norm(req):
        return re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0].lower().replace("_", "-")

    declared = {norm(r) for r in proj["dependencies"] + proj["optional-dependencies"]["test"]}
    local = {"conftest", "helpers", "pyfrr_pwr"} | {p.stem for p in (ROOT / "tests").glob("test_*.py")}
    dists = md.packages_distributions()
    missing = {}
    for p in TEST_FILES:
        for m in sorted(imported_modules(p) - set(sys.stdlib_module_names) - local):
            names = {d.lower().replace("_", "-") for d in dists.get(m, [m])}
            if not names & declared:
                missing.setdefault(str(p.relative_to(ROOT)), []).append(m)
    assert not missing, f"add to [project.optional-dependencies] test: {missing}"
