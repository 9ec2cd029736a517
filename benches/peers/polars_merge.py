#!/usr/bin/env python3
"""Merge sorted Parquet files with Polars (streaming sink): one sorted ZSTD(3) output.

Usage: polars_merge.py OUT.parquet INPUT.parquet...   (run by benches/peers/run.sh)
Order: metric_name..timeseries_id ascending, timestamp_secs descending, nulls last.
"""
import sys

import polars as pl

KEYS = ["metric_name", "service", "env", "datacenter", "region", "host", "timeseries_id",
        "timestamp_secs"]

out, inputs = sys.argv[1], sys.argv[2:]
(
    pl.scan_parquet(inputs)
    .sort(KEYS, descending=[False] * 7 + [True], nulls_last=True)
    .sink_parquet(out, compression="zstd", compression_level=3)
)
