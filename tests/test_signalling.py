"""Reservation signalling, hardened (issue 11 sec. 3) and soft (issue 7):
the authenticated envelope (proto.signal), and agents on 127.0.0.1 talking
over real TCP with different ports (no namespaces, no ospfd)."""

import asyncio
import gc
import hmac
import json
import os
import sys
import textwrap

import pytest
from helpers import until
from helpers.signalnet import KEY, A, B, C, Clock, Net, make_core
from hypothesis import given, settings
from hypothesis import strategies as st

from pyfrr_pwr.agent import reservations as res
from pyfrr_pwr.agent.signalling import Signalling
from pyfrr_pwr.proto import control as pc
from pyfrr_pwr.proto import signal as sig

# -- the envelope (pure) ---------------------------------------------------------


def pair(clock=None, key=KEY, kid=1, **guard):
    clock = clock or Clock()
    return sig.Signer({kid: key}, kid, clock_ms=clock.ms), sig.Verifier({kid: key}, sig.ReplayGuard(clock_ms=clock.ms, **guard)), clock


BODY = {"cmd": "reserve", "id": f"{A}/1", "bw": 1.25e8, "hops": [B, C]}


def test_an_envelope_opens_once_with_what_was_sealed():
    s, v, _ = pair()
    line, nonce = s.seal(BODY, A, B)
    assert line.endswith(b"\n") and line.count(b"\n") == 1 and len(line) < sig.MAX_LINE
    env = v.open(line, B)
    assert (env.sender, env.to, env.kid, env.nonce, env.body) == (A, B, 1, nonce, BODY)
    d = json.loads(line)
    assert sorted(d) == list(sig.FIELDS) and len(d["mac"]) == 64 and len(d["nonce"]) == 24
    with pytest.raises(sig.Replay) as ei:
        v.open(line, B)
    assert ei.value.field == "nonce" and ei.value.reason == "replay"


@settings(max_examples=300)
@given(st.data())
def test_any_change_to_any_byte_fails(data):
    s, v, _ = pair()
    line, _ = s.seal(BODY, A, B)
    i = data.draw(st.integers(0, len(line) - 1))
    b = data.draw(st.integers(0, 255).filter(lambda x: x != line[i]))
    bad = line[:i] + bytes([b]) + line[i + 1 :]
    with pytest.raises(sig.SignalError):
        v.open(bad, B)
    assert v.open(line, B).body == BODY  # the original still opens: nothing was remembered


@settings(max_examples=100)
@given(st.data())
def test_inserting_or_deleting_bytes_fails(data):
    s, v, _ = pair()
    line, _ = s.seal(BODY, A, B)
    i = data.draw(st.integers(0, len(line) - 1))
    if data.draw(st.booleans()):
        bad = line[:i] + data.draw(st.binary(min_size=1, max_size=4)) + line[i:]
    else:
        bad = line[:i] + line[i + data.draw(st.integers(1, 4)) :]
    if bad in (line, line[:-1]):  # the newline alone is optional
        return
    with pytest.raises(sig.SignalError):
        v.open(bad, B)


def test_each_failure_has_its_error_and_field():
    clock = Clock()
    s, v, _ = pair(clock)
    line, _ = s.seal(BODY, A, B)
    cases = [
        (sig.Signer({1: "another-key-of-16-chars"}, 1, clock_ms=clock.ms).seal(BODY, A, B)[0], sig.BadMac, "mac"),
        (sig.Signer({7: KEY}, 7, clock_ms=clock.ms).seal(BODY, A, B)[0], sig.UnknownKeyId, "kid"),
        (s.seal(BODY, A, C)[0], sig.Misdirected, "to"),
        (json.dumps(BODY).encode() + b"\n", sig.Unauthenticated, "mac"),
        (b"[1, 2]\n", sig.Malformed, "line"),
        (b"\xff\xfe\n", sig.Malformed, "line"),
        (line.replace(b'"v":1', b'"v":2'), sig.Malformed, "v"),
        (line.replace(b'{"body"', b'{"x":1,"body"'), sig.Malformed, "x"),
        (line.replace(b',"kid":1', b""), sig.Malformed, "kid"),
        (line.replace(b'"bw":125000000.0', b'"bw": 125000000.0'), sig.Malformed, "line"),  # not canonical
        (line.replace(b'"bw":125000000.0', b'"bw":NaN'), sig.Malformed, "line"),
        (b"x" * (sig.MAX_LINE + 1), sig.Malformed, "line"),
    ]
    for bad, err, field in cases:
        with pytest.raises(err) as ei:
            v.open(bad, B)
        assert ei.value.field == field, (bad[:60], ei.value)
        assert isinstance(ei.value, sig.SignalError) and ei.value.reason
    # an altered body, its MAC kept: a bad MAC, whatever the sender's intent
    with pytest.raises(sig.BadMac):
        v.open(line.replace(b'"bw":125000000.0', b'"bw":125000001.0'), B)
    # the router ID the MAC covers is checked: misdirected needs an authentic message first
    with pytest.raises(sig.BadMac):
        v.open(line.replace(b'"to":"10.9.255.2"', b'"to":"10.9.255.3"'), C)


def test_stale_messages_and_the_restart_floor():
    clock = Clock()
    s, v, _ = pair(clock)
    old, _ = s.seal(BODY, A, B)
    clock.advance(31)
    with pytest.raises(sig.Stale) as ei:
        v.open(old, B)
    assert ei.value.field == "ts"
    future = sig.Signer({1: KEY}, 1, clock_ms=lambda: clock.ms() + 31_000).seal(BODY, A, B)[0]
    with pytest.raises(sig.Stale):
        v.open(future, B)
    # a restarted receiver forgot its nonces: it refuses what was sent before it started
    line, _ = s.seal(BODY, A, B)
    clock.advance(1)
    fresh = sig.Verifier({1: KEY}, sig.ReplayGuard(clock_ms=clock.ms))
    with pytest.raises(sig.Stale):
        fresh.open(line, B)


