//! `riskcensus review …` as a county, a city and a province run it, with `merge --require-tier`.

use super::{generate_county, run, stderr, stdout};

/// The three tiers through the binary: import (nothing decided yet), sample twice (same bytes),
/// score (exit 0), sign the city tier, then a merge requiring the province tier is refused naming
/// the county, and one requiring the city tier goes through, saying which tier each county reached.
#[test]
fn the_review_commands_walk_the_three_tiers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let county = d.join("county");
    let s = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    generate_county("530402", &county);
    let pipeline = county.join("pipeline.toml");
    let mut text = std::fs::read_to_string(&pipeline).unwrap();
    text.push_str("\n[review]\ndispositions = \"dispositions.csv\"\n");
    std::fs::write(&pipeline, text).unwrap();
    let o = run(&["run", &s(&pipeline), "--out", &s(&d.join("o"))]);
    assert!(o.status.code().is_some_and(|c| c < 2), "{}", stderr(&o));
    let out = d.join("o/530402_synthetic");
    let package = out.join("530402_红塔区_2020.zip");

    let dispositions = county.join("dispositions.csv");
    let o = run(&[
        "review",
        "import",
        &s(&out.join("qc/report.xlsx")),
        "--into",
        &s(&dispositions),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("imported 0 decisions"),
        "{}",
        stdout(&o)
    );
    assert!(
        std::fs::read_to_string(&dispositions)
            .unwrap()
            .starts_with("table,record_key,rule,field,decision")
    );
    let o = run(&[
        "review",
        "import",
        &s(&pipeline),
        "--into",
        &s(&d.join("x.csv")),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("pipeline.toml"), "{}", stderr(&o));

    let (a, b) = (d.join("a.xlsx"), d.join("b.xlsx"));
    for w in [&a, &b] {
        let o = run(&[
            "review",
            "sample",
            &s(&package),
            "--rate",
            "0.1",
            "--seed",
            "2021",
            "--out",
            &s(w),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(stdout(&o).contains("strata"), "{}", stdout(&o));
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let o = run(&[
        "review",
        "score",
        &s(&a),
        "--json",
        &s(&d.join("score.json")),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("差错率 0.0000%"), "{}", stdout(&o));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("score.json")).unwrap()).unwrap();
    assert_eq!(json["county"]["wrong"], 0);
    assert_eq!(json["seed"], 2021);

    let o = run(&[
        "review",
        "sign",
        &s(&package),
        "--tier",
        "city",
        "--reviewer",
        "李四",
        "--date",
        "2021-07-15",
        "--sample",
        &s(&a),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&["verify", &s(&package)]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));

    let o = run(&[
        "merge",
        &s(&package),
        "--out",
        &s(&d.join("p1")),
        "--require-tier",
        "province",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("530402_红塔区_2020.zip") && stderr(&o).contains("省级验收"),
        "{}",
        stderr(&o)
    );
    let o = run(&[
        "merge",
        &s(&package),
        "--out",
        &s(&d.join("p2")),
        "--require-tier",
        "city",
    ]);
    assert!(o.status.code().is_some_and(|c| c < 2), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("530402 红塔区: review tier reached: 市级抽检"),
        "{}",
        stdout(&o)
    );
}
