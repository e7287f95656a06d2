//! Checks of an xls workbook (BIFF in an OLE compound file) before calamine opens it.
//!
//! calamine reads an xls whole when it opens: it follows the compound file's sector chains as the
//! file declares them (a chain that loops back on itself is followed for ever, the buffer growing
//! until the process aborts), reserves `rows × columns` cells for each sheet as its `Dimensions`
//! record claims (a reversed or oversized claim asks for petabytes), and builds each sheet's grid
//! from the bounding box of its cells (BIFF cell records carry 16-bit columns, so one cell at column
//! 65,535 widens the grid 256-fold). This module walks the same chains and records first, and
//! refuses what would make calamine loop, reserve beyond Excel 97's 65,536 × 256 cells, or build a
//! grid past `MAX_CELLS` over the whole file.
//!
//! Worst case left: one sheet's reservation of 65,536 × 256 cells at 40 bytes (671 MB, mostly
//! untouched address space), the grids of all sheets (at most `MAX_CELLS` cells at 32 bytes, plus
//! their formula grids at 24), and the whole file in memory (calamine reads it into one buffer).

use std::path::Path;

use crate::grid::address;
use crate::limits::{self, EXCEL_97, MAX_CELLS};
use crate::{Error, Result, column_letter};

const ENDOFCHAIN: u32 = 0xFFFF_FFFE;
const RESERVED_SECTORS: u32 = 0xFFFF_FFFA;
const DIFSECT: u32 = 0xFFFF_FFFC;
const MINI_SECTOR: usize = 64;
const MINI_CUTOFF: u64 = 4096;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Why a file is refused, before the path is attached.
#[derive(Debug)]
struct Refusal {
    part: String,
    what: String,
}

fn refuse(part: &str, what: impl Into<String>) -> Refusal {
    Refusal {
        part: part.to_owned(),
        what: what.into(),
    }
}

/// The compound file as calamine sees it: sector size, the FAT, and the file's bytes.
struct Compound<'a> {
    data: &'a [u8],
    size: usize,
    fat: Vec<u32>,
    /// Highest sector id calamine accepts (`file length / sector size`).
    max_id: usize,
}

impl<'a> Compound<'a> {
    /// Parses the header and the FAT the way calamine does; `None` when calamine would refuse the
    /// file itself (not a compound file, bad sector size), so that its error stands.
    fn open(data: &'a [u8]) -> Option<Compound<'a>> {
        if data.len() < 512 || data[..8] != *b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1" {
            return None;
        }
        let size = match u16_at(data, 30)? {
            9 => 512,
            12 => 4096,
            _ => return None,
        };
        let max_id = data.len() / size;
        let mut c = Compound {
            data,
            size,
            fat: Vec::new(),
            max_id,
        };
        let mut difat: Vec<u32> = (76..512)
            .step_by(4)
            .filter_map(|k| u32_at(data, k))
            .collect();
        let mut id = u32_at(data, 68)?;
        let mut steps = 0;
        while id < RESERVED_SECTORS {
            steps += 1;
            if steps > max_id + 1 {
                return None;
            }
            difat.extend(c.sector(id).chunks_exact(4).filter_map(|b| u32_at(b, 0)));
            id = difat.pop()?;
        }
        for id in difat.into_iter().filter(|&id| id < DIFSECT) {
            if id as usize > max_id {
                return None;
            }
            let fat: Vec<u32> = c
                .sector(id)
                .chunks_exact(4)
                .filter_map(|b| u32_at(b, 0))
                .collect();
            c.fat.extend(fat);
        }
        Some(c)
    }

    /// Sector `id` (possibly short at the end of the file).
    fn sector(&self, id: u32) -> &'a [u8] {
        let start = (id as usize + 1).saturating_mul(self.size);
        let end = start.saturating_add(self.size).min(self.data.len());
        self.data.get(start..end).unwrap_or(&[])
    }

    /// Follows a chain as calamine's `get_chain` does, refusing one that loops or leaves the FAT.
    /// What it returns is at most one copy of each sector, so never more than the file.
    fn chain(&self, part: &str, start: u32, len: u64) -> Result<Vec<u8>, Refusal> {
        follow(part, start, len, &self.fat, self.max_id, |id| {
            self.sector(id)
        })
    }
}

