"""Hessian-of-difference-of-Gaussians MC candidate proposer for calcdet."""

from calcdet_hdog.proposer import HDoGProposer

__all__ = ["HDoGProposer"]
