"""The Python peer of `riskcensus run` (issue 10): the same core work on a generated county, with
the stack an analyst would reach for (fastexcel + polars + pyogrio + geopandas, or SedonaDB for the
spatial joins), so that riskcensus's speed is measured against something real.

What it does, on the county that `riskcensus gen-fixtures` wrote (its pipeline.toml names the files):
read the buildings (fwjz.xlsx with fastexcel, finding the header row under the title rows as the
readers do; or the footprint shapefile with pyogrio), apply the building rules of
schemas/tables/fwjz.toml vectorised in polars, assign every clean building to its township (declared
code checked by point-in-polygon; footprints by largest overlap), give it the class of every hz_*
layer (highest class of the zones containing its point), aggregate per township, score with
quantile grades, and write Parquet. With --compare it then checks its per-township figures against
riskcensus's parquet/unit_table.parquet of a run on the same county and exits 1 on any difference.

It is a benchmark peer, not a second implementation: rules riskcensus has and that the generated
county never exercises (registry look-ups beyond the unit layer, review dispositions, the report)
are left out, and say so below where they are simplified.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import time
import tomllib
import unicodedata
from pathlib import Path

import fastexcel
import geopandas as gpd
import numpy as np
import polars as pl
import pyogrio
import shapely

HEADER_SCAN = 30  # rows scanned for the header, as crates/ingest/src/header.rs
WEAK_STRUCTURES = ["土木结构", "石木结构", "木(竹)结构", "混杂结构", "其他"]
OLD_BEFORE = 1990
# Columns of riskcensus's unit table this peer computes, compared with --compare.
COMPARED = [
    "n_buildings",
    "floor_area_m2",
    "building_residents",
    "weak_structure_share",
    "old_building_share",
    "unfortified_share",
    "weak_floor_area_m2",
]

T0 = time.perf_counter()


def log(msg: str) -> None:
    """Stage timings on stderr, like riskcensus's -v log, so the two can be read side by side."""
    print(f"[{time.perf_counter() - T0:7.2f} s] {msg}", file=sys.stderr)


# ---------------------------------------------------------------- the pipeline and the schema


def load_pipeline(path: Path) -> dict:
    """The generated pipeline.toml: which file holds which table, the units layer, the year."""
    with open(path, "rb") as f:
        return tomllib.load(f)


def input_path(pipeline: dict, base: Path, table: str) -> Path:
    for i in pipeline.get("inputs", []):
        if i["table"] == table:
            return base / i["path"]
    raise SystemExit(f"{base}: pipeline.toml has no input for table {table}")


def load_schema(repo: Path, table: str) -> dict:
    """schemas/tables/<table>.toml with its code lists from schemas/codes: the rules to apply."""
    with open(repo / "schemas" / "tables" / f"{table}.toml", "rb") as f:
        schema = tomllib.load(f)
    codes = {}
    for field in schema["fields"]:
        if "codes" in field:
            with open(repo / "schemas" / "codes" / f"{field['codes']}.toml", "rb") as f:
                codes[field["codes"]] = tomllib.load(f)["values"]
    schema["code_values"] = codes
    return schema


def normalize(s: str) -> str:
    """Header folding as ingest's `normalize`: full-width to ASCII, 【】〔〕 to (), no spaces or *,
    lower case; so 建筑高度（米） and 建筑高度 (米) match."""
    out = []
    for c in s:
        o = ord(c)
        if 0xFF01 <= o <= 0xFF5E:
            c = chr(o - 0xFEE0)
        elif c in "【〔":
            c = "("
        elif c in "】〕":
            c = ")"
        if c.isspace() or c in "*\u3000":
            continue
        out.append(c.lower())
    return "".join(out)


def strip_unit(s: str) -> str:
    """`建筑高度(米)` → `建筑高度`: a header may carry its unit."""
    if s.endswith(")"):
        k = s.rfind("(")
        if k > 0:
            return s[:k]
    return s


