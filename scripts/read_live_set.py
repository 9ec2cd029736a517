#!/usr/bin/env python3
"""Read a table's live set the way a query engine would: take the JSON of
`prefix-merge table ls --json` on stdin, open every split's `url` with pyarrow
(a local path, or s3:// through AWS_ENDPOINT / AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY), and print, per split, what its data says: rows, the
first and last prefix key (typed values of the first P sort columns) and the
time column's min and max. The tests compare this with what `ls --json` claims.
"""
import json
import os
import sys
from urllib.parse import urlparse

import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq


def sort_columns(schema: str) -> list:
    """Column names of a sort schema `[name=]col|-col|col+[/V2]`."""
    body = schema.split("=", 1)[1] if "=" in schema.split("|", 1)[0] else schema
    body = body.rsplit("/", 1)[0] if "/" in body else body
    return [c.split(":", 1)[0].strip("+-") for c in body.split("|")]


def open_table(url: str):
    if url.startswith("s3://"):
        endpoint = urlparse(os.environ["AWS_ENDPOINT"])
        fs = pafs.S3FileSystem(
            access_key=os.environ["AWS_ACCESS_KEY_ID"],
            secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
            endpoint_override=endpoint.netloc,
            scheme=endpoint.scheme,
            region=os.environ.get("AWS_REGION", "us-east-1"),
        )
        return pq.read_table(url[len("s3://"):], filesystem=fs)
    return pq.read_table(url)


def main() -> None:
    live = json.load(sys.stdin)
    cols = sort_columns(live["sort_schema"])
    prefix = cols[: live["prefix_len"]]
    time = cols[-1] if cols[-1] in ("timestamp", "timestamp_secs") else None
    out = []
    for split in live["splits"]:
        t = open_table(split["url"])
        first = [t.column(c)[0].as_py() for c in prefix] if prefix and t.num_rows else None
        last = [t.column(c)[t.num_rows - 1].as_py() for c in prefix] if prefix and t.num_rows else None
        bounds = pc.min_max(t.column(time)).as_py() if time else {"min": None, "max": None}
        out.append({
            "id": split["id"],
            "rows": t.num_rows,
            "first_prefix": first,
            "last_prefix": last,
            "time_min": bounds["min"],
            "time_max": bounds["max"],
        })
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
