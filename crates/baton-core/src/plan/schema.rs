//! The JSON schemas a model's plan or verdict must follow, sent as
//! `response_format: {type: json_schema}`. llama-server turns a schema into a grammar and
//! supports only part of JSON Schema, so these use only `type`, `properties`, `required`,
//! `items`, `enum`, `additionalProperties: false`, `minItems` and `description`: no `$ref`,
//! no `oneOf`, no `pattern`. What the schema cannot say (id syntax, paths) `check` says.
//! Enum values are taken from the types' serde names, and a test holds the property names
//! to the structs' fields, so schema and types cannot drift.

use serde_json::{Value, json};

use super::{Check, Plan, SubtaskKind, Verdict};

impl Plan {
    /// The schema of an architect's answer. Every field is required, so that a grammar makes
    /// the model write each one (an empty list where it has nothing); `worker` is left out:
    /// which workers exist is the user's to say, not the model's to guess.
    pub fn schema() -> Value {
        let kinds: Vec<&str> = SubtaskKind::ALL.iter().map(|kind| kind.as_str()).collect();
        let subtask = json!({
            "type": "object",
            "description": "One unit of work, done by one worker in one dispatch.",
            "properties": {
                "id": string("Unique short id of letters, digits, `.`, `_` and `-`, e.g. `parser`."),
                "title": string("A short title."),
                "what": string("What to do, precisely enough for a coder who sees only this subtask and its files."),
                "kind": {
                    "type": "string",
                    "enum": kinds,
                    "description": "code, test or docs.",
                },
                "files": strings("The files it creates or changes, relative to the project root. Required for code and test."),
                "context": strings("Files it reads but does not change, relative to the project root."),
                "constraints": strings("Rules the change must follow."),
                "acceptance": strings("How to tell it is done."),
                "depends_on": strings("Ids of the subtasks that must be done before this one."),
            },
            "required": ["id", "title", "what", "kind", "files", "context", "constraints", "acceptance", "depends_on"],
            "additionalProperties": false,
        });
        json!({
            "type": "object",
            "description": "A plan: how the spec is to be built, as subtasks.",
            "properties": {
                "summary": string("The approach, in a few sentences."),
                "decisions": strings("Design decisions and why they were made."),
                "interfaces": strings("Interfaces the subtasks share: signatures, types, formats."),
                "subtasks": {
                    "type": "array",
                    "minItems": 1,
                    "items": subtask,
                    "description": "The subtasks, each owning the files it changes.",
                },
            },
            "required": ["summary", "decisions", "interfaces", "subtasks"],
            "additionalProperties": false,
        })
    }
}

impl Verdict {
    /// The schema of a reviewer's answer. Every field is required, as for [`Plan::schema`].
    pub fn schema() -> Value {
        let checks: Vec<&str> = Check::ALL.iter().map(|check| check.as_str()).collect();
        let checklist: Vec<String> = Check::ALL
            .iter()
            .map(|check| format!("{}: {}", check.as_str(), check.describe()))
            .collect();
        let finding = json!({
            "type": "object",
            "description": "The answer to one item of the checklist.",
            "properties": {
                "check": {
                    "type": "string",
                    "enum": checks,
                    "description": format!("The checklist item: {}.", checklist.join("; ")),
                },
                "passed": {"type": "boolean", "description": "Whether the item holds."},
                "note": string("Why, naming the file and line where it applies."),
            },
            "required": ["check", "passed", "note"],
            "additionalProperties": false,
        });
        json!({
            "type": "object",
            "description": "A review of the change against the design and the acceptance criteria.",
            "properties": {
                "approved": {"type": "boolean", "description": "Whether the change is ready to merge."},
                "findings": {
                    "type": "array",
                    "items": finding,
                    "description": "One finding per checklist item.",
                },
                "required_fixes": strings("What must change before approval; empty when approved."),
            },
            "required": ["approved", "findings", "required_fixes"],
            "additionalProperties": false,
        })
    }
}

fn string(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

fn strings(description: &str) -> Value {
    json!({"type": "array", "items": {"type": "string"}, "description": description})
}
