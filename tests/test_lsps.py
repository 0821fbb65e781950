"""The head-end's LSP pieces that need no lab (issue 7): reservation IDs as
binding-SID halves, the head-end's SID list from a signalling answer, a
choice as the state machine's path, the tail's and ABR's parts of the
answer, and the agent.lsp section of power.yml. The whole chain on real
FRR and real forwarding is tests/test_frr_dataplane.py."""

from dataclasses import dataclass, field

import pytest

from pyfrr_pwr.agent import lsps
from pyfrr_pwr.dataplane import sidlist, sids
from pyfrr_pwr.files.lspcfg import LspSettings
from pyfrr_pwr.files.power import ConfigError, load_power
from pyfrr_pwr.proto import control as pc

HEAD, R2, ABR, TAIL = "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"


def plan_of(rid, links=(), prefixes=()):
    adjs = [sids.Adjacency(f"eth{i + 1}", f"fd01::{i + 2}", l) for i, l in enumerate(links)]
    return sids.SidPlan.build(rid, adjacencies=adjs, prefixes=[sids.Dx4Prefix(p, "0.0.0.0") for p in prefixes])


PLANS = {
    HEAD: plan_of(HEAD, ["10.1.0.0"]),
    R2: plan_of(R2, ["10.2.0.0"]),
    ABR: plan_of(ABR, ["10.3.0.0"]),
    TAIL: plan_of(TAIL, [], ["10.20.201.0/24"]),
}
TABLE = sidlist.SidTable.of(PLANS.values())


def test_reservation_ids_name_binding_sids():
    assert lsps.parse_rid("10.0.0.1/7") == ("10.0.0.1", 7)
    for bad in ("x/1", "10.0.0.1", "10.0.0.1/-1", f"10.0.0.1/{2**32}"):
        with pytest.raises(lsps.LspError):
            lsps.parse_rid(bad)


def test_the_head_list_pins_each_reserved_link_then_the_binding_sid():
    b = sids.binding_sid(PLANS[ABR].locator, HEAD, 7)
    route = pc.Route(route=(HEAD, R2, ABR, TAIL), links=("10.1.0.0", "10.2.0.0"), binding=b)
    segs = lsps.head_segs(route, TABLE)
    assert segs == (TABLE.end_x[(HEAD, "10.1.0.0")], TABLE.end_x[(R2, "10.2.0.0")], b)
    # a hop with no End.X SID advertised: named
    with pytest.raises(lsps.LspError, match=f"no End.X SID advertised by {R2} for link 10.9.0.0"):
        lsps.head_segs(pc.Route(route=(HEAD, R2, TAIL), links=("10.1.0.0", "10.9.0.0")), TABLE)
    with pytest.raises(lsps.LspError, match="max_depth 3"):
        lsps.head_segs(route, TABLE, max_depth=3)
    with pytest.raises(lsps.LspError, match="names no link"):
        lsps.head_segs(pc.Route(route=(HEAD,)), TABLE)


def _cand(head_path, chain, pwr, area="0.0.0.2"):
    seg = (pc.Segment(what="h", pwr_w_per_gbps=1.0, hops=1), pc.Segment(what="v", area=area, pwr_w_per_gbps=1.0, hops=1))
    return pc.Candidate(abr_chain=tuple(chain), head_path=tuple(head_path), segments=seg, pwr=pwr, pwr_w_per_gbps=1.0, min_avail_bw=None, hops=3, delay_us=None)


def test_a_choice_is_one_path_per_abr_chain_and_head_path():
    a = lsps.candidate_path(_cand([HEAD, R2, ABR], [ABR, "10.0.0.9"], 2.0), TAIL, {})
    assert a.nodes == (HEAD, R2, ABR, "10.0.0.9", TAIL)
    assert a.edges[-2:] == ((ABR, "10.0.0.9", "area 0.0.0.0"), ("10.0.0.9", TAIL, "area 0.0.0.2"))
    b = lsps.candidate_path(_cand([HEAD, R2, ABR], [ABR, "10.0.0.8"], 2.0), TAIL, {})
    assert a.edges != b.edges and a.pwr == 2.0


@dataclass
class _Link:
    ifaddr: str


