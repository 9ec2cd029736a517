#!/usr/bin/env python3
"""Merge sorted Parquet files with DuckDB: one fully sorted ZSTD(3) output.

Usage: duckdb_merge.py OUT.parquet INPUT.parquet...   (run by benches/peers/run.sh)
Order: metric_name..timeseries_id ASC NULLS LAST, timestamp_secs DESC NULLS LAST.
"""
import sys

import duckdb

KEYS = ["metric_name", "service", "env", "datacenter", "region", "host", "timeseries_id"]
ORDER = ", ".join(f"{k} ASC NULLS LAST" for k in KEYS) + ", timestamp_secs DESC NULLS LAST"


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


out, inputs = sys.argv[1], sys.argv[2:]
files = "[" + ", ".join(map(sql_str, inputs)) + "]"
duckdb.sql(
    f"COPY (SELECT * FROM read_parquet({files}) ORDER BY {ORDER}) "
    f"TO {sql_str(out)} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 3)"
)
