"""Lean imports of networkx and pyroute2 for the agent (issue 10: agent RSS).

Both packages import their whole library from their ``__init__``: networkx
285 modules (every algorithm, generator and drawing backend), pyroute2 163
(every netlink family, IPDB, NDB). That is about 10 MiB of RSS each in an
agent that uses networkx's graph classes and pyroute2's ``IPRoute``, and
every router of a lab runs an agent.

``install()`` puts a package object for each into ``sys.modules`` before
anything imports them. Its submodules import as usual (``from pyroute2
import netns``, ``import networkx.classes``); the names the agent needs are
set up front, the way the package's own ``__init__`` would (networkx: the
exceptions, ``utils``, ``config``, the graph classes and ``convert``, the
prefix of its ``__init__``; pyroute2: ``IPRoute``, ``NetNS`` and the netlink
exceptions). The first use of any other top-level name runs the package's
real ``__init__`` in that same object, so ``nx.maximum_flow_value(...)`` or
``pyroute2.NDB`` work exactly as before, only later. Nothing is patched
inside either library.

By hand because no library does this for a package that does not lazy-load
itself: SPEC 1's ``lazy_loader`` and ``importlib.util.LazyLoader`` need the
package's cooperation or defer the whole ``__init__`` (which is the cost).
If a package's layout ever stops matching (a core import fails), the
package is loaded in full at once: the agent uses more memory, nothing else
changes.

Deferred: ``install()`` itself imports neither package. It puts a finder on
``sys.meta_path`` that builds the lean package when the package is first
imported, so a router whose agent never builds a graph never loads even
networkx's core (4.2 MiB; ``model.ted`` imports networkx where it builds
one). ``status()`` says what each became.

Without OpenSSL (``no_openssl()``, which ``install()`` runs first): the agent
speaks TLS nowhere (ospfd's API, the control socket, signalling, probes and
the exporter are plain TCP, UDP or Unix sockets; an HTTPS energy reader goes
through ``requests``), yet ``import asyncio`` loads ``ssl`` and with it
libssl and libcrypto, and ``hmac`` / ``hashlib`` load OpenSSL's
``_hashlib``: about 5 MiB of RSS per agent. ``no_openssl()`` imports
``asyncio`` while ``ssl`` cannot be imported (asyncio treats it as optional:
``ssl = None``, so the agent's event loop has no TLS transport) and
``hashlib`` / ``hmac`` while ``_hashlib`` cannot (both fall back to CPython's
own ``_sha256`` and friends, the same digests; ``hmac.compare_digest`` is
then ``_operator._compare_digest``, as constant-time). Afterwards ``ssl`` is
importable again, as a lazy module (``LazyModule``) that loads on
its first attribute: pyroute2 imports it for a probe message the
agent never sends; ``requests`` uses it at once, and works as before.

Lazy standard modules (``lazy_stdlib()``, which ``install()`` runs too):
networkx's core looks its backends up as entry points
(``networkx.utils.backends``), so it imports ``importlib.metadata``, whose
top imports ``csv`` and, through its ``_adapters``, ``email.message``
with a dozen ``email`` modules: about 1.4 MiB of RSS in every agent that
builds a graph (ABRs and head-ends), for what ``entry_points()`` never
calls on a plain site-packages (RECORD files, parsed METADATA). Each is a
``LazyModule`` until its first attribute, as ``ssl`` is:
``importlib.metadata.version()`` or ``csv.reader`` load it then and answer
as before. (``zipfile`` is not among them: ``entry_points()`` opens the
``pythonXY.zip`` entry of the default ``sys.path`` with it.)
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types

__all__ = ["install", "status", "no_openssl", "lazy_stdlib", "LazyModule", "LazyPackage"]

_lock = threading.RLock()


class LazyModule(types.ModuleType):
    """A module whose code runs on the first name it lacks (in this same
    module object). Not ``importlib.util.LazyLoader``: on 3.11 its module
    loads on any attribute, ``__spec__`` too, which every later ``import``
    statement of it reads."""

    _full = False

    def __getattr__(self, attr: str):
        # Only reached when normal lookup failed (PEP 562 order: instance
        # dict, then the module's own __getattr__, then this). The import
        # system probes dunders (``__path__``: is it a package?): those
        # load nothing, but ``__all__`` (``from m import *``).
        if attr.startswith("__") and attr != "__all__":
            raise AttributeError(attr)
        self.load()
        try:
            return self.__dict__[attr]
        except KeyError:
            raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}") from None

    def load(self) -> None:
        """Run the module's real code in this module (once)."""
        with _lock:
            if self._full:
                return
            self._full = True
            self.__spec__.loader.exec_module(self)


