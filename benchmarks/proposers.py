"""Proposer benchmark: speed, peak memory and candidate quality, each proposer next to its textbook reference.

Interface for reference implementations (one module per proposer, named like the plugin):
``benchmarks/references/<plugin name>.py`` (e.g. ``gm.py`` for the plugin ``gm``) defines::

    def propose(image: np.ndarray, mask: np.ndarray | None) -> calcdet_core.Candidates:
        '''Same algorithm and parameters as the plugin's defaults, written the direct (slow) way.'''

``image`` is the preprocessed working-grid image (2-D float32 in [0, 1], breast cropped and flipped to the
left) and ``mask`` its breast mask (bool, same shape) or ``None``; candidates are in that grid (x = column,
y = row). The benchmark runs plugin and reference on the same phantom images in one process and reports
the speed ratio reference/plugin, so the figure is honest on any machine.
"""
