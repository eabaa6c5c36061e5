#!/usr/bin/env python3
"""Checks every relative link (file and #anchor) in README.md, docs/ and Benchmarks/README.md.

Run by scripts/test.sh; exits 1 naming each broken link as FILE:LINE.
"""
import re, os, glob, sys
ROOT=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
def slug(t):
    t=t.lower(); t=re.sub(r'[^a-z0-9 _-]','',t); return t.replace(' ','-')
def anchors(path):
    a=set(); fence=False
    for l in open(path).read().split('\n'):
        if l.startswith('```'): fence=not fence
        if not fence:
            m=re.match(r'^(#{1,6}) (.*)$',l)
            if m: a.add(slug(m.group(2)))
        for m in re.finditer(r'<a id="([^"]+)"',l): a.add(m.group(1))
    return a
bad=0
files=[f'{ROOT}/README.md']+glob.glob(f'{ROOT}/docs/**/*.md',recursive=True)+[f'{ROOT}/Benchmarks/README.md']
for f in files:
    fence=False
    for n,l in enumerate(open(f).read().split('\n'),1):
        if l.startswith('```'): fence=not fence
        if fence: continue
        for m in re.finditer(r'\]\(([^)\s]+)\)',l):
            t=m.group(1)
            if re.match(r'^[a-z]+:',t): continue
            path,_,anc=t.partition('#')
            target=os.path.normpath(os.path.join(os.path.dirname(f),path)) if path else f
            if not os.path.exists(target):
                print(f'{f}:{n}: missing {t}'); bad+=1; continue
            if anc and target.endswith('.md') and anc not in anchors(target):
                print(f'{f}:{n}: no anchor {t}'); bad+=1
if bad:
    print(f'{bad} broken link(s)')
    sys.exit(1)
print(f'links ok in {len(files)} files')
