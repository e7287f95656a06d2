"""The parsing floor of issue 10: what any reader of a generated county pays before any rule runs.
fastexcel (calamine, Rust) reads every sheet of every workbook the pipeline names, fully, into Arrow;
pyogrio (GDAL) reads every shapefile the pipeline names (attributes and geometry, as Arrow).
Nothing is checked or kept: `riskcensus run` can at best approach this time.
"""

from __future__ import annotations

import argparse
import sys
import time
import tomllib
from pathlib import Path

import fastexcel
import pyogrio


def inputs(county: Path, buildings: str) -> list[Path]:
    """Every file pipeline.toml names (units first); with footprints, fwjz.shp instead of fwjz.xlsx,
    as the footprint run reads it."""
    with open(county / "pipeline.toml", "rb") as f:
        p = tomllib.load(f)
    files = [county / p["units"]["path"]]
    for i in p.get("inputs", []):
        path = county / i["path"]
        if i["table"] == "fwjz" and buildings == "footprint":
            path = county / "fwjz.shp"
        files.append(path)
    return files


def read_workbook(path: Path) -> int:
    """Rows of every sheet, read fully (header row none: title rows are cells like any other)."""
    reader = fastexcel.read_excel(str(path))
    rows = 0
    for name in reader.sheet_names:
        rows += reader.load_sheet(name, header_row=None).to_arrow().num_rows
    return rows


def read_vector(path: Path) -> int:
    _, table = pyogrio.read_arrow(str(path))
    return table.num_rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("county", type=Path, help="directory written by riskcensus gen-fixtures")
    ap.add_argument("--buildings", choices=["xlsx", "footprint"], default="xlsx")
    args = ap.parse_args()
    t0 = time.perf_counter()
    for path in inputs(args.county, args.buildings):
        if path.suffix.lower() in (".xlsx", ".xls", ".ods"):
            n = read_workbook(path)
        else:
            n = read_vector(path)
        print(f"{path.name}: {n} rows", file=sys.stderr)
    print(f"parse floor: {time.perf_counter() - t0:.2f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
