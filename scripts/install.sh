#!/usr/bin/env bash
# Create ./.venv and install lakebox into it (editable), with optional extras.
#
#   bash scripts/install.sh            # the feature store and in-process online serving
#   bash scripts/install.sh serve,tui  # + the HTTP server and client, + the terminal browser
#   bash scripts/install.sh dev,train  # + test tools, + experiments (torch: the pinned CPU wheel, installed first)
#   bash scripts/install.sh all        # tui, serve, train and polars (what the demo tours)
#
# torch is pinned to 2.13.0 because that is the CPU wheel this project's machines carry:
# any other torch spec makes pip download a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
if [[ ",$extras," == *",train,"* || ",$extras," == *",all,"* ]]; then  # `all` includes train
    .venv/bin/python -m pip install --quiet "torch==2.13.0"
fi
if [ -n "$extras" ]; then
    .venv/bin/python -m pip install --quiet -e ".[$extras]"
else
    .venv/bin/python -m pip install --quiet -e .
fi
echo "lakebox installed in $(pwd)/.venv"
