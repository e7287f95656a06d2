#!/usr/bin/env bash
# Same inputs, same bytes, across a change (issue 10's check for a redesign):
#
#   benches/same_bytes.sh OLD_BIN NEW_BIN [WORKDIR]
#
# Runs two riskcensus binaries (e.g. the release build of main before a change, copied aside, and
# after it) on the bundled fixture county (pipelines/demo.toml) and on a generated 100k-building
# county (530402, seed 7; generated once by OLD_BIN), each with 1 and 2 rayon threads, and compares
# every output byte for byte: the whole output folders (`diff -r`), `inputs.json` with the output
# root replaced (it records absolute paths), the package zips by SHA-256, and the `--help` of every
# command. The incremental cache (`.cache/`) is left out: it is never packaged, and its keys may
# change with the code. Prints SAME/DIFF per item; exits 1 on any difference.
#
# WORKDIR defaults to ~/.cache/riskcensus/same-bytes (about 300 MB).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
old="${1:?usage: same_bytes.sh OLD_BIN NEW_BIN [WORKDIR]}"
new="${2:?usage: same_bytes.sh OLD_BIN NEW_BIN [WORKDIR]}"
work="${3:-$HOME/.cache/riskcensus/same-bytes}"
for b in "$old" "$new"; do
  [ -x "$b" ] || { echo "same_bytes.sh: no binary at $b" >&2; exit 2; }
done
mkdir -p "$work"
county="$work/county-100k"
if [ ! -f "$county/.complete" ]; then
  rm -rf "$county"
  "$old" -q gen-fixtures --county 530402 --seed 7 --buildings 100000 --out "$county" >/dev/null
  touch "$county/.complete"
fi

# Runs one binary on both counties with 1 and 2 threads into $work/<side>.
outputs() {
  local bin="$1" side="$2"
  rm -rf "${work:?}/$side"
  mkdir -p "$work/$side"
  for t in 1 2; do
    for case in "fixture:$repo/pipelines/demo.toml" "g100k:$county/pipeline.toml"; do
      local name="${case%%:*}" pipe="${case#*:}"
      RAYON_NUM_THREADS=$t "$bin" -q run "$pipe" --out "$work/$side/$name-t$t" \
        >"$work/$side/$name-t$t.log" 2>&1 || echo "$side: run $name with $t threads exited $?"
    done
  done
  for c in "" run validate inspect schema verify merge query gen-fixtures review template diff batch progress; do
    # shellcheck disable=SC2086
    "$bin" $c --help 2>&1 | sed "s#$(basename "$bin")#riskcensus#g"
  done >"$work/$side/help.txt"
  (cd "$work/$side" && find . -name '*.zip' -print0 | sort -z | xargs -0 sha256sum) >"$work/$side/zips.sha256"
}

outputs "$old" old
outputs "$new" new
status=0
same() { echo "SAME  $1"; }
differ() {
  echo "DIFF  $1"
  status=1
}
for d in fixture-t1 fixture-t2 g100k-t1 g100k-t2; do
  if diff -rq -x inputs.json -x .cache "$work/old/$d" "$work/new/$d" >/dev/null; then
    same "$d (every file but inputs.json and .cache/)"
  else
    differ "$d"
    diff -rq -x inputs.json -x .cache "$work/old/$d" "$work/new/$d" | head -20 || true
  fi
  for j in "$work/old/$d"/*/inputs.json; do
    rel="${j#"$work/old/"}"
    if diff <(sed "s#$work/old/#ROOT/#g" "$j") <(sed "s#$work/new/#ROOT/#g" "$work/new/$rel") >/dev/null; then
      same "$rel (output root replaced)"
    else
      differ "$rel"
    fi
  done
done
if diff -q "$work/old/help.txt" "$work/new/help.txt" >/dev/null; then same "--help of every command"; else differ "--help"; fi
if diff -q "$work/old/zips.sha256" "$work/new/zips.sha256" >/dev/null; then
  same "package SHA-256 ($(wc -l <"$work/new/zips.sha256") packages)"
else
  differ "package SHA-256"
fi
exit "$status"
