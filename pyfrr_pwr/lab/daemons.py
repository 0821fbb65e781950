"""FRR daemons in a lab node: the ``daemons`` file, FRR's version, and the
command line of one daemon.

FRR 10.1 added ``ospfd -l/--apiserver_addr ADDR`` (ospfd/ospf_main.c, commit
3b75723061 "OSPFAPI Server options to limit to local connections"); before
that the API server listens on 0.0.0.0:2607 with no authentication and the
only guard is a firewall (``pyfrr_pwr.lab.firewall``). ``daemon_argv`` binds
the API server to 127.0.0.1 where ospfd has the option.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import subprocess
from pathlib import Path

from pyfrr_pwr.files.power import ConfigError

__all__ = [
    "FRR_LIB",
    "FRR_DAEMONS",
    "DEFAULT_FRR_KIND_DAEMONS",
    "APISERVER_ADDR_SINCE",
    "parse_daemons",
    "parse_frr_version",
    "apiserver_addr_supported",
    "frr_version",
    "daemon_argv",
]

FRR_LIB = Path(os.environ.get("PYFRR_PWR_FRR_LIB", "/usr/lib/frr"))
FRR_DAEMONS = (
    "zebra",
    "ospfd",
    "staticd",
    "bgpd",
    "ospf6d",
    "ripd",
    "ripngd",
    "isisd",
    "pimd",
    "ldpd",
    "bfdd",
    "pathd",
    "pbrd",
    "vrrpd",
    "fabricd",
    "eigrpd",
    "babeld",
    "sharpd",
    "nhrpd",
)

# what an frr-kind node starts when its topology names no daemons (the
# routing daemons this project uses, not all twenty)
DEFAULT_FRR_KIND_DAEMONS = ("staticd", "ospfd", "ospf6d", "bgpd")

# first FRR release whose ospfd takes --apiserver_addr
APISERVER_ADDR_SINCE = (10, 1)
API_BIND = "127.0.0.1"


def parse_daemons(path: Path) -> tuple[list, dict]:
    """Enabled daemons (FRR start order) and their ``*_options`` from an FRR
    ``daemons`` file (a shell fragment of plain assignments)."""
    enabled, options = [], {}
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    vals = {}
    for no, line in enumerate(lines, 1):
        s = line.strip()
        if not s or s.startswith("#") or "=" not in s:
            continue
        k, _, v = s.partition("=")
        try:
            parts = shlex.split(v, comments=True)
        except ValueError as exc:
            raise ConfigError(f"{path}:{no}: {k}: {exc}") from None
        vals[k.strip()] = parts[0] if parts else ""
    for d in FRR_DAEMONS:
        if vals.get(d, "no") == "yes":
            enabled.append(d)
        if f"{d}_options" in vals:
            options[d] = shlex.split(vals[f"{d}_options"])
    if enabled and "zebra" not in enabled:
        enabled.insert(0, "zebra")  # FRR's init always starts zebra
    return enabled, options


# "ospfd version 8.4.4" (DAEMON --version), "FRRouting 10.1.1 (host) on
# Linux(...)" (vtysh -c 'show version'), "vtysh version 9.1-dev"
_VERSION = re.compile(r"(?:\bversion|\bFRRouting)\s+v?(\d+)\.(\d+)(?:\.(\d+))?")


def parse_frr_version(text: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) from FRR's version banner, None if absent.
    A pre-release ("10.1-dev", "10.1-rc1") counts as its release."""
    m = _VERSION.search(text or "")
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def apiserver_addr_supported(version: tuple | None) -> bool:
    """ospfd of this FRR version takes --apiserver_addr (unknown: no)."""
    return version is not None and tuple(version[:2]) >= APISERVER_ADDR_SINCE


@functools.lru_cache(maxsize=8)
def frr_version(frr_lib: Path = FRR_LIB) -> tuple[int, int, int] | None:
    """The installed FRR's version, from ``ospfd --version`` (then zebra's,
    then vtysh's); None when none of them answers with one."""
    for cmd in ([str(frr_lib / "ospfd"), "--version"], [str(frr_lib / "zebra"), "--version"], ["vtysh", "--version"]):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        v = parse_frr_version(r.stdout + "\n" + r.stderr)
        if v is not None:
            return v
    return None


def _has_api_bind(options: list[str]) -> bool:
    return any(o in ("-l", "--apiserver_addr") or o.startswith("--apiserver_addr=") for o in options)


def daemon_argv(daemon: str, rundir: Path, options: list[str] | None = None, version: tuple | None = None, frr_lib: Path = FRR_LIB) -> list[str]:
    """The command line that starts one FRR daemon of a lab node, with the
    node's own pid file, vty and zserv sockets, config copy and log, all in
    ``rundir``. ``options`` are the daemon's ``*_options``. An ospfd with
    the API server on (``-a``) of FRR >= 10.1 also gets ``--apiserver_addr
    127.0.0.1``, unless its options already choose an address."""
    options = list(options or [])
    args = [
        str(frr_lib / daemon), "-d", "-i", str(rundir / f"{daemon}.pid"), "--vty_socket", str(rundir),
        "-f", str(rundir / "frr.conf"), "--log", f"file:{rundir / daemon}.log",
        "-z", str(rundir / "zserv.api"), *options,
    ]  # fmt: skip
    api_on = any(o in ("-a", "--apiserver") for o in options)
    if daemon == "ospfd" and api_on and apiserver_addr_supported(version) and not _has_api_bind(options):
        args += ["--apiserver_addr", API_BIND]
    return args
