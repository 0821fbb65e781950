"""The offline command line, as an operator runs it."""

import json
import subprocess
import sys

from conftest import ROOT

from pyfrr_pwr.cli.main import main
from pyfrr_pwr.proto import wire, wirejson

FIG7 = str(ROOT / "containerlab/fig-2-1-7.clab.yml")


def run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_paths_table_and_json(capsys):
    rc, out, _ = run(capsys, "paths", FIG7, "--from", "B", "--to", "X", "-k", "3")
    assert rc == 0 and "B-D-G-H-X" in out and "0.43" in out
    rc, out, _ = run(capsys, "paths", FIG7, "--from", "B", "--to", "X", "-k", "3", "--json")
    paths = json.loads(out)
    assert [p["nodes"] for p in paths][0] == ["B", "D", "G", "H", "X"]
    assert [round(p["pwr_w_per_gbps"], 6) for p in paths] == [0.43, 0.8, 0.93]


def test_paths_with_constraints(capsys):
    rc, out, _ = run(capsys, "paths", FIG7, "--from", "B", "--to", "X", "-k", "3", "--max-hops", "2", "--json")
    assert [p["nodes"] for p in json.loads(out)] == [["B", "E", "X"]]
    rc, out, _ = run(capsys, "paths", FIG7, "--from", "B", "--to", "X", "--exclude-node", "E", "--exclude-node", "H", "--json")
    assert rc == 1 and json.loads(out) == []


def test_metric_json(capsys):
    rc, out, _ = run(capsys, "metric", FIG7, "--json")
    rows = {r["link"]: r for r in json.loads(out)}
    assert abs(rows["D-G"]["pwrlink"] * 1.25e8 - 0.03) < 1e-12


def test_errors_name_the_thing_at_fault(capsys, tmp_path):
    rc, _, err = run(capsys, "paths", FIG7, "--from", "B", "--to", "Q")
    assert rc == 2 and "no node or router ID 'Q'" in err and FIG7 in err
    bad = tmp_path / "bad.clab.yml"
    bad.write_text("name: x\ntopology:\n  nodes:\n    r1: {kind: linux, flavour: mint}\n")
    rc, _, err = run(capsys, "metric", str(bad))
    assert rc == 2 and f"{bad}:4: topology.nodes.r1" in err
    rc, _, err = run(capsys, "decode", "00020008000100")
    assert rc == 2 and "offset" in err


def test_encode_decode_round_trip(capsys, tmp_path):
    tlvs = [wirejson.to_dict(wire.TEEndpoint("10.0.0.1", 1))]
    f = tmp_path / "t.json"
    f.write_text(json.dumps(tlvs))
    rc, out, _ = run(capsys, "encode", f"@{f}")
    assert rc == 0
    rc, out2, _ = run(capsys, "decode", out.strip(), "--json")
    assert json.loads(out2) == tlvs
    rc, out3, _ = run(capsys, "decode", out.strip())
    assert "TEEndpoint" in out3
    rc, _, err = run(capsys, "encode", '[{"tlv": "te-endpoint"}]')
    assert rc == 2 and "JSON[0]" in err


def test_console_script_is_installed():
    r = subprocess.run([sys.executable, "-m", "pyfrr_pwr.cli", "paths", FIG7, "--from", "B", "--to", "X", "-k", "1"], capture_output=True, text=True)
    assert r.returncode == 0 and "B-D-G-H-X" in r.stdout


def test_readme_decode_example(capsys):
    rc, out, _ = run(capsys, "decode", "0002001800010001010000000002000401010101000b00043f800000", "--json")
    (t,) = json.loads(out)
    assert t["tlv"] == "link" and t["link_id"] == "1.1.1.1" and t["pwr_consumed"] == 1.0


def test_arguments_at_their_bounds_are_accepted(capsys):
    rc, out, _ = run(capsys, "paths", FIG7, "--from", "B", "--to", "X", "-k", "1024", "--max-hops", "65535", "--max-delay", "0", "--json")
    assert rc == 0 and json.loads(out)[0]["nodes"] == ["B", "D", "G", "H", "X"]
    # an area as an integer is the dotted quad; masks in any base
    rc, out, _ = run(capsys, "paths", FIG7, "--from", "B", "--to", "X", "--area", "1", "--include-any", "0", "--exclude", "0b0", "--min-bw", "0", "--json")
    assert rc == 0 and json.loads(out)[0]["nodes"] == ["B", "D", "G", "H", "X"]


def test_bad_arguments_are_usage_errors_naming_the_option(capsys):
    import pytest

    for argv, opt in (
        (["paths", FIG7, "--from", "B", "--to", "X", "-k", "1025"], "-k"),
        (["paths", FIG7, "--from", "B", "--to", "X", "--area", "0.0.0.256"], "--area"),
        (["lsdb", "--api", "127.0.0.1:0"], "--api"),
        (["lsdb", "--opaque-type", "256"], "--opaque-type"),
        (["agent", "-c", "x.yml", "--api", "host:65536"], "--api"),
    ):
        with pytest.raises(SystemExit) as ei:
            main(argv)
        err = capsys.readouterr().err
        assert ei.value.code == 2 and f"argument {opt}" in err and "Traceback" not in err, err


def test_encode_names_the_json_field(capsys, tmp_path):
    rc, _, err = run(capsys, "encode", '{"tlv": "area-border", "router_id": "10.0.0.1", "areas": ["0.0.0.0", 1.5]}')
    assert rc == 2 and "JSON[0].areas[1]: must be a string" in err
    f = tmp_path / "t.json"
    f.write_text('[{"tlv": "te-endpoint", "router_id": "10.0.0.1"},\n {"tlv": "te-endpoint", "router_id": "10.0.0.300"}]')
    rc, _, err = run(capsys, "encode", f"@{f}")
    assert rc == 2 and f"{f}[1].router_id: '10.0.0.300' is not an IPv4 address" in err, err
    f.write_text("[" * 33 + "]" * 33)
    rc, _, err = run(capsys, "encode", f"@{f}")
    assert rc == 2 and f"{f}:1:33: nested deeper than 32 levels" in err, err
    f.write_text('["[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"[[["]')  # brackets in a string do not count
    rc, _, err = run(capsys, "encode", f"@{f}")
    assert rc == 2 and "nested" not in err and f"{f}[0]: expected an object" in err, err
