"""Torch code the calcdet detector plugins share, once.

A library, not a plugin. Its numpy-only modules (:mod:`~calcdet_torch.patches`,
:mod:`~calcdet_torch.metrics`, :mod:`~calcdet_torch.points`, :mod:`~calcdet_torch.pickling`,
:mod:`~calcdet_torch.detector`, :mod:`~calcdet_torch.selection`)
are cheap to import anywhere; the modules that import torch (:mod:`~calcdet_torch.state`,
:mod:`~calcdet_torch.runtime`, :mod:`~calcdet_torch.loop`, :mod:`~calcdet_torch.loading`) belong in a plugin's own torch
module, imported only when it fits or detects.
"""
