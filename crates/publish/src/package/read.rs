//! Reading an upload package: the one way into a package, for `verify`, `merge` and `query`.
//!
//! A package comes from outside (a county office, a mail server, a USB stick), so it is read as
//! hostile: a zip can hold two entries of one name (tools disagree on which one they extract), names
//! that climb out of a folder, symbolic links, and entries that inflate to gigabytes. Nothing here
//! trusts a name or a size before checking it against the manifest, memory stays flat whatever an
//! entry inflates to, and what `merge` and `query` read is the bytes that were hashed while
//! verifying (extracted then), never an entry looked up again by name.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{FORMAT, FileEntry, LAYOUT, Manifest};

/// The largest manifest read. A county's manifest is a few tens of KB and a province's a few MB;
/// anything near this is not a manifest, and reading it whole would let it take the memory.
pub const MAX_MANIFEST_BYTES: u64 = 64 << 20;

/// The largest Parquet footer (file metadata) read for a row count. Ours are a few KB; the footer's
/// length field is what polars would allocate, so it is checked first.
pub const MAX_PARQUET_FOOTER_BYTES: u64 = 64 << 20;

/// Entries are streamed through this much memory, whatever they inflate to.
const BUFFER_BYTES: usize = 64 << 10;

/// Unix file type bits of a zip entry's external attributes (high 16 bits).
const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;
const S_IFLNK: u32 = 0o120000;

/// Checks a package: its layout, the manifest's shape, every file's size and SHA-256, that nothing is
/// missing, extra or given twice, and the row counts of its Parquet tables. Returns what is wrong,
/// one line per problem naming the entry (empty: whole). Extracts nothing.
pub fn verify(path: &Path) -> Vec<String> {
    match inspect(path, None) {
        Ok(_) => Vec::new(),
        Err(problems) => problems,
    }
}

/// Verifies a package and extracts every listed entry that `keep` accepts (by its path in the
/// package) under `into`, hashing it as it is written: what lands in `into` is exactly what was
/// checked. Returns the manifest, or every problem (then `into` may hold part of the package and
/// is the caller's to delete).
pub fn unpack(
    path: &Path,
    into: &Path,
    keep: &dyn Fn(&str) -> bool,
) -> std::result::Result<Manifest, Vec<String>> {
    inspect(path, Some(Extract { into, keep }))
}

/// Where the verified entries go.
struct Extract<'a> {
    into: &'a Path,
    keep: &'a dyn Fn(&str) -> bool,
}

/// Every check, in order: the zip itself, each entry's name and kind, the manifest, then each listed
/// entry's bytes. Problems are collected rather than returned at the first, so an office sees all
/// of them at once; the order is the zip's, then the manifest's, so it is the same every time.
fn inspect(
    path: &Path,
    extract: Option<Extract<'_>>,
) -> std::result::Result<Manifest, Vec<String>> {
    let mut zip = open_archive(path).map_err(|p| vec![p])?;
    let mut problems = duplicate_names(path, &mut zip);
    let entries = entry_names(&mut zip, &mut problems);
    if !zip.has_duplicate_names() {
        header_consistency(path, &mut zip, &mut problems);
    }
    let Some(&manifest_index) = entries.get("manifest.json") else {
        problems.push("manifest.json: missing".into());
        return Err(problems);
    };
    let manifest = match read_manifest(&mut zip, manifest_index) {
        Ok(m) => m,
        Err(p) => {
            problems.push(p);
            return Err(problems);
        }
    };
    problems.extend(manifest_problems(&manifest));
    let rows = check_entries(
        &mut zip,
        &entries,
        &manifest,
        extract.as_ref(),
        &mut problems,
    );
    for e in &manifest.files {
        if !entries.contains_key(&e.path) {
            problems.push(format!(
                "{}: listed in the manifest, missing from the package",
                e.path
            ));
        }
    }
    problems.extend(row_count_problems(&manifest, &rows));
    if problems.is_empty() {
        Ok(manifest)
    } else {
        Err(problems)
    }
}