@dataclass
class _Core:
    """The three things of AgentCore the data plane hook reads."""

    router_id: str
    reservations: dict = field(default_factory=dict)
    links: dict = field(default_factory=dict)

    def sid_table(self, area=None):
        return TABLE


class _Srv6:
    def __init__(self, rid):
        self.plan = PLANS[rid]
        self.disabled = None

    def advertised(self):
        return self.plan.advertised()


def _manager(rid, nl=None):
    m = lsps.LspManager(_Core(rid), None, _Srv6(rid))
    m.nl, m._cleaned = nl, True
    return m


def _req(prefixes=(), plan=()):
    return pc.SignalReserve(id=f"{HEAD}/7", bw=1.0, hops=(TAIL,), plan=plan, dataplane=True, prefixes=prefixes)


def test_the_tail_answers_its_sids_and_refuses_a_prefix_it_does_not_serve():
    m = _manager(TAIL)
    r = m.on_reserved(_req(), {"next": None}, None, expands=False)
    assert r.route == (TAIL,) and r.dt6 == PLANS[TAIL].dt6.sid
    assert r.dx4 == (pc.PrefixSid("10.20.201.0/24", PLANS[TAIL].dx4("10.20.201.0/24").sid),)
    with pytest.raises(lsps.LspError, match="10.99.0.0/24 is not a prefix this tail-end serves"):
        m.on_reserved(_req(("10.99.0.0/24",)), {"next": None}, None, expands=False)


class _Kernel:
    """Records add_sid/remove_sid (the netlink shell is tested on real
    kernels in test_dataplane_netlink.py)."""

    def __init__(self):
        self.sids = {}

    def add_sid(self, sid):
        self.sids[sid.sid] = sid

    def remove_sid(self, sid):
        return self.sids.pop(sid.sid, None) is not None


def test_an_expanding_abr_installs_a_binding_sid_for_its_segment_and_removes_it_with_its_booking():
    k = _Kernel()
    m = _manager(ABR, k)
    m.core.reservations[f"{HEAD}/7"] = {"ifname": "eth1"}
    m.core.links["eth1"] = _Link("10.3.0.0")
    down = pc.Route(route=(TAIL,), dt6=PLANS[TAIL].dt6.sid, dx4=(pc.PrefixSid("10.20.201.0/24", "fd00::4"),))
    r = m.on_reserved(_req(plan=(pc.PlanStep(area="0.0.0.2", to=TAIL),)), {"next": TAIL}, down, expands=True)
    want = sids.binding_sid(PLANS[ABR].locator, HEAD, 7)
    assert r.binding == want and r.links == () and r.dx4 == down.dx4
    assert k.sids[want].segs == (TABLE.end_x[(ABR, "10.3.0.0")], PLANS[TAIL].dt6.sid)
    # a transit hop answers its link and passes the binding SID on
    t = _manager(R2)
    t.core.reservations[f"{HEAD}/7"] = {"ifname": "eth1"}
    t.core.links["eth1"] = _Link("10.2.0.0")
    up = t.on_reserved(_req(), {"next": ABR}, pc.Route(route=(ABR, TAIL), binding=want, dt6=r.dt6, dx4=r.dx4), expands=False)
    assert up.links == ("10.2.0.0",) and up.binding == want and up.route == (R2, ABR, TAIL)
    m.on_gone(f"{HEAD}/7")
    assert k.sids == {}
    m.on_gone(f"{HEAD}/7")  # twice: nothing


def test_agent_lsp_settings(tmp_path):
    base = "router: r\nbase_speed: 10G\nports:\n  eth1: {speed: 10G, power_w: 10}\nagent:\n  lsp:\n"
    p = tmp_path / "power.yml"
    p.write_text(base + "    margin: 0.1\n    holddown: 0\n")
    s = load_power(p).lsp
    assert s == LspSettings(margin=0.1, holddown=0.0)
    assert load_power(_write(tmp_path / "d.yml", "router: r\nbase_speed: 10G\nports:\n  eth1: {speed: 10G, power_w: 10}\n")).lsp == LspSettings()
    p.write_text(base + "    margin: 1.5\n")
    with pytest.raises(ConfigError, match=r"power.yml:7.*margin"):
        load_power(p)
    p.write_text(base + "    marg: 0.1\n")
    with pytest.raises(ConfigError, match="marg"):
        load_power(p)


