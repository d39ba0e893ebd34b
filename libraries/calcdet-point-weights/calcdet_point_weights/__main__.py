"""``python -m calcdet_point_weights [--weights]``: the shipped model directory's path (or its weights file's)."""

import sys

from calcdet_point_weights import model_dir, weights_file

print(weights_file() if "--weights" in sys.argv[1:] else model_dir())
