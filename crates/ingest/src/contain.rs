//! Containing a reader's panic. The readers hand untrusted files to third-party parsers (calamine,
//! GDAL's bindings); fuzzing found files that make calamine's xls parser index out of bounds. Such a
//! file must give the clear error the product promises, naming it, not bring the whole run down with
//! a panic message an office cannot act on.
//!
//! A contained panic is silent (the hook that prints panics is skipped for it) and comes back as
//! `Error::ReaderFailed` with the place it happened, so a bug report can name the parser's line.
//! Aborts (a stack overflow, an allocation failure) cannot be contained this way.

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::path::Path;
use std::sync::Once;

use crate::{Error, Result};

thread_local! {
    /// `Some` while this thread runs a contained reader; then `Some(Some(..))` once it panicked,
    /// holding the panic's message and place.
    static CONTAINED: RefCell<Option<Option<(String, String)>>> = const { RefCell::new(None) };
}

/// The panic's message and `file:line`.
fn describe(info: &PanicHookInfo<'_>) -> (String, String) {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into());
    let place = info
        .location()
        .map(|l| format!("{}:{}", l.file(), l.line()))
        .unwrap_or_default();
    (message, place)
}

/// Installs, once per process, a hook that records a contained panic instead of printing it, and
/// passes every other panic to the hook that was there before.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            // `try_with`: a panic while the thread's locals are being torn down is not contained.
            let contained = CONTAINED
                .try_with(|c| match c.borrow_mut().as_mut() {
                    Some(slot) => {
                        *slot = Some(describe(info));
                        true
                    }
                    None => false,
                })
                .unwrap_or(false);
            if !contained {
                previous(info);
            }
        }));
    });
}

/// Runs a reader of `path`; a panic inside it becomes `Error::ReaderFailed` naming the file.
pub(crate) fn contain<T>(path: &Path, read: impl FnOnce() -> Result<T>) -> Result<T> {
    install_hook();
    let outer = CONTAINED.with(|c| c.replace(Some(None)));
    // The reader's partial state is dropped with the panic, so nothing broken is observed later.
    let result = panic::catch_unwind(AssertUnwindSafe(read));
    let panicked = CONTAINED.with(|c| c.replace(outer)).flatten();
    result.unwrap_or_else(|_| {
        let (message, place) = panicked.unwrap_or_else(|| ("panic".into(), String::new()));
        Err(Error::ReaderFailed {
            path: path.to_owned(),
            message,
            place,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_naming_the_file() {
        let path = Path::new("broken.xls");
        let err = contain::<()>(path, || panic!("index out of bounds")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("broken.xls"), "{text}");
        assert!(text.contains("index out of bounds"), "{text}");
        match err {
            Error::ReaderFailed { place, .. } => assert!(place.contains("contain.rs"), "{place}"),
            other => panic!("not ReaderFailed: {other}"),
        }
    }

    #[test]
    fn results_pass_through_and_the_thread_is_left_uncontained() {
        let path = Path::new("fine.csv");
        assert_eq!(contain(path, || Ok(7)).unwrap(), 7);
        assert!(matches!(
            contain::<()>(path, || Err(Error::EmptyFile { path: path.into() })),
            Err(Error::EmptyFile { .. })
        ));
        // Outside `contain`, a panic is not recorded as contained.
        assert!(CONTAINED.with(|c| c.borrow().is_none()));
    }
}
