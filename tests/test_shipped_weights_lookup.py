"""``shipped:NAME`` settings: weights an installed distribution ships, found through ``calcdet.weights``."""

from __future__ import annotations

import pytest

from calcdet_core.api import InvalidInputError, shipped_weights


def test_unknown_shipped_weights_are_refused_naming_the_group_and_what_is_installed():
    with pytest.raises(InvalidInputError, match=r"shipped:no-such-net: .*'no-such-net' \(entry-point group "
                                                r"calcdet.weights; installed: "):
        shipped_weights("no-such-net")
