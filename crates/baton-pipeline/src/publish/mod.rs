//! Publishing a run's trail (`--publish github,linear,webhook=URL`, `[publish]`; DESIGN.md
//! section 8) through the store's outbox. The run queues each publication as it makes it
//! (the same key queued again adds nothing), and the run's publisher delivers them beside
//! the run, in order per target; a target that fails is tried again later, and whatever is
//! still pending when the run ends stays in the outbox for `baton publish RUN`. Failing to
//! publish never fails the run, and a publication marked sent is never sent again; one whose
//! earlier attempt may have reached the target is looked for there before it is posted.
//!
//! Parts:
//! - this file: the plan a run publishes by ([`resolve`], [`recorded`]), the publisher that
//!   runs beside a run ([`alongside`]) and the deliveries, and [`publish`];
//! - `trail.rs`: what a run publishes when;
//! - `github.rs`: the branch pushed and the pull request kept, through `git` and `gh`;
//! - `linear.rs`: comments, status and the sibling cross-reference through Linear's GraphQL
//!   API;
//! - `webhook.rs`: events POSTed as JSON, signed with HMAC-SHA256;
//! - `tracker.rs`: tickets read from GitHub issues and Linear issues.

mod github;
mod linear;
pub mod tracker;
pub(crate) mod trail;
mod webhook;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use baton_config::PublishSettings;
use baton_core::Event;
use baton_core::publish::{GithubTarget, LinearTarget, PublishPlan, Target, WebhookTarget};
use baton_core::run::RunRecord;
use baton_ops::Project;
use baton_store::{Delivery, NewPublication, OutboxRow, OutboxStatus, Store};
use serde::{Deserialize, Serialize};

use crate::PipelineError;
use crate::record::{Progress, Recorder};

/// One publication's work, as the outbox keeps it: whole, so that a retry sends what was
/// meant when it was queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub(crate) enum Action {
    /// GitHub: the run's branch pushed up to `commit`.
    Push { branch: String, commit: String },
    /// GitHub: a draft pull request from the run's branch (or the one already open for it).
    PrOpen {
        branch: String,
        title: String,
        body: String,
    },
    /// GitHub: a review comment on the run's pull request.
    PrComment { body: String },
    /// GitHub: the pull request's body replaced by `body` (the final `PR.md`) and marked
    /// ready for review.
    PrReady { body: String },
    /// Linear: a comment on the run's issue.
    Comment { body: String },
    /// Linear: the issue moved to the workflow state named `state`.
    State { state: String },
    /// Linear: the sibling cross-reference at sign-off: the parent's other children and the
    /// related and blocking issues compared with what shipped.
    Siblings {
        /// The run's acceptance criteria, as shipped.
        delivered: Vec<String>,
        /// Who did it, for the comments: `run RUN (ENG-12)`.
        attribution: String,
    },
    /// Webhook: one event, as `events.jsonl` has it.
    Event { body: serde_json::Value },
}

impl Action {
    /// The outbox's `action` column and the events' `action`.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Action::Push { .. } => "push",
            Action::PrOpen { .. } => "pr.open",
            Action::PrComment { .. } => "pr.comment",
            Action::PrReady { .. } => "pr.ready",
            Action::Comment { .. } => "comment",
            Action::State { .. } => "state",
            Action::Siblings { .. } => "siblings",
            Action::Event { .. } => "event",
        }
    }
}

/// A publication to queue.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Publication {
    pub target: Target,
    pub key: String,
    pub action: Action,
}

impl Publication {
    pub(crate) fn new(target: Target, key: impl Into<String>, action: Action) -> Publication {
        Publication {
            target,
            key: key.into(),
            action,
        }
    }

    pub(crate) fn queued(&self) -> Result<NewPublication, PipelineError> {
        Ok(NewPublication {
            target: self.target,
            key: self.key.clone(),
            action: self.action.name().to_string(),
            payload: serde_json::to_value(&self.action).map_err(|error| {
                PipelineError::Ops(baton_ops::OpsError::Internal {
                    what: format!("a publication cannot be encoded: {error}"),
                })
            })?,
        })
    }
}

