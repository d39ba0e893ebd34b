"""Start-up cost: importing the user module and the plugin authors' module, ``calcdet --help``, ``list-plugins``.

Each command runs in a fresh interpreter ``--repeats`` times; the JSON gives the median wall
seconds and, as the comparable figure, the ratio to the bare interpreter's start on the same
machine in the same run (``python -c pass``). With ``--reference-tree DIR`` (a checkout of another
revision, e.g. ``git worktree add /tmp/before REV``) every command runs again with that tree first
on ``PYTHONPATH``, and the JSON adds this tree's time over the reference's.

    .venv/bin/python benchmarks/imports.py --repeats 15 --reference-tree /tmp/before
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = {
    # name: (interpreter arguments, the module that must come from the measured tree)
    "python -c pass": (["-c", "pass"], None),
    "import calcdet": (["-c", "import calcdet"], "calcdet"),
    "calcdet.Pipeline (first use)": (["-c", "import calcdet; calcdet.Pipeline"], "calcdet"),
    "import calcdet_core.api": (["-c", "import calcdet_core.api"], "calcdet_core.api"),
    "calcdet --help": (["-m", "calcdet_core", "--help"], "calcdet_core.cli.app"),
    "calcdet list-plugins": (["-m", "calcdet_core", "list-plugins", "--json"], "calcdet_core.cli.app"),
}


def _environment(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))}


def from_tree(module: str | None, tree: Path) -> bool:
    """Whether ``module`` imports from ``tree`` (a module the tree lacks would come from the installed one)."""
    if module is None:
        return True
    code = f"import {module} as m; print(m.__file__)"
    shown = subprocess.run([sys.executable, "-c", code], env=_environment(tree), cwd=tree, capture_output=True,
                           text=True, check=False).stdout
    return shown.strip().startswith(str(tree))


def median_seconds(args: list[str], repeats: int, tree: Path) -> float | None:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, *args], env=_environment(tree), cwd=tree, capture_output=True,
                              check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            return None
    return statistics.median(times)


def measure(repeats: int, tree: Path) -> dict[str, dict[str, float | None]]:
    seconds = {name: median_seconds(args, repeats, tree) if from_tree(module, tree) else None
               for name, (args, module) in COMMANDS.items()}
    base = seconds["python -c pass"]
    return {name: {"median_seconds": s, "over_bare_interpreter": None if s is None or not base else s / base}
            for name, s in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--reference-tree", type=Path, default=None,
                        help="A checkout of another revision to compare with (first on PYTHONPATH).")
    args = parser.parse_args()
    here = Path(__file__).resolve().parents[1]
    report: dict[str, object] = {"benchmark": "imports", "repeats": args.repeats,
                                 "this_tree": measure(args.repeats, here)}
    if args.reference_tree is not None:
        reference = measure(args.repeats, args.reference_tree.resolve())
        report["reference_tree"] = {"path": str(args.reference_tree), **reference}
        report["this_over_reference"] = {
            name: (None if row["median_seconds"] is None or reference[name]["median_seconds"] is None
                   else row["median_seconds"] / reference[name]["median_seconds"])
            for name, row in report["this_tree"].items()}  # type: ignore[union-attr]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
