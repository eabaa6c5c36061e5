#!/usr/bin/env python3
"""make_reports.py OUT_DIR [--seed N] [--junit-cases N] [--sarif-results N]

Writes two large, deterministic (seeded) CI reports for the gates benchmark and what
Slipway must read from them:

  OUT_DIR/junit.xml      pytest `--junitxml`-shaped, exactly --junit-cases <testcase>s
                         (default 100,000) in several <testsuite>s: classname, name, file,
                         line, time; ~2 % failures with a multi-line traceback, ~0.3 %
                         errors, ~4 % skipped, some <system-out>.
  OUT_DIR/codeql.sarif   SARIF 2.1.0 shaped like CodeQL's output (≥ 50 MB by default): two
                         runs (javascript, python), tool.driver.rules with
                         properties.security-severity and tags, results with ruleId,
                         ruleIndex, rule, level, message, locations (physicalLocation /
                         region), partialFingerprints, relatedLocations and, for path
                         problems, codeFlows.
  OUT_DIR/expected.json  the counts: tests/failures/errors/skipped, and
                         critical/high/medium/low/unknown as Slipway reads SARIF (see the doc
                         comment of SARIFReport in Sources/SlipwayEvidence/SecurityReports.swift):
                         the result's own security-severity, else its rule's (≥ 9 critical,
                         ≥ 7 high, ≥ 4 medium, > 0 low); without a score the result's level,
                         else the rule's defaultConfiguration.level, else warning (error →
                         high, warning → medium, note → low, none → unknown); results whose
                         kind is not "fail" are not counted.

Python standard library only. The counts are kept while writing (from the generator's own
choices), not by parsing the files back.
"""
import argparse
import json
import os
import random
from xml.sax.saxutils import escape, quoteattr

# ---------------------------------------------------------------------------- JUnit

TRACEBACK = """def {name}({args}):
        client = make_client(timeout={timeout})
        response = client.get("/api/v1/items/{item}", params={{"page": {page}, "q": "a<b & c>d"}})
>       assert response.status_code == {want}, response.text
E       AssertionError: {got} != {want}: {{"error": "item {item} not found", "detail": "<none>"}}
E       assert {got} == {want}
E        +  where {got} = <Response [{got}]>.status_code

{file}:{line}: AssertionError"""

ERROR_BODY = """@pytest.fixture
    def database(tmp_path):
>       conn = connect(tmp_path / "db.sqlite", timeout={timeout})
E       sqlite3.OperationalError: unable to open database file

{file}:{line}: OperationalError"""
ERROR_MESSAGE = quoteattr('failed on setup with "sqlite3.OperationalError: unable to open database file"')


