#!/usr/bin/env python3
"""Summarise benchmark runs as a Markdown table (medians per data set and tool).

Usage: report.py RUNS.tsv [BASELINE]   (written by benches/peers/run.sh)
BASELINE: the tool the "wall vs" column divides by (default duckdb; "-" for none).
TSV columns: set, tool, round, status ("ok" or a failure reason), wall_s, rss_kb, out_bytes.
Exits 1 if any run failed (failures are listed under the table).
"""
import csv
import sys
from statistics import median

runs = list(csv.reader(open(sys.argv[1]), delimiter="\t"))
baseline = sys.argv[2] if len(sys.argv) > 2 else "duckdb"
groups = {}
for s, tool, rnd, status, wall, rss, out in runs:
    groups.setdefault((s, tool), []).append((rnd, status, float(wall), int(rss), int(out)))


def med(rows, i):
    ok = [r[i] for r in rows if r[1] == "ok"]
    return median(ok) if ok else None


print(f"| data set | tool | median wall s | median peak RSS MiB | wall vs {baseline} | output MiB | runs ok |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
for (s, tool), rows in groups.items():
    wall, rss, out = med(rows, 2), med(rows, 3), med(rows, 4)
    base = med(groups.get((s, baseline), []), 2)
    ok = sum(r[1] == "ok" for r in rows)
    if wall is None:
        print(f"| {s} | {tool} | FAIL | FAIL | - | - | 0/{len(rows)} |")
        continue
    ratio = f"{wall / base:.2f}x" if base else "-"
    print(f"| {s} | {tool} | {wall:.2f} | {rss / 1024:.0f} | {ratio} | {out / 2**20:.1f} | {ok}/{len(rows)} |")

failed = [(s, tool, rnd, status) for s, tool, rnd, status, *_ in runs if status != "ok"]
print()
for s, tool, rnd, status in failed:
    print(f"- FAIL {s} / {tool} / round {rnd}: {status}")
print(f"Result: {len(failed)} of {len(runs)} runs failed." if failed
      else f"Result: all {len(runs)} runs ok (output row counts equal input row counts).")
sys.exit(1 if failed else 0)
