#!/usr/bin/env python3
"""A long fuzzing campaign against pyfrr-pwr's input loaders (issue 11 sec. 5).

    .venv/bin/python tests/fuzz/campaign.py --target all -n 1000000 --seed 1

Targets, run in-process:

  power     files.power.load_power on mutated power.yml files, then what
            the agent computes from one that loads (POWER of every port,
            its Link TLV encoded): a crash there would kill the agent
  topology  files.topology.load_topology on mutated .clab.yml files, without
            containerlab's schema (--schema to use it), in a copy of
            containerlab/ so that the shipped binds resolve
  frrconf   files.topology.parse_frr_conf on mutated frr.conf files
  encode    `pyfrr-pwr encode JSON` (cli.main.main) on mutated TLV JSON

Seeds are the shipped files (containerlab/, frr-config/) and TLVs built
here. Each input is a seed mutated at the byte level (bits, tokens YAML and
the loaders care about, deletions, duplications, splices) or at the
structure level (a value replaced by an awkward one, keys added, removed or
renamed, values shared so the dump has aliases, deep nesting), or both.

Outcomes per target: ok, error (a ConfigError whose every line starts with
file:line:, or exit 2 for encode), unlocated (a ConfigError without
file:line), crash (any other exception, exit 70), timeout (--timeout CPU
seconds), slow (over 1 s of CPU, counted beside its outcome); with
--pipeline, pipeline-error (a ConfigError of offline.pipeline after a clean
load). Crashes, unlocated errors and timeouts are findings: saved under
--out (default $TMPDIR/pyfrr-pwr-fuzz) with the traceback, deduplicated by
where they were raised; --replay runs one saved input again. Exit status 0
if nothing was found, 1 otherwise. A million inputs per target take hours:
run it under nice, one target per core.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from pyfrr_pwr.files.power import ConfigError, load_power  # noqa: E402
from pyfrr_pwr.files.topology import load_topology, parse_frr_conf  # noqa: E402

TARGETS = ("power", "topology", "frrconf", "encode")

# -- what to splice in ------------------------------------------------------------

TOKENS = [
    b".inf", b"-.inf", b".nan", b".NaN", b"1e400G", b"1.0e+400", b"1.0e-300", b"9" * 400, b"9" * 5000, b"0", b"-0", b"-1", b"0x1f", b"0o7",
    b"1_000", b"!!float", b"!!int", b"!!bool", b"!!binary", b"!!timestamp", b"!!set", b"!!omap", b"!!pairs", b"!!str", b"!!null", b"!!map",
    b"!!seq", b"!foo", b"!<tag:yaml.org,2002:python/object:os.system>", b"&a ", b"*a", b"<<: *a", b"<<: ", b"[", b"]", b"{", b"}", b": ",
    b"- ", b"? ", b"|", b">-", b"'", b'"', b"#", b"~", b"null", b"true", b"yes", b"on", b"no", b"=", b"10G", b"2.5G", b"100M", b"\n",
    b"\n  ", b"\n    ", b"\t", b"\x00", b"\r", b"\xc2\x85", b"\xef\xbb\xbf", b"\xff", b"\xc3", b"\xed\xa0\x80", b"---\n", b"...\n",
    b"%YAML 1.1\n", b"%TAG ! tag:x,2000:\n", b"2001-12-14", b"127.0.0.1:99999", b":2607", b"/99", b"999.0.0.0/8", b"1.2.3",
    b"4294967296", b"65536", b"area ", b"network ", b"ip address ", b"ip ospf area ", b"ip ospf cost ", b"router-id ", b"interface ",
    b"router ospf\n", b"exit\n", b"!\n", b"/etc/frr/frr.conf", b"/etc/pyfrr-pwr/power.yml", b"/dev/zero", b"../", b"\\0", b"\\x00",
    b"\\u0000", b"\\ud800", b"NaN", b"Infinity", b"-Infinity", b"1e400", b'"tlv"', b"null", b"[]", b"{}",
]  # fmt: skip

WORDS = ["10G", "2.5G", "1e400G", "-1G", "0", "", "x" * 300, "hwmon", "rapl", "linear", "flattening", "exponential", "127.0.0.1:2607",
         "127.0.0.1:99999", ":1", "LC1", "eth1", "r1", "0.0.0.0", "10.0.0.1", "1.2.3", "999.1.1.1", "/etc/frr/frr.conf",
         "fig-2-1-7/A/frr.conf:/etc/frr/frr.conf", "a:b", "a\x00b", "\udcff", "draft", "experimental", "veth", "linux", "host:eth1",
         "r1:eth1", "te-endpoint", "link", "area-border", "reachability-vector", "unknown", "00ff", "zz"]  # fmt: skip


def awkward(rng: random.Random, keys: list, depth: int = 0):
    """A value a loader should refuse cleanly (or accept)."""
    r = rng.random()
    if r < 0.25:
        return rng.choice([0, -1, 1, 7, 255, 256, 65535, 65536, 2**31, 2**32, 2**63, 2**64, -(2**63), 10**30, 10**400, True, False, None])
    if r < 0.45:
        return rng.choice([0.0, -0.0, 0.5, 1.0, 1.01, 1.0000000001, 4.0, 100.0, 1000.0, 1e-300, 5e-324, 1e308, -1e308, math.inf, -math.inf, math.nan])
    if r < 0.65:
        return rng.choice(WORDS)
    if r < 0.75 and depth < 3:
        return [awkward(rng, keys, depth + 1) for _ in range(rng.randrange(4))]
    if r < 0.85 and depth < 3:
        return {rng.choice(keys + [0, 1, True, None, 1.5]): awkward(rng, keys, depth + 1) for _ in range(rng.randrange(4))}
    if r < 0.9:
        v: object = 1
        for _ in range(rng.randrange(20, 60)):
            v = [v] if rng.random() < 0.5 else {rng.choice(keys): v}
        return v
    return rng.choice([[], {}, [[0, 1], [1, 2]], [[0.0, 0], [1.0, 0]], {"a": [1, 2]}])


# -- mutations ----------------------------------------------------------------


def mutate_bytes(rng: random.Random, b: bytes, others: list) -> bytes:
    b = bytearray(b)
    for _ in range(rng.choice((1, 1, 2, 3, 5, 8))):
        n = len(b)
        i = rng.randrange(n + 1)
        op = rng.randrange(8)
        if op == 0 and n:
            b[min(i, n - 1)] ^= 1 << rng.randrange(8)
        elif op in (1, 2):
            b[i:i] = rng.choice(TOKENS)
        elif op == 3 and n:
            del b[i : i + rng.randrange(1, 40)]
        elif op == 4 and n:
            j = min(n, i + rng.randrange(1, 200))
            b[j:j] = b[i:j] * rng.randrange(1, 4)
        elif op == 5 and n:
            b[i : i + rng.randrange(1, 8)] = rng.choice(TOKENS)
        elif op == 6 and others:
            o = rng.choice(others)
            k = rng.randrange(len(o) + 1)
            b[i:] = o[k : k + rng.randrange(1, 400)] + b[i:]
        else:
            b[i:i] = bytes([rng.randrange(256)])
    return bytes(b)


def _containers(doc, path=()):
    yield path, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _containers(v, path + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _containers(v, path + (i,))


def _keys(doc) -> list:
    return sorted({k for _, d in _containers(doc) if isinstance(d, dict) for k in d if isinstance(k, str)})


def mutate_structure(rng: random.Random, doc, keys: list):
    doc = json.loads(json.dumps(doc))  # a private copy (the seeds are JSON-like)
    for _ in range(rng.choice((1, 1, 2, 3))):
        spots = list(_containers(doc))
        path, node = rng.choice(spots)
        parent = None
        if path:
            parent = doc
            for p in path[:-1]:
                parent = parent[p]
        op = rng.randrange(6)
        if op == 0 and parent is not None:  # replace
            parent[path[-1]] = awkward(rng, keys)
        elif op == 1 and isinstance(node, dict):  # add a key
            node[rng.choice(keys + [0, 1, True, None])] = awkward(rng, keys)
        elif op == 2 and isinstance(node, dict) and node:  # remove a key
            node.pop(rng.choice(list(node)))
        elif op == 3 and isinstance(node, dict) and node:  # rename a key
            k = rng.choice(list(node))
            node[rng.choice(keys + [str(k).upper(), 1])] = node.pop(k)
        elif op == 4 and parent is not None and spots:  # share a value: aliases in the dump
            _, other = rng.choice(spots)
            if other is not doc and not any(x is parent for _, x in _containers(other)):  # no cycles
                parent[path[-1]] = other
        elif op == 5 and isinstance(node, list):
            node.extend(awkward(rng, keys) for _ in range(rng.randrange(1, 4)))
        elif parent is not None:
            parent[path[-1]] = awkward(rng, keys)
    return doc


def dump_yaml(rng: random.Random, doc) -> bytes:
    try:
        return yaml.dump(
            doc, Dumper=yaml.SafeDumper, sort_keys=rng.random() < 0.3, default_flow_style=rng.choice((None, False, True)), allow_unicode=True
        ).encode("utf-8", "surrogateescape")
    except (yaml.YAMLError, RecursionError, ValueError, TypeError):
        return json.dumps(doc, default=str).encode("utf-8", "surrogateescape")


# -- seeds ----------------------------------------------------------------------

MINI_CLAB = """\
name: mini
topology:
  kinds:
    linux: {image: "quay.io/frrouting/frr:8.4.1"}
  defaults: {kind: linux}
  nodes:
    r1:
      binds:
        - mini/r1/frr.conf:/etc/frr/frr.conf
        - mini/r1/power.yml:/etc/pyfrr-pwr/power.yml
    r2:
      group: g
  groups:
    g: {binds: ["mini/r1/frr.conf:/etc/frr/frr.conf"], env: {A: "1"}}
  links:
    - endpoints: [r1:eth1, r2:eth1]
    - type: veth
      endpoints: [{node: r1, interface: eth2}, {node: r2, interface: eth2}]
