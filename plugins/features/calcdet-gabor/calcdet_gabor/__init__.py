"""calcdet-gabor: Gabor filter bank texture features of the patch around each candidate."""

from calcdet_gabor.extractor import STATISTICS, GaborFeatures, candidate_region
from calcdet_gabor.kernels import GaborKernel, gabor_bank

__all__ = ["STATISTICS", "GaborFeatures", "GaborKernel", "candidate_region", "gabor_bank"]
