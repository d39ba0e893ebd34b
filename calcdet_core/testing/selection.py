"""Which checks apply to a component, and running them: as pytest parameters or all at once.

A waived check (``expected_failed_checks={name: reason}``) still runs, strictly: it must fail, and a
waived check that passes fails the run (pytest's ``xfail(strict=True)``, as scikit-learn's
``xfail_strict``), so a fixed failure is noticed and its waiver removed. A waiver naming no check of the
components is refused with the names closest to it, so a renamed check cannot leave a stale waiver.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from calcdet_core.contracts.components import Classifier, Component, Detector, Evaluator, FeatureExtractor, Proposer
from calcdet_core.errors import InvalidInputError
from calcdet_core.testing.classifiers import (
    check_classifier_deterministic,
    check_classifier_empty_features,
    check_classifier_save_load,
    check_classifier_scores_rank,
)
from calcdet_core.testing.detectors import (
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
from calcdet_core.testing.proposers import (
    check_proposer_constant_image,
    check_proposer_deterministic,
    check_proposer_finds_bright_disk,
    check_proposer_output_in_bounds,
    check_proposer_rejects_bad_arrays,
    check_proposer_respects_mask,
    check_proposer_tiny_image,
    check_proposer_zero_image,
)

Check = Callable[[Component], None]


_GENERIC: list[Check] = [check_has_metadata, check_config_defaults_construct, check_config_fields_documented,
                         check_config_yaml_round_trip, check_config_rejects_unknown_key]
_BY_KIND: dict[type[Component], list[Callable[[Any], None]]] = {
    Proposer: [check_proposer_output_in_bounds, check_proposer_finds_bright_disk, check_proposer_deterministic,
               check_proposer_respects_mask, check_proposer_constant_image, check_proposer_zero_image,
               check_proposer_tiny_image, check_proposer_rejects_bad_arrays],
    FeatureExtractor: [check_features_names_unique, check_features_shape_and_finite,
                       check_features_flat_image_finite, check_features_no_candidates, check_features_deterministic,
                       check_features_order_independent, check_features_save_load],
    Classifier: [check_classifier_scores_rank, check_classifier_deterministic, check_classifier_save_load,
                 check_classifier_empty_features],
    Detector: [check_detector_output_after_fit, check_detector_finds_trained_disks, check_detector_save_load,
               check_detector_pickles, check_detector_deterministic, check_detector_resumes_after_interruption,
               check_detector_respects_mask, check_detector_batch_matches_detect, check_detector_constant_images,
               check_detector_tiny_image],
    Evaluator: [check_evaluator_json_metrics, check_evaluator_no_detections, check_evaluator_does_not_mutate],
}


def checks_for(component: Component) -> Iterator[Check]:
    """Every check that applies to ``component``'s kind."""
    yield from _GENERIC
    for base, checks in _BY_KIND.items():
        if isinstance(component, base):
            yield from checks


def _waivers(components: Sequence[Component], expected_failed_checks: dict[str, str] | None) -> dict[str, str]:
    """``expected_failed_checks``, refused when it names a check that applies to none of ``components``."""
    waived = dict(expected_failed_checks or {})
    known = sorted({check.__name__ for component in components for check in checks_for(component)})
    for name in waived:
        if name not in known:
            closest = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
            hint = f"closest: {', '.join(closest)}" if closest else f"known: {', '.join(known)}"
            owners = ", ".join(sorted({component.name for component in components}))
            raise InvalidInputError(f"expected_failed_checks names {name!r}, which is no check of {owners}; {hint}")
    return waived


def parametrize_with_checks(components: Sequence[Component],
                            expected_failed_checks: dict[str, str] | None = None) -> Any:
    """A ``pytest.mark.parametrize`` over (component, check) pairs, ids ``name-check_x``; waived ones xfail strictly."""
    import pytest

    waived = _waivers(components, expected_failed_checks)
    params = []
    for component in components:
        for check in checks_for(component):
            reason = waived.get(check.__name__)
            marks = [pytest.mark.xfail(strict=True, reason=f"waived for {component.name}: {reason}")] if reason else []
            params.append(pytest.param(component, check, id=f"{component.name}-{check.__name__}", marks=marks))
    return pytest.mark.parametrize(("component", "check"), params)


def check_component(component: Component, expected_failed_checks: dict[str, str] | None = None) -> dict[str, str]:
    """Run every applicable check now; raise on the first failure not waived, or on a waived check that passes.

    Returns the checks that skipped themselves, with their reasons.
    """
    import pytest

    waived = _waivers([component], expected_failed_checks)
    skipped = {}
    for check in checks_for(component):
        name = check.__name__
        try:
            check(component)
        except pytest.skip.Exception as skip:
            skipped[name] = skip.msg
            continue
        except Exception:
            if name in waived:
                continue
            raise
        if name in waived:
            raise AssertionError(f"{name} is waived for {component.name} ({waived[name]}) but passes: "
                                 "remove the waiver")
    return skipped
