#!/usr/bin/env bash
# Create `.venv-s3` (repo root) with the moto S3 server used by the S3
# integration tests (tests/common/s3.rs), and pyarrow, with which the table
# tests read a live set the way a query engine would. Idempotent: does nothing
# when the venv can already import moto, boto3 and pyarrow. Prints the venv's
# python path.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv-s3"
python="$venv/bin/python"

if [ -x "$python" ] && "$python" -c 'import moto, boto3, pyarrow' 2>/dev/null; then
    echo "$python"
    exit 0
fi

if [ ! -x "$python" ]; then
    python3 -m venv "$venv"
fi
"$python" -m pip install --quiet --disable-pip-version-check \
    'moto[server]==5.2.5' 'boto3==1.44.5' 'pyarrow==21.0.0'
"$python" -c 'import moto, boto3, pyarrow' >&2
echo "$python"
