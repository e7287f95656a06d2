#!/usr/bin/env bash
# Makes the virtualenv the peers of benches/compare.sh run in (~/.cache/riskcensus/bench-py, or
# $RISKCENSUS_BENCH_PY) and installs the pinned peers. Not part of the test suite: benchmarks only.
# SedonaDB is tried apart: where pip has no wheel for this platform, the Python peer still installs
# and compare.sh leaves the SedonaDB row out, saying so.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${RISKCENSUS_BENCH_PY:-$HOME/.cache/riskcensus/bench-py}"
python="${PYTHON:-python3}"

"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "setup.sh: the peers need Python >= 3.11 (tomllib); set PYTHON to one" >&2; exit 1; }
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/pip" install --quiet -r "$here/requirements.txt"
if "$venv/bin/pip" install --quiet -r "$here/requirements-sedona.txt"; then
  echo "setup.sh: SedonaDB installed"
else
  echo "setup.sh: SedonaDB could not be installed here; compare.sh will skip its row" >&2
fi
"$venv/bin/python" -c 'import fastexcel, polars, pyogrio, geopandas, shapely, pyarrow; print("setup.sh: peers ready in '"$venv"'")'
