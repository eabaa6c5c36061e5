#!/usr/bin/env python3
"""Groups a `perf report --no-children --sort dso,symbol -g none --stdio` listing
(demangled, on stdin) into categories of where the time goes; prints a markdown table."""
import re
import sys

CATEGORIES = [  # first match wins; matched against "dso symbol"
    ("kernel: network stack / syscalls", r"\[kernel|\[k\]"),
    ("Swift refcounting (retain/release)", r"swift_retain|swift_release|swift_bridgeObjectRe|swift_unknownObjectRe|swift_tryRetain|swift_isUniquely|RefCounts|doDecrementSlow"),
    ("Swift runtime: generic metadata, casts, exclusivity", r"Metadata|metadata|swift_getAssociated|swift_getWitness|WitnessTable|tryCast|swift_dynamicCast|swift_beginAccess|swift_endAccess|AccessSet|ValueWitnesses|getCache|__swift_instantiate|swift_conformsTo|swift_getTypeByMangled|SwiftTLSContext"),
    ("malloc / free", r"\bmalloc\b|\bfree\b|_int_malloc|_int_free|cfree|swift_allocObject|swift_deallocObject|swift_slowAlloc|swift_slowDealloc|malloc_consolidate|realloc"),
    ("libc memcpy/memset/memcmp", r"__mem|memcpy|memmove|memset|memcmp|strlen"),
    ("HTTP parsing (llhttp / NIOHTTP1)", r"llhttp|BetterHTTPParser|HTTPDecoder|HTTPRequestDecoder|HTTPResponseDecoder|NIOHTTP1|HTTPHeaders|HTTPEncoder|HTTPRequestEncoder|HTTPResponseEncoder|HTTPServerPipelineHandler|HTTPServerProtocolErrorHandler"),
    ("Slipway router code", r"SlipwayRouter|ProxyServerHandler|UpstreamHandler|UpstreamConnection|RoutingSnapshot|ServiceSelector|StatsWindow|VersionStats|EndpointRegistry|PassiveHealth|Histogram"),
    ("NIO channel pipeline / event loop / ByteBuffer", r"NIOCore|NIOPosix|ChannelPipeline|ChannelHandlerContext|SelectableEventLoop|ByteBuffer|NIOAny|EventLoop|Selector|BaseSocketChannel|PendingWrites|_IntegerBitPacking|IntegerBitPacking|CircularBuffer|NIOAsync|nio"),
    ("Swift stdlib (collections, strings, integers)", r"libswiftCore|Collection|Array|Dictionary|String|Substring|BinaryInteger|FixedWidthInteger|Sequence"),
    ("libc / dynamic loader (other)", r"libc\.so|ld-linux|pthread|__tls_get_addr|libdispatch|libFoundation"),
]

rows = []
for line in sys.stdin:
    m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+(\[[.k]\])\s+(.*)$", line)
    if m:
        rows.append((float(m.group(1)), m.group(2), m.group(3), re.sub(r"(\s+-)+\s*$", "", m.group(4)).strip()))
total = sum(r[0] for r in rows)
shares = {name: 0.0 for name, _ in CATEGORIES}
shares["other"] = 0.0
examples = {k: [] for k in shares}
symbols = {k: 0 for k in shares}
for pct, dso, kind, sym in rows:
    key = "other"
    text = f"{dso} {kind} {sym}"
    for name, pattern in CATEGORIES:
        if re.search(pattern, text):
            key = name
            break
    shares[key] += pct
    symbols[key] += 1
    if len(examples[key]) < 3 and pct >= 0.3:
        examples[key].append(re.sub(r"\s+", " ", sym)[:70] + f" {pct:.2f}%")
# Each row names its biggest symbols with their own shares, and how many symbols it sums:
# a row of many small symbols (the "other" one, typically) is not the cost of its first.
print(f"| where the router's CPU time goes (perf self time, {total:.0f}% of samples classified) | share | symbols | biggest symbols (own share) |")
print("| --- | --- | --- | --- |")
for name, share in sorted(shares.items(), key=lambda kv: -kv[1]):
    if share > 0:
        print(f"| {name} | {share:.1f}% | {symbols[name]} | {'; '.join(e.replace('|', '/') for e in examples[name])} |")
