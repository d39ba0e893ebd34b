"""Entry point module: registers the classifiers with calcdet."""

from __future__ import annotations

from calcdet_core import hookimpl
from calcdet_svm.cascade import SvmCascade, SvmHardNegative
from calcdet_svm.single import RandomForest, Svm


@hookimpl
def calcdet_register_classifiers() -> list[type]:
    return [SvmCascade, SvmHardNegative, Svm, RandomForest]
