//! The shipped models reproduce hand-computed results; bad models fail at load naming the line.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use riskcensus_risk::{Model, score};

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/models")
}

fn load(file: &str, columns: &[&str]) -> Model {
    let p = models().join(file);
    let text = std::fs::read_to_string(&p).unwrap();
    let cols: Vec<String> = columns.iter().map(|s| s.to_string()).collect();
    Model::from_pipeline(&p, &text, &cols).unwrap().unwrap()
}

fn table(codes: &[&str], cols: &[(&str, Vec<f64>)]) -> DataFrame {
    let mut c = vec![
        Column::new(
            "unit_code".into(),
            codes.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        ),
        Column::new(
            "unit_name".into(),
            codes.iter().map(|s| format!("单元{s}")).collect::<Vec<_>>(),
        ),
    ];
    for (name, v) in cols {
        c.push(Column::new((*name).into(), v.clone()));
    }
    DataFrame::new(codes.len(), c).unwrap()
}

fn f64s(df: &DataFrame, name: &str) -> Vec<f64> {
    df.column(name)
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .map(|v| v.unwrap())
        .collect()
}

fn strs(df: &DataFrame, name: &str) -> Vec<String> {
    df.column(name)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.unwrap().to_owned())
        .collect()
}

#[test]
fn fema_nri_reproduces_its_formula() {
    let m = load(
        "fema_nri.toml",
        &["unit_code", "unit_name", "eal", "sovi", "resl"],
    );
    let (eal, sovi, resl) = (
        vec![1000.0, 500.0, 2000.0, 100.0],
        vec![60.0, 40.0, 50.0, 70.0],
        vec![50.0, 80.0, 40.0, 35.0],
    );
    let t = table(
        &["A", "B", "C", "D"],
        &[
            ("eal", eal.clone()),
            ("sovi", sovi.clone()),
            ("resl", resl.clone()),
        ],
    );
    let s = score(&m, &t).unwrap();
    // By hand: EAL × SV ÷ CR = 1200, 250, 2500, 200; min-max to 0–100.
    let raw: Vec<f64> = (0..4).map(|i| eal[i] * sovi[i] / resl[i]).collect();
    assert_eq!(raw, vec![1200.0, 250.0, 2500.0, 200.0]);
    let expected: Vec<f64> = raw
        .iter()
        .map(|r| (r - 200.0) / (2500.0 - 200.0) * 100.0)
        .collect();
    let got = f64s(&s.df, "composite_score");
    for (g, e) in got.iter().zip(&expected) {
        assert!((g - e).abs() < 1e-9, "{got:?} vs {expected:?}");
    }
    // Quintile breaks of [0, 2.17, 43.48, 100] (type-7 quantiles): 1.30, 10.43, 35.22, 66.09.
    assert_eq!(
        strs(&s.df, "composite_grade"),
        vec!["Relatively High", "Relatively Low", "Very High", "Very Low"]
    );
}

#[test]
fn inform_reproduces_its_formula_and_classes() {
    let m = load(
        "inform.toml",
        &[
            "unit_code",
            "unit_name",
            "hazard_exposure",
            "vulnerability",
            "lack_of_coping_capacity",
        ],
    );
    let he = vec![8.0, 2.0, 9.0, 1.0, 4.0];
    let v = vec![4.0, 2.0, 8.0, 1.5, 3.5];
    let lcc = vec![5.0, 2.0, 9.0, 2.0, 4.0];
    let t = table(
        &["A", "B", "C", "D", "E"],
        &[
            ("hazard_exposure", he.clone()),
            ("vulnerability", v.clone()),
            ("lack_of_coping_capacity", lcc.clone()),
        ],
    );
    let s = score(&m, &t).unwrap();
    let expected: Vec<f64> = (0..5)
        .map(|i| (he[i] * v[i] * lcc[i]).powf(1.0 / 3.0))
        .collect();
    // 5.43, 2.00, 8.65, 1.44, 3.83
    let got = f64s(&s.df, "composite_score");
    for (g, e) in got.iter().zip(&expected) {
        assert!((g - e).abs() < 1e-9, "{got:?} vs {expected:?}");
    }
    assert_eq!(
        strs(&s.df, "composite_grade"),
        vec!["High", "Low", "Very High", "Very Low", "Medium"]
    );
    let counts: u64 = s.grade_counts["composite"].iter().map(|g| g.2).sum();
    assert_eq!(counts, 5);
}

fn model_error(body: &str) -> String {
    let text = format!("[model]\nname = \"t\"\n{body}");
    let cols = vec![
        "unit_code".to_owned(),
        "unit_name".to_owned(),
        "x".to_owned(),
        "y".to_owned(),
    ];
    match Model::from_pipeline(Path::new("p.toml"), &text, &cols) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e.to_string(),
    }
}

const IND: &str = "\n[[model.indicators]]\nname = \"a\"\nexpr = \"x\"\n\n[[model.indicators]]\nname = \"b\"\nexpr = \"y * 2\"\n";
const GRADE: &str = "\n[model.grading]\nmethod = \"quantiles\"\nclasses = 4\nlabels = [\"高\", \"较高\", \"较低\", \"低\"]\ncolors = [\"#d7191c\", \"#fdae61\", \"#abd9e9\", \"#2c7bb6\"]\n";

