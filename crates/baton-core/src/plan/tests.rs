//! Tests of plans and verdicts: parsing, the checks, normalisation, the schemas and the
//! extraction of a model's JSON object.

use std::collections::BTreeSet;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;

fn subtask(id: &str, depends_on: &[&str]) -> Subtask {
    Subtask {
        id: id.into(),
        title: format!("Do {id}"),
        what: format!("Write {id}."),
        kind: SubtaskKind::Code,
        files: vec![format!("src/{id}.rs")],
        context: vec![],
        constraints: vec![],
        acceptance: vec![],
        depends_on: depends_on.iter().map(|d| d.to_string()).collect(),
        worker: None,
    }
}

fn plan(subtasks: Vec<Subtask>) -> Plan {
    Plan {
        summary: "Build it.".into(),
        decisions: vec![],
        interfaces: vec![],
        subtasks,
    }
}

/// A plan with every field filled in, so that serializing it shows every field name.
fn full_plan() -> Plan {
    Plan {
        summary: "Add a parser.".into(),
        decisions: vec!["Hand-written, no new dependency.".into()],
        interfaces: vec!["fn parse(text: &str) -> Result<Doc, Error>".into()],
        subtasks: vec![
            Subtask {
                id: "parser".into(),
                title: "The parser".into(),
                what: "Write parse().".into(),
                kind: SubtaskKind::Code,
                files: vec!["src/parse.rs".into()],
                context: vec!["src/lib.rs".into()],
                constraints: vec!["no unwrap".into()],
                acceptance: vec!["parses the examples".into()],
                depends_on: vec![],
                worker: Some("local-coder".into()),
            },
            Subtask {
                id: "tests".into(),
                title: "Its tests".into(),
                what: "Test parse().".into(),
                kind: SubtaskKind::Test,
                files: vec!["tests/parse.rs".into()],
                context: vec![],
                constraints: vec![],
                acceptance: vec![],
                depends_on: vec!["parser".into()],
                worker: None,
            },
        ],
    }
}

fn problems(plan: &Plan) -> Vec<String> {
    plan.check().iter().map(ToString::to_string).collect()
}

#[test]
fn a_valid_plan_round_trips_through_json() {
    let plan = full_plan();
    let text = serde_json::to_string_pretty(&plan).unwrap();
    assert_eq!(Plan::from_json(&text).unwrap(), plan);
    assert_eq!(plan.check(), vec![]);
}

#[test]
fn a_valid_plan_round_trips_through_toml() {
    let plan = full_plan();
    let text = toml::to_string(&plan).unwrap();
    assert!(text.contains("[[subtasks]]"), "{text}");
    assert_eq!(Plan::from_toml(&text).unwrap(), plan);
}

#[test]
fn a_hand_written_toml_plan_takes_the_defaults() {
    let text = r#"
summary = "Two steps"

[[subtasks]]
id = "a"
title = "A"
what = "Do a"
files = ["src/a.rs"]

[[subtasks]]
id = "b"
title = "B"
what = "Document a"
kind = "docs"
files = ["README.md"]
depends_on = ["a"]
"#;
    let plan = Plan::from_toml(text).unwrap();
    assert_eq!(plan.subtasks[0].kind, SubtaskKind::Code);
    assert_eq!(plan.subtasks[1].kind, SubtaskKind::Docs);
    assert_eq!(plan.subtask("b").unwrap().depends_on, vec!["a"]);
    assert_eq!(plan.subtask("c"), None);
    assert_eq!(plan.check(), vec![]);
}

#[test]
fn an_unknown_json_field_is_located() {
    let text = r#"{"summary": "s", "subtasks": [{"id": "a", "title": "t", "what": "w",
        "files": ["x"], "kinds": "code"}]}"#;
    let error = Plan::from_json(text).unwrap_err();
    assert!(
        error.starts_with("subtasks[0].kinds: unknown field `kinds`"),
        "{error}"
    );
    assert!(error.contains("line 2"), "{error}");
    assert!(!error.contains('\n'), "{error}");
}