def test_out_of_order_arrival_is_fine():
    s, v, clock = pair()
    first, _ = s.seal(BODY, A, B)
    clock.advance(0.5)
    second, _ = s.seal(BODY, A, B)
    assert v.open(second, B) and v.open(first, B)  # two connections, reordered


def test_the_nonce_cache_is_bounded_and_never_reopens_a_replay():
    s, v, clock = pair(max_nonces=8)
    lines = []
    for _ in range(20):
        clock.advance(0.01)
        line, _ = s.seal(BODY, A, B)
        v.open(line, B)
        lines.append(line)
    assert len(v.guard) == 8
    for line in lines:  # evicted ones are stale now (the floor rose), kept ones replays
        with pytest.raises((sig.Stale, sig.Replay)):
            v.open(line, B)
    clock.advance(31)  # out of the window: forgotten, memory back
    v.open(s.seal(BODY, A, B)[0], B)
    assert len(v.guard) == 1


def test_keys_are_checked():
    with pytest.raises(ValueError, match="at least 16"):
        sig.Signer({1: "short"}, 1)
    with pytest.raises(ValueError, match="0 to 255"):
        sig.Verifier({256: KEY})
    with pytest.raises(ValueError, match="IPv4"):
        sig.Signer({1: KEY}, 1).seal(BODY, "r1", B)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=20,
)
_env_fields = st.sampled_from([*sig.FIELDS, "x"])


@settings(max_examples=400)
@given(st.binary(max_size=200))
def test_open_of_any_bytes_raises_only_its_error(b):
    _, v, _ = pair()
    try:
        v.open(b, B)
    except sig.SignalError:
        pass


@settings(max_examples=200)
@given(st.dictionaries(_env_fields, _json, max_size=9), st.booleans())
def test_open_of_any_json_raises_only_its_error(d, canonical):
    _, v, _ = pair()
    try:
        line = sig.canonical(d) if canonical else json.dumps(d).encode()
    except ValueError:  # a NaN has no canonical form
        line = json.dumps(d).encode()
    try:
        v.open(line, B)
    except sig.SignalError:
        pass


@settings(max_examples=200)
@given(st.dictionaries(_env_fields, _json, max_size=3), st.data())
def test_open_of_an_envelope_with_any_field_replaced_raises_only_its_error(over, data):
    s, v, _ = pair()
    d = json.loads(s.seal(BODY, A, B)[0])
    d.update(over)
    try:
        line = sig.canonical(d)
    except ValueError:
        line = json.dumps(d).encode()
    try:
        v.open(line, B)
    except sig.SignalError:
        pass


# -- agents on loopback -------------------------------------------------------------


def run(coro):
    return asyncio.run(coro)


