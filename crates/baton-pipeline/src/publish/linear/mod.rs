//! Linear, through its GraphQL API (the personal API key in `[publish.linear] api_key_env`,
//! `LINEAR_API_KEY` by default): a comment per phase on the run's issue, the issue's status
//! moved through the workflow (`in_progress`, `in_review`, `done`), the sibling
//! cross-reference at sign-off, and issues read as tickets.
//!
//! Parts:
//! - this file: the deliveries of a comment and a status, reading an issue, and the queries
//!   they share;
//! - `api.rs`: the HTTP and GraphQL client, and the API key kept out of sight;
//! - `siblings.rs`: the sibling cross-reference;
//! - `criteria.rs`: acceptance criteria read from a description, matched against what was
//!   delivered, and the `[Already Built]` section written back.
//!
//! Every query is checked in tests against an excerpt of Linear's public schema
//! (`baton-test-support/fixtures/linear-schema.graphql`). A retried publication looks for
//! the marker its earlier attempt would have posted before it posts, so that nothing is
//! posted twice; a status already reached is not set again.

mod api;
mod criteria;
mod siblings;

use std::time::Duration;

use baton_config::LinearPublishSettings;
use baton_core::publish::LinearTarget;
use baton_ops::Project;
use serde_json::{Value, json};

use super::tracker::Issue;
use super::{Action, Deliver, Delivered};
use api::Api;

/// Whether `text` is a Linear issue identifier: a team key (letters, then letters or
/// digits) and a number, `ENG-12`.
pub(crate) fn is_identifier(text: &str) -> bool {
    let Some((team, number)) = text.split_once('-') else {
        return false;
    };
    team.starts_with(|c: char| c.is_ascii_alphabetic())
        && team.chars().all(|c| c.is_ascii_alphanumeric())
        && !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit())
}

/// How many items a connection is asked for: more workflow states, children or relations
/// than this on one issue is beyond what the cross-reference is for, and Linear weighs a
/// query by the pages it asks for.
const PAGE: i64 = 100;

const ISSUE: &str = "query BatonIssue($id: String!) {
  issue(id: $id) { id identifier title description url }
}";

const ISSUE_STATE: &str = "query BatonIssueState($id: String!, $first: Int) {
  issue(id: $id) {
    id identifier url
    state { id name type }
    team { key states(first: $first) { nodes { id name type } } }
  }
}";

const FIND_COMMENT: &str = "query BatonFindComment($id: String!, $marker: String!) {
  issue(id: $id) {
    comments(first: 1, filter: { body: { contains: $marker } }) { nodes { id url } }
  }
}";

const CREATE_COMMENT: &str = "mutation BatonComment($input: CommentCreateInput!) {
  commentCreate(input: $input) { success comment { id url } }
}";

const UPDATE_ISSUE: &str = "mutation BatonIssueUpdate($id: String!, $input: IssueUpdateInput!) {
  issueUpdate(id: $id, input: $input) { success issue { id } }
}";

pub(crate) async fn deliver(
    target: &LinearTarget,
    cx: &Deliver<'_>,
    action: &Action,
) -> Result<Delivered, String> {
    let api = || {
        Api::new(
            super::secret(cx.project, &target.api_key_env),
            &target.api_url,
            &target.api_key_env,
            cx.timeout,
        )
    };
    match action {
        Action::Comment { body } => comment(&api()?, target, cx, body).await,
        Action::State { state } => {
            let moved = move_to(&api()?, &target.issue, state).await??;
            Ok(Delivered {
                result: Some(moved.result()),
                link: Some(moved.url),
            })
        }
        Action::Siblings {
            delivered,
            attribution,
        } => siblings::deliver(&api()?, target, cx, delivered, attribution).await,
        other => Err(format!("Linear does not take `{}`", other.name())),
    }
}

/// Issue `id` (an identifier such as `ENG-12`, or a UUID) as a ticket: its identifier, title,
/// description and URL.
pub(crate) async fn issue(
    project: &Project,
    settings: &LinearPublishSettings,
    id: &str,
    timeout: Duration,
) -> Result<Issue, String> {
    let api = Api::new(
        super::secret(project, &settings.api_key_env),
        &settings.api_url,
        &settings.api_key_env,
        timeout,
    )?;
    let data = api.run(ISSUE, json!({ "id": id })).await?;
    let issue = &data["issue"];
    Ok(Issue {
        id: api::text(issue, "/identifier").to_string(),
        title: api::text(issue, "/title").to_string(),
        body: api::text(issue, "/description").to_string(),
        url: api::text(issue, "/url").to_string(),
    })
}

/// What a retry searches comments for: the inside of a marker (`baton:RUN:KEY`), which
/// stays findable whether Linear keeps the HTML comment around it as it is or escapes it.
fn marker_text(marker: &str) -> &str {
    marker
        .trim()
        .trim_start_matches("<!--")
        .trim_end_matches("-->")
        .trim()
}

/// The line a posted comment ends with: the marker's text as inline code. Linear keeps a
/// comment in a document format of its own and gives markdown back from it, where an HTML
/// comment may not survive the round trip; inline code does, so a retry can find it.
fn footer(marker: &str) -> String {
    format!("`{}`", marker_text(marker))
}

