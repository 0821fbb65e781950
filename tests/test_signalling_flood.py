"""The re-flood hold from power.yml (issue 7 sec. 5): ``agent.signal_flood_hold``
seconds from a hop's answer to its re-flood of what it booked. The booking
made before forwarding is what admission counts (draft sec. 2.2; RFC 3630
sec. 2.5.8's unreserved bandwidth only informs later path computations),
so holding the flood past the set-up changes no admission; it keeps the
area's agents from re-computing while the set-up's answer travels back."""

import asyncio

import pytest
from helpers.signalnet import KEY, A, B, C, Net, make_core

from pyfrr_pwr.agent.signalling import FLOOD_HOLD, Signalling


def _sig(tmp_path, **agent):
    return Signalling(make_core(tmp_path, A, {"signal_key": KEY, **agent}), lambda reqs: None, 0)


def test_the_hold_comes_from_the_agent_section_and_is_checked(tmp_path):
    assert _sig(tmp_path).flood_hold == FLOOD_HOLD
    assert FLOOD_HOLD == 0.5  # shipped (agent.signalling: issue 7 sec. 5)
    assert _sig(tmp_path, signal_flood_hold=1.25).flood_hold == 1.25
    assert _sig(tmp_path, signal_flood_hold=0).flood_hold == 0.0
    for bad in (-0.1, float("nan"), 6, True, "1"):
        with pytest.raises(ValueError, match="agent.signal_flood_hold"):
            _sig(tmp_path, signal_flood_hold=bad)


def test_a_held_flood_changes_no_admission(tmp_path):
    """B's link is booked before the request goes on, so a second
    reservation that does not fit is refused at B while B's flood is
    still held."""

    async def go():
        async with Net(tmp_path, flood_hold=60) as n:
            rid, _ = await n.sigs[A].reserve_route([A, B, C], 1.0e9)  # 8 of B eth2's 10 Gb/s
            assert n.sigs[B]._flood_timer is not None  # not flooded yet
            for head, path, link in ((A, [A, B, C], f"eth1 to {B}"), (B, [B, C], f"eth2 to {C}")):
                with pytest.raises(Exception, match=f"{head}: link {link} has 2 Gb/s available, 8 Gb/s requested"):
                    await n.sigs[head].reserve_route(path, 1.0e9)
            assert list(n.table(B)) == [rid] and n.sigs[B]._flood_timer is not None

    asyncio.run(go())
