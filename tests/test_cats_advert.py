"""What a compute site floods (model.advert with cats): delay figures in
the Link TLV (configured or probed), and the node LSA's Node Energy and
Service Instance TLVs, as bytes a TED reads back."""

import textwrap

from pyfrr_pwr.cats import service as cs
from pyfrr_pwr.cats.energy import EnergyAdvert
from pyfrr_pwr.files.power import load_power
from pyfrr_pwr.model import advert
from pyfrr_pwr.model.ted import TED
from pyfrr_pwr.proto import wire

CFG = """\
router: r1
ports:
  eth1: {speed: 10G, power_w: 12, delay_us: 1500, delay_var_us: 40}
  eth2: {speed: 10G, power_w: 12}
te_endpoint: {head: true, tail: true}
cats:
  site: true
  services:
    - {id: inference, address: 10.9.1.1, capacity: 10G, l2: {score: 6, window: 10},
       l0: [{metric: site_power_per_unit, value: 1.0e-7, statistic: mean, window: 10}]}
"""


def cfg(tmp_path):
    p = tmp_path / "power.yml"
    p.write_text(textwrap.dedent(CFG))
    return load_power(p)


def test_configured_delay_and_variation_are_advertised(tmp_path):
    c = cfg(tmp_path)
    t = advert.link_tlv(c, "eth1", "2.2.2.2", "10.0.1.0", "10.0.1.1")
    assert (t.delay_us, t.delay_var_us, t.delay_min_us) == (1500, 40, None)
    (back,) = wire.decode(wire.encode([t]))
    assert back.delay_var_us == 40
    assert advert.link_tlv(c, "eth2", "3.3.3.3", None, None).delay_var_us is None


def test_probed_figures_go_out_with_min_max(tmp_path):
    c = cfg(tmp_path)
    m = {"delay_us": 35.4, "delay_min_us": 30, "delay_max_us": 61, "delay_var_us": 7, "samples": 10}
    t = advert.link_tlv(c, "eth2", "3.3.3.3", None, None, delay=m)
    assert (t.delay_us, t.delay_min_us, t.delay_max_us, t.delay_var_us) == (35, 30, 61, 7)
    # a min above max (or one without the other) is left out, not sent
    t = advert.link_tlv(c, "eth2", "3.3.3.3", None, None, delay={"delay_us": 5, "delay_min_us": 9, "delay_max_us": 3, "delay_var_us": 2**30})
    assert t.delay_min_us is None and t.delay_max_us is None and t.delay_var_us == 0xFFFFFF
    wire.encode([t])


def test_node_lsa_carries_energy_and_instances_a_ted_reads_back(tmp_path):
    c = cfg(tmp_path)
    e = EnergyAdvert(min_interval=0)
    e.update({"power_w": {"value": 800.0, "ts": 1e9, "source": "redfish", "accuracy": "measured"}}, 1e9 + 2)
    extra = [e.tlv("1.1.1.1", 1e9 + 2), *cs.service_tlvs("1.1.1.1", c.cats.services)]
    tlvs = advert.node_tlvs(c, "1.1.1.1", {"0.0.0.0"}, extra=extra)
    assert isinstance(tlvs[0], wire.TEEndpoint) and tlvs[1:] == extra
    ted = TED("0.0.0.0")
    assert ted.apply("1.1.1.1", wire.make_lsid(200, 1), wire.encode(tlvs))
    (inst,) = cs.instances_in({"0.0.0.0": ted}, "inference")
    assert inst.l2_score == 6 and inst.l0[0].metric == cs.L0_SITE_W_PER_UNIT and inst.capacity == 1.25e9
    assert cs.energy_in({"0.0.0.0": ted})["1.1.1.1"]["power_w"]["age_s"] == 2


def test_l2_score_min_max():
    assert cs.l2_score(0.2, 0.0, 1.0) == 8 and cs.l2_score(0.2, 0.0, 1.0, higher_is_better=True) == 2
    assert cs.l2_score(5.0, 0.0, 1.0) == 0
