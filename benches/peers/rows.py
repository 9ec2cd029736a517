#!/usr/bin/env python3
"""Print the total row count of Parquet files, from footer metadata only (pyarrow).

Usage: rows.py FILE_OR_DIR...   (directories expand to their *.parquet files)
"""
import sys
from pathlib import Path

import pyarrow.parquet as pq

files = [f for p in map(Path, sys.argv[1:])
         for f in (sorted(p.glob("*.parquet")) if p.is_dir() else [p])]
print(sum(pq.ParquetFile(f).metadata.num_rows for f in files))
