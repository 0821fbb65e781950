"""Issue 11 sec. 5: hostile inputs on the command line.

Every case below is a file or an argument an operator (or a fuzzer) can
give. Each must end as exit status 2 with one message naming the file, the
line and the field at fault (or the option), never as a traceback and never
through the last-resort guard of ``cli.main`` (exit 70, "internal error").
The hypothesis tests at the end throw generated inputs at each loader; the
longer campaign is ``tests/fuzz/campaign.py``.
"""

from __future__ import annotations

import json
import re
import signal
import string
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyfrr_pwr.cli.main import EX_SOFTWARE, main
from pyfrr_pwr.files.power import ConfigError, load_power
from pyfrr_pwr.files.topology import load_topology, parse_frr_conf

FIG7 = str(ROOT / "containerlab/fig-2-1-7.clab.yml")

# -- a small lab: r1 binds the files under test, r2 is plain -----------------

POWER = """\
router: r1
base_speed: 10G
line_cards:
  LC1:
    power_w: 200
    max_power_w: 260
    port_speeds: [10G, 10G]
ports:
  eth1: {line_card: LC1, speed: 10G}
  eth2: {speed: 10G, power_w: 12}
"""
# the same with a profile on LC1 (line 5)
PROFILE = POWER.replace("    power_w: 200\n    max_power_w: 260\n", "    profile: {shape: exponential, idle_w: 100, peak_w: 200}\n")

FRR = """\
interface eth1
 ip address 10.0.0.1/31
 ip ospf area 0.0.0.0
exit
!
interface eth2
 ip address 10.0.1.1/31
 ip ospf area 0
exit
!
router ospf
 ospf router-id 10.0.255.1
 network 10.0.0.0/16 area 0.0.0.0
exit
"""

CLAB = """\
name: t
topology:
  nodes:
    r1:
      kind: linux
      binds:
        - r1/frr.conf:/etc/frr/frr.conf
        - r1/power.yml:/etc/pyfrr-pwr/power.yml
    r2: {kind: linux}
  links:
    - endpoints: [r1:eth1, r2:eth1]
"""

FILES = {"clab": "t.clab.yml", "power": "r1/power.yml", "frr": "r1/frr.conf"}


def _sub(s: str, lab: Path) -> str:
    for k, rel in FILES.items():
        s = s.replace("{" + k + "}", str(lab / rel))
    return s.replace("{lab}", str(lab)).replace("{fig7}", FIG7)


@pytest.fixture
def lab(tmp_path):
    def make(files: dict) -> Path:
        d = tmp_path / "lab"
        (d / "r1").mkdir(parents=True, exist_ok=True)
        for k, default in (("clab", CLAB), ("power", POWER), ("frr", FRR)):
            v = files.get(k, default)
            (d / FILES[k]).write_bytes(v if isinstance(v, bytes) else v.encode())
        return d

    return make


class _Hang(BaseException):
    """Not an Exception: the guard in cli.main must not swallow it."""


@contextmanager
def _deadline(seconds: int):
    def fire(*_):
        raise _Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def run(capsys, argv):
    try:
        with _deadline(30):
            rc = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        rc = exc.code
    out = capsys.readouterr()
    return rc, out.out, out.err