def test_agent_lsp_protection_and_liveness_settings(tmp_path):
    from pyfrr_pwr.files.lspcfg import LivenessSettings

    base = "router: r\nbase_speed: 10G\nports:\n  eth1: {speed: 10G, power_w: 10}\nagent:\n  lsp:\n"
    p = tmp_path / "power.yml"
    key = tmp_path / "live.key"
    key.write_bytes(b"0123456789abcdef0123")
    p.write_text(
        base
        + f"    protection: true\n    wtr: 0\n    liveness:\n      interval: 0.01\n      key_file: {key}\n      allowed: [fd00:a00::/32]\n      fast_switch: false\n      nice: null\n"
    )
    s = load_power(p).lsp
    assert s.protection is True and s.wtr == 0.0
    assert s.liveness == LivenessSettings(interval=0.01, key=b"0123456789abcdef0123", allowed=("fd00:a00::/32",), fast_switch=False, nice=None)
    assert LivenessSettings().threaded is True and LivenessSettings().fast_switch is True and LivenessSettings().nice == -10
    assert LspSettings().liveness == LivenessSettings() and LivenessSettings().key is None
    for bad, line, field_ in (
        ("      interval: 0.001\n", 8, "interval"),
        ("      multiplier: 1\n", 8, "multiplier"),
        ("      port: 70000\n", 8, "port"),
        ("      rate: 0\n", 8, "rate"),
        ("      threaded: 1\n", 8, "threaded"),
        ("      nice: -21\n", 8, "nice"),
        ("      nice: 0.5\n", 8, "nice"),
        ("      allowed: [10.0.0.0/8]\n", 8, "allowed"),
        ("      probe: 1\n", 7, "probe"),
    ):
        p.write_text(base + "    liveness:\n" + bad)
        with pytest.raises(ConfigError, match=rf"power.yml:{line}.*{field_}"):
            load_power(p)
    key.write_bytes(b"short")
    p.write_text(base + f"    liveness:\n      key_file: {key}\n")
    with pytest.raises(ConfigError, match=r"power.yml:8.*key_file.*5 bytes"):
        load_power(p)
    p.write_text(base + f"    liveness:\n      key_file: {tmp_path / 'none.key'}\n")
    with pytest.raises(ConfigError, match=r"key_file.*cannot read"):
        load_power(p)


def _write(p, text):
    p.write_text(text)
    return p


def test_the_backup_is_the_cheapest_choice_disjoint_from_the_primary_as_far_as_the_head_end_sees():
    p = _cand([HEAD, R2, ABR], [ABR, "10.0.0.9"], 1.0)
    same_link = _cand([HEAD, R2, "10.0.0.7"], ["10.0.0.7", "10.0.0.9"], 1.1)  # shares HEAD-R2
    link_only = _cand([HEAD, "10.0.0.6", "10.0.0.7"], ["10.0.0.7", "10.0.0.9"], 1.2)  # shares the tail-side ABR
    node = _cand([HEAD, "10.0.0.6", "10.0.0.8"], ["10.0.0.8", "10.0.0.5"], 1.3)
    choice = pc.PathChoice(to=TAIL, best=p, ecmp=(p,), runners_up=(same_link, link_only, node))
    assert lsps.backup_candidate(choice, p) == (node, "node")
    choice = pc.PathChoice(to=TAIL, best=p, ecmp=(p,), runners_up=(same_link, link_only))
    assert lsps.backup_candidate(choice, p) == (link_only, "link")
    assert lsps.backup_candidate(pc.PathChoice(to=TAIL, best=p, ecmp=(p,), runners_up=(same_link,)), p) == (None, "none")