async def raw(port: int, line: bytes) -> bytes:
    """One line on a connection of its own; the answer line."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(line)
    await w.drain()
    try:
        return await asyncio.wait_for(r.readline(), 5)
    finally:
        w.close()


def test_reserve_refresh_release_along_three_hops(tmp_path):
    async def go():
        async with Net(tmp_path) as n:
            rid, route = await n.sigs[A].reserve_route([A, B, C], 1.25e8)
            assert rid == f"{A}/1" and route == (A, B, C)
            assert n.table(A)[rid]["state"] == "up" and n.table(A)[rid]["from"] is None
            assert n.table(B)[rid]["from"] == A and n.table(C)[rid]["from"] == B  # the previous hop
            assert n.core(A).reserved_bps("eth1") == n.core(B).reserved_bps("eth2") == 1e9 and n.core(B).reserved_bps("eth1") == 0
            await until(lambda: n.core(A).links["eth1"].sent.reserved_bps == 1e9, "the re-flood (flood_hold after the answer)")
            n.clock.advance(10)
            assert await n.sigs[A].refresh_all() == []
            n.clock.advance(10)  # 20 s after the reserve, 10 s after the refresh
            for r in (B, C):
                assert n.sigs[r].expire() == [] and rid in n.table(r)
            assert n.stats(B)["refreshes_received"] == 1 and n.stats(C)["refreshes_received"] == 1
            # the control socket's view lists them, with their expiry
            view = json.loads(pc.encode(pc.Reply(True, n.table(B))))["result"]
            assert view[rid]["next"] == C and view[rid]["expires_at"] > 0 and view[rid]["from"] == A
            assert await n.sigs[A].control(pc.Release(id=rid)) == pc.Released(id=rid)
            assert not any(n.table(r) for r in (A, B, C))
            assert n.core(B).links["eth2"].sent.reserved_bps == 0
            assert not any(k.startswith("signal_rejected") for r in (A, B, C) for k in n.stats(r))

    run(go())


def test_bookings_expire_without_refresh_and_refresh_keeps_them(tmp_path):
    async def go():
        async with Net(tmp_path) as n:
            kept, _ = await n.sigs[A].reserve_route([A, B, C], 1e8)
            left, _ = await n.sigs[A].reserve_route([A, B, C], 1e8)
            n.table(A).release(left)  # the head-end forgets one: as if it crashed for that one
            assert n.core(B).reserved_bps("eth2") == 1.6e9
            for _ in range(4):
                n.clock.advance(5)
                await n.sigs[A].refresh_all()
                for r in (B, C):
                    n.sigs[r].expire()
            assert left not in n.table(B) and left not in n.table(C) and kept in n.table(B) and kept in n.table(C)
            assert n.stats(B)["reservations_expired"] == n.stats(C)["reservations_expired"] == 1
            assert n.core(B).reserved_bps("eth2") == 8e8 and n.core(B).links["eth2"].sent.reserved_bps == 8e8  # freed and re-flooded
            n.clock.advance(15.1)  # the head-end stops refreshing altogether: everything goes
            for r in (B, C):
                assert [k for k, _ in n.sigs[r].expire()] == [kept]
            assert n.core(B).reserved_bps("eth2") == 0 and n.core(B).links["eth2"].sent.reserved_bps == 0

    run(go())


def test_a_head_end_reports_a_lost_hop(tmp_path):
    async def go():
        async with Net(tmp_path) as n:
            rid, _ = await n.sigs[A].reserve_route([A, B, C], 1e8)
            n.table(C).release(rid)  # C lost it (expired, restarted)
            lost = await n.sigs[A].refresh_all()
            assert [(l.id, l.at) for l in lost] == [(rid, C)]
            e = n.table(A)[rid]
            assert e["state"] == "lost" and e["lost"]["at"] == C and "no reservation here" in e["lost"]["reason"]
            assert n.stats(A)["reservations_lost"] == 1
            await n.down(B)  # and then B's agent goes away
            await n.sigs[A].refresh_all()
            assert n.table(A)[rid]["lost"]["at"] == B and "no agent answers" in n.table(A)[rid]["lost"]["reason"]
            assert n.stats(A)["reservations_lost"] == 1  # one reservation lost once, its reason updated

    run(go())


def test_run_timers_refresh_and_expire_in_real_time(tmp_path):
    async def go():
        async with Net(tmp_path, real_time=True, refresh=0.3, hold=1.2) as n:
            timers = {r: asyncio.create_task(s.run_timers()) for r, s in n.sigs.items()}
            rid, _ = await n.sigs[A].reserve_route([A, B, C], 1e8)
            await asyncio.sleep(2.5)  # eight refreshes, two hold times
            assert all(rid in n.table(r) for r in (A, B, C))
            assert n.stats(C)["refreshes_received"] >= 4
            timers.pop(A).cancel()  # the head-end crashes
            for _ in range(80):
                if rid not in n.table(B) and rid not in n.table(C):
                    break
                await asyncio.sleep(0.05)
            assert rid not in n.table(B) and rid not in n.table(C)
            assert n.core(B).reserved_bps("eth2") == 0 and n.stats(C)["reservations_expired"] == 1
            for t in timers.values():
                t.cancel()

    run(go())


def test_forged_replayed_and_wrong_key_messages_are_refused_and_counted(tmp_path):
    async def go():
        async with Net(tmp_path) as n:
            port = n.ports[B]
            body = {"cmd": "reserve", "id": f"{A}/9", "bw": 1e8, "hops": [B, C]}
            mallory = sig.Signer({1: "not-the-domain-key-at-all"}, 1, clock_ms=n.clock.ms)
            rep = await raw(port, mallory.seal(body, A, B)[0])
            assert b"signal rejected" in rep and b"mac" in rep
            good = sig.Signer({1: KEY}, 1, clock_ms=n.clock.ms)
            line, _ = good.seal(body, A, B)
            tampered = line.replace(b'"bw":100000000.0', b'"bw":1000000000.0')
            assert tampered != line
            await raw(port, tampered)
            await raw(port, sig.Signer({2: KEY}, 2, clock_ms=n.clock.ms).seal(body, A, B)[0])
            await raw(port, json.dumps(body).encode() + b"\n")  # the old, unsigned protocol
            await raw(port, good.seal(body, A, C)[0])  # for C, sent to B
            ok = await raw(port, line)
            assert json.loads(ok)["body"]["reply"]["ok"] is True  # authentic: booked at B and C
            again = await raw(port, line)
            assert b"replay" in again
            st = n.stats(B)
            assert (st["signal_rejected_bad_mac"], st["signal_rejected_unknown_key"], st["signal_rejected_unauthenticated"]) == (2, 1, 1)
            assert (st["signal_rejected_misdirected"], st["signal_rejected_replay"]) == (1, 1)
            assert list(n.table(B)) == [f"{A}/9"] and list(n.table(C)) == [f"{A}/9"]

    run(go())


def test_a_wrong_key_at_the_head_end_fails_clearly(tmp_path):
    async def go():
        async with Net(tmp_path, keys={A: "a-different-key-0123456789"}) as n:
            with pytest.raises(pc.AgentRefusal, match=rf"{B} refused our message: signal rejected: bad_mac: mac: does not verify"):
                await n.sigs[A].reserve_route([A, B, C], 1e8)
            assert not n.table(A) and not n.table(B)

    run(go())


@pytest.mark.parametrize(
    "bw,what",
    [(-1e8, "invalid"), (0, "invalid"), (1e14, "invalid"), (1.5e9, "capacity"), (1.25e9, None)],
)
def test_bandwidth_is_checked_at_every_hop(tmp_path, bw, what):
    """Negative, zero and absurd bandwidth never pass the codec; more than
    the link's capacity is refused by the hop; exactly the capacity fits."""

    async def go():
        async with Net(tmp_path) as n:
            line = sig.Signer({1: KEY}, 1, clock_ms=n.clock.ms).seal({"cmd": "reserve", "id": f"{A}/9", "bw": bw, "hops": [B, C]}, A, B)[0]
            rep = json.loads(await raw(n.ports[B], line))["body"]["reply"]
            if what is None:
                assert rep["ok"] and n.core(B).reserved_bps("eth2") == 1e10
                return
            assert not rep["ok"] and not n.table(B)
            if what == "invalid":
                assert "bw" in rep["error"] and n.stats(B)["signal_rejected_invalid"] == 1
            else:
                assert "exceeds the 10 Gb/s capacity of link eth2" in rep["error"]

    run(go())


