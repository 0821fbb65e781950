"""`pyfrr-pwr encode` / `decode` of the issue 9 TLVs (Node Energy 32772,
Service Instance 32773; docs/wire-format.md): what `decode --json` prints
encodes back to the same octets, and a mistyped field is named."""

import json

import pytest

from pyfrr_pwr.cli.main import main
from pyfrr_pwr.proto import wire, wirejson


def run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


ENERGY = wire.NodeEnergy(
    "10.30.255.8",
    power_w=wire.Reading(380.0, ts=1764639000, age_s=3, accuracy="measured", source=1),
    capacity_w=wire.Reading(2000.0, accuracy="nominal", source=1),
    green_share=wire.Reading(0.6, ts=1764639000, source=2),
    price_per_mwh=wire.Reading(60.0, source=2),
    currency="EUR",
    carbon_g_per_kwh=wire.Reading(50.0, ts=1764639000, age_s=1, accuracy="estimated", source=2),
    sources=((1, "bmc"), (2, "substation")),
)
SERVICE = wire.ServiceInstance(
    "10.30.255.8",
    "inference",
    "10.30.103.2",
    capacity=1.25e9,
    l0=(wire.L0Metric(1, 0.25, "mean", "measured", 10000), wire.L0Metric(8, 1e-7, "cur", "estimated", 0)),
    l2_score=7,
    l2_window_ms=10000,
)


def roundtrip(capsys, tmp_path, tlvs):
    docs = [wirejson.to_dict(t) for t in tlvs]
    f = tmp_path / "t.json"
    f.write_text(json.dumps(docs))
    rc, hexed, err = run(capsys, "encode", f"@{f}")
    assert rc == 0, err
    assert bytes.fromhex(hexed.strip()) == wire.encode(list(tlvs))
    rc, out, err = run(capsys, "decode", hexed.strip(), "--json")
    assert rc == 0, err
    return docs, json.loads(out), hexed.strip()


@pytest.mark.parametrize("tlvs", [[ENERGY], [SERVICE], [ENERGY, SERVICE]], ids=["energy", "service", "both"])
def test_decode_json_encodes_back_to_the_same_octets(capsys, tmp_path, tlvs):
    docs, decoded, hexed = roundtrip(capsys, tmp_path, tlvs)
    assert [d["tlv"] for d in decoded] == [d["tlv"] for d in docs]
    f = tmp_path / "again.json"
    f.write_text(json.dumps(decoded))  # decode's own output is encode's input
    rc, again, err = run(capsys, "encode", f"@{f}")
    assert rc == 0, err
    assert again.strip() == hexed


def test_node_energy_figures_survive(capsys, tmp_path):
    _, (d,), _ = roundtrip(capsys, tmp_path, [ENERGY])
    assert d["power_w"]["value"] == pytest.approx(380.0) and d["power_w"]["accuracy"] == "measured"
    assert d["capacity_w"]["accuracy"] == "nominal" and d["energy_j"] is None
    assert d["currency"] == "EUR" and d["sources"] == [[1, "bmc"], [2, "substation"]]


def test_service_instance_l0_survives(capsys, tmp_path):
    _, (d,), _ = roundtrip(capsys, tmp_path, [SERVICE])
    assert d["service_id"] == "inference" and d["address"] == "10.30.103.2" and d["l2_score"] == 7
    assert [m["metric"] for m in d["l0"]] == [1, 8] and d["l0"][0]["statistic"] == "mean"


@pytest.mark.parametrize(
    "field, value, where",
    [
        ("power_w", 380, ".power_w: must be an object or null"),
        ("power_w", {"value": "380"}, ".power_w.value: must be a number"),
        ("power_w", {"value": 380.0, "ts": "now"}, ".power_w.ts: must be an integer"),
        ("sources", [[1, "bmc"], ["2", "x"]], ".sources[1]: must be an [id, name] pair"),
        ("sources", [1], ".sources[0]: must be an [id, name] pair"),
    ],
)
def test_a_mistyped_energy_field_is_named(capsys, field, value, where):
    d = wirejson.to_dict(ENERGY)
    d[field] = value
    rc, _, err = run(capsys, "encode", json.dumps([d]))
    assert rc == 2 and f"JSON[0]{where}" in err, err


@pytest.mark.parametrize(
    "l0, where",
    [
        (["cpu"], ".l0[0]: must be an object (a level-0 metric)"),
        ([{"metric": 1, "value": "high"}], ".l0[0].value: must be a number"),
        ([{"metric": "cpu", "value": 0.5}], ".l0[0].metric: must be an integer"),
    ],
)
def test_a_mistyped_l0_metric_is_named(capsys, l0, where):
    d = wirejson.to_dict(SERVICE)
    d["l0"] = l0
    rc, _, err = run(capsys, "encode", json.dumps([d]))
    assert rc == 2 and f"JSON[0]{where}" in err, err
