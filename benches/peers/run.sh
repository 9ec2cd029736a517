#!/usr/bin/env bash
# Side-by-side benchmark: prefix-merge vs DuckDB vs Polars merging sorted Parquet files
# into one sorted output. Tools run round-robin for RUNS rounds; the table reports the
# median wall time and median peak RSS (/usr/bin/time -v) per data set and tool.
#
# Usage: bash benches/peers/run.sh
# Env:   WORK=/tmp/pm-peers   work dir (inputs kept under $WORK/data, table in $WORK/results.md)
#        ROWS=1000000         rows per input file (8 files; the 4x set uses 4*ROWS, 80 metrics)
#        RUNS=3               rounds
#        SETS="aligned-disjoint aligned-interleave single-disjoint aligned-disjoint-4x"
#        PEERS_4X=1           also run DuckDB and Polars on the 4x set (default: prefix-merge only)
#        CHECK_SORT=0         skip the round-1 order check (scripts/readback.py) of every output
#        PM=path              prefix-merge binary (default target/release/prefix-merge)
# Example: ROWS=100000 RUNS=1 SETS="aligned-disjoint single-disjoint" bash benches/peers/run.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=${WORK:-/tmp/pm-peers}
ROWS=${ROWS:-1000000}
RUNS=${RUNS:-3}
SETS=${SETS:-aligned-disjoint aligned-interleave single-disjoint aligned-disjoint-4x}
CHECK_SORT=${CHECK_SORT:-1}
PY=$ROOT/.venv/bin/python
TSV=$WORK/runs.tsv

[[ -x $PY ]] || bash "$ROOT/scripts/setup-peers.sh" >&2
mkdir -p "$WORK/data" "$WORK/logs"
: >"$TSV"
# Snapshot the binary so a concurrent rebuild cannot swap it mid-run; wait while it is missing.
for _ in $(seq 120); do [[ -x ${PM:-$ROOT/target/release/prefix-merge} ]] && break; sleep 5; done
cp "${PM:-$ROOT/target/release/prefix-merge}" "$WORK/prefix-merge"
PM=$WORK/prefix-merge
rev=$(git -C "$ROOT" rev-parse --short HEAD)
git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock || rev="$rev (+ uncommitted changes)"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

gen_args() {  # data set -> `prefix-merge gen` flags
    case $1 in
        aligned-disjoint)    echo "--files 8 --rows $ROWS --layout aligned --overlap disjoint" ;;
        aligned-interleave)  echo "--files 8 --rows $ROWS --layout aligned --overlap interleave" ;;
        single-disjoint)     echo "--files 8 --rows $ROWS --layout single --overlap disjoint" ;;
        aligned-disjoint-4x) echo "--files 8 --rows $((4 * ROWS)) --metrics 80 --layout aligned --overlap disjoint" ;;
        *) echo "run.sh: unknown data set '$1'" >&2; return 1 ;;
    esac
}

run_one() {  # set tool round expected_rows inputs... -> appends one line to $TSV
    local set=$1 tool=$2 round=$3 expect=$4 status=ok; shift 4
    local out=$WORK/out/$tool log=$WORK/logs/$set.$tool.$round cmd
    case $tool in
        prefix-merge) cmd=("$PM" merge --output-dir "$out" --num-outputs 1 "$@") ;;
        duckdb)       cmd=("$PY" "$HERE/duckdb_merge.py" "$out/out.parquet" "$@") ;;
        polars)       cmd=("$PY" "$HERE/polars_merge.py" "$out/out.parquet" "$@") ;;
    esac
    rm -rf "$out" && mkdir -p "$out"
    /usr/bin/time -v -o "$log.time" "${cmd[@]}" >"$log.out" 2>&1 || status="exit status $? (see $log.out)"
    local wall rss rows
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, a, ":"); s = 0;
                        for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s}' "$log.time")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log.time")
    if [[ $status == ok ]]; then
        rows=$("$PY" "$HERE/rows.py" "$out" 2>>"$log.out") || rows="unreadable"
        [[ $rows == "$expect" ]] || status="output rows $rows != input rows $expect"
    fi
    if [[ $status == ok && $CHECK_SORT == 1 && $round == 1 ]]; then
        "$PY" "$ROOT/scripts/readback.py" --expect-rows "$expect" "$out" >"$log.readback" 2>&1 ||
            status="order/readback check failed (see $log.readback)"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$set" "$tool" "$round" "$status" "$wall" "$rss" \
        "$(du -sb "$out" | cut -f1)" >>"$TSV"
    echo "  $set round $round $tool: ${wall}s, $((rss / 1024)) MiB, $status" >&2
    rm -rf "$out"
}

for set in $SETS; do
    args=$(gen_args "$set")
    data=$WORK/data/$set-r$ROWS
    if [[ ! -e $data/.done ]]; then
        echo "generating $set: gen $args" >&2
        rm -rf "$data"
        "$PM" gen --output-dir "$data" $args >/dev/null
        touch "$data/.done"
    fi
    inputs=("$data"/split_*.parquet)
    expect=$("$PY" "$HERE/rows.py" "${inputs[@]}")
    cat "${inputs[@]}" >/dev/null  # warm the page cache equally for every tool
    tools=(prefix-merge duckdb polars)
    [[ $set == *-4x && ${PEERS_4X:-0} != 1 ]] && tools=(prefix-merge)
    echo "benchmarking $set: ${#inputs[@]} files, $expect rows, tools: ${tools[*]}" >&2
    for round in $(seq "$RUNS"); do
        for tool in "${tools[@]}"; do run_one "$set" "$tool" "$round" "$expect" "${inputs[@]}"; done
    done
done

{
    echo "# prefix-merge vs DuckDB vs Polars: merge 8 sorted Parquet files into 1"
    echo
    echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)," \
         "$(awk '/MemTotal/ {printf "%.1f GiB RAM", $2 / 2^20}' /proc/meminfo), $(uname -sr);" \
         "load average $load_start at start, $(cut -d' ' -f1-3 /proc/loadavg) at end"
    echo "- versions: $("$PM" --version), git $rev; $("$PY" -c 'import duckdb, polars, pyarrow
print(f"duckdb {duckdb.__version__}, polars {polars.__version__}, pyarrow {pyarrow.__version__}")')"
    echo "- settings: ROWS=$ROWS per file, RUNS=$RUNS rounds (round-robin), SETS=$SETS"
    echo "- DuckDB/Polars times include Python start-up and import" \
         "($(/usr/bin/time -f %e "$PY" -c 'import duckdb' 2>&1)s / $(/usr/bin/time -f %e "$PY" -c 'import polars' 2>&1)s);" \
         "all tools write ZSTD(3)"
    echo
    "$PY" "$HERE/report.py" "$TSV"
} | tee "$WORK/results.md"
