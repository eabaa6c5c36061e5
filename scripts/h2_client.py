#!/usr/bin/env python3
"""HTTP/2 clients for Slipway's tests, built on the `h2` library from PyPI (curl 7.88's
`--http2-prior-knowledge` cannot reuse a connection for a second transfer).

  h2_client.py requests HOST PORT [--count N] [--path PATH]
      N requests one after another on ONE cleartext (h2c, prior knowledge) connection.
      Prints one JSON line: how many answers each body got, and the statuses.
  h2_client.py rapid-reset HOST PORT [--streams N]
      The CVE-2023-44487 pattern: opens N streams (HEADERS with END_STREAM), cancelling
      each at once with RST_STREAM, as fast as the socket takes them.
  h2_client.py drain HOST PORT
      One request on a connection, then prints {"ready": true} and waits (up to 10 s) for
      the server to end the connection: reports its GOAWAY code (`goaway`) and `closed`.
  h2_client.py never-read HOST PORT --path PATH --stop-file F
      Sends the request, prints {"sent": true}, then never reads from the socket until F
      exists (at most 60 s): a client that never takes its response.
  h2_client.py bad-frame HOST PORT
      After the preface, a DATA frame on stream 0 (a connection error, RFC 9113 6.1).
  h2_client.py big-headers HOST PORT [--bytes N]
      One request whose header list decodes to N bytes (an HPACK bomb in miniature: the
      same large value repeated, which HPACK would otherwise compress away).

Each prints one JSON line: what the server did — `goaway` (its error code), `reset`
(stream error codes), `status` (a response's status), whether the connection was
`closed` — and how many streams were sent. Every wait is bounded (10 s).
"""
import argparse
import json
import os
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
from hyperframe.frame import Frame, GoAwayFrame


def connect(host, port):
    sock = socket.create_connection((host, port), timeout=10)
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