def field_names(schema: dict) -> dict[str, str]:
    """Every name a field answers to (code, Chinese and English names, aliases), normalized."""
    names = {}
    for f in schema["fields"]:
        for n in [f["code"], f["name_zh"], f["name_en"], *f.get("aliases", [])]:
            names.setdefault(normalize(n), f["code"])
            names.setdefault(strip_unit(normalize(n)), f["code"])
    return names


def match_header(cell, names: dict[str, str]) -> str | None:
    if cell is None:
        return None
    n = normalize(str(cell))
    return names.get(n) or names.get(strip_unit(n))


# ---------------------------------------------------------------- reading


def read_xlsx(path: Path, schema: dict) -> pl.DataFrame:
    """The first sheet as text, header found as the readers find it: the row among the first 30
    matching the most fields (title rows and a group row above it are skipped). Every cell is read
    as text so that numbers typed as text and full-width digits reach the rules as the office typed
    them; fully empty rows are dropped (riskcensus counts them as empty_rows_skipped)."""
    reader = fastexcel.read_excel(str(path))
    head = reader.load_sheet(0, header_row=None, n_rows=HEADER_SCAN, dtypes="string").to_polars()
    names = field_names(schema)
    best, best_score = None, 0
    for h, row in enumerate(head.iter_rows()):
        score = len({match_header(c, names) for c in row} - {None})
        if score > best_score:
            best, best_score = h, score
    if best is None or best_score < 2:
        raise SystemExit(f"{path}: no header row matching the fields of {schema['code']} in the first {HEADER_SCAN} rows")
    sheet = reader.load_sheet(0, header_row=best, dtypes="string").to_polars()
    rename, keep = {}, []
    for col in sheet.columns:
        code = match_header(col, names)
        if code and code not in rename.values():
            rename[col] = code
            keep.append(col)
    df = sheet.select(keep).rename(rename)
    df = df.filter(~pl.all_horizontal([pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in df.columns]))
    for f in schema["fields"]:
        if f["code"] not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.String).alias(f["code"]))
    return df.with_row_index("row")


def read_vector_buildings(path: Path, schema: dict) -> tuple[pl.DataFrame, np.ndarray]:
    """A building layer (footprints) with pyogrio as Arrow: attributes as columns, geometry as WKB."""
    meta, table = pyogrio.read_arrow(str(path))
    geom_name = meta["geometry_name"] or "wkb_geometry"
    wkb = table.column(geom_name).to_numpy(zero_copy_only=False)
    attrs = pl.from_arrow(table.drop_columns([geom_name]))
    names = field_names(schema)
    rename = {}
    for name in attrs.columns:
        code = match_header(name, names)
        if code and code not in rename.values():
            rename[name] = code
    df = attrs.select(list(rename)).rename(rename)
    for f in schema["fields"]:
        if f["code"] not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.String).alias(f["code"]))
    return df.with_row_index("row"), wkb


def read_layer(path: Path) -> gpd.GeoDataFrame:
    return pyogrio.read_dataframe(str(path))


# ---------------------------------------------------------------- the building rules

FULLWIDTH_TEXT = [chr(c) for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]]
FULLWIDTH_ALL = [chr(c) for c in range(0xFF01, 0xFF5F)]


def tidy_text(e: pl.Expr) -> pl.Expr:
    """qc's tidy_text: full-width digits and Latin letters to ASCII, surrounding spaces trimmed."""
    return e.str.replace_many(FULLWIDTH_TEXT, [chr(ord(c) - 0xFEE0) for c in FULLWIDTH_TEXT]).str.strip_chars(
        " \t\r\n\u3000\u00a0"
    )


def parse_number(e: pl.Expr) -> pl.Expr:
    """qc's parse_number: full-width folded, thousands commas and spaces dropped, then a float."""
    folded = e.str.replace_many(FULLWIDTH_ALL + ["\u3000"], [chr(ord(c) - 0xFEE0) for c in FULLWIDTH_ALL] + [" "])
    return folded.str.replace_all(r"[, ]", "").cast(pl.Float64, strict=False)


