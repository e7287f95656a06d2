#!/usr/bin/env bash
# riskcensus against its peers (issue 10), side by side on the same generated county:
#
#   benches/compare.sh [SIZES]        # default "100000 1000000" buildings
#
# For each size it generates county 530402 (seed 7) twice, not timed: buildings in fwjz.xlsx (xlsx
# points) and buildings as footprint polygons (fwjz.shp, read instead of the xlsx). Then, per kind,
# ROUNDS paired rounds (default 3) run one after another under /usr/bin/time -v: `riskcensus
# validate`, `riskcensus run`, the Python peer (fastexcel + polars + pyogrio + geopandas), the same peer
# with SedonaDB for the spatial joins (when installed), and the parse floor (fastexcel + pyogrio
# read every input). It prints per kind and size the table of issue 10: median wall, median peak
# RSS, and the ratio peer ÷ riskcensus run. Every peer run also compares its per-township figures
# with riskcensus's parquet/unit_table.parquet of the same round; a difference fails the script.
#
# Environment:
#   RISKCENSUS_BIN      the release binary (default $CARGO_TARGET_DIR/release/riskcensus, or
#                       target/release/riskcensus); build it with `cargo build --release -p riskcensus-cli`
#   RISKCENSUS_BENCH_PY the peers' virtualenv (default ~/.cache/riskcensus/bench-py; made by
#                       benches/peers/setup.sh, run when it is missing)
#   RISKCENSUS_BENCH_DIR where counties and outputs go (default ~/.cache/riskcensus/bench-peers)
#   RISKCENSUS_BENCH_GEOMETRY "point footprint" (default), or one of them
#   ROUNDS              paired rounds (default 3)
#
# Timings are measured, never asserted. Take them while nothing else runs (the script prints the
# load average and any running rustc before each size so that a disturbed figure can be told).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
sizes="${1:-100000 1000000}"
rounds="${ROUNDS:-3}"
geometries="${RISKCENSUS_BENCH_GEOMETRY:-point footprint}"
bin="${RISKCENSUS_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/riskcensus}"
venv="${RISKCENSUS_BENCH_PY:-$HOME/.cache/riskcensus/bench-py}"
work="${RISKCENSUS_BENCH_DIR:-$HOME/.cache/riskcensus/bench-peers}"

die() {
  echo "compare.sh: $*" >&2
  exit 1
}

[ -x "$bin" ] || die "no riskcensus binary at $bin: build it (cargo build --release -p riskcensus-cli) or set RISKCENSUS_BIN"
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (GNU time: apt-get install time)"
[ -x "$venv/bin/python" ] || bash "$here/peers/setup.sh"
py="$venv/bin/python"
sedona=0
"$py" -c 'import sedonadb, geoarrow.pyarrow' 2>/dev/null && sedona=1
[ "$sedona" = 1 ] || echo "compare.sh: sedonadb is not installed in $venv; the SedonaDB row is left out" >&2
mkdir -p "$work"

# Generates a county once per size and kind; kept between invocations (same seed, same bytes).
generate() {
  local n="$1" geometry="$2" dir="$3"
  if [ ! -f "$dir/.complete" ]; then
    rm -rf "$dir"
    local extra=()
    [ "$geometry" = footprint ] && extra=(--building-geometry footprint)
    echo "generating $n buildings ($geometry) in $dir (not timed)" >&2
    "$bin" -q gen-fixtures --county 530402 --seed 7 --buildings "$n" "${extra[@]}" --out "$dir" >/dev/null
    touch "$dir/.complete"
  fi
  # The footprint run reads the shapefile instead of the xlsx, as pipeline.toml's comment says.
  sed -e 's|^path = "fwjz.xlsx"|path = "fwjz.shp"|' -e 's|^dir = "out"|dir = "out-footprint"|' \
    "$dir/pipeline.toml" >"$dir/pipeline-footprint.toml"
}

# Runs one command under /usr/bin/time -v; appends "tool<TAB>wall_s<TAB>rss_kb<TAB>rc" to $results.
timed() {
  local tool="$1" log="$2"
  shift 2
  local rc=0
  /usr/bin/time -v -o "$log.time" "$@" >"$log.out" 2>&1 || rc=$?
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$log.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log.time")
  printf '%s\t%s\t%s\t%s\n' "$tool" "$wall" "$rss" "$rc" >>"$results"
  return "$rc"
}

