"""Per-site telemetry servers for a lab (issue 9 sec. 3: "energy figures
come from the readers": Redfish mockups, an IEC 61850 MMS server, grid feeds).

A compute site (power.yml ``energy.role: compute-site``) reads its energy
status from a BMC (Redfish), a substation IED (IEC 61850 MMS) and grid
feeds (docs/energy.md). In a lab none of them exist, so this module runs
real servers for them, each **inside the site's own namespace on its
loopback address**, where the site's agent reads them with the readers it
would use in the field: nothing outside the node can reach them, and two
labs never clash on a port. What to serve comes from the site's power.yml
and, beside it in the topology directory:

* ``redfish/<reader name>/``: the Redfish mockup (``sushy-static -m``) a
  ``type: redfish`` reader at ``http://127.0.0.1:PORT`` reads;
* ``figures.yml``: initial values, ``{mms: {reader: {object reference:
  value}}, grid: {reader: {carbon_intensity | green_share: value}}}``.

Served:

* Redfish: ``sushy-static`` (sushy-tools) on a per-lab copy of the mockup,
  so ``set_power`` can change a figure (sushy-static reads the files on
  every request);
* MMS: ``iec61850.IedServer`` with one measured value (CDC MV: ``mag.f``,
  ``q``, ``t`` under FC MX, IEC 61850-7-3) per configured point; ``t`` is
  left unset, so the reader stamps the value with its own clock (never
  stale);
* grid feeds (``format: uk-carbon``, URL path ``.../intensity`` or
  ``.../generation``): an HTTP server rendering the UK carbon-intensity
  API's JSON at each request with the current half-hour slot (a fixed file
  would turn stale after ``max_age``).

MMS and grid servers of one site run in one helper process (``python -m
pyfrr_pwr.lab.sites serve SPEC``), which re-reads the site's values file
(``set_figure``) within 0.2 s. Readers pointing anywhere but loopback (a
real BMC, a public feed, a feed file) are left alone.

``plan`` is pure (what to serve, from the topology); ``Sites`` is the thin
process shell: ``start`` (returns once every planned port listens in its
namespace, else raises LabError naming the site with its log), ``stop``
(exactly the processes it started: pid plus start time; removes its
files), ``set_power``, ``set_figure``. State lives under the lab's run
directory (``/run/pyfrr-pwr/LAB/.sites``), so ``Lab.down`` removing the
lab's namespaces and directory also ends anything left over.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from pyfrr_pwr.files.topology import POWER_TARGET
from pyfrr_pwr.lab.common import LabError, alive, start_time, stop_pids

__all__ = [
    "SITES_DIR",
    "RedfishServer",
    "MmsServer",
    "GridServer",
    "SitePlan",
    "plan",
    "split_ref",
    "ied_model",
    "uk_feed",
    "listening_ports",
    "Sites",
    "stop_all",
]

SITES_DIR = ".sites"  # under the lab's run directory (no clab node may be called that)
SLOT = 1800  # the UK feed's half-hour settlement period


@dataclass(frozen=True)
class RedfishServer:
    reader: str  # the power.yml reader it serves
    host: str
    port: int
    mockup: Path  # the shipped mockup (copied per lab)


@dataclass(frozen=True)
class MmsServer:
    reader: str
    host: str
    port: int
    refs: tuple  # object references ("GRIDLD0/GGIO1.AnIn3"), in power.yml order


@dataclass(frozen=True)
class GridServer:
    host: str
    port: int
    paths: tuple  # (URL path, reader, "intensity" | "generation")


@dataclass(frozen=True)
class SitePlan:
    node: str
    redfish: tuple = ()
    mms: tuple = ()
    grid: tuple = ()
    figures: dict = field(default_factory=dict)  # figures.yml, checked

    def ports(self) -> list[tuple[str, int]]:
        return [(s.host, s.port) for s in (*self.redfish, *self.mms, *self.grid)]


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def split_ref(ref: str) -> tuple[str, str, str, str, str]:
    """``GRIDLD0/MMXU1.TotW`` -> (IED name, LD inst, LN class, LN inst, DO):
    ("GRID", "LD0", "MMXU", "1", "TotW"). IEC 61850-7-2: the domain is the
    IED name followed by the logical device's instance; here the instance
    starts at the last "LD"; a LN name is a 4-letter class and a number."""
    dom, sep, rest = ref.partition("/")
    i = dom.rfind("LD")
    ln, dot, do = rest.partition(".")
    if not sep or i <= 0 or not dot or "." in do or len(ln) < 5 or not ln[:4].isalpha() or not ln[4:].isdigit():
        raise ValueError(f"{ref!r} is not IEDLDn/CLASSn.DO (e.g. GRIDLD0/MMXU1.TotW)")
    return dom[:i], dom[i:], ln[:4], ln[4:], do


def ied_model(refs) -> tuple[str, dict]:
    """(IED name, an ``IedServer.from_model_spec`` model) holding a measured
    value (CDC MV: mag.f, q, t; FC MX) for each reference. One IED per server."""
    ieds = {split_ref(r)[0] for r in refs}
    if len(ieds) != 1:
        raise ValueError(f"one MMS server serves one IED; the points name {sorted(ieds)}")
    lds: dict = {}
    for r in refs:
        _, ld, cls, inst, do = split_ref(r)
        lns = lds.setdefault(ld, {})
        lns.setdefault((cls, inst), []).append(do)
    mode = {"name": "Mod", "das": [{"name": "stVal", "fc": "ST", "type": "Enumerated", "value": {"type": "int", "value": 1}}]}
    out = []
    for ld, lns in lds.items():
        ln_list = [{"lln0": True, "dos": [mode]}]
        for (cls, inst), dos in lns.items():
            ln_list.append({"class": cls, "prefix": "", "inst": inst, "dos": [_mv(d) for d in dos]})
        out.append({"inst": ld, "lns": ln_list})
    ied = ieds.pop()
    return ied, {"ied_name": ied, "lds": out}


def _mv(name: str) -> dict:
    # q left at its default (validity good), t unset (the reader's clock)
    return {
        "name": name,
        "das": [{"name": "q", "fc": "MX", "type": "Quality"}, {"name": "t", "fc": "MX", "type": "Timestamp"}],
        "constructed_das": [
            {"name": "mag", "fc": "MX", "children": [{"name": "f", "fc": "MX", "type": "Float32", "value": {"type": "float32", "value": 0.0}}]}
        ],
    }


def da_path(ref: str) -> str:
    """The MV's value as ``IedServer.update_float32`` names it: LD/LN.DO.mag.f."""
    _, ld, cls, inst, do = split_ref(ref)
    return f"{ld}/{cls}{inst}.{do}.mag.f"


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(t))


