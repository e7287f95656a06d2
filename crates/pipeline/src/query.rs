//! `riskcensus query`: polars SQL over a run's published Parquet tables, for analysts without Python.

use std::path::Path;

use polars::prelude::*;
use polars::sql::SQLContext;

use crate::{Error, Result};

/// Tables of an output directory: every `parquet/*.parquet`, registered by file stem.
pub fn tables(dir: &Path) -> Result<Vec<(String, std::path::PathBuf)>> {
    let parquet = if dir.join("parquet").is_dir() {
        dir.join("parquet")
    } else {
        dir.to_owned()
    };
    let err = |e: std::io::Error| Error::Invalid {
        path: parquet.clone(),
        message: e.to_string(),
        hint: "give a run's output directory (it holds parquet/)".into(),
    };
    let mut out: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(&parquet)
        .map_err(err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        // Single files (`unit_risk.parquet`) and Hive-partitioned folders (`fwjz/county=…/`).
        .filter(|p| p.is_dir() || p.extension().is_some_and(|x| x == "parquet"))
        .filter_map(|p| Some((p.file_stem()?.to_str()?.to_owned(), p)))
        .collect();
    out.sort();
    if out.is_empty() {
        return Err(Error::Invalid {
            path: parquet,
            message: "no .parquet tables".into(),
            hint: "run the pipeline first (riskcensus run)".into(),
        });
    }
    Ok(out)
}

/// One published table as a lazy frame: a single file, or every part of a Hive-partitioned folder
/// in path order, with the partition key as a `county` column.
///
/// The parts are stacked into one frame before SQL sees them: polars rewrites `count(*)` over a
/// union of frames into a sum cast to UInt128, a type this build of polars does not carry, so a
/// lazy union made `SELECT count(*)` fail on every table with more than one partition.
fn table_frame(path: &Path) -> Result<Option<LazyFrame>> {
    let mut stacked: Option<DataFrame> = None;
    for p in table_parts(path)? {
        let df = partition_frame(&p)?;
        stacked = Some(match stacked {
            None => df,
            Some(mut all) => {
                all.vstack_mut(&df).map_err(|e| Error::Invalid {
                    path: p.clone(),
                    message: format!("this part does not match the table's other parts: {e}"),
                    hint: "a table's parts come from one run; unpack the package again".into(),
                })?;
                all
            }
        });
    }
    Ok(stacked.map(|mut df| {
        df.rechunk_mut();
        df.lazy()
    }))
}

/// The Parquet files of a table: the file itself, or every part under its folder, in path order.
fn table_parts(path: &Path) -> Result<Vec<std::path::PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut parts = Vec::new();
    let mut stack = vec![path.to_owned()];
    while let Some(d) = stack.pop() {
        let rerr = |source| Error::Input {
            path: d.clone(),
            source,
        };
        for e in std::fs::read_dir(&d).map_err(rerr)? {
            let p = e.map_err(rerr)?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                parts.push(p);
            }
        }
    }
    parts.sort();
    Ok(parts)
}

/// One part file, with its Hive partition key (`…/county=530381/part-0.parquet`) as a column.
fn partition_frame(p: &Path) -> Result<DataFrame> {
    let f = std::fs::File::open(p).map_err(|e| Error::Input {
        path: p.to_owned(),
        source: e,
    })?;
    let mut df = ParquetReader::new(f).finish()?;
    let county = p
        .parent()
        .and_then(|d| d.file_name())
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("county="));
    if let Some(code) = county {
        let n = df.height();
        df.with_column(Column::new("county".into(), vec![code.to_owned(); n]))?;
    }
    Ok(df)
}

/// One published table of an output directory, all its partitions.
pub fn read_table(dir: &Path, name: &str) -> Result<DataFrame> {
    let found = tables(dir)?.into_iter().find(|(n, _)| n == name);
    let Some((_, path)) = found else {
        return Err(Error::Invalid {
            path: dir.join("parquet").join(name),
            message: format!("no table {name}"),
            hint: "riskcensus query DIR \"SHOW TABLES\" lists them".into(),
        });
    };
    match table_frame(&path)? {
        Some(lf) => Ok(lf.collect()?),
        None => Ok(DataFrame::empty()),
    }
}

/// Verifies an upload package and unpacks its `parquet/` folder into `into`, for querying: the
/// tables queried are the bytes verified, and a package that does not verify is refused, naming
/// its problems.
pub fn unpack_parquet(package: &Path, into: &Path) -> Result<()> {
    crate::package::unpack(package, into, &|name| name.starts_with("parquet/")).map_err(
        |problems| {
            let shown: Vec<&str> = problems.iter().take(5).map(String::as_str).collect();
            Error::Package {
                path: package.to_owned(),
                message: format!("{} problem(s): {}", problems.len(), shown.join("; ")),
                hint: "`riskcensus verify` lists every problem; ask for the package again".into(),
            }
        },
    )?;
    Ok(())
}

