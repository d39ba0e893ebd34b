"""Reads the INbreast full-field digital mammography database exactly as distributed."""

from calcdet_inbreast.adapter import InbreastDataset, load_mammogram
from calcdet_inbreast.rois import RoiKind, classify, read_rois
from calcdet_inbreast.table import read_table

__all__ = ["InbreastDataset", "RoiKind", "classify", "load_mammogram", "read_rois", "read_table"]
