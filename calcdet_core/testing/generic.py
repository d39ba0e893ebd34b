"""Checks every component gets, whatever its kind: metadata and a configuration YAML can carry."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import yaml
from pydantic import ValidationError

from calcdet_core.contracts.components import Component
from calcdet_core.contracts.data import Candidates
from calcdet_core.testing._runtime import kit_check


@kit_check
def check_has_metadata(component: Component) -> None:
    cls = type(component)
    assert isinstance(cls.name, str) and cls.name.strip() == cls.name and cls.name, (
        f"{cls.__qualname__}.name should be a non-empty name without spaces around; found {cls.name!r}")
    assert cls.description.strip(), f"{cls.__qualname__}.description should say in one line what it does"
    assert "\n" not in cls.description.strip(), f"{cls.__qualname__}.description should be one line"


@kit_check
def check_config_defaults_construct(component: Component) -> None:
    cls = type(component)
    try:
        cls()
    except Exception as exc:
        raise AssertionError(f"{cls.__qualname__}() with default parameters should construct; raised {exc!r}") from exc


@kit_check
def check_config_fields_documented(component: Component) -> None:
    missing = [n for n, f in component.Config.model_fields.items() if not (f.description or "").strip()]
    assert not missing, (
        f"every Config field should have a description (shown by `calcdet describe`); missing: {missing}")


@kit_check
def check_config_yaml_round_trip(component: Component) -> None:
    dumped = yaml.safe_dump(component.config.model_dump(mode="json"))
    again = component.Config.model_validate(yaml.safe_load(dumped))
    assert again == component.config, (
        f"Config should survive a YAML round trip; {component.config!r} came back as {again!r}")


@kit_check
def check_config_rejects_unknown_key(component: Component) -> None:
    try:
        component.Config.model_validate({"no_such_parameter_xyz": 1})
    except ValidationError:
        return
    raise AssertionError("Config should reject unknown keys (extra='forbid'), so YAML typos are reported")



def expect_empty_or_clear_error(find: Callable[[np.ndarray], Candidates], image: np.ndarray, what: str) -> None:
    """``find(image)`` (a proposer's or a detector's) is empty on a blob-free image, or refuses it with a message."""
    try:
        out = find(image)
    except ValueError as exc:
        assert str(exc), f"a {what} image may be refused, but with a message"
        return
    assert len(out) == 0, f"a {what} image holds no blob; found {len(out)} {type(out).__name__.lower()}"

