"""Plugin discovery: entry points in the ``calcdet`` group, loaded through pluggy.

Discovery never takes the host down. A plugin that fails to import, implements a
hook wrongly, returns something that is not a component class, or registers a name
already taken is recorded as an error entry naming its distribution and the cause;
everything else keeps working. Set ``CALCDET_DISABLE_PLUGIN_AUTOLOAD=1`` to load
only calcdet's built-ins (handy in tests).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType

import pluggy
from pydantic import BaseModel

from calcdet_core.contracts import hookspecs
from calcdet_core.contracts.components import BASE_CLASSES, KINDS, Component

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
BUILTIN_MODULES = ("calcdet_core.plugins.builtins",)
AUTOLOAD_ENV = "CALCDET_DISABLE_PLUGIN_AUTOLOAD"


class UnknownPluginError(KeyError):
    """A pipeline or command named a plugin that is not installed (or failed to load)."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class PluginEntry:
    """One row of ``calcdet list-plugins``: a registered component, or a failure to load one."""

    kind: str
    name: str
    distribution: str
    version: str
    module: str
    description: str = ""
    error: str | None = None
    component: type[Component] | None = None

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
class _Source:
    """Where a plugin module came from, for error messages."""

    plugin_name: str
    distribution: str
    version: str
    module: str


class Registry:
    """Every component class known to this process, by kind and name."""

    def __init__(self, plugin_manager: pluggy.PluginManager, entries: list[PluginEntry]) -> None:
        self.plugin_manager = plugin_manager
        self.entries = entries

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

    def find(self, name: str) -> list[PluginEntry]:
        """Loaded components called ``name``, of any kind."""
        return [e for e in self.entries if e.name == name and e.component is not None]

    def unknown_message(self, kind: str, name: str) -> str:
        known = sorted(self.components(kind))
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.4)
        other = [e.kind for e in self.find(name)]
        broken = [e for e in self.errors() if e.name == name]
        msg = f"no {kind[:-1]} plugin named {name!r}"
        if other:
            msg += f" ({name!r} is a {' and '.join(k[:-1] for k in other)} plugin)"
        if broken:
            msg += f"; it failed to load: {broken[0].error}"
        if close:
            msg += f"; did you mean {', '.join(repr(c) for c in close)}?"
        elif known:
            msg += f"; installed: {', '.join(known)}"
        else:
            msg += "; none is installed"
        return msg


def _entry_point_source(ep: EntryPoint) -> _Source:
    dist = ep.dist
    return _Source(
        plugin_name=ep.name,
        distribution=dist.name if dist else "?",
        version=dist.version if dist else "?",
        module=ep.value,
    )


def _builtin_source(module: str) -> _Source:
    from calcdet_core import __version__

    return _Source(plugin_name=module, distribution="calcdet", version=__version__, module=module)


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
    sources: dict[str, _Source] = {}

    def fail(source: _Source, error: str, kind: str = "?", name: str | None = None) -> None:
        entries.append(
            PluginEntry(kind, name or source.plugin_name, source.distribution, source.version, source.module,
                        error=error)
        )

    def register(plugin: object, source: _Source) -> None:
        try:
            pm.register(plugin, name=source.plugin_name)
            pm.check_pending()
        except Exception as exc:  # a wrong hook signature or a misspelled hook name
            if pm.is_registered(plugin):
                pm.unregister(plugin)
            fail(source, f"invalid plugin {source.plugin_name!r}: {exc}")
            return
        sources[source.plugin_name] = source

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
        register(plugin, _Source(name, name, "0+local", module))

    taken: dict[tuple[str, str], PluginEntry] = {}
    for kind in KINDS:
        hook = getattr(pm.hook, f"calcdet_register_{kind}")
        for impl in reversed(hook.get_hookimpls()):  # registration order
            source = sources[impl.plugin_name]
            try:
                returned = impl.function()
                components = list(returned or [])
            except Exception as exc:
                fail(source, f"calcdet_register_{kind} of {source.distribution} raised {type(exc).__name__}: {exc}",
                     kind=kind)
                continue
            for component in components:
                problem = _check_component(kind, component)
                name = getattr(component, "name", None) or repr(component)
                if problem is None and (kind, name) in taken:
                    owner = taken[(kind, name)]
                    problem = (f"{kind[:-1]} name {name!r} is already registered by {owner.distribution} "
                               f"({owner.module}); this one is ignored")
                if problem is not None:
                    fail(source, problem, kind=kind, name=str(name))
                    continue
                entry = PluginEntry(kind, name, source.distribution, source.version,
                                    f"{component.__module__}:{component.__qualname__}",
                                    _first_doc_line(component), component=component)
                taken[(kind, name)] = entry
                entries.append(entry)
    return Registry(pm, entries)


def _sorted_entry_points() -> Iterable[EntryPoint]:
    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: (ep.dist.name if ep.dist else "", ep.name))


@lru_cache(maxsize=1)
def get_registry() -> Registry:
    """The process-wide registry, built on first use."""
    return build_registry()
