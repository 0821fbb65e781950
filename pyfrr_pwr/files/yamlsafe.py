"""Reading YAML that may be hostile (a power.yml, a containerlab topology).

``load`` reads the file's bytes and decodes them as UTF-8, composes the node
tree under limits checked while composing, before any object is built:
nesting depth, number of aliases, size with aliases expanded, no alias
inside the node it names (a cycle); then it constructs plain data (str,
int, float, bool, None, list, dict) and turns every constructor failure
(``!!float x``, an unknown tag) into a ``ConfigError`` naming the file, the
line and the field. With ``names=True`` every mapping key must be a string
(a name), once per mapping.

Messages quote at most a few dozen characters of the input and never
expand an alias. The limits are far beyond what the shipped files use
(depth 5, no aliases).
"""

from __future__ import annotations

import math
from pathlib import Path

import yaml
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent, MappingStartEvent, ScalarEvent, SequenceStartEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

__all__ = ["ConfigError", "load", "field_of", "check_numbers", "decode_utf8", "read_bytes", "MAX_BYTES", "MAX_DEPTH", "MAX_ALIASES", "MAX_NODES"]

MAX_BYTES = 4 << 20  # a file larger than this is refused unread
MAX_DEPTH = 32  # nested collections
MAX_ALIASES = 16  # *alias occurrences per document
MAX_NODES = 200_000  # nodes with every alias expanded
INT_LIMIT = 2**63  # integers beyond this are not figures anyone means

_STD = "tag:yaml.org,2002:"
_READ_TAGS = {_STD + t for t in ("str", "int", "float", "bool", "null", "seq", "map", "merge")}
_KNOWN_TAGS = {_STD + t for t in ("timestamp", "binary", "set", "omap", "pairs", "value", "yaml")}


class ConfigError(ValueError):
    """A configuration file is wrong; the message names file, line, field."""


def _part(p) -> str:
    s = str(p)
    return s if s and s.isprintable() and len(s) <= 60 else _quote(s, 40)


def field_of(path) -> str:
    """A field path as the messages print it: ``ports.eth1.speed`` (a name
    with a newline, a control character or none at all is quoted)."""
    s = ".".join(_part(p) for p in path) or "(top level)"
    return s if len(s) <= 120 else s[:117] + "..."


def _quote(v, n: int = 40) -> str:
    s = repr(v)
    return s if len(s) <= n else s[: n - 4] + "...'"


def _short(tag: str) -> str:
    return "!!" + tag[len(_STD) :] if tag.startswith(_STD) else tag


def read_bytes(path: Path, max_bytes: int, what: str = "file") -> bytes:
    """The file's bytes, or a ConfigError naming it (unreadable, too large)."""
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise ConfigError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    if len(data) > max_bytes:
        raise ConfigError(f"{path}:1: (top level): more than {max_bytes / (1 << 20):g} MiB; a {what} is far smaller")
    return data


def decode_utf8(data: bytes, fname: str) -> str:
    """Strict UTF-8, or a ConfigError naming the line and byte offset."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{fname}:{line}: (file): not UTF-8 text: byte {data[exc.start]:#04x} at offset {exc.start} ({exc.reason})") from None


class _Stop(Exception):
    def __init__(self, mark, path, msg):
        super().__init__(msg)
        self.mark, self.path, self.msg = mark, tuple(path), msg


class _Loader(yaml.SafeLoader):
    """SafeLoader composing under limits and recording each node's path."""

    def __init__(self, text: str, max_depth: int, max_aliases: int, max_nodes: int):
        super().__init__(text)
        self.limits = (max_depth, max_aliases, max_nodes)
        self.depth = 0
        self.aliases = 0
        self.path: list = []
        self.open_anchors: set = set()
        self.size: dict = {}  # id(node) -> nodes below it, aliases expanded
        self.nodes: list = []  # (node, path), each node once

    def compose_node(self, parent, index):
        max_depth, max_aliases, max_nodes = self.limits
        if parent is not None:
            if isinstance(index, int):
                key = index
            elif index is None:  # a mapping key: named by its own text
                ev = self.peek_event()
                key = ev.value if isinstance(ev, ScalarEvent) else "(key)"
            else:
                key = index.value if isinstance(index, ScalarNode) else "(key)"
            self.path.append(key)
        try:
            ev = self.peek_event()
            if isinstance(ev, AliasEvent):
                self.aliases += 1
                if self.aliases > max_aliases:
                    raise _Stop(ev.start_mark, self.path, f"more than {max_aliases} aliases (*{ev.anchor[:30]}); aliases are limited, write the values out")
                if ev.anchor in self.open_anchors:
                    raise _Stop(ev.start_mark, self.path, f"recursive alias: *{ev.anchor[:30]} is inside the node it names")
                return super().compose_node(parent, index)
            collection = isinstance(ev, (SequenceStartEvent, MappingStartEvent))
            if collection:
                self.depth += 1
                if self.depth > max_depth:
                    raise _Stop(ev.start_mark, self.path, f"nested deeper than {max_depth} levels")
                if ev.anchor is not None:
                    self.open_anchors.add(ev.anchor)
            try:
                node = super().compose_node(parent, index)
            finally:
                if collection:
                    self.depth -= 1
                    self.open_anchors.discard(ev.anchor)
            if isinstance(node, SequenceNode):
                n = 1 + sum(self.size[id(c)] for c in node.value)
            elif isinstance(node, MappingNode):
                n = 1 + sum(self.size[id(k)] + self.size[id(v)] for k, v in node.value)
            else:
                n = 1
            if n > max_nodes:
                raise _Stop(node.start_mark, self.path, f"more than {max_nodes} values with aliases expanded")
            self.size[id(node)] = n
            self.nodes.append((node, tuple(self.path)))
            return node
        finally:
            if parent is not None:
                self.path.pop()

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except _Bad:
            raise
        except Exception as exc:  # the constructors raise anything: ValueError, KeyError, IndexError...
            raise _Bad(node, exc) from None


