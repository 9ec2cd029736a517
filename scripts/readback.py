#!/usr/bin/env python3
"""Read Parquet files back with pyarrow, DuckDB, Polars and DataFusion, independently of prefix-merge.

Usage: readback.py [--expect-rows N] FILE_OR_DIR...

Directories are expanded to their *.parquet files (sorted). For each file prints:
path, row count by pyarrow and by duckdb, number of row groups, whether the rows
are sorted by the file's `qh.sort_fields` (default: metric_name|service|env|
datacenter|region|host|timeseries_id|timestamp_secs/V2), whether each value of the
first `qh.rg_partition_prefix_len` sort columns lies in one row group (informative
only), and the `qh.*` key-value metadata keys.

Every file is also read whole by pyarrow, DuckDB, Polars and DataFusion
(scripts/readback_peers.py), which must agree on the row count and on an
order-independent checksum of every column's contents.

Exits non-zero if the readers disagree on a row count or a column checksum, a file
is not sorted, or the total row count differs from --expect-rows. Prints
`readback: N files, R rows, 4 readers agree` on success.
"""
import argparse
import re
import sys
from pathlib import Path

import datafusion
import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from readback_peers import finish, readers_agree

DEFAULT_SORT = "metric_name|service|env|datacenter|region|host|timeseries_id|timestamp_secs/V2"


def parse_sort_fields(spec):
    """`[name=]col|+col|-col|col-|.../V2` -> [(col, "ascending"|"descending")]."""
    spec = re.sub(r"/V\d+$", "", spec.strip())
    spec = re.sub(r"^[^|=]*=", "", spec)
    keys = []
    for field in filter(None, spec.split("|")):
        desc = None
        if field[0] in "+-":
            desc, field = field[0] == "-", field[1:]
        elif field[-1] in "+-":
            desc, field = field[-1] == "-", field[:-1]
        if desc is None:
            desc = field in ("timestamp", "timestamp_secs")
        keys.append((field, "descending" if desc else "ascending"))
    return keys


def plain(col):
    """Decode dictionary columns so that comparisons use the values."""
    return pc.cast(col, col.type.value_type) if pa.types.is_dictionary(col.type) else col


def first_unsorted_row(table, keys):
    """Index of the first row that differs from the sorted order, or None."""
    if table.num_rows == 0 or not keys:
        return None
    cols = {name: plain(table[name]) for name, _ in keys}
    try:  # pyarrow >= 25: per-key null placement
        order = pc.sort_indices(pa.table(cols), sort_keys=[k + ("at_end",) for k in keys])
    except (TypeError, ValueError, pa.ArrowInvalid):
        order = pc.sort_indices(pa.table(cols), sort_keys=keys, null_placement="at_end")
    for name, col in cols.items():
        same = pc.fill_null(pc.equal(col, pc.take(col, order)), False)
        both_null = pc.and_(pc.is_null(col), pc.is_null(pc.take(col, order)))
        bad = pc.invert(pc.or_(same, both_null))
        if pc.any(bad).as_py():
            return pc.index(bad, True).as_py()  # first bad row in this column
    return None


def prefix_split(pf, table, keys, plen):
    """Sort-prefix values (first plen keys) spread over more than one row group."""
    if plen <= 0:
        return 0
    names = [name for name, _ in keys[:plen]]
    seen, split, start = {}, 0, 0
    for rg in range(pf.metadata.num_row_groups):
        n = pf.metadata.row_group(rg).num_rows
        part = table.slice(start, n).select(names)
        start += n
        for prefix in set(zip(*(plain(part[c]).to_pylist() for c in names))):
            if seen.setdefault(prefix, rg) != rg:
                split += 1
    return split


def check(path, con, ctx):
    pf = pq.ParquetFile(path)
    meta = {k.decode(): v.decode() for k, v in (pf.metadata.metadata or {}).items()}
    qh = sorted(k for k in meta if k.startswith("qh."))
    table = pq.read_table(path)
    pa_rows = table.num_rows
    db_rows = con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()[0]
    keys = parse_sort_fields(meta.get("qh.sort_fields", DEFAULT_SORT))
    missing = [n for n, _ in keys if n not in table.column_names]
    keys = [k for k in keys if k[0] not in missing]
    bad_row = first_unsorted_row(table, keys)
    split = prefix_split(pf, table, keys, int(meta.get("qh.rg_partition_prefix_len", 0)))
    sorted_txt = "yes" if bad_row is None else f"NO (first out-of-order row {bad_row})"
    del table
    _, peer_problems = readers_agree(path, con, ctx)
    print(f"{path}: pyarrow={pa_rows} duckdb={db_rows} row_groups={pf.metadata.num_row_groups} "
          f"sorted={sorted_txt} prefix_split_values={split} qh_keys={','.join(qh) or '-'} "
          f"readers_agree={'yes' if not peer_problems else 'NO'}")
    if "qh.sort_fields" not in meta:
        print(f"  note: no qh.sort_fields, used default {DEFAULT_SORT}")
    if missing:
        print(f"  note: sort columns not in file (ignored): {','.join(missing)}")
    problems = []
    if pa_rows != db_rows:
        problems.append(f"row count pyarrow={pa_rows} duckdb={db_rows}")
    if bad_row is not None:
        problems.append("not sorted")
    problems += peer_problems
    return pa_rows, problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--expect-rows", type=int)
    args = ap.parse_args()
    files = []
    for p in map(Path, args.paths):
        files += sorted(p.glob("*.parquet")) if p.is_dir() else [p]
    if not files:
        sys.exit("readback: no .parquet files found")
    con, ctx = duckdb.connect(), datafusion.SessionContext()
    total, failures = 0, []
    for f in files:
        rows, problems = check(f, con, ctx)
        total += rows
        failures += [f"{f}: {p}" for p in problems]
    if args.expect_rows is not None and total != args.expect_rows:
        failures.append(f"total rows {total} != expected {args.expect_rows}")
    finish(len(files), total, failures)


if __name__ == "__main__":
    main()
