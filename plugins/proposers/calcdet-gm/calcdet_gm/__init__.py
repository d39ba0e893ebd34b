"""Grayscale-morphology MC candidate proposer for calcdet (white top-hat by reconstruction)."""

from calcdet_gm.proposer import GMProposer

__all__ = ["GMProposer"]
