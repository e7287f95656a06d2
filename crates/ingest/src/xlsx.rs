//! A two-core reader for the one xlsx sheet a table is read from (issue 10).
//!
//! calamine's cell reader parses a sheet's XML on one thread; a million-building `fwjz.xlsx` is
//! ~870 MB of XML and costs ~10 s there while the other core idles. This reader inflates the
//! sheet part once, as a stream, cuts the XML before `<row` tags into chunks of a few MB, and parses
//! the chunks on every core of the current rayon pool; the cells then go into [`Cells`] in the
//! order calamine gives them, so everything after the read is unchanged.
//!
//! calamine stays the reference. The fast path accepts only XML it understands completely — the
//! shapes Excel, WPS, openpyxl and rust_xlsxwriter write — and reproduces calamine 0.38's decisions
//! on it (`xlsx/cells_reader.rs` `next_cell` and `read_v`, `xlsx/mod.rs` `read_string_with_bufs`,
//! `formats.rs`, the copies below say where). Anything else — a construct it does not model, an
//! entity in a value, a comment, a damaged zip or XML, a part it cannot place exactly as calamine
//! does — makes it answer "not handled" (`Ok(None)`), and the caller runs calamine, so that errors
//! and their messages are the ones users always got. The differential tests
//! (`xlsx_differential.rs`) hold the two to the same cells, byte for byte.
//!
//! Memory: the sheet XML is never whole in memory; at most two batches of chunks are (one parsed
//! while the next is inflated), a few tens of MB. The container checks (`crate::container`) have
//! already bounded every part's declared size and compression ratio before this runs.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use calamine::{CellErrorType, DataRef, ExcelDateTime, ExcelDateTimeType};
use quick_xml::events::{BytesStart, Event};
use rayon::prelude::*;
use zip::ZipArchive;

use crate::grid::{Cells, Place};
use crate::limits;
use crate::{RawCell, Result};

/// Bytes of sheet XML per chunk: big enough that splitting costs nothing, small enough that a
/// batch of them keeps both cores busy and memory low.
const CHUNK_BYTES: usize = if cfg!(test) { 4 << 10 } else { 4 << 20 };
/// A single row longer than this (16,384 cells of 32,767 characters could be) is left to calamine.
const MAX_ROW_BYTES: usize = 256 << 20;
/// The XML before `<sheetData>` (sheet views, column widths, ...) is kilobytes in real files.
const MAX_PREFIX_BYTES: usize = 64 << 20;
/// Parts read whole (workbook, relationships, styles) are bounded by the container checks at
/// `limits::zip::MAX_OTHER_BYTES`; shared strings at `MAX_LOADED_BYTES`.
const _: () = assert!(limits::zip::MAX_OTHER_BYTES <= limits::zip::MAX_LOADED_BYTES);

/// The environment variable that turns the fast path off (`calamine`), for measuring the two side
/// by side on the same binary.
pub(crate) const READER_ENV: &str = "RISKCENSUS_XLSX_READER";

/// Whether the fast path may run (it may, unless `RISKCENSUS_XLSX_READER=calamine`).
pub(crate) fn enabled() -> bool {
    std::env::var(READER_ENV).map_or(true, |v| v != "calamine")
}

/// Reads the cells of `sheet` (as calamine names it in `sheet_names`) into a [`Cells`] for `place`,
/// exactly as `sheet::xlsx_cells` would. `Ok(None)`: not handled here, run calamine. `Err`: a limit
/// of [`Cells`] was exceeded, at the same cell calamine's path would stop at.
pub(crate) fn read_sheet(path: &Path, sheet: &str, place: Place) -> Result<Option<Cells>> {
    let started = std::time::Instant::now();
    let Some(book) = Book::open(path, sheet) else {
        tracing::debug!(path = %path.display(), sheet, "xlsx: workbook parts not as expected, left to calamine");
        return Ok(None);
    };
    let opened = started.elapsed();
    let mut cells = Cells::new(place, limits::EXCEL);
    if book.read_cells(&mut cells)?.is_none() {
        tracing::debug!(path = %path.display(), sheet, "xlsx: sheet XML not as expected, left to calamine");
        return Ok(None);
    }
    tracing::debug!(
        path = %path.display(),
        sheet,
        open_s = opened.as_secs_f64(),
        cells_s = (started.elapsed() - opened).as_secs_f64(),
        "xlsx: read by the two-core reader"
    );
    Ok(Some(cells))
}

/// What the sheet's cells need from the rest of the workbook.
struct Book {
    zip: ZipArchive<BufReader<File>>,
    /// The sheet's part, as the zip names it.
    part: String,
    strings: Vec<String>,
    formats: Vec<CellFormat>,
}

impl Book {
    /// Opens the zip and reads what calamine reads at open, as far as the sheet's cells depend on
    /// it: the sheet's part, the shared strings, the cell formats. `None` when anything is not as
    /// expected (calamine then opens the file and says what is wrong, if anything is).
    fn open(path: &Path, sheet: &str) -> Option<Book> {
        let file = File::open(path).ok()?;
        let mut zip = ZipArchive::new(BufReader::new(file)).ok()?;
        let names = ZipNames::new(&zip)?;
        let (xl_path, workbook) = package_target(&mut zip, &names)?;
        let rels = format!("{xl_path}_rels/{workbook}.rels");
        let relationships = relationships(&mut zip, &names, &rels)?;
        let sheet_path = sheet_path(
            &mut zip,
            &names,
            &format!("{xl_path}{workbook}"),
            &xl_path,
            &relationships,
            sheet,
        )?;
        let part = names.exact(&sheet_path)?.to_owned();
        let strings = shared_strings(&mut zip, &names, &format!("{xl_path}sharedStrings.xml"))?;
        let formats = cell_formats(&mut zip, &names, &format!("{xl_path}styles.xml"))?;
        Some(Book {
            zip,
            part,
            strings,
            formats,
        })
    }

