//! `riskcensus`: the command census offices, reviewers and provincial offices run.

mod app;
mod review;

fn main() {
    std::process::exit(app::main());
}
