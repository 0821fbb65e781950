"""Float32 sub-TLV values: which path pays for itself (issue 12).

One float: a cffi call into the C kernel against ``struct`` (bare, and with
the NaN/sign/range checks of the policy). One LSA body: the floats of a Link
TLV (6) and of a 52-path reachability vector (104, the most that fit in
1480 octets), packed and spliced between their integer fields with one C
call per body, against ``struct`` per sub-TLV / per path entry (what
``wire.encode`` does). Bulk runs (8, 64, 4096): the C kernel against
``struct`` and numpy.

    .venv/bin/python bench/test_bench_floats.py [--old OLD_WIRE_PY]

prints min-of-7 timings (runs interleaved, so load on a shared machine hits
every case alike); ``--old`` also times ``encode``/``decode`` of an earlier
wire.py (``git show b073b82:pyfrr_pwr/proto/wire.py``, one cffi call per
float). Under pytest-benchmark: ``pytest bench/test_bench_floats.py``.
"""

import struct
import sys
import timeit

import numpy as np
import pytest

from pyfrr_pwr.proto import wire

STRUCT_DT = np.dtype([("v", ">f4")])
_F = struct.Struct(">f").pack


def link(mod=wire):
    return mod.LinkTLV("10.0.0.2", local_addrs=("10.1.0.0",), remote_addrs=("10.1.0.1",), max_bw=1.25e9,
                       avail_bw=1e9, pwr_consumed=1.0, pwr_available=0.5)  # fmt: skip


def vector(mod=wire):
    return mod.ReachabilityVector(("10.0.0.1",), "0.0.0.2", tuple(
        mod.PathInfo(f"10.0.{i}.7", 0.5 + i / 7, 1e9 - i, 30, 3, 1, 250) for i in range(52)))  # fmt: skip


LINK6 = (1.25e9, 2.5e9, 1e9, 2e-9, 1.0, 0.5)  # every float field of a Link TLV
VECTOR = vector()
VEC_FLOATS = [x for p in VECTOR.paths for x in (p.pwr_sum, p.min_avail_bw)]
_PATH_INTS = struct.Struct(">IHHII").pack
_HDR = struct.Struct(">HH").pack


def numpy_structured(a):
    out = np.empty(len(a), dtype=STRUCT_DT)
    out["v"] = a
    return out.tobytes()


def link_floats_one_c_call(vals=LINK6, codes=(6, 32772, 32, 10, 11, 12)):
    """The float sub-TLVs of one Link TLV with one C call for the body."""
    f = wire.pack_floats(vals)
    return b"".join([_HDR(c, 4) + f[4 * i : 4 * i + 4] for i, c in enumerate(codes)])


def link_floats_struct(vals=LINK6, codes=(6, 32772, 32, 10, 11, 12)):
    """The same with wire.encode's path: one checked struct call each."""
    sub = struct.Struct(">HHf").pack
    return b"".join([sub(c, 4, wire._chk(v, "x")) for c, v in zip(codes, vals)])


def vector_paths_one_c_call(paths=VECTOR.paths):
    """The 28-octet path entries of a vector, floats by one C call."""
    f = wire.pack_floats([x for p in paths for x in (p.pwr_sum, p.min_avail_bw)])
    return b"".join([wire._ip(p.endpoint, "e") + f[8 * i : 8 * i + 8]
                     + _PATH_INTS(p.te_metric_sum, p.hop_count, 0, p.admin_groups, p.delay_us)
                     for i, p in enumerate(paths)])  # fmt: skip


def vector_paths_struct(paths=VECTOR.paths):
    """The same with wire.encode's path: one struct call per entry."""
    return b"".join([wire._PATH.pack(wire._ip(p.endpoint, "e"), wire._chk(p.pwr_sum, "p"), wire._chk(p.min_avail_bw, "b"),
                                     p.te_metric_sum, p.hop_count, 0, p.admin_groups, p.delay_us)
                     for p in paths])  # fmt: skip


