//! What a run works from and answers with (DESIGN.md section 8): the [`Spec`] drawn from a
//! ticket, the architect's [`Plan`] of [`Subtask`]s, and the reviewer's [`Verdict`] of
//! [`Finding`]s against the review checklist ([`Check`]). Parsing (JSON from a model, which may
//! wrap it in prose or a fence, TOML from `--plan PLAN.toml`) lives here; the checks that find
//! every problem of a plan or a verdict live in `plan/check.rs`, the JSON schemas a model's
//! answer is held to in `plan/schema.rs`.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::ticket::{Ticket, first_paragraph};

mod check;
mod schema;

/// What a run must achieve, drawn from a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    /// The ticket's title, then `: ` and its first paragraph when it has one.
    pub goal: String,
    pub acceptance: Vec<String>,
    pub scope: Vec<String>,
    pub constraints: Vec<String>,
}

impl Spec {
    /// The spec a ticket states, taken as written.
    pub fn from_ticket(ticket: &Ticket) -> Spec {
        let goal = match first_paragraph(&ticket.body) {
            Some(paragraph) if paragraph != ticket.title => {
                format!("{}: {paragraph}", ticket.title)
            }
            _ => ticket.title.clone(),
        };
        Spec {
            goal,
            acceptance: ticket.acceptance.clone(),
            scope: ticket.scope.clone(),
            constraints: ticket.constraints.clone(),
        }
    }
}

/// What a subtask produces, which decides what it must own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SubtaskKind {
    #[default]
    Code,
    Test,
    Docs,
}

impl SubtaskKind {
    pub const ALL: [SubtaskKind; 3] = [SubtaskKind::Code, SubtaskKind::Test, SubtaskKind::Docs];

    pub fn as_str(self) -> &'static str {
        match self {
            SubtaskKind::Code => "code",
            SubtaskKind::Test => "test",
            SubtaskKind::Docs => "docs",
        }
    }
}

impl fmt::Display for SubtaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One unit of work of a plan: what one dispatch does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subtask {
    /// Unique within the plan, `[A-Za-z0-9._-]+`; what `depends_on` names.
    pub id: String,
    pub title: String,
    /// What to do, for the worker.
    pub what: String,
    #[serde(default)]
    pub kind: SubtaskKind,
    /// The files it owns (and may create), relative to the project root. Two subtasks that
    /// own a common file never run at once.
    pub files: Vec<String>,
    /// Files it reads but does not change.
    #[serde(default)]
    pub context: Vec<String>,
    #[serde(default)]
    pub constraints: Vec<String>,
    #[serde(default)]
    pub acceptance: Vec<String>,
    /// The ids of subtasks that must be done first.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// The worker profile to run it with, when the plan pins one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
}

/// The architect's answer: how the spec is to be built, as subtasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub summary: String,
    /// Design decisions, for the PR description.
    #[serde(default)]
    pub decisions: Vec<String>,
    /// Interfaces subtasks share (signatures, types), given to each as context.
    #[serde(default)]
    pub interfaces: Vec<String>,
    pub subtasks: Vec<Subtask>,
}

/// One problem with a plan or a verdict, located:
/// `subtasks[1].depends_on[0]: no subtask has the id "b2"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanProblem {
    /// Where, as a path into the value (`subtasks[1].depends_on[0]`).
    pub at: String,
    pub problem: String,
}

impl PlanProblem {
    pub(crate) fn new(at: impl Into<String>, problem: impl Into<String>) -> PlanProblem {
        PlanProblem {
            at: at.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for PlanProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.problem)
    }
}

impl Plan {
    /// Parses JSON, as is or as the one object inside a model's prose or fence. The error is one
    /// line naming where the value went wrong and what was expected.
    pub fn from_json(text: &str) -> Result<Plan, String> {
        from_model_json(text)
    }

    /// Parses TOML (`summary = ...`, `[[subtasks]]` tables); the error names the line.
    pub fn from_toml(text: &str) -> Result<Plan, String> {
        let located = |error: toml::de::Error, path: Option<String>| {
            let line = error.span().map(|span| line_of(text, span.start));
            let message = one_line(error.message());
            match (line, path) {
                (Some(line), Some(path)) => format!("line {line}: {path}: {message}"),
                (Some(line), None) => format!("line {line}: {message}"),
                (None, Some(path)) => format!("{path}: {message}"),
                (None, None) => message,
            }
        };
        let document = toml::Deserializer::parse(text).map_err(|error| located(error, None))?;
        serde_path_to_error::deserialize(document).map_err(|error| {
            let path = path_name(error.path());
            located(error.into_inner(), path)
        })
    }

