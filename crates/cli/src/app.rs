use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Exit codes: 0 ok, 1 the run finished but QC failed its threshold, 2 the run could not be done.
pub const EXIT_OK: i32 = 0;
pub const EXIT_QC_FAILED: i32 = 1;
pub const EXIT_COULD_NOT_RUN: i32 = 2;

/// Batch pipeline for the natural-disaster comprehensive risk census (自然灾害综合风险普查).
#[derive(Debug, Parser)]
#[command(name = "riskcensus", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Less log output (-q errors only).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "verbose")]
    quiet: u8,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a pipeline file: resolve it and run every stage built so far.
    Run {
        /// The pipeline file, e.g. pipelines/demo.toml.
        pipeline: PathBuf,
        /// Output root (default: the pipeline's [output] dir); results go to <OUT>/<run name>/.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The county's previous package: put what changed since it into changes/ of the new package,
        /// and its SHA-256 into the manifest.
        #[arg(long)]
        previous: Option<PathBuf>,
    },
    /// Read and quality-check every input of a pipeline; write qc/report.xlsx, summary.json, issues.csv.
    ///
    /// Exit 0 when every table passes its error-rate threshold, 1 when QC failed, 2 when it could not run.
    Validate {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Output root (default: the pipeline's [output] dir); the report goes to <OUT>/<run name>/qc/.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show what a file holds: its sheets or layers, the header row found, each column with two
    /// sample values, and the census table and fields it matches best. The first thing to run on a
    /// file you were sent; the columns = { … } line it prints maps the headers that matched nothing.
    Inspect {
        /// A spreadsheet (xlsx, xls, ods), csv, shapefile, GeoPackage or GeoJSON.
        file: PathBuf,
        /// Only this sheet (default: every sheet).
        #[arg(long)]
        sheet: Option<String>,
        /// Only this layer (default: every layer).
        #[arg(long)]
        layer: Option<String>,
        /// Also load schemas from this directory (with tables/ and codes/).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// List the census tables, or one table's fields with their Chinese names.
    Schema {
        /// A table code, e.g. fwjz or czt_xx.
        table: Option<String>,
        /// Also load schemas from this directory (with tables/ and codes/).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Check an upload package: layout, manifest, every file's SHA-256, Parquet row counts.
    ///
    /// Exit 0 when the package is whole, 1 with a list of what is wrong.
    Verify {
        /// The package, <county code>_<county name>_<year>.zip.
        package: PathBuf,
    },
    /// Merge verified county packages into a provincial dataset, re-grade the units province-wide
    /// with the model they carry, draw the provincial maps and write the provincial package.
    ///
    /// Example: riskcensus merge out/*/53*.zip --out out/province
    Merge {
        /// County packages (.zip), as written by `riskcensus run`.
        #[arg(required = true)]
        packages: Vec<PathBuf>,
        /// Output directory for the provincial dataset and package.
        #[arg(long)]
        out: PathBuf,
        /// The region the counties make up (a province, city or county code); default: their province.
        #[arg(long)]
        region: Option<String>,
        /// Refuse a county whose package has not passed this review tier (county, city, province).
        #[arg(long)]
        require_tier: Option<String>,
    },
    /// Run SQL (polars SQL) over a run's Parquet tables (unit_risk, unit_table, …), by table name.
    ///
    /// Example: riskcensus query out/demo "SELECT unit_name, composite_grade FROM unit_risk ORDER BY composite_score DESC"
    Query {
        /// A run's output directory (the one holding parquet/), or an upload package (.zip).
        dir: PathBuf,
        /// The query.
        sql: String,
        /// Write the result to this .csv or .parquet file instead of printing it.
        #[arg(long)]
        to: Option<PathBuf>,
    },
    /// Generate a seeded synthetic census county with realistic defects and their ground truth.
    GenFixtures(GenArgs),
    /// The review tiers: import reviewers' dispositions, draw and score the city's sample, write
    /// the townships' return lists, record a tier in a package.
    #[command(subcommand)]
    Review(crate::review::ReviewCmd),
    /// Write blank survey forms (xlsx) from the census schemas: title, the two-row header the readers
    /// expect, field notes, dropdowns from the code lists, formats and a 填表说明 sheet.
    ///
    /// Example: riskcensus template fwjz czt_xx --out forms --township 530402001
    Template(crate::template::TemplateArgs),
    /// What changed between two versions of a county: records added, removed and changed (by
    /// primary key), unit scores and grades, QC figures and issues, input files (by hash).
    ///
    /// Example: riskcensus diff 530402_红塔区_2020_v1.zip out/530402/530402_红塔区_2020.zip --out changes
    Diff(crate::diff::DiffArgs),
    /// Run many counties: in parallel, skipping those whose package matches their inputs, going on
    /// when one fails; ends with a status table (batch_status.csv/.json) and, with --merge, the merge.
    ///
    /// Example: riskcensus batch counties/ --out out --jobs 2 --merge out/province
    Batch(crate::batch::BatchArgs),
    /// Survey progress (进度): per township and table, records surveyed, passed QC and expected (from
    /// a targets file), the share done, the county's total; as xlsx, json and a progress map.
    ///
    /// Example: riskcensus progress county/pipeline.toml --targets targets.csv --out progress
    Progress(crate::progress::ProgressArgs),
}

#[derive(Debug, clap::Args)]
struct GenArgs {
    /// A real 6-digit county code from the NBS 2023 list (e.g. 530402 红塔区).
    #[arg(long)]
    county: String,
    /// Number of building records, 1000 to 5000000.
    #[arg(long, default_value_t = 2_000)]
    buildings: u64,
    /// Random seed: the same seed and arguments give byte-identical files.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Share of records given one defect (0 to 0.5). 0 also gives clean sheet layouts.
    #[arg(long, default_value_t = 0.05)]
    defect_rate: f64,
    /// Also write the buildings as a point shapefile or as footprint polygons.
    #[arg(long, value_enum, default_value_t = Geometry::None)]
    building_geometry: Geometry,
    /// Census reference year.
    #[arg(long, default_value_t = 2020)]
    reference_year: i32,
    /// Also every other census table (hidden dangers, shelters, relief stores, rescue teams,
    /// venues, historical disasters), filled from its schema with one defect of each rule.
    #[arg(long)]
    all_tables: bool,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Geometry {
    None,
    Point,
    Footprint,
}

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                EXIT_COULD_NOT_RUN
            } else {
                EXIT_OK
            };
            let _ = e.print();
            return code;
        }
    };
    init_logging(&cli);
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            EXIT_COULD_NOT_RUN
        }
    }
}