    /// Parses the sheet's cells and pushes them into `cells` in calamine's order, batch by batch,
    /// so that only two batches are held besides the cells. `Ok(None)`: not handled. A limit met
    /// while pushing is the error calamine's path gives at the same cell: every cell before it
    /// was read alike, whatever the XML after it holds.
    fn read_cells(mut self, cells: &mut Cells) -> Result<Option<()>> {
        let ctx = Ctx {
            strings: &self.strings,
            formats: &self.formats,
        };
        let Ok(part) = self.zip.by_name(&self.part) else {
            return Ok(None);
        };
        let mut stream = Stream::new(part);
        if stream.skip_prefix().is_none() {
            return Ok(None);
        }
        let threads = rayon::current_num_threads().max(1);
        let per_batch = threads * 2;
        let mut row = Some(0u32);
        let Some(mut batch) = stream.next_batch(per_batch) else {
            return Ok(None);
        };
        // Cell lists and XML buffers are made on this thread and reused batch after batch:
        // lists freed here after being filled on other threads would leave holes in those
        // threads' malloc arenas among the cells' text, ~300 MB at a million rows.
        let mut lists: Vec<CellList<'_>> = Vec::new();
        while !batch.is_empty() {
            let outs: Vec<CellList<'_>> = batch
                .iter()
                .map(|c| {
                    lists
                        .pop()
                        .unwrap_or_else(|| Vec::with_capacity(c.len() / 40))
                })
                .collect();
            let (next, parsed) = rayon::join(
                || stream.next_batch(per_batch),
                || {
                    batch
                        .par_iter()
                        .zip(outs)
                        .map(|(c, out)| parse_chunk(&ctx, c, None, out))
                        .collect::<Vec<_>>()
                },
            );
            for (chunk, parsed) in batch.iter().zip(parsed) {
                // A chunk whose first rows lack `r` needs the row the chunk before ended on.
                let parsed = match parsed {
                    Parsed::NeedsRow => parse_chunk(&ctx, chunk, row, Vec::new()),
                    done => done,
                };
                match parsed {
                    Parsed::Cells {
                        cells: mut parsed,
                        row_after,
                        ended,
                    } => {
                        for (r, c, got) in parsed.drain(..) {
                            let value = match got {
                                Got::Cell(value) => value,
                                Got::Shared(text) => RawCell::Text(text.into()),
                                Got::Chunk(at, len) => {
                                    let (at, len) = (at as usize, len as usize);
                                    let Some(Ok(text)) =
                                        chunk.get(at..at + len).map(std::str::from_utf8)
                                    else {
                                        return Ok(None);
                                    };
                                    RawCell::Text(text.into())
                                }
                            };
                            cells.push_at(r, c, value)?;
                        }
                        lists.push(parsed);
                        row = Some(row_after);
                        if ended {
                            // calamine stops at `</sheetData>`; the rest of the part is read
                            // here all the same, so that a damaged end (a bad CRC) is handed
                            // back rather than passed over where calamine might meet it.
                            let whole = next.is_some() && stream.drain().is_some();
                            return Ok(whole.then_some(()));
                        }
                    }
                    Parsed::NeedsRow | Parsed::Unhandled => return Ok(None),
                }
            }
            let Some(next) = next else {
                return Ok(None);
            };
            stream.spare.extend(std::mem::replace(&mut batch, next));
        }
        // The XML ended without `</sheetData>`: calamine names that error.
        Ok(None)
    }
}

/// The zip's entry names as calamine looks them up: case-insensitively, `\` read as `/`
/// (`utils.rs` `build_zip_path_cache`, `cached_zip_path`).
struct ZipNames {
    by_lower: HashMap<String, String>,
}

impl ZipNames {
    /// `None` when two entries differ only in case or slashes: which one calamine reads then
    /// depends on its map's last write, which this reader does not guess.
    fn new(zip: &ZipArchive<BufReader<File>>) -> Option<ZipNames> {
        let mut by_lower = HashMap::with_capacity(zip.len());
        for name in zip.file_names() {
            let name = name.ok()?;
            let key = name.replace('\\', "/").to_ascii_lowercase();
            if by_lower.insert(key, name.into_owned()).is_some() {
                return None;
            }
        }
        Some(ZipNames { by_lower })
    }

    /// The entry calamine opens for `path`.
    fn lookup<'a>(&'a self, path: &'a str) -> &'a str {
        self.by_lower
            .get(&path.to_ascii_lowercase())
            .map_or(path, String::as_str)
    }

    /// The entry for `path`, which must exist.
    fn exact<'a>(&'a self, path: &'a str) -> Option<&'a str> {
        let name = self.lookup(path);
        self.by_lower
            .contains_key(&name.replace('\\', "/").to_ascii_lowercase())
            .then_some(name)
    }
}

/// An XML reader over a zip part, configured as calamine configures its own (`xml_reader`).
type XmlReader<'a> = quick_xml::Reader<BufReader<zip::read::ZipFile<'a, BufReader<File>>>>;

/// Opens a part. `Some(None)`: the part is absent; `None`: the zip failed.
fn xml<'a>(
    zip: &'a mut ZipArchive<BufReader<File>>,
    names: &ZipNames,
    path: &str,
) -> Option<Option<XmlReader<'a>>> {
    match zip.by_name(names.lookup(path)) {
        Ok(f) => {
            let mut r = quick_xml::Reader::from_reader(BufReader::new(f));
            let config = r.config_mut();
            config.check_end_names = false;
            config.trim_text(false);
            config.check_comments = false;
            config.expand_empty_elements = true;
            Some(Some(r))
        }
        Err(zip::result::ZipError::FileNotFound) => Some(None),
        Err(_) => None,
    }
}

/// An attribute's raw value, the first with this key (calamine's `raw_attr`); `None` for a
/// malformed attribute list, `Some(None)` when absent.
fn raw_attr<'a>(e: &'a BytesStart<'_>, key: &str) -> Option<Option<&'a str>> {
    let raw = e.attributes_raw();
    for item in Attrs::new(raw) {
        let (k, v) = item?;
        if k == key {
            return Some(Some(v));
        }
    }
    Some(None)
}

/// `_rels/.rels`: the folder and file of the workbook part (`read_package_relationships`).
fn package_target(
    zip: &mut ZipArchive<BufReader<File>>,
    names: &ZipNames,
) -> Option<(String, String)> {
    let mut xml = xml(zip, names, "_rels/.rels")??;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf).ok()? {
            Event::Start(e) if e.local_name().as_ref() == "Relationships" => break,
            Event::Eof => return None,
            _ => {}
        }
    }
    let mut target = None;
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf).ok()? {
            Event::Start(e) if e.local_name().as_ref() == "Relationship" => {
                let attrs = attrs_of(&e, &["Type", "Target"])?;
                let office = attrs[0].is_some_and(|t| t.ends_with("/relationships/officeDocument"));
                if office && let Some(t) = attrs[1] {
                    target = Some(decode_attr(t)?);
                }
            }
            Event::End(e) if e.local_name().as_ref() == "Relationships" => break,
            Event::Eof => return None,
            _ => {}
        }
    }
    let target = target?;
    let (dir, name) = match target.rfind('/') {
        Some(i) => target.split_at(i + 1),
        None => ("", target.as_str()),
    };
    let dir = dir.strip_prefix('/').unwrap_or(dir).to_owned();
    let name = if name.is_empty() {
        "workbook.xml".to_owned()
    } else {
        name.to_owned()
    };
    Some((dir, name))
}