#[test]
fn bad_models_fail_at_load_naming_the_line() {
    let e = model_error(&format!(
        "\n[[model.indicators]]\nname = \"a\"\nexpr = \"no_such_column / 2\"\n{GRADE}"
    ));
    assert!(e.contains("line 4") && e.contains("no_such_column"), "{e}");
    let e = model_error(&format!(
        "{IND}\n[[model.scores]]\nname = \"s\"\nkind = \"composite\"\nformula = \"weighted_sum\"\nweights = {{ a = 0.5, b = 0.6 }}\n{GRADE}"
    ));
    assert!(e.contains("line 12") && e.contains("sum to 1.1"), "{e}");
    let fixed = GRADE
        .replace("\"quantiles\"", "\"fixed\"")
        .replace("classes = 4", "classes = 4\nbreaks = [0.2, 0.1, 0.5]");
    let e = model_error(&format!(
        "{IND}\n[[model.scores]]\nname = \"s\"\nkind = \"composite\"\nformula = \"mean\"\nweights = {{ a = 1.0, b = 1.0 }}\n{fixed}"
    ));
    assert!(
        e.contains("breaks must increase") && e.contains("line 18"),
        "{e}"
    );
    let e = model_error(&format!(
        "{IND}\n[[model.scores]]\nname = \"s\"\nkind = \"composite\"\nformula = \"hevc\"\nhazard = \"a\"\n{GRADE}"
    ));
    assert!(e.contains("needs exposure"), "{e}");
    let e = model_error(&format!("{IND}{GRADE}"));
    assert!(e.contains("exactly one score"), "{e}");
}

#[test]
fn a_model_file_that_leads_back_is_an_error_not_a_stack_overflow() {
    // This recursed until the stack overflowed, aborting the process.
    let d = tempfile::tempdir().unwrap();
    let cols = vec!["unit_code".to_owned(), "x".to_owned()];
    let own = d.path().join("p.toml");
    let text = "[model]\nfile = \"p.toml\"\n";
    std::fs::write(&own, text).unwrap();
    let e = Model::from_pipeline(&own, text, &cols)
        .unwrap_err()
        .to_string();
    assert!(e.contains("p.toml") && e.contains("leads back"), "{e}");
    // Two files naming each other, one reached as `./b.toml`.
    std::fs::write(d.path().join("a.toml"), "[model]\nfile = \"./b.toml\"\n").unwrap();
    std::fs::write(d.path().join("b.toml"), "[model]\nfile = \"a.toml\"\n").unwrap();
    let a = d.path().join("a.toml");
    let e = Model::from_pipeline(&a, &std::fs::read_to_string(&a).unwrap(), &cols)
        .unwrap_err()
        .to_string();
    assert!(e.contains("b.toml") && e.contains("leads back"), "{e}");
}

/// An optional indicator whose columns the run lacks (its table is not an input) is left out, and
/// the other inputs of its dimension share its weight; a required one is still an error; a
/// dimension with nothing left is an error naming it.
#[test]
fn optional_indicators_without_their_columns_are_left_out() {
    let text = format!(
        "[model]\nname = \"t\"\n{IND}\n[[model.indicators]]\nname = \"c\"\nexpr = \"emergency_shelter_capacity / x\"\noptional = true\n\n[[model.dimensions]]\nname = \"d\"\nweights = {{ a = 0.3, b = 0.45, c = 0.25 }}\n\n[[model.scores]]\nname = \"s\"\nkind = \"composite\"\nformula = \"weighted_sum\"\nweights = {{ d = 1.0 }}\n{GRADE}"
    );
    let cols: Vec<String> = ["unit_code", "unit_name", "x", "y"]
        .map(String::from)
        .to_vec();
    let m = Model::from_pipeline(Path::new("p.toml"), &text, &cols)
        .unwrap()
        .unwrap();
    assert_eq!(
        m.indicators
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    let w = &m.dimensions[0].weights;
    assert!(
        (w["a"] - 0.4).abs() < 1e-12 && (w["b"] - 0.6).abs() < 1e-12,
        "{w:?}"
    );
    assert!(!w.contains_key("c"));
    assert_eq!(
        m.left_out,
        ["c (no column emergency_shelter_capacity)".to_owned()]
    );
    // With the column, nothing is left out.
    let mut with = cols.clone();
    with.push("emergency_shelter_capacity".into());
    let m = Model::from_pipeline(Path::new("p.toml"), &text, &with)
        .unwrap()
        .unwrap();
    assert!(m.left_out.is_empty() && m.dimensions[0].weights.len() == 3);
    // Not optional: the load fails naming the column.
    let e = model_error(&format!(
        "{IND}\n[[model.indicators]]\nname = \"c\"\nexpr = \"emergency_shelter_capacity / x\"\n{GRADE}"
    ));
    assert!(e.contains("emergency_shelter_capacity"), "{e}");
    // A dimension of optional indicators only, none computable.
    let e = model_error(&format!(
        "{IND}\n[[model.indicators]]\nname = \"c\"\nexpr = \"emergency_shelter_capacity\"\noptional = true\n\n[[model.dimensions]]\nname = \"d\"\nweights = {{ c = 1.0 }}\n{GRADE}"
    ));
    assert!(e.contains("dimension d: every input"), "{e}");
}
