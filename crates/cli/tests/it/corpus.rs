//! The corruption corpus (issue 9): damaged variants of the bundled county
//! (`fixtures/county_530381`), each made here from the committed files by a small byte-level damage
//! function (no damaged binary is committed), run through the binary, and held to the product's
//! promises:
//!
//! - never a panic, an abort or a signal: the exit code is 0, 1 or 2;
//! - bad input is refused with exit 2 and one `error:` naming the damaged file and the place in it;
//! - or the run finishes and nothing is lost: for every table rows read = clean + rejected, and rows
//!   read (+ those excluded by a visible rule) = the records the file holds, counted here from the
//!   bytes written, not by the readers;
//! - nothing half-written: no `.tmp-` file left, every JSON whole, no package after exit 2.
//!
//! Each test runs one group of variants and reports every failing variant of the group at once;
//! nextest runs the groups in parallel. Damaged inputs go through `validate` (ingest + QC); `run` is
//! used where later stages matter (the upload packages).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{bin, repo};

// ---------------------------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmd {
    Validate,
    Run,
}

struct Variant {
    name: &'static str,
    cmd: Cmd,
    /// Damages the county copy in the directory given; says what must come of it.
    damage: fn(&Path) -> Expect,
}

const fn validate(name: &'static str, damage: fn(&Path) -> Expect) -> Variant {
    Variant {
        name,
        cmd: Cmd::Validate,
        damage,
    }
}

const fn run(name: &'static str, damage: fn(&Path) -> Expect) -> Variant {
    Variant {
        name,
        cmd: Cmd::Run,
        damage,
    }
}

/// What a damaged county must give.
#[derive(Debug, Clone)]
enum Expect {
    /// Exit 2 with one `error:` line naming one of `files`; the error names one of `places`.
    Refused {
        files: Vec<String>,
        places: Vec<String>,
    },
    /// A finished run (exit 0 or 1) that lost nothing: `table` (if any) holds `held` records, of
    /// which `excluded` are excluded by a visible rule; every other table holds what the fixture
    /// holds; and the `checks` hold.
    Runs {
        table: Option<&'static str>,
        held: u64,
        excluded: u64,
        checks: Vec<Check>,
    },
    /// The parts of a shapefile disagree about how many records there are: a file-level
    /// `row_count_mismatch` error fails the table (exit 1).
    PartsDisagree { table: &'static str },
    /// Any one of these.
    AnyOf(Vec<Expect>),
}

#[derive(Debug, Clone)]
enum Check {
    /// An issue of `rule` on each of these source rows of the table.
    IssueRows { rule: &'static str, rows: Vec<u32> },
    /// An issue of `rule` of the table that mentions `text` (in its value, column or message).
    IssueMentions {
        rule: &'static str,
        text: &'static str,
    },
    /// The record on this source row is rejected (an error issue on it).
    Rejected { row: u32 },
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn refused(files: &[&str], places: &[&str]) -> Expect {
    Expect::Refused {
        files: strings(files),
        places: strings(places),
    }
}

fn runs(table: &'static str, held: u64, checks: Vec<Check>) -> Expect {
    Expect::Runs {
        table: Some(table),
        held,
        excluded: 0,
        checks,
    }
}

/// Nothing lost anywhere, every table as the fixture holds it.
fn runs_unchanged() -> Expect {
    Expect::Runs {
        table: None,
        held: 0,
        excluded: 0,
        checks: Vec::new(),
    }
}

/// The shapefile's parts disagree: `row_count_mismatch` failing the table, or exit 2 naming a part.
fn parts_disagree(table: &'static str, files: &[&str], places: &[&str]) -> Expect {
    Expect::AnyOf(vec![
        Expect::PartsDisagree { table },
        refused(files, places),
    ])
}

/// Where a shapefile's records are: the feature, record, offset or header.
const SHP_PLACES: &[&str] = &[
    "feature", "record", "offset", "byte", "header", "shape", "layer",
];
/// Where a workbook's trouble is.
const XLSX_CONTAINER_PLACES: &[&str] = &[
    "byte",
    "offset",
    "entry",
    "central directory",
    "xl/",
    "end of",
    "signature",
];
/// The sheet of czt_xx.xlsx.
const SCHOOLS_SHEET: &str = "学校";
/// A zero-byte file has no place in it; saying it is empty is saying where.
const EMPTY_PLACES: &[&str] = &["empty", "0 bytes", "zero"];

/// One finished command.
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// Runs the binary with stdout and stderr in files (no pipe can fill up), killed after `limit`.
fn run_bin(args: &[&str], scratch: &Path, limit: Duration) -> Outcome {
    run_command(bin(), args, scratch, limit)
}

fn run_command(mut cmd: Command, args: &[&str], scratch: &Path, limit: Duration) -> Outcome {
    std::fs::create_dir_all(scratch).unwrap();
    let out_path = scratch.join("stdout.txt");
    let err_path = scratch.join("stderr.txt");
    let started = Instant::now();
    let mut child = cmd
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&std::fs::read(&out_path).unwrap()).into_owned();
    let mut stderr = String::from_utf8_lossy(&std::fs::read(&err_path).unwrap()).into_owned();
    let code = match status {
        None => {
            stderr.push_str(&format!("\n[corpus: killed after {limit:?}: it hung]"));
            None
        }
        Some(s) => {
            #[cfg(unix)]
            {
                use std::os::unix::process::ExitStatusExt;
                if let Some(sig) = s.signal() {
                    stderr.push_str(&format!("\n[corpus: ended by signal {sig}]"));
                }
            }
            s.code()
        }
    };
    Outcome {
        code,
        stdout,
        stderr,
        elapsed,
    }
}

/// The county's tables and files, in the fixture's pipeline order.
const TABLES: &[(&str, &str)] = &[
    ("xzqh_xz", "xzqh_xz.shp"),
    ("hz_earthquake", "hz_earthquake.shp"),
    ("hz_flood", "hz_flood.shp"),
    ("hz_landslide", "hz_landslide.shp"),
    ("hz_forest_fire", "hz_forest_fire.shp"),
    ("xzjd_rkjj", "xzjd_rkjj.xlsx"),
    ("zhjzzy_jc_xzzy", "zhjzzy_jc_xzzy.xlsx"),
    ("czt_xx", "czt_xx.xlsx"),
    ("czt_ylwsjg", "czt_ylwsjg.xlsx"),
    ("dzzhyhd", "dzzhyhd.xlsx"),
    ("fwjz", "fwjz.xlsx"),
];

fn fixture() -> PathBuf {
    repo().join("fixtures/county_530381")
}

/// Records each table of the committed county holds, counted from the bytes (DBF headers and
/// deletion flags; workbook rows under the header with a value), and checked against the county's
/// README.
fn baseline() -> &'static BTreeMap<String, u64> {
    static B: OnceLock<BTreeMap<String, u64>> = OnceLock::new();
    B.get_or_init(|| {
        let readme = std::fs::read_to_string(fixture().join("README.md")).unwrap();
        let mut out = BTreeMap::new();
        for (table, file) in TABLES {
            let p = fixture().join(file);
            let n = if file.ends_with(".shp") {
                let dbf = std::fs::read(p.with_extension("dbf")).unwrap();
                let d = Dbf::of(&dbf);
                assert!(
                    (0..d.count).all(|k| dbf[d.record(k)] == b' '),
                    "{file}: a deleted record in the fixture"
                );
                d.count as u64
            } else {
                data_rows(&sheet_xml(&p)) as u64
            };
            assert!(
                readme.contains(&format!("| {table} | {file} | {n} |")),
                "{file}: {n} records counted from the bytes, the README says otherwise"
            );
            out.insert((*table).to_owned(), n);
        }
        out
    })
}

/// Copies the county (with its pipeline and model) into `dir/c`; returns that directory.
fn copy_county(dir: &Path) -> PathBuf {
    let c = dir.join("c");
    std::fs::create_dir_all(&c).unwrap();
    for e in std::fs::read_dir(fixture()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), c.join(e.file_name())).unwrap();
    }
    c
}

/// The run's output directory (`[run] name` of the fixture's pipeline).
const RUN_NAME: &str = "530381_synthetic";

/// Damages a fresh copy of the county, runs the command, checks the outcome. One line of what
/// happened goes to `log`.
fn check_variant(v: &Variant, log: &mut String) -> Result<(), String> {
    let _ = baseline();
    let dir = tempfile::tempdir().unwrap();
    let county = copy_county(dir.path());
    let expect = (v.damage)(&county);
    let out = dir.path().join("out");
    let cmd = match v.cmd {
        Cmd::Validate => "validate",
        Cmd::Run => "run",
    };
    let pipeline = county.join("pipeline.toml");
    let o = run_bin(
        &[
            cmd,
            pipeline.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &dir.path().join("scratch"),
        Duration::from_secs(300),
    );
    let _ = writeln!(
        log,
        "{:<34} {:<8} exit {:<4} {:>5.1}s  {}",
        v.name,
        cmd,
        o.code.map(|c| c.to_string()).unwrap_or("none".into()),
        o.elapsed.as_secs_f64(),
        first_line(&o),
    );
    let run_dir = out.join(RUN_NAME);
    if let Some(t) = table_of(&expect)
        && let Ok(s) = summary(&run_dir)
        && let Ok(t) = table_summary(&s, t)
    {
        let _ = writeln!(
            log,
            "{:<34} {}: read {} clean {} rejected {} excluded {} file_errors {} passed {}",
            "",
            t["table"].as_str().unwrap_or(""),
            t["rows_read"],
            t["rows_clean"],
            t["rows_rejected"],
            t["rows_excluded"],
            t["file_errors"],
            t["passed"]
        );
    }
    common(&o, &run_dir)?;
    meets(&expect, &o, &run_dir, v.cmd)
}

/// The table a variant damages, as its expectation names it.
fn table_of(e: &Expect) -> Option<&'static str> {
    match e {
        Expect::Runs { table, .. } => *table,
        Expect::PartsDisagree { table } => Some(table),
        Expect::AnyOf(v) => v.iter().find_map(table_of),
        Expect::Refused { .. } => None,
    }
}

fn first_line(o: &Outcome) -> String {
    let l = o
        .stderr
        .lines()
        .find(|l| l.starts_with("error:") || l.contains("corpus:"))
        .or_else(|| o.stdout.lines().find(|l| l.starts_with("QC ")))
        .unwrap_or("");
    l.chars().take(220).collect()
}

/// Runs a group of variants; fails naming every variant that failed, with what happened.
fn check_group(group: &str, variants: &[Variant]) {
    let mut log = String::new();
    let mut failures = Vec::new();
    for v in variants {
        if let Err(e) = check_variant(v, &mut log) {
            failures.push(format!("{}: {e}", v.name));
        }
    }
    println!("corpus group {group}:\n{log}");
    assert!(
        failures.is_empty(),
        "{} of {} variants of {group} failed:\n\n{}\n\nall outcomes:\n{log}",
        failures.len(),
        variants.len(),
        failures.join("\n\n")
    );
}

/// What every outcome must be: an exit code of 0, 1 or 2 (no signal, no hang), no panic, and
/// nothing half-written.
fn common(o: &Outcome, run_dir: &Path) -> Result<(), String> {
    if !matches!(o.code, Some(0..=2)) {
        let head: Vec<&str> = o.stderr.lines().take(2).collect();
        return Err(format!(
            "exit code {:?} (a signal, an abort or a hang): {} … {}",
            o.code,
            head.join(" / "),
            o.stderr.lines().next_back().unwrap_or("")
        ));
    }
    if o.stderr.contains("panicked") {
        return Err(format!("a panic: {}", tail(&o.stderr)));
    }
    let mut files = Vec::new();
    walk(run_dir, &mut files);
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy();
        if name.contains(".tmp-") {
            return Err(format!("left a temporary file {}", f.display()));
        }
        if name.ends_with(".json") {
            let bytes = std::fs::read(f).unwrap();
            if serde_json::from_slice::<serde_json::Value>(&bytes).is_err() {
                return Err(format!("{} is not whole JSON", f.display()));
            }
        }
        if o.code == Some(2) && name.ends_with(".zip") {
            return Err(format!(
                "exit 2, yet a package was written: {}",
                f.display()
            ));
        }
    }
    Ok(())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(6)..].join("\n")
}

