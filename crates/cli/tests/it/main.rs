//! The `riskcensus` binary as users start it: exit codes, help, errors, logs, and the demo.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod corpus;
mod review;
mod versions;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_riskcensus"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The entries of two zips that differ (or are in one only), by name: what a failed byte-identity
/// check needs to say.
fn differing_entries(a: &[u8], b: &[u8]) -> Vec<String> {
    use std::io::Read;
    let read = |bytes: &[u8]| -> std::collections::BTreeMap<String, Vec<u8>> {
        let Ok(mut z) = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())) else {
            return [("<not a zip>".to_owned(), Vec::new())].into();
        };
        (0..z.len())
            .filter_map(|i| {
                let mut f = z.by_index(i).ok()?;
                let name = f.name().ok()?.into_owned();
                let mut v = Vec::new();
                f.read_to_end(&mut v).ok()?;
                Some((name, v))
            })
            .collect()
    };
    let (a, b) = (read(a), read(b));
    a.keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Generates a county of 1,000 buildings into `out` through the binary, as a user would.
fn generate_county(code: &str, out: &std::path::Path) {
    let o = run(&[
        "gen-fixtures",
        "--county",
        code,
        "--buildings",
        "1000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn version_and_help_on_every_subcommand() {
    let o = run(&["--version"]);
    assert!(o.status.success());
    assert!(stdout(&o).starts_with("riskcensus "));
    for sub in [
        vec!["--help"],
        vec!["run", "--help"],
        vec!["gen-fixtures", "--help"],
        vec!["merge", "--help"],
        vec!["query", "--help"],
        vec!["verify", "--help"],
        vec!["inspect", "--help"],
        vec!["review", "--help"],
        vec!["review", "sample", "--help"],
        vec!["template", "--help"],
        vec!["diff", "--help"],
        vec!["batch", "--help"],
        vec!["progress", "--help"],
    ] {
        let o = run(&sub);
        assert_eq!(o.status.code(), Some(0), "{sub:?}");
        assert!(stdout(&o).contains("Usage:"), "{sub:?}");
    }
    assert!(stdout(&run(&["gen-fixtures", "--help"])).contains("--defect-rate"));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&["no-such-command"]).status.code(), Some(2));
    assert_eq!(run(&["gen-fixtures"]).status.code(), Some(2));
}

