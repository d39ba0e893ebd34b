"""The CLI policy: one app factory, user errors reported once, results on stdout, shared options, a quick start."""

from __future__ import annotations

import json
import subprocess
import sys
from enum import Enum
from importlib.metadata import entry_points
from typing import Annotated, Literal

import pytest
import typer
from pydantic import BaseModel, Field
from typer.testing import CliRunner

from calcdet_core.cli.app import create_app
from calcdet_core.cli.options import Split
from calcdet_core.cli.output import froc_auc
from calcdet_core.cli.plugins import field_limits
from calcdet_core.contracts.data import SPLIT_NAMES
from calcdet_core.contracts.hookspecs import hookimpl
from calcdet_core.errors import CalcdetUserError
from calcdet_core.plugins.registry import build_registry

HEAVY = ("sklearn", "cv2", "numba", "torch")

# Runs `calcdet ARGS` as the console script does and prints, at exit, every module it imported.
PROBE = """
import atexit, sys
atexit.register(lambda: print("MODULES", *sorted(sys.modules), file=sys.stderr))
sys.argv = ["calcdet", *sys.argv[1:]]
from calcdet_core.cli.app import main
main()
"""


def imported_by(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    run = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120)
    line = next(li for li in run.stderr.splitlines() if li.startswith("MODULES "))
    return run, set(line.split()[1:])


def test_version_builds_no_registry_and_imports_no_heavy_library():
    run, modules = imported_by("--version")
    assert run.returncode == 0 and run.stdout.startswith("calcdet ")
    assert not {m.split(".")[0] for m in modules} & set(HEAVY)
    plugin_modules = {ep.value.split(":")[0] for ep in entry_points(group="calcdet")}
    assert "calcdet_core.plugins.builtins" not in modules and not plugin_modules & modules


def test_help_lists_every_command_without_importing_a_heavy_library():
    run, modules = imported_by("--help")
    assert run.returncode == 0 and "list-plugins" in run.stdout and "dataset" in run.stdout
    heavy = sorted({m.split(".")[0] for m in modules} & set(HEAVY))
    culprits = sorted({m.split(".")[0] for m in modules if m.startswith("calcdet_")})
    assert heavy == [], f"`calcdet --help` imported {heavy}; calcdet packages imported: {culprits}"


class Commands:
    """A plugin whose commands fail on purpose: once as a user's mistake, once as a bug."""

    calcdet_contract = 2

    @hookimpl
    def calcdet_register_commands(self, cli: typer.Typer) -> None:
        @cli.command()
        def mistake() -> None:
            typer.echo("partial result")
            raise CalcdetUserError("input.csv:3: radius should be >= 0, got -1")

        @cli.command()
        def bug() -> None:
            raise RuntimeError("a bug in a component")

        @cli.command()
        def interrupted() -> None:
            raise KeyboardInterrupt  # what Ctrl-C raises in the command's thread


COMMANDS = (("commands-dist", Commands()),)


def invoke(*args: str, plugins=COMMANDS):
    app = create_app(build_registry(extra_plugins=list(plugins), autoload=False))
    return CliRunner().invoke(app, list(args))


def test_a_user_error_is_one_message_on_stderr_and_exit_1():
    result = invoke("mistake")
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: input.csv:3: radius should be >= 0, got -1"
    assert result.stdout == "partial result\n" and "Traceback" not in result.output


def test_ctrl_c_exits_130_saying_what_was_kept_and_how_to_resume():
    result = invoke("interrupted")
    assert result.exit_code == 130 and "Traceback" not in result.output
    assert result.stderr.strip() == ("error: interrupted: what was finished is kept; detect, train and evaluate run "
                                     "again with the same --out resume from it")


def test_a_bug_keeps_its_exception():
    result = invoke("bug")
    assert result.exit_code == 1 and isinstance(result.exception, RuntimeError)
    assert "error:" not in result.stderr


def test_a_bug_shows_its_traceback_to_the_user(tmp_path):
    from tests.fake_dists import write_dist

    write_dist(tmp_path, "buggy-dist", "buggy_calcdet_mod", """
        import typer
        from calcdet_core.api import hookimpl

        calcdet_contract = 2

        @hookimpl
        def calcdet_register_commands(cli):
            @cli.command()
            def crash():
                raise ZeroDivisionError("bug in a plugin")
    """)
    env = {"PYTHONPATH": str(tmp_path), "PATH": ""}
    run = subprocess.run([sys.executable, "-m", "calcdet_core", "crash"], capture_output=True, text=True, env=env,
                         timeout=120)
    assert run.returncode == 1 and "Traceback" in run.stderr and "ZeroDivisionError: bug in a plugin" in run.stderr


class Rival:
    """Commands that clash: `validate` is calcdet's own, `hello` is also another plugin's."""

    calcdet_contract = 2

    def __init__(self, greeting: str) -> None:
        self.greeting = greeting

    @hookimpl
    def calcdet_register_commands(self, cli: typer.Typer) -> None:
        cli.command("validate")(lambda: typer.echo("hijacked"))
        cli.command("hello")(lambda: typer.echo(self.greeting))


