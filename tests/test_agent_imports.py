"""What an agent process holds (issue 10: agent RSS <= 40 MiB): the agent's
imports (``lab.agents.AGENT_MAIN``: ``lazypkg.install()``, then
``agent.daemon``) load neither OpenSSL (``ssl``/``_ssl``, ``_hashlib``:
libssl and libcrypto), jsonschema, numpy nor networkx, and what they
replace behaves the same: HMAC-SHA256 on CPython's own ``_sha256`` (RFC
4231's vectors, ``compare_digest``), ``ssl`` loaded on its first use,
power.yml's schema checked in a child process with the errors an
in-process check gives. Import cases run in a fresh interpreter, since the
point is what a process has imported."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest
from conftest import ROOT

from pyfrr_pwr.files import power, schemacheck
from pyfrr_pwr.files.power import ConfigError, load_power

POWER_YML = ROOT / "containerlab" / "fig-2-0" / "R1" / "power.yml"


def run(code: str) -> dict:
    p = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


AGENT = """
import json, sys
from pyfrr_pwr import lazypkg
lazypkg.install()
from pyfrr_pwr.agent.daemon import main
def held(*names): return sorted(n for n in names if n in sys.modules)
HEAVY = ("ssl", "_ssl", "_hashlib", "jsonschema", "numpy", "networkx", "scipy")
def maps(s): return any(s in line for line in open("/proc/self/maps"))
"""


# ``pyfrr-pwr agent``: cli.main (its imports) first, then what AGENT_MAIN runs
CLI = "import pyfrr_pwr.cli.main\n"


@pytest.mark.parametrize("prelude", ["", CLI], ids=["lab", "cli"])
def test_the_agent_loads_no_openssl_jsonschema_numpy_or_networkx(prelude):
    out = run(
        prelude
        + AGENT
        + """
import ssl, hashlib, hmac
print(json.dumps({"held": held(*HEAVY), "ssl": type(sys.modules["ssl"]).__name__,
                  "libcrypto": maps("libcrypto"), "sha256": hashlib.sha256.__module__,
                  "compare": hmac.compare_digest.__module__}))
"""
    )
    # "ssl" is in sys.modules as a LazyModule that has not run (no _ssl)
    assert out["held"] == ["ssl"] and out["ssl"] == "LazyModule"
    assert out["libcrypto"] is False
    assert out["sha256"] == "_sha256" and out["compare"] == "_operator"


def test_loading_power_yml_as_the_agent_does_keeps_jsonschema_out():
    out = run(
        AGENT
        + f"""
from pyfrr_pwr.files.power import load_power
cfg = load_power({str(POWER_YML)!r}, isolate_schema=True)
print(json.dumps({{"held": held(*HEAVY), "router": cfg.router}}))
"""
    )
    assert out["held"] == ["ssl"] and out["router"] == "R1"


def test_hmac_sha256_without_openssl_is_rfc_4231_and_ssl_still_works_when_used():
    # RFC 4231 sec. 4.2 (test case 1) and 4.3 (test case 2)
    out = run(
        AGENT
        + """
import hashlib, hmac, asyncio
t1 = hmac.new(b"\\x0b" * 20, b"Hi There", hashlib.sha256).hexdigest()
t2 = hmac.new(b"Jefe", b"what do ya want for nothing?", hashlib.sha256).hexdigest()
same, differ = hmac.compare_digest(b"abc", b"abc"), hmac.compare_digest(b"abc", b"abd")
async def echo():
    srv = await asyncio.start_server(lambda r, w: w.write(b"pong\\n"), "127.0.0.1", 0)
    r, w = await asyncio.open_connection(*srv.sockets[0].getsockname())
    line = await r.readline()
    w.close(); srv.close()
    return line.decode().strip()
pong = asyncio.run(echo())
import ssl
ctx = ssl.create_default_context()
print(json.dumps({"t1": t1, "t2": t2, "same": same, "differ": differ, "pong": pong,
                  "ctx": type(ctx).__name__, "verify": ctx.verify_mode == ssl.CERT_REQUIRED, "_ssl": "_ssl" in sys.modules}))