/// One chain walk over sectors given by `sector`, `fat` linking them.
fn follow<'s>(
    part: &str,
    start: u32,
    len: u64,
    fat: &[u32],
    max_id: usize,
    sector: impl Fn(u32) -> &'s [u8],
) -> Result<Vec<u8>, Refusal> {
    let mut out = Vec::new();
    let mut id = start;
    let mut steps = 0usize;
    while id != ENDOFCHAIN {
        if id as usize > max_id {
            // calamine stops here with its own error.
            return Ok(out);
        }
        steps += 1;
        if steps > max_id + 1 {
            return Err(refuse(
                part,
                "has a sector chain that loops back on itself (the reader would never stop)",
            ));
        }
        let s = sector(id);
        let room = usize::try_from(len.saturating_sub(out.len() as u64)).unwrap_or(usize::MAX);
        out.extend_from_slice(&s[..s.len().min(room)]);
        if out.len() as u64 >= len {
            break;
        }
        id = *fat.get(id as usize).ok_or_else(|| {
            refuse(
                part,
                format!("has a sector chain leaving the allocation table at sector {id}"),
            )
        })?;
    }
    Ok(out)
}

/// A directory entry: name, first sector, declared size.
struct Entry {
    name: String,
    start: u32,
    len: u64,
}

fn entries(c: &Compound<'_>) -> Result<Vec<Entry>, Refusal> {
    let dir_start = u32_at(c.data, 48).unwrap_or(ENDOFCHAIN);
    let dirs = c.chain("its directory", dir_start, u64::MAX)?;
    let small = c.size == 512;
    Ok(dirs
        .chunks_exact(128)
        .map(|d| {
            let units: Vec<u16> = d[..64]
                .chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
                .take_while(|&u| u != 0)
                .collect();
            let len = if small {
                u64::from(u32_at(d, 120).unwrap_or(0))
            } else {
                u64_at(d, 120).unwrap_or(0)
            };
            Entry {
                name: String::from_utf16_lossy(&units),
                start: u32_at(d, 116).unwrap_or(ENDOFCHAIN),
                len,
            }
        })
        .collect())
}

/// The workbook stream, read along the chains calamine will follow.
fn workbook_stream(c: &Compound<'_>) -> Result<Option<Vec<u8>>, Refusal> {
    let dirs = entries(c)?;
    let Some(root) = dirs.first() else {
        return Ok(None);
    };
    let mini_fat_len = u64::from(u32_at(c.data, 64).unwrap_or(0));
    let (mini_fat, mini_stream) = if mini_fat_len > 0 {
        let stream = c.chain("its mini stream", root.start, root.len)?;
        let fat_bytes = c.chain(
            "its mini allocation table",
            u32_at(c.data, 60).unwrap_or(ENDOFCHAIN),
            mini_fat_len.saturating_mul(c.size as u64),
        )?;
        let fat: Vec<u32> = fat_bytes
            .chunks_exact(4)
            .filter_map(|b| u32_at(b, 0))
            .collect();
        (fat, stream)
    } else {
        (Vec::new(), Vec::new())
    };
    let Some(book) = ["Workbook", "Book"]
        .iter()
        .find_map(|n| dirs.iter().find(|d| d.name.eq_ignore_ascii_case(n)))
    else {
        return Ok(None);
    };
    if book.len < MINI_CUTOFF {
        let mini = |id: u32| -> &[u8] {
            let start = (id as usize).saturating_mul(MINI_SECTOR);
            let end = start.saturating_add(MINI_SECTOR).min(mini_stream.len());
            mini_stream.get(start..end).unwrap_or(&[])
        };
        let max_id = c.max_id.saturating_mul(8);
        follow(
            "its workbook stream",
            book.start,
            book.len,
            &mini_fat,
            max_id,
            mini,
        )
        .map(Some)
    } else {
        c.chain("its workbook stream", book.start, book.len)
            .map(Some)
    }
}

/// BIFF records from `pos`, with their CONTINUE records skipped as calamine joins them.
fn records(stream: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = stream;
    std::iter::from_fn(move || {
        let typ = u16_at(rest, 0)?;
        let len = u16_at(rest, 2)? as usize;
        let data = rest.get(4..4 + len)?;
        rest = &rest[4 + len..];
        while rest.len() > 4 && u16_at(rest, 0) == Some(0x003C) {
            let l = u16_at(rest, 2)? as usize;
            rest = rest.get(4 + l..)?;
        }
        Some((typ, data))
    })
}