fn meets(expect: &Expect, o: &Outcome, run_dir: &Path, cmd: Cmd) -> Result<(), String> {
    match expect {
        Expect::AnyOf(options) => {
            let mut why = Vec::new();
            for e in options {
                match meets(e, o, run_dir, cmd) {
                    Ok(()) => return Ok(()),
                    Err(w) => why.push(w),
                }
            }
            Err(format!(
                "none of the accepted outcomes: {}",
                why.join(" | ")
            ))
        }
        Expect::Refused { files, places } => refused_check(o, files, places),
        Expect::Runs {
            table,
            held,
            excluded,
            checks,
        } => {
            finished(o, run_dir, cmd)?;
            let summary = summary(run_dir)?;
            let issues = issues(run_dir)?;
            conserved(&summary, &issues, |name| match table {
                Some(t) if *t == name => Some((*held, *excluded)),
                _ => baseline().get(name).map(|&h| (h, 0)),
            })?;
            if let Some(t) = table {
                for c in checks {
                    check_issue(&issues, t, c)?;
                }
            }
            Ok(())
        }
        Expect::PartsDisagree { table } => {
            if o.code != Some(1) {
                return Err(format!(
                    "exit {:?}, expected 1 (QC failed by row_count_mismatch): {}",
                    o.code,
                    first_line(o)
                ));
            }
            finished(o, run_dir, cmd)?;
            let summary = summary(run_dir)?;
            let issues = issues(run_dir)?;
            let t = table_summary(&summary, table)?;
            if t["passed"] != false || t["file_errors"].as_u64().unwrap_or(0) < 1 {
                return Err(format!(
                    "{table}: passed {} with {} file errors; a row count mismatch must fail it",
                    t["passed"], t["file_errors"]
                ));
            }
            let found = issues.iter().any(|i| {
                i["table"] == *table
                    && i["rule"] == "row_count_mismatch"
                    && i["severity"] == "error"
                    && i["source_row"].is_empty()
            });
            if !found {
                return Err(format!(
                    "{table}: no file-level row_count_mismatch error in issues.csv ({})",
                    rules_of(&issues, table)
                ));
            }
            // Rows read are still clean + rejected; the other tables hold what they held.
            conserved(&summary, &issues, |name| {
                (name != *table).then(|| (baseline()[name], 0))
            })
        }
    }
}

fn refused_check(o: &Outcome, files: &[String], places: &[String]) -> Result<(), String> {
    if o.code != Some(2) {
        return Err(format!(
            "exit {:?}, expected 2 naming {files:?}: {}",
            o.code,
            first_line(o)
        ));
    }
    let errors: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    if errors.len() != 1 {
        return Err(format!(
            "{} `error:` lines, expected one: {}",
            errors.len(),
            tail(&o.stderr)
        ));
    }
    let line = errors[0];
    let at = o
        .stderr
        .match_indices("error:")
        .map(|(k, _)| k)
        .find(|&k| k == 0 || o.stderr.as_bytes()[k - 1] == b'\n')
        .unwrap();
    let text = &o.stderr[at..];
    if !files.iter().any(|f| line.contains(f.as_str())) {
        return Err(format!("the error names none of {files:?}: {line}"));
    }
    if !places.iter().any(|p| names_place(text, p)) {
        return Err(format!("the error names no place ({places:?}): {line}"));
    }
    let lower = text.to_lowercase();
    if ["line 0:", "line 0,", "row 0:", "row 0,"]
        .iter()
        .any(|z| lower.contains(z))
    {
        return Err(format!(
            "the error names line/row 0, which is no place: {line}"
        ));
    }
    Ok(())
}

/// Places that are only places with their number: `line 26`, `record 5`, `byte 1234`.
const NUMBERED: &[&str] = &[
    "line", "row", "record", "feature", "shape", "byte", "offset",
];

/// Does the error name this place? A word matches whole (`line` is not in `pipeline`, `sheet` not
/// in `spreadsheet`, `record` not in `13 records`); a numbered place needs its number (not 0, but
/// byte 0 is a place).
fn names_place(text: &str, place: &str) -> bool {
    let text = text.to_lowercase();
    let place = place.to_lowercase();
    let word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(place.as_str()).any(|(k, _)| {
        let before = text[..k].chars().next_back();
        if place.starts_with(word) && before.is_some_and(word) {
            return false;
        }
        let after = &text[k + place.len()..];
        if NUMBERED.contains(&place.as_str()) {
            let rest = after.trim_start_matches([' ', ':', '#', '=']);
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            match digits.parse::<u64>() {
                Ok(0) => matches!(place.as_str(), "byte" | "offset"),
                Ok(_) => true,
                Err(_) => false,
            }
        } else {
            !(place.ends_with(word) && after.starts_with(word))
        }
    })
}

/// A run that finished: exit 0 or 1, as the QC verdict says; `run` also left a whole package.
fn finished(o: &Outcome, run_dir: &Path, cmd: Cmd) -> Result<(), String> {
    if !matches!(o.code, Some(0 | 1)) {
        return Err(format!(
            "exit {:?}, expected a finished run (0/1): {}",
            o.code,
            first_line(o)
        ));
    }
    let s = summary(run_dir)?;
    let passed = s["passed"] == true;
    if passed != (o.code == Some(0)) {
        return Err(format!(
            "exit {:?} but summary.json says passed = {passed}",
            o.code
        ));
    }
    if cmd == Cmd::Run {
        let package = run_dir.join("530381_宣威市_2020.zip");
        if !package.is_file() {
            return Err("the run finished without its package".into());
        }
        let v = run_bin(
            &["verify", package.to_str().unwrap()],
            &run_dir.join("../verify-scratch"),
            Duration::from_secs(120),
        );
        if v.code != Some(0) {
            return Err(format!("its package does not verify: {}", v.stdout));
        }
    }
    Ok(())
}

fn summary(run_dir: &Path) -> Result<serde_json::Value, String> {
    let p = run_dir.join("qc/summary.json");
    let bytes = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", p.display()))
}

fn table_summary<'a>(
    summary: &'a serde_json::Value,
    table: &str,
) -> Result<&'a serde_json::Value, String> {
    summary["tables"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["table"] == table))
        .ok_or_else(|| format!("summary.json has no table {table}"))
}

type Issue = BTreeMap<String, String>;

fn issues(run_dir: &Path) -> Result<Vec<Issue>, String> {
    let p = run_dir.join("qc/issues.csv");
    let mut r = csv::Reader::from_path(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    let headers = r.headers().map_err(|e| e.to_string())?.clone();
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| format!("{}: {e}", p.display()))?;
        out.push(
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect(),
        );
    }
    Ok(out)
}

fn rules_of(issues: &[Issue], table: &str) -> String {
    let mut rules: BTreeMap<&str, usize> = BTreeMap::new();
    for i in issues.iter().filter(|i| i["table"] == table) {
        *rules.entry(i["rule"].as_str()).or_default() += 1;
    }
    format!("{rules:?}")
}

/// Nothing lost: every table's rows read = clean + rejected; rows read + excluded = the records its
/// file holds and excluded = those excluded by rule (`held` gives both, per table; `None`: not
/// known); every rejected row has an error issue.
fn conserved(
    summary: &serde_json::Value,
    issues: &[Issue],
    held: impl Fn(&str) -> Option<(u64, u64)>,
) -> Result<(), String> {
    let tables = summary["tables"]
        .as_array()
        .ok_or("summary.json: no tables")?;
    let mut seen = Vec::new();
    for t in tables {
        let name = t["table"].as_str().unwrap_or("");
        seen.push(name.to_owned());
        let n = |k: &str| t[k].as_u64().unwrap_or(u64::MAX);
        let (read, clean, rejected, excluded) = (
            n("rows_read"),
            n("rows_clean"),
            n("rows_rejected"),
            n("rows_excluded"),
        );
        if read != clean + rejected {
            return Err(format!(
                "{name}: rows read {read} ≠ clean {clean} + rejected {rejected}"
            ));
        }
        if !baseline().contains_key(name) {
            return Err(format!("summary.json has an unknown table {name}"));
        }
        if let Some((held, want_excluded)) = held(name)
            && (read.saturating_add(excluded) != held || excluded != want_excluded)
        {
            return Err(format!(
                "{name}: the file holds {held} records ({want_excluded} excluded by rule); read {read}, excluded {excluded}"
            ));
        }
        // Every rejected record is named by an error issue on its row.
        let mut rows = std::collections::BTreeSet::new();
        for i in issues.iter().filter(|i| {
            i["table"] == name && i["severity"] == "error" && !i["source_row"].is_empty()
        }) {
            rows.insert((i["source_file"].clone(), i["source_row"].clone()));
        }
        if rows.len() as u64 != rejected {
            return Err(format!(
                "{name}: {rejected} rows rejected, {} rows with an error in issues.csv",
                rows.len()
            ));
        }
    }
    for (table, _) in TABLES {
        if !seen.iter().any(|s| s == table) {
            return Err(format!("summary.json lost table {table}"));
        }
    }
    Ok(())
}

