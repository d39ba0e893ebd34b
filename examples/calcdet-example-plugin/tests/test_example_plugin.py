from calcdet_example.local_contrast import LocalContrastProposer

from calcdet_core.testing import parametrize_with_checks


@parametrize_with_checks([LocalContrastProposer(), LocalContrastProposer(k=6.0, surround_radius=10)])
def test_conformance(component, check):
    check(component)
