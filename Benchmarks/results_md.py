#!/usr/bin/env python3
"""results_md.py RESULTS.md NAME FILE: puts FILE's markdown between the markers of
section NAME in RESULTS.md (replacing the previous run of that benchmark, keeping the
others), creating the file or appending the section when missing."""
import os
import sys

path, name, body_file = sys.argv[1:4]
begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
body = open(body_file).read().rstrip("\n")
block = f"{begin}\n{body}\n{end}"
if os.path.exists(path):
    text = open(path).read()
else:
    text = ("# Slipway benchmark results\n\n"
            "Written by `Benchmarks/run.sh`; each benchmark rewrites its own section. "
            "See Benchmarks/README.md for what each figure means.\n")
if begin in text and end in text:
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    text = head + block + tail
else:
    text = text.rstrip("\n") + "\n\n" + block + "\n"
open(path, "w").write(text)