#[test]
fn generate_then_run_the_generated_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("county");
    let o = run(&[
        "gen-fixtures",
        "--county",
        "530402",
        "--buildings",
        "1000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("红塔区"));
    let o = run(&[
        "run",
        out.join("pipeline.toml").to_str().unwrap(),
        "--out",
        dir.path().join("o").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let inputs =
        std::fs::read_to_string(dir.path().join("o/530402_synthetic/inputs.json")).unwrap();
    assert!(inputs.contains("\"table\": \"fwjz\""), "{inputs}");
    assert!(inputs.contains("\"sha256\""), "{inputs}");
    // Every stage ran, and the run says so.
    assert!(
        stdout(&o).contains("gis layer, maps, package"),
        "{}",
        stdout(&o)
    );
    assert!(!stdout(&o).contains("not built yet"), "{}", stdout(&o));
}

#[test]
fn bad_input_is_one_readable_error_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&[
        "gen-fixtures",
        "--county",
        "999999",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.starts_with("error: could not generate county 999999"),
        "{e}"
    );
    assert!(e.contains("hint"), "{e}");
    assert!(!e.contains("panicked"), "{e}");

    let p = dir.path().join("p.toml");
    std::fs::write(&p, "[run]\nname = \"x\"\nregion_code = \"530402\"\nreference_year = 2020\n[units]\ntable = \"xzqh_xz\"\npath = \"nowhere.shp\"\ncode_field = \"a\"\nname_field = \"b\"\n").unwrap();
    let o = run(&["run", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nowhere.shp"), "{}", stderr(&o));

    let o = run(&["run", dir.path().join("missing.toml").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.toml"));
}

#[test]
fn json_logs_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&[
        "-v",
        "--log-format",
        "json",
        "gen-fixtures",
        "--county",
        "530402",
        "--buildings",
        "1000",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let e = stderr(&o);
    let line = e
        .lines()
        .find(|l| l.contains("county laid out"))
        .unwrap_or_else(|| panic!("{e}"));
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["level"], "INFO");
    // Quiet means quiet.
    let o = run(&[
        "-q",
        "gen-fixtures",
        "--county",
        "530402",
        "--buildings",
        "1000",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

#[test]
fn demo_pipeline_resolves_against_the_bundled_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&[
        "run",
        repo().join("pipelines/demo.toml").to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(dir.path().join("demo/inputs.json").is_file());
}

/// The committed fixture is exactly what its documented command makes.
#[test]
fn committed_fixture_is_what_the_generator_makes() {
    let fixture = repo().join("fixtures/county_530381");
    let readme = std::fs::read_to_string(repo().join("fixtures/README.md")).unwrap();
    let cmd = "riskcensus gen-fixtures --county 530381 --buildings 3000 --seed 7 --defect-rate 0.05 --out fixtures/county_530381";
    assert!(
        readme.contains(cmd),
        "fixtures/README.md must give the command"
    );
    let dir = tempfile::tempdir().unwrap();
    let o = run(&[
        "gen-fixtures",
        "--county",
        "530381",
        "--buildings",
        "3000",
        "--seed",
        "7",
        "--defect-rate",
        "0.05",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in &names {
        let fresh = std::fs::read(dir.path().join(name)).unwrap();
        let committed =
            std::fs::read(fixture.join(name)).unwrap_or_else(|_| panic!("{name} is not committed"));
        assert!(
            fresh == committed,
            "fixtures/county_530381/{name} differs from what the generator makes now; regenerate it"
        );
    }
}

#[test]
fn schema_lists_tables_and_fields() {
    let o = run(&["schema"]);
    assert_eq!(o.status.code(), Some(0));
    let s = stdout(&o);
    for t in [
        "fwjz",
        "czt_xx",
        "czt_ylwsjg",
        "dzzhyhd",
        "zhjzzy_jc_xzzy",
        "zdyh_wkk",
        "hz_flood",
    ] {
        assert!(s.contains(t), "{t} missing from `schema`");
    }
    let o = run(&["schema", "fwjz"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("房屋编号") && stdout(&o).contains("structure_type"));
    // Each field's aliases, on the line under the field, so an override can be checked against them.
    let fields = stdout(&o);
    let lines: Vec<&str> = fields.lines().collect();
    let bh = lines
        .iter()
        .position(|l| l.starts_with("fwbh "))
        .expect("fwbh listed");
    assert!(
        lines[bh + 1].contains("aliases: 编号, 房屋编码"),
        "{}",
        lines[bh + 1]
    );
    // A table's key and each rule, with where it comes from.
    let o = run(&["schema", "zhjzzy_zf_yjblcs"]);
    let s = stdout(&o);
    assert!(s.contains("primary key: yjbncsmc + xzqdm"), "{s}");
    for rule in [
        "compare           yjbncssnmj ≤ yjbncszdmj",
        "implies           syndqycs = 0 ⇒ syndjnjjzy = 0",
        "format            lxdh is a phone",
        "township_code     xzqdm",
    ] {
        assert!(s.contains(rule), "no {rule:?} in {s}");
    }
    assert!(s.contains("source: [I] census_rules §2"), "{s}");
    assert!(s.contains("source: project's choice"), "{s}");
    let o = run(&["schema", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nope"));
}

#[test]
fn inspect_shows_header_columns_samples_and_the_best_table() {
    let fixture = repo().join("fixtures/county_530381");
    let o = run(&["inspect", fixture.join("czt_xx.xlsx").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(s.contains("sheet \"学校\": header row 4"), "{s}");
    assert!(s.contains("best match: czt_xx 学校调查表"), "{s}");
    let a = s
        .lines()
        .find(|l| l.trim_start().starts_with("A "))
        .expect("column A listed");
    assert!(
        a.contains("学校（机构）名称")
            && a.contains(" | ")
            && a.ends_with("xxjgmc 学校（机构）名称"),
        "{a}"
    );
    let o = run(&["inspect", fixture.join("xzqh_xz.shp").to_str().unwrap()]);
    let s = stdout(&o);
    assert!(
        s.contains("layer \"xzqh_xz\", encoding CP936") && s.contains("best match: xzqh_xz"),
        "{s}"
    );
    let o = run(&["inspect", fixture.join("model.toml").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unsupported file type"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn validate_exit_codes_follow_qc() {
    let dir = tempfile::tempdir().unwrap();
    let demo = repo().join("pipelines/demo.toml");
    let o = run(&[
        "validate",
        demo.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("QC passed"));
    for f in ["report.xlsx", "summary.json", "issues.csv"] {
        assert!(dir.path().join("demo/qc").join(f).is_file(), "{f}");
    }
    // The same data against a zero threshold fails QC: exit 1.
    let strict = std::fs::read_to_string(&demo)
        .unwrap()
        .replace("pass_threshold = 0.05", "pass_threshold = 0.0");
    let p = repo()
        .join("pipelines")
        .join(format!("strict-{}.toml", std::process::id()));
    std::fs::write(&p, strict).unwrap();
    let o = run(&[
        "validate",
        p.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    std::fs::remove_file(&p).unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("QC FAILED"));
}

#[test]
fn a_broken_input_file_stops_the_run_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let county = dir.path().join("c");
    generate_county("530402", &county);
    let bytes = std::fs::read(county.join("czt_xx.xlsx")).unwrap();
    std::fs::write(county.join("czt_xx.xlsx"), &bytes[..bytes.len() / 3]).unwrap();
    let o = run(&["validate", county.join("pipeline.toml").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("czt_xx.xlsx") && e.contains("hint"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn query_runs_sql_over_the_published_tables() {
    let dir = tempfile::tempdir().unwrap();
    let demo = repo().join("pipelines/demo.toml");
    let o = run(&[
        "run",
        demo.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("units graded"), "{}", stdout(&o));
    let out = dir.path().join("demo");
    let csv = dir.path().join("top.csv");
    let o = run(&[
        "query",
        out.to_str().unwrap(),
        "SELECT unit_code, unit_name, composite_grade FROM unit_risk WHERE composite_score IS NOT NULL ORDER BY composite_score DESC LIMIT 3",
        "--to",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "unit_code,unit_name,composite_grade");
    assert_eq!(lines.len(), 4);
    assert!(lines[1].ends_with(",高"), "{text}");
    let o = run(&["query", out.to_str().unwrap(), "SELECT nope FROM unit_risk"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unit_risk"), "{}", stderr(&o));

    // The same query over the upload package gives the same answer.
    let package = out.join("530381_宣威市_2020.zip");
    let csv2 = dir.path().join("top2.csv");
    let o = run(&[
        "query",
        package.to_str().unwrap(),
        "SELECT unit_code, unit_name, composite_grade FROM unit_risk WHERE composite_score IS NOT NULL ORDER BY composite_score DESC LIMIT 3",
        "--to",
        csv2.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&csv2).unwrap(), text);

    // The package merges on its own into a provincial package that verifies.
    let province = dir.path().join("province");
    let o = run(&[
        "merge",
        package.to_str().unwrap(),
        "--out",
        province.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("530000 云南省"), "{}", stdout(&o));
    let merged = province.join("530000_云南省_2020.zip");
    let o = run(&["verify", merged.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // The Hive partition key is a column.
    let o = run(&[
        "query",
        province.to_str().unwrap(),
        "SELECT county, COUNT(*) AS n FROM unit_risk GROUP BY county",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("530381"), "{}", stdout(&o));
    let o = run(&["merge", "--out", province.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "merge without packages");
}

/// A run killed at any moment leaves either no package or the previous whole one, and a re-run
/// completes. The kill moments are spread over the run's duration with a random offset; the seed
/// is printed on failure (set RISKCENSUS_KILL_SEED to repeat it).
#[test]
fn a_killed_run_leaves_no_package_or_the_previous_whole_one() {
    let dir = tempfile::tempdir().unwrap();
    let demo = repo().join("pipelines/demo.toml");
    let args = [
        "-q",
        "run",
        demo.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ];
    let package = dir.path().join("demo/530381_宣威市_2020.zip");
    let whole = |p: &Path| {
        let o = run(&["verify", p.to_str().unwrap()]);
        o.status.code() == Some(0)
    };
    let seed: u64 = std::env::var("RISKCENSUS_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos() as u64
        });
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut random = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let kill_at = |d: std::time::Duration| {
        let mut child = bin()
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(d);
        let _ = child.kill();
        let _ = child.wait();
    };

    // No package yet: a killed first run leaves none, or (if it finished) a whole one.
    kill_at(std::time::Duration::from_millis(
        300 + (random() * 700.0) as u64,
    ));
    assert!(
        !package.exists() || whole(&package),
        "seed {seed}: a half package after a killed first run"
    );

    let started = std::time::Instant::now();
    let o = bin().args(args).output().unwrap();
    let took = started.elapsed();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let before = std::fs::read(&package).unwrap();
    for k in 0..6 {
        let at = took.mul_f64((k as f64 + random()) / 6.0);
        kill_at(at);
        let now = std::fs::read(&package).ok();
        assert!(
            now.as_deref() == Some(before.as_slice()),
            "seed {seed}: killed at {at:?} of {took:?}, the package is not the previous whole one: {:?}",
            now.map(|n| differing_entries(&before, &n))
        );
    }
    let o = bin().args(args).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "seed {seed}: {}", stderr(&o));
    assert!(whole(&package));
    let after = std::fs::read(&package).unwrap();
    assert!(
        after == before,
        "seed {seed}: the rerun's package differs from the first whole one in {:?}",
        differing_entries(&before, &after)
    );
    let litter: Vec<String> = std::fs::read_dir(dir.path().join("demo"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(litter.is_empty(), "seed {seed}: left {litter:?}");
}

/// The Python that holds the independent reader: RISKCENSUS_PYTHON, else the virtualenv
/// scripts/setup.sh makes.
fn reader_python() -> PathBuf {
    if let Some(p) = std::env::var_os("RISKCENSUS_PYTHON") {
        return p.into();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache"));
    cache.join("riskcensus/py/bin/python")
}

/// pyarrow and geopandas, not this code, read the demo's GeoParquet back: row counts equal QC's
/// clean rows, the county partition is there, CRS EPSG:4490, valid geometries, polygons per unit.
#[test]
fn geoparquet_reads_back_with_pyarrow_and_geopandas() {
    let python = reader_python();
    let probe = Command::new(&python)
        .args(["-c", "import geopandas, pyarrow, shapely"])
        .output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "no independent reader at {}: run scripts/setup.sh (it installs pyarrow and geopandas)",
        python.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let demo = repo().join("pipelines/demo.toml");
    let o = run(&[
        "-q",
        "run",
        demo.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = Command::new(&python)
        .arg(repo().join("scripts/read_back.py"))
        .arg(dir.path().join("demo"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    for table in ["fwjz", "czt_xx", "xzqh_xz", "unit_risk", "issues"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(table) && l.ends_with("ok")),
            "{table} not checked:\n{text}"
        );
    }
    // And the provincial dataset a merge writes.
    let package = dir.path().join("demo/530381_宣威市_2020.zip");
    let province = dir.path().join("province");
    let o = run(&[
        "-q",
        "merge",
        package.to_str().unwrap(),
        "--out",
        province.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = Command::new(&python)
        .arg(repo().join("scripts/read_back.py"))
        .arg(&province)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
}

/// A county's data run as its city (玉溪市) with the district's name left in the pipeline: the run
/// goes ahead under the city's name, and says so on stderr.
#[test]
fn a_region_name_that_is_not_the_registrys_is_a_printed_warning() {
    let dir = tempfile::tempdir().unwrap();
    let county = dir.path().join("c");
    generate_county("530402", &county);
    let pipeline = county.join("pipeline.toml");
    let text = std::fs::read_to_string(&pipeline).unwrap();
    assert!(text.contains("region_name = \"红塔区\""));
    std::fs::write(
        &pipeline,
        text.replace("region_code = \"530402\"", "region_code = \"530400\""),
    )
    .unwrap();
    let o = run(&["validate", pipeline.to_str().unwrap()]);
    assert_ne!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("warning") && e.contains("红塔区") && e.contains("玉溪市"),
        "{e}"
    );
    assert!(stdout(&o).contains("530400"), "{}", stdout(&o));
}