def test_nan_cannot_even_be_framed(tmp_path):
    """A NaN (which froze a link's flooding) has no canonical JSON: a key
    holder who MACs it anyway is refused as malformed."""

    async def go():
        async with Net(tmp_path) as n:
            s = sig.Signer({1: KEY}, 1, clock_ms=n.clock.ms)
            with pytest.raises(ValueError):
                s.seal({"cmd": "reserve", "id": "x/1", "bw": float("nan"), "hops": [B]}, A, B)
            body = b'{"bw":NaN,"cmd":"reserve","hops":["10.9.255.2"],"id":"x/1"}'
            ts, nonce = n.clock.ms(), "00" * 12
            mac = hmac.new(KEY.encode(), sig.mac_input(1, A, B, ts, nonce, body), "sha256").hexdigest()
            env = {"from": A, "kid": 1, "mac": mac, "nonce": nonce, "to": B, "ts": ts, "v": 1}
            line = b'{"body":' + body + b"," + sig.canonical(env)[1:] + b"\n"
            rep = await raw(n.ports[B], line)
            assert b"signal rejected: malformed: line: not a JSON line" in rep
            assert n.stats(B)["signal_rejected_malformed"] == 1 and not n.table(B)

    run(go())


def test_an_oversized_line_is_refused(tmp_path):
    async def go():
        async with Net(tmp_path) as n:
            rep = await raw(n.ports[B], b"{" + b" " * (sig.MAX_LINE + 10) + b"}\n")
            assert b"over" in rep and n.stats(B)["signal_rejected_too_long"] == 1
            assert n.sigs[B].active == 0

    run(go())


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts /proc/self/fd")
def test_half_open_connections_are_closed_by_the_read_timeout(tmp_path):
    async def go():
        async with Net(tmp_path, rids=(B,), read_timeout=2.0, max_connections=256) as n:
            before = _fds()
            conns = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", n.ports[B]) for _ in range(200)))
            await until(lambda: n.sigs[B].active == 200, "200 connections taken in (no request line comes)", 1.8)
            assert _fds() >= before + 400  # both ends are ours
            eofs = await asyncio.wait_for(asyncio.gather(*(r.read() for r, _ in conns)), 10)  # the server hangs up
            assert eofs == [b""] * 200
            assert n.sigs[B].active == 0 and n.stats(B)["signal_rejected_timeout"] == 200
            for _, w in conns:
                w.close()
            await until(lambda: _fds() <= before + 2, "every socket closed")

    run(go())


def test_connections_beyond_the_bound_are_closed_at_once(tmp_path):
    async def go():
        async with Net(tmp_path, rids=(B,), read_timeout=5, max_connections=5) as n:
            conns = [await asyncio.open_connection("127.0.0.1", n.ports[B]) for _ in range(12)]
            await asyncio.sleep(0.1)
            assert n.sigs[B].active == 5 and n.stats(B)["signal_rejected_busy"] == 7
            for _, w in conns:
                w.close()

    run(go())


def test_sequential_requests_reuse_one_connection_per_neighbour(tmp_path):
    async def go():
        async with Net(tmp_path) as n:
            rid, _ = await n.sigs[A].reserve_route([A, B, C], 1e8)
            assert await n.sigs[A].refresh_all() == []
            assert await n.sigs[A].send(B, pc.SignalRelease(id="x/1")) == pc.Released(id="x/1")  # refused or not, each line alone
            assert await n.sigs[A].release(rid) == pc.Released(id=rid)
            a, b = n.stats(A), n.stats(B)
            assert (a["signal_pool_opened"], a["signal_pool_reused"]) == (1, 3)  # A -> B
            assert (b["signal_pool_opened"], b["signal_pool_reused"]) == (1, 2)  # B -> C
            assert n.sigs[B].active == 1 and n.sigs[C].active == 1  # kept, each one connection
            assert not n.table(B) and not n.table(C)
            assert not any(k.startswith("signal_rejected") for r in (A, B, C) for k in n.stats(r))

    run(go())


def test_an_idle_kept_connection_is_closed_and_counted(tmp_path):
    async def go():
        async with Net(tmp_path, rids=(A, B), idle_timeout=0.2) as n:
            await n.sigs[A].send(B, pc.SignalRelease(id="x/1"))
            assert n.sigs[B].active == 1
            await until(lambda: n.sigs[B].active == 0, "idle close")
            assert n.stats(B)["signal_idle_closed"] == 1 and n.stats(B)["signal_rejected_timeout"] == 0
            await until(lambda: all(c.r.at_eof() for c in n.sigs[A]._pool.get(B, ())), "EOF at A")
            await n.sigs[A].send(B, pc.SignalRelease(id="x/2"))  # the dead one is dropped, a fresh one opened
            assert n.stats(A)["signal_pool_opened"] == 2 and n.stats(A)["signal_pool_retries"] == 0

    run(go())


def test_a_kept_connection_ends_at_its_lifetime(tmp_path):
    async def go():
        async with Net(tmp_path, rids=(A, B), conn_lifetime=1e-6) as n:
            for i in range(3):
                await n.sigs[A].send(B, pc.SignalRelease(id=f"x/{i}"))
            assert n.stats(B)["signal_conn_expired"] == 3 and n.stats(A)["signal_pool_opened"] == 3
            assert n.stats(A)["signal_pool_reused"] == 0  # too old to keep at A as well

    run(go())