/// The workbook's relationships, id → (target, type) (`read_relationships`).
fn relationships(
    zip: &mut ZipArchive<BufReader<File>>,
    names: &ZipNames,
    path: &str,
) -> Option<HashMap<String, (String, String)>> {
    let mut xml = xml(zip, names, path)??;
    let mut out = HashMap::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf).ok()? {
            Event::Start(e) if e.local_name().as_ref() == "Relationship" => {
                let attrs = attrs_of(&e, &["Id", "Type", "Target"])?;
                if let Some(id) = attrs[0] {
                    let typ = attrs[1].unwrap_or_default().to_owned();
                    let target = attrs[2].unwrap_or_default().to_owned();
                    out.insert(id.to_owned(), (target, typ));
                }
            }
            Event::End(e) if e.local_name().as_ref() == "Relationships" => break,
            Event::Eof => return None,
            _ => {}
        }
    }
    Some(out)
}

/// The part of the first sheet named `sheet` in the workbook part (`read_workbook`). Anything
/// calamine would refuse, or treat as other than a worksheet, is `None`.
fn sheet_path(
    zip: &mut ZipArchive<BufReader<File>>,
    names: &ZipNames,
    workbook: &str,
    xl_path: &str,
    relationships: &HashMap<String, (String, String)>,
    sheet: &str,
) -> Option<String> {
    let mut xml = xml(zip, names, workbook)??;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf).ok()? {
            Event::Start(e) if e.local_name().as_ref() == "sheet" => {
                let raw = e.attributes_raw();
                let (mut name, mut rel_id) = (String::new(), "");
                for item in Attrs::new(raw) {
                    let (key, val) = item?;
                    match key {
                        "name" => name = decode_attr(val)?,
                        "state" if !matches!(val, "visible" | "hidden" | "veryHidden") => {
                            return None;
                        }
                        k if k == "id" || k.ends_with(":id") => rel_id = val,
                        _ => {}
                    }
                }
                let (target, typ) = relationships.get(rel_id)?;
                if name == sheet {
                    // A chart or dialog sheet holds no cells: calamine's path says so.
                    if typ.split('/').next_back() != Some("worksheet") {
                        return None;
                    }
                    return Some(match target.strip_prefix('/') {
                        Some(abs) => abs.to_owned(),
                        None => format!("{xl_path}{target}"),
                    });
                }
            }
            Event::End(e) if e.local_name().as_ref() == "workbook" => return None,
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// The shared strings, as `read_shared_strings` reads them (an absent part is none).
fn shared_strings(
    zip: &mut ZipArchive<BufReader<File>>,
    names: &ZipNames,
    path: &str,
) -> Option<Vec<String>> {
    let Some(mut xml) = xml(zip, names, path)? else {
        return Some(Vec::new());
    };
    let mut strings = Vec::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf).ok()? {
            Event::Start(e) if e.local_name().as_ref() == "sst" => break,
            Event::Eof => return None,
            _ => {}
        }
    }
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf).ok()? {
            Event::Start(e) if e.local_name().as_ref() == "si" => {
                let closing = e.name().as_ref().to_owned();
                strings.push(read_rich_string(&mut xml, &closing)?);
            }
            Event::End(e) if e.local_name().as_ref() == "sst" => break,
            Event::Eof => return None,
            _ => {}
        }
    }
    Some(strings)
}

/// One `<si>`: its `<t>` texts concatenated, phonetic runs (`<rPh>`) left out, leading and trailing
/// ASCII whitespace trimmed unless `xml:space="preserve"`, `_xHHHH_` escapes decoded: a copy of
/// calamine's `read_string_with_bufs`.
fn read_rich_string(xml: &mut XmlReader<'_>, closing: &str) -> Option<String> {
    let mut rich: Option<String> = None;
    let mut phonetic = false;
    let mut buf = Vec::new();
    let mut text_buf = Vec::new();
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf).ok()? {
            Event::Start(e) if e.local_name().as_ref() == "r" && rich.is_none() => {
                rich = Some(String::new());
            }
            Event::Start(e) if e.local_name().as_ref() == "rPh" => phonetic = true,
            Event::End(e) if e.name().as_ref() == closing => {
                return Some(rich.unwrap_or_default());
            }
            Event::End(e) if e.local_name().as_ref() == "rPh" => phonetic = false,
            Event::Start(e) if e.local_name().as_ref() == "t" && !phonetic => {
                let preserve = raw_attr(&e, "xml:space")? == Some("preserve");
                let name = e.name().as_ref().to_owned();
                let mut value = String::new();
                loop {
                    text_buf.clear();
                    match xml.read_event_into(&mut text_buf).ok()? {
                        Event::Text(t) => value.push_str(&t.xml10_content()),
                        Event::CData(t) => value.push_str(&t.xml10_content()),
                        Event::GeneralRef(r) => {
                            if let Some(s) =
                                quick_xml::escape::resolve_xml_entity(&r.xml10_content())
                            {
                                value.push_str(s);
                            } else {
                                value.push(r.resolve_char_ref().ok()??);
                            }
                        }
                        Event::End(end) if end.name().as_ref() == name => break,
                        Event::Eof => return None,
                        _ => {}
                    }
                }
                let value = if preserve {
                    unescape_xml(&value).into_owned()
                } else {
                    unescape_xml(value.trim_matches([' ', '\t', '\r', '\n'])).into_owned()
                };
                match &mut rich {
                    Some(s) => s.push_str(&value),
                    None => rich = Some(value),
                }
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// Entities in an attribute value decoded, as calamine's `decode_attr`.
fn decode_attr(val: &str) -> Option<String> {
    quick_xml::escape::unescape(val).ok().map(Cow::into_owned)
}

/// The raw values of `keys` on an element, as calamine's `get_attrs!` finds them; `None` for a
/// malformed or repeated attribute (calamine's choice between repeats is not modelled).
fn attrs_of<'a, const N: usize>(
    e: &'a BytesStart<'_>,
    keys: &[&str; N],
) -> Option<[Option<&'a str>; N]> {
    let raw = e.attributes_raw();
    attr_values(raw, keys)
}

/// [`attrs_of`] over a raw attribute list.
fn attr_values<'a, const N: usize>(raw: &'a str, keys: &[&str; N]) -> Option<[Option<&'a str>; N]> {
    let mut out = [None; N];
    for item in Attrs::new(raw) {
        let (k, v) = item?;
        if let Some(i) = keys.iter().position(|key| *key == k) {
            if out[i].is_some() {
                return None;
            }
            out[i] = Some(v);
        }
    }
    Some(out)
}

/// Raw attributes `key="value"` or `key='value'`, strictly: whitespace before each key, no
/// whitespace around `=`, a closing quote, no `<` in a value. Anything looser is `None` (not
/// handled), even where calamine's own attribute reader would accept it.
struct Attrs<'a> {
    raw: &'a str,
    pos: usize,
}

