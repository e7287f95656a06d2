//! Where targets put their bytes: the readers take paths, so every input becomes a file.
//!
//! Each thread gets its own directory (the replay test runs targets on several threads at once),
//! on tmpfs when there is one, because a campaign writes thousands of files a second. The directory
//! goes when the thread ends; a crashed campaign process leaves one behind, which `fuzz/run.sh`
//! sweeps.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

thread_local! {
    static DIR: TempDir = make_dir();
}

/// `$RISKCENSUS_FUZZ_TMP`, else `/dev/shm` when writable, else the system's temporary directory.
fn base() -> PathBuf {
    if let Some(d) = std::env::var_os("RISKCENSUS_FUZZ_TMP") {
        return PathBuf::from(d);
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && tempfile::Builder::new()
            .prefix("riskcensus-fuzz-probe-")
            .tempfile_in(shm)
            .is_ok()
    {
        return shm.to_owned();
    }
    std::env::temp_dir()
}

fn make_dir() -> TempDir {
    let base = base();
    tempfile::Builder::new()
        .prefix("riskcensus-fuzz-")
        .tempdir_in(&base)
        .unwrap_or_else(|e| {
            panic!(
                "fuzz harness: cannot make a directory in {}: {e}",
                base.display()
            )
        })
}

/// This thread's directory.
pub(crate) fn dir() -> PathBuf {
    DIR.with(|d| d.path().to_owned())
}

/// Writes `bytes` as `name` in this thread's directory (replacing what an earlier input left) and
/// returns the path.
pub(crate) fn file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir().join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .unwrap_or_else(|e| panic!("fuzz harness: cannot make {}: {e}", parent.display()));
    }
    std::fs::write(&path, bytes)
        .unwrap_or_else(|e| panic!("fuzz harness: cannot write {}: {e}", path.display()));
    path
}

/// Removes `name` from this thread's directory if an earlier input left it there.
pub(crate) fn remove(name: &str) {
    let _ = std::fs::remove_file(dir().join(name));
}
