#!/usr/bin/env bash
# Run every cargo-fuzz target of prefix-merge for SECONDS each, one after the other.
#
#   fuzz/run.sh SECONDS [TARGET...]
#
# Installs cargo-fuzz if missing, builds all targets (works on stable through
# RUSTC_BOOTSTRAP=1), then fuzzes each target starting from its seed corpus
# fuzz/corpus/TARGET (read only); inputs libFuzzer finds go to the scratch corpus
# fuzz/target/work-corpus/TARGET (kept between runs, git-ignored). Full logs are in
# fuzz/target/fuzz-logs/TARGET.log, crash inputs in fuzz/artifacts/TARGET/.
# Exits non-zero if any target crashed (panic, timeout, OOM, sanitizer report).
#
# Environment: PM_FUZZ_STRICT=1 turns on the stricter checks described in
# fuzz/README.md.
set -euo pipefail

if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
    echo "usage: $0 SECONDS [TARGET...]" >&2
    exit 2
fi
seconds=$1
shift

cd "$(dirname "${BASH_SOURCE[0]}")"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

all_targets=(sort_schema prefix_key merge_small corrupt_input)
if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    targets=("${all_targets[@]}")
fi

# Limits: a run longer than 10 s, more than 2 GiB resident or a single
# allocation above 1 GiB is a bug.
flags=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1)

echo "building fuzz targets" >&2
cargo fuzz build

mkdir -p target/fuzz-logs
failed=()
for t in "${targets[@]}"; do
    if [[ ! -d corpus/$t ]]; then
        echo "unknown target $t (no corpus/$t)" >&2
        exit 2
    fi
    mkdir -p "target/work-corpus/$t"
    log="target/fuzz-logs/$t.log"
    echo "== $t: fuzzing for ${seconds}s (log: fuzz/$log)" >&2
    rc=0
    cargo fuzz run "$t" "target/work-corpus/$t" "corpus/$t" -- \
        -max_total_time="$seconds" "${flags[@]}" >"$log" 2>&1 || rc=$?
    execs=$(grep -a -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -n1 | awk '{print $2}' || true)
    if [[ $rc -ne 0 ]]; then
        echo "!! $t CRASHED (exit $rc) after ${execs:-?} execs; excerpt:" >&2
        # The Rust panic and its frames (without source lines), else the sanitizer report.
        if grep -a -q 'panicked at' "$log"; then
            grep -a -A60 'panicked at' "$log" | grep -v '^ *at ' | head -n 30 >&2 || true
        else
            grep -a -E -A20 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)' "$log" | head -n 30 >&2 || true
        fi
        grep -a -E 'Test unit written to|minimize it' "$log" >&2 || true
        failed+=("$t")
    else
        echo "ok $t: ${execs:-?} execs in ${seconds}s" >&2
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "all targets ran ${seconds}s without a crash" >&2