def test_a_broken_kept_connection_is_retried_once_on_a_fresh_one(tmp_path):
    """The race a kept connection has: the peer closes it (idle timeout,
    restart) as our request goes out. The request goes again on a fresh
    connection, sealed anew; a fresh connection that breaks is a refusal."""

    async def go():
        async with Net(tmp_path, rids=(A, B)) as n:
            seen = []

            async def hang_up(reader, writer):  # reads the request, closes without answering
                seen.append(await reader.readline())
                writer.close()

            bad = await asyncio.start_server(hang_up, "127.0.0.1", 0)
            bad_port = bad.sockets[0].getsockname()[1]
            s = n.sigs[A]
            from pyfrr_pwr.agent.signalling import _Conn

            s._pool[B] = [_Conn(*await asyncio.open_connection("127.0.0.1", bad_port))]
            assert await s.send(B, pc.SignalRelease(id="x/1")) == pc.Released(id="x/1")
            assert n.stats(A)["signal_pool_retries"] == 1 and len(seen) == 1
            got = n.sigs[B].verifier.parse(seen[0])  # what the broken one carried was sealed once, not resent
            assert got.body["id"] == "x/1" and n.stats(B)["signal_rejected_replay"] == 0
            n.ports[B] = bad_port  # now every connection hangs up: refused, not retried for ever
            for c in s._pool.pop(B):
                c.w.close()
            with pytest.raises(pc.AgentRefusal, match="no agent answered"):
                await s.send(B, pc.SignalRelease(id="x/2"))
            assert n.stats(A)["signal_pool_retries"] == 1 and len(seen) == 2
            bad.close()

    run(go())


def test_a_refused_line_ends_a_kept_connection(tmp_path):
    """A kept connection serves its first sender only, and only while every
    line is an authentic envelope: the first one that is not ends it."""

    async def go():
        async with Net(tmp_path, rids=(A, B, C)) as n:
            good = sig.Signer({1: KEY}, 1, clock_ms=n.clock.ms)
            mallory = sig.Signer({1: "not-the-domain-key-at-all"}, 1, clock_ms=n.clock.ms)
            for second, reason in (
                (lambda first: good.seal({"cmd": "release", "id": "x/2"}, C, B)[0], b"wrong_sender"),  # another sender on A's connection
                (lambda first: mallory.seal({"cmd": "release", "id": "x/2"}, A, B)[0], b"bad_mac"),
                (lambda first: first, b"replay"),
            ):
                r, w = await asyncio.open_connection("127.0.0.1", n.ports[B])
                first = good.seal({"cmd": "release", "id": "x/1"}, A, B)[0]
                w.write(first)
                assert json.loads(await r.readline())["body"]["reply"]["ok"] is True
                w.write(second(first))
                rep = await asyncio.wait_for(r.readline(), 5)
                assert reason in rep
                assert await asyncio.wait_for(r.read(), 5) == b""  # and the server hung up
                w.close()
            st = n.stats(B)
            assert (st["signal_rejected_wrong_sender"], st["signal_rejected_bad_mac"], st["signal_rejected_replay"]) == (1, 1, 1)
            await until(lambda: n.sigs[B].active == 0, "the connections' end")

    run(go())


def test_idle_kept_connections_never_make_a_server_busy(tmp_path):
    async def go():
        async with Net(tmp_path, rids=(A, B), max_connections=2) as n:
            good = sig.Signer({1: KEY}, 1, clock_ms=n.clock.ms)
            kept = []
            for i in range(2):
                r, w = await asyncio.open_connection("127.0.0.1", n.ports[B])
                w.write(good.seal({"cmd": "release", "id": f"x/{i}"}, A, B)[0])
                assert json.loads(await r.readline())["body"]["reply"]["ok"] is True
                kept.append((r, w))
            await until(lambda: len(n.sigs[B]._idle) == 2, "two idle connections")
            # a third: the one idle longest makes room, the other stays
            assert await n.sigs[A].send(B, pc.SignalRelease(id="x/9")) == pc.Released(id="x/9")
            assert n.stats(B)["signal_idle_evicted"] == 1 and n.stats(B)["signal_rejected_busy"] == 0
            assert await asyncio.wait_for(kept[0][0].read(), 5) == b""
            assert n.sigs[B].active == 2
            # not idle (a request line pending): no room, the newcomer is refused
            half = [await asyncio.open_connection("127.0.0.1", n.ports[B]) for _ in range(2)]
            await until(lambda: n.stats(B)["signal_idle_evicted"] == 3, "the idle ones to make room")
            r, w = await asyncio.open_connection("127.0.0.1", n.ports[B])
            assert await asyncio.wait_for(r.read(), 5) == b"" and n.stats(B)["signal_rejected_busy"] == 1
            for _, w2 in (*kept, *half, (r, w)):
                w2.close()

    run(go())


def test_only_the_owner_releases_or_refreshes(tmp_path):
    async def go():
        async with Net(tmp_path) as n:
            rid, _ = await n.sigs[A].reserve_route([A, B, C], 1e8)
            # C holds the key but did not make B's booking (A did)
            with pytest.raises(pc.AgentRefusal, match=f"{C} does not hold reservation {rid}"):
                await n.sigs[C].send(B, pc.SignalRelease(id=rid))
            got = await n.sigs[C].send(B, pc.SignalRefresh(ids=(rid,)))
            assert got.lost[0].at == B and "does not hold it" in got.lost[0].reason
            assert n.stats(B)["signal_rejected_not_owner"] == 2 and rid in n.table(B)
            # B's operator cannot release A's reservation either: it expires unless refreshed
            with pytest.raises(pc.AgentRefusal, match=f"belongs to {A}'s path"):
                await n.sigs[B].control(pc.Release(id=rid))
            with pytest.raises(pc.AgentRefusal, match="no reservation x/1 here"):
                await n.sigs[A].control(pc.Release(id="x/1"))
            assert await n.sigs[A].control(pc.Release(id=rid)) == pc.Released(id=rid)
            assert not n.table(B) and not n.table(C)

    run(go())


