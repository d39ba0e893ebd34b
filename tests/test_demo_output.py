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
