"""Plugin discovery: entry points in the ``calcdet`` group, loaded through pluggy.

Discovery never takes the host down. A plugin that fails to import, implements a
hook wrongly, returns something that is not a component class, or registers a name
already taken is recorded as an error entry naming its distribution and the cause;
everything else keeps working. Set ``CALCDET_DISABLE_PLUGIN_AUTOLOAD=1`` to load
only calcdet's built-ins (handy in tests).

Every component has a qualified name, ``DISTRIBUTION:NAME`` (``calcdet-gm:gm``), that always
resolves to it. A bare name (``gm``) resolves by one rule that never depends on install order:
calcdet's built-ins first, then calcdet's own distributions (:data:`FIRST_PARTY`), then any
other; where two of the first such claimants share a bare name, it resolves to none and names
both qualified names. Installing an outside package therefore never changes what a pipeline
naming calcdet's components runs: its same-named component is reached by its qualified name.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator, Mapping, Sequence
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
from calcdet_core.contracts.editions import MIGRATING, declaration_problem, signature_problems
from calcdet_core.errors import CalcdetUserError

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
NAMED_HOOKS = {"writers": "calcdet_output_writers", "transforms": "calcdet_training_transforms"}
"""Hooks returning ``{name: value}``: their names follow the components' rule, kind by kind."""
INSTALL_HINTS = {
    ("transforms", "mc-insertion"): "calcdet-phantom (pip install -e plugins/datasets/calcdet-phantom)",
    ("writers", "dicom-sr"): "calcdet-clusters (pip install -e plugins/evaluators/calcdet-clusters)",
}
"""Where the writers and transforms calcdet's own options and docs name come from, for the message when missing."""
BUILTIN_MODULES = ("calcdet_core.plugins.builtins",)
BUILTIN_DISTRIBUTION = "calcdet"
AUTOLOAD_ENV = "CALCDET_DISABLE_PLUGIN_AUTOLOAD"
FIRST_PARTY = frozenset({
    "calcdet-inbreast", "calcdet-phantom", "calcdet-gm", "calcdet-hdog", "calcdet-hough", "calcdet-fos",
    "calcdet-gabor", "calcdet-wavelet", "calcdet-haar", "calcdet-context", "calcdet-svm", "calcdet-saliency",
    "calcdet-faster-rcnn", "calcdet-points", "calcdet-clusters",
})
"""calcdet's own plugin distributions (those under ``plugins/``): their bare names come right after the built-ins'."""


def canonical_distribution(name: str) -> str:
    """A distribution's name as packaging compares them (PEP 503): ``Calcdet_GM`` -> ``calcdet-gm``."""
    return re.sub(r"[-_.]+", "-", name).lower()