def test_a_hop_refloods_after_the_set_up_not_during_it(tmp_path):
    """The re-flood of a booked link follows the answer from further on by
    ``flood_hold`` (the set-up's hops do not compete with the flood's work),
    and a path that fails further on floods nothing."""

    async def go():
        async with Net(tmp_path, flood_hold=60) as n:
            seen = []
            emit = n.sigs[B].emit
            n.sigs[B].emit = lambda reqs: (seen.append((reqs, sorted(n.table(B)), sorted(n.table(C)))), emit(reqs))
            rid, _ = await n.sigs[A].reserve_route([A, B, C], 1e8)
            assert rid in n.table(B) and rid in n.table(C) and not any(r for r, _, _ in seen)  # booked, not flooded yet
            assert n.sigs[A]._flood_timer is not None and n.sigs[B]._flood_timer is not None  # the tail books no link
        async with Net(tmp_path, flood_hold=0.01) as n:
            seen = []
            emit = n.sigs[B].emit
            n.sigs[B].emit = lambda reqs: (seen.append((reqs, sorted(n.table(B)), sorted(n.table(C)))), emit(reqs))
            rid, _ = await n.sigs[A].reserve_route([A, B, C], 1e8)
            await until(lambda: any(r for r, _, _ in seen), "B's re-flood")
            assert [(b, c) for r, b, c in seen if r] == [([rid], [rid])]  # one flood, after C's booking
            seen.clear()
            await n.down(C)
            with pytest.raises(pc.AgentRefusal, match=f"{C}: no agent answers"):
                await n.sigs[A].reserve_route([A, B, C], 1e8)
            assert seen and not any(r for r, _, _ in seen) and sorted(n.table(B)) == [rid]  # evaluated, nothing to flood

    run(go())


def test_a_failure_further_on_releases_the_hops_before(tmp_path):
    async def go():
        async with Net(tmp_path) as n:
            await n.down(C)
            with pytest.raises(pc.AgentRefusal, match=f"{C}: no agent answers"):
                await n.sigs[A].reserve_route([A, B, C], 1e8)
            assert not n.table(A) and not n.table(B) and n.core(B).reserved_bps("eth2") == 0

    run(go())


def test_without_a_key_there_is_no_signalling(tmp_path):
    async def go():
        core = make_core(tmp_path, A)
        s = Signalling(core, lambda reqs: None, 0)
        srv = await s.start("127.0.0.1")
        assert not srv.sockets and not srv.is_serving() and core.stats["signal_disabled"] == 1
        srv.close()
        with pytest.raises(pc.AgentRefusal, match=rf"no signal_key in .*{A}.yml: reservations need an authenticated signalling key"):
            await s.control(pc.Reserve(to=C, bw=1e8))
        with pytest.raises(pc.AgentRefusal, match="no signal_key"):
            await s.send(B, pc.SignalRelease(id="x/1"))
        with pytest.raises(pc.AgentRefusal, match="no reservation x/1 here"):
            await s.control(pc.Release(id="x/1"))
        t = asyncio.create_task(s.run_timers())  # a daemon task that never ends, doing nothing
        await asyncio.sleep(0.05)
        assert not t.done()
        t.cancel()

    run(go())


def test_config_is_checked(tmp_path):
    core = make_core(tmp_path, A)
    with pytest.raises(ValueError, match="signal_key.*at least 16"):
        Signalling(core, print, key="short")
    with pytest.raises(ValueError, match="reservation_hold .* longer than"):
        Signalling(core, print, key=KEY, refresh=5, hold=5)
    with pytest.raises(ValueError, match="reservation_refresh"):
        Signalling(core, print, key=KEY, refresh=float("nan"))
    core.cfg.agent.update({"signal_key": KEY, "signal_key_id": 3, "reservation_refresh": 2, "reservation_hold": 7})
    s = Signalling(core, print)
    assert (s.signer.kid, s.refresh, s.hold, core.reservations.hold) == (3, 2.0, 7.0, 7.0)


def test_an_unsigned_or_unbound_answer_is_not_believed(tmp_path):
    async def go():
        async with Net(tmp_path, rids=(A,)) as n:
            answers = [b'{"ok": true, "result": {"released": "x/1"}}\n']

            async def fake(reader, writer):
                await reader.readline()
                writer.write(answers.pop(0))
                await writer.drain()
                writer.close()

            srv = await asyncio.start_server(fake, "127.0.0.1", 0)
            n.ports[B] = srv.sockets[0].getsockname()[1]
            with pytest.raises(pc.AgentRefusal, match="no authentic answer"):
                await n.sigs[A].send(B, pc.SignalRelease(id="x/1"))
            # signed by a key holder, but answering another request
            other = sig.Signer({1: KEY}, 1, clock_ms=n.clock.ms).seal({"re": "00" * 12, "reply": {"ok": True, "result": {"released": "x/1"}}}, B, A)[0]
            answers.append(other)
            with pytest.raises(pc.AgentRefusal, match="not to our request"):
                await n.sigs[A].send(B, pc.SignalRelease(id="x/1"))
            assert n.stats(A)["signal_rejected_unauthenticated"] == 1 and n.stats(A)["signal_rejected_unbound"] == 1
            srv.close()

    run(go())


# -- accounting is O(1) -------------------------------------------------------------


def _lines(f) -> int:
    """Python lines executed by f(): a complexity proxy, not a timing.
    With cyclic GC off while tracing: a collection triggered inside f()
    runs other objects' finalizers, whose lines are not f's (the fresh-clone
    CI counted 20 lines for 11 once 5000 bookings had been allocated)."""
    n = 0

    def tracer(frame, event, arg):
        nonlocal n
        if event == "line":
            n += 1
        return tracer

    gc.collect()
    was = gc.isenabled()
    gc.disable()
    sys.settrace(tracer)
    try:
        f()
    finally:
        sys.settrace(None)
        if was:
            gc.enable()
    return n