    /// The subtask with this id.
    pub fn subtask(&self, id: &str) -> Option<&Subtask> {
        self.subtasks.iter().find(|subtask| subtask.id == id)
    }
}

/// The reviewer's checklist, one finding per item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    MatchesDesign,
    CriteriaMet,
    NoInventedDependencies,
    TestsCoverCases,
    FollowsConventions,
    BuildAndTestsPass,
}

impl Check {
    /// Every check, in the checklist's order.
    pub const ALL: [Check; 6] = [
        Check::MatchesDesign,
        Check::CriteriaMet,
        Check::NoInventedDependencies,
        Check::TestsCoverCases,
        Check::FollowsConventions,
        Check::BuildAndTestsPass,
    ];

    /// The name a verdict's JSON uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Check::MatchesDesign => "matches_design",
            Check::CriteriaMet => "criteria_met",
            Check::NoInventedDependencies => "no_invented_dependencies",
            Check::TestsCoverCases => "tests_cover_cases",
            Check::FollowsConventions => "follows_conventions",
            Check::BuildAndTestsPass => "build_and_tests_pass",
        }
    }

    /// The checklist's sentence for this check.
    pub fn describe(self) -> &'static str {
        match self {
            Check::MatchesDesign => "the implementation matches the design",
            Check::CriteriaMet => "every acceptance criterion is met",
            Check::NoInventedDependencies => "no imports or dependencies are invented",
            Check::TestsCoverCases => {
                "the tests cover meaningful cases (the happy path and the error cases)"
            }
            Check::FollowsConventions => "the code follows the project's patterns and conventions",
            Check::BuildAndTestsPass => "the build passes and the tests pass",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The reviewer's answer to one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub check: Check,
    pub passed: bool,
    /// Why, with the file and line where it applies.
    pub note: String,
}

/// The reviewer's answer: approved or not, the findings, and what must change before approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    pub approved: bool,
    pub findings: Vec<Finding>,
    #[serde(default)]
    pub required_fixes: Vec<String>,
}

impl Verdict {
    /// Parses JSON, as [`Plan::from_json`] does.
    pub fn from_json(text: &str) -> Result<Verdict, String> {
        from_model_json(text)
    }
}

/// `text` as JSON, else the object [`extract_json_object`] finds in it. When both fail, the
/// error is the object's: that is the answer the model meant.
fn from_model_json<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let whole = match parse_json(text) {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    match extract_json_object(text) {
        Some(object) if object != text.trim() => parse_json(object),
        _ => Err(whole),
    }
}

fn parse_json<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let message = one_line(&error.inner().to_string());
        match path_name(error.path()) {
            Some(path) => format!("{path}: {message}"),
            None => message,
        }
    })?;
    // Trailing text after the value is an error here, which sends the caller to the extractor.
    deserializer
        .end()
        .map_err(|error| one_line(&error.to_string()))?;
    Ok(value)
}

/// A path the way problems name places (`subtasks[0].kinds`), or `None` for the root.
fn path_name(path: &serde_path_to_error::Path) -> Option<String> {
    let name = path.to_string();
    (!name.is_empty() && name != ".").then_some(name)
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The object in a model's answer that wraps JSON in a ```json fence or prose: the first
/// outermost balanced `{...}` that is valid JSON, else the first balanced one at all (so that
/// the parse error is about it). Braces inside JSON strings, and escaped quotes, are not counted.
pub fn extract_json_object(text: &str) -> Option<&str> {
    let mut first = None;
    for candidate in balanced_objects(text) {
        if serde_json::from_str::<serde::de::IgnoredAny>(candidate).is_ok() {
            return Some(candidate);
        }
        first.get_or_insert(candidate);
    }
    first
}

/// Every outermost balanced `{...}` of `text`, in order. One that never closes is skipped, and
/// the search goes on from the brace after its opening one.
fn balanced_objects(text: &str) -> impl Iterator<Item = &str> {
    let mut search = 0;
    std::iter::from_fn(move || {
        while let Some(found) = text.get(search..)?.find('{') {
            let start = search + found;
            match closing_brace(&text.as_bytes()[start..]) {
                Some(length) => {
                    search = start + length;
                    // Both ends are ASCII braces, so these are char boundaries.
                    return text.get(start..start + length);
                }
                None => search = start + 1,
            }
        }
        None
    })
}

/// The length of the object that `bytes` opens with, up to and including its closing brace.
fn closing_brace(bytes: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (offset, byte) in bytes.iter().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' => depth += 1,
            b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(offset + 1);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests;
