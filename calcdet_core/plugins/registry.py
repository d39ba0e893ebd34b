"""Plugin discovery: entry points in the ``calcdet`` group, loaded through pluggy.

Discovery never takes the host down. A plugin that fails to import, implements a
hook wrongly, returns something that is not a component class, or registers a name
already taken is recorded as an error entry naming its distribution and the cause;
everything else keeps working. Set ``CALCDET_DISABLE_PLUGIN_AUTOLOAD=1`` to load
only calcdet's built-ins (handy in tests).

Name clashes never depend on install order: a built-in name always stays the
built-in's, and a name claimed by two outside distributions is refused for both.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import pluggy
from pydantic import BaseModel

from calcdet_core.contracts import hookspecs
from calcdet_core.contracts.components import BASE_CLASSES, KINDS, Component, DatasetAdapter
from calcdet_core.errors import CalcdetUserError

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
BUILTIN_MODULES = ("calcdet_core.plugins.builtins",)
BUILTIN_DISTRIBUTION = "calcdet"
AUTOLOAD_ENV = "CALCDET_DISABLE_PLUGIN_AUTOLOAD"


class UnknownPluginError(CalcdetUserError, KeyError):
    """A pipeline or command named a plugin that is not installed (or failed to load)."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class PluginEntry:
    """One row of ``calcdet list-plugins``: a registered component, or a failure to load one.

    ``whole_plugin`` marks a failure of a plugin as a whole (import error, bad hook, a hook
    that raised): which component names it would have provided is unknown.
    """

    kind: str
    name: str
    distribution: str
    version: str
    module: str
    description: str = ""
    error: str | None = None
    component: type[Component] | None = None
    whole_plugin: bool = False

    def as_json(self) -> dict[str, str | None]:
        return {
            "kind": self.kind,
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "description": self.description,
            "error": self.error,
        }


@dataclass(frozen=True)
class PluginSource:
    """Where a registered plugin module came from: its entry point and distribution."""

    plugin_name: str
    distribution: str
    version: str
    module: str
    builtin: bool = False


class Registry:
    """Every component class known to this process, by kind and name."""

    def __init__(self, plugin_manager: pluggy.PluginManager, entries: list[PluginEntry],
                 plugins: Sequence[tuple[object, PluginSource]] = ()) -> None:
        self.plugin_manager = plugin_manager
        self.entries = entries
        self.plugins = list(plugins)  # registered plugin objects, built-ins first, in load order

    def components(self, kind: str) -> dict[str, type[Component]]:
        return {e.name: e.component for e in self.entries if e.kind == kind and e.component is not None}

    def errors(self) -> list[PluginEntry]:
        return [e for e in self.entries if e.error is not None]

    def entry(self, kind: str, name: str) -> PluginEntry:
        for e in self.entries:
            if e.kind == kind and e.name == name and e.component is not None:
                return e
        raise UnknownPluginError(self.unknown_message(kind, name))

    def get(self, kind: str, name: str) -> type[Component]:
        """The component class registered as ``name`` for ``kind``; a helpful error if none."""
        component = self.entry(kind, name).component
        assert component is not None
        return component

    def dataset_adapter(self, name: str) -> DatasetAdapter:
        """A new instance of the dataset adapter registered as ``name`` (default settings)."""
        adapter = self.get("datasets", name)()
        assert isinstance(adapter, DatasetAdapter)
        return adapter

    def find(self, name: str) -> list[PluginEntry]:
        """Loaded components called ``name``, of any kind."""
        return [e for e in self.entries if e.name == name and e.component is not None]

    def hook_callers(self, hook_name: str) -> Iterator[tuple[PluginSource, Any]]:
        """One pluggy caller per plugin implementing ``hook_name``, built-ins first, in load order.

        Calls go through pluggy, so an implementation may take fewer arguments than its spec.
        """
        implementers = {id(impl.plugin) for impl in getattr(self.plugin_manager.hook, hook_name).get_hookimpls()}
        for plugin, source in self.plugins:
            if id(plugin) in implementers:
                others = [p for p, _ in self.plugins if p is not plugin]
                yield source, self.plugin_manager.subset_hook_caller(hook_name, remove_plugins=others)

    def unknown_message(self, kind: str, name: str) -> str:
        known = sorted(self.components(kind))
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.4)
        other = [e.kind for e in self.find(name)]
        refused = [e for e in self.errors() if e.name == name and not e.whole_plugin]
        failed = sorted((e for e in self.errors() if e.whole_plugin and e.kind in ("?", kind)),
                        key=lambda e: -max(difflib.SequenceMatcher(None, name, t).ratio()
                                           for t in (e.name, e.distribution)))
        msg = f"no {kind[:-1]} plugin named {name!r}"
        if other:
            msg += f" ({name!r} is a {' and '.join(k[:-1] for k in other)} plugin)"
        if refused:
            return msg + f"; it failed to load: {refused[0].error}"
        if close:
            msg += f"; did you mean {', '.join(repr(c) for c in close)}?"
        elif known:
            msg += f"; installed: {', '.join(known)}"
        elif not failed:
            msg += "; none is installed"
        if failed:
            msg += ("; it may come from a plugin that failed to load: "
                    + "; ".join(f"{e.name} ({e.distribution}): {e.error}" for e in failed))
        return msg


