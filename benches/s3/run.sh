#!/usr/bin/env bash
# Object-storage benchmark (issue 10): the 8 x 1M aligned-disjoint merge of
# benches/peers/run.sh, once from and to local files and once from and to a loopback
# S3 server (moto), alternating local / s3 for RUNS rounds. Every run is under
# /usr/bin/time -v (wall time, peak RSS); remote runs also report the `storage:` line
# (GETs, bytes fetched, PUTs, bytes uploaded). Every remote output is downloaded and
# checked: 8 x ROWS rows and byte-identical (sha256) to the local output of its round.
# Finally SMALL_RUNS remote runs with small buffers (SMALL_OPTS), to see what meets the
# memory target if the defaults do not.
#
# Usage: bash benches/s3/run.sh
# Env:   RUNS=3            rounds (each: one local run, one s3 run)
#        SMALL_RUNS=1      remote runs with SMALL_OPTS after the rounds (not in the medians)
#        SMALL="k=v ..."   the storage options of those runs (default below)
#        ROWS=1000000      rows per input file (the data set is 8 files of ROWS rows)
#        WORK=/tmp/pm-s3   work dir (logs, outputs, journal, results.md)
#        DATA=/tmp/pm-peers/data   input cache, shared with benches/peers/run.sh
#        SKIP_BUILD=1      do not run `cargo build --release`
#        PM=path           prefix-merge binary (default target/release/prefix-merge)
# Needs:  .venv at the repo root with moto[server] 5.2.5, boto3 and pyarrow.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RUNS=${RUNS:-3}
SMALL_RUNS=${SMALL_RUNS:-1}
ROWS=${ROWS:-1000000}
WORK=${WORK:-/tmp/pm-s3}
DATA=${DATA:-/tmp/pm-peers/data}
PY=$ROOT/.venv/bin/python
BUCKET=bench
# Remote tuning of the small-buffer runs (the defaults are part_size=5MiB,
# upload_concurrency=1, fetch_size=1MiB, prefetch=1MiB).
SMALL=${SMALL:-prefetch=512KiB fetch_size=512KiB}
SMALL_OPTS=()
for kv in $SMALL; do SMALL_OPTS+=(--storage-option "$kv"); done

[[ -x $PY ]] && "$PY" -c 'import moto, boto3, pyarrow' ||
    { echo "run.sh: $PY cannot import moto, boto3 and pyarrow" >&2; exit 1; }
[[ ${SKIP_BUILD:-0} == 1 ]] || (cd "$ROOT" && cargo build --release)
rm -rf "$WORK" && mkdir -p "$WORK/logs" "$WORK/journal"
# Snapshot the binary so a concurrent rebuild cannot swap it mid-run.
cp "${PM:-$ROOT/target/release/prefix-merge}" "$WORK/prefix-merge"
PM=$WORK/prefix-merge
rev=$(git -C "$ROOT" rev-parse --short HEAD)
git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock || rev="$rev (+ uncommitted changes)"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# --- Inputs: the `aligned-disjoint` set of benches/peers/run.sh, same flags, same cache key.
gen_args="--files 8 --rows $ROWS --layout aligned --overlap disjoint"
data=$DATA/aligned-disjoint-$(printf '%s' "$gen_args" | cksum | cut -d' ' -f1)
if [[ ! -e $data/.done ]]; then
    echo "generating aligned-disjoint: gen $gen_args" >&2
    rm -rf "$data"
    "$PM" gen --output-dir "$data/in" $gen_args >/dev/null
    touch "$data/.done"
fi
inputs=("$data"/in/split_*.parquet)
expect=$("$PY" "$ROOT/benches/peers/rows.py" "${inputs[@]}")
input_bytes=$(cat "${inputs[@]}" | wc -c)  # also warms the page cache
echo "inputs: ${#inputs[@]} files, $expect rows, $input_bytes bytes ($data/in)" >&2

