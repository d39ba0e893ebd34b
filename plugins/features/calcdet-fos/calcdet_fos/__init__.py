"""calcdet-fos: first-order statistics features, and the vectorised row statistics other texture plugins share."""

from calcdet_fos.extractor import FEATURES, FirstOrderStatistics, first_order_features

__all__ = ["FEATURES", "FirstOrderStatistics", "first_order_features"]