/// A comment found or posted: `{ "comment": id, "url": url }`.
#[derive(Debug, Clone, PartialEq)]
struct Posted {
    id: String,
    url: String,
}

/// The comment on issue `issue` whose body holds `marker`'s text, if there is one.
async fn find_comment(api: &Api, issue: &str, marker: &str) -> Result<Option<Posted>, String> {
    let data = api
        .run(
            FIND_COMMENT,
            json!({ "id": issue, "marker": marker_text(marker) }),
        )
        .await
        .map_err(|error| format!("looking for an earlier comment on {issue}: {error}"))?;
    Ok(api::nodes(&data, "/issue/comments")
        .first()
        .map(|node| Posted {
            id: api::text(node, "/id").to_string(),
            url: api::text(node, "/url").to_string(),
        }))
}

/// Posts `body` on issue `issue`.
async fn create_comment(api: &Api, issue: &str, body: &str) -> Result<Posted, String> {
    let data = api
        .run(
            CREATE_COMMENT,
            json!({ "input": { "issueId": issue, "body": body } }),
        )
        .await
        .map_err(|error| format!("commenting on {issue}: {error}"))?;
    let payload = &data["commentCreate"];
    if payload["success"].as_bool() != Some(true) {
        return Err(format!(
            "commenting on {issue}: Linear did not report success"
        ));
    }
    Ok(Posted {
        id: api::text(payload, "/comment/id").to_string(),
        url: api::text(payload, "/comment/url").to_string(),
    })
}

/// Changes issue `id` (a UUID or an identifier) by `input` (an `IssueUpdateInput`).
async fn update_issue(api: &Api, id: &str, shown: &str, input: Value) -> Result<(), String> {
    let data = api
        .run(UPDATE_ISSUE, json!({ "id": id, "input": input }))
        .await
        .map_err(|error| format!("updating {shown}: {error}"))?;
    if data["issueUpdate"]["success"].as_bool() != Some(true) {
        return Err(format!("updating {shown}: Linear did not report success"));
    }
    Ok(())
}

async fn comment(
    api: &Api,
    target: &LinearTarget,
    cx: &Deliver<'_>,
    body: &str,
) -> Result<Delivered, String> {
    let marker = cx.marker();
    let posted = |posted: Posted, found: bool| {
        let mut result = json!({ "comment": posted.id, "url": posted.url });
        if found {
            result["found"] = Value::Bool(true);
        }
        Delivered {
            result: Some(result),
            link: Some(posted.url),
        }
    };
    // An earlier attempt may have posted it and failed only after (a timeout on the answer).
    if cx.delivery.earlier_attempts > 0
        && let Some(found) = find_comment(api, &target.issue, &marker).await?
    {
        return Ok(posted(found, true));
    }
    let text = format!("{body}\n\n{}", footer(&marker));
    Ok(posted(
        create_comment(api, &target.issue, &text).await?,
        false,
    ))
}

/// An issue's status after [`move_to`].
#[derive(Debug, Clone, PartialEq)]
struct Moved {
    /// The state's name as the team spells it.
    state: String,
    /// Whether it was already there (nothing was changed).
    already: bool,
    url: String,
}

impl Moved {
    fn result(&self) -> Value {
        let mut result = json!({ "state": self.state });
        if self.already {
            result["already"] = Value::Bool(true);
        }
        result
    }
}

/// Moves issue `id` to its team's workflow state named `wanted` (in any case); an issue
/// already there is left as it is. The inner error: the team has no state of that name (the
/// error lists those it has), which a retry would not change; the outer one: Linear could
/// not be asked or refused.
async fn move_to(api: &Api, id: &str, wanted: &str) -> Result<Result<Moved, String>, String> {
    let data = api
        .run(ISSUE_STATE, json!({ "id": id, "first": PAGE }))
        .await
        .map_err(|error| format!("reading {id}'s status: {error}"))?;
    let issue = &data["issue"];
    let identifier = Some(api::text(issue, "/identifier"))
        .filter(|identifier| !identifier.is_empty())
        .unwrap_or(id);
    let states = api::nodes(issue, "/team/states");
    let Some(state) = states
        .iter()
        .find(|state| api::text(state, "/name").eq_ignore_ascii_case(wanted.trim()))
    else {
        let names: Vec<&str> = states
            .iter()
            .map(|state| api::text(state, "/name"))
            .collect();
        return Ok(Err(format!(
            "{identifier}'s team ({}) has no workflow state named `{wanted}` (set in [publish.linear]); its states: {}",
            api::text(issue, "/team/key"),
            names.join(", ")
        )));
    };
    let moved = |already: bool| Moved {
        state: api::text(state, "/name").to_string(),
        already,
        url: api::text(issue, "/url").to_string(),
    };
    if api::text(issue, "/state/id") == api::text(state, "/id") {
        return Ok(Ok(moved(true)));
    }
    update_issue(
        api,
        api::text(issue, "/id"),
        identifier,
        json!({ "stateId": api::text(state, "/id") }),
    )
    .await?;
    Ok(Ok(moved(false)))
}

#[cfg(test)]
mod tests;
