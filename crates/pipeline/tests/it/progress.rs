//! `progress`: on a generated county, every figure equals one counted by hand from the buildings
//! workbook and the targets file, and the map colours the townships by share done.

use std::collections::BTreeMap;
use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto};
use riskcensus_pipeline::progress::{self, CLASSES, class_color};

/// Buildings per township code, counted from the workbook itself.
fn hand_count(xlsx: &Path) -> BTreeMap<String, u64> {
    let mut wb = open_workbook_auto(xlsx).unwrap();
    let range = wb.worksheet_range_at(0).unwrap().unwrap();
    let mut rows = range.rows();
    let header = rows.next().unwrap();
    let col = header
        .iter()
        .position(|c| matches!(c, Data::String(s) if s == "乡镇（街道）代码"))
        .unwrap();
    let mut out = BTreeMap::new();
    for r in rows {
        if let Data::String(code) = &r[col] {
            *out.entry(code.clone()).or_insert(0) += 1;
        }
    }
    out
}

#[test]
fn progress_figures_equal_hand_counted_ones_and_the_map_shows_them() {
    let d = tempfile::tempdir().unwrap();
    let mut o = riskcensus_synth::Options::new("530402", d.path());
    o.buildings = 1_000;
    o.defect_rate = 0.0;
    riskcensus_synth::generate(&o, &mut |_| {}).unwrap();
    let counted = hand_count(&d.path().join("fwjz.xlsx"));
    assert!(counted.len() >= 5, "{counted:?}");
    let towns: Vec<(&String, &u64)> = counted.iter().collect();
    // Targets: the first township surveyed over its target (capped at 100%), the second exactly,
    // the others short by a fifth; a table nobody has surveyed yet in the first township; the last
    // township has no target.
    let mut targets = String::from("乡镇代码,表,应调查数\n");
    let mut expected_done = Vec::new();
    for (k, (code, n)) in towns.iter().enumerate().take(towns.len() - 1) {
        let target = match k {
            0 => **n - 3,
            1 => **n,
            _ => **n + **n / 4,
        };
        targets.push_str(&format!("{code},fwjz,{target}\n"));
        expected_done.push(((*code).clone(), target, (**n).min(target)));
    }
    targets.push_str(&format!("{},zdyh_jyjqz,4\n", towns[0].0));
    std::fs::write(d.path().join("targets.csv"), targets).unwrap();

    let (p, shapes) = progress::progress(
        &d.path().join("pipeline.toml"),
        Some(&d.path().join("targets.csv")),
    )
    .unwrap();
    for (code, target, done) in &expected_done {
        let l = p
            .lines
            .iter()
            .find(|l| &l.township_code == code && l.table == "fwjz")
            .unwrap();
        assert_eq!(l.surveyed, counted[code], "{code}");
        assert_eq!(
            l.passed_qc, counted[code],
            "{code}: a clean county rejects nothing"
        );
        assert_eq!(l.expected, Some(*target));
        assert_eq!(l.share_done, Some(*done as f64 / *target as f64), "{code}");
    }
    let fuel = p.lines.iter().find(|l| l.table == "zdyh_jyjqz").unwrap();
    assert_eq!(
        (fuel.surveyed, fuel.expected, fuel.share_done),
        (0, Some(4), Some(0.0))
    );
    let last = p
        .lines
        .iter()
        .find(|l| &l.township_code == towns[towns.len() - 1].0)
        .unwrap();
    assert_eq!((last.expected, last.share_done), (None, None));
    let first = p
        .townships
        .iter()
        .find(|t| &t.township_code == towns[0].0)
        .unwrap();
    let (t0, d0) = (expected_done[0].1 + 4, expected_done[0].2);
    assert_eq!((first.expected, first.done), (t0, d0));
    let total_expected: u64 = expected_done.iter().map(|e| e.1).sum::<u64>() + 4;
    let total_done: u64 = expected_done.iter().map(|e| e.2).sum();
    assert_eq!((p.expected, p.done), (total_expected, total_done));
    assert_eq!(
        p.share_done,
        Some(total_done as f64 / total_expected as f64)
    );
    assert_eq!(p.region_name, "红塔区");

    let out = d.path().join("progress");
    let files = progress::write(&p, &shapes, &out).unwrap();
    assert_eq!(files.len(), 4, "{files:?}");
    let png = std::fs::read(out.join("progress_map.png")).unwrap();
    for t in &p.townships {
        let color = class_color(t.share_done);
        assert!(
            riskcensus_pipeline::maps::png_has_color(&png, color),
            "{} {color}",
            t.township_code
        );
    }
    assert!(riskcensus_pipeline::maps::png_has_color(
        &png,
        progress::NO_TARGET_COLOR
    ));
    assert!(CLASSES.iter().any(|c| c.2 == class_color(Some(1.0))));
    let svg = std::fs::read_to_string(out.join("progress_map.svg")).unwrap();
    assert!(
        svg.contains("图例（完成率）") && svg.contains("整体进度"),
        "legend and total"
    );
    let mut wb = open_workbook_auto(out.join("progress.xlsx")).unwrap();
    assert_eq!(wb.sheet_names(), ["进度", "乡镇", "说明"]);
    let towns_sheet = wb.worksheet_range("乡镇").unwrap();
    assert_eq!(towns_sheet.height(), 1 + p.townships.len() + 1);
    // The same from the run's package.
    let run = riskcensus_pipeline::Run::load(&d.path().join("pipeline.toml"), None).unwrap();
    let pkg = riskcensus_pipeline::run(&run, &mut |_, _, _| {})
        .unwrap()
        .package
        .unwrap();
    let (from_pkg, pkg_shapes) =
        progress::progress(&pkg, Some(&d.path().join("targets.csv"))).unwrap();
    assert_eq!(from_pkg, p);
    assert_eq!(pkg_shapes.len(), shapes.len());
}
