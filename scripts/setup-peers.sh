#!/usr/bin/env bash
# Create the Python venv used by the peer-reader checks (scripts/readback.py) at
# <repo>/.venv and install duckdb, polars, pyarrow, numpy and datafusion into it.
# Idempotent: an existing venv is reused and pip runs only if a package is missing.
# Override the location with VENV=/path; the interpreter with PYTHON=python3.x.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PACKAGES=(duckdb polars pyarrow numpy datafusion)

if [[ ! -x "$VENV/bin/python" ]]; then
    "${PYTHON:-python3}" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import $(IFS=,; echo "${PACKAGES[*]}")" 2>/dev/null; then
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PACKAGES[@]}"
fi
echo "setup-peers: $VENV ready ($("$VENV/bin/python" -c 'import duckdb, polars, pyarrow, datafusion, numpy as np; print(f"duckdb {duckdb.__version__}, polars {polars.__version__}, pyarrow {pyarrow.__version__}, numpy {np.__version__}, datafusion {datafusion.__version__}")'))"