class LazyPackage(LazyModule):
    """A package whose ``__init__`` runs on the first name it lacks."""

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        name = self.__name__
        if importlib.util.find_spec(f"{name}.{attr}") is not None:
            # ``from pkg import submodule`` tries getattr first: import it
            # as the submodule it is instead of loading everything.
            return importlib.import_module(f"{name}.{attr}")
        return super().__getattr__(attr)


def _networkx_core(nx) -> None:
    # networkx/__init__.py up to ``convert``: exceptions, utils (with
    # _clear_cache and _dispatchable, which the graph classes call through
    # ``nx.``), the backend config, the classes, convert.
    from networkx import exception, utils

    for k in exception.__all__:
        setattr(nx, k, getattr(exception, k))
    nx.utils = utils
    nx._clear_cache = utils._clear_cache
    nx._dispatchable = utils._dispatchable
    nx.config = utils.backends._set_configs_from_environment()
    utils.config = utils.configs.config = nx.config
    from networkx import classes, convert
    from networkx.classes import filters

    nx.classes, nx.filters, nx.convert = classes, filters, convert
    for k, v in vars(classes).items():
        if not k.startswith("_") and not isinstance(v, types.ModuleType):
            setattr(nx, k, v)
    for mod in (classes.coreviews, classes.graphviews, classes.reportviews):
        setattr(nx, mod.__name__.rsplit(".", 1)[1], mod)
    for k in convert.__all__:
        setattr(nx, k, getattr(convert, k))


def _pyroute2_core(pr) -> None:
    from pyroute2.config.version import __version__
    from pyroute2.iproute import IPRoute, NetNS
    from pyroute2.netlink.exceptions import NetlinkDecodeError, NetlinkDumpInterrupted, NetlinkError

    pr.__version__ = __version__
    pr.IPRoute, pr.NetNS = IPRoute, NetNS
    pr.NetlinkError, pr.NetlinkDecodeError, pr.NetlinkDumpInterrupted = (
        NetlinkError,
        NetlinkDecodeError,
        NetlinkDumpInterrupted,
    )


_CORES = {"networkx": _networkx_core, "pyroute2": _pyroute2_core}
_status: dict = {}  # name -> "deferred", then "lean" or "full" (install(), status())


class _LeanLoader:
    """Builds a LazyPackage for a package's first import (``_Finder``)."""

    def __init__(self, spec):
        self.spec = spec  # the package's own spec (its real loader runs the full __init__)

    def create_module(self, spec):
        real = self.spec
        mod = LazyPackage(real.name)
        # set before importlib's own attribute set-up, which keeps them
        # (all but __spec__: exec_module puts the real one back)
        mod.__spec__, mod.__loader__, mod.__file__ = real, real.loader, real.origin
        mod.__path__ = list(real.submodule_search_locations)
        mod.__package__ = real.name
        return mod

    def exec_module(self, mod) -> None:
        name = mod.__name__
        # importlib set __spec__ to ours: the package's own, for load() (its real loader)
        mod.__spec__ = self.spec
        try:
            _CORES[name](mod)
            _status[name] = "lean"
        except Exception:  # noqa: BLE001 - any mismatch: the plain, whole import
            mod.load()
            _status[name] = "full"


