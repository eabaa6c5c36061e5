#!/usr/bin/env python3
"""gRPC's own Python client (grpcio) against a Slipway router, for the tests. Each command
prints one JSON line.

  grpc_client.py unary ADDR [--calls N] [--metadata K=V ...]
      {"versions": {VERSION: n}, "codes": {CODE: n}, "served_by": {VERSION: n}}
  grpc_client.py count ADDR N        {"messages": [...], "code": CODE, "served_by": V}
  grpc_client.py chat ADDR MSG...     {"replies": [...], "code": CODE, "served_by": V}
  grpc_client.py fail ADDR CODE       {"code": CODE, "details": "...", "served_by": V}
  grpc_client.py load ADDR --until-file F [--max-seconds S]
      unary calls one after another on one channel until F exists (or S seconds); prints
      {"first": VERSION} after the first call that succeeded, then at the end
      {"calls": n, "versions": {...}, "codes": {...}, "failures": ["..."]}

ADDR is HOST:PORT; the channel speaks HTTP/2 cleartext (prior knowledge), as gRPC does.
"""
import argparse
import json
import os
import sys
import time

import grpc

SERVICE = "/slipway.test.Echo/"


def identity(data):
    return data


def trailer(call, name):
    for key, value in call.trailing_metadata() or ():
        if key == name:
            return value
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["unary", "count", "chat", "fail", "load"])
    parser.add_argument("address")
    parser.add_argument("rest", nargs="*")
    parser.add_argument("--calls", type=int, default=1)
    parser.add_argument("--metadata", action="append", default=[])
    parser.add_argument("--until-file")
    parser.add_argument("--max-seconds", type=float, default=60)
    parser.add_argument("--timeout", type=float, default=10)
    args = parser.parse_args()
    metadata = tuple(tuple(item.split("=", 1)) for item in args.metadata)

    with grpc.insecure_channel(args.address) as channel:
        if args.command in ("unary", "load"):
            version = channel.unary_unary(SERVICE + "Version", request_serializer=identity, response_deserializer=identity)
            versions, codes, served, failures = {}, {}, {}, []
            deadline = time.monotonic() + args.max_seconds
            calls = 0
            while True:
                if args.command == "unary" and calls >= args.calls:
                    break
                if args.command == "load" and (os.path.exists(args.until_file) or time.monotonic() > deadline):
                    break
                calls += 1
                try:
                    reply, call = version.with_call(b"", timeout=args.timeout, metadata=metadata)
                    name = reply.decode()
                    if args.command == "load" and not versions:
                        print(json.dumps({"first": name}), flush=True)
                    versions[name] = versions.get(name, 0) + 1
                    code = call.code().name
                    by = trailer(call, "x-served-by")
                    if by:
                        served[by] = served.get(by, 0) + 1
                except grpc.RpcError as error:
                    code = error.code().name
                    if len(failures) < 20:
                        failures.append(f"{code}: {error.details()}")
                codes[code] = codes.get(code, 0) + 1
            print(json.dumps({"calls": calls, "versions": versions, "codes": codes, "served_by": served, "failures": failures}))
        elif args.command == "count":
            count = channel.unary_stream(SERVICE + "Count", request_serializer=identity, response_deserializer=identity)
            call = count(args.rest[0].encode(), timeout=args.timeout, metadata=metadata)
            messages = [m.decode() for m in call]
            print(json.dumps({"messages": messages, "code": call.code().name, "served_by": trailer(call, "x-served-by")}))
        elif args.command == "chat":
            chat = channel.stream_stream(SERVICE + "Chat", request_serializer=identity, response_deserializer=identity)
            call = chat(iter([m.encode() for m in args.rest]), timeout=args.timeout, metadata=metadata)
            replies = [r.decode() for r in call]
            print(json.dumps({"replies": replies, "code": call.code().name, "served_by": trailer(call, "x-served-by")}))
        else:
            fail = channel.unary_unary(SERVICE + "Fail", request_serializer=identity, response_deserializer=identity)
            try:
                fail.with_call(args.rest[0].encode(), timeout=args.timeout, metadata=metadata)
                print(json.dumps({"code": "OK"}))
            except grpc.RpcError as error:
                print(json.dumps({"code": error.code().name, "details": error.details(), "served_by": trailer(error, "x-served-by")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
