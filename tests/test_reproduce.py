"""`calcdet reproduce` on a tiny phantom release read as INbreast, with three tiny pipelines written here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from calcdet_phantom.release import generate_release
from typer.testing import CliRunner

from calcdet_core.cli.app import create_app
from calcdet_core.errors import CalcdetUserError, InvalidInputError
from calcdet_core.io.model_dir import is_model_dir, sha256
from calcdet_core.run.reproduce import (
    STUDY_PIPELINES,
    differences,
    plan_runs,
    reproduce,
    started_from,
    study_pipelines,
)

PIPELINES = {
    "gm-only": "name: gm-only\nproposer: {plugin: gm, params: {first_quantile: 0.8, second_quantile: 0.5}}\n",
    "hdog-only": "name: hdog-only\nproposer: {plugin: hdog}\n",
    "tiny-aia-ml": """
name: tiny-aia-ml
proposer: {plugin: gm, params: {first_quantile: 0.8, second_quantile: 0.5}}
features: [{plugin: fos}]
classifier: {plugin: svm-cascade, params: {max_train_samples: 400}}
""",
}

app = create_app()


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    return generate_release(tmp_path_factory.mktemp("release"), 14, seed=1, height=640, width=512)


@pytest.fixture(scope="module")
def yamls(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("pipelines")
    for name, text in PIPELINES.items():
        (folder / f"{name}.yaml").write_text(text)
    return [folder / f"{name}.yaml" for name in PIPELINES]


@pytest.fixture(scope="module")
def first(release, yamls, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("study") / "out"
    return out, reproduce("inbreast", release, out, yamls, seed=0, device="cpu")


@pytest.fixture(scope="module")
def second(first, release, yamls) -> tuple[dict[str, float], dict]:
    out, _ = first
    mtimes = {name: (out / name / "model" / "checksums.json").stat().st_mtime_ns for name in PIPELINES}
    return mtimes, reproduce("inbreast", release, out, yamls, seed=0, device="cpu")


def test_each_pipeline_is_trained_and_evaluated_in_its_folder(first):
    out, study = first
    for name in PIPELINES:
        assert is_model_dir(out / name / "model")
        assert (out / name / "evaluation" / "metrics.json").is_file()
        assert (out / name / "evaluation" / "detections.csv").is_file()
    assert {p.name for p in out.iterdir()} >= {*PIPELINES, "study.json", "study.md", "study.html", "compare.png"}
    assert [p["name"] for p in study["pipelines"]] == list(PIPELINES)
    assert all(p["trained_now"] and p["evaluated_now"] for p in study["pipelines"])


def test_study_json_holds_each_auc_with_its_interval_and_every_pairwise_difference(first):
    out, _ = first
    study = json.loads((out / "study.json").read_text())
    assert study["split"] == "test" and study["images"] > 0
    for p in study["pipelines"]:
        auc, (lo, hi) = p["froc"]["auc"], p["froc"]["auc_ci95"]
        assert 0 <= lo <= auc <= hi <= 1
        assert p["detection_seconds_per_image"] > 0 and p["training"]["wall_seconds"] > 0
        assert p["training"]["cpu_seconds"] > 0
        assert p["box"]["ap50"] is not None and p["box"]["ar"] is not None
    pairs = {(d["a"], d["b"]) for d in study["differences"]}
    assert pairs == {("gm-only", "hdog-only"), ("gm-only", "tiny-aia-ml"), ("hdog-only", "tiny-aia-ml")}
    aucs = {p["name"]: p["froc"]["auc"] for p in study["pipelines"]}
    for d in study["differences"]:
        assert d["difference"] == pytest.approx(aucs[d["a"]] - aucs[d["b"]])
        assert d["ci"][0] <= d["ci"][1]
    text = (out / "study.md").read_text()
    assert "INbreast (published)" in text and "reproduced on a release with calcdet's synthetic truth" in text
    assert not study["comparable_with_published"], "a phantom release is not INbreast"
    page = (out / "study.html").read_text()
    assert "not INbreast" in page and "data:image/png;base64," in page, "self-contained, like report.html"


def test_published_figures_sit_beside_the_study_pipelines_names():
    from calcdet_core.run.reproduce_report import STUDY_FIGURES

    names = [Path(p).stem for p in study_pipelines()]
    assert names == [Path(n).stem for n in STUDY_PIPELINES]
    assert {n: STUDY_FIGURES[n]["froc_auc"] for n in names} == {"aia-ml": 0.7569, "resnet-saliency": 0.6787,
                                                                "faster-rcnn": 0.8092}


def test_second_run_reuses_models_and_evaluations(first, second):
    out, before = first
    mtimes, study = second
    assert mtimes == {name: (out / name / "model" / "checksums.json").stat().st_mtime_ns for name in PIPELINES}
    assert not any(p["trained_now"] or p["evaluated_now"] for p in study["pipelines"])
    assert [p["training"] for p in study["pipelines"]] == [p["training"] for p in before["pipelines"]]
    assert [p["froc"]["auc"] for p in study["pipelines"]] == [p["froc"]["auc"] for p in before["pipelines"]]


def test_changed_yaml_of_the_same_name_is_refused_naming_the_file(first, second, release, yamls, tmp_path):
    out, _ = first
    changed = tmp_path / "gm-only.yaml"
    changed.write_text(PIPELINES["gm-only"].replace("0.8", "0.9"))
    with pytest.raises(InvalidInputError, match=str(changed)) as caught:
        reproduce("inbreast", release, out, [changed, *yamls[1:]], seed=0, device="cpu")
    assert "proposer" in str(caught.value) and str(out / "gm-only" / "model") in str(caught.value)


def test_model_stored_before_a_setting_existed_is_reused_as_its_default(first, second, release, yamls, tmp_path):
    out = tmp_path / "out"
    for name in PIPELINES:  # the models alone: an evaluation names the model folder it scored
        shutil.copytree(first[0] / name / "model", out / name / "model")
    model = out / "gm-only" / "model"
    stored = yaml.safe_load((model / "pipeline.yaml").read_text())
    assert stored.pop("training") == {"negatives_per_image": None, "transform": None}
    (model / "pipeline.yaml").write_text(yaml.safe_dump(stored, sort_keys=False))
    sums = json.loads((model / "checksums.json").read_text())
    sums["files"]["pipeline.yaml"] = sha256(model / "pipeline.yaml")
    (model / "checksums.json").write_text(json.dumps(sums))
    study = reproduce("inbreast", release, out, yamls, seed=0, device="cpu")
    assert not any(p["trained_now"] for p in study["pipelines"])


def test_a_model_started_from_the_file_its_yaml_names_matches_it_and_from_another_file_does_not(tmp_path):
    weights, other = tmp_path / "w.safetensors", tmp_path / "v.safetensors"
    weights.write_bytes(b"first")
    other.write_bytes(b"second")
    stored = {"detector": {"params": {"initial_weights": None, "epochs": 20}}}
    asked = {"detector": {"params": {"initial_weights": str(weights), "epochs": 20}}}
    assert differences(stored, asked) == [("detector.params.initial_weights", None, str(weights))]
    metrics = {"detector": {"initial_weights": {"path": "/elsewhere/w.safetensors", "sha256": sha256(weights)}}}
    assert started_from(metrics, "initial_weights", str(weights)), "the same bytes, wherever they lie now"
    assert not started_from(metrics, "initial_weights", str(other))
    assert not started_from(metrics, "initial_weights", str(tmp_path / "gone.safetensors"))
    assert not started_from({}, "initial_weights", str(weights)), "a model that records no start"


def test_model_of_another_split_seed_is_refused(first, second, release, yamls):
    out, _ = first
    with pytest.raises(InvalidInputError, match="seed 0, not 1"):
        reproduce("inbreast", release, out, yamls, seed=1, device="cpu")


def test_two_pipelines_of_one_name_are_refused(yamls, tmp_path):
    copy = tmp_path / "copy.yaml"
    copy.write_text(PIPELINES["gm-only"])
    with pytest.raises(InvalidInputError, match="both named 'gm-only'"):
        plan_runs([yamls[0], copy], tmp_path / "out")


def test_a_study_written_under_a_relative_out_is_reused_from_another_folder(release, yamls, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    reproduce("inbreast", release, Path("out"), yamls[:1], seed=0, device="cpu")
    monkeypatch.chdir(release)
    study = reproduce("inbreast", release, tmp_path / "out", yamls[:1], seed=0, device="cpu")
    assert not any(p["trained_now"] or p["evaluated_now"] for p in study["pipelines"])


def test_cli_reuses_a_model_trained_before_with_calcdet_train(release, yamls, tmp_path):
    runner = CliRunner()
    out = tmp_path / "study"
    trained = runner.invoke(app, ["train", str(yamls[0]), "--dataset", "inbreast", "--root", str(release),
                                  "--out", str(out / "gm-only" / "model")])
    assert trained.exit_code == 0, trained.output
    result = runner.invoke(app, ["reproduce", "--dataset", "inbreast", "--root", str(release), "--out", str(out),
                                 "--pipeline", str(yamls[0]), "--pipeline", str(yamls[1]), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "not training again" in result.output and "FROC AUC gm-only - hdog-only" in result.output
    study = json.loads((out / "study.json").read_text())
    reused, fresh = study["pipelines"]
    assert not reused["trained_now"] and reused["evaluated_now"] and fresh["trained_now"]
    assert reused["training"]["wall_seconds"] > 0 and reused["training"]["cpu_seconds"] is None
    assert (out / "hdog-only" / "evaluation" / "report.html").is_file()


def test_set_changes_the_pipeline_it_names_or_every_one(yamls, tmp_path):
    runs = plan_runs(yamls, tmp_path / "out", ["gm-only:proposer.params.first_quantile=0.9",
                                               "operating_point.fppi=0.5"])
    by_name = {run.name: run.resolved for run in runs}
    assert by_name["gm-only"]["proposer"]["params"]["first_quantile"] == 0.9
    assert by_name["tiny-aia-ml"]["proposer"]["params"]["first_quantile"] == 0.8
    assert {r["operating_point"]["fppi"] for r in by_name.values()} == {0.5}
    with pytest.raises(InvalidInputError, match="'gm-onyl' is no pipeline of this study"):
        plan_runs(yamls, tmp_path / "out", ["gm-onyl:proposer.params.first_quantile=0.9"])
    with pytest.raises(CalcdetUserError, match="features"):  # hdog-only has no features to change
        plan_runs(yamls, tmp_path / "out", ["features[0].plugin=fos"])


def test_study_pipelines_are_found_by_name_and_an_unknown_one_is_refused():
    assert [p.name for p in study_pipelines(["pipelines/hdog.yaml", Path("gm")])] == ["hdog.yaml", "gm.yaml"]
    with pytest.raises(InvalidInputError, match="no shipped pipeline is named 'hdgo'"):
        study_pipelines([Path("hdgo.yaml")])


def test_box_figures_are_the_box_ap_evaluators_when_the_pipeline_lists_it():
    from calcdet_core.run.reproduce_report import box_figures

    listed = {"box-ap": {"ap50": 0.7, "ar": 0.5, "box_size_px": 14.0, "detection_boxes": "predicted"}}
    assert box_figures(listed, [])["ap50"] == 0.7 and "evaluator" in box_figures(listed, [])["source"]
    assert box_figures({}, [])["ap50"] is None  # computed: no targets, so undefined


def test_figures_that_do_not_apply_read_n_a_and_published_ones_on_other_data_say_so():
    from calcdet_core.run.reproduce_report import STUDY_FIGURES, study_markdown

    row = {"name": "faster-rcnn", "froc": {"auc": 0.4, "auc_ci95": [0.3, 0.5]},
           "published": STUDY_FIGURES["faster-rcnn"], "box": {"ap50": 0.0, "ar": 0.0, "detection_boxes": "squares"},
           "detection_seconds_per_image": 1.0,
           "training": {"wall_seconds": 10.0, "cpu_seconds": 9.0, "source": "trained here"}, "trained_now": True,
           "notes": []}
    study = {"dataset": "inbreast", "data": "a phantom release, not INbreast", "comparable_with_published": False,
             "seed": 0, "images": 10, "normal_images": 4, "targets": 30, "pipelines": [row], "differences": []}
    text = study_markdown(study)
    assert "| n/a (no boxes) | n/a (no boxes) |" in text
    assert "0.8092 +- 0.0141" in text and "(not comparable: other data)" in text
    assert "not comparable" not in study_markdown({**study, "comparable_with_published": True})