class _Finder:
    """On ``sys.meta_path``: the first import of a deferred package."""

    def __init__(self):
        self.pending: dict = {}  # name -> its own spec

    def find_spec(self, name, path=None, target=None):
        with _lock:
            real = self.pending.pop(name, None)
        if real is None:
            return None
        spec = importlib.util.spec_from_loader(name, _LeanLoader(real), origin=real.origin, is_package=True)
        spec.submodule_search_locations = list(real.submodule_search_locations)
        return spec


_finder = _Finder()


def install(names=tuple(_CORES)) -> dict:
    """Make ``names`` lean imports, each built on its first import; what
    each became: "deferred" (lean at its first import; ``status()`` then
    says "lean", or "full" if its layout did not match and it was loaded
    whole), "loaded" (already imported by someone, left alone) or "absent".
    Runs ``no_openssl()`` and ``lazy_stdlib()`` first."""
    no_openssl()
    lazy_stdlib()
    out = {}
    with _lock:
        for name in names:
            if name in sys.modules:
                out[name] = "loaded"
                continue
            if name in _finder.pending:
                out[name] = "deferred"
                continue
            spec = importlib.util.find_spec(name)
            if spec is None or spec.submodule_search_locations is None:
                out[name] = "absent"
                continue
            _finder.pending[name] = spec
            _status[name] = out[name] = "deferred"
        if out and _finder not in sys.meta_path:
            sys.meta_path.insert(0, _finder)
    return out


def status() -> dict:
    """What each package ``install()`` took on became so far."""
    with _lock:
        return dict(_status)


# what no_openssl() imports, and the OpenSSL module each must not load
_WITHOUT = (("asyncio", "ssl"), ("hashlib", "_hashlib"), ("hmac", "_hashlib"))


def no_openssl() -> dict:
    """Import asyncio, hashlib and hmac without OpenSSL (module docstring);
    what each became: "lean", or "loaded" (imported before: left as it is).
    Then ``ssl``, if nobody imported it, is a lazy module."""
    out = {}
    with _lock:
        for name, hidden in _WITHOUT:
            if name in sys.modules:
                out[name] = "loaded"
                continue
            had = hidden in sys.modules
            if not had:
                sys.modules[hidden] = None  # "import ssl" raises ImportError (the import system's rule for None)
            try:
                importlib.import_module(name)
            finally:
                if not had and sys.modules.get(hidden, 0) is None:
                    del sys.modules[hidden]
            out[name] = "lean"
        if "ssl" not in sys.modules:
            _lazy("ssl", importlib.util.find_spec("ssl"))
    return out


def _lazy(name: str, spec) -> bool:
    """``name`` in ``sys.modules`` as a LazyModule of ``spec`` (not for a
    package); False if there is no such module."""
    if spec is None or spec.loader is None or spec.submodule_search_locations is not None:
        return False
    mod = LazyModule(name)
    mod.__spec__, mod.__loader__, mod.__file__, mod.__package__ = spec, spec.loader, spec.origin, name.rpartition(".")[0]
    sys.modules[name] = mod
    return True


# modules importlib.metadata imports at its top and uses only in functions
# (module docstring); (package, module): a submodule's spec is found in its
# package's directory without importing the package
_LAZY_STDLIB = ((None, "csv"), ("importlib.metadata", "_adapters"))


def lazy_stdlib() -> dict:
    """The standard modules of ``_LAZY_STDLIB`` as lazy modules (module
    docstring); what each became: "lazy", "loaded" (imported before, or its
    package was: left as it is) or "absent"."""
    import importlib.machinery

    out = {}
    with _lock:
        for pkg, leaf in _LAZY_STDLIB:
            name = f"{pkg}.{leaf}" if pkg else leaf
            if name in sys.modules or (pkg and pkg in sys.modules):
                out[name] = "loaded"
                continue
            if pkg:
                parent = importlib.util.find_spec(pkg)  # its spec only: the package's code does not run
                where = parent.submodule_search_locations if parent is not None else None
                spec = importlib.machinery.PathFinder.find_spec(name, where) if where else None
            else:
                spec = importlib.util.find_spec(name)
            out[name] = "lazy" if _lazy(name, spec) else "absent"
    return out
