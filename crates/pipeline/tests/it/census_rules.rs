//! The census's own rules on the tables that had none: a shelter form (应急避难场所) made with
//! `riskcensus template`, filled with the defects an office makes, is failed with each defect under
//! its rule.

use std::collections::BTreeSet;

use riskcensus_pipeline::validate;
use riskcensus_schema::SchemaSet;
use riskcensus_synth::template::{self, TemplateOptions};

use crate::template::{Typed, fill_form, forms_pipeline, generated_county, record};

/// The shelter case of issue 19: one record with no name, a capacity of −3 people, an area of
/// −500 m², a negative investment, the date 2099-13-45 and the phone "abc"; two more that are one
/// shelter entered twice. Each defect is reported under its rule, the copy is found, the table fails.
#[test]
fn a_shelter_form_with_an_offices_defects_is_failed_rule_by_rule() {
    let d = tempfile::tempdir().unwrap();
    let county = generated_county(d.path());
    let set = SchemaSet::builtin().unwrap();
    let table = "zhjzzy_zf_yjblcs";
    let schema = set.table(table).unwrap();
    let files = template::write_templates(
        &set,
        &[table.into()],
        &d.path().join("forms"),
        &TemplateOptions::default(),
    )
    .unwrap();
    let at = |code: &str| schema.field_index(code).unwrap();
    let mut bad = record(schema, &set, &county, 0, 0);
    bad[at("yjbncsmc")] = None;
    bad[at("bnsrnrs")] = Some(Typed::Num(-3.0));
    bad[at("yjbncszdmj")] = Some(Typed::Num(-500.0));
    bad[at("jsztz")] = Some(Typed::Num(-20.0));
    bad[at("jchgpsj")] = Some(Typed::Text("2099-13-45".into()));
    bad[at("lxdh")] = Some(Typed::Text("abc".into()));
    let twice = record(schema, &set, &county, 1, 1);
    fill_form(&files[0], &[bad, twice.clone(), twice]);
    let run = forms_pipeline(d.path(), &[(table.to_owned(), files[0].clone())]);
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    let r = v.results.iter().find(|r| r.table == table).unwrap();
    let found: BTreeSet<(u32, String, &str)> = r
        .issues
        .iter()
        .map(|i| {
            (
                i.row.unwrap_or(0),
                i.field.clone().unwrap_or_default(),
                i.rule,
            )
        })
        .collect();
    // Rows 5, 6 and 7 of the form: its title and the two-row header come first.
    let expected: BTreeSet<(u32, String, &str)> = [
        (5, "yjbncsmc", "missing_required"),
        (5, "bnsrnrs", "out_of_range"),
        (5, "yjbncszdmj", "out_of_range"),
        (5, "jsztz", "out_of_range"),
        (5, "jchgpsj", "type_mismatch"),
        (5, "lxdh", "bad_phone"),
        (7, schema.primary_key[0].as_str(), "duplicate_record"),
    ]
    .into_iter()
    .map(|(row, f, rule)| (row, f.to_owned(), rule))
    .collect();
    assert_eq!(found, expected, "{:#?}", r.issues);
    for i in &r.issues {
        assert!(
            !i.message_zh.is_empty() && !i.message_en.is_empty(),
            "{i:?}"
        );
    }
    let t = v.summary.tables.iter().find(|t| t.table == table).unwrap();
    assert_eq!((t.rows_read, t.rows_clean, t.rows_rejected), (3, 1, 2));
    assert!(!t.passed, "a shelter list with these defects passes");
    assert!(t.error_rate > 0.0);
}

