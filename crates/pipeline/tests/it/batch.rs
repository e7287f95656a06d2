//! `batch`: three generated counties, one broken, give two packages and a status table naming the
//! broken one and why; a second batch skips the two whose packages match their inputs.

use std::path::Path;

use riskcensus_pipeline::batch::{BatchOptions, Outcome, batch, find_pipelines};

fn county(root: &Path, code: &str, seed: u64) {
    let mut o = riskcensus_synth::Options::new(code, root.join(code));
    o.buildings = 1_000;
    o.seed = seed;
    riskcensus_synth::generate(&o, &mut |_| {}).unwrap();
}

#[test]
fn three_counties_one_broken_give_two_packages_and_a_status_naming_the_broken_one() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("counties");
    county(&root, "530402", 7);
    county(&root, "530381", 8);
    county(&root, "530302", 9);
    // A buildings workbook cut short in transfer.
    let broken = root.join("530381").join("fwjz.xlsx");
    let bytes = std::fs::read(&broken).unwrap();
    std::fs::write(&broken, &bytes[..bytes.len() / 3]).unwrap();

    let pipelines = find_pipelines(std::slice::from_ref(&root)).unwrap();
    assert_eq!(pipelines.len(), 3);
    let opts = BatchOptions {
        jobs: 2,
        ..BatchOptions::new(d.path().join("out"))
    };
    let heard = std::sync::Mutex::new(Vec::new());
    let r = batch(&pipelines, &opts, &|done, total, c| {
        heard
            .lock()
            .unwrap()
            .push((done, total, c.region_code.clone()))
    })
    .unwrap();
    assert_eq!(heard.lock().unwrap().len(), 3);
    let by = |code: &str| r.counties.iter().find(|c| c.region_code == code).unwrap();
    for good in ["530402", "530302"] {
        let c = by(good);
        assert!(
            matches!(c.outcome, Outcome::Passed | Outcome::QcFailed),
            "{good}: {c:?}"
        );
        assert!(c.package.as_ref().unwrap().is_file(), "{good}");
        assert!(c.rows.unwrap() > 1_000, "{good}: {:?}", c.rows);
        assert!(riskcensus_pipeline::package::verify(c.package.as_ref().unwrap()).is_empty());
    }
    let bad = by("530381");
    assert_eq!(bad.outcome, Outcome::Failed);
    assert!(bad.package.is_none());
    let why = bad.error.as_deref().unwrap();
    assert!(why.contains("fwjz.xlsx"), "{why}");
    assert_eq!(r.packages().len(), 2);
    let zips: Vec<_> = walk_zips(&opts.out);
    assert_eq!(zips.len(), 2, "{zips:?}");
    // The status table: one row per county, in pipeline order, the broken one with its reason.
    let csv = std::fs::read_to_string(&r.status_csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(
        lines[1].starts_with("\"530302\"") && lines[2].starts_with("\"530381\""),
        "{csv}"
    );
    assert!(
        lines[2].contains(",failed,") && lines[2].contains("fwjz.xlsx"),
        "{csv}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&r.status_json).unwrap()).unwrap();
    assert_eq!(json["counties"].as_array().unwrap().len(), 3);

    // Again: the two good counties' packages match their inputs and are kept; the broken one is
    // tried again and fails again; a changed input makes its county run.
    let before = std::fs::read(by("530402").package.as_ref().unwrap()).unwrap();
    let r2 = batch(&pipelines, &opts, &|_, _, _| {}).unwrap();
    let by2 = |code: &str| r2.counties.iter().find(|c| c.region_code == code).unwrap();
    assert_eq!(by2("530402").outcome, Outcome::UpToDate);
    assert_eq!(by2("530302").outcome, Outcome::UpToDate);
    assert_eq!(by2("530402").rows, by("530402").rows);
    assert_eq!(by2("530381").outcome, Outcome::Failed);
    assert_eq!(
        std::fs::read(by2("530402").package.as_ref().unwrap()).unwrap(),
        before
    );
    let schools = root.join("530302").join("czt_xx.xlsx");
    std::fs::copy(root.join("530402").join("czt_xx.xlsx"), &schools).unwrap();
    let r3 = batch(&pipelines, &opts, &|_, _, _| {}).unwrap();
    let by3 = |code: &str| r3.counties.iter().find(|c| c.region_code == code).unwrap();
    assert_eq!(by3("530402").outcome, Outcome::UpToDate);
    assert_ne!(by3("530302").outcome, Outcome::UpToDate);
    assert_ne!(
        by3("530302").outcome,
        Outcome::Failed,
        "{:?}",
        by3("530302").error
    );
}

fn walk_zips(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk_zips(&p));
        } else if p.extension().is_some_and(|x| x == "zip") {
            out.push(p);
        }
    }
    out
}
