#!/usr/bin/env python3
"""A WebSocket client for Slipway's tests: the `websockets` library from PyPI (an
implementation independent of SwiftNIO), against hello-app's `/ws` echo through the router.

  ws_client.py echo URL [--count N] [--size BYTES] [--header NAME:VALUE]
      One connection; sends N messages of BYTES back to back before reading any reply
      (the router must relay with backpressure both ways), then checks every reply is
      "<version>: <the message>". Prints one JSON line: version, messages, bytes.

  ws_client.py hold URL --stop-file PATH [--interval SECONDS]
      One long-lived connection: a message every interval, each reply printed as
      `reply <text>` as it arrives; `closed <code>` when the server side closes it.
      Ends (closing normally) once PATH exists. Every wait is bounded.

Exit status: 0 when everything was as expected, 1 otherwise (the reason on stderr).
"""
import argparse
import asyncio
import json
import os
import time
import sys

import websockets


def parse_headers(values):
    headers = []
    for value in values or []:
        name, _, rest = value.partition(":")
        headers.append((name.strip(), rest.strip()))
    return headers


async def echo(args):
    payloads = [(f"{i:06d}-" + "x" * max(0, args.size - 7)).encode() for i in range(args.count)]
    async with websockets.connect(args.url, additional_headers=parse_headers(args.header),
                                  max_size=None, open_timeout=10, close_timeout=5,
                                  # Keepalive pings are not what this checks: a ping queued behind
                                  # megabytes of echo can take longer than the library's 20 s
                                  # pong timeout on a loaded machine. A stalled relay is still
                                  # caught by the 30 s bound on every reply below.
                                  ping_interval=None) as ws:
        async def send_all():
            for payload in payloads:
                await ws.send(payload)

        sender = asyncio.create_task(send_all())
        version = None
        total = 0
        for payload in payloads:
            reply = await asyncio.wait_for(ws.recv(), timeout=30)
            if isinstance(reply, str):
                reply = reply.encode()
            head, sep, body = reply.partition(b": ")
            if not sep or body != payload:
                print(f"reply {len(reply)} bytes does not echo message of {len(payload)} bytes: {reply[:60]!r}", file=sys.stderr)
                return 1
            if version is None:
                version = head.decode()
            elif head.decode() != version:
                print(f"one connection answered by two versions: {version} and {head.decode()}", file=sys.stderr)
                return 1
            total += len(body)
        await sender
    print(json.dumps({"version": version, "messages": args.count, "bytes": total}), flush=True)
    return 0


async def hold(args):
    async with websockets.connect(args.url, additional_headers=parse_headers(args.header),
                                  open_timeout=10, close_timeout=5, ping_interval=None) as ws:
        print("open", flush=True)
        n = 0
        deadline = asyncio.get_running_loop().time() + args.max_seconds
        while asyncio.get_running_loop().time() < deadline:
            if os.path.exists(args.stop_file):
                await ws.close()
                print("stopped", flush=True)
                return 0
            n += 1
            try:
                await ws.send(f"{n}")
                reply = await asyncio.wait_for(ws.recv(), timeout=10)
            except websockets.ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else 1006
                print(f"closed {code}", flush=True)
                return 0
            # The wall-clock time it arrived, so a test can tell replies after an event.
            print(f"reply {time.time():.3f} {reply}", flush=True)
            await asyncio.sleep(args.interval)
        print(f"still open after {args.max_seconds}s", file=sys.stderr)
        return 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    e = sub.add_parser("echo")
    e.add_argument("url")
    e.add_argument("--count", type=int, default=10)
    e.add_argument("--size", type=int, default=64)
    e.add_argument("--header", action="append")
    h = sub.add_parser("hold")
    h.add_argument("url")
    h.add_argument("--stop-file", required=True)
    h.add_argument("--interval", type=float, default=0.1)
    h.add_argument("--max-seconds", type=float, default=300)
    h.add_argument("--header", action="append")
    args = parser.parse_args()
    try:
        return asyncio.run(echo(args) if args.mode == "echo" else hold(args))
    except Exception as error:  # every failure is a test failure with its reason
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