/// Overlapping entries or a local header hidden between entries: another tool may see an entry
/// this one does not. (A header that differs from its central record is named already.)
fn header_consistency(path: &Path, zip: &mut zip::ZipArchive<File>, problems: &mut Vec<String>) {
    if let Err(e) = zip.validate_header_consistency() {
        let e = e.to_string();
        if !problems.iter().any(|p| p.contains(&e)) {
            problems.push(format!("{}: {e}", path.display()));
        }
    }
}

/// Checks every entry but the manifest against the manifest's listing (see [`check_entry`]);
/// returns the row count (or why there is none) of each Parquet table the manifest counts.
fn check_entries(
    zip: &mut zip::ZipArchive<File>,
    entries: &BTreeMap<String, usize>,
    manifest: &Manifest,
    extract: Option<&Extract<'_>>,
    problems: &mut Vec<String>,
) -> BTreeMap<String, Result<u64, String>> {
    let listed: BTreeMap<&str, &FileEntry> = manifest
        .files
        .iter()
        .map(|e| (e.path.as_str(), e))
        .collect();
    let parquet_tables: BTreeSet<&str> = manifest.tables.iter().map(|t| t.file.as_str()).collect();
    let mut rows: BTreeMap<String, Result<u64, String>> = BTreeMap::new();
    for (name, &index) in entries {
        if name == "manifest.json" {
            continue;
        }
        let Some(entry) = listed.get(name.as_str()) else {
            // Not read at all: nothing the manifest does not vouch for is inflated.
            problems.push(format!("{name}: in the package, not in the manifest"));
            continue;
        };
        let wants_rows = parquet_tables.contains(name.as_str());
        match check_entry(zip, index, entry, wants_rows, extract) {
            Ok(Some(n)) => {
                rows.insert(name.clone(), n);
            }
            Ok(None) => {}
            Err(p) => problems.push(p),
        }
    }
    rows
}

/// Each table whose rows differ from the manifest's count, or whose file is no readable Parquet.
fn row_count_problems(
    manifest: &Manifest,
    rows: &BTreeMap<String, Result<u64, String>>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for t in &manifest.tables {
        match rows.get(&t.file) {
            Some(Ok(n)) if *n == t.rows => {}
            Some(Ok(n)) => problems.push(format!(
                "{}: {n} rows, the manifest says {}",
                t.file, t.rows
            )),
            Some(Err(why)) => {
                problems.push(format!("{}: not a readable Parquet file: {why}", t.file))
            }
            // Missing, unlisted or unreadable: named above.
            None => {}
        }
    }
    problems
}

/// Opens the zip, naming an empty file as such (the usual remains of a failed upload).
fn open_archive(path: &Path) -> std::result::Result<zip::ZipArchive<File>, String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let len = file
        .metadata()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    if len == 0 {
        return Err(format!(
            "{}: an empty file (0 bytes), not a package; the upload or copy did not finish",
            path.display()
        ));
    }
    zip::ZipArchive::new(file).map_err(|e| {
        format!(
            "{}: not a whole zip file ({e}); it may be truncated, ask for it again",
            path.display()
        )
    })
}

/// Names given to more than one entry. The zip crate keeps one entry per name, so a second entry
/// of a name is invisible through it while other tools extract the first: the central directory is
/// listed here directly to name them.
fn duplicate_names(path: &Path, zip: &mut zip::ZipArchive<File>) -> Vec<String> {
    if !zip.has_duplicate_names() {
        return Vec::new();
    }
    let start = zip.central_directory_start();
    let offset = zip.offset();
    let names = [start, start.saturating_add(offset)]
        .into_iter()
        .find_map(|at| {
            let mut file = File::open(path).ok()?;
            central_directory_names(&mut file, at)
                .ok()
                .filter(|n| !n.is_empty())
        })
        .unwrap_or_default();
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for n in names {
        *count.entry(n).or_default() += 1;
    }
    let problems: Vec<String> = count
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(name, n)| {
            format!(
                "{name}: {n} entries of this name; a package holds each file once (tools differ on which copy they read, so a second copy can hide a forged one)"
            )
        })
        .collect();
    if problems.is_empty() {
        vec![format!(
            "{}: the zip's central directory lists one name for more than one entry",
            path.display()
        )]
    } else {
        problems
    }
}

