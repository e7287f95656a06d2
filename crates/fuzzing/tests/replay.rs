//! Replays the fuzzing corpus: every committed seed (`fuzz/seeds/<target>/`) and every crash found
//! so far (`fuzz/regressions/<target>/`), plus the seeds made afresh from the fixtures. A panic in a
//! target is a crash the campaigns found coming back; a seed the reader refuses means the harness
//! no longer reaches the code it is meant to fuzz (a fixture changed, or the wiring broke).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use riskcensus_fuzzing::{TARGETS, available, run, seeds};

fn corpus(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = seeds::repo().join("fuzz").join(kind).join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.is_file() && p.file_name().is_none_or(|n| n != "README.md"))
        .collect();
    files.sort();
    files
}

/// Runs `target` on `bytes`; `Err` with the panic's message when it panics.
fn replay(target: &str, bytes: &[u8]) -> Result<Result<(), String>, String> {
    catch_unwind(AssertUnwindSafe(|| {
        run(target, bytes).expect("target is built")
    }))
    .map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "non-text panic".into())
    })
}

fn name(p: &Path) -> String {
    p.strip_prefix(seeds::repo())
        .unwrap_or(p)
        .display()
        .to_string()
}

#[test]
fn every_target_is_built_here() {
    // The suite builds the crate with its default features, so every target is replayed.
    assert_eq!(available(), TARGETS);
}

#[test]
fn committed_seeds_are_accepted_without_panic() {
    let mut failures = Vec::new();
    for target in TARGETS {
        let files = corpus("seeds", target);
        assert!(
            !files.is_empty(),
            "no seeds committed for {target} (run make-seeds)"
        );
        for f in files {
            let bytes = std::fs::read(&f).expect("seed");
            match replay(target, &bytes) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push(format!("{}: refused: {e}", name(&f))),
                Err(panic) => failures.push(format!("{}: PANIC: {panic}", name(&f))),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn regressions_do_not_crash() {
    let mut failures = Vec::new();
    let mut replayed = 0;
    for target in TARGETS {
        for f in corpus("regressions", target) {
            let bytes = std::fs::read(&f).expect("regression input");
            replayed += 1;
            if let Err(panic) = replay(target, &bytes) {
                failures.push(format!("{}: PANIC: {panic}", name(&f)));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("replayed {replayed} crash regressions");
}

#[test]
fn seeds_made_from_the_fixtures_are_accepted() {
    let mut failures = Vec::new();
    for s in seeds::all() {
        match replay(s.target, &s.bytes) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(format!("{}/{}: refused: {e}", s.target, s.name)),
            Err(panic) => failures.push(format!("{}/{}: PANIC: {panic}", s.target, s.name)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_broken_input_is_refused() {
    // The other half of the harness's contract: bad bytes come back as an error a user can act on,
    // not as Ok (which would mean the target never reached the reader).
    for target in TARGETS {
        let outcome = replay(target, b"\x00 not a file of any kind [[[").expect("no panic");
        assert!(outcome.is_err(), "{target} accepted garbage");
    }
}
