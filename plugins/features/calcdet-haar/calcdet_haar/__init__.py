"""Haar-like features for calcdet: the full upright/concentric/45-degree bank, supervised selection, fast extraction."""

from calcdet_haar.bank import HaarBank, bank_size, build_bank
from calcdet_haar.extractor import HaarExtractor

__all__ = ["HaarBank", "HaarExtractor", "bank_size", "build_bank"]
