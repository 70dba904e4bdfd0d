"""flow-models 2.2's plot CLI on today's numpy and matplotlib (docs/histfit.md, "Plot modes").

Two shims, nothing else changed: np.histogram2d lost `normed` in numpy 1.24 (flow-models' --fft
KDE passes it; `density` is its meaning), and ContourSet.collections went in matplotlib 3.10
(-P kde sets the lowest contour band transparent through it). Without them flow-models 2.2
stops with a TypeError (--fft) or an AttributeError (-P kde).

Usage: python fm_plot_shim.py [flow-models plot arguments]; or import it and call patch().
"""
import sys

import numpy as np


def patch():
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib.contour import QuadContourSet

    h2 = np.histogram2d

    def histogram2d(*a, normed=None, **k):
        if normed is not None:
            k['density'] = normed
        return h2(*a, **k)

    np.histogram2d = histogram2d

    class Lowest:
        def __init__(self, cs):
            self.cs = cs

        def set_alpha(self, a):
            # the contour set's own alpha (0.5) overrides per-band face alpha, so the lowest
            # band is hidden by emptying its path, which is what alpha 0 showed
            paths = self.cs.get_paths()
            if a == 0 and paths:
                from matplotlib.path import Path
                paths[0] = Path(np.empty((0, 2)))

    QuadContourSet.collections = property(lambda self: [Lowest(self)])


if __name__ == '__main__':
    patch()
    from flow_models import plot
    sys.argv[0] = 'flow_models.plot'
    plot.main()
