//! Shapefiles whose three parts disagree, and deleted DBF records: the reader counts the records from
//! the files themselves, so no row goes missing between the file and GDAL without an issue.

use std::path::{Path, PathBuf};

use riskcensus_ingest::{FileNote, RawTable};
use riskcensus_schema::Severity;

use super::{read, repo, schemas};

/// The bundled county's township layer (29 records), copied so it can be damaged.
fn townships(dir: &Path) -> PathBuf {
    let src = repo().join("fixtures/county_530381");
    for ext in ["shp", "shx", "dbf", "prj", "cpg"] {
        std::fs::copy(
            src.join(format!("xzqh_xz.{ext}")),
            dir.join(format!("xzqh_xz.{ext}")),
        )
        .unwrap();
    }
    dir.join("xzqh_xz.shp")
}

/// (header length, record length) of a DBF.
fn dbf_layout(bytes: &[u8]) -> (usize, usize) {
    (
        u16::from_le_bytes([bytes[8], bytes[9]]) as usize,
        u16::from_le_bytes([bytes[10], bytes[11]]) as usize,
    )
}

fn read_units(shp: &Path) -> RawTable {
    read(schemas().table("xzqh_xz").unwrap(), shp).unwrap()
}

fn notes<'a>(t: &'a RawTable, rule: &str) -> Vec<&'a FileNote> {
    t.files[0].notes.iter().filter(|n| n.rule == rule).collect()
}

#[test]
fn a_whole_shapefile_accounts_for_every_record() {
    let d = tempfile::tempdir().unwrap();
    let t = read_units(&townships(d.path()));
    assert_eq!(t.rows.len(), 29);
    assert_eq!(t.files[0].records_in_file, Some(29));
    assert_eq!(t.files[0].records_excluded, 0);
    assert!(t.files[0].notes.is_empty(), "{:?}", t.files[0].notes);
}

#[test]
fn a_dbf_truncated_mid_way_is_a_file_error_with_the_three_counts() {
    let d = tempfile::tempdir().unwrap();
    let shp = townships(d.path());
    let dbf = shp.with_extension("dbf");
    let bytes = std::fs::read(&dbf).unwrap();
    let (header, record) = dbf_layout(&bytes);
    // 13 whole records and half of the 14th.
    std::fs::write(&dbf, &bytes[..header + 13 * record + record / 2]).unwrap();
    let t = read_units(&shp);
    let f = &t.files[0];
    assert_eq!(f.records_in_file, Some(29));
    let parts = notes(&t, "shapefile_parts_disagree");
    assert_eq!(parts.len(), 1, "{:?}", f.notes);
    assert_eq!(parts[0].severity, Severity::Error);
    assert_eq!(parts[0].value, "shp 29, shx 29, dbf 13 (header says 29)");
    if t.rows.len() != 29 {
        let lost = notes(&t, "row_count_mismatch");
        assert_eq!(lost.len(), 1, "{} rows read: {:?}", t.rows.len(), f.notes);
        assert_eq!(lost[0].severity, Severity::Error);
        assert!(
            lost[0].message_en.contains("holds 29 records"),
            "{}",
            lost[0].message_en
        );
    }
}

#[test]
fn a_dbf_with_more_records_than_the_shp_is_a_file_error() {
    let d = tempfile::tempdir().unwrap();
    let shp = townships(d.path());
    let dbf = shp.with_extension("dbf");
    let mut bytes = std::fs::read(&dbf).unwrap();
    let (header, record) = dbf_layout(&bytes);
    let extra = bytes[header..header + 3 * record].to_vec();
    let end = header + 29 * record;
    bytes.truncate(end);
    bytes.extend(extra);
    bytes.push(0x1A);
    bytes[4..8].copy_from_slice(&32u32.to_le_bytes());
    std::fs::write(&dbf, &bytes).unwrap();
    let t = read_units(&shp);
    assert_eq!(t.files[0].records_in_file, Some(32));
    assert_eq!(notes(&t, "shapefile_parts_disagree").len(), 1);
    // Whatever GDAL returned, 32 records are either read or named as lost.
    if t.rows.len() != 32 {
        assert_eq!(
            notes(&t, "row_count_mismatch").len(),
            1,
            "{:?}",
            t.files[0].notes
        );
    }
}

#[test]
fn an_shx_listing_fewer_records_than_the_shp_is_a_file_error() {
    let d = tempfile::tempdir().unwrap();
    let shp = townships(d.path());
    let shx = shp.with_extension("shx");
    let bytes = std::fs::read(&shx).unwrap();
    // Cut short, its header still claiming 29 entries: GDAL refuses it, and the error names it.
    let mut cut = bytes[..bytes.len() - 5 * 8].to_vec();
    std::fs::write(&shx, &cut).unwrap();
    let e = read(schemas().table("xzqh_xz").unwrap(), &shp)
        .unwrap_err()
        .to_string();
    assert!(e.contains("xzqh_xz.shx") && e.contains("cut short"), "{e}");
    // A consistent index that lists 24 of the 29 records: GDAL reads what it lists.
    let words = (cut.len() / 2) as i32;
    cut[24..28].copy_from_slice(&words.to_be_bytes());
    std::fs::write(&shx, &cut).unwrap();
    let t = read_units(&shp);
    let parts = notes(&t, "shapefile_parts_disagree");
    assert_eq!(parts.len(), 1, "{:?}", t.files[0].notes);
    assert_eq!(parts[0].value, "shp 29, shx 24, dbf 29");
    assert_eq!(t.files[0].records_in_file, Some(29));
    assert!(t.rows.len() < 29, "GDAL reads what the index lists");
    assert_eq!(notes(&t, "row_count_mismatch").len(), 1);
}

#[test]
fn deleted_dbf_records_are_excluded_by_rule_and_named() {
    let d = tempfile::tempdir().unwrap();
    let shp = townships(d.path());
    let dbf = shp.with_extension("dbf");
    let mut bytes = std::fs::read(&dbf).unwrap();
    let (header, record) = dbf_layout(&bytes);
    for n in [3usize, 7] {
        bytes[header + (n - 1) * record] = b'*';
    }
    std::fs::write(&dbf, &bytes).unwrap();
    let t = read_units(&shp);
    let f = &t.files[0];
    assert_eq!(t.rows.len(), 27);
    assert_eq!(f.records_excluded, 2);
    assert_eq!(f.records_in_file, Some(29));
    let deleted = notes(&t, "deleted_record");
    assert_eq!(
        deleted.iter().map(|n| n.row).collect::<Vec<_>>(),
        [Some(3), Some(7)]
    );
    assert!(deleted.iter().all(|n| n.severity == Severity::Warning));
    assert!(notes(&t, "row_count_mismatch").is_empty(), "{:?}", f.notes);
    assert!(notes(&t, "shapefile_parts_disagree").is_empty());
    // Rows keep their record numbers: the record after a deleted one is not renumbered.
    let rows: Vec<u32> = t.rows.iter().map(|r| r.row).collect();
    assert_eq!(&rows[..6], &[1, 2, 4, 5, 6, 8]);
}

#[test]
fn a_shp_that_is_not_a_shapefile_is_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    let shp = townships(d.path());
    std::fs::write(&shp, b"PK\x03\x04 this is a zip, not a shapefile").unwrap();
    let e = read(schemas().table("xzqh_xz").unwrap(), &shp).unwrap_err();
    assert!(e.to_string().contains("xzqh_xz.shp"), "{e}");
}
