//! Hostile packages: variants of a real county package built with the zip crate (duplicate and
//! forged entries, unsafe names, symlinks, bombs, truncation, an oversized manifest). `verify`
//! names each problem and its entry; `merge` and `query` refuse each package.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use riskcensus_pipeline::package::{MAX_MANIFEST_BYTES, sha256, verify};
use riskcensus_synth::BuildingGeometry;

/// One entry of a package as the tests rebuild it.
#[derive(Clone)]
struct Entry {
    name: String,
    bytes: Vec<u8>,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    File,
    /// A symbolic link; `bytes` is its target.
    Symlink,
    Directory,
}

fn file(name: &str, bytes: Vec<u8>) -> Entry {
    Entry {
        name: name.into(),
        bytes,
        kind: Kind::File,
    }
}

/// Every entry of a package, in order.
fn entries(pkg: &Path) -> Vec<Entry> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(pkg).unwrap()).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).unwrap();
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).unwrap();
            file(&f.name().unwrap(), bytes)
        })
        .collect()
}

fn options() -> zip::write::SimpleFileOptions {
    zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated)
}

/// Writes entries, in order, as a zip.
fn write_zip(out: &Path, entries: &[Entry]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(out).unwrap());
    for e in entries {
        match e.kind {
            Kind::File => {
                zip.start_file(e.name.as_str(), options()).unwrap();
                zip.write_all(&e.bytes).unwrap();
            }
            Kind::Symlink => {
                let target = String::from_utf8(e.bytes.clone()).unwrap();
                zip.add_symlink(e.name.as_str(), target, options()).unwrap();
            }
            Kind::Directory => zip.add_directory(e.name.as_str(), options()).unwrap(),
        }
    }
    zip.finish().unwrap();
}

/// Renames an entry in place, in its local header and its central directory record: the zip
/// writer refuses a second entry of a name, so duplicates are written under a stand-in name of the
/// same length and renamed after.
fn rename_entry(zip: &Path, from: &str, to: &str) {
    assert_eq!(from.len(), to.len());
    let mut bytes = std::fs::read(zip).unwrap();
    let mut renamed = 0;
    for at in header_names(&bytes, from) {
        bytes[at..at + to.len()].copy_from_slice(to.as_bytes());
        renamed += 1;
    }
    assert_eq!(
        renamed, 2,
        "{from}: one local header and one central record"
    );
    std::fs::write(zip, bytes).unwrap();
}

/// Offsets of `name` where a local header (30 bytes before it) or a central directory record (46
/// bytes before it) names it.
fn header_names(bytes: &[u8], name: &str) -> Vec<usize> {
    let n = name.as_bytes();
    (0..bytes.len().saturating_sub(n.len()))
        .filter(|&at| &bytes[at..at + n.len()] == n)
        .filter(|&at| {
            (at >= 30 && bytes[at - 30..at - 26] == *b"PK\x03\x04")
                || (at >= 46 && bytes[at - 46..at - 42] == *b"PK\x01\x02")
        })
        .collect()
}

/// Makes both headers of an entry declare `size` uncompressed bytes, whatever it inflates to.
fn declare_size(zip: &Path, name: &str, size: u32) {
    let mut bytes = std::fs::read(zip).unwrap();
    for at in header_names(&bytes, name) {
        let field = if bytes[at - 30..at - 26] == *b"PK\x03\x04" {
            at - 30 + 22
        } else {
            at - 46 + 24
        };
        bytes[field..field + 4].copy_from_slice(&size.to_le_bytes());
    }
    std::fs::write(zip, bytes).unwrap();
}

/// The package's manifest with `edit` applied, as the manifest entry.
fn edited_manifest(all: &[Entry], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let raw = &all
        .iter()
        .find(|e| e.name == "manifest.json")
        .unwrap()
        .bytes;
    let mut m: serde_json::Value = serde_json::from_slice(raw).unwrap();
    edit(&mut m);
    serde_json::to_vec_pretty(&m).unwrap()
}

/// Replaces the bytes of one entry (by name) in a list.
fn replaced(all: &[Entry], name: &str, with: Entry) -> Vec<Entry> {
    all.iter()
        .map(|e| {
            if e.name == name {
                with.clone()
            } else {
                e.clone()
            }
        })
        .collect()
}

/// The manifest's record of `path`, to be edited.
fn listed<'a>(m: &'a mut serde_json::Value, path: &str) -> &'a mut serde_json::Value {
    m["files"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f["path"] == path)
        .unwrap()
}

/// A real package of the bundled fixture county, run through the pipeline.
fn real_package(dir: &Path) -> PathBuf {
    super::generate(dir, 1_000, BuildingGeometry::None);
    super::package_of(dir)
}

