#!/usr/bin/env python3
"""Fills a Slipway state for Benchmarks/state-backup.sh: AUDIT audit entries through the
real API (each `PUT .../secrets/NAME` is one chained, signed audit entry), then EVENTS
event rows straight into the database (events are not chained). Prints the counts."""
import http.client
import json
import sqlite3
import sys
import urllib.parse

api, token, database, audit, events = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
u = urllib.parse.urlparse(api)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
for i in range(audit):
    conn.request("PUT", "/v1/services/hello/secrets/BENCH_%d" % (i % 50), body=json.dumps({"value": "value-%d" % i}), headers=headers)
    r = conn.getresponse()
    r.read()
    if r.status not in (200, 201):
        raise SystemExit("secret set answered %d" % r.status)

db = sqlite3.connect(database, timeout=30)
db.execute("PRAGMA busy_timeout = 30000")
rows = (("hello", None, 1795400000.0 + i / 10, "bench", "event %d: instance hello-v1 answered its health check in 2 ms" % i) for i in range(events))
db.executemany("INSERT INTO event (service, rollout_id, time, kind, message) VALUES (?, ?, ?, ?, ?)", rows)
db.commit()
counts = {t: db.execute("SELECT COUNT(*) FROM %s" % t).fetchone()[0] for t in ("event", "audit")}
print(json.dumps(counts))