impl<'a> Attrs<'a> {
    fn new(raw: &'a str) -> Attrs<'a> {
        Attrs { raw, pos: 0 }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Option<(&'a str, &'a str)>;

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.raw.as_bytes();
        let start = self.pos;
        let mut pos = start;
        while pos < bytes.len() && is_ws(bytes[pos]) {
            pos += 1;
        }
        if pos == bytes.len() {
            self.pos = pos;
            return None;
        }
        // The attribute list starts right after the name, so the first key may follow no space.
        let fail = Some(None);
        if pos == start && start != 0 {
            self.pos = bytes.len();
            return fail;
        }
        let key_start = pos;
        while pos < bytes.len() && !matches!(bytes[pos], b'=' | b'"' | b'\'' | b'<' | b'>' | b'/') {
            if is_ws(bytes[pos]) {
                self.pos = bytes.len();
                return fail;
            }
            pos += 1;
        }
        if pos == key_start || bytes.get(pos) != Some(&b'=') {
            self.pos = bytes.len();
            return fail;
        }
        let key = &self.raw[key_start..pos];
        pos += 1;
        let quote = match bytes.get(pos) {
            Some(q @ (b'"' | b'\'')) => *q,
            _ => {
                self.pos = bytes.len();
                return fail;
            }
        };
        pos += 1;
        let value_start = pos;
        while pos < bytes.len() && bytes[pos] != quote {
            if bytes[pos] == b'<' {
                self.pos = bytes.len();
                return fail;
            }
            pos += 1;
        }
        if pos == bytes.len() {
            self.pos = pos;
            return fail;
        }
        let value = &self.raw[value_start..pos];
        self.pos = pos + 1;
        Some(Some((key, value)))
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Whether a cell style formats numbers as dates or durations: calamine's `formats::CellFormat`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum CellFormat {
    Other,
    DateTime,
    TimeDelta,
}

/// The cell formats by style index (`<cellXfs><xf>`), as `read_styles` builds them: a custom
/// `numFmt` by its code, else a built-in format by its id. An absent part is none.
fn cell_formats(
    zip: &mut ZipArchive<BufReader<File>>,
    names: &ZipNames,
    path: &str,
) -> Option<Vec<CellFormat>> {
    let Some(mut xml) = xml(zip, names, path)? else {
        return Some(Vec::new());
    };
    let mut custom: HashMap<String, String> = HashMap::new();
    let mut formats = Vec::new();
    let mut buf = Vec::new();
    let mut inner = Vec::new();
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf).ok()? {
            Event::Start(e) if e.local_name().as_ref() == "numFmts" => loop {
                inner.clear();
                match xml.read_event_into(&mut inner).ok()? {
                    Event::Start(e) if e.local_name().as_ref() == "numFmt" => {
                        let [id, code] = attrs_of(&e, &["numFmtId", "formatCode"])?;
                        if let (Some(id), Some(code)) = (id, code) {
                            custom.insert(id.to_owned(), decode_attr(code)?);
                        }
                    }
                    Event::End(e) if e.local_name().as_ref() == "numFmts" => break,
                    Event::Eof => return None,
                    _ => {}
                }
            },
            // calamine parses these sections element by element; they hold no formats, and are
            // skipped to their end so that nothing inside them is taken for one.
            Event::Start(e) if matches!(e.local_name().as_ref(), "fonts" | "fills" | "borders") => {
                let name = e.local_name().as_ref().to_owned();
                skip_to_end(&mut xml, &name)?;
            }
            Event::Start(e) if e.local_name().as_ref() == "cellXfs" => loop {
                inner.clear();
                match xml.read_event_into(&mut inner).ok()? {
                    Event::Start(e) if e.local_name().as_ref() == "xf" => {
                        formats.push(match raw_attr(&e, "numFmtId")? {
                            None => CellFormat::Other,
                            Some(id) => match custom.get(id) {
                                Some(code) => detect_custom_number_format(code),
                                None => builtin_format_by_id(id),
                            },
                        });
                        skip_to_end(&mut xml, "xf")?;
                    }
                    Event::End(e) if e.local_name().as_ref() == "cellXfs" => break,
                    Event::Eof => return None,
                    _ => {}
                }
            },
            Event::End(e) if e.local_name().as_ref() == "styleSheet" => break,
            Event::Eof => return None,
            _ => {}
        }
    }
    Some(formats)
}

/// Reads to the end of the element `local` (by local name, as calamine's loops do). A nested
/// element of the same name is not modelled: `None`.
fn skip_to_end(xml: &mut XmlReader<'_>, local: &str) -> Option<()> {
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf).ok()? {
            Event::End(e) if e.local_name().as_ref() == local => return Some(()),
            Event::Start(e) if e.local_name().as_ref() == local => return None,
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// Whether a custom number format shows a date or a duration: a copy of calamine 0.38
/// `formats::detect_custom_number_format` (MIT, Johann Tuffe), which is private there.
fn detect_custom_number_format(format: &str) -> CellFormat {
    let mut escaped = false;
    let mut is_quote = false;
    let mut brackets = 0u8;
    let mut prev = ' ';
    let mut hms = false;
    let mut ap = false;
    for s in format.chars() {
        match (s, escaped, is_quote, ap, brackets) {
            (_, true, ..) => escaped = false,
            ('_' | '\\' | '*', ..) => escaped = true,
            ('"', _, true, _, _) => is_quote = false,
            (_, _, true, _, _) => (),
            ('"', _, _, _, _) => is_quote = true,
            (';', ..) => return CellFormat::Other,
            ('[', ..) => brackets += 1,
            (']', .., 1) if hms => return CellFormat::TimeDelta,
            (']', ..) => brackets = brackets.saturating_sub(1),
            ('a' | 'A', _, _, false, 0) => ap = true,
            ('p' | 'm' | '/' | 'P' | 'M', _, _, true, 0) => return CellFormat::DateTime,
            ('d' | 'm' | 'h' | 'y' | 's' | 'D' | 'M' | 'H' | 'Y' | 'S', _, _, false, 0) => {
                return CellFormat::DateTime;
            }
            _ => {
                if !(hms && s.eq_ignore_ascii_case(&prev)) {
                    hms = prev == '[' && matches!(s, 'm' | 'h' | 's' | 'M' | 'H' | 'S');
                }
            }
        }
        prev = s;
    }
    CellFormat::Other
}

/// Built-in number formats that are dates or durations: a copy of calamine 0.38
/// `formats::builtin_format_by_id` (the id as the file writes it, so `"014"` is no date).
fn builtin_format_by_id(id: &str) -> CellFormat {
    match id {
        "14" | "15" | "16" | "17" | "18" | "19" | "20" | "21" | "22" | "45" | "47" => {
            CellFormat::DateTime
        }
        "27" | "28" | "29" | "30" | "31" | "32" | "33" | "34" | "35" | "36" | "50" | "51"
        | "52" | "53" | "54" | "55" | "56" | "57" | "58" => CellFormat::DateTime,
        "46" => CellFormat::TimeDelta,
        _ => CellFormat::Other,
    }
}

/// Excel's `_xHHHH_` escapes decoded (UTF-16 units, surrogate pairs joined, a lone surrogate
/// U+FFFD): a copy of calamine 0.38 `utils::unescape_xml`.
fn unescape_xml(original: &str) -> Cow<'_, str> {
    const LEN: usize = 7;
    let Some((mut index, mut unit)) = find_xml_escape(original, 0) else {
        return Cow::Borrowed(original);
    };
    let mut out = String::with_capacity(original.len());
    let mut copied = 0;
    loop {
        out.push_str(&original[copied..index]);
        index += LEN;
        match unit {
            0xD800..=0xDBFF => match parse_xml_escape(original, index) {
                Some(low @ 0xDC00..=0xDFFF) => {
                    let code =
                        0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                    out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                    index += LEN;
                }
                _ => out.push(char::REPLACEMENT_CHARACTER),
            },
            0xDC00..=0xDFFF => out.push(char::REPLACEMENT_CHARACTER),
            _ => out.push(char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER)),
        }
        copied = index;
        match find_xml_escape(original, index) {
            Some(next) => (index, unit) = next,
            None => break,
        }
    }
    out.push_str(&original[copied..]);
    Cow::Owned(out)
}

