# For each output split of a delete job: which row groups are byte-identical
# (same compressed size of every column chunk, same rows) to the input's row
# group of the same metric (copied verbatim) and which were re-encoded.
import json, sys
import pyarrow.parquet as pq

def groups(path):
    f = pq.ParquetFile(path)
    md = f.metadata
    out = {}
    for i in range(md.num_row_groups):
        rg = md.row_group(i)
        col0 = rg.column(0)
        metric = col0.statistics.min if col0.statistics is not None else None
        sizes = tuple(rg.column(c).total_compressed_size for c in range(rg.num_columns))
        out[metric] = (rg.num_rows, sizes)
    return out

report = json.load(open(sys.argv[1]))
table = sys.argv[2]
copied = reencoded = 0
copied_rows = reencoded_rows = 0
for job in report["jobs"]:
    if job.get("outcome") != "committed" or not job["outputs"]:
        continue
    i = groups(f"{table}/splits/{job['inputs'][0]}.parquet")
    o = groups(f"{table}/splits/{job['outputs'][0]}.parquet")
    for m, (rows, sizes) in o.items():
        b = sum(sizes)
        if i.get(m) == (rows, sizes):
            copied += b; copied_rows += rows
        else:
            reencoded += b; reencoded_rows += rows
print(json.dumps({"bytes_copied_verbatim": copied, "rows_copied": copied_rows,
                  "bytes_reencoded": reencoded, "rows_reencoded": reencoded_rows}))
