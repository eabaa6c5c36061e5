#!/usr/bin/env python3
"""Reference values for Slipway's canary-analysis maths, computed with SciPy.

Writes two fixture files that the Swift tests in Tests/SlipwayAnalysisTests load and
compare against (U exactly; p within 1e-9 relative or 1e-12 absolute):

  Tests/SlipwayAnalysisTests/Fixtures/mann_whitney.json
      scipy.stats.mannwhitneyu(canary, stable, alternative='greater',
                               method='asymptotic', use_continuity=True)
      Inputs are weighted samples, [[value, count], ...], expanded with numpy.repeat
      before they reach SciPy; Slipway computes the same test from the counts directly.

  Tests/SlipwayAnalysisTests/Fixtures/two_proportion.json
      One-sided two-proportion z-test with pooled variance (what statsmodels'
      proportions_ztest(alternative='larger') computes), in SciPy terms:
          p  = (x1 + x2) / (n1 + n2)
          z  = (x1/n1 - x2/n2) / sqrt(p * (1 - p) * (1/n1 + 1/n2))
          pv = scipy.stats.norm.sf(z)
      z and p are null where the test is undefined (no errors anywhere, or only errors).

Re-run after changing a case (needs numpy and scipy; the output is deterministic,
random cases use fixed seeds):

    python3 scripts/analysis_fixtures.py

then commit the regenerated JSON together with the script.
"""

import json
import math
import os
import warnings

import numpy as np
import scipy
from scipy import stats

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "SlipwayAnalysisTests", "Fixtures")


def weighted(values):
    """[v, v, w, ...] -> [[v, 2], [w, 1], ...] in first-seen order (keeps the fixture readable)."""
    counts = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return [[v, c] for v, c in counts.items()]


def buckets(rng, n, median_us, sigma, bucket_us):
    """n log-normal latencies quantised to bucket_us, as an HdrHistogram export would be."""
    raw = rng.lognormal(mean=math.log(median_us), sigma=sigma, size=n)
    q = (np.floor(raw / bucket_us).astype(np.int64) + 1) * bucket_us
    values, counts = np.unique(q, return_counts=True)
    return [[int(v), int(c)] for v, c in zip(values, counts)]


def expand(pairs):
    values = np.array([p[0] for p in pairs], dtype=np.float64)
    counts = np.array([p[1] for p in pairs], dtype=np.int64)
    return np.repeat(values, counts)


