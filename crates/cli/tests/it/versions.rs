//! Survey forms, diffs between versions, and batches of counties, as users start them.

use crate::{run, stderr, stdout};

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