/// What a run asks to publish to, before it is resolved against the settings.
#[derive(Debug, Clone, Default)]
pub struct PublishAsk {
    /// `github`, `linear`, `webhook`, `webhook=URL`; `None`: `[publish] targets`.
    pub targets: Option<Vec<String>>,
    /// The GitHub issue the ticket was read from: the pull request closes it.
    pub github_issue: Option<u64>,
    /// The Linear issue the run is for; `None`: the ticket's id, when it is an identifier.
    pub linear_issue: Option<String>,
}

/// The targets of a new run: `ask` against `settings`, for a ticket with id `ticket_id` on a
/// run that began on branch `base_branch`.
pub(crate) fn resolve(
    settings: &PublishSettings,
    ask: &PublishAsk,
    ticket_id: &str,
    base_branch: Option<&str>,
) -> Result<PublishPlan, PipelineError> {
    let given = ask
        .targets
        .clone()
        .unwrap_or_else(|| settings.targets.clone());
    let bad = |given: &str, why: String| PipelineError::BadPublishTarget {
        given: given.to_string(),
        why,
    };
    let mut plan = PublishPlan::default();
    for item in given.iter().flat_map(|item| item.split(',')) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (name, value) = match item.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim())),
            None => (item, None),
        };
        match (Target::parse(name), value) {
            (Some(Target::Webhook), url) => {
                let url = url.unwrap_or(settings.webhook.url.as_str());
                if url.is_empty() {
                    return Err(bad(
                        item,
                        "it names no URL ([publish.webhook] url is empty)".into(),
                    ));
                }
                if !baton_config::is_http_url(url) {
                    return Err(bad(
                        item,
                        format!("`{url}` is not an http:// or https:// URL"),
                    ));
                }
                plan.webhook = Some(WebhookTarget {
                    url: url.to_string(),
                    secret_env: Some(settings.webhook.secret_env.clone())
                        .filter(|name| !name.is_empty()),
                });
            }
            (Some(Target::Github), None) => {
                let base = Some(settings.github.base.as_str())
                    .filter(|base| !base.is_empty())
                    .or(base_branch)
                    .ok_or_else(|| {
                        bad(
                            item,
                            "the run began on a detached HEAD and [publish.github] base is empty: no branch for the pull request to go into".into(),
                        )
                    })?;
                plan.github = Some(github_target(settings, base, ask.github_issue));
            }
            (Some(Target::Linear), None) => {
                let issue = match &ask.linear_issue {
                    Some(issue) => issue.clone(),
                    None if linear::is_identifier(ticket_id) => ticket_id.to_string(),
                    None => {
                        return Err(bad(
                            item,
                            format!(
                                "no Linear issue is named, and the ticket's id `{ticket_id}` is not one (such as ENG-12)"
                            ),
                        ));
                    }
                };
                let linear = &settings.linear;
                plan.linear = Some(LinearTarget {
                    issue,
                    api_url: linear.api_url.clone(),
                    api_key_env: linear.api_key_env.clone(),
                    in_progress: linear.in_progress.clone(),
                    in_review: linear.in_review.clone(),
                    done: linear.done.clone(),
                });
            }
            (Some(target), Some(_)) => {
                return Err(bad(item, format!("`{target}` takes no value")));
            }
            (None, _) => {
                return Err(bad(item, "it is not a publishing target".into()));
            }
        }
    }
    Ok(plan)
}

/// `[publish.github]` as a run's target: pull requests into `base`, closing `issue`.
pub(crate) fn github_target(
    settings: &PublishSettings,
    base: &str,
    issue: Option<u64>,
) -> GithubTarget {
    let github = &settings.github;
    GithubTarget {
        gh: github.gh.clone(),
        remote: github.remote.clone(),
        base: base.to_string(),
        repo: Some(github.repo.clone()).filter(|repo| !repo.is_empty()),
        issue,
    }
}

