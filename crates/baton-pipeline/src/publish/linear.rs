//! Linear, through its GraphQL API (`LINEAR_API_KEY`): a comment per phase, the issue's
//! status, the sibling cross-reference at sign-off, and issues read as tickets.

use std::time::Duration;

use baton_config::LinearPublishSettings;
use baton_core::publish::LinearTarget;
use baton_ops::Project;

use super::tracker::Issue;
use super::{Action, Deliver, Delivered};

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

pub(crate) async fn deliver(
    _target: &LinearTarget,
    _cx: &Deliver<'_>,
    action: &Action,
) -> Result<Delivered, String> {
    Err(format!("Linear does not take `{}` yet", action.name()))
}

pub(crate) async fn issue(
    _project: &Project,
    _settings: &LinearPublishSettings,
    id: &str,
    _timeout: Duration,
) -> Result<Issue, String> {
    Err(format!("{id}: reading Linear issues is not built yet"))
}
