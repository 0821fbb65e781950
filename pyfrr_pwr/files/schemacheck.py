"""A JSON Schema check, in this process or in a child one (issue 10: agent RSS).

jsonschema and what it pulls in (referencing, rpds, attrs, decimal, uuid)
are 4 MiB that would stay resident in every agent for a check it runs only
at start and at a reload (Python cannot unload modules: importing it and
then dropping its modules frees nothing, measured). So the agent checks
power.yml's schema in a child process, the way ``nginx -t`` checks a file
apart from the workers:

* at the start (one thread) the child is a fork of the agent: it already
  holds the schema and the data, so it costs no more than a check here;
* at a reload (threads running: a fork could copy a lock another thread
  holds) a fresh interpreter with this package, given the schema and the
  parsed data as ``marshal`` (exact types, integer keys kept).

The child answers with the errors as (path, message) pairs; the caller
words them with its own YAML node tree, so the messages are exactly those
of an in-process check. A reload of an unchanged file starts no child (the
last input that passed is kept). If the child gives no answer (fork fails,
no interpreter, killed, timed out, bad output), the check runs in this
process after a warning: the answer is never lost, only the memory saving.

Pure part: ``findings`` and ``strict_validator``; the rest is the process
shell around them.
"""

from __future__ import annotations

import json
import logging
import marshal
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

__all__ = ["MAX_ERRORS", "strict_validator", "findings", "isolated_findings"]

log = logging.getLogger("pyfrr_pwr.files")

MAX_ERRORS = 20  # errors worded per file; the rest are counted ("and N more")
CHILD_TIMEOUT = 60.0  # s: a child that has not answered by then is given up (the check runs here)
_CHILD = "import sys; sys.path.insert(0, sys.argv[1]); from pyfrr_pwr.files.schemacheck import _child_main; _child_main()"

_STRICT = None  # strict_validator()
_passed: bytes | None = None  # the last input a child found no error in (a reload of the same file starts none)


def strict_validator():
    """Draft 7 with JSON Schema's "integer" made strict: it takes 8.0, the
    wire, the KSP core and Constraints take ints only (built on first use:
    jsonschema is imported where a check runs, module docstring)."""
    global _STRICT
    if _STRICT is None:
        import jsonschema

        types = jsonschema.Draft7Validator.TYPE_CHECKER.redefine("integer", lambda _, v: isinstance(v, int) and not isinstance(v, bool))
        _STRICT = jsonschema.validators.extend(jsonschema.Draft7Validator, type_checker=types)
    return _STRICT


def _path_key(fp) -> list:
    """A sort key for error paths of mixed key types (never compares str with int)."""
    return [(0, p, "") if isinstance(p, int) and not isinstance(p, bool) else (1, 0, str(p)) for p in fp]


def findings(data, schema, validator_cls=None) -> tuple[list, int]:
    """(path, message) of the first MAX_ERRORS + 1 schema errors in path
    order, and how many there are; ``validator_cls`` Draft7Validator
    unless given."""
    if validator_cls is None:
        import jsonschema

        validator_cls = jsonschema.Draft7Validator
    errs = sorted(validator_cls(schema).iter_errors(data), key=lambda e: _path_key(e.absolute_path))
    return [(list(e.absolute_path), e.message) for e in errs[: MAX_ERRORS + 1]], len(errs)


def _child_main() -> None:
    """The spawned child: marshal'd (schema, data) on stdin, ``[findings,
    total]`` as JSON on stdout."""
    schema, data = marshal.loads(sys.stdin.buffer.read())
    sys.stdout.write(json.dumps(findings(data, schema, strict_validator())))


def _forked(schema: dict, data) -> tuple[list, int]:
    """``findings`` in a forked copy of this process, which imports
    jsonschema and exits; its answer comes back as JSON on a pipe."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            os.close(r)
            out = memoryview(json.dumps(findings(data, schema, strict_validator())).encode())
            while out:
                out = out[os.write(w, out) :]
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    buf, deadline = b"", time.monotonic() + CHILD_TIMEOUT
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([r], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                raise TimeoutError(f"no answer in {CHILD_TIMEOUT:g} s")
            chunk = os.read(r, 65536)
            if not chunk:
                break
            buf += chunk
    finally:
        os.close(r)
        _, status = os.waitpid(pid, 0)
    if status:
        raise ValueError(f"child exit status {status}")
    return json.loads(buf)


def _spawned(payload: bytes) -> tuple[list, int]:
    """``findings`` from a fresh interpreter (``_child_main``)."""
    root = str(Path(__file__).parents[2])  # the directory this package was imported from
    r = subprocess.run([sys.executable, "-P", "-c", _CHILD, root], input=payload, capture_output=True, timeout=CHILD_TIMEOUT)
    if r.returncode:
        raise ValueError(f"exit {r.returncode}: {r.stderr.decode(errors='replace').strip()[-300:]}")
    return json.loads(r.stdout)


def isolated_findings(schema: dict, data) -> tuple[list, int] | None:
    """``findings(data, schema, strict_validator())`` from a child process
    (module docstring); None if it gave no answer (then check here)."""
    global _passed
    try:
        payload = marshal.dumps((schema, data))
    except ValueError as exc:  # not plain data (yamlsafe gives nothing else)
        why = f"input not marshallable: {exc}"
    else:
        if payload == _passed:
            return [], 0
        try:
            if threading.active_count() == 1 and hasattr(os, "fork"):
                found, total = _forked(schema, data)
            else:
                found, total = _spawned(payload)
            found = [(list(fp), str(m)) for fp, m in found]
            if not isinstance(total, int) or total < len(found) or (total > MAX_ERRORS and len(found) <= MAX_ERRORS):
                raise ValueError(f"answer {found[:3]!r}, {total!r}")
        except (OSError, subprocess.SubprocessError, ValueError, TypeError) as exc:
            why = f"{type(exc).__name__}: {exc}"
        else:
            _passed = None if total else payload
            return found, total
    log.warning("power.yml schema check in a child process gave no answer (%s); checking in this process", why)
    return None
