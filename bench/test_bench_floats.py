"""Batch float32 packing of sub-TLV values: the C kernel against struct and
numpy (plain big-endian cast and the structured-array path), at the sizes of
one Link TLV (8), one reachability vector's floats (64) and a bulk run."""
import struct

import numpy as np
import pytest

from pyfrr_pwr.proto import wire

STRUCT_DT = np.dtype([("v", ">f4")])


def numpy_structured(a):
    out = np.empty(len(a), dtype=STRUCT_DT)
    out["v"] = a
    return out.tobytes()


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
