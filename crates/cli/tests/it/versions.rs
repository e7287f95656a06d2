//! Survey forms, diffs between versions, and batches of counties, as users start them.

use crate::{generate_county, run, stderr, stdout};

#[test]
fn template_writes_forms_and_names_what_it_cannot_make() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("forms");
    let out_s = out.to_str().unwrap();
    let o = run(&[
        "template",
        "fwjz",
        "czt_xx",
        "--out",
        out_s,
        "--township",
        "530402001",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("2 form(s) written"), "{}", stdout(&o));
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "czt_xx_学校调查表_530402001.xlsx",
            "fwjz_房屋建筑调查表_530402001.xlsx"
        ]
    );
    // A county code is not a township; a polygon table has no form; both exit 2 with one error.
    let o = run(&["template", "fwjz", "--out", out_s, "--township", "530402"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("530402") && stderr(&o).contains("not a township"),
        "{}",
        stderr(&o)
    );
    let o = run(&["template", "xzqh_xz", "--out", out_s]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("xzqh_xz") && stderr(&o).contains("hint"),
        "{}",
        stderr(&o)
    );
}

/// A generated county run twice, the second with `--previous`: `diff` of a package with itself says
/// "no changes" and writes its xlsx and json; the second run names its changes folder; a diff of
/// something that is neither a package nor an output directory is one error with a hint.
#[test]
fn diff_and_run_previous_from_the_command_line() {
    let d = tempfile::tempdir().unwrap();
    let county = d.path().join("county");
    generate_county("530402", &county);
    let pipeline = county.join("pipeline.toml");
    let out1 = d.path().join("o1");
    let o = run(&[
        "run",
        pipeline.to_str().unwrap(),
        "--out",
        out1.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let pkg = out1.join("530402_synthetic/530402_红塔区_2020.zip");
    assert!(pkg.is_file());
    let report = d.path().join("report");
    let o = run(&[
        "diff",
        pkg.to_str().unwrap(),
        pkg.to_str().unwrap(),
        "--out",
        report.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("no changes"), "{}", stdout(&o));
    assert!(report.join("diff.xlsx").is_file() && report.join("diff.json").is_file());
    let out2 = d.path().join("o2");
    let o = run(&[
        "run",
        pipeline.to_str().unwrap(),
        "--out",
        out2.to_str().unwrap(),
        "--previous",
        pkg.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("changes since the previous package"),
        "{}",
        stdout(&o)
    );
    let o = run(&["diff", county.to_str().unwrap(), pkg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no parquet/") && stderr(&o).contains("hint"),
        "{}",
        stderr(&o)
    );
}

/// `batch` over a folder of two counties, one with a workbook cut short: exit 1, the good county's
/// package, the status table naming the broken file; run again, the good county is up to date.
#[test]
fn batch_goes_on_past_a_broken_county_and_says_why() {
    let d = tempfile::tempdir().unwrap();
    let counties = d.path().join("counties");
    for code in ["530402", "530381"] {
        generate_county(code, &counties.join(code));
    }
    let broken = counties.join("530381/fwjz.xlsx");
    let bytes = std::fs::read(&broken).unwrap();
    std::fs::write(&broken, &bytes[..5000]).unwrap();
    let out = d.path().join("out");
    let args = [
        "batch",
        counties.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--jobs",
        "2",
    ];
    let o = run(&args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(
        s.contains("530381") && s.contains("failed") && s.contains("fwjz.xlsx"),
        "{s}"
    );
    assert!(
        s.contains("1 ran and passed") && s.contains("1 failed"),
        "{s}"
    );
    assert!(
        out.join("530402_synthetic/530402_红塔区_2020.zip")
            .is_file()
    );
    assert!(out.join("batch_status.csv").is_file());
    let o = run(&args);
    assert!(stdout(&o).contains("1 up to date"), "{}", stdout(&o));
}

/// `progress` on a generated county's pipeline prints 整体进度 and writes xlsx, json and the map; a
/// targets file with a count that is not a number is one error naming its line.
#[test]
fn progress_prints_the_county_total_and_names_a_bad_targets_line() {
    let d = tempfile::tempdir().unwrap();
    let county = d.path().join("county");
    generate_county("530402", &county);
    let targets = d.path().join("targets.csv");
    std::fs::write(
        &targets,
        "township_code,table,expected\n530402001,fwjz,1000\n",
    )
    .unwrap();
    let out = d.path().join("p");
    let o = run(&[
        "progress",
        county.join("pipeline.toml").to_str().unwrap(),
        "--targets",
        targets.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("整体进度"), "{}", stdout(&o));
    for f in [
        "progress.xlsx",
        "progress.json",
        "progress_map.svg",
        "progress_map.png",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    std::fs::write(
        &targets,
        "township_code,table,expected\n530402001,fwjz,many\n",
    )
    .unwrap();
    let o = run(&[
        "progress",
        county.join("pipeline.toml").to_str().unwrap(),
        "--targets",
        targets.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("line 2") && stderr(&o).contains("\"many\""),
        "{}",
        stderr(&o)
    );
}
