"""`calcdet dataset summary`: counts overall and per split, skipped items, clear errors."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from calcdet_core.cli.app import create_app
from calcdet_core.plugins.registry import build_registry


def dataset_summary(*args: str):
    return CliRunner().invoke(create_app(build_registry(autoload=False)), ["dataset", "summary", *args],
                              env={"COLUMNS": "200"})


def _folder(root):
    rng = np.random.default_rng(0)
    rows = ["image,x,y,diameter"]
    for p in range(6):
        (root / f"p{p}").mkdir(parents=True)
        for v in ("CC", "MLO"):
            Image.fromarray(rng.integers(1, 4000, (30, 30)).astype(np.uint16)).save(root / f"p{p}" / f"L_{v}.png")
            if p % 2 == 0:
                rows += [f"p{p}/L_{v},10,10,4", f"p{p}/L_{v},20,20,5"]
    rows += ["p1/L_CC,5,5,30", "ghost.png,1,1,3"]  # a large calcification (ignore) and an unknown image
    (root / "annotations.csv").write_text("\n".join(rows) + "\n")
    return root


def test_summary_json(tmp_path):
    result = dataset_summary("--dataset", "folder", "--root", str(_folder(tmp_path)), "--json", "--seed", "3")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert list(summary) == ["images", "normal_images", "targets", "ignore_regions", "patients", "skipped", "splits"]
    assert (summary["images"], summary["normal_images"], summary["targets"], summary["ignore_regions"],
            summary["patients"]) == (12, 6, 12, 1, 6)
    assert summary["skipped"] == [{"path": "annotations.csv:15", "reason": "image 'ghost.png' is not in the folder"}]
    assert list(summary["splits"]) == ["train", "validation", "test"]
    for key in ("images", "normal_images", "targets", "ignore_regions", "patients"):
        assert sum(s[key] for s in summary["splits"].values()) == summary[key]
    assert all(set(s) == {"images", "normal_images", "targets", "ignore_regions", "patients"}
               for s in summary["splits"].values())


def test_summary_table(tmp_path):
    result = dataset_summary("--dataset", "folder", "--root", str(_folder(tmp_path)))
    assert result.exit_code == 0, result.output
    assert "validation" in result.stdout and "skipped 1 item(s)" in result.stdout and "ghost.png" in result.stdout


def test_summary_errors(tmp_path):
    unknown = dataset_summary("--dataset", "no-such-adapter", "--root", str(tmp_path))
    assert unknown.exit_code == 1 and "no dataset plugin named 'no-such-adapter'" in unknown.stderr
    assert "Traceback" not in unknown.output and unknown.stdout == ""
    missing = dataset_summary("--dataset", "folder", "--root", str(tmp_path / "nowhere"))
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    (tmp_path / "file.txt").write_text("")
    not_a_folder = dataset_summary("--dataset", "folder", "--root", str(tmp_path / "file.txt"))
    assert not_a_folder.exit_code == 1 and "file.txt: not a folder" in not_a_folder.stderr


def test_browse_draws_the_truth_of_every_or_chosen_image_named_by_id(tmp_path):
    from calcdet_phantom.release import generate_release

    root = generate_release(tmp_path / "release", 4, seed=1, height=256, width=192)
    app = create_app(build_registry())
    done = CliRunner().invoke(app, ["dataset", "browse", "--dataset", "inbreast", "--root", str(root),
                                    "--out", str(tmp_path / "truth")])
    assert done.exit_code == 0, done.output
    ids = {p.name.split("_")[0] for p in (root / "AllDICOMs").glob("*.dcm")}
    assert {p.stem for p in (tmp_path / "truth").glob("*.png")} == ids
    one = sorted(ids)[0]
    done = CliRunner().invoke(app, ["dataset", "browse", "--dataset", "inbreast", "--root", str(root),
                                    "--out", str(tmp_path / "one"), "--image", one])
    assert done.exit_code == 0 and [p.stem for p in (tmp_path / "one").glob("*.png")] == [one]
    done = CliRunner().invoke(app, ["dataset", "browse", "--dataset", "inbreast", "--root", str(root),
                                    "--out", str(tmp_path / "none"), "--image", "nosuch"])
    assert done.exit_code == 1 and "--image: nosuch not among the 4 image(s)" in done.output
    done = CliRunner().invoke(app, ["dataset", "browse", "--dataset", "inbreast", "--root", str(root),
                                    "--out", str(root / "truth")])
    assert done.exit_code == 1 and "never writes over or into its inputs" in done.output