/// `verify` names the problem (a line starting with `entry` and holding every one of `says`),
/// `merge` refuses the package naming its file, and `query` refuses to read it.
fn assert_refused(case: &str, pkg: &Path, entry: &str, says: &[&str], scratch: &Path) {
    let problems = verify(pkg);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with(entry) && says.iter().all(|s| p.contains(s))),
        "{case}: verify should name {entry} with {says:?}, said {problems:?}"
    );
    let out = scratch.join(format!("merge-{case}"));
    let e = riskcensus_pipeline::merge::merge(&[pkg.to_owned()], &out, None)
        .err()
        .unwrap_or_else(|| panic!("{case}: merge accepted the package"))
        .to_string();
    let file = pkg.file_name().unwrap().to_string_lossy();
    assert!(
        e.contains(file.as_ref()) && e.contains("does not verify") && e.contains(entry),
        "{case}: merge should refuse naming {file} and {entry}: {e}"
    );
    assert!(
        !out.join("parquet").exists(),
        "{case}: merge wrote tables of a refused package"
    );
    let e = riskcensus_pipeline::query::query(pkg, "SELECT COUNT(*) AS n FROM unit_risk")
        .err()
        .unwrap_or_else(|| panic!("{case}: query read the package"))
        .to_string();
    assert!(
        e.contains("does not verify") && e.contains(entry),
        "{case}: query should refuse naming {entry}: {e}"
    );
}

/// Each hostile variant of a real package is refused by `verify`, `merge` and `query`, naming the
/// entry and what is wrong; the real package itself is whole and queryable.
#[test]
fn hostile_packages_are_named_and_refused() {
    let d = tempfile::tempdir().unwrap();
    let pkg = real_package(&d.path().join("county"));
    assert_eq!(verify(&pkg), Vec::<String>::new());
    let n = riskcensus_pipeline::query::query(&pkg, "SELECT COUNT(*) AS n FROM unit_risk").unwrap();
    assert_eq!(n.height(), 1);
    let all = entries(&pkg);
    let scratch = d.path();
    let bad = |case: &str| scratch.join(format!("530402_{case}.zip"));

    // A forged copy of qc/summary.json first, the genuine one second: the zip crate shows only
    // the second (which matches the manifest), other tools extract the first.
    let case = "duplicate";
    let mut forged = all.clone();
    let i = forged
        .iter()
        .position(|e| e.name == "qc/summary.json")
        .unwrap();
    let mut copy = forged[i].clone();
    copy.name = "qc/summary.jsoX".into();
    copy.bytes = br#"{"passed": true}"#.to_vec();
    forged.insert(i, copy);
    write_zip(&bad(case), &forged);
    rename_entry(&bad(case), "qc/summary.jsoX", "qc/summary.json");
    assert_refused(case, &bad(case), "qc/summary.json", &["2 entries"], scratch);

    // A second manifest.json, first, saying another county.
    let case = "second-manifest";
    let mut two = all.clone();
    let other = edited_manifest(&all, |m| m["region_name"] = "宣威市".into());
    two.insert(0, file("manifest.jsoX", other));
    write_zip(&bad(case), &two);
    rename_entry(&bad(case), "manifest.jsoX", "manifest.json");
    assert_refused(case, &bad(case), "manifest.json", &["2 entries"], scratch);

    // An entry the manifest does not list.
    let case = "unlisted";
    let mut extra = all.clone();
    extra.insert(0, file("qc/extra.csv", b"a,b\n1,2\n".to_vec()));
    write_zip(&bad(case), &extra);
    assert_refused(
        case,
        &bad(case),
        "qc/extra.csv",
        &["not in the manifest"],
        scratch,
    );

    // Unsafe names, each listed in a manifest copy so only the name is wrong.
    for (case, name, says) in [
        ("absolute", "/qc/evil.txt", "absolute path"),
        ("traversal", "qc/../../evil.txt", "`..` segment"),
        ("backslash", "qc\\evil.txt", "backslash"),
        ("drive", "C:/qc/evil.txt", "colon"),
        ("empty-segment", "qc//evil.txt", "empty or `.` segment"),
    ] {
        let body = b"not what the county sent\n".to_vec();
        let mut list = all.clone();
        let manifest = edited_manifest(&all, |m| {
            m["files"].as_array_mut().unwrap().push(serde_json::json!({
                "path": name, "bytes": body.len(), "sha256": sha256(&body),
            }))
        });
        list = replaced(&list, "manifest.json", file("manifest.json", manifest));
        list.insert(0, file(name, body));
        write_zip(&bad(case), &list);
        assert_refused(case, &bad(case), name, &["unsafe path", says], scratch);
    }

    // qc/summary.json as a symbolic link, and a manifest copy whose size and SHA-256 are those of
    // the link's target text, as a naive check would compute them.
    let case = "symlink";
    let target = b"../../../etc/passwd".to_vec();
    let manifest = edited_manifest(&all, |m| {
        let f = listed(m, "qc/summary.json");
        f["bytes"] = target.len().into();
        f["sha256"] = sha256(&target).into();
    });
    let link = Entry {
        name: "qc/summary.json".into(),
        bytes: target.clone(),
        kind: Kind::Symlink,
    };
    let list = replaced(&all, "qc/summary.json", link);
    let list = replaced(&list, "manifest.json", file("manifest.json", manifest));
    write_zip(&bad(case), &list);
    assert_refused(
        case,
        &bad(case),
        "qc/summary.json",
        &["symbolic link"],
        scratch,
    );

    // A directory entry inside the layout.
    let case = "directory";
    let mut list = all.clone();
    list.insert(
        0,
        Entry {
            name: "qc/extra/".into(),
            bytes: Vec::new(),
            kind: Kind::Directory,
        },
    );
    write_zip(&bad(case), &list);
    assert_refused(case, &bad(case), "qc/extra/", &["directory entry"], scratch);

    // An entry outside the layout, listed in a manifest copy.
    let case = "outside";
    let body = b"#!/bin/sh\n".to_vec();
    let manifest = edited_manifest(&all, |m| {
        m["files"].as_array_mut().unwrap().push(serde_json::json!({
            "path": "run.sh", "bytes": body.len(), "sha256": sha256(&body),
        }))
    });
    let mut list = replaced(&all, "manifest.json", file("manifest.json", manifest));
    list.insert(0, file("run.sh", body));
    write_zip(&bad(case), &list);
    assert_refused(
        case,
        &bad(case),
        "run.sh",
        &["outside the package layout"],
        scratch,
    );

    // An entry longer than the manifest says (its header tells so honestly).
    let case = "size";
    let mut longer = all
        .iter()
        .find(|e| e.name == "qc/summary.json")
        .unwrap()
        .clone();
    longer.bytes.extend_from_slice(b"\n\n");
    write_zip(&bad(case), &replaced(&all, "qc/summary.json", longer));
    assert_refused(
        case,
        &bad(case),
        "qc/summary.json",
        &["header declares", "the manifest says"],
        scratch,
    );

    // The package cut short, and an empty file.
    let case = "truncated";
    let whole = std::fs::read(&pkg).unwrap();
    std::fs::write(bad(case), &whole[..whole.len() * 3 / 5]).unwrap();
    assert_refused(
        case,
        &bad(case),
        &bad(case).display().to_string(),
        &["not a whole zip"],
        scratch,
    );
    let case = "empty";
    std::fs::write(bad(case), b"").unwrap();
    assert_refused(
        case,
        &bad(case),
        &bad(case).display().to_string(),
        &["empty file"],
        scratch,
    );

    // A manifest one byte over the bound: valid JSON (the real one, then spaces), so only its
    // size is wrong.
    let case = "big-manifest";
    let mut manifest = all
        .iter()
        .find(|e| e.name == "manifest.json")
        .unwrap()
        .bytes
        .clone();
    manifest.resize(MAX_MANIFEST_BYTES as usize + 1, b' ');
    let list = replaced(&all, "manifest.json", file("manifest.json", manifest));
    write_zip(&bad(case), &list);
    assert_refused(
        case,
        &bad(case),
        "manifest.json",
        &["larger than the 64 MiB"],
        scratch,
    );
}

