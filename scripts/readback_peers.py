#!/usr/bin/env python3
"""Read one Parquet file with pyarrow, DuckDB, Polars and DataFusion and compare.

Usage: readback_peers.py FILE_OR_DIR...   (also called by readback.py for every file)

Each reader decodes the whole file into Arrow; each column is brought to one
canonical Arrow type (dictionaries decoded, string/binary views and large types to
large_string/large_binary, timestamps to int64 nanoseconds, dates and integers to
int64/uint64, decimals to their text) and summarised order-independently (readers
may return rows in another order):
- integers, timestamps, dates, booleans, floats: non-null count and the sum mod 2^64
  of a 64-bit mix of each value's bits (floats by their bits: -0.0 and +0.0 differ,
  every NaN counts as one canonical NaN);
- strings, binary, decimals: non-null count, distinct count, and total byte length.
The file passes when all four readers give the same row count and the same
summary for every column. Prints one line per file and
`readback: N files, R rows, 4 readers agree`.
"""
import sys
from pathlib import Path

import datafusion
import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

READERS = ("pyarrow", "duckdb", "polars", "datafusion")
MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def read(reader, path, con, ctx):
    """The whole file as a pyarrow Table, decoded by `reader`."""
    if reader == "pyarrow":
        return pq.read_table(path)
    if reader == "duckdb":
        cur = con.cursor()  # its own result state, whatever the caller left on `con`
        return cur.sql("SELECT * FROM read_parquet(?)", params=[str(path)]).to_arrow_table()
    if reader == "polars":
        return pl.read_parquet(path).to_arrow()
    return ctx.read_parquet(str(path)).to_arrow_table()


def mix(bits):
    """A 64-bit mix (splitmix64 finaliser) of uint64 values, vectorised."""
    with np.errstate(over="ignore"):
        x = bits ^ (bits >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def canonical(col):
    """(kind, array) of one column in the canonical type of its kind."""
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    t = col.type
    if pa.types.is_dictionary(t):
        return canonical(pc.cast(col, t.value_type))
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "bytes", pc.cast(col, pa.large_string())
    if (pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t)
            or pa.types.is_fixed_size_binary(t)):
        return "bytes", pc.cast(col, pa.large_binary())
    if pa.types.is_decimal(t):
        return "bytes", pc.cast(col, pa.large_string())
    if pa.types.is_timestamp(t):
        return "int", pc.cast(pc.cast(col, pa.timestamp("ns", t.tz)), pa.int64())
    if pa.types.is_date(t):
        return "int", pc.cast(pc.cast(pc.cast(col, pa.date32()), pa.int32()), pa.int64())
    if pa.types.is_boolean(t):
        return "int", pc.cast(col, pa.int64())
    if pa.types.is_unsigned_integer(t):
        return "int", pc.cast(col, pa.uint64())
    if pa.types.is_integer(t):
        return "int", pc.cast(col, pa.int64())
    if pa.types.is_floating(t):
        return "float", pc.cast(col, pa.float64())
    raise ValueError(f"no canonical form for {t}")


def summary(col):
    """Order-independent summary of one column (see the module doc)."""
    kind, arr = canonical(col)
    valid = arr.drop_null()
    n = len(valid)
    if kind == "bytes":
        lengths = pc.sum(pc.binary_length(valid)).as_py() or 0
        return (n, pc.count_distinct(valid).as_py(), lengths)
    values = valid.to_numpy(zero_copy_only=False)
    if kind == "float":
        values = np.where(np.isnan(values), np.float64("nan"), values)
    bits = values.view(np.uint64) if values.dtype.itemsize == 8 else values.astype(np.uint64)
    return (n, int(mix(bits).sum(dtype=np.uint64) & MASK))


def readers_agree(path, con=None, ctx=None):
    """(rows, problems) for one file: every reader's row count and column summaries."""
    con = con or duckdb.connect()
    ctx = ctx or datafusion.SessionContext()
    results = {}
    for reader in READERS:
        table = read(reader, path, con, ctx)
        results[reader] = (table.num_rows,
                           {name: summary(table[name]) for name in table.column_names})
        del table
    base_rows, base = results["pyarrow"]
    problems = []
    for reader, (rows, sums) in results.items():
        if rows != base_rows:
            problems.append(f"rows pyarrow={base_rows} {reader}={rows}")
        if sorted(sums) != sorted(base):
            problems.append(f"columns pyarrow={sorted(base)} {reader}={sorted(sums)}")
            continue
        for name in base:
            if sums[name] != base[name]:
                problems.append(f"column {name}: pyarrow={base[name]} {reader}={sums[name]}")
    return base_rows, problems


def main():
    files = []
    for p in map(Path, sys.argv[1:]):
        files += sorted(p.glob("*.parquet")) if p.is_dir() else [p]
    if not files:
        sys.exit("readback_peers: no .parquet files found")
    con, ctx = duckdb.connect(), datafusion.SessionContext()
    total, failures = 0, []
    for f in files:
        rows, problems = readers_agree(f, con, ctx)
        total += rows
        print(f"{f}: rows={rows} columns agree across {','.join(READERS)}: "
              f"{'yes' if not problems else 'NO'}")
        failures += [f"{f}: {p}" for p in problems]
    finish(len(files), total, failures)


def finish(files, total, failures):
    """Print the failures and exit 1, or print the one-line summary."""
    for msg in failures:
        print(f"FAIL {msg}", file=sys.stderr)
    if failures:
        sys.exit(1)
    print(f"readback: {files} files, {total} rows, {len(READERS)} readers agree")


if __name__ == "__main__":
    main()
