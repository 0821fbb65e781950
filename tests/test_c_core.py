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