def uk_feed(kind: str, value: float, now: float) -> dict:
    """The UK carbon-intensity API's answer for a slot holding ``now``:
    ``/intensity`` (value in gCO2/kWh, as ``actual``) or ``/generation``
    (value: the green share 0..1, as wind; the rest gas). The slot starts
    at the current minute (the format's resolution), not at the half hour
    as the real API's do: the reader stamps a value with its slot's start,
    so a half-hour slot would age past a lab's ``max_age``."""
    start = int(now // 60 * 60)
    frm, to = _iso(start), _iso(start + SLOT)
    if kind == "intensity":
        return {"data": [{"from": frm, "to": to, "intensity": {"forecast": value, "actual": value, "index": "moderate"}}]}
    if kind == "generation":
        g = round(max(0.0, min(1.0, value)) * 100, 3)
        return {"data": {"from": frm, "to": to, "generationmix": [{"fuel": "wind", "perc": g}, {"fuel": "gas", "perc": round(100 - g, 3)}]}}
    raise ValueError(f"no UK feed {kind!r} (intensity, generation)")


def _figures(path: Path) -> dict:
    if not path.is_file():
        return {}
    doc = yaml.safe_load(path.read_text()) or {}
    if not isinstance(doc, dict) or set(doc) - {"mms", "grid"}:
        raise LabError(f"{path}: expected a mapping with mms: and/or grid:")
    for sec, readers in doc.items():
        if not isinstance(readers, dict):
            raise LabError(f"{path}: {sec}: expected reader name -> values")
        for name, vals in readers.items():
            if not isinstance(vals, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals.values()):
                raise LabError(f"{path}: {sec}.{name}: expected key -> number")
    return doc


def plan(topo) -> list[SitePlan]:
    """What to serve for every compute site of a loaded topology
    (``files.topology.Topology``): the readers of its power.yml that point at
    the site's own loopback address."""
    out = []
    for name, r in topo.routers.items():
        pw = getattr(r, "power", None)
        e = getattr(pw, "energy", None) or {}
        if e.get("role") != "compute-site" or POWER_TARGET not in r.files:
            continue
        d = Path(r.files[POWER_TARGET]).resolve().parent
        figs = _figures(d / "figures.yml")
        redfish, mms, grid = [], [], {}
        for s in [*e.get("readers", ()), *e.get("power_system", ())]:
            t = s["type"]
            if t == "redfish":
                u = urlsplit(s["url"])
                if u.scheme == "http" and _loopback(u.hostname):
                    mock = d / "redfish" / s["name"]
                    if not (mock / "index.json").is_file():
                        raise LabError(f"{name}: reader {s['name']}: no Redfish mockup {mock}/index.json to serve")
                    redfish.append(RedfishServer(s["name"], u.hostname, u.port or 80, mock))
            elif t == "mms":
                host, _, port = s["address"].rpartition(":")
                if _loopback(host):
                    refs = tuple(p["ref"] for p in s.get("points") or ())
                    try:
                        ied_model(refs)
                    except ValueError as exc:
                        raise LabError(f"{name}: reader {s['name']}: {exc}") from None
                    mms.append(MmsServer(s["name"], host.strip("[]"), int(port), refs))
            elif t == "grid" and s["url"].startswith("http://"):
                u = urlsplit(s["url"])
                if _loopback(u.hostname):
                    kind = u.path.rstrip("/").rsplit("/", 1)[-1]
                    if kind not in ("intensity", "generation") or s.get("format", "auto") not in ("auto", "uk-carbon"):
                        raise LabError(f"{name}: reader {s['name']}: a lab serves UK carbon-intensity feeds only (.../intensity, .../generation)")
                    key = (u.hostname, u.port or 80)
                    grid.setdefault(key, []).append((u.path or "/", s["name"], kind))
        taken = [(h, p) for h, p in [(x.host, x.port) for x in redfish + mms] + list(grid)]
        if len(set(p for _, p in taken)) != len(taken):
            raise LabError(f"{name}: two of its lab servers would share a port: {sorted(p for _, p in taken)}")
        if redfish or mms or grid:
            out.append(SitePlan(name, tuple(redfish), tuple(mms), tuple(GridServer(h, p, tuple(v)) for (h, p), v in grid.items()), figs))
    return out


def listening_ports(text: str) -> set[int]:
    """Local ports in state LISTEN (0A) of a /proc/PID/net/tcp{,6} table."""
    out = set()
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) > 3 and f[3] == "0A":
            out.add(int(f[1].rsplit(":", 1)[1], 16))
    return out