fn find_xml_escape(original: &str, mut start: usize) -> Option<(usize, u16)> {
    while let Some(offset) = original[start..].find('_') {
        let index = start + offset;
        if let Some(unit) = parse_xml_escape(original, index) {
            return Some((index, unit));
        }
        start = index + 1;
    }
    None
}

fn parse_xml_escape(original: &str, index: usize) -> Option<u16> {
    let bytes = original.as_bytes().get(index..index + 7)?;
    if bytes[0] != b'_' || bytes[1] != b'x' || bytes[6] != b'_' {
        return None;
    }
    let hex = &bytes[2..6];
    if !hex.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u16::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}

/// The sheet part's XML, inflated as a stream and cut before `<row` tags.
struct Stream<R: Read> {
    part: R,
    /// Bytes read but not yet handed out (the start of a row cut off by the last read).
    carry: Vec<u8>,
    /// Buffers of parsed chunks, to be filled again.
    spare: Vec<Vec<u8>>,
    done: bool,
}

impl<R: Read> Stream<R> {
    fn new(part: R) -> Stream<R> {
        Stream {
            part,
            carry: Vec::new(),
            spare: Vec::new(),
            done: false,
        }
    }

    /// Reads up to `want` more bytes into the carry; `None` on a read error (a damaged deflate
    /// stream or CRC: calamine's to report, or not, as far as it reads).
    fn fill(&mut self, want: usize) -> Option<()> {
        let start = self.carry.len();
        self.carry.resize(start + want, 0);
        let mut got = 0;
        while got < want {
            match self.part.read(&mut self.carry[start + got..]) {
                Ok(0) => {
                    self.done = true;
                    break;
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        self.carry.truncate(start + got);
        Some(())
    }

    /// Drops everything up to and including `<sheetData>`, after checking that the XML before it
    /// is plain: UTF-8, no comment, CDATA, DTD, processing instruction or second declaration
    /// that could hide or fake the tag.
    fn skip_prefix(&mut self) -> Option<()> {
        loop {
            if let Some(at) = find(&self.carry, b"<sheetData") {
                let prefix = std::str::from_utf8(&self.carry[..at]).ok()?;
                if !plain_prefix(prefix) {
                    return None;
                }
                let rest = &self.carry[at + b"<sheetData".len()..];
                let close = rest.iter().position(|&b| b == b'>')?;
                let attrs = std::str::from_utf8(&rest[..close]).ok()?;
                // `<sheetData/>` holds no rows (calamine then reads on and fails); attributes
                // on it are not modelled.
                if !attrs.is_empty() {
                    return None;
                }
                let body = at + b"<sheetData".len() + close + 1;
                self.carry.drain(..body);
                return Some(());
            }
            if self.done || self.carry.len() > MAX_PREFIX_BYTES {
                return None;
            }
            self.fill(64 << 10)?;
        }
    }

    /// Reads the rest of the part, to its end and its CRC check.
    fn drain(&mut self) -> Option<()> {
        std::io::copy(&mut self.part, &mut std::io::sink()).ok()?;
        Some(())
    }

    /// The next chunks of whole rows, at most `n`; empty at the end of the part.
    fn next_batch(&mut self, n: usize) -> Option<Vec<Vec<u8>>> {
        let mut batch = Vec::with_capacity(n);
        while batch.len() < n {
            match self.next_chunk()? {
                Some(chunk) => batch.push(chunk),
                None => break,
            }
        }
        Some(batch)
    }

    /// The next chunk: about `CHUNK_BYTES`, ending right before a `<row` tag, or the rest of the
    /// part. `Some(None)` at the end.
    fn next_chunk(&mut self) -> Option<Option<Vec<u8>>> {
        loop {
            if self.done {
                if self.carry.is_empty() {
                    return Some(None);
                }
                return Some(Some(std::mem::take(&mut self.carry)));
            }
            if self.carry.len() >= CHUNK_BYTES
                && let Some(cut) = last_row_start(&self.carry)
            {
                let mut rest = self.spare.pop().unwrap_or_default();
                rest.clear();
                rest.extend_from_slice(&self.carry[cut..]);
                self.carry.truncate(cut);
                return Some(Some(std::mem::replace(&mut self.carry, rest)));
            }
            if self.carry.len() > MAX_ROW_BYTES {
                return None;
            }
            self.fill(CHUNK_BYTES)?;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

/// The XML before `<sheetData>` holds nothing that could make calamine see the tags otherwise:
/// no `<!` (comment, CDATA, DTD), no processing instruction but the leading declaration, which
/// must not name another encoding, and no `sheetData` in a namespace.
fn plain_prefix(prefix: &str) -> bool {
    let body = match prefix.strip_prefix("<?xml") {
        Some(rest) => {
            let Some(end) = rest.find("?>") else {
                return false;
            };
            let decl = &rest[..end];
            if let Some(k) = decl.find("encoding") {
                let value = decl[k..].to_ascii_lowercase();
                if !(value.contains("\"utf-8\"") || value.contains("'utf-8'")) {
                    return false;
                }
            }
            &rest[end + 2..]
        }
        None => prefix,
    };
    !body.contains("<!") && !body.contains("<?") && !body.contains("sheetData")
}

/// The start of the last `<row` tag in `buf` after its first byte.
fn last_row_start(buf: &[u8]) -> Option<usize> {
    let mut end = buf.len();
    while let Some(at) = memchr::memmem::rfind(&buf[..end], b"<row") {
        if at > 0
            && buf
                .get(at + 4)
                .is_some_and(|&b| is_ws(b) || b == b'>' || b == b'/')
        {
            return Some(at);
        }
        if at == 0 {
            return None;
        }
        end = at;
    }
    None
}

/// What the cell values need from the workbook.
struct Ctx<'a> {
    strings: &'a [String],
    formats: &'a [CellFormat],
}

/// A chunk's cells and the state the next chunk starts from.
enum Parsed<'c> {
    Cells {
        cells: CellList<'c>,
        /// calamine's row index after the chunk (the next row without `r` gets it).
        row_after: u32,
        /// `</sheetData>` was reached: calamine reads no further.
        ended: bool,
    },
    /// A row without `r` came before any row with one: parse again knowing where the chunk
    /// before ended.
    NeedsRow,
    Unhandled,
}

/// Why a chunk is not handled, or that it needs the row before it.
enum Stop {
    NeedsRow,
    Unhandled,
}

/// Not handled here: the caller runs calamine.
const NO: Stop = Stop::Unhandled;

/// Elements of the sheet's structure, which a string's markup cannot hold or close.
const CELL_PARTS: [&str; 7] = ["sheetData", "row", "c", "v", "f", "is", "t"];

/// A cell's value as a chunk gives it.
enum Got<'c> {
    Cell(RawCell),
    /// Text as it lies in the chunk (byte offset and length), copied out by the thread that
    /// pushes the cells: text allocated on the parsing threads and freed later on another one (the
    /// checks drop the raw rows) stays in those threads' malloc arenas, ~300 MB at a million rows.
    Chunk(u32, u32),
    /// A shared string, copied out likewise.
    Shared(&'c str),
}

/// What a cell element read to: a value of calamine's, or text to copy.
enum Value<'c, 's> {
    Data(DataRef<'c>),
    Text(Cow<'s, str>),
}

/// Cells as a chunk gives them: `(row, column, value)`, 0-based.
type CellList<'c> = Vec<(u32, u32, Got<'c>)>;

/// Parses one chunk of whole rows into `out`. `row`: calamine's row index where the chunk starts,
/// when known.
fn parse_chunk<'c>(
    ctx: &'c Ctx<'c>,
    chunk: &[u8],
    row: Option<u32>,
    mut out: CellList<'c>,
) -> Parsed<'c> {
    out.clear();
    let Ok(text) = std::str::from_utf8(chunk) else {
        return Parsed::Unhandled;
    };
    let mut p = ChunkParser {
        ctx,
        s: text,
        b: text.as_bytes(),
        pos: 0,
        row,
        col: 0,
        cells: out,
    };
    match p.rows() {
        Ok(ended) => match p.row {
            Some(row_after) => Parsed::Cells {
                cells: p.cells,
                row_after,
                ended,
            },
            None => Parsed::NeedsRow,
        },
        Err(Stop::NeedsRow) => Parsed::NeedsRow,
        Err(Stop::Unhandled) => Parsed::Unhandled,
    }
}

/// A tag as read: its name, raw attribute list, and whether it closes itself (`<c/>`).
struct Tag<'a> {
    name: &'a str,
    attrs: &'a str,
    empty: bool,
}

/// A strict reader of `<sheetData>`'s rows, emulating calamine's `next_cell` on the shapes it
/// accepts (calamine reads with `expand_empty_elements`, so `<c/>` is `<c></c>`).
struct ChunkParser<'c, 's> {
    ctx: &'c Ctx<'c>,
    s: &'s str,
    b: &'s [u8],
    pos: usize,
    /// calamine's `row_index`; `None` until a `<row r>` when the chunk's start is unknown.
    row: Option<u32>,
    /// calamine's `col_index`.
    col: u32,
    cells: CellList<'c>,
}

type Step<T> = std::result::Result<T, Stop>;

impl<'c, 's> ChunkParser<'c, 's> {
    /// Rows up to the chunk's end or `</sheetData>`; `Ok(true)` when that was reached.
    fn rows(&mut self) -> Step<bool> {
        loop {
            self.skip_ws();
            if self.pos == self.b.len() {
                return Ok(false);
            }
            if self.b[self.pos..].starts_with(b"</sheetData>") {
                return Ok(true);
            }
            let tag = self.open_tag()?;
            if tag.name != "row" {
                return Err(NO);
            }
            self.row(&tag)?;
        }
    }

    fn row(&mut self, tag: &Tag<'s>) -> Step<()> {
        let [r] = attr_values(tag.attrs, &["r"]).ok_or(NO)?;
        if let Some(r) = r {
            self.row = Some(get_row(r)?);
        }
        if !tag.empty {
            loop {
                self.skip_ws();
                if self.b[self.pos..].starts_with(b"</row>") {
                    self.pos += b"</row>".len();
                    break;
                }
                let cell = self.open_tag()?;
                if cell.name != "c" {
                    return Err(NO);
                }
                self.cell(&cell)?;
            }
        }
        // `</row>` (or the end of `<row/>`): calamine moves to the next row, column A.
        let row = self.row.ok_or(Stop::NeedsRow)?;
        self.row = Some(row.checked_add(1).ok_or(NO)?);
        self.col = 0;
        Ok(())
    }

    fn cell(&mut self, tag: &Tag<'s>) -> Step<()> {
        let [r, s, t] = attr_values(tag.attrs, &["r", "s", "t"]).ok_or(NO)?;
        let pos = match r {
            Some(r) => {
                let (row, col) = get_row_column(r)?;
                self.col = col;
                (row, col)
            }
            None => (self.row.ok_or(Stop::NeedsRow)?, self.col),
        };
        let mut value = Value::Data(DataRef::Empty);
        if !tag.empty {
            loop {
                self.skip_ws();
                if self.b[self.pos..].starts_with(b"</c>") {
                    self.pos += b"</c>".len();
                    break;
                }
                let child = self.open_tag()?;
                // Each child element's value replaces the one before, as in calamine.
                value = match child.name {
                    "v" if child.attrs.is_empty() => self.v(&child, s, t)?,
                    "f" => {
                        self.skip_text_to(&child, "</f>")?;
                        Value::Data(DataRef::Empty)
                    }
                    "is" if child.attrs.is_empty() => Value::Text(if child.empty {
                        Cow::Borrowed("")
                    } else {
                        self.is()?
                    }),
                    _ => return Err(NO),
                };
            }
        }
        self.col = self.col.checked_add(1).ok_or(NO)?;
        let got = match value {
            Value::Data(DataRef::Empty) => return Ok(()),
            Value::Text(Cow::Borrowed(text)) => self.span(text),
            Value::Text(Cow::Owned(text)) => Got::Cell(RawCell::Text(text.into())),
            Value::Data(DataRef::SharedString(text)) => Got::Shared(text),
            Value::Data(other) => Got::Cell(crate::sheet::cell_ref(&other)),
        };
        self.cells.push((pos.0, pos.1, got));
        Ok(())
    }

    /// Text lying in the chunk, by where: the text is copied out on the thread that pushes the
    /// cells (see [`Got`]).
    fn span(&self, text: &str) -> Got<'c> {
        let start = (text.as_ptr() as usize).wrapping_sub(self.s.as_ptr() as usize);
        match (u32::try_from(start), u32::try_from(text.len())) {
            (Ok(at), Ok(len))
                if !text.is_empty() && self.s.get(start..start + text.len()) == Some(text) =>
            {
                Got::Chunk(at, len)
            }
            _ => Got::Cell(RawCell::Text(text.into())),
        }
    }

    /// A `<v>`: calamine's `read_value` for it.
    fn v(&mut self, tag: &Tag<'s>, s: Option<&str>, t: Option<&str>) -> Step<Value<'c, 's>> {
        let text = if tag.empty { "" } else { self.text_to("</v>")? };
        // calamine reads only the first text event of a number's `<v>` (an entity ends it) and
        // normalises line ends in the others: neither is modelled.
        if text.contains('\r') {
            return Err(NO);
        }
        Ok(match t {
            Some("inlineStr" | "is") => Value::Data(DataRef::Empty),
            Some("n" | "s" | "b" | "e") | None if text.is_empty() => Value::Data(DataRef::Empty),
            // calamine reads only the first text event of these (an entity would end it): an
            // entity here is not modelled.
            Some("n" | "s" | "b" | "e") | None if text.contains('&') => return Err(NO),
            Some("n" | "s" | "b" | "e") | None => match read_v(self.ctx, text, s, t)? {
                // Text where a number was expected: calamine keeps it as written.
                DataRef::String(_) => Value::Text(Cow::Borrowed(text)),
                other => Value::Data(other),
            },
            Some("str") => Value::Text(unescape_cow(decode_entities(text)?)),
            _ => Value::Data(read_v(self.ctx, &decode_entities(text)?, s, t)?),
        })
    }

    /// An `<is>` after its start tag, to `</is>`: calamine's `read_string_with_bufs` on it.
    fn is(&mut self) -> Step<Cow<'s, str>> {
        let mut rich: Option<Cow<'s, str>> = None;
        let mut phonetic = false;
        loop {
            self.skip_ws();
            if self.b[self.pos..].starts_with(b"</is>") {
                self.pos += b"</is>".len();
                return Ok(rich.unwrap_or_default());
            }
            if self.b[self.pos..].starts_with(b"</") {
                match self.close_tag()? {
                    "rPh" => phonetic = false,
                    // The end of an element the string cannot be inside: malformed.
                    name if CELL_PARTS.contains(&name) => return Err(NO),
                    _ => {}
                }
                continue;
            }
            let tag = self.open_tag()?;
            if CELL_PARTS.contains(&tag.name) && tag.name != "t" {
                return Err(NO);
            }
            match tag.name {
                "r" if rich.is_none() => rich = Some(Cow::Borrowed("")),
                "rPh" => phonetic = !tag.empty,
                "t" if !phonetic => {
                    let [space] = attr_values(tag.attrs, &["xml:space"]).ok_or(NO)?;
                    let text = if tag.empty { "" } else { self.text_to("</t>")? };
                    if text.contains('\r') {
                        return Err(NO);
                    }
                    let text = decode_entities(text)?;
                    let text = if space == Some("preserve") {
                        text
                    } else {
                        trim_cow(text)
                    };
                    let value = unescape_cow(text);
                    match &mut rich {
                        // A second run is appended (an empty first one is simply replaced).
                        Some(s) if s.is_empty() => *s = value,
                        Some(s) => s.to_mut().push_str(&value),
                        None => rich = Some(value),
                    }
                }
                // Phonetic text is read past.
                "t" if !tag.empty => {
                    self.text_to("</t>")?;
                }
                // Run properties (`<rPr><b/><sz val="11"/>…`) are read past; their end tags
                // come as `</…>` above.
                _ => {}
            }
        }
    }

