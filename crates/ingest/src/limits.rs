//! Bounds on what a spreadsheet can make the readers hold.
//!
//! A workbook is a description of cells, and a hostile or broken one can describe far more than it
//! holds: a stray note typed at `XFD1048576`, a `<dimension>` claiming the whole sheet, a zip entry
//! that inflates a thousandfold. The readers keep memory proportional to the cells present and stop,
//! with an error naming the file, the sheet and the bound, when a file asks for more than any census
//! table needs. Each bound below says why it is where it is.

/// How far one spreadsheet format reaches: a cell beyond it is not one the format can hold, so a
/// file placing one there was not written by the program the format belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reach {
    /// The program whose limit it is, for messages ("Excel", "Excel 97-2003").
    pub program: &'static str,
    pub rows: u32,
    pub columns: u32,
}

/// xlsx, xlsm, xlsb and ods: Excel 2007 and later (and LibreOffice since 7.4) stop at
/// 1,048,576 rows × 16,384 columns (`XFD`).
pub(crate) const EXCEL: Reach = Reach {
    program: "Excel",
    rows: 1_048_576,
    columns: 16_384,
};

/// xls (BIFF8): 65,536 rows × 256 columns (`IV`).
pub(crate) const EXCEL_97: Reach = Reach {
    program: "Excel 97-2003 (.xls)",
    rows: 65_536,
    columns: 256,
};

/// Cells holding a value in one sheet. A full Excel sheet of the widest census table (地质灾害隐患点,
/// 75 fields) is 1,048,576 × 75 ≈ 79 million cells; 100 million leaves room for unknown columns and
/// title rows, and still bounds the readers' own cell list at about 3.2 GB (32 bytes a cell, text
/// apart). A sheet with more is not a census table.
pub(crate) const MAX_CELLS: u64 = 100_000_000;

/// Text held by one sheet's cells, in bytes. Shared strings are stored once in a workbook but a cell
/// is given its own copy, so a sheet of 20-byte cells each naming one 32,767-character string would
/// otherwise ask for terabytes. 4 GiB is over 50 bytes for every cell of the largest census table.
pub(crate) const MAX_TEXT_BYTES: u64 = 4 << 30;

/// Excel's limit on the characters of one cell. A longer cell cannot have been typed or saved in
/// Excel or WPS; it is refused whole rather than cut short (see `Error::CellTooLong`).
pub(crate) const MAX_CELL_CHARS: usize = 32_767;

/// Stray cells named one note each; more are summed up in one note, so a block of notes beside a
/// table does not bury the issue list.
pub(crate) const MAX_STRAY_NOTES: usize = 100;

/// Zip parts of a workbook, as declared in the zip's central directory (calamine's zip reader fails
/// an entry that inflates past its declared size, so the declaration bounds what it decompresses).
pub(crate) mod zip {
    /// A worksheet's XML is streamed cell by cell, so its size costs time rather than memory; 4 GiB
    /// is twice the XML of a full sheet of the widest census table.
    pub const MAX_SHEET_BYTES: u64 = 4 << 30;
    /// calamine reads the whole shared-string table (and an ODS `content.xml`) into memory before
    /// the first cell; 1 GiB is 1,000 bytes of distinct text for each of a million records.
    pub const MAX_LOADED_BYTES: u64 = 1 << 30;
    /// Styles, workbook, relationships and the rest: kilobytes in any real workbook, read whole.
    pub const MAX_OTHER_BYTES: u64 = 256 << 20;
    /// Deflate cannot exceed about 1,032:1; bombs sit near that. Workbook XML compresses 5–25:1
    /// (the fixtures: 4.5–21), rows of empty styled cells perhaps 100:1. Above 500:1 a part is a
    /// bomb, not a sheet…
    pub const MAX_RATIO: u64 = 500;
    /// …once it is big enough to matter: a small part may compress as well as it likes.
    pub const RATIO_FLOOR_BYTES: u64 = 64 << 20;
}

/// `1048576` → `1,048,576`, as the messages write limits.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (k, ch) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A byte count for messages: `4 GiB`, `80 MiB`, `512 bytes`.
pub(crate) fn bytes(n: u64) -> String {
    const GIB: u64 = 1 << 30;
    const MIB: u64 = 1 << 20;
    if n >= GIB {
        format!("{:.1} GiB", n as f64 / GIB as f64)
    } else if n >= MIB {
        format!("{:.1} MiB", n as f64 / MIB as f64)
    } else {
        format!("{} bytes", thousands(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_messages() {
        assert_eq!(thousands(1_048_576), "1,048,576");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(bytes(4 << 30), "4.0 GiB");
        assert_eq!(bytes(512), "512 bytes");
    }
}