# Median wall, median peak RSS and the ratio to `riskcensus run`, as issue 10's table.
table() {
  local title="$1"
  "$py" - "$results" "$title" <<'PY'
import statistics, sys
rows, title = {}, sys.argv[2]
for line in open(sys.argv[1]):
    tool, wall, rss, rc = line.rstrip("\n").split("\t")
    rows.setdefault(tool, []).append((float(wall), int(rss), int(rc)))
order = ["riskcensus run", "riskcensus validate", "Python stack (fastexcel + polars + pyogrio + geopandas)",
         "SedonaDB 0.5 (spatial joins) + fastexcel/polars", "parse floor (fastexcel + pyogrio)"]
base = statistics.median(w for w, _, _ in rows["riskcensus run"])
print(f"| {title} | wall | peak RSS | peer ÷ riskcensus run |")
print("|---|---:|---:|---:|")
for tool in order:
    if tool not in rows:
        continue
    r = rows[tool]
    wall = statistics.median(w for w, _, _ in r)
    rss = statistics.median(m for _, m, _ in r) / 1024
    ratio = "1" if tool == "riskcensus run" else ("" if tool == "riskcensus validate" else f"{wall / base:.2f}")
    bad = [c for _, _, c in r if c not in (0,)]
    note = f" (exit {bad[0]} in {len(bad)} of {len(r)} rounds)" if bad else ""
    print(f"| {tool}{note} | {wall:.2f} s | {rss:.0f} MB | {ratio} |")
print(f"\n{len(rows['riskcensus run'])} paired rounds, medians.")
PY
}

status=0
for n in $sizes; do
  for geometry in $geometries; do
    dir="$work/c$n-$geometry"
    generate "$n" "$geometry" "$dir"
    if [ "$geometry" = footprint ]; then
      pipeline="$dir/pipeline-footprint.toml" out="$dir/out-footprint" kind=footprint title="$n buildings (footprint shapefile)"
    else
      pipeline="$dir/pipeline.toml" out="$dir/out" kind=xlsx title="$n buildings (xlsx points)"
    fi
    results="$dir/results-$kind.tsv"
    : >"$results"
    echo "== $title: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), rustc running: $(pgrep -c rustc || true)" >&2
    unit_table="$out/530402_synthetic/parquet/unit_table.parquet"
    for r in $(seq 1 "$rounds"); do
      logs="$dir/logs-$kind-$r"
      mkdir -p "$logs"
      rm -rf "$out" "$dir/peer-out" "$dir/sedona-out"
      timed "riskcensus validate" "$logs/validate" "$bin" -q validate "$pipeline" || true
      rm -rf "$out"
      timed "riskcensus run" "$logs/run" "$bin" -q run "$pipeline" || true
      [ -f "$unit_table" ] || die "riskcensus run wrote no $unit_table (see $logs/run.out)"
      if ! timed "Python stack (fastexcel + polars + pyogrio + geopandas)" "$logs/python" \
        "$py" "$here/peers/python_peer.py" "$dir" --buildings "$kind" --out "$dir/peer-out" --compare "$unit_table"; then
        echo "compare.sh: the Python peer differs from riskcensus or failed (round $r):" >&2
        tail -20 "$logs/python.out" >&2
        status=1
      fi
      if [ "$sedona" = 1 ] && ! timed "SedonaDB 0.5 (spatial joins) + fastexcel/polars" "$logs/sedona" \
        "$py" "$here/peers/python_peer.py" "$dir" --buildings "$kind" --spatial sedonadb --out "$dir/sedona-out" --compare "$unit_table"; then
        echo "compare.sh: the SedonaDB peer differs from riskcensus or failed (round $r):" >&2
        tail -20 "$logs/sedona.out" >&2
        status=1
      fi
      timed "parse floor (fastexcel + pyogrio)" "$logs/floor" "$py" "$here/peers/parse_floor.py" "$dir" --buildings "$kind" \
        || { echo "compare.sh: the parse floor failed (round $r): see $logs/floor.out" >&2; status=1; }
    done
    grep -h "^compared" "$dir"/logs-"$kind"-1/python.out >&2 || true
    echo
    table "$title"
    echo
  done
done
exit "$status"
