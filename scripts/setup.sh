#!/usr/bin/env bash
# Installs what riskcensus needs from Debian's packages: GDAL (libgdal-dev, and gdal-bin for ogrinfo
# in checks), pkg-config, a CJK font for the maps; and, for the test suite's independent read-back of
# the GeoParquet outputs, pyarrow and geopandas from PyPI in a virtualenv outside the clone.
# Idempotent: does nothing when all are there.
set -euo pipefail

PACKAGES=(libgdal-dev gdal-bin pkg-config fonts-wqy-microhei python3-venv)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]} from Debian's packages" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found; install Rust (rustup) first" >&2
  exit 2
fi
for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$component"
  fi
done

# The independent GeoParquet reader the tests use (scripts/read_back.py).
source "$(dirname "$0")/env.sh"
if ! "$RISKCENSUS_PYTHON" -c "import geopandas, pyarrow, shapely" 2>/dev/null; then
  echo "setup: installing pyarrow, geopandas and shapely from PyPI into $RISKCENSUS_VENV" >&2
  python3 -m venv "$RISKCENSUS_VENV"
  "$RISKCENSUS_VENV/bin/pip" install -q --disable-pip-version-check \
    "pyarrow>=15,<27" "geopandas>=1.0,<1.3" "shapely>=2.0,<2.3"
fi
