"""The main job behind ``make demo`` (completed by the AIA-ML pipeline work)."""

from __future__ import annotations

import argparse

from calcdet_core.cli import app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="demo", help="Folder for the demo's outputs.")
    parser.parse_args()
    app(["list-plugins"], standalone_mode=False)


if __name__ == "__main__":
    main()