"""
MINI_POWER = """\
router: r1
base_speed: 10G
line_cards:
  LC1: {power_w: 200, max_power_w: 260, port_speeds: [10G, 10G]}
  LC2: {profile: {shape: exponential, idle_w: 100, peak_w: 200, steepness: 3}}
ports:
  eth1: {line_card: LC1, speed: 10G, available: 5G}
  eth2: {line_card: LC2, speed: 10G, highest_speed: 100G}
  eth3: {speed: 10G, power_w: 12, te_metric: 10, admin_group: 1, delay_us: 5}
te_endpoint: {head: true, tail: false}
ksp: {k: 4, constraints: {min_bandwidth: 1G, max_hops: 8, max_delay: 100.5}}
agent: {interval: 0.5, api: "127.0.0.1:2607", signal_key_file: key.txt, signal_key_id: 3, reservation_refresh: 2, reservation_hold: 7}
banding: {ratio: 1.5, hysteresis: 0.1}
"""
MINI_FRR = """\
interface eth1
 ip address 10.0.0.1/31
 ip ospf area 0.0.0.0
 ip ospf cost 10
exit
!
interface eth2
 ip address 10.0.1.1/31
!
router ospf
 ospf router-id 10.0.255.1
 network 10.0.1.0/24 area 1
exit
"""


def _tlv_seeds() -> list:
    from pyfrr_pwr.proto import wire, wirejson

    tlvs = [
        wire.LinkTLV("10.0.0.2", local_addrs=("10.0.0.1",), remote_addrs=("10.0.0.2",), te_metric=10, max_bw=1.25e9, highest_bw=1.25e10, avail_bw=6e8,
                     admin_group=1, delay_us=250, pwr_consumed=1e-7, pwr_available=2e-8, pwr_mcast=3e-8, generation=4, unknown=((40000, b"\x01\x02"),)),
        wire.TEEndpoint("10.0.0.1", 3),
        wire.AreaBorder("10.0.0.1", ("0.0.0.0", "0.0.0.1")),
        wire.ReachabilityVector(("10.0.0.1", "10.0.0.9"), "0.0.0.1", (wire.PathInfo("10.0.2.1", 1e-7, 1e8, 20, 3, 1, 40), wire.PathInfo("10.0.2.2", 2e-7, 1e8)),
                                wire.Fragment(7, 0, 2)),
        wire.UnknownTLV(40001, b"\xde\xad"),
    ]  # fmt: skip
    one = [wirejson.to_dict(t) for t in tlvs]
    return [one, one[:1], [one[3]], one[3], [one[0], one[0]]]


class Target:
    """Seeds, a mutator and a runner for one loader."""

    def __init__(self, name: str, work: Path, schema: bool, pipeline: bool = False):
        self.name, self.work, self.pipeline = name, work, pipeline
        self.prev_env = os.environ.get("PYFRR_PWR_CLAB_SCHEMA")
        if name == "power":
            files = [ROOT / "frr-config/power.example.yml", *sorted(ROOT.glob("containerlab/*/*/power.yml"))]
            self.seeds = _unique([f.read_bytes() for f in files] + [MINI_POWER.encode()])
            (work / "key.txt").write_text("a signalling key of 32 characters\n")
            self.path = work / "power.yml"
        elif name == "topology":
            shutil.copytree(ROOT / "containerlab", work, dirs_exist_ok=True)
            (work / "mini/r1").mkdir(parents=True, exist_ok=True)
            (work / "mini/r1/frr.conf").write_text(MINI_FRR)
            (work / "mini/r1/power.yml").write_text(MINI_POWER.replace("signal_key_file: key.txt, ", ""))
            files = sorted(ROOT.glob("containerlab/*.clab.yml"))
            self.seeds = _unique([MINI_CLAB.encode()] + [f.read_bytes() for f in files])
            self.weights = [6] + [1] * (len(self.seeds) - 1)  # the small one mostly: fast
            self.path = work / "fuzz.clab.yml"
            if not schema:
                os.environ["PYFRR_PWR_CLAB_SCHEMA"] = str(work / "no-such-schema.json")
        elif name == "frrconf":
            files = [ROOT / "frr-config/frr.conf.example", *sorted(ROOT.glob("containerlab/*/*/frr.conf"))]
            self.seeds = _unique([f.read_bytes() for f in files if f.is_file()] + [MINI_FRR.encode()])
            self.path = work / "frr.conf"
        else:
            self.seeds = [json.dumps(d).encode() for d in _tlv_seeds()]
            self.path = None
        if not hasattr(self, "weights"):
            self.weights = [1] * len(self.seeds)
        self.docs = []
        for s in self.seeds:
            try:
                d = json.loads(s) if name == "encode" else yaml.safe_load(s)
            except (ValueError, yaml.YAMLError):
                continue
            if isinstance(d, (dict, list)):
                self.docs.append(d)
        self.keys = sorted({k for d in self.docs for k in _keys(d)}) or ["x"]
        self.structured = name in ("power", "topology", "encode") and bool(self.docs)

    def close(self):
        if self.name == "topology":
            if self.prev_env is None:
                os.environ.pop("PYFRR_PWR_CLAB_SCHEMA", None)
            else:
                os.environ["PYFRR_PWR_CLAB_SCHEMA"] = self.prev_env

    def generate(self, rng: random.Random) -> bytes:
        if self.structured and rng.random() < 0.5:
            doc = mutate_structure(rng, rng.choice(self.docs), self.keys)
            if self.name == "encode":
                data = json.dumps(doc, default=str).encode("utf-8", "surrogateescape")
            else:
                data = dump_yaml(rng, doc)
            return mutate_bytes(rng, data, self.seeds) if rng.random() < 0.3 else data
        if self.name == "frrconf" and rng.random() < 0.4:
            lines = rng.choices(self.seeds, self.weights)[0].split(b"\n")
            for _ in range(rng.randrange(1, 4)):
                i = rng.randrange(len(lines))
                words = lines[i].split(b" ")
                if len(words) > 1:
                    words[rng.randrange(1, len(words))] = rng.choice(TOKENS).strip() or b"x"
                lines[i] = b" ".join(words)
                if rng.random() < 0.3:
                    lines.insert(rng.randrange(len(lines) + 1), lines[rng.randrange(len(lines))])
            return b"\n".join(lines)
        return mutate_bytes(rng, rng.choices(self.seeds, self.weights)[0], self.seeds)

    def run(self, data: bytes) -> tuple[str, str]:
        """(outcome, detail)."""
        if self.name == "encode":
            from pyfrr_pwr.cli.main import main

            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    rc = main(["encode", "--", data.decode("utf-8", "surrogateescape")])
                except SystemExit as exc:  # argparse
                    rc = exc.code
            e = err.getvalue()
            if rc == 0:
                return "ok", ""
            if rc == 2 and "Traceback" not in e and (e.startswith("pyfrr-pwr: JSON") or e.startswith("pyfrr-pwr encode: ")):
                return "error", e
            return ("crash" if rc == 70 else "unlocated"), e
        self.path.write_bytes(data)
        try:
            if self.name == "power":
                cfg = load_power(self.path)
                _advertise(cfg)  # what the agent does with it next: a crash here kills the agent
            elif self.name == "topology":
                topo = load_topology(self.path)
                if self.pipeline:  # what `metric` and `paths` do next (offline.pipeline)
                    from pyfrr_pwr.offline.pipeline import build_teds, link_rows

                    try:
                        link_rows(topo)
                        build_teds(topo)
                    except ConfigError as exc:
                        return "pipeline-error", str(exc)
            else:
                parse_frr_conf(self.path)
        except ConfigError as exc:
            msg = str(exc)
            located = all(re.match(rf"{re.escape(str(self.work))}/\S+:\d+: \S", line) for line in msg.splitlines())
            return ("error" if located else "unlocated"), msg
        return "ok", ""


def _advertise(cfg) -> None:
    """Every port's POWER figures (idle, half and fully loaded) and its Link
    TLV encoded, as the agent computes and floods them; all finite."""
    from pyfrr_pwr.model import advert
    from pyfrr_pwr.proto import wire

    for ifname, p in cfg.ports.items():
        for avail in (None, 0.0, p.speed / 2, p.speed):
            m = cfg.port_metrics(ifname, available_bps=avail)
            for x in (m.consumed, m.available, m.mcast, m.effective):
                if x is not None and not (math.isfinite(x) and x >= 0):
                    raise ArithmeticError(f"ports.{ifname}: a POWER figure of {x!r}")
        wire.encode([advert.link_tlv(cfg, ifname, "10.0.0.2", "10.0.0.1", "10.0.0.2")])
    wire.encode(advert.node_tlvs(cfg, "10.0.0.1", {"0.0.0.0", "0.0.0.1"}))


def _unique(seq: list) -> list:
    out, seen = [], set()
    for s in seq:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


class _Timeout(BaseException):
    pass


def _alarm(*_):
    raise _Timeout()


def _arm(cpu_s: float) -> None:
    """A hang is cpu_s of CPU time (fair on a busy machine) or ten times
    that of wall-clock time (a hang that sleeps or blocks); 0 disarms."""
    signal.setitimer(signal.ITIMER_VIRTUAL, cpu_s)
    signal.setitimer(signal.ITIMER_REAL, cpu_s * 10)


def _signature(tb: traceback.StackSummary | None, exc: BaseException | None, outcome: str, detail: str) -> str:
    if exc is not None and tb:
        f = tb[-1]
        return f"{type(exc).__name__} at {Path(f.filename).name}:{f.lineno}"
    if outcome in ("crash", "unlocated"):  # from the message: its shape without the figures
        first = (detail.strip().splitlines() or [""])[0]
        return outcome + ": " + re.sub(r"\d+|'[^']*'", "#", first)[:100]
    return outcome


def campaign(target: str, n: int, seed: int, out: Path, timeout: float, report_every: int, schema: bool, pipeline: bool = False) -> Counter:
    rng = random.Random(f"{seed}:{target}")
    work = Path(tempfile.mkdtemp(prefix=f"pyfrr-fuzz-{target}-"))
    t = Target(target, work, schema, pipeline)
    counts: Counter = Counter()
    found: dict = {}
    signal.signal(signal.SIGALRM, _alarm)
    signal.signal(signal.SIGVTALRM, _alarm)
    start = time.monotonic()
    try:
        for i in range(1, n + 1):
            data = t.generate(rng)
            exc = tbs = None
            t0 = time.process_time()
            _arm(timeout)
            try:
                outcome, detail = t.run(data)
            except _Timeout:
                outcome, detail = "timeout", f"over {timeout:g} s of CPU time (or {10 * timeout:g} s)"
            except Exception as e:  # the finding
                outcome, detail, exc = "crash", "".join(traceback.format_exception(e)), e
                tbs = traceback.extract_tb(e.__traceback__)
            finally:
                _arm(0)
            dt = time.process_time() - t0  # CPU seconds: fair on a busy machine
            counts[outcome] += 1
            if dt > 1.0:
                counts["slow"] += 1
                if counts["slow"] <= 20:  # kept for a look, not a finding
                    d = out / target / "slow"
                    d.mkdir(parents=True, exist_ok=True)
                    (d / f"{hashlib.sha1(data).hexdigest()[:12]}-{dt:.1f}s.in").write_bytes(data)
            if outcome not in ("ok", "error", "pipeline-error"):
                sig = _signature(tbs, exc, outcome, detail)
                if sig not in found:
                    h = hashlib.sha1(data).hexdigest()[:12]
                    d = out / target
                    d.mkdir(parents=True, exist_ok=True)
                    (d / f"{h}.in").write_bytes(data)
                    (d / f"{h}.txt").write_text(f"{sig}\ninput #{i}, seed {seed}, {dt:.2f} s\n\n{detail}")
                    found[sig] = [0, str(d / f"{h}.in")]
                    print(f"[{target}] #{i}: NEW {outcome}: {sig} -> {d / h}.in", flush=True)
                found[sig][0] += 1
            if report_every and i % report_every == 0:
                rate = i / (time.monotonic() - start)
                print(f"[{target}] {i}/{n} ({rate:.0f}/s): " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), flush=True)
    finally:
        t.close()
        shutil.rmtree(work, ignore_errors=True)
    el = time.monotonic() - start
    print(f"[{target}] done: {n} inputs in {el:.0f} s: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), flush=True)
    for sig, (cnt, where) in sorted(found.items(), key=lambda kv: -kv[1][0]):
        print(f"[{target}]   {cnt:7d} x {sig}  e.g. {where}", flush=True)
    counts["unique_findings"] = len(found)
    return counts


def replay(target: str, path: Path, schema: bool, pipeline: bool = False) -> int:
    work = Path(tempfile.mkdtemp(prefix=f"pyfrr-replay-{target}-"))
    t = Target(target, work, schema, pipeline)
    try:
        outcome, detail = t.run(path.read_bytes())
        print(outcome)
        print(detail)
        return 0 if outcome in ("ok", "error") else 1
    finally:
        t.close()
        shutil.rmtree(work, ignore_errors=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--target", choices=TARGETS + ("all",), default="all")
    ap.add_argument("-n", type=int, default=10**6, metavar="COUNT", help="inputs per target (default 10^6)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "pyfrr-pwr-fuzz", help="where findings are saved (default %(default)s)")
    ap.add_argument("--timeout", type=float, default=10.0, help="CPU seconds per input before it counts as a hang")
    ap.add_argument("--mem-mb", type=int, default=2048, help="address-space limit (MemoryError beyond it); 0: none")
    ap.add_argument("--nice", type=int, default=10, help="lower the priority by this much (default 10)")
    ap.add_argument("--report-every", type=int, default=10000)
    ap.add_argument("--schema", action="store_true", help="topology: validate against containerlab's schema too, if found")
    ap.add_argument("--pipeline", action="store_true", help="topology: also run what `metric` runs on a topology that loads (offline.pipeline)")
    ap.add_argument("--replay", type=Path, help="run one saved input of --target and print its outcome")
    a = ap.parse_args(argv)
    if a.nice:
        os.nice(a.nice)
    if a.mem_mb:
        lim = a.mem_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    import logging

    logging.getLogger("pyfrr_pwr").setLevel(logging.ERROR)  # the no-schema warning
    if a.replay:
        if a.target == "all":
            ap.error("--replay needs one --target")
        return replay(a.target, a.replay, a.schema, a.pipeline)
    total: Counter = Counter()
    for tg in TARGETS if a.target == "all" else (a.target,):
        c = campaign(tg, a.n, a.seed, a.out, a.timeout, a.report_every, a.schema, a.pipeline)
        total["findings"] += c["unique_findings"]
    return 1 if total["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
