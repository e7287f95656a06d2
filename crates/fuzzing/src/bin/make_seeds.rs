//! Writes the seed corpus to `fuzz/seeds/<target>/` (or the directory given), replacing what is
//! there: `cargo run -p riskcensus-fuzzing --bin make-seeds [DIR]`.

use std::path::PathBuf;

fn main() {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| riskcensus_fuzzing::seeds::repo().join("fuzz/seeds"));
    let seeds = riskcensus_fuzzing::seeds::all();
    for target in riskcensus_fuzzing::TARGETS {
        let dir = out.join(target);
        if dir.is_dir() {
            std::fs::remove_dir_all(&dir).expect("clear the old seeds");
        }
        std::fs::create_dir_all(&dir).expect("seed directory");
    }
    for s in &seeds {
        let path = out.join(s.target).join(&s.name);
        std::fs::write(&path, &s.bytes).expect("write a seed");
        println!("{:>8} bytes  {}", s.bytes.len(), path.display());
    }
}
