#!/usr/bin/env python3
"""Breakdown of a .NET sidecar's perf samples: `perf script -i perf.data | profile-classify.py [--inclusive] [--top N]`.

Each sample goes to one bucket, by its stack: a syscall anywhere in it (kernel send/recv/epoll, thread-pool
futex/yield), else kernel work without a syscall (interrupts, softirq, scheduling), else the leaf frame's owner
(JIT, TLS in OpenSSL, runtime native code, managed code by assembly or namespace). Managed frames are named by the
perf map (DOTNET_PerfMapEnabled=1); the runtime's native code (libcoreclr) is stripped, so it is one bucket (the GC
included, but for the background GC thread's samples).
--inclusive also prints, for the parts of the two-hop path, the share of samples with a frame of that part anywhere
in the stack (what it and everything it calls synchronously cost, its syscalls included). The parts overlap: layers
nest, so an outer one includes the inner ones, and a continuation resumed when an awaited call completes runs
beneath that call's frame, so an inner part also includes the outer code it resumes. Then Weft's self time by
namespace, the samples by thread name, and each sample given to the Weft type nearest its leaf. Samples whose user
stack is only libc's syscall wrapper (glibc keeps no frame pointer, so the unwinder stops there) have no Weft frame:
most of the kernel send/recv. --top N prints the N functions with the most samples of their own (self time)."""
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


def owner(frame):
    """'Assembly Namespace.Type' of a managed frame: the last '[Assembly] ' before the '::' of the method's name
    (the return type before it may name other assemblies), or '' for native frames."""
    cut = frame.find('::')
    if cut < 0:
        return ''
    marks = list(re.finditer(r'\[([\w.]+)\] ', frame[:cut]))
    return f'{marks[-1].group(1)} {frame[marks[-1].end():cut]}' if marks else ''


# (bucket, namespace prefix of the leaf's declaring type), first match wins.
MANAGED = [
    ('managed: SslStream (System.Net.Security)', 'System.Net.Security.'),
    ('managed: Weft HTTP/2 frames, streams, HPACK (Weft.Proxy.Http2)', 'Weft.Proxy.Http2.'),
    ('managed: Weft layered pipeline (Weft.Proxy.Forwarding: ProxyCall, layers)', 'Weft.Proxy.Forwarding.'),
    ('managed: Weft (parse, route, forward)', 'Weft.'),
    ('managed: Kestrel transport + pipes', 'Microsoft.AspNetCore.Server.Kestrel'),
    ('managed: ASP.NET Core Http (HttpContext, headers, features, hosting)', 'Microsoft.AspNetCore.'),
    ('managed: Kestrel transport + pipes', 'System.IO.Pipelines.'),
    ('managed: System.Net.Http (SocketsHttpHandler)', 'System.Net.Http.'),
    ('managed: YARP', 'Yarp.'),
    ('managed: System.Net.Sockets (+ native shim)', 'System.Net.Sockets.'),
]


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
    if 'libssl' in leaf or 'libcrypto' in leaf:
        return 'TLS: OpenSSL (libssl, libcrypto)'
    if thread.startswith('.NET BGC') or thread.startswith('.NET Server GC'):
        return 'runtime: GC threads (background GC)'
    if 'libcoreclr' in leaf or 'stub ' in leaf or '__tls_get_addr' in leaf:
        return 'runtime: native code, stubs, write barriers, GC'
    declaring = owner(leaf).split(' ', 1)
    if len(declaring) == 2:
        for name, prefix in MANAGED:
            if declaring[1].startswith(prefix):
                return name
        if declaring[0] == 'System.Net.Security':
            return 'managed: SslStream (System.Net.Security)'
    if 'SystemNative_' in leaf or 'libSystem.Native' in leaf:
        return 'managed: System.Net.Sockets (+ native shim)'
    if 'libSystem.Security.Cryptography.Native' in leaf:
        return 'TLS: OpenSSL (libssl, libcrypto)'
    if 'libc.so' in leaf or '[vdso]' in leaf:
        return 'libc: syscall wrappers, memcpy, clock'
    if 'System.Private.CoreLib' in leaf:
        return 'managed: CoreLib (async machinery, spans, casts)'
    return 'other'


