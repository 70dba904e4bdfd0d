#!/usr/bin/env python3
"""Runs a command and writes its resource use to OUT as `user system wall maxrss_kb`, the
fields of `/usr/bin/time -f "%U %S %e %M"`, but with microsecond user/system times (from
wait4's per-child rusage) and wall time from a monotonic clock: /usr/bin/time rounds to 10 ms,
which is a fifth of a 50 ms fit. The command's stdin/stdout/stderr are passed through.

usage: rusage.py OUT CMD [ARG...]
"""
import os
import sys
import time

out, cmd = sys.argv[1], sys.argv[2:]
# The command runs under /usr/bin/time for its max RSS only: a child spawned from this
# interpreter would start in its address space, and ru_maxrss (kept across exec) would count
# its pages. CPU comes from wait4, whose rusage includes the reaped grandchild (time itself
# uses next to none).
rss = out + '.rss'
t0 = time.perf_counter()
pid = os.posix_spawnp('/usr/bin/time', ['/usr/bin/time', '-f', '%M', '-o', rss, *cmd], os.environ)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t0
maxrss = open(rss).read().split()[-1]
with open(out, 'w') as f:
    f.write(f'{ru.ru_utime:.6f} {ru.ru_stime:.6f} {wall:.6f} {maxrss}\n')
sys.exit(os.waitstatus_to_exitcode(status))
