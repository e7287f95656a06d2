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
fn table_frame(path: &Path) -> Result<Option<LazyFrame>> {
    let mut parts = Vec::new();
    if path.is_dir() {
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
    } else {
        parts.push(path.to_owned());
    }
    let mut frames = Vec::new();
    for p in parts {
        let f = std::fs::File::open(&p).map_err(|e| Error::Input {
            path: p.clone(),
            source: e,
        })?;
        let mut lf = ParquetReader::new(f).finish()?.lazy();
        // A Hive partition (`…/county=530381/part-0.parquet`) gives its key as a column.
        let county = p
            .parent()
            .and_then(|d| d.file_name())
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("county="));
        if let Some(code) = county {
            lf = lf.with_column(lit(code.to_owned()).alias("county"));
        }
        frames.push(lf);
    }
    Ok(match frames.len() {
        0 => None,
        1 => frames.pop(),
        _ => Some(concat(frames, UnionArgs::default())?),
    })
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
                        Ok(v) => v.to_string(),
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