#[test]
fn a_wrong_json_type_names_the_field_and_what_was_expected() {
    let text =
        r#"{"summary": "s", "subtasks": [{"id": "a", "title": "t", "what": "w", "files": "x"}]}"#;
    let error = Plan::from_json(text).unwrap_err();
    assert!(
        error.starts_with("subtasks[0].files: invalid type"),
        "{error}"
    );
    assert!(error.contains("expected a sequence"), "{error}");
}

#[test]
fn an_unknown_toml_field_is_located_by_line() {
    let text = "summary = \"s\"\n\n[[subtasks]]\nid = \"a\"\ntitle = \"t\"\nwhat = \"w\"\nfiles = [\"x\"]\nkinds = \"code\"\n";
    let error = Plan::from_toml(text).unwrap_err();
    assert!(error.starts_with("line 8: subtasks[0].kinds: "), "{error}");
    assert!(error.contains("unknown field `kinds`"), "{error}");
}

#[test]
fn a_toml_syntax_error_is_located_by_line() {
    let error = Plan::from_toml("summary = \"s\"\nsubtasks = [\n").unwrap_err();
    assert!(error.starts_with("line "), "{error}");
}

#[test]
fn a_json_plan_in_a_fence_with_prose_is_found() {
    let plan = full_plan();
    let text = format!(
        "Here is the plan {{as asked}}:\n```json\n{}\n```\nTell me if it needs changes.",
        serde_json::to_string_pretty(&plan).unwrap()
    );
    assert_eq!(Plan::from_json(&text).unwrap(), plan);
}

#[test]
fn a_broken_object_in_prose_reports_the_objects_own_error() {
    let text = "Sure!\n{\"summary\": \"s\", \"subtasks\": [], \"extra\": 1}\nDone.";
    let error = Plan::from_json(text).unwrap_err();
    assert!(error.starts_with("extra: unknown field `extra`"), "{error}");
}

#[test]
fn an_empty_plan_has_an_empty_summary_and_no_subtasks() {
    let mut empty = plan(vec![]);
    empty.summary = "  ".into();
    assert_eq!(
        problems(&empty),
        vec!["summary: is empty", "subtasks: the plan has no subtasks"]
    );
}

#[test]
fn a_duplicate_id_names_the_first_subtask_with_it() {
    let plan = plan(vec![
        subtask("a", &[]),
        subtask("b", &[]),
        subtask("a", &[]),
    ]);
    assert_eq!(
        problems(&plan),
        vec!["subtasks[2].id: `a` is also the id of subtasks[0]"]
    );
}

#[test]
fn empty_and_malformed_ids_titles_and_whats_are_problems() {
    let mut bad = subtask("a b", &[]);
    bad.title = String::new();
    bad.what = " ".into();
    let mut empty = subtask("", &[]);
    empty.files = vec!["src/empty.rs".into()];
    let plan = plan(vec![bad, empty]);
    assert_eq!(
        problems(&plan),
        vec![
            "subtasks[0].id: `a b` may hold only letters, digits, `.`, `_` and `-`",
            "subtasks[0].title: is empty",
            "subtasks[0].what: is empty",
            "subtasks[1].id: is empty",
        ]
    );
}

#[test]
fn an_unknown_dependency_is_located() {
    let plan = plan(vec![subtask("a", &[]), subtask("b", &["a", "b2"])]);
    let found = plan.check();
    assert_eq!(
        found,
        vec![PlanProblem {
            at: "subtasks[1].depends_on[1]".into(),
            problem: "no subtask has the id \"b2\"".into(),
        }]
    );
    assert_eq!(
        found[0].to_string(),
        "subtasks[1].depends_on[1]: no subtask has the id \"b2\""
    );
}

#[test]
fn a_self_dependency_is_a_problem_and_not_a_cycle() {
    let plan = plan(vec![subtask("a", &["a"])]);
    assert_eq!(
        problems(&plan),
        vec!["subtasks[0].depends_on[0]: a subtask cannot depend on itself"]
    );
}