# --inclusive: (part, pattern searched in every frame of the stack).
PARTS = [
    ('TLS: SslStream + OpenSSL (with the syscalls they make)', r'System\.Net\.Security\.|libssl|libcrypto|Cryptography\.Native'),
    ('TLS: OpenSSL only (libssl, libcrypto, the .NET shim)', r'libssl|libcrypto|Cryptography\.Native'),
    ('Weft.Proxy.Http2 (h2 connections, streams, frames, HPACK)', r'\] Weft\.Proxy\.Http2\.'),
    ('  of which HPACK (encoder, decoder, Huffman, tables)', r'\] Weft\.Proxy\.Http2\.(HPack|Huffman|DynamicTable|StaticTable)'),
    ('Weft.Proxy.Forwarding (ProxyCall, RequestPipeline, layers)', r'\] Weft\.Proxy\.Forwarding\.'),
    ('Weft.Proxy.Metrics (counters, histograms, route stats)', r'\] Weft\.Proxy\.Metrics\.|\] Weft\.Core\.Metrics\.'),
    ('raw HTTP/1.1 client to the app (RawHttp1Client, AppExchange)', r'\] Weft\.Proxy\.FastPath\.(RawHttp1Client|AppExchange)'),
    ('Weft fast path (FastConnection, Http1FastPath, UpstreamPools)', r'\] Weft\.Proxy\.FastPath\.(FastConnection|Http1FastPath|UpstreamPools)'),
    ('Weft epoll engine (Weft.Proxy.Net)', r'\] Weft\.Proxy\.Net\.'),
    ('Weft listeners (OwnH2Server, ListenerConnections, InboundTls)', r'\] Weft\.Proxy\.Listeners\.'),
    ('Weft hosting (ProxyApplication)', r'\] Weft\.Proxy\.Hosting\.'),
    ('Kestrel (connections, HTTP/1.1 and HTTP/2 servers, TLS middleware)', r'Microsoft\.AspNetCore\.Server\.Kestrel'),
    ('ASP.NET Core Http (DefaultHttpContext, HeaderDictionary, features)', r'\] Microsoft\.AspNetCore\.Http\.'),
    ('System.IO.Pipelines', r'\] System\.IO\.Pipelines\.'),
    ('System.Net.Sockets', r'\] System\.Net\.Sockets\.|SystemNative_'),
    ('thread pool: work items run (ThreadPoolWorkQueue.Dispatch)', r'ThreadPoolWorkQueue::Dispatch'),
    ('thread pool: waiting (LowLevelLifoSemaphore, spinning)', r'LowLevelLifoSemaphore|LowLevelSpinWaiter'),
    ('async: ExecutionContext.RunInternal (continuations)', r'ExecutionContext::RunInternal|ExecutionContext::RunFromThreadPoolDispatchLoop'),
    ('kernel: any syscall', r'entry_SYSCALL_64'),
]


def symbol(frame):
    """The frame's function without its offset; unnamed code by the file it is in (the runtime's is stripped)."""
    m = re.match(r'^(.*?)(\+0x[0-9a-f]+)? \((.*)\)$', frame)
    if not m:
        return frame
    return f'[unknown] in {m.group(3).rsplit("/", 1)[-1]}' if m.group(1) == '[unknown]' else m.group(1)


def main():
    args = sys.argv[1:]
    inclusive = '--inclusive' in args
    top = int(args[args.index('--top') + 1]) if '--top' in args else 0
    counts, parts, weft, leaves, threads, nearest = (collections.Counter() for _ in range(6))
    compiled = [(name, re.compile(pattern)) for name, pattern in PARTS]
    for thread, frames in samples(sys.stdin):
        counts[bucket(thread, frames)] += 1
        if top:
            leaves[symbol(frames[0]) if frames else '[no stack]'] += 1
        if inclusive:
            threads[thread] += 1
            types = [o.split(' ', 1)[1] for o in map(owner, frames) if o.startswith('Weft.')]
            nearest[re.sub(r'\+<(\w+)>d__\d+$', r'.\1', types[0].split('`')[0]) if types else '(no Weft frame)'] += 1
            for name, pattern in compiled:
                if any(pattern.search(f) for f in frames):
                    parts[name] += 1
            declaring = owner(frames[0]).split(' ', 1) if frames else []
            if len(declaring) == 2 and declaring[1].startswith('Weft.'):
                weft['.'.join(declaring[1].split('.')[:3])] += 1
    total = sum(counts.values()) or 1
    for name, n in counts.most_common():
        print(f'{100 * n / total:5.1f}%  {name}')
    print(f'{total} samples')
    if inclusive:
        print('inclusive (share of samples with a frame of it anywhere in the stack; the parts overlap):')
        for name, _ in PARTS:
            print(f'{100 * parts[name] / total:5.1f}%  {name}')
        print('self time of Weft\'s managed code by namespace: ' +
              ', '.join(f'{ns} {100 * n / total:.1f}%' for ns, n in weft.most_common()))
    if inclusive:
        print('samples by thread name: ' + ', '.join(f'{t} {100 * n / total:.1f}%' for t, n in threads.most_common(6)))
        print('by the Weft type nearest the leaf (its own code plus the runtime, library and kernel code it calls directly):')
        for name, n in nearest.most_common(15):
            print(f'{100 * n / total:5.1f}%  {name}')
    if top:
        print(f'top {top} symbols, self (the leaf frame of the sample):')
        for name, n in leaves.most_common(top):
            print(f'{100 * n / total:5.2f}%  {name}')


if __name__ == '__main__':
    main()
