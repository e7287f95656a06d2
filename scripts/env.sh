# Sourced by the scripts: one target directory outside the clone, reused by every clone and by CI, so
# a fresh checkout does not rebuild GDAL bindings and the rest from nothing. Override with
# CARGO_TARGET_DIR.
: "${CARGO_TARGET_DIR:=${XDG_CACHE_HOME:-$HOME/.cache}/riskcensus/target}"
export CARGO_TARGET_DIR
mkdir -p "$CARGO_TARGET_DIR"
# The virtualenv holding the independent GeoParquet reader (pyarrow, geopandas) for the tests.
: "${RISKCENSUS_VENV:=${XDG_CACHE_HOME:-$HOME/.cache}/riskcensus/py}"
: "${RISKCENSUS_PYTHON:=$RISKCENSUS_VENV/bin/python}"
export RISKCENSUS_VENV RISKCENSUS_PYTHON