/// The variables publishing reads credentials from, by name: `gh`'s and git's, the Linear
/// API key's, the webhook secret's.
pub(crate) fn secret_env(settings: &PublishSettings) -> Vec<String> {
    let mut names: Vec<String> = github::AUTH_ENV
        .iter()
        .map(|name| (*name).to_string())
        .collect();
    names.push(settings.linear.api_key_env.clone());
    names.push(settings.webhook.secret_env.clone());
    names.retain(|name| !name.is_empty());
    names
}

/// The secret in variable `name`: from the project's environment, else the process's (the
/// project's snapshot holds Baton's own variables only, and this one is named by a setting).
pub(crate) fn secret(project: &Project, name: &str) -> Option<baton_llm::secret::ApiKey> {
    project
        .env()
        .get(name)
        .and_then(baton_llm::secret::ApiKey::from_value)
        .or_else(|| baton_llm::secret::ApiKey::from_env(name))
}

/// The plan run `run_id` recorded when it began (empty for a run that publishes nowhere).
pub(crate) fn recorded(store: &Store, run_id: &str) -> Result<PublishPlan, PipelineError> {
    Ok(store
        .events_of(run_id)?
        .into_iter()
        .find_map(|row| match row.event {
            Event::RunStarted(started) => Some(started.publish),
            _ => None,
        })
        .unwrap_or_default())
}

/// A run's publisher: its plan, and the bell the recorder rings when it queues something.
#[derive(Debug)]
pub(crate) struct Publisher {
    pub plan: PublishPlan,
    /// The run's branch (`baton/RUN`).
    pub branch: String,
    wake: tokio::sync::Notify,
    finished: AtomicBool,
}

impl Publisher {
    pub(crate) fn new(plan: PublishPlan, branch: String) -> Arc<Publisher> {
        Arc::new(Publisher {
            plan,
            branch,
            wake: tokio::sync::Notify::new(),
            finished: AtomicBool::new(false),
        })
    }

    /// Something was queued.
    pub(crate) fn ring(&self) {
        self.wake.notify_one();
    }

    fn finish(&self) {
        self.finished.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }
}

/// Runs `work` (a run's phases) with its publisher beside it: publications go out while the
/// run goes on, and once `work` is done what is pending is tried once more. Publishing
/// errors are told through the recorder, never returned: `work`'s outcome is the run's.
pub(crate) async fn alongside<T>(recorder: &Recorder<'_>, work: impl Future<Output = T>) -> T {
    let Some(publisher) = recorder.publisher().cloned() else {
        return work.await;
    };
    let work = async {
        let out = work.await;
        publisher.finish();
        out
    };
    let deliver = async {
        let mut backoff = Backoff::default();
        loop {
            let finished = publisher.finished.load(Ordering::SeqCst);
            if let Err(error) =
                deliver_pending(recorder, &publisher.plan, &mut backoff, finished).await
            {
                recorder.note(&format!("publishing stopped: {error}"));
                return;
            }
            if finished {
                return;
            }
            publisher.wake.notified().await;
        }
    };
    let (out, ()) = tokio::join!(work, deliver);
    out
}

/// When each target that failed may be tried again, within one process.
#[derive(Debug, Default)]
struct Backoff {
    next: BTreeMap<Target, (Instant, Duration)>,
}

impl Backoff {
    const FIRST: Duration = Duration::from_secs(5);
    const MOST: Duration = Duration::from_secs(300);

    fn ready(&self, target: Target, last_pass: bool) -> bool {
        last_pass
            || self
                .next
                .get(&target)
                .is_none_or(|(at, _)| Instant::now() >= *at)
    }

    fn failed(&mut self, target: Target) {
        let wait = self
            .next
            .get(&target)
            .map_or(Self::FIRST, |(_, wait)| (*wait * 2).min(Self::MOST));
        self.next.insert(target, (Instant::now() + wait, wait));
    }