"""
    )
    assert out["t1"] == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    assert out["t2"] == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert out["same"] is True and out["differ"] is False
    assert out["pong"] == "pong"
    assert out["ctx"] == "SSLContext" and out["verify"] is True and out["_ssl"] is True


def test_signal_and_liveness_macs_are_the_same_without_openssl():
    code = """
import json
from pyfrr_pwr.dataplane import liveness
from pyfrr_pwr.proto import signal
print(json.dumps([liveness.encode(liveness.T_PROBE, 7, 3, 9, 12345, key=b"k" * 32).hex(),
                  signal._mac(b"s" * 32, 1, "10.0.0.1", "10.0.0.2", 1700000000000, "00" * 12, b"{}")]))
"""
    plain = run(code)
    lean = run("from pyfrr_pwr import lazypkg; lazypkg.install()\n" + code)
    assert lean == plain


def _bad(tmp_path, text: str):
    p = tmp_path / "power.yml"
    p.write_text(POWER_YML.read_text().replace("  eth1:\n    speed: 10G\n", text, 1))
    return p


@pytest.fixture(params=["fork", "spawn"])
def child(request, monkeypatch):
    """How the child is made: a fork (a process with one thread: the
    agent's start) or a fresh interpreter (one with threads: a reload)."""
    monkeypatch.setattr(schemacheck.threading, "active_count", lambda: 1 if request.param == "fork" else 3)
    monkeypatch.setattr(schemacheck, "_passed", None)
    return request.param


@pytest.mark.parametrize(
    "text",
    [
        "  eth1:\n    speed: 10G\n    mtu: 9000\n",  # an unknown field
        "  eth1:\n    speed: [10G]\n",  # a wrong type
        "".join(f"  x{i}:\n    speed: 1\n    port: {i}.5\n" for i in range(30)) + "  eth1:\n    speed: 10G\n",  # more than MAX_ERRORS
    ],
)
def test_a_bad_file_gives_the_same_errors_from_the_child(tmp_path, text, child, monkeypatch):
    p = _bad(tmp_path, text)
    with pytest.raises(ConfigError) as here:
        load_power(p)
    # the check must not run in this process
    monkeypatch.setattr(power, "schema_errors", lambda *a, **k: pytest.fail("checked in-process"))
    with pytest.raises(ConfigError) as isolated:
        load_power(p, isolate_schema=True)
    assert str(isolated.value) == str(here.value)
    assert f"{p}:" in str(isolated.value) and "ports." in str(isolated.value)


def test_a_good_file_loads_the_same_from_the_child(child, monkeypatch):
    here = load_power(POWER_YML)
    monkeypatch.setattr(power, "schema_errors", lambda *a, **k: pytest.fail("checked in-process"))
    assert load_power(POWER_YML, isolate_schema=True) == here


def test_no_child_no_answer_checks_in_process(tmp_path, child, monkeypatch, caplog):
    p = _bad(tmp_path, "  eth1:\n    speed: 10G\n    mtu: 9000\n")
    with pytest.raises(ConfigError) as here:
        load_power(p)
    if child == "fork":
        monkeypatch.setattr(schemacheck.os, "fork", lambda: (_ for _ in ()).throw(BlockingIOError(11, "fork: Resource temporarily unavailable")))
    else:
        monkeypatch.setattr(schemacheck.sys, "executable", str(tmp_path / "no-such-python"))
    with caplog.at_level(logging.WARNING, "pyfrr_pwr.files"), pytest.raises(ConfigError) as fallback:
        load_power(p, isolate_schema=True)
    assert str(fallback.value) == str(here.value)
    assert "gave no answer" in caplog.text


def test_an_unchanged_file_starts_no_second_child(tmp_path, child, monkeypatch):
    p = tmp_path / "power.yml"
    p.write_text(POWER_YML.read_text())
    first = load_power(p, isolate_schema=True)
    calls = []

    def counted(*a):
        calls.append(a)
        raise OSError("no second child")

    monkeypatch.setattr(schemacheck, "_forked", counted)
    monkeypatch.setattr(schemacheck, "_spawned", counted)
    assert load_power(p, isolate_schema=True) == first and calls == []
    # a changed file is checked again (here: the child fails, so in-process)
    p.write_text(POWER_YML.read_text().replace("available: 3G", "available: 2G", 1))
    assert load_power(p, isolate_schema=True) != first
    assert len(calls) == 1
