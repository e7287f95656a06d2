//! `riskcensus`: the command census offices, reviewers and provincial offices run.

mod app;
mod batch;
mod diff;
mod progress;
mod review;
mod template;

fn main() {
    std::process::exit(app::main());
}
