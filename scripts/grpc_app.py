#!/usr/bin/env python3
"""A gRPC server for Slipway's tests and examples: gRPC's own Python server (grpcio) with
the standard health service (grpcio-health-checking), speaking HTTP/2 cleartext.

Service slipway.test.Echo, with raw bytes as messages (no generated code needed):
  Version  unary            -> this instance's version
  Count    server streaming -> request "N": N messages "VERSION i"
  Chat     bidi streaming   -> each message echoed as "VERSION: message"
  Fail     unary            -> ends with the status code named in the request (e.g. NOT_FOUND)
Every call's trailers carry `x-served-by: VERSION`.

  grpc_app.py --port PORT --version VERSION [--fail-rate R]

--fail-rate R (default: $FAULT_ERROR_RATE, else 0) makes that share of Version calls end
with INTERNAL (a bad release; `slipway deploy --set-env FAULT_ERROR_RATE=0.3` sets it).
FAULT_UNHEALTHY_FILE=PATH: the health service answers NOT_SERVING while PATH exists.
"""
import argparse
import os
import random
import signal
import sys
import threading
import time
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

SERVICE = "slipway.test.Echo"


def identity(data):
    return data


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--fail-rate", type=float, default=float(os.environ.get("FAULT_ERROR_RATE") or 0))
    args = parser.parse_args()
    version = args.version
    served_by = (("x-served-by", version),)

    def version_call(request, context):
        context.set_trailing_metadata(served_by)
        if args.fail_rate > 0 and random.random() < args.fail_rate:
            context.abort(grpc.StatusCode.INTERNAL, f"{version} failed on purpose")
        return version.encode()

    def count(request, context):
        context.set_trailing_metadata(served_by)
        for i in range(int(request.decode() or "0")):
            yield f"{version} {i}".encode()

    def chat(requests, context):
        context.set_trailing_metadata(served_by)
        for message in requests:
            yield f"{version}: ".encode() + message

    def fail(request, context):
        context.set_trailing_metadata(served_by)
        code = getattr(grpc.StatusCode, request.decode() or "UNKNOWN", grpc.StatusCode.UNKNOWN)
        context.abort(code, f"asked to fail with {code.name}")

    handlers = {
        "Version": grpc.unary_unary_rpc_method_handler(version_call, request_deserializer=identity, response_serializer=identity),
        "Count": grpc.unary_stream_rpc_method_handler(count, request_deserializer=identity, response_serializer=identity),
        "Chat": grpc.stream_stream_rpc_method_handler(chat, request_deserializer=identity, response_serializer=identity),
        "Fail": grpc.unary_unary_rpc_method_handler(fail, request_deserializer=identity, response_serializer=identity),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    checker = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    for name in ("", SERVICE):
        checker.set(name, health_pb2.HealthCheckResponse.SERVING)
    unhealthy_file = os.environ.get("FAULT_UNHEALTHY_FILE")
    if unhealthy_file:
        def watch():
            while True:
                status = health_pb2.HealthCheckResponse.NOT_SERVING if os.path.exists(unhealthy_file) else health_pb2.HealthCheckResponse.SERVING
                for name in ("", SERVICE):
                    checker.set(name, status)
                time.sleep(0.1)
        threading.Thread(target=watch, daemon=True).start()
    if server.add_insecure_port(f"127.0.0.1:{args.port}") == 0:
        print(f"grpc_app: cannot listen on 127.0.0.1:{args.port}", file=sys.stderr)
        return 1
    server.start()
    print(f"grpc_app {version} listening on 127.0.0.1:{args.port}", flush=True)

    stopped = threading.Event()

    def stop(signum, frame):
        # Not serving any more, then up to 5 s for calls in flight.
        for name in ("", SERVICE):
            checker.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        server.stop(5).wait()
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stopped.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
