//! `riskcensus`: the command census offices, reviewers and provincial offices run.

mod app;
mod review;
mod batch;
mod diff;
mod progress;
mod template;

fn main() {
    std::process::exit(app::main());
}
