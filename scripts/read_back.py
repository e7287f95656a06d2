"""Reads a run's GeoParquet outputs back with independent readers (pyarrow, geopandas, shapely).

Usage: read_back.py OUT_DIR   (a run's or a merge's output directory, holding parquet/ and qc/)

Checks: every clean table's Hive dataset has QC's clean row count and its county partition (the issues table: every issue); every
part with geometry opens in geopandas with CRS EPSG:4490 and valid geometries; the graded units are
polygons, one per unit. Prints one line per table; exits non-zero at the first failure.
"""
import json
import pathlib
import sys

import geopandas as gpd
import pyarrow.dataset as ds

out = pathlib.Path(sys.argv[1])
summary = json.loads((out / "qc/summary.json").read_text())
expected = {t["table"]: t["rows_clean"] for t in summary["tables"]}
units = json.loads((out / "risk/summary.json").read_text())["units"]
expected["unit_risk"] = units
if "issues_by_rule" in summary:
    expected["issues"] = sum(summary["issues_by_rule"].values())
else:  # a provincial merge: each county's QC summary under qc/<code>/
    expected["issues"] = sum(
        sum(json.loads(p.read_text())["issues_by_rule"].values())
        for p in sorted((out / "qc").glob("*/summary.json"))
    )


def check(table, rows):
    folder = out / "parquet" / table
    d = ds.dataset(folder, partitioning="hive")
    assert d.count_rows() == rows, (table, d.count_rows(), rows)
    assert "county" in d.schema.names, (table, d.schema.names)
    with_geometry = 0
    for part in sorted(folder.glob("county=*/part-0.parquet")):
        try:
            g = gpd.read_parquet(part)
        except ValueError:  # a table without geometry (population, resources)
            continue
        with_geometry += len(g)
        assert g.crs is not None and g.crs.to_epsg() == 4490, (table, g.crs)
        assert g.geometry.notna().all() and g.geometry.is_valid.all(), table
        if table == "unit_risk":
            assert set(g.geom_type) <= {"Polygon", "MultiPolygon"}, set(g.geom_type)
            assert g["unit_code"].is_unique
    print(f"{table:16} {rows:>7} rows  {with_geometry:>7} with geometry  ok")


for table, rows in sorted(expected.items()):
    check(table, rows)
print("read back with pyarrow and geopandas: row counts, county partitions, EPSG:4490, valid geometries")
