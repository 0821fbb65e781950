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
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types

__all__ = ["install", "LazyPackage"]

_lock = threading.RLock()


class LazyPackage(types.ModuleType):
    """A package whose ``__init__`` runs on the first name it lacks."""

    _full = False

    def __getattr__(self, attr: str):
        # Only reached when normal lookup failed (PEP 562 order: instance
        # dict, then the module's own __getattr__, then this).
        if attr.startswith("__"):
            raise AttributeError(attr)
        name = self.__name__
        if importlib.util.find_spec(f"{name}.{attr}") is not None:
            # ``from pkg import submodule`` tries getattr first: import it
            # as the submodule it is instead of loading everything.
            return importlib.import_module(f"{name}.{attr}")
        self.load()
        try:
            return self.__dict__[attr]
        except KeyError:
            raise AttributeError(f"module {name!r} has no attribute {attr!r}") from None

    def load(self) -> None:
        """Run the package's real ``__init__`` in this module (once)."""
        with _lock:
            if self._full:
                return
            self._full = True
            self.__spec__.loader.exec_module(self)


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


def install(names=tuple(_CORES)) -> dict:
    """Make ``names`` lean imports; what each became: "lean", "loaded"
    (already imported by someone, left alone), "absent" or "full" (its
    layout did not match: loaded whole at once)."""
    out = {}
    with _lock:
        for name in names:
            if name in sys.modules:
                out[name] = "loaded"
                continue
            spec = importlib.util.find_spec(name)
            if spec is None or spec.submodule_search_locations is None:
                out[name] = "absent"
                continue
            mod = LazyPackage(name)
            mod.__spec__, mod.__loader__, mod.__file__ = spec, spec.loader, spec.origin
            mod.__path__ = list(spec.submodule_search_locations)
            mod.__package__ = name
            sys.modules[name] = mod
            try:
                _CORES[name](mod)
                out[name] = "lean"
            except Exception:  # noqa: BLE001 - any mismatch: the plain, whole import
                mod.load()
                out[name] = "full"
    return out
