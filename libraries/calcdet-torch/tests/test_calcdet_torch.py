"""The shared torch pieces: patches, metrics, the epoch loop (loss falls, checkpoints round-trip, resume)."""

import numpy as np
import pytest
import torch
from calcdet_torch.averaging import WeightAverage
from calcdet_torch.loop import LoopSettings, train_loop
from calcdet_torch.metrics import auroc, youden_f1
from calcdet_torch.patches import Augment, EpochPatches, PatchSpec, cut, zscore
from calcdet_torch.points import suppress
from calcdet_torch.state import load_module_arrays, module_arrays

from calcdet_core.api import InvalidInputError, TrainingContext, load_arrays, save_arrays
from calcdet_core.testing import detector_streams


def test_positives_centre_targets_and_negatives_are_redrawn():
    train, _ = detector_streams()
    spec = PatchSpec(16, negative_ratio=3, jitter=0.0, exclusion=8)
    epoch = EpochPatches(train, spec, np.random.default_rng(0))
    assert epoch.negatives.sum() == 3 * sum(len(e.annotation.targets) for e in train.entries)
    patches, labels = epoch[0]
    image = train[0]
    assert labels.sum() == len(image.annotation.targets) and patches.shape[1:] == (16, 16)
    # a disk at the centre: the patch's middle is brighter than its border
    positive = patches[labels == 1]
    assert (positive[:, 6:10, 6:10].mean(axis=(1, 2)) > positive[:, :2].mean(axis=(1, 2))).all()
    again = EpochPatches(train, spec, np.random.default_rng(1))[0][0]
    assert not np.array_equal(again, patches), "negatives are redrawn each epoch"


def test_cut_centres_and_zscore():
    image = np.arange(100, dtype=np.float32).reshape(10, 10)
    (patch,) = cut(image, np.array([[4.5, 4.5]]), 4)
    np.testing.assert_array_equal(patch, image[3:7, 3:7])
    z = zscore(np.stack([patch, np.ones((4, 4))]))
    assert abs(z[0].mean()) < 1e-6 and abs(z[0].std() - 1) < 1e-5 and (z[1] == 0).all()


def test_augment_keeps_shapes_and_changes_patches():
    patches = np.random.default_rng(0).normal(size=(50, 8, 8)).astype(np.float32)
    out = Augment()(patches, np.random.default_rng(1))
    assert out.shape == patches.shape and not np.allclose(out, patches)


def test_auroc_and_youden_f1():
    labels = np.array([0, 0, 1, 1, 0, 1])
    assert auroc(labels, np.array([0.1, 0.2, 0.8, 0.9, 0.3, 0.7])) == 1.0
    assert auroc(labels, np.array([0.9, 0.8, 0.1, 0.2, 0.7, 0.3])) == 0.0
    threshold, f1 = youden_f1(labels, np.array([0.1, 0.2, 0.8, 0.9, 0.3, 0.7]))
    assert threshold == 0.7 and f1 == 1.0
    assert np.isnan(auroc(np.ones(3), np.arange(3)))


def test_suppress_keeps_the_best_of_close_points():
    xy = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0], [50.0, 50.0]])
    assert suppress(xy, np.array([0.5, 0.9, 0.4, 0.1]), 14.0).tolist() == [1, 3]


def test_suppress_with_a_limit_keeps_the_same_first_points():
    rng = np.random.default_rng(0)
    xy, score = rng.random((3000, 2)) * 300, rng.random(3000)
    every = suppress(xy, score, 14.0)
    assert len(every) > 50
    assert suppress(xy, score, 14.0, limit=50).tolist() == every[:50].tolist()