def mann_whitney_cases():
    rng = np.random.default_rng(20240601)
    cases = []

    def add(name, canary, stable):
        cases.append({"name": name, "canary": canary, "stable": stable})

    add("no ties, canary slower", weighted([12, 15, 17, 20, 22, 25]), weighted([10, 11, 13, 14, 16]))
    add("no ties, interleaved", weighted([1, 4, 5, 8, 9]), weighted([2, 3, 6, 7, 10]))
    add("one sample each", [[2, 1]], [[1, 1]])
    add("one sample each, canary faster", [[1, 1]], [[2, 1]])
    add("ties within and across groups", weighted([3, 3, 4, 5, 5, 5, 7, 9]), weighted([1, 3, 3, 4, 4, 5, 6]))
    add("heavy ties on three values", [[1, 40], [2, 70], [3, 90]], [[1, 80], [2, 70], [3, 50]])
    same = [[v, int(c)] for v, c in zip(range(100, 200, 10), rng.integers(1, 30, size=10))]
    add("identical groups", same, [list(p) for p in same])
    add("identical constant groups (zero variance)", [[250, 60]], [[250, 90]])
    add("constant canary above varied stable", [[300, 80]], weighted(list(range(100, 400, 3))))
    add("constant stable, varied canary", weighted(list(range(100, 400, 3))), [[300, 80]])
    add("fully separated, canary slower", weighted(list(range(1000, 1200))), weighted(list(range(0, 200))))
    add("fully separated, canary faster", weighted(list(range(0, 200))), weighted(list(range(1000, 1200))))
    add("fractional values with ties",
        [[0.5, 3], [1.25, 4], [2.75, 2], [3.0, 5]], [[0.25, 2], [1.25, 6], [2.5, 3], [3.0, 1]])
    add("repeated and zero-count entries", [[5, 2], [3, 1], [5, 3], [8, 0], [9, 4]], [[5, 1], [2, 0], [4, 6], [9, 1]])
    add("shifted normal, canary 5% slower",
        weighted([int(v) for v in np.round(rng.normal(105_000, 20_000, 300))]),
        weighted([int(v) for v in np.round(rng.normal(100_000, 20_000, 400))]))
    add("same distribution, different draws",
        weighted([int(v) for v in np.round(rng.normal(100_000, 20_000, 250))]),
        weighted([int(v) for v in np.round(rng.normal(100_000, 20_000, 250))]))
    add("small canary, large stable", buckets(rng, 50, 80_000, 0.4, 1000), buckets(rng, 5000, 80_000, 0.4, 1000))
    add("large bucketed groups, canary 3% slower",
        buckets(rng, 100_000, 82_400, 0.5, 500), buckets(rng, 200_000, 80_000, 0.5, 500))
    add("large bucketed groups, canary faster",
        buckets(rng, 120_000, 70_000, 0.5, 500), buckets(rng, 150_000, 80_000, 0.5, 500))
    add("large bucketed groups, same distribution",
        buckets(rng, 100_000, 80_000, 0.5, 1000), buckets(rng, 100_000, 80_000, 0.5, 1000))

    for case in cases:
        x, y = expand(case["canary"]), expand(case["stable"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = stats.mannwhitneyu(x, y, alternative="greater", method="asymptotic", use_continuity=True)
        case["n_canary"] = int(x.size)
        case["n_stable"] = int(y.size)
        case["u"] = float(res.statistic)
        case["p"] = float(res.pvalue)
    return cases


def two_proportion(x1, n1, x2, n2):
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance == 0:
        return None, None
    z = (x1 / n1 - x2 / n2) / math.sqrt(variance)
    return z, float(stats.norm.sf(z))


def two_proportion_cases():
    raw = [
        ("canary much worse", 82, 412, 4, 3981),
        ("canary slightly worse", 30, 1000, 20, 1000),
        ("equal rates", 10, 500, 20, 1000),
        ("canary better", 2, 800, 30, 1200),
        ("no errors in either group", 0, 412, 0, 3981),
        ("only errors in both groups", 300, 300, 700, 700),
        ("all canary requests failed, none of stable", 50, 50, 0, 500),
        ("no canary errors, some stable errors", 0, 60, 9, 600),
        ("one request each", 1, 1, 0, 1),
        ("large groups, small difference", 10_300, 1_000_000, 10_000, 1_000_000),
        ("one error each, unequal sizes", 1, 100, 1, 10_000),
    ]
    cases = []
    for name, x1, n1, x2, n2 in raw:
        z, p = two_proportion(x1, n1, x2, n2)
        cases.append({
            "name": name,
            "canary_errors": x1, "canary_total": n1,
            "stable_errors": x2, "stable_total": n2,
            "z": z, "p": p,
        })
    return cases


def write(name, cases):
    os.makedirs(OUT, exist_ok=True)
    doc = {
        "generator": "scripts/analysis_fixtures.py",
        "scipy": scipy.__version__,
        "cases": cases,
    }
    path = os.path.join(OUT, name)
    # One case per line: small diffs when a case changes, and still valid JSON.
    lines = [json.dumps(case, allow_nan=False) for case in cases]
    head = json.dumps({k: v for k, v in doc.items() if k != "cases"})[:-1]
    with open(path, "w") as f:
        f.write(head + ', "cases": [\n' + ",\n".join(lines) + "\n]}\n")
    print(f"wrote {os.path.relpath(path, ROOT)} ({len(cases)} cases)")


if __name__ == "__main__":
    write("mann_whitney.json", mann_whitney_cases())
    write("two_proportion.json", two_proportion_cases())