def _bomb(levels: int, width: int) -> str:
    """A billion-laughs document: ``levels`` anchors, each ``width`` aliases of the previous."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


# -- the table ------------------------------------------------------------------
# (id, files, argv, expected): files override the lab's; argv and expected use
# {clab} {power} {frr} {lab} {fig7}; an expected item is a substring or a regex.

# fmt: off
P, M = "{power}", ["metric", "{clab}"]
deep_flow = POWER + "banding: " + "[" * 1000 + "]" * 1000 + "\n"
deep_block = POWER + "banding:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(1000)) + " " * 1001 + "x: 1\n"
CASES = [
    # power.yml: what the YAML reader must refuse
    ("power-not-utf8", {"power": POWER.encode() + b"# caf\xe9\n"}, M, [f"{P}:11:", "not UTF-8", f"offset {len(POWER) + 5}"]),
    ("power-not-utf8-in-value", {"power": POWER.replace("r1", "r\udcff1", 1).encode("utf-8", "surrogateescape")}, M, [f"{P}:1:", "not UTF-8", "offset 9"]),
    ("power-deep-flow", {"power": deep_flow}, M, [f"{P}:11: banding.0.0", "nested deeper than 32"]),
    ("power-deep-block", {"power": deep_block}, M, [re.compile(r"r1/power\.yml:\d+: banding\.k0\.k1\.k2"), "nested deeper than 32"]),
    ("power-float-x", {"power": POWER.replace("power_w: 12", "power_w: !!float x")}, M, [f"{P}:10: ports.eth2.power_w:", "!!float"]),
    ("power-float-empty", {"power": POWER + "banding: !!float\n"}, M, [f"{P}:11: banding:", "!!float"]),
    ("power-int-x", {"power": POWER.replace("power_w: 12", "power_w: !!int x")}, M, [f"{P}:10: ports.eth2.power_w:", "!!int"]),
    ("power-bool-x", {"power": POWER + "te_endpoint: {head: !!bool maybe}\n"}, M, [f"{P}:11: te_endpoint.head:", "!!bool"]),
    ("power-timestamp-x", {"power": POWER.replace("router: r1", "router: !!timestamp x")}, M, [f"{P}:1: router:", "!!timestamp"]),
    ("power-binary-bad", {"power": POWER.replace("router: r1", "router: !!binary '@@@'")}, M, [f"{P}:1: router:", "!!binary"]),
    ("power-unknown-tag", {"power": POWER.replace("router: r1", "router: !foo r1")}, M, [f"{P}:1: router:", "!foo"]),
    ("power-python-tag", {"power": POWER.replace("router: r1", "router: !!python/object:os.system r1")}, M, [f"{P}:1: router:", "python/object"]),
    ("power-int-5000-digits", {"power": POWER.replace("power_w: 12", "power_w: " + "9" * 5000)}, M, [f"{P}:10: ports.eth2.power_w:"]),
    ("power-int-400-digits", {"power": POWER.replace("power_w: 12", "power_w: " + "9" * 400)}, M, [f"{P}:10: ports.eth2.power_w:", "out of range"]),
    ("power-mixed-key-types", {"power": POWER.replace("  eth2: {speed: 10G, power_w: 12}", "  eth2: {speed: 10G, power_w: 12, colour: red}\n  1: {speed: 10G, power_w: 1, colour: red}")}, M, [f"{P}:11: ports.1:", "string"]),
    ("power-bool-key", {"power": POWER + "  true: {speed: 10G, power_w: 1}\n"}, M, [f"{P}:11: ports.true:", "string"]),
    ("power-null-key", {"power": POWER.replace("line_cards:\n  LC1:", "line_cards:\n  ~:")}, M, [f"{P}:4: line_cards.~:", "string"]),
    ("power-recursive-alias", {"power": POWER.replace("router: r1", "router: &r [*r]")}, M, [f"{P}:1: router", "recursive"]),
    ("power-alias-bomb", {"power": POWER + _bomb(4, 9)}, M, [re.compile(r"r1/power\.yml:1[2-4]: a\d"), "aliases"]),
    ("power-too-large", {"power": POWER + ("#" * 99 + "\n") * 30000}, M, [f"{P}:1: (top level):", "MiB"]),
    # power.yml: numbers that kill the agent (sec. 1) or the loader
    ("power-steepness-1000", {"power": PROFILE.replace("peak_w: 200}", "peak_w: 200, steepness: 1000}")}, M, [f"{P}:5: line_cards.LC1.profile.steepness:", "100"]),
    ("power-steepness-tiny", {"power": PROFILE.replace("exponential", "flattening").replace("peak_w: 200}", "peak_w: 200, steepness: 1.0e-300}")}, M, [f"{P}:5: line_cards.LC1.profile.steepness:", "1e-06"]),
    ("power-steepness-inf", {"power": PROFILE.replace("peak_w: 200}", "peak_w: 200, steepness: .inf}")}, M, [f"{P}:5: line_cards.LC1.profile.steepness:", "finite"]),
    ("power-card-power-inf", {"power": POWER.replace("power_w: 200", "power_w: .inf")}, M, [f"{P}:5: line_cards.LC1.power_w:", "finite"]),
    ("power-port-power-inf", {"power": POWER.replace("power_w: 12", "power_w: .inf")}, M, [f"{P}:10: ports.eth2.power_w:", "finite"]),
    ("power-max-power-nan", {"power": POWER.replace("max_power_w: 260", "max_power_w: .nan")}, M, [f"{P}:6: line_cards.LC1.max_power_w:", "finite"]),
    ("power-peak-inf", {"power": PROFILE.replace("peak_w: 200", "peak_w: .inf")}, M, [f"{P}:5: line_cards.LC1.profile.peak_w:", "finite"]),
    ("power-points-nan", {"power": PROFILE.replace("{shape: exponential, idle_w: 100, peak_w: 200}", "{points: [[0, 100], [1, .nan]]}")}, M, [f"{P}:5: line_cards.LC1.profile.points.1.1:", "finite"]),
    ("power-banding-ratio-inf", {"power": POWER + "banding: {ratio: .inf}\n"}, M, [f"{P}:11: banding.ratio:", "finite"]),
    ("power-banding-ratio-near-1", {"power": POWER + "banding: {ratio: 1.0000000001}\n"}, M, [f"{P}:11: banding.ratio:", "1.01"]),
    ("power-hysteresis-nan", {"power": POWER + "banding: {hysteresis: .nan}\n"}, M, [f"{P}:11: banding.hysteresis:", "finite"]),
    ("power-interval-inf", {"power": POWER + "agent: {interval: .inf}\n"}, M, [f"{P}:11: agent.interval:", "finite"]),
    ("power-max-delay-inf", {"power": POWER + "ksp: {constraints: {max_delay: .inf}}\n"}, M, [f"{P}:11: ksp.constraints.max_delay:", "finite"]),
    ("power-max-hops-huge", {"power": POWER + "ksp: {constraints: {max_hops: 99999999999}}\n"}, M, [f"{P}:11: ksp.constraints.max_hops:"]),
    ("power-rate-overflows", {"power": POWER.replace("{speed: 10G, power_w: 12}", "{speed: 1e400G, power_w: 12}")}, M, [f"{P}:10: ports.eth2.speed:", "finite"]),
    ("power-profile-no-power", {"power": PROFILE.replace("idle_w: 100, peak_w: 200", "idle_w: 0, peak_w: 0")}, M, [f"{P}:5: line_cards.LC1.profile:", "no power"]),
    ("power-points-no-power", {"power": PROFILE.replace("{shape: exponential, idle_w: 100, peak_w: 200}", "{points: [[0, 0], [1, 0]]}")}, M, [f"{P}:5: line_cards.LC1.profile:", "no power"]),
    ("power-port-no-power", {"power": POWER.replace("power_w: 12", "power_w: 0")}, M, [f"{P}:10: ports.eth2.power_w:", "no power"]),
    ("power-agent-api-port", {"power": POWER + "agent: {api: '127.0.0.1:99999'}\n"}, M, [f"{P}:11: agent.api:", "65535"]),
    ("power-agent-api-no-port", {"power": POWER + "agent: {api: localhost}\n"}, M, [f"{P}:11: agent.api:", "HOST:PORT"]),
    # the agent reads the same file
    ("agent-power-not-utf8", {"power": POWER.encode() + b"# caf\xe9\n"}, ["agent", "-c", "{power}", "--socket", "{lab}/a.sock"], [f"{P}:11:", "not UTF-8"]),
    ("agent-api-port", {}, ["agent", "-c", "{lab}/none.yml", "--api", "127.0.0.1:99999"], ["--api", "65535"]),
    ("agent-api-no-port", {}, ["agent", "-c", "{lab}/none.yml", "--api", "127.0.0.1"], ["--api", "HOST:PORT"]),
    # frr.conf
    ("frr-if-area-too-big", {"frr": FRR.replace("ip ospf area 0.0.0.0", "ip ospf area 99999999999")}, M, ["{frr}:3: interface eth1: ip ospf area:", "4294967295"]),
    ("frr-net-area-too-big", {"frr": FRR.replace("/16 area 0.0.0.0", "/16 area 99999999999")}, M, ["{frr}:13: router ospf: network:", "4294967295"]),
    ("frr-net-bad-address", {"frr": FRR.replace("network 10.0.0.0/16", "network 999.0.0.0/8")}, M, ["{frr}:13: router ospf: network:", "999.0.0.0/8"]),
    ("frr-net-bad-length", {"frr": FRR.replace("network 10.0.0.0/16", "network 10.0.0.0/99")}, M, ["{frr}:13: router ospf: network:", "10.0.0.0/99"]),
    ("frr-if-bad-length", {"frr": FRR.replace("10.0.0.1/31", "10.0.0.1/99")}, M, ["{frr}:2: interface eth1: ip address:", "10.0.0.1/99"]),
    ("frr-if-no-length", {"frr": FRR.replace("10.0.0.1/31", "10.0.0.1")}, M, ["{frr}:2: interface eth1: ip address:", "A.B.C.D/M"]),
    ("frr-if-area-letters", {"frr": FRR.replace("ip ospf area 0.0.0.0", "ip ospf area xy")}, M, ["{frr}:3: interface eth1: ip ospf area:", "'xy'"]),
    ("frr-net-area-letters", {"frr": FRR.replace("/16 area 0.0.0.0", "/16 area xy")}, M, ["{frr}:13: router ospf: network:", "'xy'"]),
    ("frr-if-area-three-parts", {"frr": FRR.replace("ip ospf area 0.0.0.0", "ip ospf area 1.2.3")}, M, ["{frr}:3: interface eth1: ip ospf area:", "'1.2.3'"]),
    ("frr-router-id-bad", {"frr": FRR.replace("router-id 10.0.255.1", "router-id 999.1.1.1")}, M, ["{frr}:12: router ospf: router-id:", "999.1.1.1"]),
    ("frr-cost-too-big", {"frr": FRR.replace(" ip ospf area 0\n", " ip ospf area 0\n ip ospf cost 99999999999\n")}, M, ["{frr}:9: interface eth2: ip ospf cost:", "65535"]),
    ("frr-not-utf8", {"frr": FRR.encode().replace(b"eth2", b"eth\xff2")}, M, ["{frr}:6:", "not UTF-8"]),
    # containerlab topology
    ("clab-not-utf8", {"clab": CLAB.encode().replace(b"name: t", b"name: t\xff")}, M, ["{clab}:1:", "not UTF-8"]),
    ("clab-deep", {"clab": CLAB + "mgmt: " + "{a: " * 300 + "1" + "}" * 300 + "\n"}, M, ["{clab}:12: mgmt.a.a.a", "nested deeper than 32"]),
    ("clab-alias-bomb", {"clab": CLAB + "x-bomb:\n" + textwrap.indent(_bomb(4, 9), "  ")}, M, [re.compile(r"t\.clab\.yml:1[3-5]: x-bomb\.a\d"), "aliases"]),
    ("clab-bind-nul", {"clab": CLAB.replace("- r1/frr.conf:/etc/frr/frr.conf", '- "r1/fr\\0r.conf:/etc/frr/frr.conf"')}, M, ["{clab}:7: topology.nodes.r1.binds.0:"]),
    ("clab-bind-too-long", {"clab": CLAB.replace("- r1/frr.conf:", "- r1/" + "x" * 5000 + ":")}, M, ["{clab}:7: topology.nodes.r1.binds.0:"]),
    ("clab-startup-config-nul", {"clab": CLAB.replace("    r2: {kind: linux}", '    r2: {kind: linux, startup-config: "a\\0b"}')}, M, ["{clab}:9: topology.nodes.r2.startup-config:"]),
    ("clab-mixed-key-types", {"clab": CLAB.replace("    r2: {kind: linux}", "    r2: {kind: linux, flavour: x}\n    1: {kind: linux, flavour: y}")}, M, ["{clab}:10: topology.nodes.1:", "string"]),
    ("clab-float-x", {"clab": CLAB.replace("    r2: {kind: linux}", "    r2: {kind: linux, env: {A: !!float x}}")}, M, ["{clab}:9: topology.nodes.r2.env.A:", "!!float"]),
    # paths: numbers on the command line
    ("paths-k-3e9", {}, ["paths", "{fig7}", "--from", "B", "--to", "X", "-k", "3000000000"], ["-k", "1024"]),
    ("paths-k-2e9", {}, ["paths", "{fig7}", "--from", "B", "--to", "X", "-k", "2000000000"], ["-k", "1024"]),
    ("paths-k-0", {}, ["paths", "{fig7}", "--from", "B", "--to", "X", "-k", "0"], ["-k", "1024"]),
    ("paths-k-negative", {}, ["paths", "{fig7}", "--from", "B", "--to", "X", "-k", "-1"], ["-k", "1024"]),
    ("paths-max-hops-huge", {}, ["paths", "{fig7}", "--from", "B", "--to", "X", "--max-hops", "99999999999"], ["--max-hops", "65535"]),
    ("paths-max-hops-negative", {}, ["paths", "{fig7}", "--from", "B", "--to", "X", "--max-hops", "-1"], ["--max-hops", "65535"]),
    ("paths-max-delay-nan", {}, ["paths", "{fig7}", "--from", "B", "--to", "X", "--max-delay", "nan"], ["--max-delay", "finite"]),
    ("paths-max-delay-inf", {}, ["paths", "{fig7}", "--from", "B", "--to", "X", "--max-delay", "inf"], ["--max-delay", "finite"]),
    ("paths-min-bw-word", {}, ["paths", "{fig7}", "--from", "B", "--to", "X", "--min-bw", "ten"], ["--min-bw", "'ten'"]),
    ("paths-min-bw-overflow", {}, ["paths", "{fig7}", "--from", "B", "--to", "X", "--min-bw", "1e400G"], ["--min-bw", "finite"]),
    ("paths-include-any-word", {}, ["paths", "{fig7}", "--from", "B", "--to", "X", "--include-any", "zz"], ["--include-any", "'zz'"]),
    ("paths-exclude-33-bits", {}, ["paths", "{fig7}", "--from", "B", "--to", "X", "--exclude", "0x1ffffffff"], ["--exclude", "32-bit"]),
    ("paths-area-letters", {}, ["paths", "{fig7}", "--from", "B", "--to", "X", "--area", "xy"], ["--area", "'xy'"]),
    # encode: JSON from the operator
    ("encode-flags-string", {}, ["encode", '[{"tlv": "te-endpoint", "router_id": "10.0.0.1", "flags": "x"}]'], ["JSON[0].flags:", "integer"]),
    ("encode-flags-inf", {}, ["encode", '[{"tlv": "te-endpoint", "router_id": "10.0.0.1", "flags": 1e400}]'], ["JSON[0].flags:", "integer"]),
    ("encode-fragment-index-string", {}, ["encode", '{"tlv": "reachability-vector", "abr_chain": ["10.0.0.1"], "area": "0.0.0.0", "fragment": {"generation": 1, "index": "x", "count": 1}}'], ["JSON[0].fragment.index:", "integer"]),
    ("encode-fragment-index-float", {}, ["encode", '{"tlv": "reachability-vector", "abr_chain": ["10.0.0.1"], "area": "0.0.0.0", "fragment": {"generation": 1, "index": 0.5, "count": 1}}'], ["JSON[0].fragment.index:", "integer"]),
    ("encode-max-bw-string", {}, ["encode", '[{"tlv": "link", "link_id": "1.1.1.1", "max_bw": "x"}]'], ["JSON[0].max_bw:", "number"]),
    ("encode-addrs-number", {}, ["encode", '[{"tlv": "link", "link_id": "1.1.1.1", "local_addrs": 5}]'], ["JSON[0].local_addrs:", "list"]),
    ("encode-tlv-list", {}, ["encode", '[{"tlv": []}]'], ["JSON[0].tlv:", "string"]),
    ("encode-unknown-short", {}, ["encode", '[{"tlv": "link", "link_id": "1.1.1.1", "unknown": [[1]]}]'], ["JSON[0].unknown[0]:", "[type, hex]"]),
    ("encode-pwr-sum-string", {}, ["encode", '[{"tlv": "reachability-vector", "abr_chain": ["10.0.0.1"], "area": "0.0.0.0", "paths": [{"endpoint": "1.1.1.1", "pwr_sum": "x", "min_avail_bw": 1}]}]'], ["JSON[0].paths[0].pwr_sum:", "number"]),
    ("encode-abr-chain-long", {}, ["encode", json.dumps([{"tlv": "reachability-vector", "abr_chain": ["10.0.0.1"] * 300, "area": "0.0.0.0"}])], ["JSON[0].abr_chain:", "255"]),
    ("encode-deep", {}, ["encode", "[" * 100000 + "]" * 100000], ["JSON:", "nested deeper than 32"]),
    ("encode-deep-file", {"clab": "[" * 100000 + "]" * 100000}, ["encode", "@{clab}"], ["{clab}:", "nested deeper than 32"]),
    ("encode-5000-digits", {}, ["encode", '[{"tlv": "te-endpoint", "router_id": "10.0.0.1", "flags": 1' + "0" * 5000 + "}]"], ["JSON:", "digits"]),
    # lsdb and the agent's client commands
    ("lsdb-api-port", {}, ["lsdb", "--api", "127.0.0.1:99999"], ["--api", "65535"]),
    ("lsdb-api-no-port", {}, ["lsdb", "--api", "127.0.0.1"], ["--api", "HOST:PORT"]),
    ("lsdb-api-no-host", {}, ["lsdb", "--api", ":2607"], ["--api", "HOST:PORT"]),
    ("lsdb-types-word", {}, ["lsdb", "--api", "127.0.0.1:1", "--types", "x"], ["--types", "'x'"]),
    ("lsdb-types-big", {}, ["lsdb", "--api", "127.0.0.1:1", "--types", "10,999"], ["--types", "255"]),
    ("show-k-3e9", {}, ["show", "paths", "--to", "10.0.0.1", "-k", "3000000000", "--socket", "{lab}/a.sock"], ["-k", "1024"]),
    ("path-k-0", {}, ["path", "10.0.0.1", "-k", "0", "--socket", "{lab}/a.sock"], ["-k", "1024"]),
    ("path-min-bw-word", {}, ["path", "10.0.0.1", "--min-bw", "ten", "--socket", "{lab}/a.sock"], ["--min-bw", "'ten'"]),
    ("path-reserve-overflow", {}, ["path", "10.0.0.1", "--reserve", "1e400G", "--socket", "{lab}/a.sock"], ["--reserve", "finite"]),
    ("path-max-hops-negative", {}, ["path", "10.0.0.1", "--max-hops", "-1", "--socket", "{lab}/a.sock"], ["--max-hops", "65535"]),
    ("path-max-delay-nan", {}, ["path", "10.0.0.1", "--max-delay", "nan", "--socket", "{lab}/a.sock"], ["--max-delay", "finite"]),
]
# fmt: on


def test_the_lab_itself_loads(capsys, lab):
    d = lab({})
    rc, out, err = run(capsys, ["metric", str(d / "t.clab.yml"), "--json"])
    assert rc == 0 and len(json.loads(out)) == 1, err
    cfg = load_power(d / "r1/power.yml")
    assert cfg.agent["signal_key_id"] == 1 and cfg.agent["reservation_refresh"] == 5 and cfg.agent["reservation_hold"] == 15


@pytest.mark.parametrize("files,argv,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_input_exits_2_naming_file_line_and_field(capsys, lab, monkeypatch, files, argv, expected):
    import logging

    monkeypatch.setattr(logging, "basicConfig", lambda **kw: None)  # `agent` would configure the root logger
    d = lab(files)
    rc, _, err = run(capsys, [_sub(a, d) for a in argv])
    assert rc == 2, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert len(err) < 4000, f"{len(err)} characters: {err[:300]}..."
    for e in expected:
        if isinstance(e, re.Pattern):
            assert e.search(err), (e.pattern, err)
        else:
            assert _sub(e, d) in err, err


def test_a_310_byte_alias_bomb_is_refused_at_once(tmp_path):
    # billion laughs: 9 anchors of 9 aliases each, 9^9 leaves in ~310 bytes
    bomb = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n"
    for prev, cur in zip("abcdefgh", "bcdefghi"):
        bomb += f"{cur}: &{cur} [{','.join(['*' + prev] * 9)}]\n"
    bomb += "router: *i\n"
    assert len(bomb) < 340
    p = tmp_path / "power.yml"
    p.write_text(bomb + POWER.replace("router: r1\n", ""))
    t0 = time.monotonic()
    with pytest.raises(ConfigError, match="aliases") as ei:
        load_power(p)
    assert time.monotonic() - t0 < 1.0 and len(str(ei.value)) < 500


def test_the_last_resort_guard_is_one_line_and_exit_70(capsys, monkeypatch):
    from pyfrr_pwr.cli import offline

    def boom(args):
        raise KeyError("boom")

    monkeypatch.setattr(offline, "cmd_metric", boom)
    monkeypatch.delenv("PYFRR_PWR_DEBUG", raising=False)
    rc, _, err = run(capsys, ["metric", FIG7])
    assert rc == 70 and "Traceback" not in err
    assert err == "pyfrr-pwr metric: internal error: KeyError: 'boom' (please report; run with PYFRR_PWR_DEBUG=1 for the traceback)\n"
    monkeypatch.setenv("PYFRR_PWR_DEBUG", "1")
    rc, _, err = run(capsys, ["metric", FIG7])
    assert rc == 70 and "Traceback" in err and "internal error: KeyError" in err.splitlines()[-1]
    assert EX_SOFTWARE == 70


# -- fuzzing, bounded (the conftest profile sets max_examples) ------------------

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])

# what breaks loaders: numbers at the edges, YAML's own syntax, bad bytes
TOKENS = [
    ".inf",
    "-.inf",
    ".nan",
    "1e400G",
    "1.0e+400",
    "1.0e-300",
    "9" * 400,
    "0",
    "-1",
    "0x",
    "!!float",
    "!!int",
    "!!bool",
    "!!binary",
    "!!timestamp",
    "!!set",
    "!!omap",
    "!!str",
    "!foo",
    "&a",
    "*a",
    "<<: *a",
    "[",
    "]",
    "{",
    "}",
    ": ",
    "- ",
    "? ",
    "|",
    ">",
    "'",
    '"',
    "#",
    "~",
    "null",
    "true",
    "yes",
    "1",
    "10G",
    "\n",
    "\n  ",
    "\t",
    "\x00",
    "\x85",
    "\ufeff",
    "\udcff",
    "---",
    "...",
    "%YAML 1.1",
    "?",
]


def _mutated(seed: str):
    """Text: the seed with insertions, deletions and duplicated chunks."""

    @st.composite
    def build(draw):
        s = seed
        for _ in range(draw(st.integers(1, 6))):
            i = draw(st.integers(0, len(s)))
            op = draw(st.sampled_from(["insert", "delete", "dup", "replace"]))
            if op == "insert":
                s = s[:i] + draw(st.sampled_from(TOKENS) | st.text(max_size=8)) + s[i:]
            elif op == "delete":
                s = s[:i] + s[i + draw(st.integers(1, 20)) :]
            elif op == "dup":
                j = draw(st.integers(i, min(len(s), i + 80)))
                s = s[:j] + s[i:j] + s[j:]
            else:
                s = s[:i] + draw(st.sampled_from(TOKENS)) + s[i + draw(st.integers(1, 8)) :]
        return s.encode("utf-8", "surrogateescape")

    return build()


LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(string.printable, max_size=12),
    st.sampled_from(["10G", "2.5G", "1e400G", "0", "-1G", "hwmon", "linear", "flattening", "exponential", "127.0.0.1:2607", "x:99999", "LC1", "eth1"]),
)
KEYS = st.sampled_from(
    ["router", "base_speed", "line_cards", "ports", "LC1", "eth1", "eth2", "power_w", "max_power_w", "profile", "shape", "idle_w", "peak_w", "steepness",
     "points", "port_speeds", "speed", "highest_speed", "available", "line_card", "te_endpoint", "head", "ksp", "k", "constraints", "max_hops",
     "max_delay", "min_bandwidth", "agent", "interval", "api", "signal_key", "signal_key_file", "signal_key_id", "reservation_refresh",
     "reservation_hold", "banding", "ratio", "hysteresis", "power_reader", "type", "path"]
)  # fmt: skip
TREE = st.recursive(LEAF, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(KEYS | st.integers(0, 3), kids, max_size=5), max_leaves=25)


def _edit(doc, path, value):
    """doc with the item at ``path`` (keys/indices, as far as they reach) replaced."""
    if not path or not isinstance(doc, (dict, list)) or not doc:
        return value
    if isinstance(doc, dict):
        k = list(doc)[path[0] % len(doc)]
        return {**doc, k: _edit(doc[k], path[1:], value)}
    i = path[0] % len(doc)
    return doc[:i] + [_edit(doc[i], path[1:], value)] + doc[i + 1 :]


def _get(doc, path):
    """The item _edit would replace."""
    for i in path:
        if not isinstance(doc, (dict, list)) or not doc:
            break
        doc = doc[list(doc)[i % len(doc)]] if isinstance(doc, dict) else doc[i % len(doc)]
    return doc


def _structures(seed: dict):
    """YAML: the seed document with a subtree replaced (or a key added)."""

    @st.composite
    def build(draw):
        doc = seed
        for _ in range(draw(st.integers(1, 3))):
            path = draw(st.lists(st.integers(0, 50), max_size=5))
            target = _get(doc, path)
            if isinstance(target, dict) and draw(st.booleans()):
                doc = _edit(doc, path, {**target, draw(KEYS): draw(TREE)})  # a key added
            else:
                doc = _edit(doc, path, draw(TREE))  # a subtree replaced
        return yaml.safe_dump(doc, sort_keys=False).encode()

    return build()


EXAMPLE = (ROOT / "frr-config/power.example.yml").read_text()


def _clean(exc: ConfigError, path: Path) -> None:
    """Every line of a loader's message starts with file:line: (field)."""
    for line in str(exc).splitlines():
        assert re.match(rf"{re.escape(str(path))}:\d+: \S", line), str(exc)


