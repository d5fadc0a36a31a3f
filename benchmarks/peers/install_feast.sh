#!/usr/bin/env bash
# Create an isolated virtualenv for the Feast peer benchmark (Feast is never a lakebox dependency).
#   bash benchmarks/peers/install_feast.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-feast"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --upgrade pip wheel >/dev/null
if "$venv/bin/python" -m pip install "feast[duckdb]" numpy pyarrow; then
    echo "installed feast[duckdb]"
else
    echo "NOTE: feast[duckdb] failed to install; falling back to plain feast (DuckDB offline store will be skipped)" >&2
    "$venv/bin/python" -m pip install feast numpy pyarrow duckdb || "$venv/bin/python" -m pip install feast numpy pyarrow
fi
"$venv/bin/python" -c "import feast, duckdb, pyarrow, numpy; print('feast', feast.__version__, '| duckdb', duckdb.__version__, '| pyarrow', pyarrow.__version__)"
