"""docs/python.md runs as written: its shell and Python blocks, in order, in a fresh folder (one notebook)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs" / "python.md"


def blocks() -> list[tuple[str, str]]:
    """(language, code) of every fenced block, in the page's order."""
    return re.findall(r"```(bash|python)\n(.*?)```", DOCS.read_text(), flags=re.S)


def run_shell(code: str, cwd: Path) -> None:
    """Each ``calcdet ...`` line as this interpreter's ``python -m calcdet_core ...`` (the same command)."""
    for line in filter(None, (line.strip() for line in code.splitlines())):
        command = shlex.split(line)
        assert command[0] == "calcdet", f"docs/python.md runs only calcdet commands, not {line!r}"
        subprocess.run([sys.executable, "-m", "calcdet_core", *command[1:]], cwd=cwd, check=True,
                       stdout=subprocess.DEVNULL)


def test_the_python_page_runs_as_a_notebook(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    found = blocks()
    assert [language for language, _ in found].count("python") >= 6
    namespace: dict[str, object] = {"__name__": "docs_python"}
    for i, (language, code) in enumerate(found):
        if language == "bash":
            run_shell(code, tmp_path)
        else:
            exec(compile(code, f"{DOCS}#block{i}", "exec"), namespace)
    evaluation = namespace["evaluation"]
    assert evaluation.report.is_file() and evaluation.froc_auc is not None
    assert (tmp_path / "models" / "copy" / "checksums.json").is_file()
