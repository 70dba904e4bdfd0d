"""Shared by the side-by-side benchmark scripts (histfit_vs_python.sh,
histfit_binned_vs_probe.sh): reading rusage.py's timing files and comparing two mixtures.
"""
import json


def read_time(path):
    """(CPU s = user + system, wall s, max RSS MB; nan when not measured) from a file written
    by rusage.py."""
    u, s, e, m = open(path).read().split()
    return float(u) + float(s), float(e), float(m) / 1024


def mixture(path):
    """The component list of a mixture JSON (`{"sum", "mix"}` form or a bare list)."""
    m = json.load(open(path))
    return m['mix'] if isinstance(m, dict) else m


def max_rel_diff(a, b):
    """Largest relative difference over the weights and parameters of two mixtures."""
    worst = 0.0
    for ca, cb in zip(a, b):
        for x, y in zip([ca[0]] + list(ca[2]), [cb[0]] + list(cb[2])):
            if x != y:
                worst = max(worst, abs(x - y) / max(abs(x), 1e-300))
    return worst