class UnknownPluginError(CalcdetUserError, KeyError):
    """A pipeline or command named a plugin that is not installed (or failed to load)."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class PluginEntry:
    """One row of ``calcdet list-plugins``: a registered component, or a failure to load one.

    ``whole_plugin`` marks a failure of a plugin as a whole (import error, bad hook, a hook
    that raised): which component names it would have provided is unknown. ``bare`` says whether
    ``name`` alone resolves to this component; when it does not, ``note`` says which one it
    resolves to and the component is reached by its :attr:`qualified` name.
    """

    kind: str
    name: str
    distribution: str
    version: str
    module: str
    description: str = ""
    error: str | None = None
    component: Any = None
    whole_plugin: bool = False
    bare: bool = True
    note: str | None = None

    @property
    def qualified(self) -> str:
        """``DISTRIBUTION:NAME``: the name that always resolves to this component."""
        return f"{canonical_distribution(self.distribution)}:{self.name}"

    @property
    def usable_name(self) -> str:
        """What a pipeline writes for this component: the bare name where it resolves here, else the qualified."""
        return self.name if self.bare else self.qualified

    def as_json(self) -> dict[str, str | None]:
        return {
            "kind": self.kind,
            "name": self.name,
            "qualified": self.qualified,
            "note": self.note,
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
        self._collected: set[str] = set()

    def components(self, kind: str) -> dict[str, Any]:
        """Every loaded component of ``kind`` by the name a pipeline writes for it (bare or qualified)."""
        self._collect(kind)
        return {e.usable_name: e.component for e in self.entries if e.kind == kind and e.component is not None}

    def errors(self) -> list[PluginEntry]:
        return [e for e in self.entries if e.error is not None]

    def entry(self, kind: str, name: str) -> PluginEntry:
        """The entry ``name`` (bare, or ``DISTRIBUTION:NAME``) resolves to for ``kind``; a helpful error if none."""
        self._collect(kind)
        distribution, _, bare = name.rpartition(":")
        for e in self.entries:
            if e.kind == kind and e.name == bare and e.component is not None and (
                    canonical_distribution(e.distribution) == canonical_distribution(distribution)
                    if distribution else e.bare):
                return e
        raise UnknownPluginError(self.unknown_message(kind, name))

    def get(self, kind: str, name: str) -> Any:
        """The component class (or writer, transform factory) ``name`` resolves to for ``kind``."""
        return self.entry(kind, name).component

    def entry_of(self, component: type[Component]) -> PluginEntry:
        """The entry of a registered component class (what a built pipeline holds an instance of)."""
        for e in self.entries:
            if e.component is component:
                return e
        raise UnknownPluginError(f"{component.__module__}.{component.__qualname__} is not a registered component")

    def dataset_adapter(self, name: str, settings: Mapping[str, Any] | None = None) -> DatasetAdapter:
        """A new instance of the dataset adapter registered as ``name``, with ``settings`` (default: its defaults)."""
        cls = self.get("datasets", name)
        adapter = cls(cls.Config.model_validate(dict(settings or {})))
        assert isinstance(adapter, DatasetAdapter)
        return adapter

    def find(self, name: str) -> list[PluginEntry]:
        """Loaded components called ``name`` (bare or qualified), of any kind."""
        return [e for e in self.entries if name in (e.name, e.qualified) and e.component is not None]

    def collect_all(self) -> Registry:
        """Call every named-value hook now (writers, transforms), so their entries and errors are listed."""
        for kind in NAMED_HOOKS:
            self._collect(kind)
        return self

    def _collect(self, kind: str) -> None:
        """Entries of a named-value hook, gathered on first use (their modules may be heavy) under the name rule."""
        if kind not in NAMED_HOOKS or kind in self._collected:
            return
        self._collected.add(kind)
        claims: list[_Claim] = []
        for source, call in self.hook_callers(NAMED_HOOKS[kind]):
            try:
                returned = [r for r in call() if r is not None]
                pairs = [item for r in returned for item in dict(r).items()]
            except Exception as exc:
                self.entries.append(hook_failure(source, kind, NAMED_HOOKS[kind], exc))
                continue
            for name, value in pairs:
                if isinstance(name, str) and name and callable(value):
                    claims.append(_Claim(kind, name, value, source))
                else:
                    self.entries.append(PluginEntry(kind, str(name), source.distribution, source.version,
                                                    source.module, error=f"{NAMED_HOOKS[kind]} returned "
                                                    f"{name!r}: {value!r}, expected a name and a callable"))
        self.entries.extend(_resolve(claims))

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
        shared = [e for e in self.entries if e.kind == kind and e.name == name and e.component is not None]
        if shared and ":" not in name:
            options = " or ".join(repr(e.qualified) for e in shared)
            return (f"{kind[:-1]} name {name!r} is registered by {' and '.join(e.distribution for e in shared)}, "
                    f"none of them calcdet's own: write {options}")
        label = {"writers": "output writer", "transforms": "training transform"}.get(kind, f"{kind[:-1]} plugin")
        msg = f"no {label} named {name!r}"
        if (kind, name) in INSTALL_HINTS:
            return f"{msg}; install {INSTALL_HINTS[kind, name]}"
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
    if ":" in name:
        return f"{obj.__qualname__}.name {name!r} holds ':', which separates a qualified name's distribution"
    config = getattr(obj, "Config", None)
    if not (isinstance(config, type) and issubclass(config, BaseModel)):
        return f"{obj.__qualname__}.Config is not a pydantic model"
    problems = signature_problems(kind, obj)
    if getattr(obj, "__abstractmethods__", None):
        problems.insert(0, f"does not implement {', '.join(sorted(obj.__abstractmethods__))}")
    if problems:
        return f"{obj.__qualname__} " + "; ".join(problems) + f" (see {MIGRATING})"
    return None


def _first_doc_line(cls: type) -> str:
    text = getattr(cls, "description", "") or (cls.__doc__ or "")
    return text.strip().splitlines()[0] if text.strip() else ""


@dataclass(frozen=True)
class _Claim:
    """A valid component class (or named value) a plugin registered under ``name``."""

    kind: str
    name: str
    component: Any
    source: PluginSource

    @property
    def where(self) -> str:
        return f"{self.component.__module__}:{self.component.__qualname__}"

    @property
    def rank(self) -> int:
        """Who a bare name goes to first: calcdet's built-ins (0), its own distributions (1), any other (2)."""
        if self.source.builtin:
            return 0
        return 1 if canonical_distribution(self.source.distribution) in FIRST_PARTY else 2

    @property
    def qualified(self) -> str:
        return f"{canonical_distribution(self.source.distribution)}:{self.name}"


