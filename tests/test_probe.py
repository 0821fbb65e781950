"""Delay probes (agent.probe): the sans-I/O exchange with a given clock,
hostile packets counted, RFC 7471 figures, the configured override, and
two agents probing each other over real UDP on loopback."""

import asyncio
import socket
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyfrr_pwr.agent import probe as pr
from pyfrr_pwr.proto import wire

A, B = "10.0.0.1", "10.0.0.2"


def exchange(prober, reflector, t1, fwd_ns, residence_ns, back_ns):
    req = prober.request(t1)
    t2 = t1 + fwd_ns
    rep = reflector.reflect(req, t2, t2 + residence_ns)
    return prober.reply(rep, t2 + residence_ns + back_ns)


def test_one_way_on_a_shared_clock_and_rtt_half_without():
    p, r = pr.Prober(A, B, clock="shared"), pr.Reflector(B)
    s = exchange(p, r, 10**12, 300_000, 50_000, 100_000)
    assert s == pr.Sample(400_000, 300_000, "one-way")  # an asymmetric link: one-way sees it
    u = pr.Prober(A, B, clock="unsynced")
    s = exchange(u, r, 10**12, 300_000, 50_000, 100_000)
    assert s == pr.Sample(400_000, 200_000, "rtt/2")


def test_skewed_clock_falls_back_to_rtt_half_and_counts():
    p, r = pr.Prober(A, B, clock="synced"), pr.Reflector(B)
    req = p.request(10**12)
    rep = r.reflect(req, 10**12 - 5_000_000, 10**12 - 5_000_000)  # reflector's clock 5 ms behind
    s = p.reply(rep, 10**12 + 200_000)
    assert s.method == "rtt/2" and s.one_way_ns == 100_000 and p.stats["negative_one_way"] == 1


def test_estimate_follows_rfc7471():
    p, r = pr.Prober(A, B, window=4), pr.Reflector(B)
    for i, fwd in enumerate((100_000, 120_000, 180_000, 100_000, 140_000)):  # the first falls out of the window
        exchange(p, r, 10**12 + i * 10**9, fwd, 0, fwd)
    e = p.estimate()
    assert e["samples"] == 4 and e["delay_min_us"] == 100 and e["delay_max_us"] == 180
    assert e["delay_us"] == 135 and e["delay_var_us"] == 35  # mean of (d - min): 20, 80, 0, 40
    assert e["method"] == "one-way"
    t = wire.LinkTLV(B, **{k: e[k] for k in ("delay_us", "delay_min_us", "delay_max_us", "delay_var_us")})
    assert wire.decode(wire.encode([t])) == [t]


def test_configured_delay_overrides_the_measurement():
    m = {"delay_us": 40, "delay_min_us": 30, "delay_max_us": 60, "delay_var_us": 9, "samples": 10, "method": "one-way", "source": "measured"}
    f = pr.link_figures(m, {"delay_us": 1500})
    assert (f["delay_us"], f["delay_min_us"], f["delay_max_us"], f["delay_var_us"], f["source"]) == (1500, 1500, 1500, 9, "configured")
    f = pr.link_figures(m, {"delay_var_us": 200})
    assert (f["delay_us"], f["delay_var_us"], f["source"]) == (40, 200, "measured+configured")
    assert pr.link_figures(None, {"delay_us": 7, "delay_var_us": 1})["delay_var_us"] == 1
    assert pr.link_figures(None, None) is None