fn init_logging(cli: &Cli) {
    let level = match (cli.quiet, cli.verbose) {
        (q, _) if q > 0 => "error",
        (_, 0) => "warn",
        (_, 1) => "info",
        (_, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RISKCENSUS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

fn dispatch(command: Command) -> Result<i32> {
    match command {
        Command::Run {
            pipeline,
            out,
            previous,
        } => run(&pipeline, out.as_deref(), previous),
        Command::GenFixtures(args) => gen_fixtures(args),
        Command::Template(args) => crate::template::template(args),
        Command::Diff(args) => crate::diff::diff(args),
        Command::Batch(args) => crate::batch::batch(args),
        Command::Progress(args) => crate::progress::progress(args),
        Command::Validate { pipeline, out } => validate(&pipeline, out.as_deref()),
        Command::Schema { table, dir } => schema(table.as_deref(), dir.as_deref()),
        Command::Inspect {
            file,
            sheet,
            layer,
            dir,
        } => inspect(&file, sheet, layer, dir.as_deref()),
        Command::Query { dir, sql, to } => query(&dir, &sql, to.as_deref()),
        Command::Verify { package } => verify(&package),
        Command::Merge {
            packages,
            out,
            region,
            require_tier,
        } => {
            crate::review::check_tiers(&packages, require_tier.as_deref())?;
            merge(&packages, &out, region.as_deref())
        }
        Command::Review(cmd) => crate::review::dispatch(cmd),
    }
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
fn progress_bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:>12} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar
}

fn gen_fixtures(args: GenArgs) -> Result<i32> {
    let opts = riskcensus_synth::Options {
        county: args.county,
        buildings: args.buildings,
        seed: args.seed,
        defect_rate: args.defect_rate,
        building_geometry: match args.building_geometry {
            Geometry::None => riskcensus_synth::BuildingGeometry::None,
            Geometry::Point => riskcensus_synth::BuildingGeometry::Point,
            Geometry::Footprint => riskcensus_synth::BuildingGeometry::Footprint,
        },
        reference_year: args.reference_year,
        all_tables: args.all_tables,
        out: args.out,
    };
    let started = Instant::now();
    let bar = progress_bar(opts.buildings, "buildings");
    let summary = riskcensus_synth::generate(&opts, &mut |p| bar.set_position(p.done))
        .with_context(|| {
            format!(
                "could not generate county {} into {}",
                opts.county,
                opts.out.display()
            )
        })?;
    bar.finish_and_clear();
    println!(
        "generated {} {} ({} townships) in {:.1}s into {}",
        summary.county_code,
        summary.county_name,
        summary.townships,
        started.elapsed().as_secs_f64(),
        opts.out.display()
    );
    for (table, files, rows) in &summary.tables {
        println!("  {table:<16} {rows:>9} records  {}", files.join(", "));
    }
    println!("  {} injected defects in ground_truth.csv", summary.defects);
    println!(
        "run it with: riskcensus run {}",
        opts.out.join("pipeline.toml").display()
    );
    Ok(EXIT_OK)
}

/// Says what the pipeline file asked for that the run does not take as written, before any work.
fn print_warnings(run: &riskcensus_pipeline::Run) {
    for w in &run.warnings {
        eprintln!("warning: {}: {w}", run.pipeline_path.display());
    }
}

fn run(
    pipeline: &std::path::Path,
    out: Option<&std::path::Path>,
    previous: Option<PathBuf>,
) -> Result<i32> {
    let run = riskcensus_pipeline::Run::load(pipeline, out)?;
    print_warnings(&run);
    tracing::info!(run = %run.name, region = %run.region_code, inputs = run.inputs.len(), "pipeline resolved");
    let bar = progress_bar(run.inputs.len() as u64 + 2, "tables");
    let options = riskcensus_pipeline::RunOptions { previous };
    let report = riskcensus_pipeline::run_with(&run, &options, &mut |what, done, _| {
        bar.set_message(what.to_owned());
        bar.set_position(done)
    })?;
    bar.finish_and_clear();
    println!(
        "run {} ({} {}, reference year {})",
        report.name, report.region_code, report.region_name, report.reference_year
    );
    println!(
        "  {} input files hashed: {}",
        report.inputs.len(),
        report.out_dir.join("inputs.json").display()
    );
    println!(
        "  QC: {} — report in {}",
        if report.qc_passed { "passed" } else { "FAILED" },
        report.out_dir.join("qc").display()
    );
    if !report.reused.is_empty() {
        println!(
            "  unchanged since the last run, not read again: {}",
            report.reused.join(", ")
        );
    }
    if !report.composite_grades.is_empty() {
        let grades: Vec<String> = report
            .composite_grades
            .iter()
            .map(|(l, n)| format!("{l} {n}"))
            .collect();
        println!(
            "  {} units graded (composite): {} — {}",
            report.units,
            grades.join(", "),
            report.out_dir.join("parquet").join("unit_risk").display()
        );
    }
    if !report.maps.is_empty() {
        println!(
            "  maps: {} ({} maps, SVG and PNG, A4 at 300 dpi)",
            report.out_dir.join("maps").display(),
            report.maps.len() / 2
        );
    }
    if report.stages_done.contains(&"changes") {
        println!(
            "  changes since the previous package: {}",
            report.out_dir.join("changes").display()
        );
    }
    if let Some(p) = &report.package {
        println!("  package: {}", p.display());
    }
    if let Some(why) = &report.not_packaged {
        println!("  no package written: {why}");
    }
    println!("  stages done: {}", report.stages_done.join(", "));
    if !report.stages_pending.is_empty() {
        println!(
            "  stages not built yet: {} (see the open issues)",
            report.stages_pending.join(", ")
        );
    }
    println!("outputs: {}", report.out_dir.display());
    Ok(if report.qc_passed && report.not_packaged.is_none() {
        EXIT_OK
    } else {
        EXIT_QC_FAILED
    })
}

fn validate(pipeline: &std::path::Path, out: Option<&std::path::Path>) -> Result<i32> {
    let run = riskcensus_pipeline::Run::load(pipeline, out)?;
    print_warnings(&run);
    let bar = progress_bar(run.inputs.len() as u64 + 2, "tables");
    let v = riskcensus_pipeline::validate(&run, &mut |what, done, _| {
        bar.set_message(what.to_owned());
        bar.set_position(done)
    })?;
    bar.finish_and_clear();
    let s = &v.summary;
    if !v.reused.is_empty() {
        println!(
            "unchanged since the last run, not read again: {}",
            v.reused.join(", ")
        );
    }
    println!(
        "QC of {} ({} {}), pass threshold {:.2}%, rejected records at most {:.2}%",
        s.run,
        s.region_code,
        s.region_name,
        s.pass_threshold * 100.0,
        s.max_rejected_share * 100.0
    );
    println!(
        "  {:<16} {:>9} {:>9} {:>9} {:>8} {:>9}  result",
        "table", "read", "clean", "rejected", "issues", "差错率"
    );
    for t in &s.tables {
        println!(
            "  {:<16} {:>9} {:>9} {:>9} {:>8} {:>8.3}%  {}",
            t.table,
            t.rows_read,
            t.rows_clean,
            t.rows_rejected,
            t.issues,
            t.error_rate * 100.0,
            if t.passed {
                "pass".to_owned()
            } else {
                // The reasons, as `summary.json` names them.
                let reasons: Vec<&str> = t.fail_reasons.iter().map(|r| r.as_str()).collect();
                format!("FAIL ({})", reasons.join(", "))
            }
        );
    }
    println!(
        "report: {}",
        run.out_dir.join("qc").join("report.xlsx").display()
    );
    crate::review::print_review(&run, s);
    println!("QC {}", if s.passed { "passed" } else { "FAILED" });
    Ok(if s.passed { EXIT_OK } else { EXIT_QC_FAILED })
}

fn schema(table: Option<&str>, dir: Option<&std::path::Path>) -> Result<i32> {
    let mut set = riskcensus_schema::SchemaSet::builtin()?;
    if let Some(d) = dir {
        set.load_dir(d)?;
    }
    match table {
        None => {
            println!(
                "{:<20} {:<8} {:>6}  名称 / name",
                "table", "geometry", "fields"
            );
            for t in set.tables.values() {
                println!(
                    "{:<20} {:<8} {:>6}  {} / {}",
                    t.code,
                    format!("{:?}", t.geometry).to_lowercase(),
                    t.fields.len(),
                    t.name_zh,
                    t.name_en
                );
            }
        }
        Some(code) => {
            let t = set.table(code).ok_or_else(|| {
                anyhow::anyhow!("no table {code:?} (hint: `riskcensus schema` lists the tables)")
            })?;
            println!("{} {} / {} ({})", t.code, t.name_zh, t.name_en, t.source);
            println!(
                "{:<12} {:<24} {:<28} {:<6} {:<4} {:<16} codes / pattern",
                "field", "名称", "name_en", "type", "req", "range"
            );
            for f in &t.fields {
                let range = match (f.min, f.max) {
                    (None, None) => String::new(),
                    (a, b) => format!(
                        "[{}, {}]",
                        a.map(bound).unwrap_or_else(|| "".into()),
                        b.map(bound).unwrap_or_else(|| "".into())
                    ),
                };
                let extra = f
                    .codes
                    .clone()
                    .or_else(|| f.pattern.as_ref().map(|p| p.as_str().to_owned()))
                    .unwrap_or_default();
                println!(
                    "{:<12} {:<24} {:<28} {:<6} {:<4} {:<16} {}",
                    f.code,
                    f.name_zh,
                    f.name_en,
                    format!("{:?}", f.ty).to_lowercase(),
                    if f.required { "yes" } else { "" },
                    range,
                    extra
                );
                // Aliases are the other headers a column may carry; shown so a schema override or
                // a column map can be checked against what the readers already accept.
                if !f.aliases.is_empty() {
                    println!("{:<12} aliases: {}", "", f.aliases.join(", "));
                }
                if f.multiple {
                    println!(
                        "{:<12} multiple choice of {}",
                        "",
                        f.codes.as_deref().unwrap_or("")
                    );
                }
                if let Some(c) = &f.citation {
                    println!("{:<12} source: {c}", "");
                }
            }
            print_keys_and_rules(t);
            println!(
                "Headers match a field by its code, 名称, name_en or an alias (spaces, full-width forms and case ignored); map other headers in the pipeline: columns = {{ \"<header>\" = \"<field>\" }} under [[inputs]] or [units]."
            );
        }
    }
    Ok(EXIT_OK)
}

/// The table's key and its rules, each with its source, as `riskcensus schema T` lists them.
fn print_keys_and_rules(t: &riskcensus_schema::TableSchema) {
    if t.primary_key.is_empty() {
        println!("primary key: none");
    } else {
        println!("primary key: {}", t.primary_key.join(" + "));
    }
    if let Some(n) = &t.primary_key_note {
        println!("{:<12} {n}", "");
    }
    if t.rules.is_empty() {
        return;
    }
    println!("rules:");
    for (rule, citation) in t.rules.iter().zip(&t.rule_citations) {
        println!("  {:<17} {}", rule.kind(), rule.describe());
        if let Some(c) = citation {
            println!("  {:<17} source: {c}", "");
        }
    }
}

fn inspect(
    file: &std::path::Path,
    sheet: Option<String>,
    layer: Option<String>,
    dir: Option<&std::path::Path>,
) -> Result<i32> {
    let mut set = riskcensus_schema::SchemaSet::builtin()?;
    if let Some(d) = dir {
        set.load_dir(d)?;
    }
    let schemas: Vec<&riskcensus_schema::TableSchema> = set.tables.values().collect();
    let input = riskcensus_ingest::Input {
        path: file.to_owned(),
        display: file.display().to_string(),
        sheet,
        layer,
        ..Default::default()
    };
    let found = riskcensus_ingest::inspect(&schemas, &input)?;
    for part in &found.parts {
        print_part(file, part);
    }
    Ok(EXIT_OK)
}

/// One sheet or layer: where its header is, the tables it matches, its columns, and the column map
/// that would match the columns left over.
fn print_part(file: &std::path::Path, part: &riskcensus_ingest::Part) {
    let mut head = format!("{}, {} {:?}", file.display(), part.kind, part.name);
    if let Some(r) = part.header_row {
        head.push_str(&format!(": header row {r}"));
    }
    if let Some(e) = &part.encoding {
        head.push_str(&format!(", encoding {e}"));
    }
    println!("{head}");
    if part.columns.is_empty() {
        println!("  (empty)\n");
        return;
    }
    match part.candidates.split_first() {
        None => println!("  matches no census table: no two columns carry a field's name"),
        Some(((code, name, n), rest)) => {
            let others: Vec<String> = rest
                .iter()
                .map(|(c, nm, k)| format!("{c} {nm} ({k})"))
                .collect();
            let others = if others.is_empty() {
                String::new()
            } else {
                format!("; then {}", others.join(", "))
            };
            println!("  best match: {code} {name}, {n} column(s) matched{others}");
        }
    }
    if !part.missing_required.is_empty() {
        println!(
            "  required fields no column matches: {}",
            part.missing_required.join(", ")
        );
    }
    println!(
        "  {} {} {} field",
        pad("column", 10),
        pad("header", 28),
        pad("samples", 40)
    );
    for c in &part.columns {
        let field = match (&c.field, &c.like) {
            (Some(f), _) => f.clone(),
            (None, Some(l)) => format!("? like {l}"),
            (None, None) => "-".into(),
        };
        println!(
            "  {} {} {} {}",
            pad(&c.column, 10),
            pad(&c.header, 28),
            pad(&c.samples.join(" | "), 40),
            field
        );
    }
    let map: Vec<String> = part
        .columns
        .iter()
        .filter_map(|c| {
            let code = c.like.as_ref()?.split(' ').next()?;
            Some(format!("{:?} = {code:?}", c.header))
        })
        .collect();
    if !map.is_empty() {
        println!(
            "  if the columns marked ? are those fields, add to the file's [[inputs]] (or [units]): columns = {{ {} }}",
            map.join(", ")
        );
    }
    println!();
}

/// `s` padded to `width` terminal columns, counting a CJK character as two: `{:<n}` counts
/// characters, which leaves Chinese headers out of line.
fn pad(s: &str, width: usize) -> String {
    let wide = |c: char| matches!(c, '\u{1100}'..='\u{115F}' | '\u{2E80}'..='\u{A4CF}' | '\u{AC00}'..='\u{D7A3}' | '\u{F900}'..='\u{FAFF}' | '\u{FE30}'..='\u{FE4F}' | '\u{FF00}'..='\u{FF60}' | '\u{FFE0}'..='\u{FFE6}');
    let used: usize = s.chars().map(|c| if wide(c) { 2 } else { 1 }).sum();
    format!("{s}{}", " ".repeat(width.saturating_sub(used)))
}

fn verify(package: &std::path::Path) -> Result<i32> {
    let problems = riskcensus_publish::package::verify(package);
    if problems.is_empty() {
        println!("{}: whole", package.display());
        Ok(EXIT_OK)
    } else {
        println!("{}: {} problem(s)", package.display(), problems.len());
        for p in &problems {
            println!("  {p}");
        }
        Ok(EXIT_QC_FAILED)
    }
}

fn merge(packages: &[PathBuf], out: &std::path::Path, region: Option<&str>) -> Result<i32> {
    let started = Instant::now();
    let r = riskcensus_pipeline::merge::merge(packages, out, region)?;
    println!(
        "merged {} counties into {} {} ({}) in {:.1} s",
        r.counties.len(),
        r.region_code,
        r.region_name,
        r.reference_year,
        started.elapsed().as_secs_f64()
    );
    for (code, name, passed) in &r.counties {
        let qc = if *passed {
            "QC passed"
        } else {
            "QC FAILED its threshold"
        };
        println!("  {code} {name}: {qc}");
    }
    let grades: Vec<String> = r
        .composite_grades
        .iter()
        .map(|(l, n)| format!("{l} {n}"))
        .collect();
    println!(
        "  {} units re-graded province-wide (composite): {}",
        r.units,
        grades.join(", ")
    );
    println!(
        "  QC: {}",
        if r.qc_passed {
            "every county passed"
        } else {
            "at least one county failed its threshold"
        }
    );
    println!("  maps: {}", r.out_dir.join("maps").display());
    println!("  package: {}", r.package.display());
    Ok(if r.qc_passed { EXIT_OK } else { EXIT_QC_FAILED })
}

fn query(dir: &std::path::Path, sql: &str, to: Option<&std::path::Path>) -> Result<i32> {
    let mut df = riskcensus_pipeline::query::query(dir, sql).with_context(|| {
        let names: Vec<String> = dir
            .is_dir()
            .then(|| riskcensus_pipeline::query::tables(dir))
            .and_then(Result::ok)
            .map(|t| t.into_iter().map(|x| x.0).collect())
            .unwrap_or_default();
        format!("query failed (tables here: {})", names.join(", "))
    })?;
    match to {
        Some(path) => {
            riskcensus_pipeline::query::write(&mut df, path)?;
            println!("{} rows written to {}", df.height(), path.display());
        }
        None => println!("{df}"),
    }
    Ok(EXIT_OK)
}

fn bound(b: riskcensus_schema::Bound) -> String {
    b.describe()
}
