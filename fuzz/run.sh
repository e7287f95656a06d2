#!/usr/bin/env bash
# Runs one AFL++ campaign on one target for a number of seconds, niced, then prints its executions,
# speed, corpus, crashes and hangs from AFL's fuzzer_stats.
#   fuzz/run.sh <target> <seconds>
# Targets: spreadsheet csv shapefile schema_toml (default build), pipeline_toml model_toml package
# (built with --features pipeline). Build first (README.md). A second run of the same target resumes
# from its queue in fuzz/out/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?usage: fuzz/run.sh <target> <seconds>}
seconds=${2:?usage: fuzz/run.sh <target> <seconds>}
: "${CARGO_TARGET_DIR:=${XDG_CACHE_HOME:-$HOME/.cache}/riskcensus/fuzz-target}"
bin=$CARGO_TARGET_DIR/release/$target
if [ ! -x "$bin" ]; then
  echo "no $bin: build it first (see fuzz/README.md)" >&2
  exit 2
fi
out=out/$target
mkdir -p "$out"
if [ -f "$out/default/fuzzer_stats" ]; then
  input=-   # resume from the queue
else
  input=seeds/$target
fi
dict=()
[ -f "dicts/$target.dict" ] && dict=(-x "dicts/$target.dict")

# The targets write their inputs as files; keep them on tmpfs, in a directory of this campaign only,
# removed afterwards (a crashed child leaves its directory behind).
scratch=$(mktemp -d "${RISKCENSUS_FUZZ_TMP_BASE:-/dev/shm}/riskcensus-fuzz-$target-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export RISKCENSUS_FUZZ_TMP=$scratch
# One core: polars and rayon would otherwise start a thread per core in every target process.
export POLARS_MAX_THREADS=1 RAYON_NUM_THREADS=1
# Shared machine: do not pin to a core, do not insist on the CPU governor or on core dumps going to a
# file, no curses screen.
export AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
export AFL_AUTORESUME=1

# -t: a run longer than 2 s counts as a hang; -m none: memory is not capped (an input that makes a
# reader allocate without bound shows up as an abort, which is a crash).
nice -n 10 cargo afl fuzz -V "$seconds" -t 2000 -m none "${dict[@]}" -i "$input" -o "$out" -- "$bin" \
  >"$out/afl.log" 2>&1 || { tail -30 "$out/afl.log" >&2; exit 1; }

stats=$out/default/fuzzer_stats
field() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
echo "target=$target run_time_s=$(field run_time) execs=$(field execs_done) execs_per_sec=$(field execs_per_sec) corpus=$(field corpus_count) edges=$(field edges_found)/$(field total_edges) crashes=$(field saved_crashes) hangs=$(field saved_hangs) stability=$(field stability)"
find "$out/default/crashes" "$out/default/hangs" -type f ! -name README.txt 2>/dev/null | sort