    fn passed(&mut self, target: Target) {
        self.next.remove(&target);
    }
}

/// What one delivery gets to work with.
pub(crate) struct Deliver<'a> {
    pub project: &'a Project,
    pub run: &'a RunRecord,
    /// The run's outbox as it stood before this delivery (the pull request's number is in
    /// the result of its `pr.open`).
    pub rows: &'a [OutboxRow],
    pub delivery: &'a Delivery,
    /// This delivery's deadline.
    pub timeout: Duration,
}

impl Deliver<'_> {
    /// The first sent row of `action` on `target`, if any.
    pub(crate) fn sent(&self, target: Target, action: &str) -> Option<&OutboxRow> {
        self.rows.iter().find(|row| {
            row.target == target && row.action == action && row.status == OutboxStatus::Sent
        })
    }

    /// The marker a posted body ends with, by which a retry finds it posted.
    pub(crate) fn marker(&self) -> String {
        format!(
            "<!-- baton:{}:{} -->",
            self.delivery.row.run_id, self.delivery.row.key
        )
    }
}

/// The HTTP client of one delivery to `url` (a loopback URL goes around any proxy).
pub(crate) fn http_client(url: &str, timeout: Duration) -> Result<reqwest::Client, String> {
    baton_llm::init_tls();
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")));
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"];
    if loopback.iter().any(|prefix| url.starts_with(prefix)) {
        builder = builder.no_proxy();
    }
    builder
        .build()
        .map_err(|error| format!("no HTTP client: {error}"))
}

/// What a target answered to a delivery.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Delivered {
    /// Kept in the outbox row (a pull request's number and URL).
    pub result: Option<serde_json::Value>,
    /// Where it can be seen.
    pub link: Option<String>,
}

/// Delivers what is pending for the run, in order per target, each target stopping at its
/// first failure. `last_pass`: the run is over, so every target is tried whatever its
/// backoff says.
async fn deliver_pending(
    recorder: &Recorder<'_>,
    plan: &PublishPlan,
    backoff: &mut Backoff,
    last_pass: bool,
) -> Result<(), PipelineError> {
    let project = recorder.project();
    let run_id = recorder.run_id.as_str();
    let Some(run) = project.store()?.run(run_id)? else {
        return Ok(());
    };
    let timeout = project.settings()?.publish.timeout;
    for target in plan.targets() {
        if !backoff.ready(target, last_pass) {
            continue;
        }
        // Read once per pass: what this process delivers it marks in its copy; a row another
        // process took meanwhile fails its claim below.
        let mut rows = project.store()?.outbox_of(run_id)?;
        let pending: Vec<usize> = (0..rows.len())
            .filter(|&i| rows[i].target == target && rows[i].status == OutboxStatus::Pending)
            .collect();
        for i in pending {
            // The lease covers the delivery's deadline and the kill ladder after it.
            let lease = timeout + Duration::from_secs(30);
            let Some(delivery) = project.store()?.outbox_claim(rows[i].id, lease)? else {
                // Another process is delivering it: the order of this target is theirs now.
                break;
            };
            let cx = Deliver {
                project,
                run: &run,
                rows: &rows,
                delivery: &delivery,
                timeout,
            };
            match deliver_one(plan, &cx).await {
                Ok(delivered) => {
                    let (id, event) = project.store()?.outbox_sent(
                        &delivery,
                        delivered.result.as_ref(),
                        delivered.link.as_deref(),
                    )?;
                    recorder.mirror_event(id, &event)?;
                    backoff.passed(target);
                    rows[i].status = OutboxStatus::Sent;
                    rows[i].result = delivered.result;
                }
                Err(error) => {
                    let (id, event) = project.store()?.outbox_failed(&delivery, &error)?;
                    recorder.mirror_event(id, &event)?;
                    recorder.note(&format!(
                        "publishing to {target} failed ({} {}): {error}; it stays queued",
                        delivery.row.action, delivery.row.key
                    ));
                    backoff.failed(target);
                    break;
                }
            }
        }
    }
    Ok(())
}

