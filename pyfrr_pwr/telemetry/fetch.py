"""Bytes from a URL or a file, for the feed readers (Prometheus, grid).

The one place the HTTP readers touch the network (requests: TLS
verification, timeouts) or the file system, so every failure becomes a
``SourceError`` with a named reason: ``http_error`` (4xx/5xx),
``timeout``, ``unreachable`` (refused, reset, DNS, TLS), ``unreadable`` (a
file), ``bad_json`` (a body over the size limit: a feed is a few kB to a
few hundred kB, an exporter a few MB at most).
"""

from __future__ import annotations

from pathlib import Path

from pyfrr_pwr.telemetry.energy import SourceError

__all__ = ["fetch", "MAX_BODY"]

MAX_BODY = 8 << 20


def fetch(where: str, timeout: float = 5.0, max_bytes: int = MAX_BODY, verify: bool | str = True, headers: dict | None = None) -> bytes:
    """``http(s)://...`` with GET, else a path (``file://`` or plain)."""
    if where.startswith(("http://", "https://")):
        import requests

        try:
            with requests.get(where, timeout=timeout, verify=verify, headers=headers or {}, stream=True) as r:
                if r.status_code >= 400:
                    raise SourceError("http_error", f"{where}: HTTP {r.status_code}")
                buf = bytearray()
                for chunk in r.iter_content(65536):
                    buf += chunk
                    if len(buf) > max_bytes:
                        raise SourceError("bad_json", f"{where}: body over {max_bytes} bytes")
                return bytes(buf)
        except requests.Timeout as exc:
            raise SourceError("timeout", f"{where}: {str(exc)[:160]}") from None
        except requests.RequestException as exc:
            raise SourceError("unreachable", f"{where}: {str(exc)[:160]}") from None
    path = Path(where[7:] if where.startswith("file://") else where)
    try:
        if not path.is_file():  # nor a FIFO or a device: a read could block
            raise SourceError("unreadable", f"{path}: not a file")
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise SourceError("unreadable", f"{path}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise SourceError("bad_json", f"{path}: over {max_bytes} bytes")
    return data
