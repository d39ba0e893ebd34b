"""Hessian-of-difference-of-Gaussians MC candidate proposer for calcdet."""

from calcdet_hdog.hessian import hessian_eigenvalues
from calcdet_hdog.proposer import HDoGProposer

__all__ = ["HDoGProposer", "hessian_eigenvalues"]