/// The raw names of the central directory starting at `start`, duplicates included, in order.
fn central_directory_names(file: &mut File, start: u64) -> std::io::Result<Vec<String>> {
    const SIGNATURE: [u8; 4] = [0x50, 0x4b, 0x01, 0x02];
    file.seek(SeekFrom::Start(start))?;
    let mut r = BufReader::new(file);
    let mut names = Vec::new();
    loop {
        let mut fixed = [0u8; 46];
        match r.read_exact(&mut fixed) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
        if fixed[..4] != SIGNATURE {
            break;
        }
        let u16_at = |i: usize| u64::from(u16::from_le_bytes([fixed[i], fixed[i + 1]]));
        let mut name = vec![0u8; u16_at(28) as usize];
        r.read_exact(&mut name)?;
        let rest = u16_at(30) + u16_at(32);
        std::io::copy(&mut (&mut r).take(rest), &mut std::io::sink())?;
        names.push(String::from_utf8_lossy(&name).into_owned());
    }
    Ok(names)
}

/// Index of every entry that is a plain file at a safe path inside the layout, by name; what is
/// wrong with any other is pushed to `problems`. No entry's data is read here.
fn entry_names(
    zip: &mut zip::ZipArchive<File>,
    problems: &mut Vec<String>,
) -> BTreeMap<String, usize> {
    let mut names = BTreeMap::new();
    // With two entries of a name the crate refuses every entry under this option; the duplicates
    // are named on their own.
    let enforce = !zip.has_duplicate_names();
    for i in 0..zip.len() {
        let name = match zip.name_for_index(i) {
            Some(Ok(n)) => n.into_owned(),
            Some(Err(e)) => {
                problems.push(format!("entry {i}: unreadable name: {e}"));
                continue;
            }
            None => continue,
        };
        // The local header must say what the central directory says (name, sizes, CRC), or
        // a streaming extractor would see another file than this check.
        let options = zip::ZipReadOptions::new().enforce_header_consistency(enforce);
        let f = match zip.by_index_with_options(i, options) {
            Ok(f) => f,
            Err(e) => {
                problems.push(format!("{name}: cannot be read: {e}"));
                continue;
            }
        };
        let mode = f.external_attributes() >> 16;
        let why = unsafe_path(&name)
            .or_else(|| kind_problem(&name, f.is_dir(), f.is_symlink(), mode))
            .or_else(|| empty_segment(&name))
            .or_else(|| outside_layout(&name))
            .or_else(|| {
                f.encrypted()
                    .then(|| "encrypted; a package is not".to_owned())
            });
        if let Some(why) = why {
            problems.push(format!("{name}: {why}"));
            continue;
        }
        if names.insert(name.clone(), i).is_some() {
            // Two raw names that decode to one (e.g. one CP437, one UTF-8).
            problems.push(format!(
                "{name}: a second entry of this name; a package holds each file once"
            ));
        }
    }
    names
}

/// Why a name is not a plain relative path, if it is not. Extraction tools differ on these (some
/// follow `..`, some turn `\` into `/`, some read `C:` as a drive), so a package holds none.
fn unsafe_path(name: &str) -> Option<String> {
    let why = if name.is_empty() {
        "an empty name"
    } else if name.starts_with('/') {
        "an absolute path"
    } else if name.contains('\\') {
        "a backslash in the path (some tools read it as a folder separator)"
    } else if name.contains(':') {
        "a colon in the path (a drive letter or a stream name on Windows)"
    } else if name.chars().any(char::is_control) {
        "a control character in the name"
    } else if name.split('/').any(|s| s == "..") {
        "a `..` segment (it would climb out of the folder it is extracted to)"
    } else {
        return None;
    };
    Some(format!("unsafe path: {why}"))
}