def _entry_point_source(ep: EntryPoint) -> PluginSource:
    dist = ep.dist
    return PluginSource(
        plugin_name=ep.name,
        distribution=dist.name if dist else "?",
        version=dist.version if dist else "?",
        module=ep.value,
    )


def _builtin_source(module: str) -> PluginSource:
    from calcdet_core import __version__

    return PluginSource(plugin_name=module, distribution=BUILTIN_DISTRIBUTION, version=__version__, module=module,
                        builtin=True)


def _check_component(kind: str, obj: object) -> str | None:
    """Why ``obj`` is not a valid component class for ``kind`` (``None`` if it is)."""
    base = BASE_CLASSES[kind]
    if not (isinstance(obj, type) and issubclass(obj, base)):
        return f"returned {obj!r}, which is not a subclass of calcdet_core.{base.__name__}"
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not name:
        return f"{obj.__qualname__} has no 'name' string"
    config = getattr(obj, "Config", None)
    if not (isinstance(config, type) and issubclass(config, BaseModel)):
        return f"{obj.__qualname__}.Config is not a pydantic model"
    if getattr(obj, "__abstractmethods__", None):
        missing = ", ".join(sorted(obj.__abstractmethods__))
        return f"{obj.__qualname__} does not implement {missing}"
    return None


def _first_doc_line(cls: type) -> str:
    text = getattr(cls, "description", "") or (cls.__doc__ or "")
    return text.strip().splitlines()[0] if text.strip() else ""


@dataclass(frozen=True)
class _Claim:
    """A valid component class a plugin registered under ``name``."""

    kind: str
    name: str
    component: type[Component]
    source: PluginSource

    @property
    def where(self) -> str:
        return f"{self.component.__module__}:{self.component.__qualname__}"


def _clash_error(claim: _Claim, rivals: list[_Claim]) -> str | None:
    """Why ``claim`` is refused among every claim of its name (``None``: it is the one loaded)."""
    builtins = [c for c in rivals if c.source.builtin]
    what = f"{claim.kind[:-1]} name {claim.name!r}"
    if builtins:
        if claim is builtins[0]:
            return None
        return (f"{what} is calcdet's built-in {builtins[0].where} ({BUILTIN_DISTRIBUTION}); "
                f"{claim.where} from {claim.source.distribution} is not loaded: built-ins always win, rename it")
    if len(rivals) == 1:
        return None
    listing = " and ".join(f"{c.source.distribution} ({c.where})" for c in rivals)
    return (f"{what} is claimed by {listing}; none of them is loaded, since picking one would depend on "
            f"install order: uninstall all but one, or rename")


