#!/usr/bin/env bash
# Documented check: the QC workbook opens in LibreOffice. Installs LibreOffice Calc from Debian's
# packages if missing (large: not part of the test suite), runs the demo's QC, converts
# out/demo/qc/report.xlsx to PDF headless, and renders the first page to PNG for a look.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v libreoffice >/dev/null; then
  SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libreoffice-calc poppler-utils >/dev/null
fi
bash scripts/setup.sh
source scripts/env.sh
cargo build -q -p riskcensus-cli
"$CARGO_TARGET_DIR/debug/riskcensus" -q validate pipelines/demo.toml >/dev/null || [ $? -eq 1 ]
out=out/demo/qc
rm -f "$out/report.pdf"
libreoffice --headless --convert-to pdf --outdir "$out" "$out/report.xlsx" >/dev/null
test -s "$out/report.pdf"
pdftoppm -png -r 60 -f 1 -l 1 "$out/report.pdf" "$out/report-page"
echo "report.xlsx opened and converted: $out/report.pdf ($(pdfinfo "$out/report.pdf" | awk '/^Pages/{print $2}') pages), first page $(ls "$out"/report-page-*.png | head -1)"
