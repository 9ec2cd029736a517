#!/usr/bin/env bash
# Side-by-side benchmark: prefix-merge vs DataFusion vs DuckDB vs Polars merging sorted
# Parquet files into one sorted output. Tools run round-robin for RUNS rounds; the table
# reports the median wall time and median peak RSS (/usr/bin/time -v) per data set and tool.
#
# Usage: bash benches/peers/run.sh
# Env:   WORK=/tmp/pm-peers   work dir (inputs kept under $WORK/data, table in $WORK/results.md)
#        ROWS=1000000         rows per input file of the scaled sets (see gen_args below;
#                             `tiny` and `fanin500` have fixed sizes)
#        RUNS=3               rounds
#        SETS="aligned-disjoint aligned-interleave single-disjoint aligned-disjoint-4x"
#                             more: m200-disjoint m200-interleave m200-single default m800-4x
#                             tiny fanin500
#        TOOLS="prefix-merge datafusion duckdb polars"   tools to run, in this order
#        PEERS_4X=1           also run the peers on the *-4x sets (default: prefix-merge only)
#        CHECK_SORT=0         skip the round-1 order check (scripts/readback.py) of every output
#        PM=path              prefix-merge binary (default target/release/prefix-merge)
#        DF=path              DataFusion peer (default /work/df-target/release/df-merge, built
#                             from benches/peers/datafusion; skipped with a message if missing)
#        BASELINE=tool        the "wall vs" column (default duckdb, else datafusion, if run)
# Example: ROWS=100000 RUNS=1 SETS="aligned-disjoint single-disjoint" bash benches/peers/run.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=${WORK:-/tmp/pm-peers}
ROWS=${ROWS:-1000000}
RUNS=${RUNS:-3}
SETS=${SETS:-aligned-disjoint aligned-interleave single-disjoint aligned-disjoint-4x}
CHECK_SORT=${CHECK_SORT:-1}
TOOLS=${TOOLS:-prefix-merge datafusion duckdb polars}
DF=${DF:-/work/df-target/release/df-merge}
# The order every tool writes, as SQL (DataFusion's WITH ORDER and ORDER BY): the gen sort
# schema metric_name|service|env|datacenter|region|host|timeseries_id|timestamp_secs/V2,
# where timestamp_secs defaults to descending and nulls sort last (docs/contract.md; gen also
# writes the same Parquet sorting_columns). Same order as duckdb_merge.py / polars_merge.py.
SORT_SQL="metric_name ASC NULLS LAST, service ASC NULLS LAST, env ASC NULLS LAST,\
 datacenter ASC NULLS LAST, region ASC NULLS LAST, host ASC NULLS LAST,\
 timeseries_id ASC NULLS LAST, timestamp_secs DESC NULLS LAST"
PY=$ROOT/.venv/bin/python
TSV=$WORK/runs.tsv

# Idempotent: installs only what is missing (datafusion for scripts/readback.py).
bash "$ROOT/scripts/setup-peers.sh" >&2
mkdir -p "$WORK/data" "$WORK/logs"
: >"$TSV"
# Snapshot the binary so a concurrent rebuild cannot swap it mid-run; wait while it is missing.
for _ in $(seq 120); do [[ -x ${PM:-$ROOT/target/release/prefix-merge} ]] && break; sleep 5; done
cp "${PM:-$ROOT/target/release/prefix-merge}" "$WORK/prefix-merge"
PM=$WORK/prefix-merge
tools=()
for tool in $TOOLS; do
    case $tool in
        prefix-merge | duckdb | polars) tools+=("$tool") ;;
        datafusion)
            if [[ -x $DF ]]; then
                cp "$DF" "$WORK/df-merge" && DF=$WORK/df-merge && tools+=("$tool")
            else
                echo "run.sh: skipping datafusion: $DF is not executable (build it: cd" \
                     "benches/peers/datafusion && CARGO_TARGET_DIR=/work/df-target cargo build --release)" >&2
            fi ;;
        *) echo "run.sh: unknown tool '$tool'" >&2; exit 1 ;;
    esac