@FUZZ
@given(st.one_of(_mutated(POWER), _mutated(EXAMPLE), _structures(yaml.safe_load(EXAMPLE)), _structures(yaml.safe_load(PROFILE))))
def test_fuzz_power_yml(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("pw") / "power.yml"
    p.write_bytes(data)
    try:
        cfg = load_power(p)
    except ConfigError as exc:
        _clean(exc, p)
        return
    _advertise(cfg)


def _advertise(cfg) -> None:
    """What the agent computes from a power.yml that loads: finite POWER
    figures for every port, idle to saturated, and Link TLVs that encode."""
    import math

    from pyfrr_pwr.model import advert
    from pyfrr_pwr.proto import wire

    for ifname, port in cfg.ports.items():
        for avail in (None, 0.0, port.speed / 2, port.speed):
            m = cfg.port_metrics(ifname, available_bps=avail)
            assert all(x is None or (math.isfinite(x) and x >= 0) for x in (m.consumed, m.available, m.mcast)), (ifname, m)
        wire.encode([advert.link_tlv(cfg, ifname, "10.0.0.2", "10.0.0.1", "10.0.0.2")])


TOPO = yaml.safe_load(CLAB)


@FUZZ
@given(st.one_of(_mutated(CLAB), _structures(TOPO)))
def test_fuzz_topology_without_the_schema(tmp_path_factory, monkeypatch, data):
    d = tmp_path_factory.mktemp("lab")
    (d / "r1").mkdir()
    (d / "r1/power.yml").write_text(POWER)
    (d / "r1/frr.conf").write_text(FRR)
    p = d / "t.clab.yml"
    p.write_bytes(data)
    monkeypatch.setenv("PYFRR_PWR_CLAB_SCHEMA", str(d / "no-schema.json"))
    try:
        load_topology(p)
    except ConfigError as exc:
        for line in str(exc).splitlines():  # its own file, or one it binds
            assert re.match(rf"{re.escape(str(d))}/\S+:\d+: \S", line), str(exc)


FRR_WORDS = st.sampled_from(
    ["interface eth1", "interface", " ip address", " ip ospf area", " ip ospf cost", "router ospf", " ospf router-id", " router-id", " network",
     " area", "exit", "!", "10.0.0.1/31", "10.0.0.0/99", "999.1.1.1", "1.2.3", "0", "4294967295", "4294967296", "-1", "xy", "0x10", "/",
     "65535", "65536", "\t", "\xff", "\x00"]
)  # fmt: skip
FRR_LINES = st.lists(st.lists(FRR_WORDS, min_size=1, max_size=5).map(" ".join), max_size=20).map(
    lambda ls: ("\n".join(ls) + "\n").encode("utf-8", "surrogateescape")
)


@FUZZ
@given(st.one_of(_mutated(FRR), FRR_LINES, st.binary(max_size=200)))
def test_fuzz_frr_conf(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("frr") / "frr.conf"
    p.write_bytes(data)
    try:
        parse_frr_conf(p)
    except ConfigError as exc:
        _clean(exc, p)


_NUM = st.one_of(
    st.integers(-(2**40), 2**40), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(), st.text(max_size=6), st.just([]), st.just({})
)
_ADDR = st.one_of(st.sampled_from(["10.0.0.1", "0.0.0.0", "255.255.255.255", "1.2.3", "x"]), _NUM)
TLV_JSON = st.one_of(
    st.fixed_dictionaries({"tlv": st.just("te-endpoint"), "router_id": _ADDR}, optional={"flags": _NUM}),
    st.fixed_dictionaries({"tlv": st.just("area-border"), "router_id": _ADDR}, optional={"areas": st.lists(_ADDR, max_size=3) | _NUM}),
    st.fixed_dictionaries(
        {"tlv": st.just("link"), "link_id": _ADDR},
        optional={
            k: _NUM
            for k in ("link_type", "te_metric", "max_bw", "highest_bw", "avail_bw", "admin_group", "delay_us", "delay_anomalous", "pwr_consumed", "generation")
        }
        | {"local_addrs": st.lists(_ADDR, max_size=2) | _NUM, "unknown": st.lists(st.lists(_NUM | st.just("00ff"), max_size=3), max_size=2) | _NUM},
    ),
    st.fixed_dictionaries(
        {"tlv": st.just("reachability-vector"), "abr_chain": st.lists(_ADDR, max_size=3) | _NUM, "area": _ADDR},
        optional={
            "paths": st.lists(
                st.fixed_dictionaries({"endpoint": _ADDR, "pwr_sum": _NUM, "min_avail_bw": _NUM}, optional={"hop_count": _NUM, "delay_us": _NUM}), max_size=3
            )
            | _NUM,
            "fragment": st.fixed_dictionaries({"generation": _NUM, "index": _NUM, "count": _NUM}) | _NUM,
        },
    ),
    st.fixed_dictionaries({"tlv": st.just("unknown"), "type": _NUM, "value": st.sampled_from(["", "00", "0", "zz"]) | _NUM}),
    st.fixed_dictionaries({"tlv": _NUM}),
    _NUM,
)


@FUZZ
@given(st.lists(TLV_JSON, max_size=3) | TLV_JSON)
def test_fuzz_encode_json(capsys, doc):
    rc, out, err = run(capsys, ["encode", "--", json.dumps(doc)])  # "--": a document may start with "-"
    assert rc in (0, 2) and "Traceback" not in err and "internal error" not in err, err
    if rc == 2:
        assert err.startswith("pyfrr-pwr: JSON"), err