class NoCli:
    """A commands hook that takes none of the spec's arguments is still called (through pluggy)."""

    calcdet_contract = 2

    called = False

    @hookimpl
    def calcdet_register_commands(self) -> None:
        NoCli.called = True


class Broken:
    calcdet_contract = 2

    @hookimpl
    def calcdet_register_commands(self, cli: typer.Typer) -> None:
        raise ImportError("optional dependency missing")


def test_plugin_commands_follow_the_registry_rules(tmp_path):
    plugins = [("aaa-rival", Rival("aaa")), ("zzz-rival", Rival("zzz")), ("no-cli", NoCli()), ("broken", Broken())]
    (tmp_path / "p.yaml").write_text("name: p\nproposer: {plugin: nope}\n")
    result = invoke("validate", str(tmp_path / "p.yaml"), plugins=plugins)
    assert result.exit_code == 1 and "hijacked" not in result.output, "built-in commands always win"
    assert "no proposer plugin named 'nope'" in result.stderr
    hello = invoke("hello", plugins=plugins)
    assert hello.exit_code == 2 and "No such command" in hello.output, "a name two plugins add is refused for both"
    for text in ("'hello' of aaa-rival is not added: aaa-rival and zzz-rival both add it",
                 "'validate' of aaa-rival is not added: it is calcdet's",
                 "calcdet_register_commands of broken raised ImportError: optional dependency missing"):
        assert text in " ".join(hello.stderr.split())
    assert NoCli.called
    listed = invoke("list-plugins", "--strict", "--json", plugins=plugins)
    assert listed.exit_code == 1, "every refused command and raising hook is an error row: --strict fails"
    rows = [r for r in json.loads(listed.stdout) if r["kind"] == "commands"]
    assert {(r["name"], r["distribution"]) for r in rows} == {
        ("validate", "aaa-rival"), ("validate", "zzz-rival"), ("hello", "aaa-rival"), ("hello", "zzz-rival"),
        ("broken", "broken")}
    alone = invoke("hello", plugins=[("zzz-rival", Rival("zzz"))])
    assert alone.exit_code == 0 and alone.stdout == "zzz\n"


def test_results_on_stdout_messages_on_stderr():
    result = invoke("list-plugins", "--json", plugins=[])
    assert result.exit_code == 0 and result.stderr == ""
    assert {r["name"] for r in json.loads(result.stdout)} >= {"folder", "froc"}


def test_split_is_a_choice_and_matches_the_dataset_splits():
    assert [s.value for s in Split] == ["all", *SPLIT_NAMES]
    result = invoke("score", "x.csv", "--dataset", "folder", "--root", ".", "--out", "o", "--split", "tset",
                    plugins=[])
    assert result.exit_code == 2 and "'tset' is not one of" in " ".join(result.output.split())


def _commands(group, prefix=""):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", command


def test_shared_options_read_the_same_in_every_command():
    group = typer.main.get_group(create_app(build_registry(autoload=False)))
    group.list_commands(None)
    seen: dict[str, dict[str, tuple]] = {}
    for name, command in _commands(group):
        for param in command.params:
            if param.name in ("dataset", "root", "split", "workers", "device", "scheduler"):
                reads = (tuple(param.opts), param.help, param.type_descriptor.annotation)
                seen.setdefault(param.name, {})[name] = reads
    assert set(seen["dataset"]) >= {"train", "detect", "evaluate", "score", "dataset summary"}
    for option, by_command in seen.items():
        assert len(set(by_command.values())) == 1, f"--{option} differs between commands: {by_command}"
    assert next(iter(seen["split"].values()))[2] is Split


def test_figures_are_rounded_for_people():
    froc = {"auc": 0.470312, "auc_ci95": [0.38149, 0.54751]}
    assert froc_auc(froc) == "FROC AUC 0.470 [0.381, 0.548]"
    assert froc_auc({"auc": 0.5, "auc_ci95": [None, None]}) == "FROC AUC 0.500"
    assert froc_auc({"auc": None}).startswith("FROC AUC n/a")


class Shape(Enum):
    disk = "disk"
    box = "box"


class Config(BaseModel):
    radius: float = Field(3.0, gt=0, le=20)
    count: int = Field(2, ge=1)
    method: Literal["a", "b"] = "a"
    shape: Shape = Shape.disk
    name: str = Field("x", min_length=1, max_length=8)
    radii: list[Annotated[float, Field(gt=0)]] = Field(default_factory=list, max_length=4)
    gamma: float | Literal["scale"] = 0.1
    free: float = 1.0


@pytest.mark.parametrize(("field", "limits"), [
    ("radius", "> 0, <= 20"), ("count", ">= 1"), ("method", "one of 'a', 'b'"), ("shape", "one of 'disk', 'box'"),
    ("name", "length >= 1, length <= 8"), ("radii", "length <= 4, each > 0"), ("gamma", "one of 'scale'"),
    ("free", ""),
])
def test_field_limits(field, limits):
    assert field_limits(Config.model_fields[field]) == limits