def _owner(rivals: list[_Claim]) -> _Claim | None:
    """The claim a bare name resolves to: the only one of the best rank, else none."""
    best = min(c.rank for c in rivals)
    first = [c for c in rivals if c.rank == best]
    return first[0] if len(first) == 1 else None


def _note(claim: _Claim, owner: _Claim | None, rivals: list[_Claim]) -> str:
    """Why the bare name does not resolve to ``claim``, and what does."""
    if owner is not None:
        whose = "calcdet's built-in" if owner.rank == 0 else f"{owner.source.distribution}'s (calcdet's own)"
        return f"{claim.name!r} is {whose}; this one is {claim.qualified!r}"
    tied = [c for c in rivals if c.rank == claim.rank]
    return (f"{claim.name!r} is registered by {' and '.join(c.source.distribution for c in tied)}, so it names "
            f"neither: write {' or '.join(repr(c.qualified) for c in tied)}")


def _resolve(claims: list[_Claim]) -> list[PluginEntry]:
    """Entries for every claim, in claim order: each loaded under its qualified name, the bare name to its owner.

    Only a distribution registering two different classes under one name (its qualified name would be
    ambiguous) is refused, for both.
    """
    by_name: dict[tuple[str, str], list[_Claim]] = {}
    for claim in claims:
        rivals = by_name.setdefault((claim.kind, claim.name), [])
        if all(c.component is not claim.component for c in rivals):  # the same class twice is one claim
            rivals.append(claim)
    entries = []
    for rivals in by_name.values():
        owner = _owner(rivals)
        for claim in rivals:
            source = claim.source
            twins = [c for c in rivals if c.qualified == claim.qualified]
            error = None if len(twins) == 1 else (
                f"{claim.kind[:-1]} name {claim.name!r} is registered twice by {source.distribution} "
                f"({' and '.join(c.where for c in twins)}); rename one")
            entries.append(PluginEntry(claim.kind, claim.name, source.distribution, source.version, claim.where,
                                       _first_doc_line(claim.component), error=error,
                                       component=None if error else claim.component, bare=claim is owner,
                                       note=None if claim is owner else _note(claim, owner, rivals)))
    return entries


def hook_failure(source: PluginSource, kind: str, hook: str, exc: BaseException) -> PluginEntry:
    """The error row of a hook that raised: one policy for every hook (listed, and ``--strict`` fails)."""
    return PluginEntry(kind, source.plugin_name, source.distribution, source.version, source.module,
                       error=f"{hook} of {source.distribution} raised {type(exc).__name__}: {exc}", whole_plugin=True)


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
        problem = declaration_problem(plugin, source.module)
        if problem is not None:
            fail(source, problem)
            return
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
                entries.append(hook_failure(source, kind, f"calcdet_register_{kind}", exc))
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