/// Runs one SQL query over the tables of an output directory or an upload package.
pub fn query(dir: &Path, sql: &str) -> Result<DataFrame> {
    if dir.is_file() {
        let tmp = tempfile::tempdir().map_err(|e| Error::Input {
            path: dir.to_owned(),
            source: e,
        })?;
        unpack_parquet(dir, tmp.path())?;
        return query(tmp.path(), sql);
    }
    let ctx = SQLContext::new();
    for (name, path) in tables(dir)? {
        if let Some(lf) = table_frame(&path)? {
            ctx.register(&name, lf);
        }
    }
    let mut ctx = ctx;
    Ok(ctx.execute(sql)?.collect()?)
}

/// Writes a result as csv (UTF-8) or Parquet, by the file's extension.
pub fn write(df: &mut DataFrame, path: &Path) -> Result<()> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("parquet") => riskcensus_risk::score::write_parquet(df, path)
            .map_err(|e| Error::Report(e.to_string())),
        Some("csv") => {
            let werr = |e: String| Error::Report(format!("cannot write {}: {e}", path.display()));
            let mut w = csv::Writer::from_path(path).map_err(|e| werr(e.to_string()))?;
            let names: Vec<String> = df
                .get_column_names()
                .iter()
                .map(|c| c.to_string())
                .collect();
            w.write_record(&names).map_err(|e| werr(e.to_string()))?;
            for i in 0..df.height() {
                let row: Vec<String> = df
                    .columns()
                    .iter()
                    .map(|c| match c.get(i) {
                        Ok(AnyValue::Null) | Err(_) => String::new(),
                        Ok(AnyValue::String(s)) => s.to_owned(),
                        Ok(AnyValue::StringOwned(s)) => s.to_string(),
                        Ok(v) => csv_cell(&v),
                    })
                    .collect();
                w.write_record(&row).map_err(|e| werr(e.to_string()))?;
            }
            w.flush().map_err(|e| werr(e.to_string()))
        }
        _ => Err(Error::Invalid {
            path: path.to_owned(),
            message: "unknown output type".into(),
            hint: "end the file name in .csv or .parquet".into(),
        }),
    }
}

/// A value as a csv cell. Floats are written in full (the shortest text that reads back as the
/// same number): polars' display rounds them to 7 significant digits, which loses a score's
/// ranking and a coordinate's metres.
fn csv_cell(v: &AnyValue<'_>) -> String {
    match v {
        AnyValue::Float64(x) => x.to_string(),
        AnyValue::Float32(x) => x.to_string(),
        v => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Hive-partitioned table as a run writes it: one folder per county, each with a part file.
    fn partitioned(dir: &Path, table: &str, parts: &[(&str, &[f64])]) {
        for (county, values) in parts {
            let folder = dir
                .join("parquet")
                .join(table)
                .join(format!("county={county}"));
            std::fs::create_dir_all(&folder).unwrap();
            let n = values.len();
            let mut df = DataFrame::new(
                n,
                vec![
                    Column::new(
                        "unit_code".into(),
                        (0..n)
                            .map(|i| format!("{county}{:03}", i + 1))
                            .collect::<Vec<_>>(),
                    ),
                    Column::new("score".into(), values.to_vec()),
                ],
            )
            .unwrap();
            let f = std::fs::File::create(folder.join("part-0.parquet")).unwrap();
            ParquetWriter::new(f).finish(&mut df).unwrap();
        }
    }

    #[test]
    fn count_star_over_several_partitions() {
        let d = tempfile::tempdir().unwrap();
        partitioned(
            d.path(),
            "fwjz",
            &[("530302", &[1.0, 2.0]), ("530381", &[3.0, 4.0, 5.0])],
        );
        let df = query(d.path(), "SELECT count(*) AS n FROM fwjz").unwrap();
        let n = df.column("n").unwrap().cast(&DataType::Int64).unwrap();
        assert_eq!(n.i64().unwrap().get(0), Some(5));
        let df = query(
            d.path(),
            "SELECT county, count(*) AS n FROM fwjz GROUP BY county ORDER BY county",
        )
        .unwrap();
        let n = df.column("n").unwrap().cast(&DataType::Int64).unwrap();
        assert_eq!(
            n.i64().unwrap().iter().collect::<Vec<_>>(),
            vec![Some(2), Some(3)]
        );
    }

    #[test]
    fn csv_floats_read_back_as_the_same_number() {
        let d = tempfile::tempdir().unwrap();
        let values = [
            102.712_345_678_9,
            0.123_456_789_012_345,
            1e-9,
            1234567.891,
            -0.5,
        ];
        partitioned(d.path(), "unit_risk", &[("530302", &values)]);
        let mut df = query(d.path(), "SELECT unit_code, score FROM unit_risk").unwrap();
        let out = d.path().join("result.csv");
        write(&mut df, &out).unwrap();
        let mut r = csv::Reader::from_path(&out).unwrap();
        let back: Vec<f64> = r
            .records()
            .map(|rec| rec.unwrap()[1].parse::<f64>().unwrap())
            .collect();
        assert_eq!(back, values);
    }
}