def test_the_ecmp_set_is_one_leg_per_distinct_path_weighted_by_available_bandwidth():
    import dataclasses

    a = dataclasses.replace(_cand([HEAD, R2, ABR], [ABR, "10.0.0.9"], 1.0), min_avail_bw=4e9)
    b = dataclasses.replace(_cand([HEAD, "10.0.0.6", "10.0.0.7"], ["10.0.0.7", "10.0.0.9"], 1.0), min_avail_bw=1e9)
    c = dataclasses.replace(b, min_avail_bw=None)
    choice = pc.PathChoice(to=TAIL, best=a, ecmp=(a, b, dataclasses.replace(a, min_avail_bw=3e9)), runners_up=())
    assert lsps.ecmp_set(choice, TAIL, {}) == (a, b)  # a's twin is the same path
    assert lsps.ecmp_set(choice, TAIL, {}, most=1) == (a,)
    assert lsps.ucmp_weights((a, b)) == (256, 64)
    assert lsps.ucmp_weights((a, c)) == (256, 256)  # unknown: as the best known
    assert lsps.ucmp_weights((c, c)) == (1, 1)
    tiny = dataclasses.replace(b, min_avail_bw=1.0)
    assert lsps.ucmp_weights((a, tiny)) == (256, 1)  # never 0: the kernel's weights are 1..256


def test_reoptimisation_follows_the_published_view_and_an_idle_manager_sleeps_long():
    """The LSP task wakes at most every IDLE s with nothing to watch, and
    re-optimises when the head-end's view (what path_choice reads) changed,
    not when the live TEDs did (their change is not in the choice yet)."""
    m = _manager(HEAD)
    assert m._sleep_for(0.0) == m.IDLE
    m.bindings["x/1"] = object()
    assert m._sleep_for(0.0) == min(m.settings.watch_period, m.settings.reoptimize_period)
    core = m.core
    core.teds, core.view, core.view_gen = {}, {}, 3  # no live TED change: the view alone
    a = m._ted_signature()
    core.view_gen = 4
    assert m._ted_signature() != a
    m.kick()  # before run(): nothing to wake, no error


def test_a_link_disjoint_backup_prefers_the_abr_chain_sharing_fewest_abrs_with_the_primary():
    """Second seed sec. 4.2: past the head-end's area the segments between
    shared ABRs are where primary and backup meet again (each ABR's own
    CSPF), so among head-area link-disjoint choices fewer shared ABRs win
    over a lower PWR."""
    p = _cand([HEAD, R2, ABR], [ABR, "10.0.0.9"], 1.0)
    both = _cand([HEAD, "10.0.0.6", ABR], [ABR, "10.0.0.9"], 1.1)  # the same two ABRs
    one = _cand([HEAD, "10.0.0.6", "10.0.0.7"], ["10.0.0.7", "10.0.0.9"], 1.2)  # shares the tail-side ABR
    choice = pc.PathChoice(to=TAIL, best=p, ecmp=(p,), runners_up=(both, one))
    assert lsps.backup_candidate(choice, p) == (one, "link")
    choice = pc.PathChoice(to=TAIL, best=p, ecmp=(p,), runners_up=(both,))
    assert lsps.backup_candidate(choice, p) == (both, "link")


def test_end_to_end_disjointness_is_reported_per_segment():
    # fig-2-0's shape: TEh1 R1 ABR1 Rb1 Rb2 ABR2 R3 TEt1 (primary)
    h, t = "h", "t"
    prim = (h, "r1", "a1", "b1", "b2", "a2", "r3", t)
    back = (h, "r2", "a5", "b5", "a6", "r4", "r3", t)  # another chain: meets the primary at r3 only
    segs, worst = lsps.segment_disjointness(prim, back, ("a5", "a6"))
    assert [(s["from"], s["to"], s["disjoint"]) for s in segs] == [(h, "a5", "node"), ("a5", "a6", "node"), ("a6", t, "none")]
    assert segs[2]["shared_links"] == [["r3", t]] and segs[2]["shared_nodes"] == ["r3"] and worst == "none"
    back2 = (h, "r2", "a5", "b5", "b2", "a2", "r4", "r3", t)  # shares ABR2 and the Rb2-ABR2 link
    segs, worst = lsps.segment_disjointness(prim, back2, ("a5", "a2"))
    assert [s["disjoint"] for s in segs] == ["node", "none", "none"]
    assert segs[1]["shared_links"] == [["a2", "b2"]] and segs[1]["shared_nodes"] == ["a2", "b2"]
    # the tail-area segment shares r3 but no link: link-disjoint there
    segs, worst = lsps.segment_disjointness((h, "x", "r3", "y", t), (h, "z", "r3", "w", t), ())
    assert [(s["disjoint"], s["shared_nodes"]) for s in segs] == [("link", ["r3"])] and worst == "link"
    assert lsps.segment_disjointness((h, t), (h, "q", t), ()) == (({"from": h, "to": t, "disjoint": "node", "shared_links": [], "shared_nodes": []},), "node")
    assert lsps.segment_disjointness((h,), (h, t), ()) == ((), "none")