done
[[ ${#tools[@]} -gt 0 ]] || { echo "run.sh: no tool to run" >&2; exit 1; }
if [[ -z ${BASELINE:-} ]]; then
    BASELINE=-
    for tool in datafusion duckdb; do  # the last one run wins
        if [[ " ${tools[*]} " == *" $tool "* ]]; then BASELINE=$tool; fi
    done
fi
rev=$(git -C "$ROOT" rev-parse --short HEAD)
git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock || rev="$rev (+ uncommitted changes)"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

gen_args() {  # data set -> `prefix-merge gen` flags
    case $1 in
        aligned-disjoint)    echo "--files 8 --rows $ROWS --layout aligned --overlap disjoint" ;;
        aligned-interleave)  echo "--files 8 --rows $ROWS --layout aligned --overlap interleave" ;;
        single-disjoint)     echo "--files 8 --rows $ROWS --layout single --overlap disjoint" ;;
        aligned-disjoint-4x) echo "--files 8 --rows $((4 * ROWS)) --metrics 80 --layout aligned --overlap disjoint" ;;
        m200-disjoint)       echo "--files 8 --rows $ROWS --metrics 200 --series 20000 --layout aligned --overlap disjoint" ;;
        m200-interleave)     echo "--files 8 --rows $ROWS --metrics 200 --series 20000 --layout aligned --overlap interleave" ;;
        m200-single)         echo "--files 8 --rows $ROWS --metrics 200 --series 20000 --layout single --overlap disjoint" ;;
        default)             echo "--files 8 --rows $ROWS" ;;
        m800-4x)             echo "--files 8 --rows $((4 * ROWS)) --metrics 800 --series 80000 --layout aligned --overlap disjoint" ;;
        tiny)                echo "--files 3 --rows 3650 --metrics 3000 --series 3650" ;;
        # 500 files x 240 rows = 120,000 rows; 100 series = 5 per metric (gen's default,
        # one series per 60 rows of a file, would give only 4 series and so 4 metrics).
        fanin500)            echo "--files 500 --rows 240 --metrics 20 --series 100" ;;
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
        datafusion)   cmd=("$DF" "$out/out.parquet" "$SORT_SQL" "$indir") ;;  # reads all of $indir
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
    # Keyed by the gen flags, so a changed ROWS or set definition generates afresh.
    data=$WORK/data/$set-$(printf '%s' "$args" | cksum | cut -d' ' -f1)
    indir=$data/in  # only the inputs: DataFusion's table LOCATION is this directory
    if [[ ! -e $data/.done ]]; then
        echo "generating $set: gen $args" >&2
        rm -rf "$data"
        "$PM" gen --output-dir "$indir" $args >/dev/null
        touch "$data/.done"
    fi
    inputs=("$indir"/split_*.parquet)
    expect=$("$PY" "$HERE/rows.py" "${inputs[@]}")
    cat "${inputs[@]}" >/dev/null  # warm the page cache equally for every tool
    set_tools=("${tools[@]}")
    if [[ $set == *-4x && ${PEERS_4X:-0} != 1 ]]; then
        set_tools=()
        if [[ " ${tools[*]} " == *" prefix-merge "* ]]; then set_tools=(prefix-merge); fi
    fi
    echo "benchmarking $set: ${#inputs[@]} files, $expect rows, tools: ${set_tools[*]:-none}" >&2
    for round in $(seq "$RUNS"); do
        for tool in "${set_tools[@]}"; do run_one "$set" "$tool" "$round" "$expect" "${inputs[@]}"; done
    done
done

all_tools="${tools[*]}"
{
    echo "# ${all_tools// / vs }: merge sorted Parquet files into 1"
    echo
    echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)," \
         "$(awk '/MemTotal/ {printf "%.1f GiB RAM", $2 / 2^20}' /proc/meminfo), $(uname -sr);" \
         "load average $load_start at start, $(cut -d' ' -f1-3 /proc/loadavg) at end"
    df_version= df_note=
    if [[ " ${tools[*]} " == *" datafusion "* ]]; then
        df_version=" $("$DF" --version);"
        df_note="DataFusion: target_partitions = input files, table declared WITH ORDER; "
    fi
    echo "- versions: $("$PM" --version), git $rev;$df_version" \
         "$("$PY" -c 'import duckdb, polars, pyarrow
print(f"duckdb {duckdb.__version__}, polars {polars.__version__}, pyarrow {pyarrow.__version__}")')"
    echo "- settings: ROWS=$ROWS per file, RUNS=$RUNS rounds (round-robin), SETS=$SETS"
    echo "- ${df_note}DuckDB/Polars times include Python start-up and import" \
         "($(/usr/bin/time -f %e "$PY" -c 'import duckdb' 2>&1)s / $(/usr/bin/time -f %e "$PY" -c 'import polars' 2>&1)s);" \
         "all tools write ZSTD(3)"
    echo
    "$PY" "$HERE/report.py" "$TSV" "$BASELINE"
} | tee "$WORK/results.md"