    /// Skips whitespace (calamine ignores text between elements; other text is not modelled).
    fn skip_ws(&mut self) {
        while self.pos < self.b.len() && is_ws(self.b[self.pos]) {
            self.pos += 1;
        }
    }

    /// Reads `<name attrs>` or `<name attrs/>` at the cursor. Comments, CDATA, processing
    /// instructions, end tags and namespaced names are not modelled.
    fn open_tag(&mut self) -> Step<Tag<'s>> {
        let b = self.b;
        if b.get(self.pos) != Some(&b'<') {
            return Err(NO);
        }
        let start = self.pos + 1;
        let mut k = start;
        while k < b.len() && b[k].is_ascii_alphanumeric() {
            k += 1;
        }
        if k == start || k == b.len() {
            return Err(NO);
        }
        let name = &self.s[start..k];
        let attrs_start = k;
        let mut quote = None;
        while k < b.len() {
            match (b[k], quote) {
                (q @ (b'"' | b'\''), None) => quote = Some(q),
                (q, Some(open)) if q == open => quote = None,
                (b'<', _) => return Err(NO),
                (b'>', None) => break,
                _ => {}
            }
            k += 1;
        }
        if k == b.len() {
            return Err(NO);
        }
        let empty = b[k - 1] == b'/' && k > attrs_start;
        let attrs_end = if empty { k - 1 } else { k };
        let attrs = &self.s[attrs_start..attrs_end];
        if !attrs.is_empty() && !is_ws(attrs.as_bytes()[0]) {
            return Err(NO);
        }
        self.pos = k + 1;
        Ok(Tag { name, attrs, empty })
    }

    /// Reads `</name>` at the cursor and returns the name.
    fn close_tag(&mut self) -> Step<&'s str> {
        let start = self.pos + 2;
        let mut k = start;
        while k < self.b.len() && self.b[k].is_ascii_alphanumeric() {
            k += 1;
        }
        if k == start || self.b.get(k) != Some(&b'>') {
            return Err(NO);
        }
        self.pos = k + 1;
        Ok(&self.s[start..k])
    }

    /// The text up to `end` (which follows it directly, no markup between), consumed with `end`.
    fn text_to(&mut self, end: &str) -> Step<&'s str> {
        let rest = &self.s[self.pos..];
        let k = rest.find('<').ok_or(NO)?;
        if !rest[k..].starts_with(end) {
            return Err(NO);
        }
        self.pos += k + end.len();
        Ok(&rest[..k])
    }

    /// Skips an element's text content to its end tag (`<f>`: calamine reads past it).
    fn skip_text_to(&mut self, tag: &Tag<'s>, end: &str) -> Step<()> {
        if !tag.empty {
            self.text_to(end)?;
        }
        Ok(())
    }
}