def test_a_backup_is_signalled_with_its_primarys_route_to_avoid(monkeypatch):
    """Second seed sec. 4.2, end to end: the backup's reserve waits for the
    primary's answer and names its route (``SignalReserve.avoid``), so each
    ABR can expand the backup's segment away from it."""
    import asyncio

    from pyfrr_pwr.dataplane import lsp as fsm

    calls = []
    dx4 = (pc.PrefixSid("10.20.201.0/24", PLANS[TAIL].dx4("10.20.201.0/24").sid),)

    class _Sig:
        async def reserve_lsp(self, hops, bw, plan, prefixes, **kw):
            calls.append((tuple(hops), kw))
            await asyncio.sleep(0.05 if not kw else 0)  # the primary answers later than the backup asks
            n = len(calls)
            return f"{HEAD}/{n}", pc.Route(route=(HEAD, *hops, TAIL), links=("10.1.0.0",), binding="fd00:9::b6", dt6=PLANS[TAIL].dt6.sid, dx4=dx4)

    class _Nl:
        registry: dict = {}

        def ifname_of(self, addr):
            return "eth1"

        def add_multipath(self, *a, **kw):
            pass

    m = _manager(HEAD, _Nl())
    m.signalling = _Sig()
    prim = fsm.LspPath(((HEAD, R2, "10.1.0.0"), (R2, TAIL, "area 0.0.0.2")), 1.0)
    back = fsm.LspPath(((HEAD, ABR, "10.1.0.9"), (ABR, TAIL, "area 0.0.0.2")), 2.0)
    mach = fsm.Lsp(1, HEAD, TAIL, ("*",), 1.0, m.config)
    h = lsps._Head("x", 1, TAIL, 1.0, (), None, {}, mach)
    h.plans = {prim.edges: ([R2], (), None), back.edges: ([ABR], (), None)}
    m.heads[h.id] = h
    acts = mach.handle(fsm.SetupRequested(0.0, (prim,), back))

    async def run():
        await asyncio.gather(*(m._signal(h, a) for a in acts if isinstance(a, fsm.Signal)))

    asyncio.run(run())
    assert calls[0] == ((R2,), {}) and calls[1] == ((ABR,), {"avoid": (HEAD, R2, TAIL)})
    assert mach.state is fsm.State.UP and mach.backup is not None


def test_a_head_end_without_srv6_answers_a_reservation_only_and_says_why():
    """Without SRv6 (here: the kernel has no lightweight tunnels) --reserve
    books the bandwidth but steers nothing: the answer must say so, or an
    operator reads "reserved" as traffic on the path; the control
    protocol's JSON carries it, and a prefix to carry is refused."""
    import asyncio

    class _Signalling:
        async def control(self, req):
            return pc.Reserved(id=f"{HEAD}/1", bw=req.bw, route=(HEAD, TAIL), path=None)

    srv6 = _Srv6(HEAD)
    srv6.disabled = "this kernel has no SRv6 lightweight tunnels"
    m = lsps.LspManager(_Core(HEAD), _Signalling(), srv6)
    res = asyncio.run(m.control(pc.Reserve(to=TAIL, bw=1.0)))
    assert res.lsp is None and res.no_lsp == f"{HEAD}: this kernel has no SRv6 lightweight tunnels"
    assert res.to_json()["no_lsp"] == res.no_lsp
    with pytest.raises(pc.AgentRefusal, match="no LSP can carry 10.20.201.0/24: this kernel"):
        asyncio.run(m.control(pc.Reserve(to=TAIL, bw=1.0, prefixes=("10.20.201.0/24",))))