#[test]
fn a_three_subtask_cycle_is_named_in_order_from_its_first_subtask() {
    // The walk enters the cycle at `b` (through `x`); the cycle is still named from `a`.
    let plan = plan(vec![
        subtask("x", &["b"]),
        subtask("a", &["b"]),
        subtask("b", &["c"]),
        subtask("c", &["a"]),
    ]);
    assert_eq!(
        problems(&plan),
        vec!["subtasks[1].depends_on: dependency cycle: a -> b -> c -> a"]
    );
}

#[test]
fn two_separate_cycles_are_both_named() {
    let plan = plan(vec![
        subtask("a", &["b"]),
        subtask("b", &["a"]),
        subtask("c", &["d"]),
        subtask("d", &["c"]),
    ]);
    assert_eq!(
        problems(&plan),
        vec![
            "subtasks[0].depends_on: dependency cycle: a -> b -> a",
            "subtasks[2].depends_on: dependency cycle: c -> d -> c",
        ]
    );
}

#[test]
fn a_diamond_of_dependencies_is_no_cycle() {
    let plan = plan(vec![
        subtask("a", &[]),
        subtask("b", &["a"]),
        subtask("c", &["a"]),
        subtask("d", &["b", "c"]),
    ]);
    assert_eq!(plan.check(), vec![]);
}

#[test]
fn unsafe_paths_are_problems_each_located() {
    let mut one = subtask("a", &[]);
    one.files = vec![
        "../x".into(),
        "/abs".into(),
        ".git/config".into(),
        "vendor/lib/.git/HEAD".into(),
        ".baton/baton.db".into(),
        "src\\win.rs".into(),
        "C:/x".into(),
        "".into(),
        "./".into(),
    ];
    one.context = vec!["a/../../b".into()];
    let plan = plan(vec![one]);
    assert_eq!(
        problems(&plan),
        vec![
            "subtasks[0].files[0]: `../x` climbs out with `..`",
            "subtasks[0].files[1]: `/abs` is absolute; paths are relative to the project root",
            "subtasks[0].files[2]: `.git/config` is inside `.git`",
            "subtasks[0].files[3]: `vendor/lib/.git/HEAD` is inside `.git`",
            "subtasks[0].files[4]: `.baton/baton.db` is inside `.baton`, Baton's own state",
            "subtasks[0].files[5]: `src\\win.rs` uses a backslash; write paths with `/`",
            "subtasks[0].files[6]: `C:/x` is absolute; paths are relative to the project root",
            "subtasks[0].files[7]: is empty",
            "subtasks[0].files[8]: `./` names no file",
            "subtasks[0].context[0]: `a/../../b` climbs out with `..`",
        ]
    );
}

#[test]
fn a_subtask_of_any_kind_without_files_is_a_problem() {
    let mut code = subtask("a", &[]);
    code.files.clear();
    let mut test = subtask("b", &[]);
    test.kind = SubtaskKind::Test;
    test.files.clear();
    let mut docs = subtask("c", &[]);
    docs.kind = SubtaskKind::Docs;
    docs.files.clear();
    let plan = plan(vec![code, test, docs]);
    assert_eq!(
        problems(&plan),
        vec![
            "subtasks[0].files: a code subtask must own at least one file",
            "subtasks[1].files: a test subtask must own at least one file",
            "subtasks[2].files: a docs subtask must own at least one file",
        ]
    );
}

#[test]
fn two_subtasks_owning_one_file_is_not_a_problem() {
    let mut b = subtask("b", &[]);
    b.files = vec!["./src/a.rs".into()];
    let plan = plan(vec![subtask("a", &[]), b]);
    assert_eq!(plan.check(), vec![]);
}

#[test]
fn normalised_paths_drop_dot_components_and_repeated_slashes() {
    let mut one = subtask("a", &[]);
    one.files = vec![
        "./src/x.py".into(),
        "src//y/./z.py".into(),
        " docs/ ".into(),
    ];
    one.context = vec!["././README.md".into()];
    let normal = plan(vec![one]).normalized();
    assert_eq!(
        normal.subtasks[0].files,
        vec!["src/x.py", "src/y/z.py", "docs"]
    );
    assert_eq!(normal.subtasks[0].context, vec!["README.md"]);
}

