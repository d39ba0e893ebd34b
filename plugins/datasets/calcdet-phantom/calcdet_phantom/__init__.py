"""Realistic synthetic mammograms with exact truth, written as an INbreast-layout release."""

from calcdet_phantom.release import generate_release
from calcdet_phantom.synth import Phantom, Roi, synthesize
from calcdet_phantom.truth import load_truth

__all__ = ["Phantom", "Roi", "generate_release", "load_truth", "synthesize"]