def test_hostile_replies_are_counted_not_taken():
    p, r = pr.Prober(A, B), pr.Reflector(B)
    req = p.request(10**12)
    good = r.reflect(req, 10**12 + 1000, 10**12 + 2000)
    cases = {
        "short": good[:39],
        "long": good + b"\0",
        "bad_magic": b"XXXX" + good[4:],
        "bad_version": good[:4] + b"\x02" + good[5:],
        "bad_type": good[:5] + b"\x07" + good[6:],
        "from_stranger": good[:8] + socket.inet_aton("9.9.9.9") + good[12:],
        "unknown_seq": good[:12] + struct.pack(">I", 999) + good[16:],
        "mismatched_t1": good[:16] + struct.pack(">Q", 5) + good[24:],
        "time_reversed": good[:24] + struct.pack(">QQ", 10**12 + 3000, 10**12 + 2000),
    }
    for why, pkt in cases.items():
        assert p.reply(pkt, 10**12 + 5000) is None, why
        assert p.stats[why] == 1, why
    assert p.reply(good, 10**12 + 3000) is not None
    assert p.reply(good, 10**12 + 3000) is None and p.stats["unknown_seq"] == 2  # a replay: once only
    # a reply 11 s later is no link measurement
    req = p.request(10**12)
    assert p.reply(r.reflect(req, 10**12, 10**12), 10**12 + 11 * 10**9) is None and p.stats["implausible"] == 1
    # a reflector takes only requests
    assert r.reflect(good, 1, 2) is None and r.stats["bad_type"] == 1


def test_outstanding_requests_are_bounded():
    p = pr.Prober(A, B)
    for i in range(pr.MAX_OUTSTANDING + 10):
        p.request(i)
    assert len(p.outstanding) == pr.MAX_OUTSTANDING and p.stats["lost"] == 10


@given(st.binary(max_size=64))
def test_any_datagram_is_a_counted_drop_or_a_probe(b):
    p, r = pr.Prober(A, B), pr.Reflector(B)
    assert p.reply(b, 10**12) is None
    out = r.reflect(b, 1, 2)
    assert out is None or pr.decode(out).type == pr.T_REPLY


def _free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_agents_probe_each_other_over_udp():
    pa, pb = _free_udp_port(), _free_udp_port()

    async def go():
        a = pr.ProbeAgent(A, {"eth1": (B, "127.0.0.1", pb)}, port=pa, interval=0.01, window=5, bind="127.0.0.1")
        b = pr.ProbeAgent(B, {"eth1": (A, "127.0.0.1", pa)}, port=pb, interval=0.01, window=5, bind="127.0.0.1")
        await a.start()
        await b.start()
        ta, tb = asyncio.create_task(a.run()), asyncio.create_task(b.run())
        # a stranger's garbage at a's port
        loop = asyncio.get_running_loop()
        tr, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, remote_addr=("127.0.0.1", pa))
        tr.sendto(b"not a probe at all, not at all....")
        tr.sendto(b"PWRP\x01\x02" + b"\0" * 34)
        for _ in range(500):
            await asyncio.sleep(0.01)
            if a.probers["eth1"].stats["samples"] >= 5 and b.probers["eth1"].stats["samples"] >= 5 and a.stats["from_stranger"] >= 2:
                break
        tr.close()
        ta.cancel()
        tb.cancel()
        await asyncio.gather(ta, tb, return_exceptions=True)
        return a, b

    a, b = asyncio.run(go())
    fa = a.figures({"eth2": {"delay_us": 900}})
    assert fa["eth1"]["samples"] == 5 and fa["eth1"]["method"] == "one-way" and fa["eth1"]["source"] == "measured"
    assert 0 <= fa["eth1"]["delay_min_us"] <= fa["eth1"]["delay_us"] <= fa["eth1"]["delay_max_us"]
    assert fa["eth2"]["delay_us"] == 900 and fa["eth2"]["source"] == "configured"  # configured, never probed
    assert b.reflector.stats["reflected"] >= 5
    assert a.stats["from_stranger"] >= 2 and a.transport is None


def test_bad_settings():
    with pytest.raises(ValueError):
        pr.Prober(A, B, clock="sundial")
    with pytest.raises(ValueError):
        pr.Prober(A, B, window=0)


def test_peers_change():
    a = pr.ProbeAgent(A, {"eth1": (B, "127.0.0.1", 9)}, window=3)
    p1 = a.probers["eth1"]
    a.set_peers({"eth1": (B, "127.0.0.1", 9), "eth2": ("10.0.0.3", "127.0.0.2", 9)})
    assert a.probers["eth1"] is p1 and "eth2" in a.probers and a.probers["eth2"].samples.maxlen == 3
    a.set_peers({"eth2": ("10.0.0.4", "127.0.0.2", 9)})  # a new neighbour on eth2: fresh samples
    assert set(a.probers) == {"eth2"} and a.probers["eth2"].peer_id == "10.0.0.4"
