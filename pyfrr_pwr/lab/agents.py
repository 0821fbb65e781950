"""The pyfrr-pwr agent in a lab node: its command line, a minimal client of
its control socket (one JSON line out, one back; the lab does not import
the CLI), and what "ready" means.

An agent is started as ``PYTHON -P -c "...lazypkg.install(); from
pyfrr_pwr.agent.daemon import main; ..." agent ...`` (``daemon.main``: the options of ``pyfrr-pwr agent``
without importing the whole CLI, issue 10: start-up time and memory) with its
working directory set to its own run directory: ``-P`` keeps Python from
putting the current directory on ``sys.path``, so a checkout (or anything
else called ``pyfrr_pwr/``) in the caller's directory is never imported in
place of the installed package and its built core.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

__all__ = ["agent_argv", "agent_request", "agent_ready", "last_log_line", "AGENT_MAIN"]

# lazypkg first: networkx and pyroute2 then import only what the agent uses,
# each at its first import, and asyncio, hashlib and hmac without OpenSSL
# (issue 10: agent RSS; tests/test_agent_imports.py).
AGENT_MAIN = "import sys; from pyfrr_pwr import lazypkg; lazypkg.install(); from pyfrr_pwr.agent.daemon import main; sys.exit(main())"


def agent_argv(config: Path | str, sock: Path | str, name: str, python: str | None = None) -> list[str]:
    """The agent's command line; paths are made absolute, since the agent
    does not run in the caller's directory."""
    return [
        python or sys.executable, "-P", "-c", AGENT_MAIN, "agent",
        "-c", str(Path(config).resolve()), "--socket", str(Path(sock).resolve()), "--name", name,
    ]  # fmt: skip


def agent_request(sock: Path | str, req: dict, timeout: float = 3.0):
    """One request to an agent's control socket: the reply's ``result``.
    OSError when nothing answers, ValueError for a refusal or garbage."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    with s:
        s.connect(str(sock))
        s.sendall((json.dumps(req) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    rep = json.loads(buf or b"null")
    if not isinstance(rep, dict) or not rep.get("ok"):
        raise ValueError(f"agent: {rep.get('error') if isinstance(rep, dict) else rep!r}")
    return rep["result"]


def agent_ready(status: dict) -> str | None:
    """None if an agent's ``status`` says it is ready: it knows its router
    ID, holds its session to ospfd, and (when the status reports it) has
    synced its LSDB. Otherwise what is missing."""
    missing = []
    if not status.get("router_id"):
        missing.append("no router ID yet")
    if status.get("connected") is not True:
        missing.append("not connected to ospfd's API")
    if "synced" in status and status["synced"] is not True:
        missing.append("LSDB not synced")
    return "; ".join(missing) or None


def last_log_line(path: Path, max_bytes: int = 16384) -> str:
    """The last non-empty line of a log (its tail only), '' if none."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            tail = f.read().decode(errors="replace")
    except OSError:
        return ""
    for line in reversed(tail.splitlines()):
        if line.strip():
            return line.strip()
    return ""
