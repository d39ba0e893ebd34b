"""Candidate classifiers for calcdet: cascaded SVM (the study's choice), hard-negative SVM, SVM, random forest."""

from calcdet_svm.cascade import SvmCascade, SvmHardNegative
from calcdet_svm.single import RandomForest, Svm

__all__ = ["RandomForest", "Svm", "SvmCascade", "SvmHardNegative"]
