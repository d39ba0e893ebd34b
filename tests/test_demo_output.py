"""What `make demo` prints: figures rounded for people, full precision left to metrics.json."""

from pathlib import Path

from calcdet_core.run.demo import evaluated_text, trained_text


def test_training_figures_are_rounded():
    trained = {"train": {"images": 80, "tp": 57, "fp": 1234, "proposer_sensitivity": 0.912345678},
               "validation_auroc": 0.8765432, "validation_auprc": None}
    text = trained_text(trained)
    assert text == ("train split: images 80, tp 57, fp 1234, proposer_sensitivity 0.912\n"
                    "validation AUROC 0.877, AUPRC n/a")


def test_froc_auc_is_rounded_and_points_to_the_full_precision(tmp_path: Path):
    metrics = {"froc": {"auc": 0.470312, "auc_ci95": [0.3812345, 0.5478]}, "images": 36, "targets": 212}
    text = evaluated_text(metrics, tmp_path)
    assert text.startswith("FROC AUC 0.470 [0.381, 0.548] (0-50 FP per normal image; 95% interval); 36 test images")
    assert str(tmp_path / "metrics.json") in text and "0.4703" not in text
    assert evaluated_text({"froc": {}}, tmp_path).startswith("FROC AUC n/a")


def test_the_operating_point_is_told_beside_the_validation_figures_it_was_chosen_on(tmp_path: Path):
    point = {"chosen": True, "threshold": 1.23456, "findings_per_image": 3.4567,
             "test": {"fppi": 1.2345, "sensitivity": 0.61234}, "validation": {"fppi": 0.98765, "sensitivity": 0.6}}
    text = evaluated_text({"froc": {}, "operating_point": point}, tmp_path)
    assert text.endswith("at the model's operating point (score >= 1.2346): 3.5 findings per test image, sensitivity "
                         "0.612 at 1.23 FP per normal image (validation, where it was chosen: 0.600 at 0.99)")
    assert "operating point" not in evaluated_text({"froc": {}, "operating_point": {"chosen": False}}, tmp_path)