def cases(mod=wire):
    """name -> callable; each group's entries return the same bytes."""
    v = 1.25e9
    lk, vec = link(mod), vector(mod)
    link_body, vec_body = mod.encode([lk]), mod.encode([vec])
    out = {
        "1 float: C pack_floats([v])": lambda: mod.pack_floats([v]),
        "1 float: struct.pack": lambda: _F(v),
        "1 float: struct.pack, checked": lambda: _F(wire._chk(v, "x")),
        "Link TLV, 6 floats: one C call": lambda: wire.pack_floats(LINK6),
        "Link TLV, 6 floats: struct, checked": lambda: [_F(wire._chk(x, "x")) for x in LINK6],
        "Link TLV, 6 float sub-TLVs: one C call + splice": link_floats_one_c_call,
        "Link TLV, 6 float sub-TLVs: struct per sub-TLV": link_floats_struct,
        "vector, 104 floats: one C call": lambda: wire.pack_floats(VEC_FLOATS),
        "vector, 104 floats: struct, checked": lambda: [_F(wire._chk(x, "x")) for x in VEC_FLOATS],
        "vector, 52 entries: one C call + splice": vector_paths_one_c_call,
        "vector, 52 entries: struct per entry": vector_paths_struct,
    }
    out.update({
        "encode Link TLV": lambda: mod.encode([lk]),
        "decode Link TLV": lambda: mod.decode(link_body),
        "encode 52-path vector": lambda: mod.encode([vec]),
        "decode 52-path vector": lambda: mod.decode(vec_body),
    })  # fmt: skip
    return out


def test_alternatives_agree():
    assert link_floats_one_c_call() == link_floats_struct()
    assert vector_paths_one_c_call() == vector_paths_struct()


@pytest.mark.parametrize("name", list(cases()))
def test_body_floats(benchmark, name):
    benchmark.group = name.split(":")[0]
    benchmark(cases()[name])


def impls(vals, lst):
    n = len(lst)
    return {
        "pyfrr_pwr": lambda: wire.pack_floats(vals),
        "pyfrr_pwr_list": lambda: wire.pack_floats(lst),
        "struct": lambda: struct.pack(f">{n}f", *lst),
        "numpy_astype": lambda: vals.astype(">f4").tobytes(),
        "numpy_structured": lambda: numpy_structured(vals),
    }


@pytest.mark.parametrize("n", [8, 64, 4096])
@pytest.mark.parametrize("impl", ["pyfrr_pwr", "pyfrr_pwr_list", "struct", "numpy_astype", "numpy_structured"])
def test_pack_floats(benchmark, impl, n):
    vals = np.random.default_rng(5).uniform(0, 1e10, n)
    fns = impls(vals, vals.tolist())
    benchmark.group = f"pack {n} float32"
    benchmark.extra_info.update(impl=impl, n=n)
    out = benchmark(fns[impl])
    assert out == fns["numpy_astype"]()


def _load(path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("wire_old", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["wire_old"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def main(argv):
    fns = cases()
    if "--old" in argv:
        old = _load(argv[argv.index("--old") + 1])
        fns.update({f"{k} (old wire.py)": f for k, f in cases(old).items() if k.startswith(("encode", "decode", "1 float: C"))})
    best = dict.fromkeys(fns, float("inf"))
    number = {k: max(1, int(2e-3 / min(timeit.repeat(f, number=1, repeat=3)))) for k, f in fns.items()}
    for _ in range(7):  # interleaved: a burst of load hits every case alike
        for k, f in fns.items():
            best[k] = min(best[k], timeit.timeit(f, number=number[k]) / number[k])
    for k in sorted(fns, key=lambda k: (k.split(":")[0].replace(" (old wire.py)", ""), k)):
        print(f"{best[k] * 1e6:10.2f} us  {k}")


if __name__ == "__main__":
    main(sys.argv[1:])
