#!/usr/bin/env python3
"""Per request, from `dotnet-counters collect --counters System.Runtime --format csv --refresh-interval 1` over a
load: `profile-counters.py COUNTERS.csv REQUESTS`. The Rate rows are per second at a 1 s refresh, so their sum is the
window's total: allocated bytes, GC collections by generation, GC pause, thread-pool work items, lock contentions, CPU."""
import collections
import csv
import sys

path, requests = sys.argv[1], int(sys.argv[2])
totals = collections.Counter()
with open(path, newline='') as f:
    for row in csv.DictReader(f):
        if row.get('Counter Type') == 'Rate':
            totals[row['Counter Name'].split(' (')[0] + row['Counter Name'].partition(')')[2]] += float(row['Mean/Increment'])


def get(name):
    return totals.get(name, 0.0)


gcs = ', '.join(f'{g} {1000 * get(f"dotnet.gc.collections[gc.heap.generation={g}]") / requests:.2f}' for g in ('gen0', 'gen1', 'gen2'))
cpu = get('dotnet.process.cpu.time[cpu.mode=user]') + get('dotnet.process.cpu.time[cpu.mode=system]')
print(f'allocated {get("dotnet.gc.heap.total_allocated") / requests:.0f} B, GC pause {1e6 * get("dotnet.gc.pause.time") / requests:.2f} µs'
      f' ({100 * get("dotnet.gc.pause.time") / cpu if cpu else 0:.1f}% of the CPU time), collections per 1000 requests: {gcs},'
      f' thread-pool work items {get("dotnet.thread_pool.work_item.count") / requests:.2f},'
      f' lock contentions {get("dotnet.monitor.lock_contentions") / requests:.3f}, CPU {1e6 * cpu / requests:.1f} µs (whole window)')
