#!/usr/bin/env bash
# Build a directory of wheels for an air-gapped install of lakebox: lakebox itself and every
# dependency (of the extras named), so that a machine with no network can install with
#   pip install --no-index --find-links DIR 'lakebox[EXTRAS]'
#
# usage: scripts/wheelhouse.sh [DIR] [EXTRAS]
#   DIR     where the wheels go (default: ./wheelhouse)
#   EXTRAS  comma-separated extras to include, e.g. "serve,tui" (default: none: the feature store
#           and online serving). "train" adds torch==2.13.0, a CPU wheel of several hundred MB.
# Run it on a machine with the package index (or a pip cache holding the wheels), for the same
# platform and Python version as the target (wheels are platform-specific).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$root/wheelhouse}"
extras="${2:-}"
python="${PYTHON:-$root/.venv/bin/python}"

spec="$root"
if [ -n "$extras" ]; then
  spec="$root[$extras]"
fi

mkdir -p "$dir"
"$python" -m pip wheel --quiet --wheel-dir "$dir" "$spec"
count=$(find "$dir" -maxdepth 1 -name '*.whl' | wc -l)
echo "wheelhouse: $count wheels in $dir"
echo "install offline: pip install --no-index --find-links '$dir' 'lakebox${extras:+[$extras]}'"