class _Bad(Exception):
    def __init__(self, node, exc):
        super().__init__(str(exc))
        self.node, self.exc = node, exc


def _check_nodes(loader: _Loader, fname: str, names: bool) -> None:
    """Tags we read, and (``names``) keys that are names, once per key."""
    for node, path in sorted(loader.nodes, key=lambda np: np[0].start_mark.index):
        where = f"{fname}:{node.start_mark.line + 1}: {field_of(path)}"
        if node.tag not in _READ_TAGS:
            t = _short(node.tag)
            if node.tag in _KNOWN_TAGS:
                hint = "; quote it to make it a string" if isinstance(node, ScalarNode) else ""
                raise ConfigError(f"{where}: a {t} value is not read here{hint}")
            raise ConfigError(f"{where}: unknown tag {t[:40]!r} (only strings, numbers, booleans, null, lists and mappings are read)")
        if names and isinstance(node, MappingNode):
            seen: dict = {}
            for k, _ in node.value:
                if k.tag == _STD + "merge":
                    continue
                kw = f"{fname}:{k.start_mark.line + 1}: {field_of(path + (k.value if isinstance(k, ScalarNode) else '(key)',))}"
                if not (isinstance(k, ScalarNode) and k.tag == _STD + "str"):
                    tag = k.tag[len(_STD) :] if k.tag.startswith(_STD) else k.tag[:40]
                    what = f"{_quote(k.value)} is read as {tag}" if isinstance(k, ScalarNode) else "a collection"
                    raise ConfigError(f"{kw}: names must be strings ({what}; quote it)")
                if k.value in seen:
                    raise ConfigError(f"{kw}: duplicate key {_quote(k.value)} (first on line {seen[k.value]})")
                seen[k.value] = k.start_mark.line + 1


def load(
    path: str | Path,
    *,
    names: bool = False,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    max_aliases: int = MAX_ALIASES,
    max_nodes: int = MAX_NODES,
    what: str = "YAML file",
):
    """(data, node tree) of a one-document YAML file; every error a
    ConfigError naming the file and the line (and the field, where there is one)."""
    p = Path(path)
    fname = str(p)
    text = decode_utf8(read_bytes(p, max_bytes, what), fname)
    try:
        loader = _Loader(text, max_depth, max_aliases, max_nodes)
    except yaml.reader.ReaderError as exc:  # a control character
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        raise ConfigError(f"{fname}:{line}: (file): character {exc.character:#04x} is not allowed in YAML") from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _check_nodes(loader, fname, names)
        data = loader.construct_document(node)
        return data, node
    except _Stop as exc:
        raise ConfigError(f"{fname}:{exc.mark.line + 1}: {field_of(exc.path)}: {exc.msg}") from None
    except _Bad as exc:
        n = exc.node
        path = next((pth for nd, pth in loader.nodes if nd is n), ())
        e = exc.exc
        why = e.problem if isinstance(e, ConstructorError) and e.problem else f"{type(e).__name__}: {e}"
        val = f" {_quote(n.value)}" if isinstance(n, ScalarNode) else ""
        raise ConfigError(f"{fname}:{n.start_mark.line + 1}: {field_of(path)}: {_short(n.tag)}{val} cannot be read ({why[:120]})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 1
        path = ()
        if mark is not None:
            path = next((pth for nd, pth in loader.nodes if nd.start_mark.index == mark.index), ())
        prob = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{fname}:{line}: {field_of(path) if path else '(file)'}: YAML error: {str(prob)[:160]}") from None
    except RecursionError:  # not reached within the depth limit; kept as a net
        raise ConfigError(f"{fname}:1: (file): nested too deeply") from None
    finally:
        loader.dispose()


def check_numbers(data, line_of, fname: str, int_limit: int = INT_LIMIT) -> None:
    """Every float finite and every integer within +-``int_limit``; else a
    ConfigError at the first offender (``line_of(path)`` gives its line)."""
    stack = [((), data)]
    seen: set = set()
    while stack:
        path, v = stack.pop()
        if isinstance(v, bool) or v is None or isinstance(v, str):
            continue
        if isinstance(v, float):
            if not math.isfinite(v):
                raise ConfigError(f"{fname}:{line_of(list(path))}: {field_of(path)}: must be a finite number, not {v!r}")
        elif isinstance(v, int):
            if abs(v) >= int_limit:
                raise ConfigError(f"{fname}:{line_of(list(path))}: {field_of(path)}: {_quote(v, 30)} is out of range")
        elif isinstance(v, (dict, list)):
            if id(v) in seen:  # shared through an alias: checked once
                continue
            seen.add(id(v))
            items = v.items() if isinstance(v, dict) else enumerate(v)
            stack.extend((path + (k,), x) for k, x in reversed(list(items)))
