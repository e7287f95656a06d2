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

fn main() {
    std::process::exit(app::main());
}
