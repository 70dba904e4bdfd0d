#!/usr/bin/env python3
"""Runs flow-models' own fitting function (flow_models.fit.fit, PyPI flow-models 2.2) and writes
the mixture JSON the way its `fit` CLI would (its 2.2 save() crashes: to_json's `sum` parameter
was renamed `suma`, so we call lib.mix.to_json positionally). Prints timings to stderr.

usage: histfit_fm_fit.py HIST.csv Y ITER U L OUT.json
"""
import sys
import time

t0 = time.process_time()
w0 = time.time()
from flow_models.fit import fit  # noqa: E402
from flow_models.lib.mix import to_json  # noqa: E402

t1 = time.process_time()
hist, y, it, u, l, out = sys.argv[1:7]
initial = {k: int(v) for k, v in (('U', u), ('L', l)) if int(v)}
r = fit(hist, y, int(it), initial)
t2 = time.process_time()
with open(out, 'w') as f:
    f.write(to_json(r['mix'], r['sum']) + '\n')
print(f'flow-models: imports {t1 - t0:.2f} s CPU, fit {t2 - t1:.2f} s CPU, total {time.time() - w0:.2f} s wall', file=sys.stderr)