/// Why an entry is not a regular file, if it is not: directories, symbolic links and special files
/// (by the unix file type in the entry's external attributes, whatever system the zip claims).
fn kind_problem(name: &str, is_dir: bool, is_symlink: bool, mode: u32) -> Option<String> {
    let file_type = mode & S_IFMT;
    if is_symlink || file_type == S_IFLNK {
        Some("a symbolic link; a package holds regular files only".into())
    } else if is_dir || name.ends_with('/') || file_type == S_IFDIR {
        Some("a directory entry; a package holds regular files only".into())
    } else if file_type != 0 && file_type != S_IFREG {
        Some(format!(
            "a special file (unix mode {mode:o}); a package holds regular files only"
        ))
    } else {
        None
    }
}

/// An empty or `.` segment (`a//b`, `./a`): the same file under another spelling.
fn empty_segment(name: &str) -> Option<String> {
    name.split('/')
        .any(|s| s.is_empty() || s == ".")
        .then(|| "unsafe path: an empty or `.` segment".to_owned())
}

/// A file that is neither the manifest nor under a layout folder.
fn outside_layout(name: &str) -> Option<String> {
    let inside = name == "manifest.json"
        || LAYOUT
            .iter()
            .any(|l| name.strip_prefix(l).is_some_and(|rest| !rest.is_empty()));
    (!inside).then(|| format!("outside the package layout ({})", LAYOUT.join(", ")))
}

/// Reads and parses manifest.json, refusing one larger than [`MAX_MANIFEST_BYTES`] by its header
/// or by what it inflates to.
fn read_manifest(
    zip: &mut zip::ZipArchive<File>,
    index: usize,
) -> std::result::Result<Manifest, String> {
    let limit = MAX_MANIFEST_BYTES;
    let too_large = |n: &dyn std::fmt::Display| {
        format!(
            "manifest.json: {n} bytes, larger than the {} MiB a manifest may be; not a package manifest",
            limit >> 20
        )
    };
    let f = zip
        .by_index(index)
        .map_err(|e| format!("manifest.json: cannot be read: {e}"))?;
    if f.size() > limit {
        return Err(too_large(&f.size()));
    }
    let mut raw = Vec::new();
    f.take(limit + 1)
        .read_to_end(&mut raw)
        .map_err(|e| format!("manifest.json: cannot be read: {e}"))?;
    if raw.len() as u64 > limit {
        return Err(too_large(&format!("more than {limit}")));
    }
    let manifest: Manifest = serde_json::from_slice(&raw)
        .map_err(|e| format!("manifest.json: not a package manifest: {e}"))?;
    if manifest.format != FORMAT {
        return Err(format!(
            "manifest.json: format {:?}, expected {FORMAT:?}",
            manifest.format
        ));
    }
    Ok(manifest)
}

/// What is wrong with the manifest's own lists: a path no entry could safely have, a path listed
/// twice, a table whose file is not listed.
fn manifest_problems(manifest: &Manifest) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for e in &manifest.files {
        let why = unsafe_path(&e.path)
            .or_else(|| empty_segment(&e.path))
            .or_else(|| outside_layout(&e.path))
            .or_else(|| (e.path == "manifest.json").then(|| "the manifest itself".to_owned()));
        if let Some(why) = why {
            problems.push(format!("manifest.json: lists {:?}: {why}", e.path));
        }
        if !seen.insert(e.path.as_str()) {
            problems.push(format!("manifest.json: lists {} twice", e.path));
        }
    }
    for t in &manifest.tables {
        if !seen.contains(t.file.as_str()) {
            problems.push(format!(
                "manifest.json: table {} names {}, which its file list does not hold",
                t.table, t.file
            ));
        }
    }
    problems
}

