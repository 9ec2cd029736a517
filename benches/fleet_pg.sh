#!/usr/bin/env bash
# Issue 19: 1,000 small splits over 4 windows compacted by 1, 2 and 4
# `compact --until-stable` worker processes sharing one PostgreSQL catalog
# (started here: initdb + pg_ctl on a free 127.0.0.1 port, as the postgres OS
# user when run as root; splits in a local directory). For each worker count:
# wall time, merge jobs committed, jobs/s, and from the workers' stderr the
# catalog round trips and the time spent waiting for the catalog, per job.
#
#   bash benches/fleet_pg.sh [BIN]     (BIN default: target/release/prefix-merge)
set -euo pipefail
BIN=$(realpath "${1:-target/release/prefix-merge}")
FILES=${FILES:-1000}
ROWS=${ROWS:-100}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d /tmp/pm-fleet-bench.XXXXXX)
if [ "$(id -u)" = 0 ]; then
    chown postgres: "$work"
    pg() { runuser -u postgres -- "$PGBIN/$1" "${@:2}"; }
else
    pg() { "$PGBIN/$1" "${@:2}"; }
fi
pg initdb -D "$work/data" -A trust -U postgres >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pg pg_ctl -D "$work/data" -l "$work/pg.log" -w \
    -o "-p $port -k $work -c listen_addresses=127.0.0.1" start >/dev/null
trap 'pg pg_ctl -D "$work/data" -m immediate -w stop >/dev/null; rm -rf "$work"' EXIT
url="postgres://postgres@127.0.0.1:$port/postgres"
psql() { "$PGBIN/psql" -h 127.0.0.1 -p "$port" -U postgres -At -c "$1" postgres; }

"$BIN" gen --output-dir "$work/in" --files "$FILES" --rows "$ROWS" --windows 4 >/dev/null
inputs=("$work"/in/*.parquet)
first=${inputs[0]}
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), $(nproc) cores (shared by the workers, the server and the rest of the machine)"
printf 'workers\twall_s\tjobs\tjobs_per_s\tround_trips_per_job\tcatalog_ms_per_job\tconnections_per_job\tconnect_ms_per_job\n'
for W in 1 2 4; do
    name="w$W"
    dir="$work/t$W"
    "$BIN" table create "$name" --catalog "$url" --splits-url "$dir" --like "$first" \
        --set merge_factor=4 --set max_merge_factor=4 --set maturity_age=100000d >/dev/null
    "$BIN" table add "$name" --catalog "$url" "$work"/in/*.parquet >/dev/null
    start=$(date +%s.%N)
    for i in $(seq "$W"); do
        "$BIN" compact "$name" --catalog "$url" --until-stable >/dev/null 2>"$work/$name.$i.err" &
    done
    wait
    end=$(date +%s.%N)
    jobs=$(psql "SELECT count(*) FROM pm_history WHERE tbl = '$name' AND kind <> 'add'")
    # "catalog: N round trips, S s waiting; of which C connections, CS s"
    read -r trips secs conns csecs < <(cat "$work/$name".*.err |
        awk '/^catalog: / {t += $2; s += $5; c += $10; cs += $12} END {print t, s, c, cs}')
    awk -v w="$W" -v a="$start" -v b="$end" -v j="$jobs" -v t="$trips" -v s="$secs" \
        -v c="$conns" -v cs="$csecs" 'BEGIN { wall = b - a
        printf "%d\t%.1f\t%d\t%.2f\t%.1f\t%.2f\t%.2f\t%.2f\n", w, wall, j, j / wall, t / j, 1000 * s / j, c / j, 1000 * cs / j }'
done