def junit(path, cases, rnd):
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    packages = ["api", "core", "billing", "auth", "search", "workers", "storage", "ui"]
    suites = 8
    per_suite = [cases // suites + (1 if i < cases % suites else 0) for i in range(suites)]
    with open(path, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="utf-8"?>')
        out.write('<testsuites name="pytest tests">')
        for s, n in enumerate(per_suite):
            body = []
            sc = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
            total_time = 0.0
            pkg = packages[s % len(packages)]
            module, line = 0, 10
            for i in range(n):
                if i % 40 == 0:
                    module += 1
                    line = 10
                line += rnd.randint(3, 30)
                file = f"tests/{pkg}/test_{pkg}_{module:04d}.py"
                classname = f"tests.{pkg}.test_{pkg}_{module:04d}" + (".TestCase" if module % 3 == 0 else "")
                name = f"test_{rnd.choice(['get', 'post', 'list', 'update', 'delete', 'parse', 'render'])}_{i:06d}"
                if rnd.random() < 0.3:
                    name += f"[{rnd.choice(['sqlite', 'postgres', 'mysql'])}-{rnd.randint(0, 9)}]"
                t = rnd.expovariate(1 / 0.02)
                total_time += t
                attrs = f"classname={quoteattr(classname)} name={quoteattr(name)} file={quoteattr(file)} line=\"{line}\" time=\"{t:.3f}\""
                r = rnd.random()
                sc["tests"] += 1
                if r < 0.02:
                    sc["failures"] += 1
                    got, want = rnd.choice([(404, 200), (500, 200), (401, 403)])
                    text = TRACEBACK.format(name=name.split("[")[0], args="client, db", timeout=rnd.randint(1, 30), item=rnd.randint(1, 99999),
                                            page=rnd.randint(1, 9), want=want, got=got, file=file, line=line + 3)
                    message = f"AssertionError: {got} != {want}: {{\"error\": \"item not found\"}}\nassert {got} == {want}"
                    out_text = f"<system-out>GET /api/v1/items -> {got}\nretrying once\nGET /api/v1/items -> {got}\n</system-out>" if rnd.random() < 0.5 else ""
                    body.append(f"<testcase {attrs}><failure message={quoteattr(message)}>{escape(text)}</failure>{out_text}</testcase>")
                elif r < 0.023:
                    sc["errors"] += 1
                    text = ERROR_BODY.format(timeout=rnd.randint(1, 9), file=file, line=line - 2)
                    body.append(f"<testcase {attrs}><error message={ERROR_MESSAGE}>{escape(text)}</error></testcase>")
                elif r < 0.063:
                    sc["skipped"] += 1
                    reason = rnd.choice(["needs a GPU", "flaky on CI, see #1234", "requires postgres >= 16"])
                    body.append(f"<testcase {attrs}><skipped type=\"pytest.skip\" message={quoteattr(reason)}>{escape(file)}:{line}: {escape(reason)}</skipped></testcase>")
                elif r < 0.09:
                    captured = "\n".join(f"DEBUG worker-{rnd.randint(0, 7)}: step {k} took {rnd.randint(1, 900)} ms" for k in range(rnd.randint(2, 8)))
                    body.append(f"<testcase {attrs}><system-out>{escape(captured)}</system-out></testcase>")
                else:
                    body.append(f"<testcase {attrs} />")
            out.write(f"<testsuite name=\"{pkg}-{s}\" errors=\"{sc['errors']}\" failures=\"{sc['failures']}\" skipped=\"{sc['skipped']}\" "
                      f"tests=\"{sc['tests']}\" time=\"{total_time:.3f}\" timestamp=\"2026-11-20T10:{s:02d}:00.000000\" hostname=\"ci-runner-{s}\">")
            out.write("".join(body))
            out.write("</testsuite>")
            for k in counts:
                counts[k] += sc[k]
        out.write("</testsuites>\n")
    return counts


# ---------------------------------------------------------------------------- SARIF

# (id, kind, security-severity or None, defaultConfiguration.level, cwe)
JS_RULES = [
    ("js/sql-injection", "path-problem", "8.8", "error", "089"),
    ("js/code-injection", "path-problem", "9.3", "error", "094"),
    ("js/xss", "path-problem", "6.1", "error", "079"),
    ("js/path-injection", "path-problem", "7.5", "error", "022"),
    ("js/insecure-randomness", "path-problem", "7.8", "warning", "338"),
    ("js/missing-rate-limiting", "problem", "7.5", "warning", "770"),
    ("js/regex/missing-regexp-anchor", "problem", "7.8", "warning", "020"),
    ("js/incomplete-sanitization", "problem", "7.8", "warning", "116"),
    ("js/clear-text-logging", "path-problem", "7.5", "error", "312"),
    ("js/hardcoded-credentials", "problem", "9.8", "warning", "798"),
    ("js/log-injection", "path-problem", "7.8", "error", "117"),
    ("js/weak-crypto", "problem", "3.1", "warning", "327"),
    ("js/unused-local-variable", "problem", None, "note", None),
    ("js/useless-assignment-to-local", "problem", None, "warning", None),
    ("js/trivial-conditional", "problem", None, "warning", None),
    ("js/unsafe-jquery-plugin", "path-problem", "6.5", "warning", "079"),
]
PY_RULES = [
    ("py/unused-import", "problem", None, "note", None),
    ("py/sql-injection", "path-problem", "8.8", "error", "089"),
    ("py/command-line-injection", "path-problem", "9.8", "error", "078"),
    ("py/stack-trace-exposure", "path-problem", "5.4", "error", "209"),
    ("py/flask-debug", "problem", "7.5", "error", "215"),
    ("py/weak-sensitive-data-hashing", "path-problem", "7.5", "warning", "327"),
    ("py/empty-except", "problem", None, "note", None),
    ("py/polynomial-redos", "path-problem", "7.5", "warning", "1333"),
    ("py/url-redirection", "path-problem", "6.1", "error", "601"),
    ("py/insecure-protocol", "problem", "7.5", "warning", "327"),
    ("py/call-to-non-callable", "problem", None, "error", None),
]


def severity(score, level):
    """Slipway's reading (SARIFReport's doc comment)."""
    if score is not None:
        s = float(score)
        if s >= 9:
            return "critical"
        if s >= 7:
            return "high"
        if s >= 4:
            return "medium"
        if s > 0:
            return "low"
        return "unknown"
    return {"error": "high", "warning": "medium", "note": "low"}.get(level, "unknown")


def rule_object(rule_id, kind, score, level, cwe):
    words = rule_id.split("/")[-1].replace("-", " ")
    props = {
        "tags": (["security", f"external/cwe/cwe-{cwe}"] if cwe else ["maintainability", "useless-code"]),
        "description": f"Finds {words} problems.",
        "id": rule_id,
        "kind": kind,
        "name": words.capitalize(),
        "precision": "high",
        "problem.severity": {"note": "recommendation"}.get(level, level),
    }
    if score is not None:
        props["security-severity"] = score
    return {
        "id": rule_id,
        "name": rule_id,
        "shortDescription": {"text": words.capitalize()},
        "fullDescription": {"text": f"Code that has {words} issues can be exploited or lead to bugs; see the rule help for examples."},
        "defaultConfiguration": {"enabled": True, "level": level},
        "help": {"text": f"# {words.capitalize()}\n\nExplanation and a fix for {words}.\n\n## References\n* OWASP\n",
                 "markdown": f"# {words.capitalize()}\n\nExplanation and **a fix** for `{words}`.\n"},
        "properties": props,
    }


def location(rnd, uri, index, with_message=None):
    start = rnd.randint(1, 2000)
    loc = {"physicalLocation": {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%", "index": index},
                                "region": {"startLine": start, "startColumn": rnd.randint(1, 40), "endColumn": rnd.randint(41, 120)}}}
    if with_message:
        loc["message"] = {"text": with_message}
    return loc


def sarif_run(rnd, language, rules, results, counts):
    ext = {"javascript": "js", "python": "py"}[language]
    artifacts = [f"src/{d}/{n}.{ext}" for d in ("api", "lib", "web", "jobs", "util") for n in
                 ("handlers", "models", "views", "client", "server", "queue", "auth", "cache", "config", "render")]
    driver_rules = [rule_object(*r) for r in rules]
    out_results = []
    for i in range(results):
        ri = rnd.randrange(len(rules))
        rule_id, kind, score, default_level, _ = rules[ri]
        a = rnd.randrange(len(artifacts))
        result = {"ruleId": rule_id, "ruleIndex": ri, "rule": {"id": rule_id, "index": ri}}
        level = default_level
        # Some results carry their own level (different from the rule's default).
        if rnd.random() < 0.1:
            level = rnd.choice(["error", "warning", "note"])
        result["level"] = level
        result["message"] = {"text": f"This {rule_id.split('/')[-1].replace('-', ' ')} depends on a [user-provided value](1)."}
        result["locations"] = [location(rnd, artifacts[a], a)]
        result["partialFingerprints"] = {"primaryLocationLineHash": f"{rnd.getrandbits(64):016x}:{rnd.randint(1, 4)}",
                                         "primaryLocationStartColumnFingerprint": str(rnd.randint(0, 40))}
        own_score = None
        # A few results with their own score (allowed by SARIF; some tools write it).
        if rnd.random() < 0.02:
            own_score = rnd.choice(["9.1", "7.2", "4.4", "2.0"])
            result["properties"] = {"security-severity": own_score}
        counted = True
        # A few results that are not findings (kind pass / notApplicable): not counted.
        if rnd.random() < 0.01:
            result["kind"] = rnd.choice(["pass", "notApplicable", "informational"])
            counted = False
        if kind == "path-problem":
            sources = rnd.randint(1, 3)
            result["relatedLocations"] = [dict(location(rnd, artifacts[rnd.randrange(len(artifacts))], 0, "user-provided value"), id=k + 1)
                                          for k in range(sources)]
            flows = []
            for _ in range(rnd.randint(1, 3)):
                steps = []
                for _ in range(rnd.randint(3, 12)):
                    b = rnd.randrange(len(artifacts))
                    steps.append({"location": location(rnd, artifacts[b], b, rnd.choice(["req.query", "params", "ControlFlowNode for x", "data", "url"]))})
                flows.append({"threadFlows": [{"locations": steps}]})
            result["codeFlows"] = flows
        out_results.append(result)
        if counted:
            counts[severity(own_score if own_score is not None else score, level)] += 1
    return {
        "tool": {"driver": {"name": "CodeQL", "organization": "GitHub", "semanticVersion": "2.19.3",
                            "notifications": [{"id": f"{language}/diagnostics/successfully-extracted-files", "name": "extracted files",
                                               "shortDescription": {"text": "Extracted files"}, "defaultConfiguration": {"enabled": True}}],
                            "rules": driver_rules},
                 "extensions": [{"name": f"codeql/{language}-queries", "semanticVersion": "1.1.0", "locations": [
                     {"uri": f"file:///opt/codeql/packages/codeql/{language}-queries/1.1.0/", "description": {"text": "The QL pack root directory."}}]}]},
        "invocations": [{"toolExecutionNotifications": [], "executionSuccessful": True}],
        "artifacts": [{"location": {"uri": u, "uriBaseId": "%SRCROOT%", "index": k}} for k, u in enumerate(artifacts)],
        "results": out_results,
        "automationDetails": {"id": f"/language:{language}/"},
        "columnKind": "utf16CodeUnits",
        "properties": {"semmle.formatSpecifier": "sarif-latest"},
    }


def sarif(path, results, rnd):
    counts = {"critical": 0, "high": 0, "medium": 0, "low": 0, "unknown": 0}
    js = results * 3 // 5
    log = {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
           "runs": [sarif_run(rnd, "javascript", JS_RULES, js, counts), sarif_run(rnd, "python", PY_RULES, results - js, counts)]}
    with open(path, "w", encoding="utf-8") as out:
        json.dump(log, out, indent=2)
        out.write("\n")
    return counts


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out_dir")
    p.add_argument("--seed", type=int, default=20261123)
    p.add_argument("--junit-cases", type=int, default=100_000)
    p.add_argument("--sarif-results", type=int, default=7_800)
    p.add_argument("--min-sarif-bytes", type=int, default=50 * 1000 * 1000)
    a = p.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    junit_path, sarif_path = os.path.join(a.out_dir, "junit.xml"), os.path.join(a.out_dir, "codeql.sarif")
    tests = junit(junit_path, a.junit_cases, random.Random(a.seed))
    assert tests["tests"] == a.junit_cases
    vulns = sarif(sarif_path, a.sarif_results, random.Random(a.seed + 1))
    size = os.path.getsize(sarif_path)
    if size < a.min_sarif_bytes:
        raise SystemExit(f"{sarif_path} is {size} bytes, under --min-sarif-bytes {a.min_sarif_bytes}: raise --sarif-results")
    expected = {"junit": dict(file=junit_path, bytes=os.path.getsize(junit_path), **tests),
                "sarif": dict(file=sarif_path, bytes=size, results=a.sarif_results, **vulns)}
    with open(os.path.join(a.out_dir, "expected.json"), "w") as out:
        json.dump(expected, out, indent=2)
    print(json.dumps(expected))


if __name__ == "__main__":
    main()