/// Positions (row, column) of the cells a record gives calamine.
fn cell_positions(typ: u16, data: &[u8]) -> Vec<(u32, u32)> {
    let at = |k: usize| u16_at(data, k).map(u32::from);
    match typ {
        // Number, Label, RString, BoolErr, RK, LabelSst, Formula.
        0x0203 | 0x0204 | 0x00D6 | 0x0205 | 0x027E | 0x00FD | 0x0006 => {
            at(0).zip(at(2)).into_iter().collect()
        }
        // MulRk: row, first column, …, last column.
        0x00BD if data.len() >= 6 => {
            let (Some(row), Some(first), Some(last)) = (at(0), at(2), at(data.len() - 2)) else {
                return Vec::new();
            };
            vec![(row, first), (row, last.max(first))]
        }
        _ => Vec::new(),
    }
}

/// The bounding box of a sheet's cells, as calamine's grid will span it.
#[derive(Default)]
struct Bounds {
    rows: Option<(u32, u32)>,
    cols: Option<(u32, u32)>,
}

impl Bounds {
    fn add(&mut self, (r, c): (u32, u32)) {
        let grow = |b: &mut Option<(u32, u32)>, v: u32| {
            *b = Some(b.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))));
        };
        grow(&mut self.rows, r);
        grow(&mut self.cols, c);
    }

    fn cells(&self) -> u64 {
        match (self.rows, self.cols) {
            (Some((r0, r1)), Some((c0, c1))) => u64::from(r1 - r0 + 1) * u64::from(c1 - c0 + 1),
            _ => 0,
        }
    }
}

/// One sheet substream, as calamine reads it: its `Dimensions` claim and its cells.
fn check_sheet(path: &Path, name: &str, sheet: &[u8], total: &mut u64) -> Result<(), Error> {
    let mut bounds = Bounds::default();
    let mut depth = 0usize;
    let mut seen_bof = false;
    let err = |cell: (u32, u32), what: String| Error::OutsideSheet {
        path: path.to_owned(),
        sheet: name.to_owned(),
        cell: address(cell.0.saturating_add(1), cell.1),
        what,
    };
    for (typ, data) in records(sheet) {
        if depth > 0 {
            match typ {
                0x0809 => depth += 1,
                0x000A => depth -= 1,
                _ => {}
            }
            continue;
        }
        match typ {
            0x0809 if seen_bof => depth += 1,
            0x0809 => seen_bof = true,
            0x000A => break,
            0x0200 => check_dimensions(path, name, data)?,
            _ => {
                for (row, col) in cell_positions(typ, data) {
                    if col >= EXCEL_97.columns {
                        return Err(err(
                            (row, col),
                            format!(
                                "column {} exceeds {}'s {} columns (last {})",
                                column_letter(col as usize),
                                EXCEL_97.program,
                                EXCEL_97.columns,
                                column_letter(EXCEL_97.columns as usize - 1)
                            ),
                        ));
                    }
                    bounds.add((row, col));
                }
            }
        }
    }
    *total = total.saturating_add(bounds.cells());
    if *total > MAX_CELLS {
        return Err(Error::SheetTooLarge {
            path: path.to_owned(),
            sheet: name.to_owned(),
            what: format!(
                "the grids calamine would build reach {} cells, over the limit of {}",
                limits::thousands(*total),
                limits::thousands(MAX_CELLS)
            ),
            hint: "an xls is read as whole grids: delete cells far from the table, or save the file as .xlsx",
        });
    }
    Ok(())
}

