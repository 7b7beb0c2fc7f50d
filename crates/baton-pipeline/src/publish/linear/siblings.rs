//! The sibling cross-reference at sign-off: once a run's work is merged, the issues next to
//! its issue (the parent's other sub-issues, the related ones, those it blocks and those
//! blocking it) are checked against what the run delivered. A sibling some of whose
//! acceptance criteria are now built gets a comment saying what and by whom, and an
//! `## [Already Built]` section in its description that ticks them; one whose criteria are
//! all built is moved to the done state. Closed siblings and those without checkbox
//! criteria are left alone. Every step can be done again without doubling anything: the
//! section is replaced, a comment is looked for by its marker before a retry posts it, and
//! a state already reached is not set again.

use std::fmt::Write as _;

use baton_core::publish::LinearTarget;
use serde_json::{Value, json};

use super::api::{self, Api};
use super::{
    Deliver, Delivered, PAGE, create_comment, criteria, find_comment, footer, marker_text, move_to,
    update_issue,
};

const SIBLINGS: &str = "query BatonSiblings($id: String!, $first: Int) {
  issue(id: $id) {
    id identifier url
    parent { id identifier children(first: $first) { nodes { ...BatonSibling } } }
    relations(first: $first) { nodes { type relatedIssue { ...BatonSibling } } }
    inverseRelations(first: $first) { nodes { type issue { ...BatonSibling } } }
  }
}

fragment BatonSibling on Issue {
  id identifier description url
  state { name type }
}";

/// The relations that make an issue a sibling. `duplicate` is left out (Linear closes a
/// duplicate as such, and its criteria are the original's), and so is `similar` (Linear's
/// own suggestion, not a link someone made).
const RELATED: &[&str] = &["blocks", "related"];

/// The workflow state types of closed issues, which are left as they are.
const CLOSED: &[&str] = &["completed", "canceled", "duplicate"];

/// An issue next to the run's, as the query reads it.
#[derive(Debug, Clone, PartialEq)]
struct Sibling {
    id: String,
    identifier: String,
    description: String,
    state: String,
    state_type: String,
    /// How it is next to the run's issue.
    how: &'static str,
}

impl Sibling {
    fn read(node: &Value, how: &'static str) -> Sibling {
        Sibling {
            id: api::text(node, "/id").to_string(),
            identifier: api::text(node, "/identifier").to_string(),
            description: api::text(node, "/description").to_string(),
            state: api::text(node, "/state/name").to_string(),
            state_type: api::text(node, "/state/type").to_string(),
            how,
        }
    }
}

/// The siblings of `issue` (the query's answer), each once, in the order: the parent's
/// other sub-issues, the issue's own relations, the relations others have to it.
fn siblings_of(issue: &Value) -> Vec<Sibling> {
    let mut found: Vec<Sibling> = Vec::new();
    let children = api::nodes(issue, "/parent/children")
        .iter()
        .map(|node| Sibling::read(node, "sub-issue of the same parent"));
    let outgoing = api::nodes(issue, "/relations")
        .iter()
        .filter_map(|relation| {
            let kind = api::text(relation, "/type");
            RELATED.contains(&kind).then(|| {
                let how = if kind == "blocks" {
                    "blocked by it"
                } else {
                    "related"
                };
                Sibling::read(&relation["relatedIssue"], how)
            })
        });
    let incoming = api::nodes(issue, "/inverseRelations")
        .iter()
        .filter_map(|relation| {
            let kind = api::text(relation, "/type");
            RELATED.contains(&kind).then(|| {
                let how = if kind == "blocks" {
                    "blocking it"
                } else {
                    "related"
                };
                Sibling::read(&relation["issue"], how)
            })
        });
    let own = api::text(issue, "/id");
    for sibling in children.chain(outgoing).chain(incoming) {
        if sibling.id.is_empty()
            || sibling.id == own
            || found.iter().any(|seen| seen.id == sibling.id)
        {
            continue;
        }
        found.push(sibling);
    }
    found
}

/// The marker of the comment on `sibling`: the delivery's, with the sibling named, so that
/// each sibling's comment is found on its own.
fn sibling_marker(marker: &str, sibling: &str) -> String {
    format!("<!-- {}:{sibling} -->", marker_text(marker))
}

