#!/usr/bin/env python3
"""An OTLP/HTTP trace receiver for Slipway's tracing tests: it decodes what it is sent with
the official protobuf definitions (`opentelemetry-proto` from PyPI), so a test checks
spans as any OpenTelemetry collector would read them, not bytes Slipway wrote itself.

It listens on 127.0.0.1 and a port the system picks, prints `ready PORT` once it does, and
answers `POST /v1/traces` (`application/x-protobuf`, optionally gzip) with an empty
ExportTraceServiceResponse. Every span received is appended to --out as one JSON line:

  {"service": "slipway", "scope": "...", "traceId": "hex", "spanId": "hex",
   "parentSpanId": "hex" or "", "name": "...", "kind": "SPAN_KIND_...",
   "start": nanoseconds, "end": nanoseconds, "attributes": {...},
   "status": {"code": "STATUS_CODE_...", "message": "..."},
   "events": [{"name": "...", "time": nanoseconds, "attributes": {...}}],
   "links": [{"traceId": "hex", "spanId": "hex", "attributes": {...}}],
   "headers": {"x-...": "..."}}

`headers` holds the export request's `x-` headers (what OTEL_EXPORTER_OTLP_HEADERS adds).

A request that does not decode is answered 400 and recorded as {"error": "..."}.

With --discard (for benchmarks) nothing is decoded: every export is answered at once and
--out holds one line, rewritten after each, `requests BYTES_TOTAL`.
"""
import argparse
import gzip
import json
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2


def value_of(any_value):
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [value_of(v) for v in any_value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: value_of(kv.value) for kv in any_value.kvlist_value.values}
    if kind == "bytes_value":
        return any_value.bytes_value.hex()
    return getattr(any_value, kind)


def attributes_of(attributes):
    return {kv.key: value_of(kv.value) for kv in attributes}


def main():
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--discard", action="store_true")
    args = parser.parse_args()
    received = {"requests": 0, "bytes": 0}

    def record(entries):
        with open(args.out, "a", encoding="utf-8") as f:
            for entry in entries:
                f.write(json.dumps(entry) + "\n")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def answer(self, status, body=b"", content_type="application/x-protobuf"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path != "/v1/traces":
                return self.answer(404, b"only /v1/traces", "text/plain")
            if args.discard:
                received["requests"] += 1
                received["bytes"] += len(body)
                with open(args.out, "w", encoding="utf-8") as f:
                    f.write(f"{received['requests']} {received['bytes']}\n")
                return self.answer(200, trace_service_pb2.ExportTraceServiceResponse().SerializeToString())
            try:
                if self.headers.get("Content-Encoding", "") == "gzip":
                    body = gzip.decompress(body)
                request = trace_service_pb2.ExportTraceServiceRequest()
                request.ParseFromString(body)
            except Exception as error:  # a malformed export is the test's finding
                record([{"error": f"{type(error).__name__}: {error}"}])
                return self.answer(400, str(error).encode(), "text/plain")
            headers = {name.lower(): value for name, value in self.headers.items() if name.lower().startswith("x-")}
            spans = []
            for resource_spans in request.resource_spans:
                resource = attributes_of(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        spans.append({
                            "service": resource.get("service.name"),
                            "scope": scope_spans.scope.name,
                            "traceId": span.trace_id.hex(),
                            "spanId": span.span_id.hex(),
                            "parentSpanId": span.parent_span_id.hex(),
                            "name": span.name,
                            "kind": trace_pb2.Span.SpanKind.Name(span.kind),
                            "start": span.start_time_unix_nano,
                            "end": span.end_time_unix_nano,
                            "attributes": attributes_of(span.attributes),
                            "status": {"code": trace_pb2.Status.StatusCode.Name(span.status.code), "message": span.status.message},
                            "events": [{"name": e.name, "time": e.time_unix_nano, "attributes": attributes_of(e.attributes)} for e in span.events],
                            "links": [{"traceId": link.trace_id.hex(), "spanId": link.span_id.hex(), "attributes": attributes_of(link.attributes)} for link in span.links],
                            "headers": headers,
                        })
            record(spans)
            self.answer(200, trace_service_pb2.ExportTraceServiceResponse().SerializeToString())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"ready {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
