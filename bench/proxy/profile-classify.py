#!/usr/bin/env python3
"""Breakdown of a .NET sidecar's perf samples: `perf script -i perf.data | profile-classify.py`.

Each sample goes to one bucket, by its stack: a syscall anywhere in it (kernel send/recv/epoll, thread-pool
futex/yield), else kernel work without a syscall (interrupts, softirq, scheduling), else the leaf frame's owner
(JIT, runtime native code, managed code by assembly). Managed frames are named by the perf map
(DOTNET_PerfMapEnabled=1); the runtime's native code (libcoreclr) is stripped, so it is one bucket."""
import collections
import re
import sys


def samples(lines):
    head, frames = None, []
    for line in lines:
        if not line.strip():
            if head is not None:
                yield head, frames
            head, frames = None, []
        elif line[0] not in ' \t':
            m = re.match(r'^(.*?)\s+\d+\s+[\d.]+:', line)
            head = m.group(1) if m else line
        else:
            parts = line.strip().split(None, 1)
            if len(parts) == 2:
                frames.append(parts[1])
    if head is not None:
        yield head, frames


def bucket(thread, frames):
    text = ' | '.join(frames)
    leaf = frames[0] if frames else ''
    if 'libclrjit' in leaf or thread.startswith('.NET Tiered Com'):
        return 'JIT (tiering)'
    call = next((m.group(1) for f in frames for m in [re.search(r'__x64_sys_(\w+)', f)] if m), None)
    if call in ('sendto', 'sendmsg', 'write', 'writev'):
        return 'kernel: send (includes loopback delivery to the peer)'
    if call in ('recvfrom', 'recvmsg', 'read', 'readv'):
        return 'kernel: recv'
    if call == 'epoll_wait':
        return 'kernel: epoll_wait'
    if call in ('sched_yield', 'futex'):
        return 'thread pool: ' + call + ' (wake, spin, sleep)'
    if call:
        return 'kernel: other syscalls'
    if '[kernel.kallsyms]' in leaf:
        return 'kernel: interrupts, softirq, scheduling'
    if 'LowLevelLifoSemaphore' in text or 'LowLevelSpinWaiter' in text:
        return 'thread pool: spin (user)'
    if 'libcoreclr' in leaf or 'stub ' in leaf or '__tls_get_addr' in leaf:
        return 'runtime: native code, stubs, write barriers, GC'
    if '[Weft.Proxy]' in leaf or '[Weft.Core]' in leaf:
        return 'managed: Weft (parse, route, forward)'
    if 'Kestrel' in leaf or 'System.IO.Pipelines' in leaf or 'Microsoft.AspNetCore' in leaf:
        return 'managed: Kestrel transport + pipes'
    if 'System.Net.Sockets' in leaf or 'SystemNative_' in leaf or 'libSystem.Native' in leaf:
        return 'managed: System.Net.Sockets (+ native shim)'
    if 'libc.so' in leaf or '[vdso]' in leaf:
        return 'libc: syscall wrappers, memcpy, clock'
    if 'System.Private.CoreLib' in leaf:
        return 'managed: CoreLib (async machinery, spans, casts)'
    return 'other'


counts = collections.Counter(bucket(t, f) for t, f in samples(sys.stdin))
total = sum(counts.values()) or 1
for name, n in counts.most_common():
    print(f'{100 * n / total:5.1f}%  {name}')
print(f'{total} samples')