async fn deliver_one(plan: &PublishPlan, cx: &Deliver<'_>) -> Result<Delivered, String> {
    let action: Action = serde_json::from_value(cx.delivery.row.payload.clone())
        .map_err(|error| format!("the queued publication cannot be read: {error}"))?;
    match cx.delivery.row.target {
        Target::Github => match &plan.github {
            Some(github) => github::deliver(github, cx, &action).await,
            None => Err("the run does not publish to github".into()),
        },
        Target::Linear => match &plan.linear {
            Some(linear) => linear::deliver(linear, cx, &action).await,
            None => Err("the run does not publish to linear".into()),
        },
        Target::Webhook => match &plan.webhook {
            Some(webhook) => webhook::deliver(webhook, cx, &action).await,
            None => Err("the run does not publish to a webhook".into()),
        },
    }
}

/// One publication of a run, as `baton publish` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicationView {
    pub target: Target,
    pub key: String,
    pub action: String,
    pub status: OutboxStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// Where it can be seen, when the target said.
    pub link: Option<String>,
}

impl PublicationView {
    fn of(row: &OutboxRow) -> PublicationView {
        PublicationView {
            target: row.target,
            key: row.key.clone(),
            action: row.action.clone(),
            status: row.status,
            attempts: row.attempts,
            last_error: row
                .last_error
                .clone()
                .filter(|_| row.status == OutboxStatus::Pending),
            link: row
                .result
                .as_ref()
                .and_then(|result| result.get("url"))
                .and_then(|url| url.as_str())
                .map(str::to_string),
        }
    }
}

/// What `baton publish RUN` did: the one shape its `--json`, MCP and the web API print.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishResponse {
    pub run_id: String,
    pub targets: Vec<Target>,
    /// Delivered by this call.
    pub sent_now: usize,
    /// Still pending after it.
    pub pending: usize,
    pub publications: Vec<PublicationView>,
}

/// `baton publish RUN`: delivers what run `key` has pending, every target tried once.
pub async fn publish(
    project: &Project,
    key: &str,
    progress: &dyn Progress,
) -> Result<PublishResponse, PipelineError> {
    let run = project.store()?.run(key)?.ok_or_else(|| {
        PipelineError::Ops(baton_ops::OpsError::from(
            baton_store::StoreError::UnknownRun {
                id: key.to_string(),
            },
        ))
    })?;
    let plan = recorded(&*project.store()?, &run.id)?;
    if plan.is_empty() {
        return Err(PipelineError::NothingToPublish { id: run.id });
    }
    let before = project.store()?.outbox_of(&run.id)?;
    let folder = std::path::Path::new(&run.repo)
        .join(".baton")
        .join("runs")
        .join(&run.id);
    let recorder = Recorder::open(project, &run.id, &folder, progress)?;
    deliver_pending(&recorder, &plan, &mut Backoff::default(), true).await?;
    let after = project.store()?.outbox_of(&run.id)?;
    let sent = |rows: &[OutboxRow]| {
        rows.iter()
            .filter(|row| row.status == OutboxStatus::Sent)
            .count()
    };
    Ok(PublishResponse {
        run_id: run.id,
        targets: plan.targets(),
        sent_now: sent(&after).saturating_sub(sent(&before)),
        pending: after.len() - sent(&after),
        publications: after.iter().map(PublicationView::of).collect(),
    })
}

/// `baton publish` without a run: [`publish`] for every run with something pending, oldest
/// first.
pub async fn publish_pending(
    project: &Project,
    progress: &dyn Progress,
) -> Result<Vec<PublishResponse>, PipelineError> {
    let runs = project.store()?.outbox_pending_runs()?;
    let mut answers = Vec::with_capacity(runs.len());
    for run in &runs {
        answers.push(publish(project, run, progress).await?);
    }
    Ok(answers)
}
