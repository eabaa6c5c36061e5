#!/usr/bin/env python3
"""soak_load.py HOST:PORT CONNECTIONS RATE SECONDS OUT.json: CONNECTIONS keep-alive
connections that together send RATE requests per second (each connection one request
every CONNECTIONS/RATE seconds, started at spread-out times) for SECONDS. A sustained,
paced load, unlike wrk's as-fast-as-possible one that saturates a small machine. Counts
answers by status and version (X-Version), and every failure: a connection refused, reset
or closed before an answer (each failure reconnects), a timeout (10 s), a non-2xx answer.
Writes the totals to OUT.json."""
import asyncio
import json
import sys
import time

host, port = sys.argv[1].rsplit(":", 1)
connections, rate, seconds, out = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
period = connections / rate
totals = {"requests": 0, "ok": 0, "statuses": {}, "versions": {}, "failures": {}, "connections": connections, "rate": rate}
REQUEST = f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


def fail(kind):
    totals["failures"][kind] = totals["failures"].get(kind, 0) + 1


async def answer(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, version = 0, None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "x-version":
            version = value.strip()
    if length:
        await reader.readexactly(length)
    return status, version


async def client(index, deadline):
    await asyncio.sleep(period * index / connections)
    reader = writer = None
    next_at = time.monotonic()
    while next_at < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 10)
            writer.write(REQUEST)
            status, version = await asyncio.wait_for(answer(reader), 10)
            totals["requests"] += 1
            totals["statuses"][str(status)] = totals["statuses"].get(str(status), 0) + 1
            if version:
                totals["versions"][version] = totals["versions"].get(version, 0) + 1
            if 200 <= status < 300:
                totals["ok"] += 1
            else:
                fail(f"HTTP {status}")
        except asyncio.TimeoutError:
            totals["requests"] += 1
            fail("timeout")
            writer = None
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as error:
            totals["requests"] += 1
            fail(type(error).__name__)
            writer = None
        next_at += period
        delay = next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    if writer is not None:
        writer.close()


async def main():
    deadline = time.monotonic() + seconds
    started = time.monotonic()
    await asyncio.gather(*(client(i, deadline) for i in range(connections)))
    totals["seconds"] = round(time.monotonic() - started, 1)
    json.dump(totals, open(out, "w"), indent=1)


asyncio.run(main())