/// Every keyword of `schema` and its sub-schemas, and every object schema's `required` keys
/// that are missing from its `properties`.
fn walk(schema: &Value, keywords: &mut BTreeSet<String>, missing: &mut Vec<String>) {
    let Some(object) = schema.as_object() else {
        return;
    };
    keywords.extend(object.keys().cloned());
    if object.get("type") == Some(&json!("object")) {
        assert_eq!(object.get("additionalProperties"), Some(&json!(false)));
        let properties = object["properties"].as_object().unwrap();
        for key in object["required"].as_array().unwrap() {
            let key = key.as_str().unwrap();
            if !properties.contains_key(key) {
                missing.push(key.to_string());
            }
        }
        for property in properties.values() {
            walk(property, keywords, missing);
        }
    }
    if let Some(items) = object.get("items") {
        walk(items, keywords, missing);
    }
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn the_schemas_require_only_keys_they_define_and_use_only_what_a_grammar_takes() {
    let allowed: BTreeSet<String> = [
        "type",
        "properties",
        "required",
        "items",
        "enum",
        "additionalProperties",
        "minItems",
        "description",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    for schema in [Plan::schema(), Verdict::schema()] {
        let mut keywords = BTreeSet::new();
        let mut missing = Vec::new();
        walk(&schema, &mut keywords, &mut missing);
        assert_eq!(missing, Vec::<String>::new());
        assert!(keywords.is_subset(&allowed), "{keywords:?}");
    }
}

#[test]
fn a_plan_serialized_has_exactly_the_schemas_property_names() {
    let schema = Plan::schema();
    let mut plan = full_plan();
    // `worker` is the user's to pin, not the model's: the schema leaves it out.
    plan.subtasks[0].worker = None;
    let value = serde_json::to_value(&plan).unwrap();
    assert_eq!(keys(&value), keys(&schema["properties"]));
    assert_eq!(
        keys(&value["subtasks"][0]),
        keys(&schema["properties"]["subtasks"]["items"]["properties"])
    );
    let kinds: Vec<Value> = SubtaskKind::ALL
        .iter()
        .map(|kind| serde_json::to_value(kind).unwrap())
        .collect();
    assert_eq!(
        schema["properties"]["subtasks"]["items"]["properties"]["kind"]["enum"],
        Value::Array(kinds)
    );
}

#[test]
fn a_verdict_serialized_has_exactly_the_schemas_property_names() {
    let schema = Verdict::schema();
    let value = serde_json::to_value(rejection()).unwrap();
    assert_eq!(keys(&value), keys(&schema["properties"]));
    assert_eq!(
        keys(&value["findings"][0]),
        keys(&schema["properties"]["findings"]["items"]["properties"])
    );
    let checks: Vec<Value> = Check::ALL
        .iter()
        .map(|check| serde_json::to_value(check).unwrap())
        .collect();
    assert_eq!(
        schema["properties"]["findings"]["items"]["properties"]["check"]["enum"],
        Value::Array(checks)
    );
}

fn finding(check: Check, passed: bool) -> Finding {
    Finding {
        check,
        passed,
        note: "src/a.rs:3".into(),
    }
}

fn rejection() -> Verdict {
    Verdict {
        approved: false,
        findings: vec![finding(Check::CriteriaMet, false)],
        required_fixes: vec!["handle the empty input".into()],
    }
}

fn verdict_problems(verdict: &Verdict) -> Vec<String> {
    verdict.check().iter().map(ToString::to_string).collect()
}

#[test]
fn a_verdict_round_trips_through_json_from_a_fenced_answer() {
    let verdict = rejection();
    let text = format!("```json\n{}\n```", serde_json::to_string(&verdict).unwrap());
    assert_eq!(Verdict::from_json(&text).unwrap(), verdict);
    assert_eq!(verdict.check(), vec![]);
}

#[test]
fn a_verdict_check_with_an_unknown_name_is_located() {
    let text =
        r#"{"approved": true, "findings": [{"check": "vibes", "passed": true, "note": ""}]}"#;
    let error = Verdict::from_json(text).unwrap_err();
    assert!(
        error.starts_with("findings[0].check: unknown variant `vibes`"),
        "{error}"
    );
}

#[test]
fn a_rejection_without_required_fixes_is_a_problem() {
    let mut verdict = rejection();
    verdict.required_fixes = vec![" ".into()];
    assert_eq!(
        verdict_problems(&verdict),
        vec!["required_fixes: a rejection must list the fixes it requires"]
    );
}

#[test]
fn an_approval_with_a_failed_finding_or_required_fixes_is_a_problem() {
    let verdict = Verdict {
        approved: true,
        findings: vec![
            finding(Check::MatchesDesign, true),
            finding(Check::BuildAndTestsPass, false),
        ],
        required_fixes: vec!["fix the build".into()],
    };
    assert_eq!(
        verdict_problems(&verdict),
        vec![
            "required_fixes: an approval cannot require fixes; reject instead",
            "findings[1]: the verdict approves, but `build_and_tests_pass` failed (the build passes and the tests pass)",
        ]
    );
}

#[test]
fn a_check_listed_twice_is_a_problem_but_a_missing_one_is_not() {
    let verdict = Verdict {
        approved: true,
        findings: vec![
            finding(Check::CriteriaMet, true),
            finding(Check::CriteriaMet, true),
        ],
        required_fixes: vec![],
    };
    assert_eq!(
        verdict_problems(&verdict),
        vec!["findings[1].check: `criteria_met` is also the check of findings[0]"]
    );
}

#[test]
fn every_check_has_a_distinct_sentence() {
    let sentences: BTreeSet<&str> = Check::ALL.iter().map(|check| check.describe()).collect();
    assert_eq!(sentences.len(), Check::ALL.len());
    assert_eq!(
        Check::MatchesDesign.describe(),
        "the implementation matches the design"
    );
}

#[test]
fn the_json_object_is_found_in_a_fence() {
    let text = "```json\n{\"a\": 1}\n```";
    assert_eq!(extract_json_object(text), Some("{\"a\": 1}"));
}

#[test]
fn the_json_object_is_found_between_prose() {
    let text = "I think this works: {\"a\": {\"b\": [1, 2]}} -- let me know.";
    assert_eq!(extract_json_object(text), Some("{\"a\": {\"b\": [1, 2]}}"));
}

#[test]
fn braces_and_escaped_quotes_inside_strings_do_not_count() {
    let object = r#"{"code": "fn f() { \"}\" }", "n": "\\"}"#;
    let text = format!("Answer:\n{object}\nend }}");
    assert_eq!(extract_json_object(&text), Some(object));
}

#[test]
fn a_brace_in_the_prose_before_the_object_is_passed_over() {
    let text = "Use {placeholders} like this: {\"a\": 1}";
    assert_eq!(extract_json_object(text), Some("{\"a\": 1}"));
    let unclosed = "An opening { never closed, then {\"a\": 2}";
    assert_eq!(extract_json_object(unclosed), Some("{\"a\": 2}"));
}

#[test]
fn text_without_an_object_has_none() {
    assert_eq!(extract_json_object("no json here"), None);
    assert_eq!(extract_json_object("{ unclosed"), None);
    let error = Plan::from_json("no json here").unwrap_err();
    assert!(error.contains("line 1"), "{error}");
}

#[test]
fn a_spec_takes_the_title_and_first_paragraph_as_its_goal() {
    let text = "---\nid: T-1\ntitle: Add a cache\n---\n# Add a cache\n\nRepeated requests\nhit the model.\n\n## Acceptance criteria\n- a hit is free\n## Scope\n- baton-llm\n";
    let ticket = Ticket::parse(text, "x").unwrap();
    assert_eq!(
        Spec::from_ticket(&ticket),
        Spec {
            goal: "Add a cache: Repeated requests hit the model.".into(),
            acceptance: vec!["a hit is free".into()],
            scope: vec!["baton-llm".into()],
            constraints: vec![],
        }
    );
}

#[test]
fn a_spec_of_a_ticket_without_a_paragraph_is_its_title() {
    let ticket = Ticket::parse("# Add a cache\n## Acceptance\n- a\n", "x").unwrap();
    assert_eq!(Spec::from_ticket(&ticket).goal, "Add a cache");
}