def request_headers(authority, extra=()):
    return [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", authority)] + list(extra)


def read_events(sock, conn, outcome, until):
    """Reads and records events until `until(outcome)` or the connection ends or 10 s pass."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not until(outcome):
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        except OSError:
            outcome["closed"] = True
            break
        if not data:
            outcome["closed"] = True
            break
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError as error:
            outcome["client_protocol_error"] = str(error)
            break
        for event in events:
            if isinstance(event, h2.events.ConnectionTerminated):
                outcome["goaway"] = int(event.error_code)
            elif isinstance(event, h2.events.StreamReset):
                outcome.setdefault("reset", []).append(int(event.error_code))
            elif isinstance(event, h2.events.ResponseReceived):
                outcome["status"] = dict(event.headers).get(":status")
        try:
            sock.sendall(conn.data_to_send())
        except OSError:
            outcome["closed"] = True
            break


def rapid_reset(args):
    sock, conn = connect(args.host, args.port)
    outcome = {"streams": 0, "closed": False}
    authority = f"{args.host}:{args.port}"
    try:
        for _ in range(args.streams):
            stream = conn.get_next_available_stream_id()
            conn.send_headers(stream, request_headers(authority), end_stream=True)
            conn.reset_stream(stream, error_code=8)  # CANCEL
            sock.sendall(conn.data_to_send())
            outcome["streams"] += 1
    except (OSError, h2.exceptions.ProtocolError):
        # The server ended the connection while streams were still going out: read what
        # it said (its GOAWAY may be waiting in the socket).
        outcome["closed"] = True
    read_goaway(sock, outcome)
    sock.close()
    print(json.dumps(outcome), flush=True)
    return 0


def read_goaway(sock, outcome):
    """Reads raw frames (not through the client's state machine, which rejects frames for
    the streams it just reset) until a GOAWAY, the end of the connection, or 20 s."""
    buffer = b""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        except OSError:
            outcome["closed"] = True
            break
        if not data:
            outcome["closed"] = True
            break
        buffer += data
        while len(buffer) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(buffer[:9]))
            if len(buffer) < 9 + length:
                break
            frame.parse_body(memoryview(buffer[9:9 + length]))
            buffer = buffer[9 + length:]
            if isinstance(frame, GoAwayFrame):
                outcome["goaway"] = frame.error_code
                return


def drain(args):
    sock, conn = connect(args.host, args.port)
    stream = conn.get_next_available_stream_id()
    conn.send_headers(stream, request_headers(f"{args.host}:{args.port}"), end_stream=True)
    sock.sendall(conn.data_to_send())
    answered = {}
    read_events(sock, conn, answered, lambda o: "status" in o)
    print(json.dumps({"ready": answered.get("status") == "200"}), flush=True)
    outcome = {"closed": False}
    started = time.monotonic()
    read_events(sock, conn, outcome, lambda o: o["closed"])
    outcome["seconds"] = round(time.monotonic() - started, 2)
    sock.close()
    print(json.dumps(outcome), flush=True)
    return 0


def never_read(args):
    sock, conn = connect(args.host, args.port)
    stream = conn.get_next_available_stream_id()
    conn.send_headers(stream, [(":method", "GET"), (":path", args.path), (":scheme", "http"), (":authority", f"{args.host}:{args.port}")], end_stream=True)
    sock.sendall(conn.data_to_send())
    print(json.dumps({"sent": True}), flush=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not os.path.exists(args.stop_file):
        time.sleep(0.05)
    sock.close()
    return 0


def bad_frame(args):
    sock, conn = connect(args.host, args.port)
    outcome = {"streams": 0, "closed": False}
    # DATA (type 0), no flags, stream 0, 4 bytes of payload.
    sock.sendall(bytes([0, 0, 4, 0, 0, 0, 0, 0, 0]) + b"oops")
    read_goaway(sock, outcome)
    sock.close()
    print(json.dumps(outcome), flush=True)
    return 0


def big_headers(args):
    sock, conn = connect(args.host, args.port)
    outcome = {"streams": 1, "closed": False}
    value = "x" * 4000
    extra = [(f"x-big-{i}", value) for i in range(max(1, args.bytes // 4000))]
    stream = conn.get_next_available_stream_id()
    try:
        conn.send_headers(stream, request_headers(f"{args.host}:{args.port}", extra), end_stream=True)
        sock.sendall(conn.data_to_send())
    except OSError:
        outcome["closed"] = True
    if not outcome["closed"]:
        read_events(sock, conn, outcome, lambda o: "goaway" in o or "reset" in o or "status" in o)
    sock.close()
    print(json.dumps(outcome), flush=True)
    return 0


def requests(args):
    sock, conn = connect(args.host, args.port)
    bodies, statuses = {}, {}
    authority = f"{args.host}:{args.port}"
    for _ in range(args.count):
        stream = conn.get_next_available_stream_id()
        conn.send_headers(stream, [(":method", "GET"), (":path", args.path), (":scheme", "http"), (":authority", authority)], end_stream=True)
        sock.sendall(conn.data_to_send())
        body, status, ended = b"", None, False
        deadline = time.monotonic() + 10
        while not ended and time.monotonic() < deadline:
            data = sock.recv(65536)
            if not data:
                raise RuntimeError(f"connection closed during stream {stream}")
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream:
                    status = dict(event.headers).get(":status")
                elif isinstance(event, h2.events.DataReceived) and event.stream_id == stream:
                    body += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, stream)
                elif isinstance(event, h2.events.StreamEnded) and event.stream_id == stream:
                    ended = True
                elif isinstance(event, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                    raise RuntimeError(f"stream {stream}: {event}")
            sock.sendall(conn.data_to_send())
        if not ended:
            raise RuntimeError(f"no answer on stream {stream} within 10s")
        text = body.decode(errors="replace").strip()
        bodies[text] = bodies.get(text, 0) + 1
        statuses[status] = statuses.get(status, 0) + 1
    sock.close()
    print(json.dumps({"bodies": bodies, "statuses": statuses, "streams": args.count}), flush=True)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("rapid-reset")
    r.add_argument("host")
    r.add_argument("port", type=int)
    r.add_argument("--streams", type=int, default=2000)
    b = sub.add_parser("big-headers")
    b.add_argument("host")
    b.add_argument("port", type=int)
    b.add_argument("--bytes", type=int, default=200_000)
    f = sub.add_parser("bad-frame")
    f.add_argument("host")
    f.add_argument("port", type=int)
    n = sub.add_parser("never-read")
    n.add_argument("host")
    n.add_argument("port", type=int)
    n.add_argument("--path", required=True)
    n.add_argument("--stop-file", required=True)
    d = sub.add_parser("drain")
    d.add_argument("host")
    d.add_argument("port", type=int)
    q = sub.add_parser("requests")
    q.add_argument("host")
    q.add_argument("port", type=int)
    q.add_argument("--count", type=int, default=10)
    q.add_argument("--path", default="/")
    args = parser.parse_args()
    try:
        return {"rapid-reset": rapid_reset, "big-headers": big_headers, "requests": requests, "drain": drain, "never-read": never_read, "bad-frame": bad_frame}[args.mode](args)
    except Exception as error:
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
