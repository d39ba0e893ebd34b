"""The ``calcdet`` command line: one app factory, and one place where a user's mistake becomes a message.

:func:`create_app` builds the root command. Its sub-commands, calcdet's own and every
plugin's, are added through the ``calcdet_register_commands`` hook the first time a
command is looked up, so ``calcdet --version`` builds no registry and imports no plugin.
A :class:`~calcdet_core.errors.CalcdetUserError` raised by any command is printed as
``error: ...`` on stderr with exit status 1; every other exception is a bug and keeps
its traceback.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from calcdet_core.cli import output
from calcdet_core.errors import CalcdetUserError

if TYPE_CHECKING:
    from calcdet_core.plugins.registry import Registry


class CalcdetGroup(TyperGroup):
    """The root command: adds the registered commands on first lookup, and reports user errors once.

    ``registry`` (set on the subclass :func:`create_app` makes) is the registry the commands run
    against; ``None`` means the process-wide one.
    """

    registry: Registry | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._loaded = False

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for name, command in _registered_commands(self._registry()).items():
                self.add_command(command, name)

    def _registry(self) -> Registry:
        from calcdet_core.plugins.registry import get_registry

        return self.registry or get_registry()

    def list_commands(self, ctx: Any) -> list[str]:
        self._load()
        return super().list_commands(ctx)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        self._load()
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: Any) -> Any:
        from calcdet_core.plugins.registry import use_registry

        with use_registry(self.registry) if self.registry is not None else nullcontext():
            try:
                return super().invoke(ctx)
            except CalcdetUserError as exc:
                output.error(str(exc))
                raise typer.Exit(1) from None
            except KeyboardInterrupt:
                output.error(INTERRUPTED)
                raise typer.Exit(130) from None


INTERRUPTED = ("interrupted: what was finished is kept; detect, train and evaluate run again with the same "
               "--out resume from it")


def _registered_commands(registry: Registry) -> dict[str, Any]:
    """Every plugin's commands, built-ins first. A command name is not qualified, so it goes to calcdet's built-ins,
    then calcdet's own distributions; two others adding one name get neither added. Every refusal and every
    raising hook is an error row of ``calcdet list-plugins`` (``--strict`` fails) and a warning here."""
    from calcdet_core.plugins.registry import FIRST_PARTY, PluginEntry, canonical_distribution, hook_failure

    def rank(source: Any) -> int:
        return 0 if source.builtin else 1 if canonical_distribution(source.distribution) in FIRST_PARTY else 2

    def refuse(entry: PluginEntry) -> None:
        if entry not in registry.entries:
            registry.entries.append(entry)
            output.warn(entry.error or "")

    claims: dict[str, list[tuple[Any, Any]]] = {}
    for source, call in registry.hook_callers("calcdet_register_commands"):
        added = typer.Typer()
        try:
            call(cli=added)
            group = typer.main.get_group(added)
        except Exception as exc:  # one plugin's broken commands must not take the others down
            refuse(hook_failure(source, "commands", "calcdet_register_commands", exc))
            continue
        for name, command in group.commands.items():
            claims.setdefault(name, []).append((source, command))
    commands: dict[str, Any] = {}
    for name, rivals in claims.items():
        best = min(rank(source) for source, _ in rivals)
        first = [(source, command) for source, command in rivals if rank(source) == best]
        if len(first) == 1:
            commands[name] = first[0][1]
        for source, _ in rivals:
            if len(first) == 1 and source is first[0][0]:
                continue
            why = (f"it is {first[0][0].distribution}'s" if len(first) == 1 else
                   f"{' and '.join(s.distribution for s, _ in first)} both add it, so neither is added: uninstall one")
            refuse(PluginEntry("commands", name, source.distribution, source.version, source.module,
                               error=f"command {name!r} of {source.distribution} is not added: {why}"))
    return commands


def _print_version(value: bool) -> None:
    if value:
        from calcdet_core import __version__

        typer.echo(f"calcdet {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print calcdet's version and exit.")] = False,
) -> None:
    """Detect microcalcifications in full-field digital mammograms."""


def create_app(registry: Registry | None = None) -> typer.Typer:
    """The ``calcdet`` application with calcdet's and every plugin's commands.

    ``registry`` (a :class:`~calcdet_core.plugins.registry.Registry`) replaces the process-wide
    one for the commands this app runs: tests and notebooks build one with ``extra_plugins``.
    """
    group = type("CalcdetApp", (CalcdetGroup,), {"registry": registry})
    app = typer.Typer(name="calcdet", cls=group, no_args_is_help=True, pretty_exceptions_enable=False,
                      add_completion=False)
    app.callback()(_root)
    return app


def main() -> None:
    create_app()(prog_name="calcdet")