def _resolve(claims: list[_Claim]) -> list[PluginEntry]:
    """Entries for every claim, in claim order: the loaded ones and the refused ones."""
    by_name: dict[tuple[str, str], list[_Claim]] = {}
    for claim in claims:
        rivals = by_name.setdefault((claim.kind, claim.name), [])
        if all(c.component is not claim.component for c in rivals):  # the same class twice is one claim
            rivals.append(claim)
    entries = []
    for rivals in by_name.values():
        for claim in rivals:
            source = claim.source
            error = _clash_error(claim, rivals)
            entries.append(PluginEntry(claim.kind, claim.name, source.distribution, source.version, claim.where,
                                       _first_doc_line(claim.component), error=error,
                                       component=None if error else claim.component))
    return entries


def build_registry(
    extra_plugins: Sequence[tuple[str, ModuleType | object]] = (),
    autoload: bool | None = None,
) -> Registry:
    """Load built-ins, entry-point plugins (unless disabled) and ``extra_plugins``.

    ``extra_plugins`` are ``(name, module_or_object)`` pairs registered as if they
    came from an entry point of a distribution called ``name``: the way tests and
    notebooks add a plugin without installing it.
    """
    if autoload is None:
        autoload = os.environ.get(AUTOLOAD_ENV, "") in ("", "0")
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    entries: list[PluginEntry] = []
    plugins: list[tuple[object, PluginSource]] = []

    def fail(source: PluginSource, error: str, kind: str = "?") -> None:
        entries.append(PluginEntry(kind, source.plugin_name, source.distribution, source.version, source.module,
                                    error=error, whole_plugin=True))

    def register(plugin: object, source: PluginSource) -> None:
        try:
            pm.register(plugin, name=source.plugin_name)
            pm.check_pending()
        except Exception as exc:  # a wrong hook signature or a misspelled hook name
            if pm.is_registered(plugin):
                pm.unregister(plugin)
            fail(source, f"invalid plugin {source.plugin_name!r}: {exc}")
            return
        plugins.append((plugin, source))

    for module_name in BUILTIN_MODULES:
        register(__import__(module_name, fromlist=["_"]), _builtin_source(module_name))
    if autoload:
        for ep in _sorted_entry_points():
            source = _entry_point_source(ep)
            try:
                plugin = ep.load()
            except Exception as exc:
                fail(source, f"Error importing plugin {ep.name!r} ({ep.value}) from {source.distribution}: "
                             f"{type(exc).__name__}: {exc}")
                continue
            register(plugin, source)
    for name, plugin in extra_plugins:
        module = getattr(plugin, "__name__", type(plugin).__name__)
        register(plugin, PluginSource(name, name, "0+local", module))

    registry = Registry(pm, entries, plugins)
    for kind in KINDS:
        claims: list[_Claim] = []
        for source, call in registry.hook_callers(f"calcdet_register_{kind}"):
            try:
                components = [c for returned in call() for c in (returned or [])]
            except Exception as exc:
                fail(source, f"calcdet_register_{kind} of {source.distribution} raised {type(exc).__name__}: {exc}",
                     kind=kind)
                continue
            for component in components:
                problem = _check_component(kind, component)
                if problem is None:
                    claims.append(_Claim(kind, component.name, component, source))
                else:
                    name = str(getattr(component, "name", None) or repr(component))
                    entries.append(PluginEntry(kind, name, source.distribution, source.version, source.module,
                                                error=problem))
        entries.extend(_resolve(claims))
    return registry


def _sorted_entry_points() -> list[EntryPoint]:
    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: (ep.dist.name if ep.dist else "", ep.name))


_current: ContextVar[Registry | None] = ContextVar("calcdet_registry", default=None)


@contextmanager
def use_registry(registry: Registry) -> Iterator[Registry]:
    """Make ``registry`` the one :func:`get_registry` returns while the block runs (a CLI app built on it)."""
    token = _current.set(registry)
    try:
        yield registry
    finally:
        _current.reset(token)


def get_registry() -> Registry:
    """The registry in use: the one :func:`use_registry` set, else the process-wide one, built on first use."""
    return _current.get() or _process_registry()


@lru_cache(maxsize=1)
def _process_registry() -> Registry:
    return build_registry()
