"""The agents' trace lines (``agent.trace``) and where one reroute's time
went (``lab.trace``): pure parsing and bookkeeping, no lab."""

from pyfrr_pwr.agent.trace import parse_line
from pyfrr_pwr.lab import trace

R4 = "10.20.255.19"


def test_a_trace_line_is_found_inside_any_log_format():
    line = "2026-12-02 04:13:00,123 pyfrr-pwr[R4] INFO pyfrr_pwr.trace: TRACE 1234.500000 send OriginateRequest 0.0.0.2 17"
    assert parse_line(line) == (1234.5, "send", ["OriginateRequest", "0.0.0.2", "17"])
    assert parse_line("INFO pyfrr_pwr.agent: registered opaque type") is None
    assert parse_line("TRACE notatime x") is None


def test_events_from_logs_sort_into_one_timeline(tmp_path):
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_text("x TRACE 2.0 vec_done 5.0 1\nnoise\n")
    b.write_text("y TRACE 1.0 watts eth5=1\n")
    assert [(e[0], e[1], e[2]) for e in trace.events({"R4": b, "ABR2": a, "gone": tmp_path / "no.log"})] == [(1.0, "R4", "watts"), (2.0, "ABR2", "vec_done")]


def test_stages_take_the_first_and_last_step_of_each_kind_between_change_and_sight():
    evs = [
        (9.0, "R4", "watts", ["eth5=1"]),  # before the change: not this round's
        (10.005, "R4", "watts", ["eth5=270"]),
        (10.006, "R4", "send", ["OriginateRequest", "0.0.0.2", "17"]),
        (10.008, "ABR2", "lsa_upd", ["0.0.0.2", R4, "200.0.0.17"]),
        (10.030, "ABR2", "vec_done", ["7.0", "1"]),
        (10.031, "ABR2", "vec_done", ["3.0", "0"]),  # nothing originated: not a step
        (10.090, "ABR1", "vec_done", ["9.0", "2"]),
        (10.120, "ABR1", "vec_done", ["4.0", "1"]),
        (10.150, "TEh1", "lsa_upd", ["0.0.0.1", "10.20.255.7", "200.0.0.33"]),
        (10.175, "TEh1", "view_published", ["9"]),
        (10.180, "TEh1", "view_choices", ["9", "1", "4.0"]),
        (10.400, "TEh1", "lsa_upd", ["0.0.0.1", "10.20.255.7", "200.0.0.34"]),  # after it was seen
    ]
    st = trace.stages(evs, 10.0, "R4", R4, "TEh1", 10.2)
    assert st == {
        "origin_input": 5.0,
        "origin_sent": 6.0,
        "origin_lsa_first_seen": 8.0,
        "ABR1_vec_first": 90.0,
        "ABR1_vec_last": 120.0,
        "ABR2_vec_first": 30.0,
        "ABR2_vec_last": 30.0,
        "head_last_lsa": 150.0,
        "head_view_published": 175.0,
        "head_choices": 180.0,
        "seen": 200.0,
    }
    assert trace.summary([st, {**st, "seen": 300.0}, {"seen": 100.0}])["seen"] == 200.0
    assert "origin_sent" in trace.summary([st, st, {"seen": 1.0}])  # present in 2 of 3


def test_adjacency_drops_leave_out_the_link_flapped_on_purpose():
    evs = [
        (1.0, "R4", "nsm", ["10.20.29.0", "10.20.255.15", "1"]),  # the flapped link
        (2.0, "R3", "nsm", ["10.20.5.0", "10.20.255.18", "2"]),  # Down elsewhere
        (3.0, "R3", "nsm", ["10.20.5.0", "10.20.255.18", "9"]),  # Full again: no drop
    ]
    assert trace.adjacency_drops(evs, 0.0, 5.0, {"10.20.29.0"}) == [(2.0, "R3", "10.20.5.0", "10.20.255.18")]