/// What each criterion of a sibling came to.
#[derive(Debug, Clone, PartialEq)]
enum Built<'d> {
    /// Covered by this delivered criterion.
    Now(&'d String),
    /// Ticked in the section by an earlier run.
    Before,
    Not,
}

impl Built<'_> {
    fn ticked(&self) -> bool {
        !matches!(self, Built::Not)
    }
}

/// The `[Already Built]` section for `criteria`.
fn section(criteria: &[String], built: &[Built<'_>], attribution: &str) -> String {
    let mut text = format!(
        "{}\n_What is built already, as last checked by {attribution}._\n\n",
        criteria::SECTION
    );
    for (criterion, built) in criteria.iter().zip(built) {
        let tick = if built.ticked() { "x" } else { " " };
        let _ = writeln!(text, "- [{tick}] {criterion}");
    }
    text
}

/// The comment on a sibling some of whose criteria were just built.
fn comment(criteria: &[String], built: &[Built<'_>], attribution: &str, done: &str) -> String {
    let all = built.iter().all(Built::ticked);
    let now = built
        .iter()
        .filter(|built| matches!(built, Built::Now(_)))
        .count();
    let mut text = "### Already built elsewhere\n".to_string();
    if all && now == criteria.len() {
        let _ = writeln!(
            text,
            "{attribution} delivered every acceptance criterion of this issue, so it moves to **{done}**.\n"
        );
    } else if all {
        let _ = writeln!(
            text,
            "{attribution} delivered the rest of this issue's acceptance criteria: all of them are built, so it moves to **{done}**.\n"
        );
    } else {
        let _ = writeln!(
            text,
            "{attribution} delivered {now} of this issue's {} acceptance criteria:\n",
            criteria.len()
        );
    }
    for (criterion, built) in criteria.iter().zip(built) {
        let _ = match built {
            Built::Now(delivered) if criteria::same(delivered, criterion) => {
                writeln!(text, "- [x] {criterion}")
            }
            Built::Now(delivered) => {
                writeln!(text, "- [x] {criterion} (delivered as: {delivered})")
            }
            Built::Before => writeln!(text, "- [x] {criterion} (built before)"),
            Built::Not => writeln!(text, "- [ ] {criterion} (still to do)"),
        };
    }
    text.push_str("\nThe description's **[Already Built]** section keeps track of them.");
    text
}

pub(super) async fn deliver(
    api: &Api,
    target: &LinearTarget,
    cx: &Deliver<'_>,
    delivered: &[String],
    attribution: &str,
) -> Result<Delivered, String> {
    let data = api
        .run(SIBLINGS, json!({ "id": target.issue, "first": PAGE }))
        .await
        .map_err(|error| format!("reading the issues next to {}: {error}", target.issue))?;
    let issue = &data["issue"];
    let mut report = Vec::new();
    for sibling in siblings_of(issue) {
        report.push(cross_reference(api, target, cx, &sibling, delivered, attribution).await?);
    }
    Ok(Delivered {
        result: Some(json!({ "siblings": report })),
        link: Some(api::text(issue, "/url").to_string()).filter(|url| !url.is_empty()),
    })
}

/// Checks one sibling against what was delivered and does what that calls for; what was
/// done, for the result.
async fn cross_reference(
    api: &Api,
    target: &LinearTarget,
    cx: &Deliver<'_>,
    sibling: &Sibling,
    delivered: &[String],
    attribution: &str,
) -> Result<Value, String> {
    let mut entry = json!({ "issue": sibling.identifier, "as": sibling.how });
    if CLOSED.contains(&sibling.state_type.as_str()) {
        entry["skipped"] = json!(format!("closed ({})", sibling.state));
        return Ok(entry);
    }
    let criteria = criteria::parse(&sibling.description);
    if criteria.is_empty() {
        entry["skipped"] = json!("no acceptance criteria (checkbox items) in its description");
        return Ok(entry);
    }
    let before = criteria::built_before(&sibling.description);
    let built: Vec<Built<'_>> = criteria
        .iter()
        .map(
            |criterion| match criteria::covered_by(criterion, delivered) {
                Some(by) => Built::Now(by),
                None if before.iter().any(|old| criteria::same(old, criterion)) => Built::Before,
                None => Built::Not,
            },
        )
        .collect();
    let covered: Vec<&String> = criteria
        .iter()
        .zip(&built)
        .filter(|(_, built)| matches!(built, Built::Now(_)))
        .map(|(criterion, _)| criterion)
        .collect();
    entry["covered"] = json!(covered);
    entry["criteria"] = json!(criteria.len());
    if covered.is_empty() {
        return Ok(entry);
    }

    let description = criteria::with_section(
        &sibling.description,
        &section(&criteria, &built, attribution),
    );
    if description != sibling.description {
        update_issue(
            api,
            &sibling.id,
            &sibling.identifier,
            json!({ "description": description }),
        )
        .await?;
        entry["section"] = json!("written");
    } else {
        entry["section"] = json!("unchanged");
    }

    let marker = sibling_marker(&cx.marker(), &sibling.identifier);
    let found = if cx.delivery.earlier_attempts > 0 {
        find_comment(api, &sibling.id, &marker).await?
    } else {
        None
    };
    let posted = match found {
        Some(found) => {
            entry["found"] = json!(true);
            found
        }
        None => {
            let text = comment(&criteria, &built, attribution, &target.done);
            create_comment(api, &sibling.id, &format!("{text}\n\n{}", footer(&marker))).await?
        }
    };
    entry["comment"] = json!(posted.url);

    // The move comes last: once closed, a sibling is skipped by a retry.
    if built.iter().all(Built::ticked) {
        match move_to(api, &sibling.id, &target.done).await? {
            Ok(moved) => entry["moved"] = json!(moved.state),
            // A team without the state: the rest is done, and trying again would not help.
            Err(missing) => entry["not_moved"] = json!(missing),
        }
    }
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn node(id: &str, state_type: &str) -> Value {
        json!({
            "id": format!("uuid-{id}"), "identifier": id, "description": "", "url": "",
            "state": { "name": state_type, "type": state_type },
        })
    }

    #[test]
    fn siblings_are_the_parents_other_children_and_related_and_blocking_issues_once_each() {
        let issue = json!({
            "id": "uuid-ENG-1", "identifier": "ENG-1", "url": "u",
            "parent": { "id": "uuid-ENG-0", "identifier": "ENG-0", "children": { "nodes": [
                node("ENG-1", "started"), node("ENG-2", "unstarted"), node("ENG-3", "unstarted"),
            ]}},
            "relations": { "nodes": [
                { "type": "blocks", "relatedIssue": node("ENG-4", "backlog") },
                { "type": "related", "relatedIssue": node("ENG-2", "unstarted") },
                { "type": "duplicate", "relatedIssue": node("ENG-5", "backlog") },
                { "type": "similar", "relatedIssue": node("ENG-6", "backlog") },
            ]},
            "inverseRelations": { "nodes": [
                { "type": "blocks", "issue": node("ENG-7", "started") },
                { "type": "related", "issue": node("ENG-8", "completed") },
            ]},
        });
        let got: Vec<(String, &str)> = siblings_of(&issue)
            .into_iter()
            .map(|sibling| (sibling.identifier, sibling.how))
            .collect();
        assert_eq!(
            got,
            vec![
                ("ENG-2".to_string(), "sub-issue of the same parent"),
                ("ENG-3".to_string(), "sub-issue of the same parent"),
                ("ENG-4".to_string(), "blocked by it"),
                ("ENG-7".to_string(), "blocking it"),
                ("ENG-8".to_string(), "related"),
            ]
        );
        // No parent and no relations: no siblings.
        assert_eq!(
            siblings_of(&json!({ "id": "x", "parent": null })),
            Vec::new()
        );
    }

    #[test]
    fn a_siblings_marker_is_the_deliverys_with_the_sibling_named() {
        assert_eq!(
            sibling_marker("<!-- baton:R1:siblings -->", "ENG-5"),
            "<!-- baton:R1:siblings:ENG-5 -->"
        );
    }
}
