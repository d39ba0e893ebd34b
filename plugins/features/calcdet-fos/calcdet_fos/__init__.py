"""calcdet-fos: first-order statistics features of the patch around each candidate."""

from calcdet_fos.extractor import FEATURES, FirstOrderStatistics, first_order_features

__all__ = ["FEATURES", "FirstOrderStatistics", "first_order_features"]