/// `_xHHHH_` escapes decoded, borrowing where there are none.
fn unescape_cow(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(b) => unescape_xml(b),
        Cow::Owned(o) => match unescape_xml(&o) {
            Cow::Borrowed(_) => Cow::Owned(o),
            Cow::Owned(u) => Cow::Owned(u),
        },
    }
}

/// ASCII whitespace trimmed from both ends, borrowing where the text was borrowed.
fn trim_cow(text: Cow<'_, str>) -> Cow<'_, str> {
    const WS: [char; 4] = [' ', '\t', '\r', '\n'];
    match text {
        Cow::Borrowed(b) => Cow::Borrowed(b.trim_matches(WS)),
        Cow::Owned(o) => Cow::Owned(o.trim_matches(WS).to_owned()),
    }
}

/// Text with its entity references replaced, as calamine gathers quick-xml's text and reference
/// events (`unescape_entity_to_buffer`): the five XML entities and character references
/// (`&#20013;`, `&#x4E2D;`, not `&#0;`). Anything else is not modelled.
fn decode_entities(text: &str) -> Step<Cow<'_, str>> {
    if !text.contains('&') {
        return Ok(Cow::Borrowed(text));
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let end = after.find(';').ok_or(NO)?;
        let name = &after[..end];
        match name {
            "lt" => out.push('<'),
            "gt" => out.push('>'),
            "amp" => out.push('&'),
            "apos" => out.push('\''),
            "quot" => out.push('"'),
            _ => out.push(char_ref(name).ok_or(NO)?),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

/// A character reference's character (`#20013`, `#x4E2D`), as quick-xml's `parse_number`.
fn char_ref(name: &str) -> Option<char> {
    let num = name.strip_prefix('#')?;
    let code = match num.strip_prefix('x') {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            u32::from_str_radix(hex, 16).ok()?
        }
        None if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) => num.parse().ok()?,
        _ => return None,
    };
    if code == 0 {
        return None;
    }
    char::from_u32(code)
}

/// A `<v>` text as calamine's `read_v` makes it a value; `Err` where calamine fails.
fn read_v<'c>(ctx: &Ctx<'c>, v: &str, style: Option<&str>, typ: Option<&str>) -> Step<DataRef<'c>> {
    let format = match style {
        Some(style) => {
            let id = atoi_simd::parse::<usize, true, false>(style.as_bytes()).unwrap_or(0);
            ctx.formats.get(id).copied()
        }
        None => Some(CellFormat::Other),
    };
    Ok(match typ {
        Some("s") => {
            if v.is_empty() {
                return Ok(DataRef::Empty);
            }
            let idx = atoi_simd::parse::<usize, true, false>(v.as_bytes()).unwrap_or(0);
            DataRef::SharedString(ctx.strings.get(idx).ok_or(NO)?.as_str())
        }
        Some("b") => read_bool(v)?,
        Some("d") => DataRef::DateTimeIso(v.to_owned()),
        Some("e") => DataRef::Error(v.parse::<CellErrorType>().map_err(|_| NO)?),
        Some("str") => DataRef::String(unescape_xml(v).into_owned()),
        Some("n") | None => {
            if v.is_empty() {
                return Ok(DataRef::Empty);
            }
            match fast_float2::parse::<f64, _>(v.as_bytes()) {
                Ok(n) => match format {
                    Some(CellFormat::DateTime) => {
                        DataRef::DateTime(ExcelDateTime::new(n, ExcelDateTimeType::DateTime, false))
                    }
                    Some(CellFormat::TimeDelta) => DataRef::DateTime(ExcelDateTime::new(
                        n,
                        ExcelDateTimeType::TimeDelta,
                        false,
                    )),
                    _ => DataRef::Float(n),
                },
                Err(_) if typ.is_none() => DataRef::String(v.to_owned()),
                Err(_) => return Err(NO),
            }
        }
        Some(_) => return Err(NO),
    })
}