def test_reserved_bps_costs_the_same_for_1_and_5000_bookings(tmp_path):
    def cost(core):
        return (
            _lines(lambda: core.reserved_bps("eth2")),
            _lines(lambda: core._available("eth2")),
            _lines(core.reservations.expire),  # nothing due: O(expired) = O(1)
        )

    costs = {}
    for n in (1, 5000):
        core = make_core(tmp_path, B)
        clock = Clock()
        Signalling(core, print, key=KEY, clock=clock)
        for i in range(n):
            core.reservations.book(f"{A}/{i}", "eth2" if i % 2 else "eth1", 1e3, C, owner=A)
        clock.advance(1)
        costs[n] = cost(core)
        assert core.reserved_bps("eth2") == (n // 2) * 8e3
    assert costs[1] == costs[5000]
    # the plain dict (no soft state) is what made 5000 bookings cost: O(N)
    plain = {f"{A}/{i}": {"ifname": "eth2", "bw": 1e3, "next": C} for i in range(5000)}
    assert _lines(lambda: res.reserved_bps(plain, "eth2")) > 5000 > 10 * costs[5000][0]


def test_a_table_keeps_its_soft_state_consistent():
    clock = Clock()
    t = res.Table(15, clock)
    t.book("a/1", "eth1", 10.0, B, owner=A)
    t.book("a/2", "eth1", 5.0, None, head=True)
    assert t.reserved("eth1") == 15 and list(t.own) == ["a/2"] and t["a/2"]["state"] == "pending"
    with pytest.raises(TypeError):
        t["a/3"] = {}
    with pytest.raises(TypeError):
        t.clear()
    assert t.pop("a/1")["next"] == B and t.reserved("eth1") == 5
    del t["a/2"]
    assert t == {} and t.reserved("eth1") == 0 and not t.own
    with pytest.raises(KeyError):
        t.pop("a/2")
    assert t.pop("a/2", None) is None
    t.book("a/4", "eth1", 1.0, B, owner=A)
    clock.advance(14)
    assert t.refresh("a/4") and not t.refresh("a/5")
    clock.advance(14)
    assert t.expire() == []
    clock.advance(1.1)
    assert [k for k, _ in t.expire()] == ["a/4"] and t == {}


def test_a_transit_hop_books_without_importing_the_path_search():
    """A hop on an explicit route (no segment to expand) books without
    ``paths.ksp`` (numpy): its import cost the first reservation through a
    router ~300 ms (issue 7 sec. 5)."""
    import subprocess

    code = textwrap.dedent(f"""
        import sys, types
        from pyfrr_pwr.agent import reservations as res
        link = types.SimpleNamespace(nbr_id="{C}", advertised=True, ifname="eth2")
        t = {{}}
        step = res.reserve_hop(t, "{A}/1", 1e8, ["{B}", "{C}"], [], router_id="{B}", teds={{}}, links=[link], available=lambda i: 1e10)
        assert step["next"] == "{C}" and t["{A}/1"]["ifname"] == "eth2", step
        print(sorted(m for m in ("pyfrr_pwr.paths.ksp", "numpy") if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_an_owner_that_restarted_replaces_its_stale_booking(tmp_path):
    core = make_core(tmp_path, B)
    Signalling(core, print, key=KEY, clock=Clock())
    kw = dict(router_id=B, teds={}, links=core.links.values(), available=core._available, owner=A)
    res.reserve_hop(core.reservations, f"{A}/1", 1e8, [B, C], [], **kw)
    res.reserve_hop(core.reservations, f"{A}/1", 2e8, [B, C], [], **kw)  # A restarted, its counter too
    assert core.reserved_bps("eth2") == 1.6e9
    with pytest.raises(pc.AgentRefusal, match="exists already"):
        res.reserve_hop(core.reservations, f"{A}/1", 1e8, [B, C], [], **{**kw, "owner": C})
    with pytest.raises(pc.AgentRefusal, match="finite number"):
        res.reserve_hop(core.reservations, f"{A}/2", float("nan"), [B, C], [], **kw)


# -- the whole inter-area path of fig. 2.0, over TCP ---------------------------------


def test_an_inter_area_reservation_over_tcp(tmp_path):
    """fig-2-0's in-memory fabric (fake flooding) for the TEDs and vectors;
    the reservation itself travels over loopback TCP, authenticated, with
    the ABRs expanding their segments."""
    from conftest import ROOT
    from helpers.flooding import Fabric

    f = Fabric(ROOT / "containerlab/fig-2-0.clab.yml")
    f.bring_up()
    ports, sigs = {}, {}
    for name, nd in f.nodes.items():
        sigs[nd.core.router_id] = Signalling(nd.core, lambda reqs, name=name: f.send(name, reqs), 0, address_of=lambda rid: ("127.0.0.1", ports[rid]))

    async def go():
        servers = []
        for rid, s in sigs.items():
            servers.append(await s.start("127.0.0.1"))
            ports[rid] = servers[-1].sockets[0].getsockname()[1]
        head, t4 = f.core("TEh1"), f.rid("TEt4")
        r = await sigs[head.router_id].control(pc.Reserve(to=t4, bw=1.25e8))
        assert r.route[0] == head.router_id and r.route[-1] == t4 and r.path.best.abr_chain
        f.flood()
        assert all(r.id in sigs[x].core.reservations for x in r.route)
        assert await sigs[head.router_id].refresh_all() == []
        assert await sigs[head.router_id].release(r.id) == pc.Released(id=r.id)
        assert not any(s.core.reservations for s in sigs.values())
        assert not any(k.startswith("signal_rejected") for s in sigs.values() for k in s.core.stats)
        # reserve, refresh and release went over one connection per hop: opened once, reused twice
        for x in r.route[:-1]:
            st = sigs[x].core.stats
            assert (st["signal_pool_opened"], st["signal_pool_reused"], st["signal_pool_retries"]) == (1, 2, 0), x
        for s in sigs.values():
            s.close()

    run(go())
    assert f.errors == []


def test_an_abr_expands_a_backups_segment_away_from_its_primary():
    """Draft sec. 2.2 (each ABR's CSPF for its area) with second seed sec.
    4.2: given the primary's route, the backup's segment avoids its routers
    and links where the area allows (``SignalReserve.avoid``)."""
    import networkx as nx

    from pyfrr_pwr.agent.signalling import expand_avoiding

    class _Ted:
        def __init__(self, G):
            self.G = G

        def graph(self):
            return self.G

    G = nx.MultiDiGraph()
    for u, v in (("a5", "b5"), ("b5", "b2"), ("b2", "a2"), ("b5", "a6"), ("a5", "b2")):
        G.add_edge(u, v, key=f"{u}-{v}", weight=1.0, remote=f"{v}-{u}", avail_bw=1e9)
        G.add_edge(v, u, key=f"{v}-{u}", weight=1.0, remote=f"{u}-{v}", avail_bw=1e9)
    teds = {"0.0.0.0": _Ted(G)}
    seg = {"area": "0.0.0.0", "to": "a2"}
    assert expand_avoiding(teds, "a5", seg, 1e6, ()) == (["a5", "b2", "a2"], "node")  # nothing to avoid
    # the primary crossed b2-a2: no other way into a2, so the segment shares that link
    assert expand_avoiding(teds, "a5", seg, 1e6, ("a1", "b1", "b2", "a2", "r3")) == (["a5", "b2", "a2"], "none")
    # the primary crossed a5-b2 (but not b2-a2): link-disjoint through b5
    assert expand_avoiding(teds, "a5", seg, 1e6, ("h", "a5", "b2", "x")) == (["a5", "b5", "b2", "a2"], "link")
    assert expand_avoiding(teds, "a5", {"area": "0.0.0.0", "to": "a6"}, 1e6, ("a1", "b2", "a2")) == (["a5", "b5", "a6"], "node")
    assert expand_avoiding(teds, "a5", {"area": "0.0.0.0", "to": "a6"}, 1e12, ()) == (None, "none")  # no bandwidth
    assert expand_avoiding(teds, "a5", {"area": "0.0.0.9", "to": "a6"}, 1e6, ()) == (None, "none")  # no such area


def test_a_backups_reserve_carries_the_primarys_route_and_each_abr_expands_away_from_it(tmp_path, monkeypatch):
    """The whole way over loopback TCP on fig-2-0's fabric, with the wire
    field the head-end sends once ``proto.control`` has it (a subclass here,
    ``SignalReserve.avoid``): each ABR of the backup's chain expands its
    segment with ``expand_avoiding`` and counts the level it reached.
    fig-2-0 allows little: its area-2 side ABRs hang off the backbone by one
    link and every tail-end by one link, so the tail-area segment shares
    R3-TEt1 ("none") while the backbone segment ABR5-Rb5-ABR6 is disjoint."""
    from conftest import ROOT
    from helpers.flooding import Fabric

    f = Fabric(ROOT / "containerlab/fig-2-0.clab.yml")
    f.bring_up()
    ports, sigs = {}, {}
    for name, nd in f.nodes.items():
        sigs[nd.core.router_id] = Signalling(nd.core, lambda reqs, name=name: f.send(name, reqs), 0, address_of=lambda rid: ("127.0.0.1", ports[rid]))
    r = {n: f.rid(n) for n in ("TEh1", "R1", "R2", "ABR1", "ABR2", "ABR5", "ABR6", "R3", "R4", "TEt1")}

    async def go():
        servers = []
        for rid, s in sigs.items():
            servers.append(await s.start("127.0.0.1"))
            ports[rid] = servers[-1].sockets[0].getsockname()[1]
        head = sigs[r["TEh1"]]
        plan = lambda *steps: tuple(pc.PlanStep(area=a, to=r[t]) for a, t in steps)  # noqa: E731
        pid, primary = await head.reserve_route([r["TEh1"], r["R1"], r["ABR1"]], 1e6, plan(("0.0.0.0", "ABR2"), ("0.0.0.2", "TEt1")))
        assert primary == tuple(f.rid(n) for n in ("TEh1", "R1", "ABR1", "Rb1", "Rb2", "ABR2", "R3", "TEt1"))
        req = pc.SignalReserve(
            id=f"{r['TEh1']}/99", bw=1e6, hops=(r["TEh1"], r["R2"], r["ABR5"]), plan=plan(("0.0.0.0", "ABR6"), ("0.0.0.2", "TEt1")), avoid=primary
        )
        back = await head._reserve(req, None, head=True)
        assert back.route == tuple(f.rid(n) for n in ("TEh1", "R2", "ABR5", "Rb5", "ABR6", "R4", "R3", "TEt1"))
        assert sigs[r["ABR5"]].core.stats["backup_segments_node_disjoint"] == 1
        assert sigs[r["ABR6"]].core.stats["backup_segments_none_disjoint"] == 1
        assert all(req.id in sigs[x].core.reservations for x in back.route)
        for rid in (pid, req.id):
            await head.release(rid)
        assert not any(s.core.reservations for s in sigs.values())
        for s in sigs.values():
            s.close()

    run(go())
    assert f.errors == []
