#!/bin/bash
# Submits a province: one array task per county (at most $AT_ONCE running), then the merge job,
# which waits for the whole array. Prints the two job ids.
#   deploy/slurm/submit.sh /data/counties /data/out [AT_ONCE]
set -euo pipefail
COUNTIES=$(realpath "${1:?usage: submit.sh COUNTIES_DIR OUT_DIR [AT_ONCE]}")
OUT=$(realpath -m "${2:?usage: submit.sh COUNTIES_DIR OUT_DIR [AT_ONCE]}")
AT_ONCE=${3:-8}
HERE=$(dirname "$(realpath "$0")")
mkdir -p "$OUT"
# The same order `riskcensus batch` uses: subfolders holding pipeline.toml, by name.
n=$(find "$COUNTIES" -mindepth 2 -maxdepth 2 -name pipeline.toml | wc -l)
if [ "$n" -eq 0 ]; then
    echo "no <county>/pipeline.toml under $COUNTIES" >&2
    exit 2
fi
export COUNTIES OUT
array=$(sbatch --parsable --array="0-$((n - 1))%$AT_ONCE" --export=ALL --chdir="$OUT" "$HERE/county.sbatch")
merge=$(sbatch --parsable --dependency="afterany:$array" --export=ALL --chdir="$OUT" "$HERE/merge.sbatch")
echo "array job $array ($n counties, $AT_ONCE at once); merge job $merge"