def is_empty(e: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.String:
        return e.is_null() | (e.str.strip_chars() == "")
    return e.is_null()


def coerce(df: pl.DataFrame, schema: dict) -> pl.DataFrame:
    """Each field in its type, plus `<code>__bad` (a value that cannot be of the type: type_mismatch)
    and `<code>__null` (empty)."""
    exprs = []
    for f in schema["fields"]:
        c, ty, dtype = f["code"], f["type"], df.schema[f["code"]]
        raw = pl.col(c)
        empty = is_empty(raw, dtype)
        if ty == "text":
            v = tidy_text(raw) if dtype == pl.String else raw.cast(pl.String)
            bad = pl.lit(False)
        elif ty in ("float", "int"):
            v = parse_number(raw) if dtype == pl.String else raw.cast(pl.Float64)
            bad = ~empty & v.is_null()
            if ty == "int":
                bad = bad | (~empty & ((v % 1 != 0) | (v.abs() >= 9.0e15)))
        elif ty == "date":
            # A date typed or stored as a date, or an Excel serial day: the generator writes both.
            s = raw.cast(pl.String).str.strip_chars()
            as_date = s.str.contains(r"^\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}") | s.str.contains(r"^\d{8}$")
            serial = s.cast(pl.Float64, strict=False)
            v = s
            bad = ~empty & ~(as_date | ((serial >= 1) & (serial < 2958466)).fill_null(False))
        else:
            raise SystemExit(f"field {c}: type {ty} not handled by the peer")
        exprs += [pl.when(empty).then(None).otherwise(v).alias(c), (bad & ~empty).alias(f"{c}__bad"), empty.alias(f"{c}__null")]
    return df.select("row", *exprs)


def in_range(e: pl.Expr, f: dict, reference_year: int) -> pl.Expr:
    lo = f.get("min")
    hi = f.get("max")
    hi = reference_year if hi == "reference_year" else hi
    cond = pl.lit(True)
    if lo is not None:
        cond = cond & (e >= lo)
    if hi is not None:
        cond = cond & (e <= hi)
    return cond


def field_checks(df: pl.DataFrame, schema: dict, reference_year: int) -> pl.DataFrame:
    """Per-field rules: type, required, range (skipped for swapped coordinates, which get their own
    error), pattern, code list. Adds `<code>__err` (the field has an error)."""
    by = {f["code"]: f for f in schema["fields"]}
    rule = next(r for r in schema["rules"] if r["kind"] == "point_in_unit")
    lon, lat = rule["lon"], rule["lat"]
    x, y = pl.col(lon), pl.col(lat)
    swapped = (
        ~in_range(x, by[lon], reference_year)
        & ~in_range(y, by[lat], reference_year)
        & in_range(y, by[lon], reference_year)
        & in_range(x, by[lat], reference_year)
    ).fill_null(False)
    df = df.with_columns(swapped.alias("swapped"))
    exprs = []
    for f in schema["fields"]:
        c = f["code"]
        v = pl.col(c)
        err = pl.col(f"{c}__bad")
        if f.get("required"):
            err = err | pl.col(f"{c}__null")
        if f["type"] in ("float", "int") and ("min" in f or "max" in f):
            out = ~in_range(v, f, reference_year)
            if c in (lon, lat):
                out = out & ~pl.col("swapped")
            err = err | out.fill_null(False)
        if "pattern" in f:
            err = err | (~v.str.contains(f["pattern"])).fill_null(False)
        if "codes" in f:
            err = err | (~v.is_in(schema["code_values"][f["codes"]])).fill_null(False)
        exprs.append(err.alias(f"{c}__err"))
    # The swapped-coordinates error is reported on the longitude.
    df = df.with_columns(exprs)
    return df.with_columns((pl.col(f"{lon}__err") | pl.col("swapped")).alias(f"{lon}__err"))


def township_checks(df: pl.DataFrame, schema: dict, unit_codes: list[str], successors: dict[str, str]) -> pl.DataFrame:
    """township_code: the code (or the successor the change list names for a retired one) must be a
    unit of the run (riskcensus also checks the NBS list; every unit of a generated county is in it).
    village_prefix: the village code starts with the township code as written."""
    for rule in schema["rules"]:
        if rule["kind"] == "township_code":
            k = rule["field"]
            prefix = rule.get("prefix", 9)
            code = pl.col(k).str.slice(0, prefix)
            target = code.replace(successors)
            valid = ~pl.col(f"{k}__err") & target.is_in(unit_codes).fill_null(False)
            df = df.with_columns(
                pl.when(valid).then(target).otherwise(None).alias("declared_unit"),
                valid.alias("township_valid"),
                (pl.col(f"{k}__err") | ~valid).alias(f"{k}__err"),
            )
    for rule in schema["rules"]:
        if rule["kind"] == "village_prefix":
            v, t = rule["village"], rule["township"]
            mismatch = ~pl.col(f"{v}__err") & pl.col("township_valid") & (pl.col(v).str.slice(0, 9) != pl.col(t)).fill_null(False)
            df = df.with_columns((pl.col(f"{v}__err") | mismatch).alias(f"{v}__err"))
    return df


def order_checks(df: pl.DataFrame, schema: dict) -> pl.DataFrame:
    """Rules that need the order of the rows: a unique field's first occurrence stands and later
    ones are errors (among rows whose field has no error of its own); a duplicate record (same
    place and attributes, none of them in error or empty) is an error on the primary key."""
    key = schema["primary_key"][0]
    for f in schema["fields"]:
        if f.get("unique"):
            c = f["code"]
            ok = ~pl.col(f"{c}__err") & pl.col(c).is_not_null()
            first = pl.struct(c, ok).is_first_distinct()
            df = df.with_columns((pl.col(f"{c}__err") | (ok & ~first)).alias(f"{c}__dup"))
    for rule in schema["rules"]:
        if rule["kind"] == "duplicate_record":
            ks = rule["fields"]
            eligible = ~pl.any_horizontal([pl.col(f"{k}__err") | pl.col(k).is_null() for k in ks])
            first = pl.struct(*ks, eligible).is_first_distinct()
            df = df.with_columns((eligible & ~first).alias("duplicate_record"))
    for f in schema["fields"]:
        if f.get("unique"):
            c = f["code"]
            df = df.with_columns(pl.col(f"{c}__dup").alias(f"{c}__err"))
    return df.with_columns((pl.col(f"{key}__err") | pl.col("duplicate_record")).alias(f"{key}__err"))


# ---------------------------------------------------------------- spatial work (two back ends)


class GeoPandasJoins:
    """Spatial joins with geopandas (shapely's STRtree underneath)."""

    name = "geopandas"

    def __init__(self, units: gpd.GeoDataFrame, hazards: dict[str, gpd.GeoDataFrame]):
        self.units = units
        self.hazards = hazards

    def unit_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The unit containing each point (the first unit in layer order when on a shared edge)."""
        pts = gpd.GeoDataFrame(geometry=shapely.points(x, y), crs=self.units.crs)
        j = gpd.sjoin(pts, self.units[["code", "geometry"]], predicate="within", how="inner")
        j = j.sort_values("index_right").groupby(level=0)["code"].first()
        out = np.full(len(x), None, dtype=object)
        out[j.index.to_numpy()] = j.to_numpy()
        return out

    def classes_at(self, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        """Per hazard layer, the highest class of the zones containing each point (0 outside)."""
        pts = gpd.GeoDataFrame(geometry=shapely.points(x, y), crs=self.units.crs)
        out = {}
        for name, zones in self.hazards.items():
            j = gpd.sjoin(pts, zones[["dj", "geometry"]], predicate="within", how="inner")
            best = j.groupby(level=0)["dj"].max()
            c = np.zeros(len(x), dtype=np.int64)
            c[best.index.to_numpy()] = best.to_numpy()
            out[name] = c
        return out

    def largest_overlap(self, footprints: np.ndarray) -> np.ndarray:
        """The unit each footprint overlaps most (ties: the lowest code): units found with the tree,
        intersection areas computed only where a footprint touches more than one unit."""
        fp = gpd.GeoDataFrame(geometry=footprints, crs=self.units.crs)
        j = gpd.sjoin(fp, self.units[["code", "geometry"]], predicate="intersects", how="inner")
        multi = j.index.duplicated(keep=False)
        out = np.full(len(footprints), None, dtype=object)
        single = j[~multi]
        out[single.index.to_numpy()] = single["code"].to_numpy()
        if multi.any():
            m = j[multi]
            areas = shapely.area(shapely.intersection(footprints[m.index.to_numpy()], self.units.geometry.to_numpy()[m["index_right"].to_numpy()]))
            m = m.assign(area=areas)
            m = m[m["area"] > 0].sort_values(["area", "code"], ascending=[False, True])
            best = m.groupby(level=0)["code"].first()
            out[best.index.to_numpy()] = best.to_numpy()
        return out


class SedonaJoins:
    """The same joins in SedonaDB (Apache DataFusion with spatial joins), geometry passed as WKB."""

    name = "sedonadb"

    def __init__(self, units: gpd.GeoDataFrame, hazards: dict[str, gpd.GeoDataFrame]):
        import sedonadb

        self.sd = sedonadb.connect()
        self.units = units
        self.sd.create_data_frame(units[["code", "geometry"]].reset_index(names="uid")).to_view("units", overwrite=True)
        for name, zones in hazards.items():
            self.sd.create_data_frame(zones[["dj", "geometry"]]).to_view(f"hz_{name}", overwrite=True)
        self.hazards = hazards

    def _points(self, x: np.ndarray, y: np.ndarray) -> None:
        pts = gpd.GeoDataFrame({"i": np.arange(len(x))}, geometry=shapely.points(x, y), crs=self.units.crs)
        self.sd.create_data_frame(pts).to_view("pts", overwrite=True)

    def unit_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        self._points(x, y)
        df = self.sd.sql(
            "SELECT p.i, min(u.uid) AS uid FROM pts p JOIN units u ON ST_Within(p.geometry, u.geometry) GROUP BY p.i"
        ).to_pandas()
        out = np.full(len(x), None, dtype=object)
        out[df["i"].to_numpy()] = self.units["code"].to_numpy()[df["uid"].to_numpy()]
        return out

    def classes_at(self, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        self._points(x, y)
        out = {}
        for name in self.hazards:
            df = self.sd.sql(
                f"SELECT p.i, max(z.dj) AS dj FROM pts p JOIN hz_{name} z ON ST_Within(p.geometry, z.geometry) GROUP BY p.i"
            ).to_pandas()
            c = np.zeros(len(x), dtype=np.int64)
            c[df["i"].to_numpy()] = df["dj"].to_numpy()
            out[name] = c
        return out

    def largest_overlap(self, footprints: np.ndarray) -> np.ndarray:
        fp = gpd.GeoDataFrame({"i": np.arange(len(footprints))}, geometry=footprints, crs=self.units.crs)
        self.sd.create_data_frame(fp).to_view("fp", overwrite=True)
        df = self.sd.sql(
            "SELECT f.i, u.code, ST_Area(ST_Intersection(f.geometry, u.geometry)) AS area "
            "FROM fp f JOIN units u ON ST_Intersects(f.geometry, u.geometry)"
        ).to_pandas()
        df = df[df["area"] > 0].sort_values(["i", "area", "code"], ascending=[True, False, True])
        best = df.groupby("i")["code"].first()
        out = np.full(len(footprints), None, dtype=object)
        out[best.index.to_numpy()] = best.to_numpy()
        return out


# ---------------------------------------------------------------- the census steps


def load_units(pipeline: dict, base: Path, successors: dict[str, str]) -> gpd.GeoDataFrame:
    """The township layer, one row per code: a retired code's polygon is merged into its successor."""
    u = pipeline["units"]
    units = read_layer(base / u["path"])
    units = units.rename(columns={u["code_field"]: "code", u["name_field"]: "name"})
    units["code"] = units["code"].map(lambda c: successors.get(c, c))
    units = units.dissolve(by="code", aggfunc="first", sort=True).reset_index()
    return units[["code", "name", "geometry"]]


def load_hazards(pipeline: dict, base: Path) -> dict[str, gpd.GeoDataFrame]:
    """Every hz_* layer; zones riskcensus rejects in QC (invalid polygon, no class) are left out."""
    out = {}
    for i in pipeline.get("inputs", []):
        if i["table"].startswith("hz_"):
            z = read_layer(base / i["path"])
            z = z[z.geometry.notna() & z.geometry.is_valid & z["dj"].notna()].reset_index(drop=True)
            z["dj"] = z["dj"].astype("int64")
            out[i["table"][3:]] = z
    return out


def class_range(repo: Path, hazard: str) -> list[int]:
    """Every class a hazard schema allows (its `dj` field's range): the unit table has a column per
    class whether or not the data has zones of it."""
    with open(repo / "schemas" / "tables" / f"hz_{hazard}.toml", "rb") as f:
        dj = next(x for x in tomllib.load(f)["fields"] if x["code"] == "dj")
    return list(range(int(dj["min"]), int(dj["max"]) + 1))


def load_successors(pipeline: dict, base: Path) -> dict[str, str]:
    path = pipeline.get("codes", {}).get("division_changes")
    if not path:
        return {}
    with open(base / path, encoding="utf-8") as f:
        return {r["old_code"]: r["new_code"] for r in csv.DictReader(f)}


def point_checks(df: pl.DataFrame, joins, schema: dict) -> pl.DataFrame:
    """point_in_unit: a valid point of a record with a valid township must fall in that township
    (riskcensus names the cause, GCJ-02 shift or another township; both are errors)."""
    rule = next(r for r in schema["rules"] if r["kind"] == "point_in_unit")
    lon, lat = rule["lon"], rule["lat"]
    checked = ~pl.col(f"{lon}__err") & ~pl.col(f"{lat}__err") & pl.col("township_valid")
    sub = df.filter(checked).select("row", lon, lat)
    at = joins.unit_at(sub[lon].to_numpy(), sub[lat].to_numpy())
    located = sub.select("row").with_columns(pl.Series("point_unit", at, dtype=pl.String))
    df = df.join(located, on="row", how="left", maintain_order="left")
    outside = checked & (pl.col("point_unit").is_null() | ~pl.col("declared_unit").str.starts_with(pl.col("point_unit"))).fill_null(True)
    return df.with_columns((pl.col(f"{lon}__err") | outside).alias(f"{lon}__err"))


def geometry_checks(df: pl.DataFrame, footprints: np.ndarray | None) -> pl.DataFrame:
    """A footprint must be a valid polygon (riskcensus: invalid_polygon, an error on the record)."""
    ok = np.ones(df.height, dtype=bool) if footprints is None else shapely.is_valid(footprints) & ~shapely.is_empty(footprints)
    return df.with_columns(pl.Series("geometry__err", ~ok))


def check(df: pl.DataFrame, schema: dict, reference_year: int, unit_codes, successors, joins, footprints=None) -> pl.DataFrame:
    df = geometry_checks(coerce(df, schema), footprints)
    df = field_checks(df, schema, reference_year)
    df = township_checks(df, schema, unit_codes, successors)
    df = point_checks(df, joins, schema)
    df = order_checks(df, schema)
    rejected = pl.any_horizontal([pl.col(f"{f['code']}__err") for f in schema["fields"]] + [pl.col("geometry__err")])
    return df.with_columns(rejected.alias("rejected"))


def milli_sum(e: pl.Expr) -> pl.Expr:
    """Sums in thousandths, as riskcensus does (integer sums do not depend on the row order)."""
    return (e * 1000).round().cast(pl.Int64).sum() / 1000


def aggregate(clean: pl.DataFrame, units: gpd.GeoDataFrame, hazard_classes: dict[str, list[int]]) -> pl.DataFrame:
    """One row per township: the building columns of riskcensus's unit table."""
    area, res = pl.col("jzmj").fill_null(0), pl.col("czrk")
    weak = pl.col("jglx").is_in(WEAK_STRUCTURES)
    aggs = [
        pl.len().cast(pl.Float64).alias("n_buildings"),
        milli_sum(area).alias("floor_area_m2"),
        milli_sum(res.fill_null(0)).alias("building_residents"),
        (weak.cast(pl.Float64).sum() / pl.len()).alias("weak_structure_share"),
        ((pl.col("jcnd") < OLD_BEFORE).fill_null(False).cast(pl.Float64).sum() / pl.len()).alias("old_building_share"),
        ((pl.col("kzsf") == "否").fill_null(False).cast(pl.Float64).sum() / pl.len()).alias("unfortified_share"),
        milli_sum(pl.when(weak).then(area).otherwise(0)).alias("weak_floor_area_m2"),
    ]
    for h, classes in hazard_classes.items():
        for c in classes:
            inside = pl.col(f"class_{h}") == c
            aggs.append(milli_sum(pl.when(inside).then(res.fill_null(0)).otherwise(0)).alias(f"pop_{h}_c{c}"))
            aggs.append(milli_sum(pl.when(inside).then(area).otherwise(0)).alias(f"floor_area_{h}_c{c}"))
    per_unit = clean.group_by("unit_code").agg(aggs)
    base = pl.DataFrame({"unit_code": units["code"].tolist(), "unit_name": units["name"].tolist()})
    table = base.join(per_unit, on="unit_code", how="left", maintain_order="left")
    counts = [c for c in table.columns if c.startswith(("n_", "floor_area", "pop_", "building_", "weak_floor"))]
    return table.with_columns([pl.col(c).fill_null(0.0) for c in counts])


def score(table: pl.DataFrame, hazard_classes: dict[str, list[int]]) -> pl.DataFrame:
    """A simple census-style score: exposure (floor area weighted by hazard class) × vulnerability
    (weak share), min-max scaled, graded into five quantile grades (1 = highest risk). Not
    riskcensus's model (that is a TOML model evaluated with polars SQL); it stands for the work."""
    exposure = pl.sum_horizontal(
        [pl.col(f"floor_area_{h}_c{c}") * c for h, cs in hazard_classes.items() for c in cs]
    )
    raw = exposure * (0.5 + pl.col("weak_structure_share").fill_null(0))
    scaled = (raw - raw.min()) / (raw.max() - raw.min())
    t = table.with_columns(scaled.fill_nan(0).alias("composite_score"))
    # Quintiles of the rank (ties share the lower rank): grade 1 is the top fifth.
    quintile = ((pl.col("composite_score").rank("min") - 1) * 5 // pl.len()).cast(pl.Int64)
    return t.with_columns((5 - quintile).alias("composite_grade"))


def write_outputs(out: Path, clean: pl.DataFrame, units_table: pl.DataFrame, geometry: np.ndarray, crs) -> None:
    """The clean buildings as GeoParquet (point or footprint geometry, zstd) and the unit table."""
    out.mkdir(parents=True, exist_ok=True)
    gdf = gpd.GeoDataFrame(clean.to_pandas(use_pyarrow_extension_array=True), geometry=geometry, crs=crs)
    gdf.to_parquet(out / "fwjz.parquet", compression="zstd")
    units_table.write_parquet(out / "unit_table.parquet", compression="zstd")


def compare(mine: pl.DataFrame, theirs_path: Path) -> int:
    """Every compared column of every township, exactly; prints each difference. Returns their count."""
    theirs = pl.read_parquet(theirs_path)
    cols = [c for c in mine.columns if c in theirs.columns and (c in COMPARED or c.startswith(("pop_", "floor_area_")))]
    j = mine.select("unit_code", *cols).join(theirs.select("unit_code", *cols), on="unit_code", how="full", suffix="__rc", coalesce=True)
    diffs = 0
    for c in cols:
        bad = j.filter(~(pl.col(c).eq_missing(pl.col(f"{c}__rc")) | ((pl.col(c) - pl.col(f"{c}__rc")).abs() <= 1e-9 * pl.col(c).abs())))
        for r in bad.select("unit_code", c, f"{c}__rc").iter_rows():
            print(f"DIFF {r[0]} {c}: peer {r[1]} riskcensus {r[2]}")
            diffs += 1
    n_mine, n_theirs = mine["n_buildings"].sum(), theirs["n_buildings"].sum()
    print(f"compared {len(cols)} columns × {j.height} townships with {theirs_path}: {diffs} differences; buildings peer {n_mine:.0f}, riskcensus {n_theirs:.0f}")
    return diffs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("county", type=Path, help="directory written by riskcensus gen-fixtures")
    ap.add_argument("--buildings", choices=["xlsx", "footprint"], default="xlsx", help="read fwjz.xlsx, or the footprint shapefile fwjz.shp")
    ap.add_argument("--spatial", choices=["geopandas", "sedonadb"], default="geopandas")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[2], help="riskcensus checkout (for schemas/)")
    ap.add_argument("--compare", type=Path, help="riskcensus's parquet/unit_table.parquet of a run on the same county")
    args = ap.parse_args()

    base = args.county
    pipeline = load_pipeline(base / "pipeline.toml")
    schema = load_schema(args.repo, "fwjz")
    year = pipeline["run"]["reference_year"]
    successors = load_successors(pipeline, base)
    units = load_units(pipeline, base, successors)
    hazards = load_hazards(pipeline, base)
    log(f"units {len(units)}, hazard layers {len(hazards)}")
    joins = (SedonaJoins if args.spatial == "sedonadb" else GeoPandasJoins)(units, hazards)

    footprints = None
    if args.buildings == "xlsx":
        raw = read_xlsx(input_path(pipeline, base, "fwjz"), schema)
    else:
        raw, wkb = read_vector_buildings(base / "fwjz.shp", schema)
        footprints = shapely.from_wkb(wkb)
    log(f"read {raw.height} buildings")

    checked = check(raw, schema, year, units["code"].tolist(), successors, joins, footprints)
    clean = checked.filter(~pl.col("rejected"))
    log(f"checked: {clean.height} clean, {checked.height - clean.height} rejected")

    x, y = clean["lon"].to_numpy(), clean["lat"].to_numpy()
    if footprints is not None:
        kept = footprints[clean["row"].to_numpy()]
        by_overlap = joins.largest_overlap(kept)
        unit = pl.Series("by_overlap", by_overlap, dtype=pl.String)
        clean = clean.with_columns(pl.coalesce(unit, pl.col("declared_unit")).alias("unit_code"))
        geometry = kept
    else:
        clean = clean.with_columns(pl.col("declared_unit").alias("unit_code"))
        geometry = shapely.points(x, y)
    classes = joins.classes_at(x, y)
    clean = clean.with_columns([pl.Series(f"class_{h}", c) for h, c in classes.items()])
    log("assigned and classed")

    hazard_classes = {h: class_range(args.repo, h) for h in hazards}
    table = score(aggregate(clean, units, hazard_classes), hazard_classes)
    log("aggregated and scored")
    keep = [c for c in clean.columns if "__" not in c and c not in ("swapped", "township_valid", "point_unit", "rejected")]
    write_outputs(args.out, clean.select(keep), table, geometry, units.crs)
    log(f"wrote {args.out}")
    if args.compare:
        return 1 if compare(table, args.compare) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