# --- The loopback S3 server: a free port, stopped on exit.
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$PY" -m moto.server -H 127.0.0.1 -p "$port" >"$WORK/logs/moto.log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 40); do  # ready within ~20 s, or give up
    curl -sf -o /dev/null "http://127.0.0.1:$port/" && break
    kill -0 "$moto_pid" 2>/dev/null || { echo "run.sh: moto exited (see $WORK/logs/moto.log)" >&2; exit 1; }
    sleep 0.5
done
curl -sf -o /dev/null "http://127.0.0.1:$port/" ||
    { echo "run.sh: moto not ready on port $port after 20 s" >&2; exit 1; }

export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 \
    AWS_ENDPOINT=http://127.0.0.1:$port AWS_ALLOW_HTTP=true \
    AWS_VIRTUAL_HOSTED_STYLE_REQUEST=false PREFIX_MERGE_JOURNAL_DIR=$WORK/journal

s3() {  # boto3 helper: mkbucket | put FILE... | get PREFIX DIR | rm PREFIX
    "$PY" - "$@" <<'EOF'
import os, sys
from pathlib import Path
import boto3

client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT"])
bucket, (cmd, *args) = "bench", sys.argv[1:]

def keys(prefix):
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]

if cmd == "mkbucket":
    client.create_bucket(Bucket=bucket)
elif cmd == "put":  # FILE... -> in/NAME
    for f in map(Path, args):
        client.upload_file(str(f), bucket, f"in/{f.name}")
elif cmd == "get":  # every object under PREFIX -> DIR/NAME
    prefix, out = args
    Path(out).mkdir(parents=True, exist_ok=True)
    for key in keys(prefix):
        client.download_file(bucket, key, str(Path(out) / Path(key).name))
elif cmd == "rm":  # every object under PREFIX
    for key in keys(args[0]):
        client.delete_object(Bucket=bucket, Key=key)
EOF
}

s3 mkbucket
s3 put "${inputs[@]}"  # not timed
remote_inputs=()
for f in "${inputs[@]}"; do remote_inputs+=("s3://$BUCKET/in/$(basename "$f")"); done

TSV=$WORK/runs.tsv
: >"$TSV"
run_one() {  # round mode output_dir merge-args... -> one line in $TSV
    local round=$1 mode=$2 out=$3 log=$WORK/logs/$1.$2 status=ok; shift 3
    /usr/bin/time -v -o "$log.time" "$PM" merge --output-dir "$out" --num-outputs 1 "$@" \
        >"$log.out" 2>"$log.err" || status="exit $? (see $log.err)"
    local wall rss io
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, a, ":"); s = 0;
                        for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s}' "$log.time")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log.time")
    # storage: N GETs (B bytes fetched), M PUTs (U bytes uploaded)  ->  "N B M U"
    io=$(sed -nE 's/^storage: ([0-9]+) GETs \(([0-9]+) bytes fetched\), ([0-9]+) PUTs \(([0-9]+) bytes uploaded\)$/\1 \2 \3 \4/p' "$log.out")
    [[ -n $io ]] || io="- - - -"
    # The last field, the output check, is "-" until check_remote fills it in.
    printf '%s\t%s\t%s\t%s\t%s\t%s\t-\n' "$round" "$mode" "$status" "$wall" "$rss" "${io// /$'\t'}" >>"$TSV"
    echo "  round $round $mode: ${wall}s, $((rss / 1024)) MiB, $status" >&2
    [[ $status == ok ]]
}