def _problem(context, epochs, average_decay=0.0):
    """A tiny linear problem through the loop: bright-centre 8x8 patches against noise."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8, 8)).astype(np.float32)
    y = (rng.random(256) < 0.5).astype(np.float32)
    x[y == 1, 3:5, 3:5] += 2
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 1), torch.nn.BatchNorm1d(1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.05)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def batches(epoch):
        order = context.rng(epoch).permutation(192)
        return 6, ((xt[order[s : s + 32]], yt[order[s : s + 32]]) for s in range(0, 192, 32))

    def loss_fn(m, batch):
        return torch.nn.functional.binary_cross_entropy_with_logits(m(batch[0])[:, 0], batch[1])

    def validate(m):
        return {"val_loss": float(loss_fn(m, (xt[192:], yt[192:])))}

    settings = LoopSettings("toy", epochs, patience=3, average_decay=average_decay)
    return train_loop(model, optimizer, loss_fn, batches, validate, settings, context)


def test_the_loop_lowers_the_loss_logs_epochs_and_resumes_to_the_same_weights(tmp_path):
    whole = TrainingContext(tmp_path / "whole", seed=2)
    weights = _problem(whole, 4)
    history = whole.reporter.history
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert history[-1]["loss"] < history[0]["loss"] and history[-1]["val_loss"] < history[0]["val_loss"]
    cut_short = TrainingContext(tmp_path / "cut", seed=2)
    _problem(cut_short, 2)
    resumed = TrainingContext(tmp_path / "cut", seed=2)
    again = _problem(resumed, 4)
    assert [h["epoch"] for h in resumed.reporter.history] == [1, 2, 3, 4]
    for key, value in weights.items():
        np.testing.assert_allclose(again[key], value, rtol=1e-6)


def test_the_weight_average_follows_its_formula_with_batch_norm_statistics():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    average = WeightAverage(model, decay=0.9)
    expected = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    for step in range(1, 21):
        model(torch.randn(8, 3)).pow(2).mean().backward()
        optimizer.step()
        optimizer.zero_grad()
        average.update(model)
        decay = min(0.9, (1 + step) / (10 + step))
        for key, value in model.state_dict().items():
            expected[key] = decay * expected[key] + (1 - decay) * value if value.is_floating_point() else value.clone()
    for key, value in average.model.state_dict().items():
        torch.testing.assert_close(value, expected[key])
    assert not torch.equal(average.model[0].weight, model[0].weight)
    assert not any(p.requires_grad for p in average.model.parameters())


def test_with_a_weight_average_the_loop_keeps_the_average_and_resumes_to_it(tmp_path):
    whole = TrainingContext(tmp_path / "whole", seed=2)
    averaged = _problem(whole, 4, average_decay=0.95)
    raw = _problem(TrainingContext(tmp_path / "raw", seed=2), 4)
    assert any(not np.allclose(averaged[k], raw[k]) for k in raw)
    assert whole.reporter.history[-1]["val_loss"] < whole.reporter.history[0]["val_loss"]
    _problem(TrainingContext(tmp_path / "cut", seed=2), 2, average_decay=0.95)
    again = _problem(TrainingContext(tmp_path / "cut", seed=2), 4, average_decay=0.95)
    for key, value in averaged.items():
        np.testing.assert_allclose(again[key], value, rtol=1e-6)


def test_weights_round_trip_through_safetensors(tmp_path):
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    model(torch.randn(4, 1, 5, 5))  # batch-norm statistics and counter move
    path = save_arrays(tmp_path / "w.safetensors", module_arrays(model))
    fresh = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    load_module_arrays(fresh, load_arrays(path), str(path))
    for key, value in model.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[key], value)
    with pytest.raises(ValueError, match=r"w\.safetensors: do not fit"):
        load_module_arrays(torch.nn.Conv2d(1, 3, 3), load_arrays(path), str(path))


def test_the_loop_selects_and_stops_on_a_monitored_figure_where_higher_is_better(tmp_path):
    """An AUC-like figure steers it: the epoch with the highest wins, stopping after ``patience`` epochs without a
    gain, and an epoch without the figure counts neither way."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(16, 4)
    scripted = {1: 0.2, 2: 0.5, 4: 0.45, 5: 0.3, 6: 0.9}  # epoch 3 measures nothing; 6 never comes
    seen: dict[int, dict[str, np.ndarray]] = {}

    def figures(m, epoch):
        seen[epoch] = module_arrays(m)
        return {"val_auc": scripted[epoch]} if epoch in scripted else {}

    context = TrainingContext(tmp_path, seed=0)
    settings = LoopSettings("toy", 6, patience=2, monitor="val_auc", maximise=True)
    best = train_loop(model, optimizer, lambda m, b: m(b[0]).pow(2).mean(), lambda e: (1, iter([(x, x)])),
                      lambda m: {"val_loss": 1.0}, settings, context, figures)
    assert [h["epoch"] for h in context.reporter.history] == [1, 2, 3, 4, 5]
    assert context.reporter.facts["best_epoch"] == 2 and context.reporter.facts["best_val_auc"] == 0.5
    assert context.reporter.facts["stopped_early"] is True
    for key, value in seen[2].items():
        np.testing.assert_array_equal(best[key], value)



def test_resuming_a_checkpoint_that_selected_on_another_figure_is_refused(tmp_path):
    """Its best value (a loss) and weights do not compare with an AUC's; a resume on the same figure goes on."""
    model = torch.nn.Linear(2, 1)
    x = torch.randn(8, 2)

    def run(settings):
        return train_loop(model, torch.optim.SGD(model.parameters(), lr=0.1), lambda m, b: m(b[0]).pow(2).mean(),
                          lambda e: (1, iter([(x, x)])), lambda m: {"val_loss": 1.0}, settings,
                          TrainingContext(tmp_path, seed=0), lambda m, e: {"val_froc_auc": 0.5})

    run(LoopSettings("toy", 1))
    with pytest.raises(InvalidInputError, match="chose its best epoch on val_loss, this fit chooses on val_froc_auc"):
        run(LoopSettings("toy", 2, monitor="val_froc_auc", maximise=True))
    run(LoopSettings("toy", 2))

class _Shift:
    """A training transform: one target moved to a random spot per draw (module level: it pickles)."""

    def keeps(self, entry):
        return True

    def __call__(self, image, rng):
        from dataclasses import replace

        from calcdet_core.api import Annotation, Target

        x, y = (float(v) for v in rng.integers(8, 70, 2))
        return replace(image, annotation=Annotation((Target(x, y, 5.0),)))


def _centres(image, spec, rng, augment):
    return [(t.x, t.y) for t in image.annotation.targets]


def test_every_epoch_draws_the_stream_transform_afresh_also_in_loader_processes():
    from calcdet_torch.loading import EpochWindows, read_items

    train, _ = detector_streams()
    drawn = train.with_transform(_Shift(), seed=0)
    epochs = [list(read_items(EpochWindows(drawn, None, np.random.default_rng(e), False, _centres), workers))
              for e, workers in ((0, 1), (0, 2), (1, 1))]
    assert epochs[0] == epochs[1], "the same epoch reads the same draws in one process or in two"
    assert epochs[0] != epochs[2], "another epoch draws new targets"
    assert epochs[0] != [[(t.x, t.y) for t in drawn[k].annotation.targets] for k in range(len(drawn))]
