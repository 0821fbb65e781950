"""The C core builds warning-free as C99 and survives ASan and UBSan; its
return codes reach Python by name."""

import re
import subprocess

from conftest import ROOT

CSRC = ROOT / "csrc"
SOURCES = [str(CSRC / "pwr_ksp.c"), str(CSRC / "pwr_tlv.c")]


def test_c_core_compiles_without_warnings_as_c99(tmp_path):
    for src in SOURCES:
        r = subprocess.run(
            ["cc", "-std=c99", "-pedantic", "-O2", "-Wall", "-Wextra", "-Werror", "-c", src, "-o", str(tmp_path / "x.o")],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stderr


def test_c_core_has_no_python_dependency():
    for f in CSRC.iterdir():
        assert "#include <Python.h>" not in f.read_text() and '#include "Python.h"' not in f.read_text(), f


def test_c_core_under_address_and_undefined_sanitizers(tmp_path):
    exe = tmp_path / "check_core"
    r = subprocess.run(
        [
            "cc",
            "-std=c99",
            "-O1",
            "-g",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer",
            f"-I{CSRC}",
            str(ROOT / "tests/c/check_core.c"),
            *SOURCES,
            "-lm",
            "-o",
            str(exe),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    run = subprocess.run(
        [str(exe), "3000", "11"], capture_output=True, text=True, env={"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0", "UBSAN_OPTIONS": "print_stacktrace=1"}
    )
    assert run.returncode == 0, run.stderr[-4000:]
    assert "passed" in run.stdout


def test_every_return_code_of_the_headers_is_exported_by_name():
    from pyfrr_pwr._core import lib

    codes = {}
    for h in ("pwr_ksp.h", "pwr_tlv.h"):
        for name, val in re.findall(r"^#define (PWR_(?:\w+_)?(?:OK|E[A-Z_]+))\s+\(?(-?\d+)\)?", (CSRC / h).read_text(), re.M):
            codes[name] = int(val)
    assert {"PWR_OK", "PWR_EINVAL", "PWR_ENOMEM", "PWR_F32_ENAN", "PWR_F32_EINF", "PWR_TLV_ETOOMANY"} <= set(codes)
    assert {n: getattr(lib, n, None) for n in codes} == codes


UPDATES_C = r"""
/* In-place updates and the result helpers, exercised under the sanitizers:
 * every buffer is malloc'ed at its exact size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pwr_ksp.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "failed: %s (line %d)\n", #c, __LINE__); return 1; } } while (0)

static double *dup(const double *a, size_t n)
{
    double *p = malloc(n * sizeof *p);
    memcpy(p, a, n * sizeof *p);
    return p;
}

int main(void)
{
    /* 0 -> 1 -> 3, 0 -> 2 -> 3, 0 -> 3 (arcs 0..4) */
    int32_t tail[] = {0, 1, 0, 2, 0}, head[] = {1, 3, 2, 3, 3};
    double w0[] = {1, 1, 2, 2, 5}, *w = dup(w0, 5), *bad_w = dup(w0, 5);
    double jit0[] = {0, 0, 0, 0, 0}, *jit = dup(jit0, 5);
    int err;
    int32_t bad, src = 0, dst = 3, *counts = malloc(sizeof(int32_t));
    double *costs = malloc(3 * sizeof(double));
    pwr_constraints c;
    pwr_graph *g = pwr_graph_new(4, 5, tail, head, w, NULL, NULL, NULL, &err, &bad);
    pwr_ws *ws;
    CHECK(g != NULL);
    ws = pwr_ws_new(g);
    memset(&c, 0, sizeof c); /* max_jitter 0: moot, no arc has jitter yet */
    c.max_hops = -1;
    c.max_delay = -1.0;
    CHECK(pwr_ksp_batch(g, ws, &src, &dst, 1, 3, &c) == 3);
    CHECK(pwr_result_counts(ws, 1, counts) == PWR_OK && counts[0] == 3);
    CHECK(pwr_result_counts(ws, 2, counts) == PWR_EINVAL);
    CHECK(pwr_result_costs(ws, 0, 3, costs) == PWR_OK);
    CHECK(costs[0] == 2.0 && costs[1] == 4.0 && costs[2] == 5.0);
    CHECK(pwr_result_costs(ws, 1, 3, costs) == PWR_EINVAL);
    /* all weights at once: 0-3 becomes cheapest */
    w[4] = 0.5;
    CHECK(pwr_graph_set_weights(g, w, &bad) == PWR_OK);
    CHECK(pwr_ksp_batch(g, ws, &src, &dst, 1, 3, &c) == 3);
    CHECK(pwr_result_costs(ws, 0, 3, costs) == PWR_OK && costs[0] == 0.5);
    bad_w[2] = -1.0;
    CHECK(pwr_graph_set_weights(g, bad_w, &bad) == PWR_EINVAL && bad == 2);
    CHECK(pwr_graph_set_arc(g, 5, PWR_SET_WEIGHT, 1, 0, 0, 0, 0) == PWR_EINVAL);
    CHECK(pwr_graph_set_arc(g, 1, PWR_SET_DELAY, 0, 0, 0, -1, 0) == PWR_EINVAL);
    /* one arc: 1 -> 3 dearer, and admin group 1 on 0 -> 3 */
    CHECK(pwr_graph_set_arc(g, 1, PWR_SET_WEIGHT, 10, 0, 0, 0, 0) == PWR_OK);
    CHECK(pwr_graph_set_arc(g, 4, PWR_SET_ADMIN, 0, 0, 1u, 0, 0) == PWR_OK);
    c.exclude = 1u;
    CHECK(pwr_ksp_batch(g, ws, &src, &dst, 1, 3, &c) == 2);
    CHECK(pwr_result_costs(ws, 0, 2, costs) == PWR_OK && costs[0] == 4.0 && costs[1] == 11.0);
    c.exclude = 0;
    /* jitter on 0 -> 2 -> 3 only: a bound of 3 keeps the other two paths */
    jit[2] = 2.0;
    jit[3] = 2.0;
    CHECK(pwr_graph_set_jitter(g, jit, &bad) == PWR_OK);
    c.max_jitter = 3.0;
    CHECK(pwr_ksp_batch(g, ws, &src, &dst, 1, 3, &c) == 2);
    CHECK(pwr_result_costs(ws, 0, 2, costs) == PWR_OK && costs[0] == 0.5 && costs[1] == 11.0);
    CHECK(pwr_graph_set_arc(g, 3, PWR_SET_JITTER, 0, 0, 0, 0, 0.5) == PWR_OK);
    CHECK(pwr_ksp_batch(g, ws, &src, &dst, 1, 3, &c) == 3);
    jit[0] = -0.5;
    CHECK(pwr_graph_set_jitter(g, jit, &bad) == PWR_EINVAL && bad == 0);
    pwr_ws_free(ws);
    pwr_graph_free(g);
    free(w);
    free(bad_w);
    free(jit);
    free(counts);
    free(costs);
    puts("passed");
    return 0;
}
"""


def test_in_place_updates_and_result_helpers_under_sanitizers(tmp_path):
    src = tmp_path / "updates.c"
    src.write_text(UPDATES_C)
    exe = tmp_path / "updates"
    r = subprocess.run(
        [
            "cc",
            "-std=c99",
            "-O1",
            "-g",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            f"-I{CSRC}",
            str(src),
            str(CSRC / "pwr_ksp.c"),
            "-lm",
            "-o",
            str(exe),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, env={"ASAN_OPTIONS": "detect_leaks=1"})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "passed" in run.stdout