/// A `Dimensions` record: calamine reserves `rows × columns` cells from it before reading a cell.
fn check_dimensions(path: &Path, name: &str, data: &[u8]) -> Result<(), Error> {
    let (first_row, last_row, first_col, last_col) = match data.len() {
        10 => (
            u32::from(u16_at(data, 0).unwrap_or(0)),
            u32::from(u16_at(data, 2).unwrap_or(0)),
            u32::from(u16_at(data, 4).unwrap_or(0)),
            u32::from(u16_at(data, 6).unwrap_or(0)),
        ),
        14 | 16 => (
            u32_at(data, 0).unwrap_or(0),
            u32_at(data, 4).unwrap_or(0),
            u32::from(u16_at(data, 8).unwrap_or(0)),
            u32::from(u16_at(data, 10).unwrap_or(0)),
        ),
        // calamine refuses any other length itself.
        _ => return Ok(()),
    };
    // calamine's reading: an empty claim is one cell; a first column past 255 (or past the last)
    // is taken as 0. The last row and column are one past the end.
    if last_row == 0 || last_col == 0 {
        return Ok(());
    }
    let first_col = if first_col > 0xFF || last_col < first_col {
        0
    } else {
        first_col
    };
    let bad = if last_row - 1 < first_row {
        Some(format!(
            "its Dimensions record claims rows {} to {}, backwards",
            first_row + 1,
            last_row
        ))
    } else if last_row > EXCEL_97.rows || last_col > EXCEL_97.columns {
        Some(format!(
            "its Dimensions record claims {} rows × {} columns, beyond {}'s {} × {}",
            limits::thousands(u64::from(last_row - first_row)),
            limits::thousands(u64::from(last_col - first_col)),
            EXCEL_97.program,
            limits::thousands(u64::from(EXCEL_97.rows)),
            EXCEL_97.columns
        ))
    } else {
        None
    };
    match bad {
        Some(what) => Err(Error::OutsideSheet {
            path: path.to_owned(),
            sheet: name.to_owned(),
            cell: address(
                last_row.min(u32::MAX - 1),
                last_col.saturating_sub(1).min(u32::MAX - 1),
            ),
            what,
        }),
        None => Ok(()),
    }
}

/// A BoundSheet8 name (for messages): a length, a flags byte, then UTF-16 or single-byte text.
fn sheet_name(data: &[u8]) -> String {
    let len = data.get(6).copied().unwrap_or(0) as usize;
    let wide = data.get(7).is_some_and(|f| f & 1 == 1);
    match (wide, data.get(8..)) {
        (true, Some(b)) => {
            let units: Vec<u16> = b
                .chunks_exact(2)
                .take(len)
                .map(|u| u16::from_le_bytes([u[0], u[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        (false, Some(b)) => String::from_utf8_lossy(&b[..len.min(b.len())]).into_owned(),
        _ => String::new(),
    }
}

/// Sheets of the workbook globals: name and position of their substream (BoundSheet8).
fn sheets(stream: &[u8]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (typ, data) in records(stream) {
        match typ {
            0x0085 => {
                let pos = u32_at(data, 0).unwrap_or(0) as usize;
                out.push((sheet_name(data), pos));
            }
            0x000A => break,
            _ => {}
        }
    }
    out
}

/// Checks an xls file; a file calamine would refuse on its own (not a compound file, no workbook
/// stream) is left to calamine, whose error says what it is.
pub(crate) fn check_xls(path: &Path) -> Result<()> {
    let Ok(data) = std::fs::read(path) else {
        return Ok(());
    };
    let Some(compound) = Compound::open(&data) else {
        return Ok(());
    };
    let stream = match workbook_stream(&compound) {
        Ok(Some(s)) => s,
        Ok(None) => return Ok(()),
        Err(r) => {
            return Err(Error::Container {
                path: path.to_owned(),
                part: r.part,
                what: r.what,
            });
        }
    };
    let mut total = 0u64;
    for (name, pos) in sheets(&stream) {
        let Some(sheet) = stream.get(pos..) else {
            return Err(Error::Container {
                path: path.to_owned(),
                part: format!("sheet {name:?}"),
                what: format!("starts at byte {pos}, past the end of the workbook stream"),
            });
        };
        check_sheet(path, &name, sheet, &mut total)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_that_loops_is_refused_not_followed() {
        let sectors = [[1u8; 512], [2u8; 512]];
        let read = |id: u32| &sectors[id as usize][..];
        // 0 → 1 → 0 → …: calamine would append sectors until memory ran out.
        let e = follow("its directory", 0, u64::MAX, &[1, 0], 1, read).unwrap_err();
        assert!(e.what.contains("loops"), "{}", e.what);
        // 0 → 1 → end: two sectors.
        let ok = follow("its directory", 0, u64::MAX, &[1, ENDOFCHAIN], 1, read).unwrap();
        assert_eq!(ok.len(), 1024);
        // A declared length stops the walk early, as in calamine.
        let ok = follow("its directory", 0, 600, &[1, 0], 1, read).unwrap();
        assert_eq!(ok.len(), 600);
    }
}
