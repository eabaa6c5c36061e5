#!/usr/bin/python3
"""Dashboard first load in headless Chromium (Debian's chromium, driven over the DevTools
protocol with Debian's python3-websocket). Prints one JSON object.

Each run opens a new tab with the browser cache cleared and disabled (a cold first load),
navigates to API/dashboard with the session cookie already set (what a logged-in user
sees), and stops the clock when the unit's card shows its weight bar — the page has fetched
its assets and its session and drawn the first server-sent snapshot. The floor is the same
navigation to API/healthz (a few bytes of JSON): what the browser itself costs.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import websocket


class CDP:
    def __init__(self, url):
        self.ws = websocket.create_connection(url, timeout=30)
        self.next = 0

    def call(self, method, params=None, session=None):
        self.next += 1
        message = {"id": self.next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next:
                if "error" in reply:
                    raise SystemExit("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})


def main():
    args = dict(a.split("=", 1) for a in sys.argv[1:])
    api, token, unit, n = args["api"], args["token"], args.get("unit", "hello"), int(args.get("n", "10"))
    profile = tempfile.mkdtemp(prefix="slipway-dash-bench-")
    chromium = subprocess.Popen(["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                                 "--no-default-browser-check", "--remote-debugging-port=0", "--user-data-dir=" + profile, "about:blank"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = os.path.join(profile, "DevToolsActivePort")
        deadline = time.time() + 60
        while not (os.path.exists(port_file) and len(open(port_file).read().split("\n")) >= 2):
            if time.time() > deadline or chromium.poll() is not None:
                raise SystemExit("chromium did not start")
            time.sleep(0.05)
        port, path = open(port_file).read().split("\n")[:2]
        cdp = CDP("ws://127.0.0.1:%s%s" % (port, path))

        def measure(url, ready):
            target = cdp.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            cdp.call("Network.enable", {}, session)
            cdp.call("Network.clearBrowserCache", {}, session)
            cdp.call("Network.setCacheDisabled", {"cacheDisabled": True}, session)
            cdp.call("Network.setCookie", {"name": "slipway_session", "value": token, "url": api, "httpOnly": True, "sameSite": "Strict"}, session)
            cdp.call("Runtime.enable", {}, session)
            start = time.perf_counter()
            cdp.call("Page.navigate", {"url": url}, session)
            while True:
                value = cdp.call("Runtime.evaluate", {"expression": ready, "returnByValue": True}, session)["result"].get("value")
                if value:
                    elapsed = time.perf_counter() - start
                    break
                if time.perf_counter() - start > 30:
                    raise SystemExit("%s was not ready within 30 s" % url)
                time.sleep(0.005)
            cdp.call("Target.closeTarget", {"targetId": target})
            return elapsed

        card = "document.querySelector('[data-unit=\"%s\"] .bar') !== null && document.querySelector('[data-unit=\"%s\"] .bar').textContent.includes('%%')" % (unit, unit)
        measure(api + "/healthz", "document.readyState === 'complete'")  # browser warm-up, not counted
        loads, floors = [], []
        for _ in range(n):
            floors.append(measure(api + "/healthz", "document.readyState === 'complete' && document.body.textContent.includes('ok')"))
            loads.append(measure(api + "/dashboard", card))
        loads.sort()
        floors.sort()
        print(json.dumps({
            "n": n,
            "median_ms": statistics.median(loads) * 1000, "p95_ms": loads[max(0, int(n * 0.95) - 1)] * 1000, "max_ms": loads[-1] * 1000,
            "floor_median_ms": statistics.median(floors) * 1000,
        }))
    finally:
        chromium.kill()
        chromium.wait()
        subprocess.run(["rm", "-rf", profile])


if __name__ == "__main__":
    main()
