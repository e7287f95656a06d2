//! `riskcensus`: the command census offices, reviewers and provincial offices run.

mod app;
mod batch;
mod diff;
mod progress;
mod review;
mod template;

/// A run allocates a string or a vector per cell and per record by the million; glibc's malloc
/// spent about a quarter of a 1M-building run and kept its freed memory resident.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` of mimalloc 3's `mi_option_e` (include/mimalloc.h; the Rust bindings
/// name only some options).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long mimalloc keeps freed memory before giving it back to the system. Its default, a second,
/// outlasts the stages of a run: the raw records QC frees are still resident when the clean records,
/// the unit table and the GeoParquet columns are built, and fresh pages are faulted in meanwhile.
/// At 100 ms a 1M-building run peaked about 90 MB lower and ran no slower (measured with
/// `MIMALLOC_PURGE_DELAY` at 1000, 100 and 10 ms, xlsx and footprints); that variable still wins.
const PURGE_DELAY_MS: std::ffi::c_long = 100;

fn main() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: `mi_option_set` takes an option number and a value, and may be called at any
        // time; 15 is `mi_option_purge_delay` in the mimalloc this binary links.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    }
    std::process::exit(app::main());
}