def _sushy_static() -> str:
    p = Path(sys.executable).parent / "sushy-static"
    found = str(p) if p.exists() else shutil.which("sushy-static")
    if not found:
        raise LabError("sushy-static not found (pip install sushy-tools): it serves the compute sites' Redfish mockups")
    return found


class Sites:
    """Start and stop a lab's site servers. ``namespaces``: node -> netns."""

    def __init__(self, topo, namespaces: dict, root: Path):
        self.plans = {p.node: p for p in plan(topo)}
        self.ns = dict(namespaces)
        self.dir = Path(root) / SITES_DIR
        self.state = self.dir / "procs.json"

    @classmethod
    def of(cls, lab) -> Sites:
        """For a ``lab.runner.Lab``."""
        return cls(lab.topo, {n: x.ns for n, x in lab.nodes.items()}, lab.root)

    def _procs(self) -> list:
        try:
            return json.loads(self.state.read_text())
        except (OSError, ValueError):
            return []

    def _spawn(self, node: str, what: str, argv: list, procs: list) -> subprocess.Popen:
        site = self.dir / node
        with open(site / f"{what}.log", "ab") as logf:
            p = subprocess.Popen(
                ["ip", "netns", "exec", self.ns[node], *argv],
                cwd=site,
                stdout=logf,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        procs.append({"node": node, "what": what, "pid": p.pid, "start": start_time(p.pid)})
        self.state.write_text(json.dumps(procs))
        return p

    def start(self, timeout: float = 30.0) -> None:
        if not self.plans:
            return
        if any(alive(p["pid"], p.get("start")) for p in self._procs()):
            raise LabError(f"site servers already run ({self.state}); stop them first")
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        procs: list = []
        self.state.write_text("[]")
        started = []
        try:
            for node, sp in self.plans.items():
                if node not in self.ns:
                    raise LabError(f"{node}: no namespace for this compute site")
                site = self.dir / node
                shutil.rmtree(site, ignore_errors=True)
                site.mkdir(mode=0o700)
                for rf in sp.redfish:
                    root = site / "redfish" / rf.reader
                    shutil.copytree(rf.mockup, root)
                    argv = [_sushy_static(), "-i", rf.host, "-p", str(rf.port), "-m", str(root)]
                    started.append((node, f"redfish-{rf.reader}", self._spawn(node, f"redfish-{rf.reader}", argv, procs)))
                if sp.mms or sp.grid:
                    self._write_values(node, {"mms": sp.figures.get("mms", {}), "grid": sp.figures.get("grid", {})})
                    spec = {
                        "values": str(site / "values.json"),
                        "mms": [{"reader": m.reader, "bind": f"{m.host}:{m.port}", "refs": list(m.refs)} for m in sp.mms],
                        "grid": [{"host": g.host, "port": g.port, "paths": [list(x) for x in g.paths]} for g in sp.grid],
                    }
                    (site / "spec.json").write_text(json.dumps(spec, indent=1))
                    argv = [sys.executable, "-m", "pyfrr_pwr.lab.sites", "serve", str(site / "spec.json")]
                    started.append((node, "power-system", self._spawn(node, "power-system", argv, procs)))
            self._wait(started, timeout)
        except Exception:
            self.stop()
            raise

    def _wait(self, started: list, timeout: float) -> None:
        end = time.monotonic() + timeout
        pending = {node: {p for _, p in self.plans[node].ports()} for node in self.plans}
        while pending:
            for node, what, p in started:
                if p.poll() is not None:
                    tail = (self.dir / node / f"{what}.log").read_text(errors="replace")[-600:]
                    raise LabError(f"{node}: {what} server exited ({p.returncode}): {tail.strip()}")
            for node in list(pending):
                pid = next(p.pid for n, _, p in started if n == node)
                seen = set()
                for t in ("tcp", "tcp6"):
                    try:
                        seen |= listening_ports(Path(f"/proc/{pid}/net/{t}").read_text())
                    except OSError:
                        pass
                pending[node] -= seen
                if not pending[node]:
                    del pending[node]
            if pending and time.monotonic() > end:
                raise LabError(f"site servers not listening after {timeout:g} s: {pending}")
            if pending:
                time.sleep(0.1)

    def stop(self) -> int:
        """Stop exactly what ``start`` started; remove the sites' files."""
        return stop_all(self.dir.parent)

    def running(self) -> dict:
        return {f"{p['node']}/{p['what']}": alive(p["pid"], p.get("start")) for p in self._procs()}

    # -- changing a site's figures -------------------------------------------

    def _site(self, node: str) -> Path:
        if node not in self.plans:
            raise LabError(f"{node} is not a compute site with lab servers (sites: {', '.join(self.plans) or 'none'})")
        return self.dir / node

    def _write_values(self, node: str, vals: dict) -> None:
        f = self.dir / node / "values.json"
        tmp = f.with_suffix(".tmp")
        tmp.write_text(json.dumps(vals))
        tmp.replace(f)  # the server never reads half a file

    def values(self, node: str) -> dict:
        return json.loads((self._site(node) / "values.json").read_text())

    def set_figure(self, node: str, section: str, reader: str, key: str, value: float) -> None:
        """A power-system figure: ``("mms", reader, object reference, v)`` or
        ``("grid", reader, "carbon_intensity" | "green_share", v)``."""
        sp = self.plans[node] if node in self.plans else self._site(node)
        if section == "mms":
            ok = any(m.reader == reader and key in m.refs for m in sp.mms)
        elif section == "grid":
            ok = any(r == reader for g in sp.grid for _, r, _ in g.paths) and key in ("carbon_intensity", "green_share")
        else:
            ok = False
        if not ok:
            raise LabError(f"{node}: no {section} figure {reader}.{key} served here")
        vals = self.values(node)
        vals.setdefault(section, {}).setdefault(reader, {})[key] = float(value)
        self._write_values(node, vals)

    def set_power(self, node: str, watts: float, reader: str = "bmc") -> None:
        """The power drawn a site's BMC reports: EnvironmentMetrics
        ``PowerWatts.Reading`` and the first PowerControl's
        ``PowerConsumedWatts`` in the lab's copy of the mockup."""
        root = self._site(node) / "redfish" / reader
        if not root.is_dir():
            raise LabError(f"{node}: no Redfish mockup served for reader {reader!r}")
        n = 0
        for f in sorted(root.rglob("index.json")):
            doc = json.loads(f.read_text())
            if f.parent.name == "EnvironmentMetrics" and isinstance(doc.get("PowerWatts"), dict):
                doc["PowerWatts"]["Reading"] = watts
            elif f.parent.name == "Power" and doc.get("PowerControl"):
                doc["PowerControl"][0]["PowerConsumedWatts"] = watts
            else:
                continue
            tmp = f.with_suffix(".tmp")
            tmp.write_text(json.dumps(doc, indent=4))
            tmp.replace(f)
            n += 1
        if not n:
            raise LabError(f"{node}: the mockup of {reader!r} has no power figure")


def stop_all(root: Path) -> int:
    """Stop the site servers recorded under a lab's run directory ``root``
    (pid and start time: never a recycled pid) and remove their files;
    needs no topology, so ``Lab.down`` can call it whatever power.yml says."""
    d = Path(root) / SITES_DIR
    try:
        procs = json.loads((d / "procs.json").read_text())
    except (OSError, ValueError):
        procs = []
    n = stop_pids([p for p in procs if isinstance(p, dict) and isinstance(p.get("pid"), int)])
    shutil.rmtree(d, ignore_errors=True)
    return n


# -- the helper process: MMS and grid servers of one site ---------------------


def _serve(spec_file: str) -> int:
    import asyncio
    import signal
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    # the MMS library's native threads must not take SIGTERM (the process
    # would die, or abort, mid-stop): block it before they exist, so every
    # thread inherits the mask, and wait for it in one thread of ours
    sigs = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, sigs)

    import iec61850 as iec

    spec = json.loads(Path(spec_file).read_text())
    vfile = Path(spec["values"])
    vals: dict = {"mms": {}, "grid": {}}

    def grid_handler(paths: dict):
        class H(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                ent = paths.get(self.path.split("?", 1)[0])
                v = ent and vals["grid"].get(ent[0], {}).get("carbon_intensity" if ent[1] == "intensity" else "green_share")
                if v is None:
                    self.send_error(404)
                    return
                body = json.dumps(uk_feed(ent[1], v, time.time())).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        return H

    async def main():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        threading.Thread(target=lambda: (signal.sigwait(sigs), loop.call_soon_threadsafe(stop.set)), daemon=True).start()
        servers = []
        for m in spec["mms"]:
            _, model = ied_model(m["refs"])
            srv = iec.IedServer.from_model_spec(model)
            srv.bind(m["bind"])
            await srv.start()
            servers.append((m, srv))
        https = []
        for g in spec["grid"]:
            h = ThreadingHTTPServer((g["host"], g["port"]), grid_handler({p: (r, k) for p, r, k in g["paths"]}))
            threading.Thread(target=h.serve_forever, daemon=True).start()
            https.append(h)
        mtime = None
        while not stop.is_set():
            try:
                mt = vfile.stat().st_mtime_ns
                if mt != mtime:
                    new = json.loads(vfile.read_text())
                    vals.update(grid=new.get("grid", {}), mms=new.get("mms", {}))
                    for m, srv in servers:
                        for ref, v in vals["mms"].get(m["reader"], {}).items():
                            if ref in m["refs"]:
                                srv.update_float32(da_path(ref), float(v))
                    mtime = mt
            except (OSError, ValueError) as exc:
                print(f"values file: {exc}", file=sys.stderr, flush=True)
            try:
                await asyncio.wait_for(stop.wait(), 0.2)
            except TimeoutError:
                pass
        for h in https:
            h.shutdown()
            h.server_close()
        for _, srv in servers:
            await srv.stop()

    asyncio.run(main())
    # the MMS library's native runtime may crash while the interpreter
    # finalises (seen: SIGABRT/SIGSEGV after a client's association): the
    # servers are closed, so leave without finalising
    sys.stderr.flush()
    os._exit(0)


def _read(power_yml: str) -> int:
    """Poll a power.yml's energy readers once; print what they read (JSON)."""
    import asyncio

    from pyfrr_pwr.files.power import load_power
    from pyfrr_pwr.telemetry.poller import build

    cfg = load_power(power_yml)
    p = build(cfg.energy)
    if p is None:
        print("{}")
        return 1

    async def once():
        # stop() inside the loop, whatever happens: it returns once the MMS
        # association is released and no reader runs (telemetry.mms), so
        # nothing runs on a library's threads when the interpreter finalises
        try:
            await p.poll_once()
            out = {k: {"value": r.value, "unit": r.unit, "source": r.source, "accuracy": r.accuracy} for k, r in p.latest().items()}
            st = p.status()
            if st.get("drops"):
                print(f"drops: {st['drops']} last errors: {st.get('last_error')}", file=sys.stderr)
        finally:
            await p.stop()
        return out

    print(json.dumps(asyncio.run(once()), sort_keys=True))
    return 0


def main(argv=None) -> int:
    a = list(sys.argv[1:] if argv is None else argv)
    if len(a) == 2 and a[0] == "serve":
        return _serve(a[1])
    if len(a) == 2 and a[0] == "read":
        return _read(a[1])
    print("usage: python -m pyfrr_pwr.lab.sites serve SPEC.json | read POWER.yml", file=sys.stderr)
    return 2


if __name__ == "__main__":
    os.umask(0o077)
    sys.exit(main())