/// Checks one listed entry: the size its zip header declares, then its bytes streamed through
/// SHA-256 (and into its extracted file, when kept), reading at most one byte more than the
/// manifest's size. Returns its Parquet row count when `wants_rows`.
fn check_entry(
    zip: &mut zip::ZipArchive<File>,
    index: usize,
    entry: &FileEntry,
    wants_rows: bool,
    extract: Option<&Extract<'_>>,
) -> std::result::Result<Option<Result<u64, String>>, String> {
    let name = &entry.path;
    let mut f = zip
        .by_index(index)
        .map_err(|e| format!("{name}: cannot be read: {e}"))?;
    if f.size() != entry.bytes {
        return Err(format!(
            "{name}: its zip header declares {} bytes, the manifest says {}; not read",
            f.size(),
            entry.bytes
        ));
    }
    let kept = extract.filter(|x| (x.keep)(name));
    let mut out = match kept {
        Some(x) => Some(create_extracted(x.into, name)?),
        // Row counts need the footer, at the end: spooled to an anonymous file, not memory.
        None if wants_rows => Some(
            tempfile::tempfile()
                .map_err(|e| format!("{name}: no temporary file to read it: {e}"))?,
        ),
        None => None,
    };
    let (read, sha256) = match out.as_mut() {
        Some(file) => stream_entry(&mut f, entry.bytes, file),
        None => stream_entry(&mut f, entry.bytes, &mut std::io::sink()),
    }
    .map_err(|e| match e {
        // The zip crate stops an entry one byte past its declared size, which equals the
        // manifest's here: the header lies about what the entry inflates to.
        StreamError::Read { error, .. }
            if error.to_string().contains("larger than its declared") =>
        {
            inflates_past(name, entry.bytes)
        }
        StreamError::Read { error, read } => {
            format!("{name}: cannot be read (after {read} bytes): {error}")
        }
        StreamError::Write(e) => format!("{name}: cannot be extracted: {e}"),
    })?;
    if read > entry.bytes {
        return Err(inflates_past(name, entry.bytes));
    }
    if read < entry.bytes {
        return Err(format!(
            "{name}: {read} bytes, the manifest says {}",
            entry.bytes
        ));
    }
    if sha256 != entry.sha256 {
        return Err(format!(
            "{name}: SHA-256 {sha256} differs from the manifest's {}",
            entry.sha256
        ));
    }
    Ok(match (wants_rows, out) {
        (true, Some(mut file)) => Some(rows_of_parquet_file(&mut file)),
        _ => None,
    })
}

fn inflates_past(name: &str, bytes: u64) -> String {
    format!(
        "{name}: inflates past the {bytes} bytes its header and the manifest say (stopped reading there; a zip bomb or a forged header)"
    )
}

/// Creates the file an entry is extracted to; the name was checked (relative, no `..`, inside the
/// layout), so it stays under `into`.
fn create_extracted(into: &Path, name: &str) -> std::result::Result<File, String> {
    let dest = into.join(name);
    let err = |e: std::io::Error| format!("{name}: cannot be extracted to {}: {e}", dest.display());
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&dest)
        .map_err(err)
}

/// Why streaming an entry stopped: the entry (with the bytes read before), or the disk.
enum StreamError {
    Read { error: std::io::Error, read: u64 },
    Write(std::io::Error),
}

/// Streams at most `limit + 1` bytes of `reader` through SHA-256 into `out`, through a fixed
/// buffer. Returns the bytes read and their SHA-256 (hex).
fn stream_entry(
    reader: &mut impl Read,
    limit: u64,
    out: &mut impl Write,
) -> std::result::Result<(u64, String), StreamError> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUFFER_BYTES];
    let mut total = 0u64;
    let mut r = reader.take(limit.saturating_add(1));
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(StreamError::Read { error, read: total }),
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(StreamError::Write)?;
        total += n as u64;
    }
    out.flush().map_err(StreamError::Write)?;
    Ok((total, format!("{:x}", hasher.finalize())))
}

