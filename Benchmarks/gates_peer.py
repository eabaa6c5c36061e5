#!/usr/bin/env python3
"""gates_peer.py junit|sarif FILE: the peer of `slipway evidence show` in the gates
benchmark. Does the same work — SHA-256 of the file (1 MiB chunks) and the counts Slipway
reads — the way Python tools commonly do it, and prints them as JSON:

  junit: xml.etree.ElementTree.iterparse with elem.clear() (the streaming peer); counts
         <testcase>s and the first <failure>/<error>/<skipped> inside each.
  sarif: json.load of the whole file (what most SARIF consumers do); the severity reading
         of SARIFReport (Sources/SlipwayEvidence/SecurityReports.swift).
"""
import hashlib
import json
import sys
import xml.etree.ElementTree as ET


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def junit(path):
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    outcome = {"failure": "failures", "error": "errors", "skipped": "skipped"}
    for _, elem in ET.iterparse(path, events=("end",)):
        if elem.tag == "testcase":
            counts["tests"] += 1
            for child in elem:
                if child.tag in outcome:
                    counts[outcome[child.tag]] += 1
                    break
            elem.clear()
        elif elem.tag == "testsuite":
            elem.clear()
    return counts


def score_severity(score):
    if score >= 9:
        return "critical"
    if score >= 7:
        return "high"
    if score >= 4:
        return "medium"
    return "low" if score > 0 else "unknown"


def sarif(path):
    counts = {"critical": 0, "high": 0, "medium": 0, "low": 0, "unknown": 0}
    with open(path, encoding="utf-8") as f:
        log = json.load(f)
    for run in log["runs"]:
        rules = run.get("tool", {}).get("driver", {}).get("rules", [])
        by_id = {r["id"]: r for r in rules if "id" in r}
        for result in run.get("results", []):
            if result.get("kind", "fail") != "fail":
                continue
            index = result.get("ruleIndex", result.get("rule", {}).get("index"))
            rule = rules[index] if isinstance(index, int) and 0 <= index < len(rules) else by_id.get(result.get("ruleId", result.get("rule", {}).get("id")))
            score = result.get("properties", {}).get("security-severity")
            if score is None and rule is not None:
                score = rule.get("properties", {}).get("security-severity")
            if score is not None:
                counts[score_severity(float(score))] += 1
            else:
                level = result.get("level") or (rule or {}).get("defaultConfiguration", {}).get("level") or "warning"
                counts[{"critical": "critical", "error": "high", "high": "high", "warning": "medium", "medium": "medium",
                        "note": "low", "low": "low"}.get(level.lower(), "unknown")] += 1
    return counts


def main():
    kind, path = sys.argv[1], sys.argv[2]
    counts = {"junit": junit, "sarif": sarif}[kind](path)
    print(json.dumps({"sha256": sha256(path), **counts}))


if __name__ == "__main__":
    main()