fn check_issue(issues: &[Issue], table: &str, c: &Check) -> Result<(), String> {
    let of_table = || issues.iter().filter(|i| i["table"] == table);
    match c {
        Check::IssueRows { rule, rows } => {
            for r in rows {
                let r = r.to_string();
                if !of_table().any(|i| i["rule"] == *rule && i["source_row"] == r) {
                    return Err(format!(
                        "{table}: no {rule} issue on row {r} (issues: {})",
                        rules_of(issues, table)
                    ));
                }
            }
            Ok(())
        }
        Check::IssueMentions { rule, text } => {
            let hit = of_table().any(|i| {
                i["rule"] == *rule
                    && ["value", "column", "message_en", "message_zh", "source_row"]
                        .iter()
                        .any(|k| i[*k].contains(text))
            });
            if hit {
                Ok(())
            } else {
                Err(format!(
                    "{table}: no {rule} issue naming {text} (issues: {})",
                    rules_of(issues, table)
                ))
            }
        }
        Check::Rejected { row } => {
            let r = row.to_string();
            if of_table().any(|i| i["source_row"] == r && i["severity"] == "error") {
                Ok(())
            } else {
                Err(format!(
                    "{table}: row {r} is not rejected (issues on it: {:?})",
                    of_table()
                        .filter(|i| i["source_row"] == r)
                        .map(|i| i["rule"].clone())
                        .collect::<Vec<_>>()
                ))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Byte-level helpers: shapefiles and DBF
// ---------------------------------------------------------------------------------------------

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

fn set_be_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn set_le_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn set_le_f64(b: &mut [u8], at: usize, v: f64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// The records of a .shp: (offset of the record header, content length in bytes).
fn shp_records(shp: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 100;
    while at + 8 <= shp.len() {
        let len = be_u32(shp, at + 4) as usize * 2;
        out.push((at, len));
        at += 8 + len;
    }
    out
}

/// A polygon record's layout: where its part indices and its points start, and how many points.
struct PolyRecord {
    /// Where the record's content (its shape type) starts.
    content: usize,
    parts_at: usize,
    points_at: usize,
    points: usize,
}

fn poly_record(shp: &[u8], rec: usize) -> PolyRecord {
    let (at, _) = shp_records(shp)[rec];
    let content = at + 8;
    assert_eq!(le_u32(shp, content), 5, "a polygon record");
    let parts = le_u32(shp, content + 36) as usize;
    let points = le_u32(shp, content + 40) as usize;
    PolyRecord {
        content,
        parts_at: content + 44,
        points_at: content + 44 + 4 * parts,
        points,
    }
}

/// A DBF's header figures.
struct Dbf {
    count: usize,
    header_len: usize,
    record_len: usize,
}

impl Dbf {
    fn of(b: &[u8]) -> Dbf {
        Dbf {
            count: le_u32(b, 4) as usize,
            header_len: u16::from_le_bytes([b[8], b[9]]) as usize,
            record_len: u16::from_le_bytes([b[10], b[11]]) as usize,
        }
    }

    /// Byte offset of record `k` (0-based): its deletion flag.
    fn record(&self, k: usize) -> usize {
        self.header_len + k * self.record_len
    }

    /// (name, offset in the record, length) of every field.
    fn fields(b: &[u8]) -> Vec<(String, usize, usize)> {
        let mut out = Vec::new();
        let mut pos = 32;
        let mut offset = 1;
        while b[pos] != 0x0D {
            let name = String::from_utf8_lossy(&b[pos..pos + 11])
                .trim_end_matches('\0')
                .to_owned();
            let len = b[pos + 16] as usize;
            out.push((name, offset, len));
            offset += len;
            pos += 32;
        }
        out
    }
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Byte-level helpers: workbooks (the sheet XML inside the zip)
// ---------------------------------------------------------------------------------------------

const SHEET: &str = "xl/worksheets/sheet1.xml";

fn zip_entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let name = f.name().unwrap().into_owned();
            let mut buf = Vec::new();
            f.read_to_end(&mut buf).unwrap();
            (name, buf)
        })
        .collect()
}

/// A zip of these entries, deflated, as Excel writes them.
fn zip_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for (name, data) in entries {
        w.start_file(name.as_str(), opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn sheet_xml(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let entries = zip_entries(&bytes);
    let (_, xml) = entries.iter().find(|(n, _)| n == SHEET).unwrap();
    String::from_utf8(xml.clone()).unwrap()
}

/// Rewrites the sheet XML of a workbook in the county; returns the new XML.
fn edit_sheet(dir: &Path, file: &str, edit: impl FnOnce(String) -> String) -> String {
    let mut entries = zip_entries(&read(dir, file));
    let k = entries.iter().position(|(n, _)| n == SHEET).unwrap();
    let before = String::from_utf8(entries[k].1.clone()).unwrap();
    let xml = edit(before.clone());
    assert_ne!(xml, before, "{file}: the damage changed nothing");
    entries[k].1 = xml.clone().into_bytes();
    write(dir, file, &zip_of(&entries));
    xml
}

/// Every `<row …>…</row>` element: (row number, byte range).
fn row_elements(xml: &str) -> Vec<(u32, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(k) = xml[from..].find("<row ") {
        let start = from + k;
        let head_end = start + xml[start..].find('>').unwrap();
        let head = &xml[start..head_end];
        let end = if head.ends_with('/') {
            head_end + 1
        } else {
            head_end + xml[head_end..].find("</row>").unwrap() + "</row>".len()
        };
        let r = attr(head, "r").and_then(|r| r.parse().ok()).unwrap_or(0);
        out.push((r, start..end));
        from = end;
    }
    out
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let k = tag.find(&key)? + key.len();
    let len = tag[k..].find('"')?;
    Some(&tag[k..k + len])
}

/// Does this XML fragment hold a value (`<v>` or `<t>` with more than whitespace)?
fn has_value(fragment: &str) -> bool {
    let mut from = 0;
    while let Some(k) = fragment[from..].find(['<']) {
        let at = from + k;
        let rest = &fragment[at..];
        let tag = if rest.starts_with("<v>") {
            Some(("<v>", "</v>"))
        } else if rest.starts_with("<t>") || rest.starts_with("<t ") {
            Some((">", "</t>"))
        } else {
            None
        };
        if let Some((open, close)) = tag {
            let body_start = at + rest.find(open).unwrap() + open.len();
            if let Some(len) = fragment[body_start..].find(close) {
                if !fragment[body_start..body_start + len].trim().is_empty() {
                    return true;
                }
                from = body_start + len;
                continue;
            }
        }
        from = at + 1;
    }
    false
}

/// Rows under the two-row header (row 4) holding a value: the records a sheet holds.
fn data_rows(xml: &str) -> usize {
    row_elements(xml)
        .into_iter()
        .filter(|(r, range)| *r >= 5 && has_value(&xml[range.clone()]))
        .count()
}

/// The range of the `<c r="REF" …>` element, if the sheet has it.
fn cell_range(xml: &str, cell: &str) -> Option<std::ops::Range<usize>> {
    let start = xml.find(&format!("<c r=\"{cell}\""))?;
    let head_end = start + xml[start..].find('>').unwrap();
    let end = if xml[..head_end].ends_with('/') {
        head_end + 1
    } else {
        head_end + xml[head_end..].find("</c>").unwrap() + "</c>".len()
    };
    Some(start..end)
}

/// Puts a cell element (`<c r="REF" …>…</c>`) in place of the sheet's cell REF, or at the end of
/// its row.
fn set_cell(xml: &str, cell: &str, element: &str) -> String {
    if let Some(r) = cell_range(xml, cell) {
        return format!("{}{element}{}", &xml[..r.start], &xml[r.end..]);
    }
    let row: u32 = cell
        .trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .parse()
        .unwrap();
    let (_, range) = row_elements(xml)
        .into_iter()
        .find(|(r, _)| *r == row)
        .expect("the row is in the sheet");
    let at = range.end - "</row>".len();
    format!("{}{element}{}", &xml[..at], &xml[at..])
}

fn text_cell(cell: &str, text: &str) -> String {
    format!("<c r=\"{cell}\" t=\"inlineStr\"><is><t>{text}</t></is></c>")
}

fn number_cell(cell: &str, v: &str) -> String {
    format!("<c r=\"{cell}\"><v>{v}</v></c>")
}

/// Inserts a row element just before `</sheetData>`.
fn append_row(xml: &str, row: &str) -> String {
    xml.replacen("</sheetData>", &format!("{row}</sheetData>"), 1)
}

// ---------------------------------------------------------------------------------------------
// Shapefile variants (hz_flood: 13 polygons, GBK DBF; xzqh_xz: the 29 townships)
// ---------------------------------------------------------------------------------------------

const FLOOD: &str = "hz_flood";

fn flood_files(ext: &str) -> Vec<&'static str> {
    match ext {
        "shp" => vec!["hz_flood.shp"],
        "shx" => vec!["hz_flood.shx", "hz_flood.shp"],
        "dbf" => vec!["hz_flood.dbf", "hz_flood.shp"],
        "prj" => vec!["hz_flood.prj", "hz_flood.shp"],
        "cpg" => vec!["hz_flood.cpg", "hz_flood.shp"],
        _ => unreachable!(),
    }
}

fn flood_held() -> u64 {
    baseline()[FLOOD]
}

/// Records of hz_flood whose bytes (in the .shp) end after `cut`: a reader cannot have them whole.
fn flood_records_past(d: &Path, cut: usize) -> Vec<u32> {
    let shp = read(d, "hz_flood.shp");
    shp_records(&shp)
        .iter()
        .enumerate()
        .filter(|(_, (at, len))| at + 8 + len > cut)
        .map(|(k, _)| k as u32 + 1)
        .collect()
}

fn shp_zero_byte(d: &Path) -> Expect {
    write(d, "hz_flood.shp", b"");
    refused(&flood_files("shp"), EMPTY_PLACES)
}

fn shx_zero_byte(d: &Path) -> Expect {
    write(d, "hz_flood.shx", b"");
    parts_disagree(FLOOD, &flood_files("shx"), &["empty", ".shx"])
}

fn dbf_zero_byte(d: &Path) -> Expect {
    write(d, "hz_flood.dbf", b"");
    parts_disagree(FLOOD, &flood_files("dbf"), &["empty", ".dbf"])
}

fn prj_zero_byte(d: &Path) -> Expect {
    write(d, "hz_flood.prj", b"");
    Expect::AnyOf(vec![
        runs(FLOOD, flood_held(), vec![]),
        refused(&flood_files("prj"), &["empty", "coordinate system", "prj"]),
    ])
}

fn cpg_zero_byte(d: &Path) -> Expect {
    write(d, "hz_flood.cpg", b"");
    Expect::AnyOf(vec![
        runs(FLOOD, flood_held(), vec![]),
        refused(&flood_files("cpg"), &["empty", "encoding", "cpg"]),
    ])
}

/// Half the .shp is gone (its header still says whole): records past the cut cannot be read.
fn shp_truncated_half(d: &Path) -> Expect {
    let shp = read(d, "hz_flood.shp");
    let cut = shp.len() / 2;
    let lost: Vec<Check> = flood_records_past(d, cut)
        .into_iter()
        .map(|row| Check::Rejected { row })
        .collect();
    write(d, "hz_flood.shp", &shp[..cut]);
    Expect::AnyOf(vec![
        Expect::PartsDisagree { table: FLOOD },
        refused(&flood_files("shp"), SHP_PLACES),
        // All 13 DBF records read, the ones whose shapes were cut off rejected.
        runs(FLOOD, flood_held(), lost),
    ])
}

/// Only 60 bytes of the .shp: not even its 100-byte header.
fn shp_truncated_header(d: &Path) -> Expect {
    let shp = read(d, "hz_flood.shp");
    write(d, "hz_flood.shp", &shp[..60]);
    parts_disagree(FLOOD, &flood_files("shp"), SHP_PLACES)
}

/// The .shx cut after 10 of its 13 records, its header not updated.
fn shx_truncated_raw(d: &Path) -> Expect {
    let shx = read(d, "hz_flood.shx");
    write(d, "hz_flood.shx", &shx[..100 + 8 * 10]);
    parts_disagree(FLOOD, &flood_files("shx"), SHP_PLACES)
}

/// The .shx lists 10 records (its header says so too); the .shp and .dbf hold 13.
fn shx_fewer_records(d: &Path) -> Expect {
    let mut shx = read(d, "hz_flood.shx");
    shx.truncate(100 + 8 * 10);
    let words = (shx.len() / 2) as u32;
    set_be_u32(&mut shx, 24, words);
    write(d, "hz_flood.shx", &shx);
    parts_disagree(FLOOD, &flood_files("shx"), SHP_PLACES)
}

/// The .dbf cut mid-way through its 7th record; its header still says 13.
fn dbf_truncated_mid(d: &Path) -> Expect {
    let dbf = read(d, "hz_flood.dbf");
    let h = Dbf::of(&dbf);
    let cut = h.record(6) + h.record_len / 2;
    write(d, "hz_flood.dbf", &dbf[..cut]);
    parts_disagree(FLOOD, &flood_files("dbf"), SHP_PLACES)
}

/// The .dbf holds three more records (header count raised to match) than the .shp and .shx.
fn dbf_more_records(d: &Path) -> Expect {
    let dbf = read(d, "hz_flood.dbf");
    let h = Dbf::of(&dbf);
    let last = dbf[h.record(h.count - 1)..h.record(h.count)].to_vec();
    let mut out = dbf[..h.record(h.count)].to_vec();
    for _ in 0..3 {
        out.extend_from_slice(&last);
    }
    out.push(0x1A);
    set_le_u32(&mut out, 4, (h.count + 3) as u32);
    write(d, "hz_flood.dbf", &out);
    parts_disagree(FLOOD, &flood_files("dbf"), SHP_PLACES)
}

/// The DBF header claims 20 records; the file holds 13.
fn dbf_count_inflated(d: &Path) -> Expect {
    let mut dbf = read(d, "hz_flood.dbf");
    set_le_u32(&mut dbf, 4, 20);
    write(d, "hz_flood.dbf", &dbf);
    parts_disagree(FLOOD, &flood_files("dbf"), SHP_PLACES)
}

/// Records 2 and 4 flagged deleted (`*`): each a `deleted_record` issue, excluded, counted; the
/// invalid polygon the fixture has on record 6 keeps its record number.
fn dbf_deleted_records(d: &Path) -> Expect {
    let mut dbf = read(d, "hz_flood.dbf");
    let h = Dbf::of(&dbf);
    for k in [1, 3] {
        dbf[h.record(k)] = b'*';
    }
    write(d, "hz_flood.dbf", &dbf);
    Expect::Runs {
        table: Some(FLOOD),
        held: h.count as u64,
        excluded: 2,
        checks: vec![
            Check::IssueRows {
                rule: "deleted_record",
                rows: vec![2, 4],
            },
            Check::IssueRows {
                rule: "invalid_polygon",
                rows: vec![6],
            },
        ],
    }
}

/// The DBF header length points past the end of the file.
fn dbf_header_len_beyond(d: &Path) -> Expect {
    let mut dbf = read(d, "hz_flood.dbf");
    dbf[8..10].copy_from_slice(&60_000u16.to_le_bytes());
    write(d, "hz_flood.dbf", &dbf);
    parts_disagree(FLOOD, &flood_files("dbf"), SHP_PLACES)
}

/// The DBF record length is 0.
fn dbf_record_len_zero(d: &Path) -> Expect {
    let mut dbf = read(d, "hz_flood.dbf");
    dbf[10..12].copy_from_slice(&0u16.to_le_bytes());
    write(d, "hz_flood.dbf", &dbf);
    parts_disagree(FLOOD, &flood_files("dbf"), SHP_PLACES)
}

/// Record 4's hazard type is bytes that are neither GBK nor UTF-8.
fn dbf_bad_text_bytes(d: &Path) -> Expect {
    let mut dbf = read(d, "hz_flood.dbf");
    let h = Dbf::of(&dbf);
    let (_, off, _) = Dbf::fields(&dbf)
        .into_iter()
        .find(|f| f.0 == "zhlx")
        .unwrap();
    let at = h.record(3) + off;
    dbf[at..at + 4].copy_from_slice(&[0xFF, 0xFE, 0x80, 0xFF]);
    write(d, "hz_flood.dbf", &dbf);
    Expect::AnyOf(vec![
        runs(FLOOD, flood_held(), vec![]),
        refused(
            &flood_files("dbf"),
            &["record 4", "feature 4", "zhlx", "field"],
        ),
    ])
}

/// Record 5's class (`dj`, a number) is `**********`, as dBase writes an overflow.
fn dbf_numeric_overflow(d: &Path) -> Expect {
    let mut dbf = read(d, "hz_flood.dbf");
    let h = Dbf::of(&dbf);
    let (_, off, len) = Dbf::fields(&dbf).into_iter().find(|f| f.0 == "dj").unwrap();
    let at = h.record(4) + off;
    dbf[at..at + len].fill(b'*');
    write(d, "hz_flood.dbf", &dbf);
    Expect::AnyOf(vec![
        runs(FLOOD, flood_held(), vec![Check::Rejected { row: 5 }]),
        refused(&flood_files("dbf"), &["record 5", "feature 5", "dj"]),
    ])
}

/// Two DBF fields named `dj` (the second was `djmc`).
fn dbf_duplicate_columns(d: &Path) -> Expect {
    let mut dbf = read(d, "hz_flood.dbf");
    let k = Dbf::fields(&dbf)
        .iter()
        .position(|f| f.0 == "djmc")
        .unwrap();
    let at = 32 + 32 * k;
    dbf[at..at + 11].copy_from_slice(b"dj\0\0\0\0\0\0\0\0\0");
    write(d, "hz_flood.dbf", &dbf);
    Expect::AnyOf(vec![
        runs(FLOOD, flood_held(), vec![]),
        refused(&flood_files("dbf"), &["dj", "field", "column"]),
    ])
}

/// The .cpg says UTF-8; the DBF is GBK.
fn cpg_wrong(d: &Path) -> Expect {
    write(d, "hz_flood.cpg", b"UTF-8");
    Expect::AnyOf(vec![
        runs(FLOOD, flood_held(), vec![]),
        refused(
            &flood_files("cpg"),
            &["encoding", "record", "field", "utf-8"],
        ),
    ])
}

/// The .cpg names an encoding nobody knows.
fn cpg_unknown(d: &Path) -> Expect {
    write(d, "hz_flood.cpg", b"KLINGON-42");
    Expect::AnyOf(vec![
        runs(FLOOD, flood_held(), vec![]),
        refused(&flood_files("cpg"), &["encoding", "KLINGON"]),
    ])
}

/// The .prj is Web Mercator (metres) over coordinates in degrees: refused, naming the CRS.
fn prj_other_crs(d: &Path) -> Expect {
    write(
        d,
        "hz_flood.prj",
        br#"PROJCS["WGS_1984_Web_Mercator_Auxiliary_Sphere",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Mercator_Auxiliary_Sphere"],PARAMETER["False_Easting",0.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",0.0],PARAMETER["Standard_Parallel_1",0.0],PARAMETER["Auxiliary_Sphere_Type",0.0],UNIT["Meter",1.0]]"#,
    );
    refused(
        &flood_files("prj"),
        &["coordinate system", "prj", "crs", "epsg"],
    )
}

/// The .prj is text that is no coordinate system.
fn prj_garbage(d: &Path) -> Expect {
    write(
        d,
        "hz_flood.prj",
        b"this is not a coordinate system \x01\x02",
    );
    Expect::AnyOf(vec![
        runs(
            FLOOD,
            flood_held(),
            vec![Check::IssueMentions {
                rule: "crs_missing",
                text: "",
            }],
        ),
        refused(&flood_files("prj"), &["coordinate system", "prj", "crs"]),
    ])
}

/// Every coordinate of record 4 is NaN: the record cannot be clean.
fn shp_nan_coords(d: &Path) -> Expect {
    let mut shp = read(d, "hz_flood.shp");
    let p = poly_record(&shp, 3);
    for k in 0..p.points * 2 {
        set_le_f64(&mut shp, p.points_at + 8 * k, f64::NAN);
    }
    write(d, "hz_flood.shp", &shp);
    Expect::AnyOf(vec![
        runs(FLOOD, flood_held(), vec![Check::Rejected { row: 4 }]),
        refused(&flood_files("shp"), &["feature 4", "record 4", "shape 4"]),
    ])
}

/// One vertex (not the ring's closing one) of record 7 at (1e300, -1e300): not a place on Earth.
fn shp_huge_coords(d: &Path) -> Expect {
    let mut shp = read(d, "hz_flood.shp");
    let p = poly_record(&shp, 6);
    set_le_f64(&mut shp, p.points_at + 16, 1e300);
    set_le_f64(&mut shp, p.points_at + 24, -1e300);
    write(d, "hz_flood.shp", &shp);
    Expect::AnyOf(vec![
        runs(FLOOD, flood_held(), vec![Check::Rejected { row: 7 }]),
        refused(&flood_files("shp"), &["feature 7", "record 7", "shape 7"]),
    ])
}

/// Record 3 says it is shape type 99 (no such type).
fn shp_bogus_shape_type(d: &Path) -> Expect {
    let mut shp = read(d, "hz_flood.shp");
    let (at, _) = shp_records(&shp)[2];
    set_le_u32(&mut shp, at + 8, 99);
    write(d, "hz_flood.shp", &shp);
    Expect::AnyOf(vec![
        runs(FLOOD, flood_held(), vec![Check::Rejected { row: 3 }]),
        refused(&flood_files("shp"), &["feature 3", "record 3", "shape 3"]),
        Expect::PartsDisagree { table: FLOOD },
    ])
}

/// Record 2's first part starts at point 2^31 − 1 (its parts and points disagree).
fn shp_part_index_out_of_range(d: &Path) -> Expect {
    let mut shp = read(d, "hz_flood.shp");
    let p = poly_record(&shp, 1);
    set_le_u32(&mut shp, p.parts_at, 0x7FFF_FFFF);
    write(d, "hz_flood.shp", &shp);
    Expect::AnyOf(vec![
        runs(FLOOD, flood_held(), vec![Check::Rejected { row: 2 }]),
        refused(&flood_files("shp"), &["feature 2", "record 2", "shape 2"]),
        Expect::PartsDisagree { table: FLOOD },
    ])
}

/// Record 2 claims 2^31 − 1 points (an allocation bomb in 4 bytes).
fn shp_point_count_huge(d: &Path) -> Expect {
    let mut shp = read(d, "hz_flood.shp");
    let p = poly_record(&shp, 1);
    set_le_u32(&mut shp, p.content + 40, 0x7FFF_FFFF);
    write(d, "hz_flood.shp", &shp);
    Expect::AnyOf(vec![
        runs(FLOOD, flood_held(), vec![Check::Rejected { row: 2 }]),
        refused(&flood_files("shp"), &["feature 2", "record 2", "shape 2"]),
        Expect::PartsDisagree { table: FLOOD },
    ])
}

/// The .shx sends record 5 to an offset far past the end of the .shp.
fn shx_offset_beyond_end(d: &Path) -> Expect {
    let mut shx = read(d, "hz_flood.shx");
    set_be_u32(&mut shx, 100 + 8 * 4, 0x3FFF_FFF0);
    write(d, "hz_flood.shx", &shx);
    Expect::AnyOf(vec![
        runs(FLOOD, flood_held(), vec![Check::Rejected { row: 5 }]),
        refused(
            &flood_files("shx"),
            &["feature 5", "record 5", "shape 5", "offset"],
        ),
        Expect::PartsDisagree { table: FLOOD },
    ])
}

/// The flood layer's .shp and .shx are those of the landslide layer (15 shapes; the .dbf has 13).
fn shp_swapped_with_other_layer(d: &Path) -> Expect {
    write(d, "hz_flood.shp", &read(d, "hz_landslide.shp"));
    write(d, "hz_flood.shx", &read(d, "hz_landslide.shx"));
    parts_disagree(FLOOD, &flood_files("shp"), SHP_PLACES)
}

/// The flood layer's .shx is the landslide layer's (15 entries pointing into a 13-shape file).
fn shx_swapped_with_other_layer(d: &Path) -> Expect {
    write(d, "hz_flood.shx", &read(d, "hz_landslide.shx"));
    parts_disagree(FLOOD, &flood_files("shx"), SHP_PLACES)
}

/// The flood layer's .dbf is the forest-fire layer's (14 records; 13 shapes).
fn dbf_swapped_with_other_layer(d: &Path) -> Expect {
    write(d, "hz_flood.dbf", &read(d, "hz_forest_fire.dbf"));
    parts_disagree(FLOOD, &flood_files("dbf"), SHP_PLACES)
}

/// The township layer's geometry (.shp/.shx) is the flood layer's (13 shapes; 29 DBF records).
fn units_shp_swapped(d: &Path) -> Expect {
    write(d, "xzqh_xz.shp", &read(d, "hz_flood.shp"));
    write(d, "xzqh_xz.shx", &read(d, "hz_flood.shx"));
    parts_disagree("xzqh_xz", &["xzqh_xz.shp"], SHP_PLACES)
}

/// The township layer's .dbf lost its last 5 records (header count still 29).
fn units_dbf_truncated(d: &Path) -> Expect {
    let dbf = read(d, "xzqh_xz.dbf");
    let h = Dbf::of(&dbf);
    write(d, "xzqh_xz.dbf", &dbf[..h.record(h.count - 5)]);
    parts_disagree("xzqh_xz", &["xzqh_xz.dbf", "xzqh_xz.shp"], SHP_PLACES)
}

const SHAPEFILE_HEADERS: &[Variant] = &[
    validate("shp_zero_byte", shp_zero_byte),
    validate("shx_zero_byte", shx_zero_byte),
    validate("dbf_zero_byte", dbf_zero_byte),
    validate("prj_zero_byte", prj_zero_byte),
    validate("cpg_zero_byte", cpg_zero_byte),
    validate("shp_truncated_half", shp_truncated_half),
    validate("shp_truncated_header", shp_truncated_header),
    validate("shx_truncated_raw", shx_truncated_raw),
    validate("shx_fewer_records", shx_fewer_records),
    validate("dbf_truncated_mid", dbf_truncated_mid),
    validate("dbf_more_records", dbf_more_records),
    validate("dbf_count_inflated", dbf_count_inflated),
    validate("dbf_header_len_beyond", dbf_header_len_beyond),
    validate("dbf_record_len_zero", dbf_record_len_zero),
    validate("shp_swapped_with_other_layer", shp_swapped_with_other_layer),
    validate("shx_swapped_with_other_layer", shx_swapped_with_other_layer),
    validate("dbf_swapped_with_other_layer", dbf_swapped_with_other_layer),
    validate("units_shp_swapped", units_shp_swapped),
    validate("units_dbf_truncated", units_dbf_truncated),
];

const SHAPEFILE_RECORDS: &[Variant] = &[
    validate("dbf_deleted_records", dbf_deleted_records),
    validate("dbf_bad_text_bytes", dbf_bad_text_bytes),
    validate("dbf_numeric_overflow", dbf_numeric_overflow),
    validate("dbf_duplicate_columns", dbf_duplicate_columns),
    validate("cpg_wrong", cpg_wrong),
    validate("cpg_unknown", cpg_unknown),
    validate("prj_other_crs", prj_other_crs),
    validate("prj_garbage", prj_garbage),
    validate("shp_nan_coords", shp_nan_coords),
    validate("shp_huge_coords", shp_huge_coords),
    validate("shp_bogus_shape_type", shp_bogus_shape_type),
    validate("shp_part_index_out_of_range", shp_part_index_out_of_range),
    validate("shp_point_count_huge", shp_point_count_huge),
    validate("shx_offset_beyond_end", shx_offset_beyond_end),
];

#[test]
fn corpus_shapefile_headers_and_parts() {
    check_group("shapefile headers and parts", SHAPEFILE_HEADERS);
}

#[test]
fn corpus_shapefile_records_encodings_crs() {
    check_group("shapefile records, encodings, CRS", SHAPEFILE_RECORDS);
}

// ---------------------------------------------------------------------------------------------
// Workbook variants (czt_xx.xlsx: 89 schools under a two-row header in rows 3-4, sheet 学校)
// ---------------------------------------------------------------------------------------------

const SCHOOLS: &str = "czt_xx";
const SCHOOLS_FILE: &str = "czt_xx.xlsx";

fn schools_held() -> u64 {
    baseline()[SCHOOLS]
}

fn xlsx_zero_byte(d: &Path) -> Expect {
    write(d, SCHOOLS_FILE, b"");
    refused(&[SCHOOLS_FILE], EMPTY_PLACES)
}

fn xlsx_truncated_half(d: &Path) -> Expect {
    let b = read(d, SCHOOLS_FILE);
    write(d, SCHOOLS_FILE, &b[..b.len() / 2]);
    refused(&[SCHOOLS_FILE], XLSX_CONTAINER_PLACES)
}

/// The last 22 bytes (the end-of-central-directory record) are gone.
fn xlsx_truncated_tail(d: &Path) -> Expect {
    let b = read(d, SCHOOLS_FILE);
    write(d, SCHOOLS_FILE, &b[..b.len() - 22]);
    refused(&[SCHOOLS_FILE], XLSX_CONTAINER_PLACES)
}

/// The biggest workbook (3,000 buildings) cut to a third.
fn xlsx_buildings_truncated(d: &Path) -> Expect {
    let b = read(d, "fwjz.xlsx");
    write(d, "fwjz.xlsx", &b[..b.len() / 3]);
    refused(&["fwjz.xlsx"], XLSX_CONTAINER_PLACES)
}

/// Text, not a workbook.
fn xlsx_is_text(d: &Path) -> Expect {
    write(
        d,
        SCHOOLS_FILE,
        "学校名称,地址\n宛水中心小学,宣威市\n".as_bytes(),
    );
    refused(&[SCHOOLS_FILE], XLSX_CONTAINER_PLACES)
}

/// The schools workbook holds a DBF (a file swapped for another kind).
fn xlsx_is_a_dbf(d: &Path) -> Expect {
    write(d, SCHOOLS_FILE, &read(d, "hz_flood.dbf"));
    refused(&[SCHOOLS_FILE], XLSX_CONTAINER_PLACES)
}

/// The schools workbook is the medical institutions' workbook: required columns missing.
fn xlsx_swapped_with_other_table(d: &Path) -> Expect {
    write(d, SCHOOLS_FILE, &read(d, "czt_ylwsjg.xlsx"));
    refused(&[SCHOOLS_FILE], &["header row", "sheet", "column"])
}

/// The sheet XML ends mid-way through row 50 (the zip itself is whole).
fn xlsx_sheet_xml_cut(d: &Path) -> Expect {
    edit_sheet(d, SCHOOLS_FILE, |xml| {
        let (_, r) = row_elements(&xml)
            .into_iter()
            .find(|(r, _)| *r == 50)
            .unwrap();
        xml[..r.start + (r.end - r.start) / 2].to_owned()
    });
    refused(
        &[SCHOOLS_FILE],
        &[
            SCHOOLS_SHEET,
            "sheet",
            "row",
            "line",
            "cell",
            "position",
            SHEET,
        ],
    )
}

/// The workbook lists a sheet whose XML is not in the zip.
fn xlsx_sheet_part_missing(d: &Path) -> Expect {
    let entries: Vec<_> = zip_entries(&read(d, SCHOOLS_FILE))
        .into_iter()
        .filter(|(n, _)| n != SHEET)
        .collect();
    write(d, SCHOOLS_FILE, &zip_of(&entries));
    refused(&[SCHOOLS_FILE], &[SCHOOLS_SHEET, "sheet", SHEET])
}

/// No xl/workbook.xml.
fn xlsx_workbook_part_missing(d: &Path) -> Expect {
    let entries: Vec<_> = zip_entries(&read(d, SCHOOLS_FILE))
        .into_iter()
        .filter(|(n, _)| n != "xl/workbook.xml")
        .collect();
    write(d, SCHOOLS_FILE, &zip_of(&entries));
    refused(&[SCHOOLS_FILE], &["workbook.xml", "workbook", "entry"])
}

/// Bytes in the middle of the sheet's compressed data overwritten.
fn xlsx_corrupt_deflate(d: &Path) -> Expect {
    let mut b = read(d, SCHOOLS_FILE);
    // The sheet's local header, then its data: overwrite 64 bytes a third of the way in.
    let name = SHEET.as_bytes();
    let at = b
        .windows(name.len())
        .position(|w| w == name)
        .expect("the sheet's local header");
    let data = at + name.len();
    let csize = le_u32(&b, at - 30 + 18) as usize;
    let from = data + csize / 3;
    for (k, x) in b[from..from + 64].iter_mut().enumerate() {
        *x = (k as u8).wrapping_mul(37) ^ 0xA5;
    }
    write(d, SCHOOLS_FILE, &b);
    refused(
        &[SCHOOLS_FILE],
        &[SCHOOLS_SHEET, "sheet", SHEET, "entry", "byte", "offset"],
    )
}

/// The sheet's zip entry claims compression method 99 (AES), which nothing here reads.
fn xlsx_unsupported_compression(d: &Path) -> Expect {
    let mut b = read(d, SCHOOLS_FILE);
    let name = SHEET.as_bytes();
    // Both the local header (name at +30) and the central directory entry (name at +46).
    let mut from = 0;
    while let Some(k) = b[from..].windows(name.len()).position(|w| w == name) {
        let at = from + k;
        if at >= 30 && le_u32(&b, at - 30) == 0x0403_4b50 {
            b[at - 30 + 8..at - 30 + 10].copy_from_slice(&99u16.to_le_bytes());
        } else if at >= 46 && le_u32(&b, at - 46) == 0x0201_4b50 {
            b[at - 46 + 10..at - 46 + 12].copy_from_slice(&99u16.to_le_bytes());
        }
        from = at + 1;
    }
    write(d, SCHOOLS_FILE, &b);
    refused(&[SCHOOLS_FILE], &[SCHOOLS_SHEET, "sheet", SHEET, "entry"])
}

/// The header row (row 4) deleted: no header to match.
fn xlsx_header_row_deleted(d: &Path) -> Expect {
    edit_sheet(d, SCHOOLS_FILE, |xml| {
        let (_, r) = row_elements(&xml)
            .into_iter()
            .find(|(r, _)| *r == 4)
            .unwrap();
        format!("{}{}", &xml[..r.start], &xml[r.end..])
    });
    refused(&[SCHOOLS_FILE], &[SCHOOLS_SHEET, "header"])
}

/// A sheet with no cells at all.
fn xlsx_empty_sheet(d: &Path) -> Expect {
    edit_sheet(d, SCHOOLS_FILE, |xml| {
        let a = xml.find("<sheetData>").unwrap() + "<sheetData>".len();
        let b = xml.find("</sheetData>").unwrap();
        let xml = format!("{}{}", &xml[..a], &xml[b..]);
        let a = xml.find("<mergeCells").unwrap();
        let b = xml.find("</mergeCells>").unwrap() + "</mergeCells>".len();
        format!("{}{}", &xml[..a], &xml[b..])
    });
    refused(&[SCHOOLS_FILE], &[SCHOOLS_SHEET, "sheet"])
}

/// One text cell at XFD1048576, the sheet's last cell: a warning naming it, the records unchanged
/// (or exit 2 naming the file and sheet, if it is over a limit).
fn xlsx_stray_cell_last(d: &Path) -> Expect {
    let xml = edit_sheet(d, SCHOOLS_FILE, |xml| {
        append_row(
            &xml,
            &format!(
                "<row r=\"1048576\">{}</row>",
                text_cell("XFD1048576", "stray")
            ),
        )
    });
    assert_eq!(data_rows(&xml) as u64, schools_held() + 1);
    Expect::AnyOf(vec![
        runs(
            SCHOOLS,
            schools_held(),
            vec![Check::IssueMentions {
                rule: "stray_cell",
                text: "XFD1048576",
            }],
        ),
        refused(&[SCHOOLS_FILE], &[SCHOOLS_SHEET]),
    ])
}

/// One number a million rows down in column A.
fn xlsx_stray_cell_far_row(d: &Path) -> Expect {
    edit_sheet(d, SCHOOLS_FILE, |xml| {
        append_row(
            &xml,
            &format!("<row r=\"1000000\">{}</row>", number_cell("A1000000", "1")),
        )
    });
    // A value under a header column is a record, however far down: the reader keeps it and QC
    // rejects it (its required fields are empty), naming the row. Either that, or a stray-cell
    // warning, or a refusal; never a silent drop.
    Expect::AnyOf(vec![
        runs(
            SCHOOLS,
            schools_held() + 1,
            vec![Check::Rejected { row: 1_000_000 }],
        ),
        runs(
            SCHOOLS,
            schools_held(),
            vec![Check::IssueMentions {
                rule: "stray_cell",
                text: "A1000000",
            }],
        ),
        refused(&[SCHOOLS_FILE], &[SCHOOLS_SHEET]),
    ])
}

/// A note in column XFD of the title row: the sheet is 16,384 columns wide.
fn xlsx_stray_cell_far_column(d: &Path) -> Expect {
    edit_sheet(d, SCHOOLS_FILE, |xml| {
        set_cell(&xml, "XFD2", &text_cell("XFD2", "备注"))
    });
    Expect::AnyOf(vec![
        runs(SCHOOLS, schools_held(), vec![]),
        refused(&[SCHOOLS_FILE], &[SCHOOLS_SHEET]),
    ])
}

/// The sheet says its used range is A1:XFD1048576 (17 billion cells).
fn xlsx_dimension_huge(d: &Path) -> Expect {
    edit_sheet(d, SCHOOLS_FILE, |xml| {
        xml.replacen(
            "<dimension ref=\"A1:AQ93\"/>",
            "<dimension ref=\"A1:XFD1048576\"/>",
            1,
        )
    });
    Expect::AnyOf(vec![
        runs(SCHOOLS, schools_held(), vec![]),
        refused(&[SCHOOLS_FILE], &[SCHOOLS_SHEET]),
    ])
}

/// A row number past Excel's last row (1,048,577).
fn xlsx_row_past_limit(d: &Path) -> Expect {
    edit_sheet(d, SCHOOLS_FILE, |xml| {
        append_row(
            &xml,
            &format!("<row r=\"1048577\">{}</row>", text_cell("A1048577", "x")),
        )
    });
    Expect::AnyOf(vec![
        runs(SCHOOLS, schools_held(), vec![]),
        refused(&[SCHOOLS_FILE], &[SCHOOLS_SHEET, "1048577", "A1048577"]),
    ])
}

/// Data cells merged: A10:A12 (names), F20:H20 (types), AO30:AO31 (a township code).
fn xlsx_merged_data_cells(d: &Path) -> Expect {
    let xml = edit_sheet(d, SCHOOLS_FILE, |mut xml| {
        for c in ["A11", "A12", "G20", "H20", "AO31"] {
            if let Some(r) = cell_range(&xml, c) {
                xml = format!("{}<c r=\"{c}\"/>{}", &xml[..r.start], &xml[r.end..]);
            }
        }
        xml.replacen(
            "<mergeCells count=\"6\">",
            "<mergeCells count=\"9\"><mergeCell ref=\"A10:A12\"/><mergeCell ref=\"F20:H20\"/><mergeCell ref=\"AO30:AO31\"/>",
            1,
        )
    });
    runs(SCHOOLS, data_rows(&xml) as u64, vec![])
}

/// Formulas: with a cached value, without one, and one whose value is #DIV/0!.
fn xlsx_formulas(d: &Path) -> Expect {
    let xml = edit_sheet(d, SCHOOLS_FILE, |xml| {
        let xml = set_cell(&xml, "I10", "<c r=\"I10\"><f>1000+659</f><v>1659</v></c>");
        let xml = set_cell(&xml, "J11", "<c r=\"J11\"><f>SUM(J5:J9)</f></c>");
        set_cell(
            &xml,
            "K12",
            "<c r=\"K12\" t=\"e\"><f>1/0</f><v>#DIV/0!</v></c>",
        )
    });
    runs(SCHOOLS, data_rows(&xml) as u64, vec![])
}

/// Rows 10-14 hidden: still records the office sent.
fn xlsx_hidden_rows(d: &Path) -> Expect {
    let xml = edit_sheet(d, SCHOOLS_FILE, |mut xml| {
        for r in 10..=14 {
            xml = xml.replacen(
                &format!("<row r=\"{r}\">"),
                &format!("<row r=\"{r}\" hidden=\"1\">"),
                1,
            );
        }
        xml
    });
    assert_eq!(xml.matches("hidden=\"1\"").count(), 5);
    runs(SCHOOLS, data_rows(&xml) as u64, vec![])
}

/// A 40,000-character address on row 20 (Excel's own limit is 32,767).
fn xlsx_cell_40000_chars(d: &Path) -> Expect {
    let long = "宣".repeat(40_000);
    edit_sheet(d, SCHOOLS_FILE, |xml| {
        set_cell(&xml, "D20", &text_cell("D20", &long))
    });
    Expect::AnyOf(vec![
        runs(SCHOOLS, schools_held(), vec![Check::Rejected { row: 20 }]),
        refused(&[SCHOOLS_FILE], &["D20", "row 20"]),
    ])
}

/// A second 学校（机构）名称 column (AR) with other names.
fn xlsx_duplicate_columns(d: &Path) -> Expect {
    let xml = edit_sheet(d, SCHOOLS_FILE, |mut xml| {
        xml = set_cell(&xml, "AR4", &text_cell("AR4", "学校（机构）名称"));
        for r in 5..=93 {
            xml = set_cell(
                &xml,
                &format!("AR{r}"),
                &text_cell(&format!("AR{r}"), "别名学校"),
            );
        }
        xml
    });
    Expect::AnyOf(vec![
        runs(SCHOOLS, data_rows(&xml) as u64, vec![]),
        refused(&[SCHOOLS_FILE], &["AR", "column", "学校（机构）名称"]),
    ])
}

/// Row 15 has two cells that both say they are A15.
fn xlsx_duplicate_cell_refs(d: &Path) -> Expect {
    let xml = edit_sheet(d, SCHOOLS_FILE, |xml| {
        let r = cell_range(&xml, "A15").unwrap();
        format!(
            "{}{}{}",
            &xml[..r.end],
            text_cell("A15", "重复单元格"),
            &xml[r.end..]
        )
    });
    Expect::AnyOf(vec![
        runs(SCHOOLS, data_rows(&xml) as u64, vec![]),
        refused(&[SCHOOLS_FILE], &["A15", "row 15"]),
    ])
}

/// Rows 30 and 40 stored in the wrong order.
fn xlsx_rows_out_of_order(d: &Path) -> Expect {
    let xml = edit_sheet(d, SCHOOLS_FILE, |xml| {
        let rows = row_elements(&xml);
        let a = rows.iter().find(|(r, _)| *r == 30).unwrap().1.clone();
        let b = rows.iter().find(|(r, _)| *r == 40).unwrap().1.clone();
        format!(
            "{}{}{}{}{}",
            &xml[..a.start],
            &xml[b.clone()],
            &xml[a.end..b.start],
            &xml[a.clone()],
            &xml[b.end..]
        )
    });
    Expect::AnyOf(vec![
        runs(SCHOOLS, data_rows(&xml) as u64, vec![]),
        refused(&[SCHOOLS_FILE], &["row 30", "row 40", "order"]),
    ])
}

/// A cell reference that is no cell (`ZZZZZZ25`).
fn xlsx_bad_cell_ref(d: &Path) -> Expect {
    edit_sheet(d, SCHOOLS_FILE, |xml| {
        set_cell(&xml, "ZZZZZZ25", &text_cell("ZZZZZZ25", "x"))
    });
    Expect::AnyOf(vec![
        runs(SCHOOLS, schools_held(), vec![]),
        refused(&[SCHOOLS_FILE], &["ZZZZZZ25", "row 25", SCHOOLS_SHEET]),
    ])
}

/// Longitude NaN on row 21: not a position.
fn xlsx_nan_lon(d: &Path) -> Expect {
    edit_sheet(d, SCHOOLS_FILE, |xml| {
        set_cell(&xml, "AP21", &number_cell("AP21", "NaN"))
    });
    Expect::AnyOf(vec![
        runs(SCHOOLS, schools_held(), vec![Check::Rejected { row: 21 }]),
        refused(&[SCHOOLS_FILE], &["AP21", "row 21"]),
    ])
}

/// Latitude 1e308 on row 22.
fn xlsx_huge_lat(d: &Path) -> Expect {
    edit_sheet(d, SCHOOLS_FILE, |xml| {
        set_cell(&xml, "AQ22", &number_cell("AQ22", "1e308"))
    });
    Expect::AnyOf(vec![
        runs(SCHOOLS, schools_held(), vec![Check::Rejected { row: 22 }]),
        refused(&[SCHOOLS_FILE], &["AQ22", "row 22"]),
    ])
}

/// Longitude +inf on row 23.
fn xlsx_inf_lon(d: &Path) -> Expect {
    edit_sheet(d, SCHOOLS_FILE, |xml| {
        set_cell(&xml, "AP23", &number_cell("AP23", "inf"))
    });
    Expect::AnyOf(vec![
        runs(SCHOOLS, schools_held(), vec![Check::Rejected { row: 23 }]),
        refused(&[SCHOOLS_FILE], &["AP23", "row 23"]),
    ])
}

/// A number cell whose value is not a number (`<v>12abc</v>`) in row 24's 占地面积.
fn xlsx_number_not_a_number(d: &Path) -> Expect {
    edit_sheet(d, SCHOOLS_FILE, |xml| {
        set_cell(&xml, "I24", &number_cell("I24", "12abc"))
    });
    Expect::AnyOf(vec![
        runs(SCHOOLS, schools_held(), vec![Check::Rejected { row: 24 }]),
        refused(&[SCHOOLS_FILE], &["I24", "row 24"]),
    ])
}

const WORKBOOK_CONTAINERS: &[Variant] = &[
    validate("xlsx_zero_byte", xlsx_zero_byte),
    validate("xlsx_truncated_half", xlsx_truncated_half),
    validate("xlsx_truncated_tail", xlsx_truncated_tail),
    validate("xlsx_buildings_truncated", xlsx_buildings_truncated),
    validate("xlsx_is_text", xlsx_is_text),
    validate("xlsx_is_a_dbf", xlsx_is_a_dbf),
    validate(
        "xlsx_swapped_with_other_table",
        xlsx_swapped_with_other_table,
    ),
    validate("xlsx_sheet_xml_cut", xlsx_sheet_xml_cut),
    validate("xlsx_sheet_part_missing", xlsx_sheet_part_missing),
    validate("xlsx_workbook_part_missing", xlsx_workbook_part_missing),
    validate("xlsx_corrupt_deflate", xlsx_corrupt_deflate),
    validate("xlsx_unsupported_compression", xlsx_unsupported_compression),
    validate("xlsx_header_row_deleted", xlsx_header_row_deleted),
    validate("xlsx_empty_sheet", xlsx_empty_sheet),
];

const WORKBOOK_CELLS: &[Variant] = &[
    validate("xlsx_stray_cell_last", xlsx_stray_cell_last),
    validate("xlsx_stray_cell_far_row", xlsx_stray_cell_far_row),
    validate("xlsx_stray_cell_far_column", xlsx_stray_cell_far_column),
    validate("xlsx_dimension_huge", xlsx_dimension_huge),
    validate("xlsx_row_past_limit", xlsx_row_past_limit),
    validate("xlsx_merged_data_cells", xlsx_merged_data_cells),
    validate("xlsx_formulas", xlsx_formulas),
    validate("xlsx_hidden_rows", xlsx_hidden_rows),
    validate("xlsx_cell_40000_chars", xlsx_cell_40000_chars),
    validate("xlsx_duplicate_columns", xlsx_duplicate_columns),
    validate("xlsx_duplicate_cell_refs", xlsx_duplicate_cell_refs),
    validate("xlsx_rows_out_of_order", xlsx_rows_out_of_order),
    validate("xlsx_bad_cell_ref", xlsx_bad_cell_ref),
    validate("xlsx_nan_lon", xlsx_nan_lon),
    validate("xlsx_huge_lat", xlsx_huge_lat),
    validate("xlsx_inf_lon", xlsx_inf_lon),
    validate("xlsx_number_not_a_number", xlsx_number_not_a_number),
];

#[test]
fn corpus_workbook_containers() {
    check_group("workbook containers", WORKBOOK_CONTAINERS);
}

#[test]
fn corpus_workbook_cells() {
    check_group("workbook cells", WORKBOOK_CELLS);
}

// ---------------------------------------------------------------------------------------------
// Pipeline, model, schema and code-list files
// ---------------------------------------------------------------------------------------------

const PIPELINE: &str = "pipeline.toml";
const MODEL: &str = "model.toml";

fn edit_text(d: &Path, name: &str, edit: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(d.join(name)).unwrap();
    let new = edit(text.clone());
    assert_ne!(new, text, "{name}: the damage changed nothing");
    write(d, name, new.as_bytes());
}

/// The first `n`th of a text file, cut on a byte that is not inside a character.
fn cut_text(d: &Path, name: &str, keep: f64) {
    let b = read(d, name);
    let mut k = (b.len() as f64 * keep) as usize;
    while k > 0 && (b[k] & 0xC0) == 0x80 {
        k -= 1;
    }
    write(d, name, &b[..k]);
}

fn pipeline_zero_byte(d: &Path) -> Expect {
    write(d, PIPELINE, b"");
    refused(&[PIPELINE], &["line", "empty", "[run]"])
}

fn pipeline_truncated_half(d: &Path) -> Expect {
    cut_text(d, PIPELINE, 0.5);
    refused(&[PIPELINE], &["line"])
}

/// A GBK comment in the UTF-8 pipeline file.
fn pipeline_invalid_utf8(d: &Path) -> Expect {
    let mut b = b"# \xd0\xfb\xcd\xfe\xca\xd0\n".to_vec(); // 宣威市 in GBK
    b.extend_from_slice(&read(d, PIPELINE));
    write(d, PIPELINE, &b);
    refused(&[PIPELINE], &["line", "byte", "offset"])
}

fn pipeline_duplicate_key(d: &Path) -> Expect {
    edit_text(d, PIPELINE, |t| {
        t.replacen("[run]\n", "[run]\nname = \"again\"\n", 1)
    });
    refused(&[PIPELINE], &["line"])
}

fn pipeline_duplicate_section(d: &Path) -> Expect {
    edit_text(d, PIPELINE, |t| {
        format!("{t}\n[qc]\npass_threshold = 0.5\n")
    });
    refused(&[PIPELINE], &["line"])
}

fn pipeline_wrong_type(d: &Path) -> Expect {
    edit_text(d, PIPELINE, |t| {
        t.replacen("reference_year = 2020", "reference_year = \"2020\"", 1)
    });
    refused(&[PIPELINE], &["line"])
}

fn pipeline_nan_threshold(d: &Path) -> Expect {
    edit_text(d, PIPELINE, |t| {
        t.replacen("pass_threshold = 0.05", "pass_threshold = nan", 1)
    });
    refused(&[PIPELINE], &["line", "pass_threshold"])
}

fn pipeline_unknown_table(d: &Path) -> Expect {
    edit_text(d, PIPELINE, |t| {
        t.replacen("table = \"czt_xx\"", "table = \"czt_xxx\"", 1)
    });
    refused(&[PIPELINE], &["line", "czt_xxx"])
}

fn model_zero_byte(d: &Path) -> Expect {
    write(d, MODEL, b"");
    refused(&[MODEL], &["line", "empty", "[model]"])
}

fn model_truncated_half(d: &Path) -> Expect {
    cut_text(d, MODEL, 0.5);
    refused(&[MODEL], &["line"])
}

fn model_invalid_utf8(d: &Path) -> Expect {
    let mut b = b"# \xd0\xfb\xcd\xfe\n".to_vec();
    b.extend_from_slice(&read(d, MODEL));
    write(d, MODEL, &b);
    // A line of the pipeline is not the place: the bad byte is in the model file.
    refused(&[MODEL], &["byte", "offset"])
}

fn model_unknown_column(d: &Path) -> Expect {
    edit_text(d, MODEL, |t| {
        t.replacen(
            "expr = \"population / area_km2\"",
            "expr = \"no_such_column / area_km2\"",
            1,
        )
    });
    refused(&[MODEL], &["line"])
}

fn model_bad_sql(d: &Path) -> Expect {
    edit_text(d, MODEL, |t| {
        t.replacen(
            "expr = \"population / area_km2\"",
            "expr = \"population /// (area_km2\"",
            1,
        )
    });
    refused(&[MODEL], &["line"])
}

fn model_duplicate_indicator(d: &Path) -> Expect {
    edit_text(d, MODEL, |t| {
        t.replacen(
            "name = \"floor_area_density\"",
            "name = \"population_density\"",
            1,
        )
    });
    refused(&[MODEL], &["line", "population_density"])
}

/// The pipeline adds a schema directory; its czt_xx.toml is the shipped one, damaged by `edit`.
fn own_schema(d: &Path, edit: impl FnOnce(String) -> Vec<u8>) {
    let dir = d.join("my_schemas/tables");
    std::fs::create_dir_all(&dir).unwrap();
    let shipped = std::fs::read_to_string(repo().join("schemas/tables/czt_xx.toml")).unwrap();
    std::fs::write(dir.join("czt_xx.toml"), edit(shipped)).unwrap();
    edit_text(d, PIPELINE, |t| {
        t.replacen("[qc]", "[schemas]\ndirs = [\"my_schemas\"]\n\n[qc]", 1)
    });
}

fn schema_truncated(d: &Path) -> Expect {
    own_schema(d, |s| {
        // Cut half-way, just inside a quoted value, so the TOML cannot parse.
        let mut k = s.len() / 2;
        while !s.is_char_boundary(k) {
            k -= 1;
        }
        let q = k + s[k..].find("= \"").unwrap() + "= \"".len();
        s.as_bytes()[..q].to_vec()
    });
    refused(&["czt_xx.toml"], &["line"])
}

fn schema_zero_byte(d: &Path) -> Expect {
    own_schema(d, |_| Vec::new());
    refused(&["czt_xx.toml"], &["line", "empty"])
}

fn schema_bad_regex(d: &Path) -> Expect {
    own_schema(d, |s| {
        s.replacen(
            "pattern = \"^[0-9A-Z]{18}$\"",
            "pattern = \"^[0-9A-Z{18}$\"",
            1,
        )
        .into_bytes()
    });
    refused(&["czt_xx.toml"], &["line"])
}

fn schema_unknown_code_list(d: &Path) -> Expect {
    own_schema(d, |s| {
        s.replacen("codes = \"school_type\"", "codes = \"no_such_list\"", 1)
            .into_bytes()
    });
    refused(&["czt_xx.toml"], &["line"])
}

fn schema_code_list_binary(d: &Path) -> Expect {
    own_schema(d, |s| s.into_bytes());
    let codes = d.join("my_schemas/codes");
    std::fs::create_dir_all(&codes).unwrap();
    let mut junk = b"name = \"school_type\"\nvalues = [\"".to_vec();
    junk.extend_from_slice(&[0x00, 0xFF, 0xFE, 0x01]);
    junk.extend_from_slice(b"\"]\n");
    std::fs::write(codes.join("school_type.toml"), junk).unwrap();
    refused(&["school_type.toml"], &["byte", "offset"])
}

fn schema_duplicate_field(d: &Path) -> Expect {
    own_schema(d, |s| {
        format!(
            "{s}\n[[fields]]\ncode = \"xxjgmc\"\nname_zh = \"学校名称（重复）\"\nname_en = \"school_name_again\"\ntype = \"text\"\n"
        )
        .into_bytes()
    });
    refused(&["czt_xx.toml"], &["line", "xxjgmc"])
}

fn changes_zero_byte(d: &Path) -> Expect {
    write(d, "division_changes.csv", b"");
    Expect::AnyOf(vec![
        runs_unchanged(),
        refused(&["division_changes.csv"], EMPTY_PLACES),
    ])
}

fn changes_binary(d: &Path) -> Expect {
    write(
        d,
        "division_changes.csv",
        b"old_code,new_code\n\x00\x01\xff\xfe,\x80\x81\n",
    );
    refused(
        &["division_changes.csv"],
        &["line", "byte", "offset", "record"],
    )
}

fn changes_ragged(d: &Path) -> Expect {
    edit_text(d, "division_changes.csv", |t| {
        format!("{t}530381999,530381001\n")
    });
    refused(&["division_changes.csv"], &["line", "record"])
}

const CONFIG_FILES: &[Variant] = &[
    validate("pipeline_zero_byte", pipeline_zero_byte),
    validate("pipeline_truncated_half", pipeline_truncated_half),
    validate("pipeline_invalid_utf8", pipeline_invalid_utf8),
    validate("pipeline_duplicate_key", pipeline_duplicate_key),
    validate("pipeline_duplicate_section", pipeline_duplicate_section),
    validate("pipeline_wrong_type", pipeline_wrong_type),
    validate("pipeline_nan_threshold", pipeline_nan_threshold),
    validate("pipeline_unknown_table", pipeline_unknown_table),
    validate("model_zero_byte", model_zero_byte),
    validate("model_truncated_half", model_truncated_half),
    validate("model_invalid_utf8", model_invalid_utf8),
    validate("model_unknown_column", model_unknown_column),
    validate("model_bad_sql", model_bad_sql),
    validate("model_duplicate_indicator", model_duplicate_indicator),
    validate("schema_truncated", schema_truncated),
    validate("schema_zero_byte", schema_zero_byte),
    validate("schema_bad_regex", schema_bad_regex),
    validate("schema_unknown_code_list", schema_unknown_code_list),
    validate("schema_code_list_binary", schema_code_list_binary),
    validate("schema_duplicate_field", schema_duplicate_field),
    validate("changes_zero_byte", changes_zero_byte),
    validate("changes_binary", changes_binary),
    validate("changes_ragged", changes_ragged),
];

// ---------------------------------------------------------------------------------------------
// Damage that gets past the readers into the join, scoring, maps and package (`run`)
// ---------------------------------------------------------------------------------------------

/// Every coordinate of township 5 is NaN: rejected, and the run still joins, scores, draws and
/// packages the rest.
fn run_units_nan_coords(d: &Path) -> Expect {
    let mut shp = read(d, "xzqh_xz.shp");
    let p = poly_record(&shp, 4);
    for k in 0..p.points * 2 {
        set_le_f64(&mut shp, p.points_at + 8 * k, f64::NAN);
    }
    write(d, "xzqh_xz.shp", &shp);
    Expect::AnyOf(vec![
        runs(
            "xzqh_xz",
            baseline()["xzqh_xz"],
            vec![Check::Rejected { row: 5 }],
        ),
        refused(&["xzqh_xz.shp"], &["feature 5", "record 5", "shape 5"]),
    ])
}

/// A flood-zone vertex at (1e300, −1e300): the overlay's areas must not turn to inf or NaN.
fn run_hazard_huge_coords(d: &Path) -> Expect {
    let mut shp = read(d, "hz_flood.shp");
    let p = poly_record(&shp, 6);
    set_le_f64(&mut shp, p.points_at + 16, 1e300);
    set_le_f64(&mut shp, p.points_at + 24, -1e300);
    write(d, "hz_flood.shp", &shp);
    Expect::AnyOf(vec![
        runs(FLOOD, flood_held(), vec![Check::Rejected { row: 7 }]),
        refused(&flood_files("shp"), &["feature 7", "record 7", "shape 7"]),
    ])
}

/// Township 3's DBF record deleted: excluded with a `deleted_record` issue, and the run goes on
/// without that township.
fn run_units_deleted_record(d: &Path) -> Expect {
    let mut dbf = read(d, "xzqh_xz.dbf");
    let h = Dbf::of(&dbf);
    dbf[h.record(2)] = b'*';
    write(d, "xzqh_xz.dbf", &dbf);
    Expect::Runs {
        table: Some("xzqh_xz"),
        held: h.count as u64,
        excluded: 1,
        checks: vec![Check::IssueRows {
            rule: "deleted_record",
            rows: vec![3],
        }],
    }
}

/// A file stands where the run must make its `gis/` folder: the run fails (exit 2) naming it, after
/// QC and the GeoParquet were written, and leaves no package and no temporary file behind.
fn run_output_blocked(d: &Path) -> Expect {
    let run_dir = d.parent().unwrap().join("out").join(RUN_NAME);
    std::fs::create_dir_all(&run_dir).unwrap();
    std::fs::write(run_dir.join("gis"), b"not a folder").unwrap();
    refused(&["gis"], &["gis"])
}

const LATER_STAGES: &[Variant] = &[
    run("run_units_nan_coords", run_units_nan_coords),
    run("run_hazard_huge_coords", run_hazard_huge_coords),
    run("run_units_deleted_record", run_units_deleted_record),
    run("run_output_blocked", run_output_blocked),
];

#[test]
fn corpus_later_stages() {
    check_group("later stages (run)", LATER_STAGES);
}

#[test]
fn corpus_pipeline_model_schema_files() {
    check_group("pipeline, model, schema files", CONFIG_FILES);
}

// ---------------------------------------------------------------------------------------------
// Hostile upload packages: `verify` exits 1 naming the entry, `merge` refuses naming the package
// ---------------------------------------------------------------------------------------------

/// A zip entry as it goes into the archive, byte for byte.
#[derive(Clone)]
struct RawEntry {
    name: Vec<u8>,
    /// The bytes stored (already compressed for method 8).
    data: Vec<u8>,
    method: u16,
    crc: u32,
    /// The uncompressed size the headers declare.
    size: u32,
    /// Unix mode (file type and permissions).
    mode: u32,
}

impl RawEntry {
    fn stored(name: &str, data: &[u8]) -> RawEntry {
        RawEntry {
            name: name.as_bytes().to_vec(),
            data: data.to_vec(),
            method: 0,
            crc: crc32(data),
            size: data.len() as u32,
            mode: 0o100644,
        }
    }
}

/// A zip archive written field by field: duplicate names, any mode, any declared size.
fn raw_zip(entries: &[RawEntry]) -> Vec<u8> {
    fn u16le(out: &mut Vec<u8>, v: u16) {
        out.extend_from_slice(&v.to_le_bytes());
    }
    fn u32le(out: &mut Vec<u8>, v: u32) {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    for e in entries {
        offsets.push(out.len() as u32);
        u32le(&mut out, 0x0403_4b50);
        u16le(&mut out, 20);
        u16le(&mut out, 0x0800); // UTF-8 names
        u16le(&mut out, e.method);
        u16le(&mut out, 0);
        u16le(&mut out, 0x21); // 1980-01-01
        u32le(&mut out, e.crc);
        u32le(&mut out, e.data.len() as u32);
        u32le(&mut out, e.size);
        u16le(&mut out, e.name.len() as u16);
        u16le(&mut out, 0);
        out.extend_from_slice(&e.name);
        out.extend_from_slice(&e.data);
    }
    let cd_start = out.len() as u32;
    for (e, off) in entries.iter().zip(&offsets) {
        u32le(&mut out, 0x0201_4b50);
        u16le(&mut out, (3 << 8) | 20); // made by Unix
        u16le(&mut out, 20);
        u16le(&mut out, 0x0800);
        u16le(&mut out, e.method);
        u16le(&mut out, 0);
        u16le(&mut out, 0x21);
        u32le(&mut out, e.crc);
        u32le(&mut out, e.data.len() as u32);
        u32le(&mut out, e.size);
        u16le(&mut out, e.name.len() as u16);
        u16le(&mut out, 0);
        u16le(&mut out, 0);
        u16le(&mut out, 0);
        u16le(&mut out, 0);
        u32le(&mut out, e.mode << 16);
        u32le(&mut out, *off);
        out.extend_from_slice(&e.name);
    }
    let cd_len = out.len() as u32 - cd_start;
    u32le(&mut out, 0x0605_4b50);
    u16le(&mut out, 0);
    u16le(&mut out, 0);
    u16le(&mut out, entries.len() as u16);
    u16le(&mut out, entries.len() as u16);
    u32le(&mut out, cd_len);
    u32le(&mut out, cd_start);
    u16le(&mut out, 0);
    out
}

fn crc32(data: &[u8]) -> u32 {
    static TABLE: OnceLock<[u32; 256]> = OnceLock::new();
    let t = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (n, x) in t.iter_mut().enumerate() {
            let mut c = n as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *x = c;
        }
        t
    });
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c = t[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

/// CRC-32 of `n` zero bytes without touching them: the register update for a zero byte is linear,
/// so apply its 32×32 GF(2) matrix raised to the n-th power.
fn crc32_of_zeros(n: u64) -> u32 {
    type M = [u32; 32];
    fn times(m: &M, mut v: u32) -> u32 {
        let mut sum = 0;
        let mut i = 0;
        while v != 0 {
            if v & 1 != 0 {
                sum ^= m[i];
            }
            v >>= 1;
            i += 1;
        }
        sum
    }
    fn mul(a: &M, b: &M) -> M {
        let mut c = [0u32; 32];
        for (k, x) in c.iter_mut().enumerate() {
            *x = times(a, b[k]);
        }
        c
    }
    // One zero bit.
    let mut bit: M = [0; 32];
    bit[0] = 0xEDB8_8320;
    for (k, x) in bit.iter_mut().enumerate().skip(1) {
        *x = 1 << (k - 1);
    }
    let b2 = mul(&bit, &bit);
    let b4 = mul(&b2, &b2);
    let mut power = mul(&b4, &b4); // one zero byte
    let mut acc: Option<M> = None;
    let mut n = n;
    while n > 0 {
        if n & 1 == 1 {
            acc = Some(match acc {
                None => power,
                Some(a) => mul(&power, &a),
            });
        }
        power = mul(&power, &power);
        n >>= 1;
    }
    let reg = match acc {
        None => 0xFFFF_FFFF,
        Some(m) => times(&m, 0xFFFF_FFFF),
    };
    !reg
}

/// A raw deflate stream of `1 + 258 k` zero bytes: one literal 0, then k copies of
/// (length 258, distance 1), in one fixed-Huffman block: 13 bits per 258 bytes.
fn deflate_zeros(k: u64) -> (Vec<u8>, u64) {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        fn put(&mut self, v: u64, n: u32) {
            self.acc |= v << self.n;
            self.n += n;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
    }
    /// A Huffman code as the stream carries it: most significant bit first.
    fn huff(code: u32, len: u32) -> u64 {
        (code.reverse_bits() >> (32 - len)) as u64
    }
    let mut b = Bits {
        out: Vec::with_capacity((k * 13 / 8 + 16) as usize),
        acc: 0,
        n: 0,
    };
    b.put(1, 1); // final block
    b.put(1, 2); // fixed Huffman
    b.put(huff(0x30, 8), 8); // literal 0
    // Length symbol 285 (258 bytes), then distance code 0 (distance 1).
    let copy = huff(0xC5, 8) | (huff(0, 5) << 8);
    for _ in 0..k {
        b.put(copy, 13);
    }
    b.put(huff(0, 7), 7); // end of block
    b.put(0, 7); // flush
    (b.out, 1 + 258 * k)
}

/// What a hostile package must give: `verify` exit 1 naming `entry` (or the package itself), and
/// `merge` exit 2 naming the package, writing no package.
struct Hostile {
    name: &'static str,
    zip: Vec<u8>,
    /// Text `verify` must print (an entry name).
    names: String,
    /// A bomb: `verify` and `merge` must refuse it within this many seconds of CPU, which is far
    /// less than inflating it takes.
    bomb: Option<f64>,
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(b))
}

/// The genuine package's entries and manifest.
struct Genuine {
    entries: Vec<(String, Vec<u8>)>,
    manifest: serde_json::Value,
}

impl Genuine {
    fn raw(&self) -> Vec<RawEntry> {
        self.entries
            .iter()
            .map(|(n, d)| RawEntry::stored(n, d))
            .collect()
    }

    fn with_manifest(entries: Vec<RawEntry>, manifest: &serde_json::Value) -> Vec<u8> {
        let mut entries: Vec<RawEntry> = entries
            .into_iter()
            .filter(|e| e.name != b"manifest.json")
            .collect();
        entries.push(RawEntry::stored(
            "manifest.json",
            &serde_json::to_vec_pretty(manifest).unwrap(),
        ));
        raw_zip(&entries)
    }

    /// The manifest with one more file listed, as a forger would list it.
    fn listing(&self, path: &str, data: &[u8]) -> serde_json::Value {
        let mut m = self.manifest.clone();
        m["files"].as_array_mut().unwrap().push(serde_json::json!({
            "path": path, "bytes": data.len(), "sha256": sha256_hex(data)
        }));
        m
    }

    fn get(&self, name: &str) -> &[u8] {
        &self.entries.iter().find(|(n, _)| n == name).unwrap().1
    }
}

fn hostile_packages(g: &Genuine) -> Vec<Hostile> {
    let mut out = Vec::new();
    let plain = |name, zip: Vec<u8>, names: &str| Hostile {
        name,
        zip,
        names: names.to_owned(),
        bomb: None,
    };
    let whole = Genuine::with_manifest(g.raw(), &g.manifest);

    out.push(plain("pkg_zero_byte", Vec::new(), ".zip"));
    out.push(plain(
        "pkg_truncated_half",
        whole[..whole.len() / 2].to_vec(),
        ".zip",
    ));
    out.push(plain(
        "pkg_truncated_tail",
        whole[..whole.len() - 10].to_vec(),
        ".zip",
    ));

    // Two entries named qc/summary.json: a forged one first, the genuine one after it.
    let genuine_summary = g.get("qc/summary.json");
    let forged = String::from_utf8_lossy(genuine_summary)
        .replace("\"passed\": false", "\"passed\": true")
        .replacen("\"rows_rejected\": ", "\"rows_rejected\": 0, \"was\": ", 1);
    let mut e = vec![RawEntry::stored("qc/summary.json", forged.as_bytes())];
    e.extend(g.raw());
    out.push(plain(
        "pkg_duplicate_entry_forged_first",
        Genuine::with_manifest(e, &g.manifest),
        "qc/summary.json",
    ));

    // A second manifest.json after the genuine one, consistent with the files, saying other things.
    let mut m2 = g.manifest.clone();
    m2["region_name"] = serde_json::json!("伪造县");
    m2["qc_passed"] = serde_json::json!(true);
    let mut e = g.raw();
    e.retain(|x| x.name != b"manifest.json");
    e.push(RawEntry::stored(
        "manifest.json",
        &serde_json::to_vec_pretty(&g.manifest).unwrap(),
    ));
    e.push(RawEntry::stored(
        "manifest.json",
        &serde_json::to_vec_pretty(&m2).unwrap(),
    ));
    out.push(plain("pkg_second_manifest", raw_zip(&e), "manifest.json"));

    // Paths that leave the extraction directory, each listed in the manifest like any file.
    for (name, path) in [
        ("pkg_dotdot_path", "../evil.txt"),
        ("pkg_dotdot_inside_layout", "qc/../../evil.txt"),
        ("pkg_absolute_path", "/tmp/riskcensus-evil.txt"),
        ("pkg_backslash_traversal", "qc\\..\\..\\evil.txt"),
        ("pkg_drive_letter_path", "C:/Windows/evil.txt"),
    ] {
        let data = b"owned\n";
        let mut e = g.raw();
        e.push(RawEntry::stored(path, data));
        out.push(plain(
            name,
            Genuine::with_manifest(e, &g.listing(path, data)),
            path,
        ));
    }

    // A symlink entry pointing out of the package, listed with the hash of its target text.
    let target = b"/etc/passwd";
    let mut link = RawEntry::stored("qc/link.csv", target);
    link.mode = 0o120777;
    let mut e = g.raw();
    e.push(link);
    out.push(plain(
        "pkg_symlink_entry",
        Genuine::with_manifest(e, &g.listing("qc/link.csv", target)),
        "qc/link.csv",
    ));

    // A file outside the package layout, listed in the manifest.
    let mut e = g.raw();
    e.push(RawEntry::stored("evil.sh", b"rm -rf /\n"));
    out.push(plain(
        "pkg_entry_outside_layout",
        Genuine::with_manifest(e, &g.listing("evil.sh", b"rm -rf /\n")),
        "evil.sh",
    ));

    // A byte changed in one entry (its CRC recomputed, so only the manifest's hash catches it).
    let mut e = g.raw();
    let k = e.iter().position(|x| x.name == b"qc/issues.csv").unwrap();
    let mut data = e[k].data.clone();
    let mid = data.len() / 2;
    data[mid] ^= 0x01;
    e[k] = RawEntry::stored("qc/issues.csv", &data);
    out.push(plain(
        "pkg_flipped_byte",
        Genuine::with_manifest(e, &g.manifest),
        "qc/issues.csv",
    ));

    // Bombs: qc/issues.csv replaced by 2 GiB of zeros deflated to 13 MB. The manifest still says
    // the genuine size; the zip headers say the truth, or lie with the manifest's size.
    let (stream, size) = deflate_zeros(8_323_580);
    assert!(size < 1 << 31 && size > (1 << 31) - 300);
    let issues = g.get("qc/issues.csv");
    for (name, declared, crc) in [
        ("pkg_bomb_declared", size as u32, crc32_of_zeros(size)),
        ("pkg_bomb_lying_sizes", issues.len() as u32, crc32(issues)),
    ] {
        let mut e = g.raw();
        let k = e.iter().position(|x| x.name == b"qc/issues.csv").unwrap();
        e[k] = RawEntry {
            name: b"qc/issues.csv".to_vec(),
            data: stream.clone(),
            method: 8,
            crc,
            size: declared,
            mode: 0o100644,
        };
        out.push(Hostile {
            name,
            zip: Genuine::with_manifest(e, &g.manifest),
            names: "qc/issues.csv".into(),
            bomb: Some(1.0),
        });
    }
    out
}

/// Runs the binary under a 1 GiB address-space limit (a bomb inflated into memory cannot take the
/// machine's memory), and reads the CPU time it took (the shell's `times`), which unlike wall time
/// does not depend on what else the machine is doing.
fn limited(args: &[&str], scratch: &Path, limit: Duration) -> (Outcome, f64) {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -v 1048576 || exit 99; \"$0\" \"$@\"; rc=$?; times >&2; exit $rc")
        .arg(env!("CARGO_BIN_EXE_riskcensus"));
    let o = run_command(cmd, args, scratch, limit);
    // The last line of `times`: the children's user and system time, e.g. `0m1.250000s 0m0.110000s`.
    let cpu = o
        .stderr
        .lines()
        .next_back()
        .map(|l| {
            l.split_whitespace()
                .filter_map(|t| {
                    let (m, s) = t.trim_end_matches('s').split_once('m')?;
                    Some(m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?)
                })
                .sum()
        })
        .unwrap_or(f64::INFINITY);
    (o, cpu)
}

const HOSTILE_PACKAGES: usize = 15;

#[test]
fn corpus_hostile_packages() {
    // The helpers the bombs are made with are right: a small stream inflates to its zeros.
    let (small, n) = deflate_zeros(3);
    let z = raw_zip(&[RawEntry {
        name: b"z".to_vec(),
        data: small,
        method: 8,
        crc: crc32_of_zeros(n),
        size: n as u32,
        mode: 0o100644,
    }]);
    let inflated = zip_entries(&z);
    assert_eq!(inflated[0].1, vec![0u8; n as usize]);
    assert_eq!(crc32_of_zeros(n), crc32(&vec![0u8; n as usize]));
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);

    // A genuine package from a whole run of the county.
    let dir = tempfile::tempdir().unwrap();
    let county = copy_county(dir.path());
    let out = dir.path().join("out");
    let o = run_bin(
        &[
            "-q",
            "run",
            county.join(PIPELINE).to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &dir.path().join("scratch"),
        Duration::from_secs(600),
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let package = out.join(RUN_NAME).join("530381_宣威市_2020.zip");
    let entries = zip_entries(&std::fs::read(&package).unwrap());
    let manifest: serde_json::Value = serde_json::from_slice(
        &entries
            .iter()
            .find(|(n, _)| n == "manifest.json")
            .unwrap()
            .1,
    )
    .unwrap();
    let genuine = Genuine { entries, manifest };

    // Rewritten by this test's own zip writer, the genuine package still verifies and merges: what
    // the hostile ones fail on is their hostility.
    let control = dir.path().join("control/530381_宣威市_2020.zip");
    std::fs::create_dir_all(control.parent().unwrap()).unwrap();
    std::fs::write(
        &control,
        Genuine::with_manifest(genuine.raw(), &genuine.manifest),
    )
    .unwrap();
    let (v, cpu) = limited(
        &["verify", control.to_str().unwrap()],
        &dir.path().join("scratch"),
        Duration::from_secs(120),
    );
    assert_eq!(v.code, Some(0), "control: {}{}", v.stdout, v.stderr);
    assert!(cpu < 1.0, "the control took {cpu} s of CPU to verify");

    let hostile = hostile_packages(&genuine);
    assert_eq!(hostile.len(), HOSTILE_PACKAGES);
    let mut log = String::new();
    let mut failures = Vec::new();
    for h in &hostile {
        let d = dir.path().join(h.name);
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("530381_宣威市_2020.zip");
        std::fs::write(&p, &h.zip).unwrap();
        let scratch = d.join("scratch");
        let limit = Duration::from_secs(120);
        let (v, v_cpu) = limited(&["verify", p.to_str().unwrap()], &scratch, limit);
        let merged = d.join("merged");
        let (m, m_cpu) = limited(
            &[
                "merge",
                p.to_str().unwrap(),
                "--out",
                merged.to_str().unwrap(),
            ],
            &scratch,
            limit,
        );
        let _ = writeln!(
            log,
            "{:<34} verify exit {:<4} cpu {:>5.2}s  merge exit {:<4} cpu {:>5.2}s  {} | {}",
            h.name,
            v.code.map(|c| c.to_string()).unwrap_or("none".into()),
            v_cpu,
            m.code.map(|c| c.to_string()).unwrap_or("none".into()),
            m_cpu,
            v.stdout.lines().nth(1).unwrap_or("").trim(),
            first_line(&m)
        );
        let mut why = Vec::new();
        if v.code != Some(1) {
            why.push(format!(
                "verify exit {:?}, expected 1: {} / {}",
                v.code,
                tail(&v.stdout),
                tail(&v.stderr)
            ));
        } else if !v.stdout.contains(h.names.as_str()) {
            why.push(format!(
                "verify does not name {}: {}",
                h.names,
                tail(&v.stdout)
            ));
        }
        if v.stderr.contains("panicked") || m.stderr.contains("panicked") {
            why.push("a panic".into());
        }
        if m.code != Some(2) {
            why.push(format!(
                "merge exit {:?}, expected 2: {}",
                m.code,
                tail(&m.stderr)
            ));
        } else if !m.stderr.contains("530381_宣威市_2020.zip") {
            why.push(format!(
                "merge does not name the package: {}",
                tail(&m.stderr)
            ));
        }
        let mut left = Vec::new();
        walk(&merged, &mut left);
        if let Some(f) = left.iter().find(|f| {
            let n = f.to_string_lossy();
            n.ends_with(".zip") || n.contains(".tmp-")
        }) {
            why.push(format!("merge left {}", f.display()));
        }
        if let Some(budget) = h.bomb {
            if v_cpu > budget || m_cpu > budget {
                why.push(format!(
                    "took {v_cpu:.2} s (verify) and {m_cpu:.2} s (merge) of CPU: the bomb was inflated, not refused"
                ));
            }
            // Out of memory under the 1 GiB limit: it set out to hold the whole entry in memory (2 GiB
            // on a machine without the limit) instead of stopping at the manifest's size.
            if v.stdout.contains("out of memory") || m.stderr.contains("out of memory") {
                why.push(format!(
                    "refused only because it ran out of memory holding the bomb: {}",
                    v.stdout.lines().nth(1).unwrap_or("").trim()
                ));
            }
        }
        if !why.is_empty() {
            failures.push(format!("{}: {}", h.name, why.join("; ")));
        }
    }
    println!("corpus group hostile packages:\n{log}");
    assert!(
        failures.is_empty(),
        "{} of {} hostile packages failed:\n\n{}\n\nall outcomes:\n{log}",
        failures.len(),
        hostile.len(),
        failures.join("\n\n")
    );
}

/// The corpus holds at least the 60 variants issue 9 asks for, with distinct names.
#[test]
fn corpus_size() {
    let groups = [
        SHAPEFILE_HEADERS,
        SHAPEFILE_RECORDS,
        WORKBOOK_CONTAINERS,
        WORKBOOK_CELLS,
        CONFIG_FILES,
        LATER_STAGES,
    ];
    let mut names: Vec<&str> = groups
        .iter()
        .flat_map(|g| g.iter().map(|v| v.name))
        .collect();
    let n = names.len() + HOSTILE_PACKAGES;
    names.sort();
    names.dedup();
    assert_eq!(names.len() + HOSTILE_PACKAGES, n, "duplicate variant names");
    assert!(n >= 60, "the corpus has {n} variants, fewer than 60");
}
