#!/usr/bin/env bash
# Command one: install what is needed, build, and run the demo pipeline on the bundled fixture county.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
cargo build -q -p riskcensus-cli
bin="$CARGO_TARGET_DIR/debug/riskcensus"
"$bin" run pipelines/demo.toml "$@"
"$bin" verify out/demo/530381_宣威市_2020.zip
echo
echo "demo outputs are in: $(pwd)/out/demo (maps in out/demo/maps)"
