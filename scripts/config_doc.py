#!/usr/bin/python3
"""Rewrites the key tables of docs/config.md from `cellforge search --help-config` and
`cellforge train --help-config` (run from the repository root after building)."""
import subprocess, sys
doc = open('docs/config.md').read().split('\n')
def rows(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True).stdout.split('\n')
    return [l for l in out if l.startswith('| `')]
tables = [rows(['build/cellforge','search','--help-config']), rows(['build/cellforge','train','--help-config'])]
out, t, i = [], 0, 0
while i < len(doc):
    if doc[i].startswith('| `'):
        while i < len(doc) and doc[i].startswith('| `'): i += 1
        out += tables[t]; t += 1
    else:
        out.append(doc[i]); i += 1
open('docs/config.md','w').write('\n'.join(out))
