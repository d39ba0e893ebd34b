"""Conformance kit: checks that a component honours its kind's contract.

Use it from a plugin's own tests, in the spirit of scikit-learn's
``parametrize_with_checks``::

    from calcdet_core.testing import parametrize_with_checks
    from my_plugin import MyDetector, MyProposer

    @parametrize_with_checks([MyProposer(), MyDetector(epochs=2)])
    def test_conformance(component, check):
        check(component)

Each check is a small function named ``check_<property>``; ``pytest -k`` runs one.
A known, justified failure is waived by the author, not by weakening the check::

    @parametrize_with_checks([MyProposer()], expected_failed_checks={"check_proposer_tiny_image": "why"})

A waived check still runs and must fail (``xfail(strict=True)``): once it passes, the run fails until the
waiver goes. A waiver naming no check of the components is refused with the closest names.

Learning components are fitted before they are used, with a :class:`TrainingContext` on a temporary
folder. A detector is fitted once per configuration on tiny generated images (:func:`detector_streams`)
and the checks that only read it share that fit; the two that test fitting itself (determinism,
resuming) fit again (see :mod:`calcdet_core.testing.detectors`). Give the kit an instance whose config
trains in seconds. A check runs with torch, OpenMP and BLAS on one thread. Messages state the rule and
the evidence. Dataset adapters need a dataset on disk: call :func:`check_dataset_adapter` with a root
your test prepared. Checks that take seconds per configuration are not in the default list; call them
from your tests, e.g. :func:`check_proposer_survives_bright_object`.

One module per job: :mod:`~calcdet_core.testing.images` (synthetic images),
:mod:`~calcdet_core.testing.reporter` (:class:`RecordingReporter`), the checks per kind
(:mod:`~calcdet_core.testing.generic`, ``proposers``, ``features``, ``classifiers``, ``detectors``,
``evaluators``, ``datasets``) and :mod:`~calcdet_core.testing.selection` (which checks apply, waivers,
``parametrize_with_checks``). Every name is importable from ``calcdet_core.testing``.
"""

from calcdet_core.testing.classifiers import (
    check_classifier_deterministic,
    check_classifier_empty_features,
    check_classifier_save_load,
    check_classifier_scores_rank,
)
from calcdet_core.testing.datasets import (
    check_dataset_adapter,
)
from calcdet_core.testing.detectors import (
    FOUND_WITHIN_PX,
    check_detector_batch_matches_detect,
    check_detector_constant_images,
    check_detector_deterministic,
    check_detector_finds_trained_disks,
    check_detector_output_after_fit,
    check_detector_pickles,
    check_detector_respects_mask,
    check_detector_resumes_after_interruption,
    check_detector_save_load,
    check_detector_tiny_image,
)
from calcdet_core.testing.evaluators import (
    check_evaluator_does_not_mutate,
    check_evaluator_json_metrics,
    check_evaluator_no_detections,
)
from calcdet_core.testing.features import (
    check_features_deterministic,
    check_features_flat_image_finite,
    check_features_names_unique,
    check_features_no_candidates,
    check_features_order_independent,
    check_features_save_load,
    check_features_shape_and_finite,
)
from calcdet_core.testing.generic import (
    check_config_defaults_construct,
    check_config_fields_documented,
    check_config_rejects_unknown_key,
    check_config_yaml_round_trip,
    check_has_metadata,
)
from calcdet_core.testing.images import (
    DETECTOR_IMAGE_SIZE,
    add_disks,
    breast_like_mask,
    bright_object_scene,
    detector_streams,
    detector_test_image,
    disk_test_image,
    textured_background,
    write_detector_dataset,
)
from calcdet_core.testing.learning import Learning, detector_learning, held_out_froc_auc, learning_scene
from calcdet_core.testing.proposers import (
    check_proposer_constant_image,
    check_proposer_deterministic,
    check_proposer_finds_bright_disk,
    check_proposer_output_in_bounds,
    check_proposer_rejects_bad_arrays,
    check_proposer_respects_mask,
    check_proposer_survives_bright_object,
    check_proposer_tiny_image,
    check_proposer_zero_image,
)
from calcdet_core.testing.reporter import (
    RecordingReporter,
)
from calcdet_core.testing.selection import (
    Check,
    check_component,
    checks_for,
    parametrize_with_checks,
)

__all__ = [
    "DETECTOR_IMAGE_SIZE",
    "FOUND_WITHIN_PX",
    "Check",
    "Learning",
    "RecordingReporter",
    "add_disks",
    "breast_like_mask",
    "bright_object_scene",
    "check_classifier_deterministic",
    "check_classifier_empty_features",
    "check_classifier_save_load",
    "check_classifier_scores_rank",
    "check_component",
    "check_config_defaults_construct",
    "check_config_fields_documented",
    "check_config_rejects_unknown_key",
    "check_config_yaml_round_trip",
    "check_dataset_adapter",
    "check_detector_batch_matches_detect",
    "check_detector_constant_images",
    "check_detector_deterministic",
    "check_detector_finds_trained_disks",
    "check_detector_output_after_fit",
    "check_detector_pickles",
    "check_detector_respects_mask",
    "check_detector_resumes_after_interruption",
    "check_detector_save_load",
    "check_detector_tiny_image",
    "check_evaluator_does_not_mutate",
    "check_evaluator_json_metrics",
    "check_evaluator_no_detections",
    "check_features_deterministic",
    "check_features_flat_image_finite",
    "check_features_names_unique",
    "check_features_no_candidates",
    "check_features_order_independent",
    "check_features_save_load",
    "check_features_shape_and_finite",
    "check_has_metadata",
    "check_proposer_constant_image",
    "check_proposer_deterministic",
    "check_proposer_finds_bright_disk",
    "check_proposer_output_in_bounds",
    "check_proposer_rejects_bad_arrays",
    "check_proposer_respects_mask",
    "check_proposer_survives_bright_object",
    "check_proposer_tiny_image",
    "check_proposer_zero_image",
    "checks_for",
    "detector_learning",
    "detector_streams",
    "detector_test_image",
    "disk_test_image",
    "held_out_froc_auc",
    "learning_scene",
    "parametrize_with_checks",
    "textured_background",
    "write_detector_dataset",
]
