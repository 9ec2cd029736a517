#!/usr/bin/env bash
# Compactor benchmark: SPLITS splits of ROWS rows over WINDOWS windows, added to a
# table, compacted until stable while the windows are open (stable-log levels),
# then again once they are closed (one final merge per window).
# Prints wall time, bytes written / bytes ingested, peak RSS against --max-memory
# and live splits per window. Usage: bash benches/compact/run.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
SPLITS=${SPLITS:-1000}
ROWS=${ROWS:-10000}
WINDOWS=${WINDOWS:-4}
MAX_MEMORY=${MAX_MEMORY:-512MiB}
JOBS=${JOBS:-2}
work=${1:-/tmp/pm-compact-bench}
bin=target/release/prefix-merge
[[ -n "${SKIP_BUILD:-}" ]] || cargo build --release --quiet
rm -rf "$work" && mkdir -p "$work"
if [[ ! -d "$work/../pm-compact-in-$SPLITS-$ROWS-$WINDOWS" ]]; then
  $bin gen --output-dir "$work/../pm-compact-in-$SPLITS-$ROWS-$WINDOWS" --files "$SPLITS" \
    --rows "$ROWS" --windows "$WINDOWS" >/dev/null
fi
in="$work/../pm-compact-in-$SPLITS-$ROWS-$WINDOWS"
$bin table create "$work/t" --like "$(ls "$in"/*.parquet | head -1)" >/dev/null
t0=$(date +%s.%N)
$bin table add "$work/t" "$in"/*.parquet >/dev/null
t1=$(date +%s.%N)
ingested=$(du -cb "$in"/*.parquet | tail -1 | cut -f1)
echo "ingest: $SPLITS splits, $ROWS rows each, $WINDOWS windows, $ingested bytes, add took $(echo "$t1 - $t0" | bc) s"
# 1 s after the first window starts: every window is open.
open_now=1699999201
phase() {
  local name=$1; shift
  /usr/bin/time -v -o "$work/$name.time" $bin compact "$work/t" --until-stable \
    --max-memory "$MAX_MEMORY" --jobs "$JOBS" --json "$@" >"$work/$name.json"
  python3 - "$work/$name.json" "$work/$name.time" "$name" <<'PY'
import json, re, sys
r = json.load(open(sys.argv[1])); t = open(sys.argv[2]).read()
wall = re.search(r"Elapsed \(wall clock\) time.*: (.*)", t).group(1)
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
jobs = [j for j in r["jobs"] if j["outcome"] == "committed"]
print(f"{sys.argv[3]}: wall {wall}, {r['rounds']} rounds, {len(jobs)} jobs, "
      f"{r['rows_merged']} rows merged, {r['bytes_read']} B read, {r['bytes_written']} B written, "
      f"peak RSS {rss:.0f} MiB, highest estimate {r['peak_estimate_bytes']/2**20:.0f} MiB, "
      f"{r['live_splits']} live splits")
PY
}
phase open --now "$open_now"
phase closed
$bin table ls "$work/t" --json | python3 -c '
import json, sys, collections
live = json.load(sys.stdin)
per = collections.Counter(s["window_start"] for s in live)
print("live splits per window:", dict(sorted(per.items())), "rows", sum(s["rows"] for s in live))'
python3 - "$work" "$ingested" <<'PY'
import json, sys
w, ingested = sys.argv[1], int(sys.argv[2])
written = sum(json.load(open(f"{w}/{p}.json"))["bytes_written"] for p in ("open", "closed"))
print(f"write amplification: {written} / {ingested} = {written/ingested:.2f}")
PY
$bin table gc "$work/t" --grace 0s
