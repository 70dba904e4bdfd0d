#!/usr/bin/env python3
"""Runs a command and writes its resource use to OUT as `user system wall maxrss_kb`, the
fields of `/usr/bin/time -f "%U %S %e %M"`, but with microsecond user/system times (from
wait4's per-child rusage) and wall time from a monotonic clock: /usr/bin/time rounds to 10 ms,
which is a fifth of a 50 ms fit. The command's stdin/stdout/stderr are passed through.

usage: rusage.py [--direct] OUT CMD [ARG...]

By default the command runs under /usr/bin/time, for its max RSS only: a child spawned from
this interpreter would start in its address space, and ru_maxrss (kept across exec) would count
the interpreter's pages. CPU then comes from wait4, whose rusage includes the reaped
grandchild and also /usr/bin/time's own exec and fork: ~1.5 ms of CPU on the benchmark host,
3 % of a 50 ms process (negligible for a 5 s one).

--direct spawns the command itself, so the CPU and wall times are the command's alone; the
max RSS is then not measured and written as `nan` (measure it in a separate run without
--direct).
"""
import os
import sys
import time

args = sys.argv[1:]
direct = bool(args) and args[0] == '--direct'
if direct:
    args = args[1:]
out, cmd = args[0], args[1:]
rss = out + '.rss'
argv = cmd if direct else ['/usr/bin/time', '-f', '%M', '-o', rss, *cmd]
t0 = time.perf_counter()
pid = os.posix_spawnp(argv[0], argv, os.environ)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t0
maxrss = 'nan' if direct else open(rss).read().split()[-1]
with open(out, 'w') as f:
    f.write(f'{ru.ru_utime:.6f} {ru.ru_stime:.6f} {wall:.6f} {maxrss}\n')
sys.exit(os.waitstatus_to_exitcode(status))