/// calamine's `read_bool`: `0`/`1`/`false`/`true` around whitespace, blank is empty.
fn read_bool<'c>(v: &str) -> Step<DataRef<'c>> {
    let value = v.trim();
    if value.is_empty() {
        Ok(DataRef::Empty)
    } else if value == "0" || value.eq_ignore_ascii_case("false") {
        Ok(DataRef::Bool(false))
    } else if value == "1" || value.eq_ignore_ascii_case("true") {
        Ok(DataRef::Bool(true))
    } else {
        Err(NO)
    }
}

/// A row reference (`5`, or `A5` whose column is ignored), 0-based: calamine's `get_row`.
fn get_row(r: &str) -> Step<u32> {
    Ok(row_and_column(r)?.0)
}

/// A cell reference, 0-based: calamine's `get_row_column` (a reference without a column fails).
fn get_row_column(r: &str) -> Step<(u32, u32)> {
    match row_and_column(r)? {
        (row, Some(col)) => Ok((row, col)),
        _ => Err(NO),
    }
}

/// calamine's `get_row_and_optional_column`, with overflow not handled rather than wrapped.
fn row_and_column(r: &str) -> Step<(u32, Option<u32>)> {
    let bytes = r.as_bytes();
    let mut i = 0;
    let mut col: u32 = 0;
    let mut row: u32 = 0;
    let letter = |col: u32, c: u8, base: u8| -> Step<u32> {
        col.checked_mul(26)
            .and_then(|v| v.checked_add(u32::from(c - base) + 1))
            .ok_or(NO)
    };
    let digit = |row: u32, c: u8| -> Step<u32> {
        row.checked_mul(10)
            .and_then(|v| v.checked_add(u32::from(c - b'0')))
            .ok_or(NO)
    };
    while i < bytes.len() {
        match bytes[i] {
            c @ b'A'..=b'Z' => col = letter(col, c, b'A')?,
            c @ b'a'..=b'z' => col = letter(col, c, b'a')?,
            c @ b'0'..=b'9' => {
                row = u32::from(c - b'0');
                i += 1;
                break;
            }
            _ => return Err(NO),
        }
        i += 1;
    }
    while i < bytes.len() {
        match bytes[i] {
            c @ b'0'..=b'9' => row = digit(row, c)?,
            _ => return Err(NO),
        }
        i += 1;
    }
    let row = row.checked_sub(1).ok_or(NO)?;
    Ok((row, col.checked_sub(1)))
}

#[cfg(test)]
#[path = "xlsx_differential.rs"]
mod differential;
