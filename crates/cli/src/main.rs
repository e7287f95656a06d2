//! `riskcensus`: the command census offices, reviewers and provincial offices run.

mod app;

fn main() {
    std::process::exit(app::main());
}
