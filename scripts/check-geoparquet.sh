#!/usr/bin/env bash
# Documented check, also run by the test suite: the demo's GeoParquet outputs open in independent
# readers (pyarrow and geopandas from PyPI, installed by scripts/setup.sh into a virtualenv): row
# counts equal QC's clean rows, the Hive county partition, CRS EPSG:4490, valid geometries.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
cargo build -q -p riskcensus-cli
"$CARGO_TARGET_DIR/debug/riskcensus" -q run pipelines/demo.toml >/dev/null || [ $? -eq 1 ]
"$RISKCENSUS_PYTHON" scripts/read_back.py out/demo