/// Rows of a Parquet file, from its footer, after checking the footer's length against the file and
/// [`MAX_PARQUET_FOOTER_BYTES`] (the length field is what a reader allocates).
fn rows_of_parquet_file(file: &mut File) -> Result<u64, String> {
    let io = |e: std::io::Error| e.to_string();
    let len = file.seek(SeekFrom::End(0)).map_err(io)?;
    if len < 12 {
        return Err(format!("{len} bytes, too short for Parquet"));
    }
    let mut tail = [0u8; 8];
    file.seek(SeekFrom::End(-8)).map_err(io)?;
    file.read_exact(&mut tail).map_err(io)?;
    if &tail[4..] != b"PAR1" {
        return Err("no Parquet footer (PAR1) at its end".into());
    }
    let footer = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if footer > MAX_PARQUET_FOOTER_BYTES {
        return Err(format!(
            "its footer says {footer} bytes, more than the {} MiB allowed",
            MAX_PARQUET_FOOTER_BYTES >> 20
        ));
    }
    if footer + 12 > len {
        return Err(format!(
            "its footer says {footer} bytes, in a file of {len}"
        ));
    }
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let file = file.try_clone().map_err(io)?;
    use polars::prelude::{ParquetReader, SerReader};
    ParquetReader::new(file)
        .num_rows()
        .map(|n| n as u64)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_names_are_named() {
        for name in [
            "/etc/passwd",
            "../x",
            "qc/../../x",
            "qc\\x",
            "C:/x",
            "c:x",
            "qc/a\u{0}b",
            "",
        ] {
            assert!(unsafe_path(name).is_some(), "{name:?}");
        }
        for name in ["qc/a//b", "qc/./a", "./qc/a", "qc/"] {
            assert!(empty_segment(name).is_some(), "{name:?}");
        }
        for name in [
            "parquet/fwjz/county=530402/part-0.parquet",
            "qc/report.xlsx",
            "manifest.json",
        ] {
            assert_eq!(unsafe_path(name), None, "{name}");
            assert_eq!(empty_segment(name), None, "{name}");
            assert_eq!(outside_layout(name), None, "{name}");
        }
        assert!(outside_layout("evil.sh").is_some());
        assert!(outside_layout("qc/").is_some());
        assert!(outside_layout("parquetx/a").is_some());
    }

    #[test]
    fn only_regular_files_pass() {
        assert!(kind_problem("qc/a", false, false, 0o100644).is_none());
        assert!(kind_problem("qc/a", false, false, 0).is_none());
        assert!(
            kind_problem("qc/a", false, false, 0o120777)
                .unwrap()
                .contains("symbolic")
        );
        assert!(
            kind_problem("qc/a", false, true, 0)
                .unwrap()
                .contains("symbolic")
        );
        assert!(
            kind_problem("qc/a/", true, false, 0)
                .unwrap()
                .contains("directory")
        );
        assert!(
            kind_problem("qc/a", false, false, 0o040755)
                .unwrap()
                .contains("directory")
        );
        assert!(
            kind_problem("qc/a", false, false, 0o010644)
                .unwrap()
                .contains("special")
        );
    }

    #[test]
    fn streaming_stops_one_byte_past_the_limit() {
        let mut zeros = std::io::repeat(0).take(10 << 20);
        let mut sink = std::io::sink();
        let (n, _) = stream_entry(&mut zeros, 1000, &mut sink).ok().unwrap();
        assert_eq!(n, 1001);
        let mut short = &b"abc"[..];
        let (n, h) = stream_entry(&mut short, 3, &mut sink).ok().unwrap();
        assert_eq!(n, 3);
        assert_eq!(h, super::super::sha256(b"abc"));
    }
}