/// A generated county with every table (`gen-fixtures --all-tables`): for every table generated
/// from its schema, QC reports exactly the defects the generator planted, field and rule (recall
/// and precision 100 %), and the defects cover the rule kinds of those tables.
#[test]
fn qc_finds_exactly_the_planted_defects_of_every_table() {
    use std::collections::BTreeMap;
    let d = tempfile::tempdir().unwrap();
    let mut o = riskcensus_synth::Options::new("530402", d.path());
    o.buildings = 1_000;
    o.all_tables = true;
    riskcensus_synth::generate(&o, &mut |_| {}).unwrap();
    let run = riskcensus_pipeline::Run::load(
        &d.path().join("pipeline.toml"),
        Some(&d.path().join("out")),
    )
    .unwrap();
    let v = validate(&run, &mut |_, _, _| {}).unwrap();
    let set = SchemaSet::builtin().unwrap();
    let generated: Vec<&str> = set
        .tables
        .values()
        .filter(|t| template::has_form(t))
        .map(|t| t.code.as_str())
        .filter(|t| !riskcensus_synth::HAND_WRITTEN.contains(t))
        .collect();
    assert!(generated.len() >= 21, "{generated:?}");
    type Key = (String, u32, String, String);
    let mut truth: BTreeMap<String, BTreeSet<Key>> = BTreeMap::new();
    let mut r = csv::Reader::from_path(d.path().join("ground_truth.csv")).unwrap();
    for x in r.records().map(|x| x.unwrap()) {
        if generated.contains(&&x[0]) {
            truth.entry(x[0].to_owned()).or_default().insert((
                x[0].to_owned(),
                x[1].parse().unwrap(),
                x[2].to_owned(),
                x[3].to_owned(),
            ));
        }
    }
    let mut rules = BTreeSet::new();
    for table in &generated {
        let result = v
            .results
            .iter()
            .find(|r| r.table == *table)
            .unwrap_or_else(|| panic!("{table} was not checked"));
        let found: BTreeSet<Key> = result
            .issues
            .iter()
            .map(|i| {
                (
                    i.table.clone(),
                    i.row.unwrap_or(0),
                    i.field.clone().unwrap_or_default(),
                    i.rule.to_owned(),
                )
            })
            .collect();
        let expected = truth.remove(*table).unwrap_or_default();
        assert!(!expected.is_empty(), "{table}: no defect planted");
        let missed: Vec<_> = expected.difference(&found).collect();
        let extra: Vec<_> = found.difference(&expected).collect();
        assert!(
            missed.is_empty() && extra.is_empty(),
            "{table}: QC missed {missed:#?}\nand reported beyond the truth {extra:#?}"
        );
        assert_eq!(result.rows_read, result.rows_clean + result.rows_rejected);
        rules.extend(expected.into_iter().map(|k| k.3));
    }
    // Every table reaches the unit table: its figures there are the sums of its clean records.
    let scored = riskcensus_pipeline::join_and_score(&run, &v).unwrap();
    for (table, field, column) in [
        ("zhjzzy_zf_yjblcs", "bnsrnrs", "emergency_shelter_capacity"),
        ("zhjzzy_zf_zzjydw", "dwzrs", "fire_rescue_staff"),
        ("zdyh_wkk", "xy1kmnzrs", "tailings_people_downstream"),
        ("czt_tycg", "gzxw", "stadium_seats"),
        ("lszh_ndzrzh", "zjjjss", "hist_direct_loss_10k_yuan"),
    ] {
        let r = v.results.iter().find(|r| r.table == table).unwrap();
        let k = r.clean.fields.iter().position(|f| f == field).unwrap();
        let clean: f64 = r
            .clean
            .rows
            .iter()
            .filter_map(|row| row.values.at(k).as_f64())
            .sum();
        let units: f64 = scored
            .units
            .column(column)
            .unwrap_or_else(|e| panic!("{column}: {e}"))
            .f64()
            .unwrap()
            .iter()
            .map(|x| x.unwrap_or(0.0))
            .sum();
        assert!(clean > 0.0, "{table}.{field}: no clean values");
        assert!(
            (units - clean).abs() <= 1e-6 * clean,
            "{column}: {units} in the units, {clean} in the clean {table}"
        );
    }
    for rule in [
        "missing_required",
        "out_of_range",
        "not_in_code_list",
        "bad_credit_code",
        "bad_phone",
        "field_comparison",
        "conditional",
        "required_when",
        "unknown_township_code",
        "point_outside_township",
        "duplicate_record",
        "duplicate_id",
    ] {
        assert!(
            rules.contains(rule),
            "no table has a {rule} defect: {rules:?}"
        );
    }
}