check_remote() {  # round prefix local_dir -> "identical" / what differs, on $TSV's last line
    local round=$1 prefix=$2 local_dir=$3 dl=$WORK/dl verdict rows a b
    rm -rf "$dl"
    s3 get "$prefix/" "$dl"
    rows=$("$PY" "$ROOT/benches/peers/rows.py" "$dl")
    a=$(cat "$local_dir"/*.parquet | sha256sum | cut -c1-16) || a="missing"
    b=$(cat "$dl"/*.parquet | sha256sum | cut -c1-16)
    if [[ $rows != "$expect" ]]; then verdict="rows $rows != $expect"
    elif [[ $(ls "$dl"/*.parquet | wc -l) != 1 ]]; then verdict="$(ls "$dl" | wc -l) objects, expected 1"
    elif [[ $a == "$b" ]]; then verdict="identical (sha256 $a)"
    else verdict="DIFFERENT (local sha256 $a, s3 $b)"
    fi
    echo "  round $round s3 output: $rows rows, $verdict" >&2
    sed -i '$ s|\t-$|\t'"$verdict"'|' "$TSV"  # the s3 run's line: the last one
    rm -rf "$dl"
    s3 rm "$prefix/"  # moto holds objects in its own memory
}

echo "server: moto on 127.0.0.1:$port; $RUNS rounds of local then s3" >&2
local_out=$WORK/out-local
for round in $(seq "$RUNS"); do
    rm -rf "$local_out"
    run_one "$round" local "$local_out" "${inputs[@]}" || true
    if run_one "$round" s3 "s3://$BUCKET/out-$round" "${remote_inputs[@]}"; then
        check_remote "$round" "out-$round" "$local_out"
    fi
done
# Small buffers; checked against the last round's local output.
for i in $(seq "$SMALL_RUNS"); do
    if run_one "small-$i" s3-small "s3://$BUCKET/out-small-$i" "${SMALL_OPTS[@]}" "${remote_inputs[@]}"; then
        check_remote "small-$i" "out-small-$i" "$local_out"
    fi
done
rm -rf "$local_out"

{
    echo "# prefix-merge: 8 x $ROWS aligned-disjoint, local files vs loopback S3 (moto)"
    echo
    echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)," \
         "$(awk '/MemTotal/ {printf "%.1f GiB RAM", $2 / 2^20}' /proc/meminfo), $(uname -sr);" \
         "moto $("$PY" -c 'import moto; print(moto.__version__)') on the same CPUs;" \
         "load average $load_start at start, $(cut -d' ' -f1-3 /proc/loadavg) at end"
    echo "- versions: $("$PM" --version), git $rev"
    echo "- inputs: ${#inputs[@]} files, $expect rows, $input_bytes bytes; RUNS=$RUNS, SMALL_RUNS=$SMALL_RUNS"
    echo "- small buffers: ${SMALL_OPTS[*]}"
    echo
    "$PY" - "$TSV" "$input_bytes" <<'EOF'
import statistics, sys

tsv, input_bytes = sys.argv[1], int(sys.argv[2])
MiB = 2**20
rows = [line.rstrip("\n").split("\t") for line in open(tsv) if line.strip()]
print("| run | tool | wall s | max RSS MiB | GETs | MiB fetched | fetched / input | PUTs | MiB uploaded | output check |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
for rnd, mode, status, wall, rss, gets, fetched, puts, uploaded, check in rows:
    io = lambda v, f: "-" if v == "-" else f(int(v))
    print(f"| {rnd} | {mode} | {float(wall):.2f} | {int(rss) / 1024:.0f} | {gets} "
          f"| {io(fetched, lambda b: f'{b / MiB:.1f}')} "
          f"| {io(fetched, lambda b: f'{b / input_bytes:.3f}')} | {puts} "
          f"| {io(uploaded, lambda b: f'{b / MiB:.1f}')} "
          f"| {check if status == 'ok' else status} |")

def median(mode, col):
    return statistics.median(float(r[col]) for r in rows
                             if r[1] == mode and r[2] == "ok")
print()
print("| mode | median wall s | median max RSS MiB |")
print("| --- | ---: | ---: |")
med = {m: (median(m, 3), median(m, 4) / 1024) for m in ("local", "s3")}
for m, (w, r) in med.items():
    print(f"| {m} | {w:.2f} | {r:.1f} |")
print()
(lw, lr), (sw, sr) = med["local"], med["s3"]
print(f"- wall s3 / local: {sw / lw:.2f}x; RSS s3 / local: {sr / lr:.3f}x (target <= 1.5x)")
for r in rows:
    if r[1] == "s3-small" and r[2] == "ok":
        w, m = float(r[3]), int(r[4]) / 1024
        print(f"- small buffers ({r[0]}): {w:.2f} s ({w / lw:.2f}x the local median), "
              f"{m:.1f} MiB ({m / lr:.3f}x the local median)")
EOF
} | tee "$WORK/results.md"
