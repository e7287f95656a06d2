//! The `riskcensus` binary as users start it: exit codes, help, errors, logs, and the demo.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
    // Stages not built are said, not faked.
    assert!(stdout(&o).contains("not built yet"));
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
    let o = run(&["schema", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nope"));
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
    let o = run(&[
        "gen-fixtures",
        "--county",
        "530402",
        "--buildings",
        "1000",
        "--out",
        county.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
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
}