/// Writes `name` as `size` zeros, streamed through the zip writer a MiB at a time.
fn write_zeros(zip: &mut zip::ZipWriter<std::fs::File>, name: &str, size: usize) {
    zip.start_file(name, options()).unwrap();
    let chunk = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len());
        zip.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
}

/// A bomb: qc/summary.json inflates to 256 MiB of zeros while the manifest lists it as a few KB.
/// With its true size in the zip header it is refused unread; with the header lying too, reading
/// stops one byte past the manifest's size. Both are refused by `verify`, `merge` and `query`.
#[test]
fn a_zip_bomb_is_refused_without_inflating_it() {
    const BOMB: usize = 256 << 20;
    let d = tempfile::tempdir().unwrap();
    let pkg = real_package(&d.path().join("county"));
    let all = entries(&pkg);
    let listed_bytes = {
        let m: serde_json::Value = serde_json::from_slice(
            &all.iter()
                .find(|e| e.name == "manifest.json")
                .unwrap()
                .bytes,
        )
        .unwrap();
        m["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == "qc/summary.json")
            .unwrap()["bytes"]
            .as_u64()
            .unwrap()
    };
    assert!(listed_bytes < 64 << 10, "a few KB: {listed_bytes}");
    let bomb = d.path().join("530402_bomb.zip");
    {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&bomb).unwrap());
        for e in &all {
            if e.name == "qc/summary.json" {
                write_zeros(&mut zip, &e.name, BOMB);
            } else {
                zip.start_file(e.name.as_str(), options()).unwrap();
                zip.write_all(&e.bytes).unwrap();
            }
        }
        zip.finish().unwrap();
    }
    assert!(std::fs::metadata(&bomb).unwrap().len() < 4 << 20);
    assert_refused(
        "bomb",
        &bomb,
        "qc/summary.json",
        &[&format!("declares {BOMB} bytes"), "not read"],
        d.path(),
    );

    // The same bomb whose headers claim the manifest's size.
    declare_size(&bomb, "qc/summary.json", listed_bytes as u32);
    assert_refused(
        "lying-bomb",
        &bomb,
        "qc/summary.json",
        &[&format!("inflates past the {listed_bytes} bytes")],
        d.path(),
    );
}
