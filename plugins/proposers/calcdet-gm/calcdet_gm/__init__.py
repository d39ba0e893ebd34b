"""Grayscale-morphology MC candidate proposer for calcdet (white top-hat by reconstruction)."""

from calcdet_gm.proposer import GMProposer
from calcdet_gm.reconstruction import reconstruct_by_dilation

__all__ = ["GMProposer", "reconstruct_by_dilation"]
