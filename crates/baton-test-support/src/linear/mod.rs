//! A scripted Linear GraphQL endpoint, [`FakeLinear`], for tests of Baton's Linear target: a
//! real HTTP server on `127.0.0.1` (a port of its own, on a thread and runtime of its own
//! through [`crate::serve`], so that sync tests driving the `baton` binary and async tests
//! alike can use it).
//!
//! It holds what a test seeds (teams and their workflow states, issues with their parents,
//! relations and comments) and answers `POST /graphql` the way Linear does: a personal API
//! key in `Authorization` (no `Bearer`), each query document validated against the schema
//! excerpt in `fixtures/linear-schema.graphql` (400 with the validation errors when it does
//! not validate: a query Linear would refuse fails the test here too), then executed against
//! its state by `resolve.rs`. Every request is recorded for assertions, and the server can
//! be told to fail requests with 500 (Linear down) to test retries.

mod resolve;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;
use apollo_compiler::executable::OperationType;
use apollo_compiler::resolvers::Execution;
use apollo_compiler::response::{JsonMap, serde_json_bytes};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use axum::Router;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use serde_json::json;

use crate::serve::{Served, serve};

/// The schema excerpt every request is validated against.
pub const LINEAR_SCHEMA: &str = include_str!("../../fixtures/linear-schema.graphql");

/// The workflow states a team seeded with [`FakeLinear::team`] gets when it names none:
/// Linear's defaults for a new team, with the `In Review` state Baton moves issues to.
pub const DEFAULT_STATES: &[(&str, &str)] = &[
    ("Backlog", "backlog"),
    ("Todo", "unstarted"),
    ("In Progress", "started"),
    ("In Review", "started"),
    ("Done", "completed"),
    ("Canceled", "canceled"),
    ("Duplicate", "duplicate"),
];

/// One request as the endpoint received it.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearRequest {
    /// The `Authorization` header, as sent.
    pub authorization: Option<String>,
    pub query: String,
    pub variables: serde_json::Value,
    pub operation_name: Option<String>,
    /// `query` or `mutation`, once the document validated.
    pub kind: Option<String>,
    /// The operation's root fields (`issue`, `commentCreate`), once the document validated.
    pub fields: Vec<String>,
    /// What the endpoint answered.
    pub status: u16,
}

impl LinearRequest {
    /// Whether this request was a mutation the endpoint executed.
    pub fn is_mutation(&self) -> bool {
        self.status == 200 && self.kind.as_deref() == Some("mutation")
    }
}

/// A workflow state of a team.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WorkflowState {
    pub id: String,
    pub name: String,
    pub kind: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Team {
    pub id: String,
    pub key: String,
    pub states: Vec<WorkflowState>,
}

#[derive(Debug, Clone)]
pub(crate) struct Issue {
    pub id: String,
    pub identifier: String,
    pub title: String,
    pub description: Option<String>,
    pub url: String,
    pub team: String,
    pub state: String,
    pub parent: Option<String>,
    /// The names of the states mutations moved it to, in order.
    pub moves: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Comment {
    pub id: String,
    pub issue: String,
    pub body: String,
    pub url: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Relation {
    pub id: String,
    pub kind: String,
    pub issue: String,
    pub related: String,
}

/// Everything the endpoint knows, changed by the mutations it executes.
#[derive(Debug, Default)]
pub(crate) struct Workspace {
    pub teams: Vec<Team>,
    pub issues: Vec<Issue>,
    pub comments: Vec<Comment>,
    pub relations: Vec<Relation>,
    next_id: u64,
    pub sync_id: u64,
}

impl Workspace {
    /// A fresh id in UUID form, counting up so that tests read the same ids every run.
    pub(crate) fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("00000000-0000-4000-8000-{:012x}", self.next_id)
    }

    /// The issue with UUID or identifier `id` (Linear takes either).
    pub(crate) fn issue(&self, id: &str) -> Option<&Issue> {
        self.issues
            .iter()
            .find(|issue| issue.id == id || issue.identifier.eq_ignore_ascii_case(id))
    }

    fn issue_mut(&mut self, id: &str) -> Option<&mut Issue> {
        self.issues
            .iter_mut()
            .find(|issue| issue.id == id || issue.identifier.eq_ignore_ascii_case(id))
    }

    pub(crate) fn team(&self, id: &str) -> Option<&Team> {
        self.teams.iter().find(|team| team.id == id)
    }

    fn seeded(&self, identifier: &str) -> &Issue {
        self.issue(identifier)
            .unwrap_or_else(|| panic!("FakeLinear: no issue {identifier} was seeded"))
    }
}

/// What the handler and the test's handle share.
#[derive(Debug)]
struct Shared {
    schema: Valid<Schema>,
    api_key: String,
    workspace: Mutex<Workspace>,
    requests: Mutex<Vec<LinearRequest>>,
    fail_next: AtomicUsize,
    down: AtomicBool,
    /// Requests of this root field whose answer is lost: executed, then answered 500.
    lose: Mutex<Option<(String, usize)>>,
}

impl Shared {
    fn workspace(&self) -> std::sync::MutexGuard<'_, Workspace> {
        self.workspace
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The scripted Linear endpoint. Shuts down, and joins its thread, when dropped.
pub struct FakeLinear {
    served: Served,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FakeLinear {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeLinear")
            .field("addr", &self.served.addr)
            .finish_non_exhaustive()
    }
}

/// The description of ENG-4 in [`FakeLinear::clamp_family`]: two criteria, one of them a
/// clamp's, and a section of the user's own.
pub const PARTLY_CLAMP: &str = "Bounds.\n\n## Acceptance criteria\n- [ ] clamp keeps values in range\n- [ ] clamp rejects a low bound above the high bound\n\n## Notes\nAsk before changing the API.\n";

impl FakeLinear {
    /// Starts the endpoint on `127.0.0.1:0`, taking requests that carry `api_key`.
    pub fn start(api_key: &str) -> anyhow::Result<FakeLinear> {
        let schema = Schema::parse_and_validate(LINEAR_SCHEMA, "linear-schema.graphql").map_err(
            |invalid| anyhow::anyhow!("the schema fixture is invalid: {}", invalid.errors),
        )?;
        let shared = Arc::new(Shared {
            schema,
            api_key: api_key.to_string(),
            workspace: Mutex::new(Workspace::default()),
            requests: Mutex::new(Vec::new()),
            fail_next: AtomicUsize::new(0),
            down: AtomicBool::new(false),
            lose: Mutex::new(None),
        });
        let app = Router::new()
            .route("/graphql", post(graphql))
            .with_state(Arc::clone(&shared));
        let served = serve(app).context("failed to start the fake Linear endpoint")?;
        Ok(FakeLinear { served, shared })
    }

    /// The workspace the publishing tests share: team ENG, the run's issue ENG-2 under parent
    /// ENG-1, and around it ENG-3 (a sub-issue whose criteria are all a clamp's), ENG-4
    /// (blocks ENG-2; [`PARTLY_CLAMP`]: one of its two criteria is a clamp's), ENG-5 (related;
    /// nothing in common) and ENG-6 (a sub-issue already done).
    pub fn clamp_family(&self) {
        self.team("ENG", &[]);
        self.issue("ENG-1", "Numbers", "The parent.", "In Progress");
        self.issue("ENG-2", "Clamp", "Write clamp.", "Todo");
        self.issue(
            "ENG-3",
            "Range",
            "- [ ] clamp keeps values in range\n- [ ] clamp returns low for values below low\n",
            "Todo",
        );
        self.issue("ENG-4", "Bounds", PARTLY_CLAMP, "Backlog");
        self.issue("ENG-5", "Docs", "- [ ] the README explains clamp", "Todo");
        self.issue("ENG-6", "Old", "- [ ] clamp keeps values in range", "Done");
        for child in ["ENG-2", "ENG-3", "ENG-6"] {
            self.parent(child, "ENG-1");
        }
        self.relate("ENG-4", "blocks", "ENG-2");
        self.relate("ENG-2", "related", "ENG-5");
    }

    /// Panics unless ENG-4 of [`FakeLinear::clamp_family`] kept its description and gained an
    /// `[Already Built]` section with its clamp criterion ticked and the other not.
    pub fn assert_partly_sectioned(&self) {
        let described = self.description_of("ENG-4").unwrap_or_default();
        assert!(described.starts_with(PARTLY_CLAMP), "{described}");
        assert!(
            described.ends_with(
                "- [x] clamp keeps values in range\n- [ ] clamp rejects a low bound above the high bound\n"
            ),
            "{described}"
        );
    }

    /// How many mutations it was sent so far.
    pub fn mutations(&self) -> usize {
        self.requests()
            .iter()
            .filter(|request| request.is_mutation())
            .count()
    }

    /// `http://127.0.0.1:PORT/graphql`, what `[publish.linear] api_url` takes.
    pub fn url(&self) -> String {
        format!("{}/graphql", self.served.url())
    }

    /// Seeds team `key` (`ENG`) with workflow states `(name, type)`; empty: [`DEFAULT_STATES`].
    pub fn team(&self, key: &str, states: &[(&str, &str)]) {
        let states = if states.is_empty() {
            DEFAULT_STATES
        } else {
            states
        };
        let mut workspace = self.shared.workspace();
        let id = workspace.new_id();
        let states = states
            .iter()
            .map(|(name, kind)| WorkflowState {
                id: workspace.new_id(),
                name: (*name).to_string(),
                kind: (*kind).to_string(),
            })
            .collect();
        workspace.teams.push(Team {
            id,
            key: key.to_string(),
            states,
        });
    }

    /// Seeds issue `identifier` (`ENG-7`: in team `ENG`, seeded first) in the state named
    /// `state`.
    pub fn issue(&self, identifier: &str, title: &str, description: &str, state: &str) {
        let mut workspace = self.shared.workspace();
        let key = identifier.split('-').next().unwrap_or_default();
        let team = workspace
            .teams
            .iter()
            .find(|team| team.key == key)
            .unwrap_or_else(|| panic!("FakeLinear: seed team {key} before {identifier}"));
        let state = team
            .states
            .iter()
            .find(|known| known.name == state)
            .unwrap_or_else(|| panic!("FakeLinear: team {key} has no state {state}"))
            .id
            .clone();
        let team = team.id.clone();
        let id = workspace.new_id();
        workspace.issues.push(Issue {
            id,
            identifier: identifier.to_string(),
            title: title.to_string(),
            description: Some(description.to_string()).filter(|text| !text.is_empty()),
            url: format!("https://linear.app/fake/issue/{identifier}"),
            team,
            state,
            parent: None,
            moves: Vec::new(),
        });
    }

    /// Makes `child` a sub-issue of `parent`.
    pub fn parent(&self, child: &str, parent: &str) {
        let mut workspace = self.shared.workspace();
        let parent = workspace.seeded(parent).id.clone();
        let child = workspace.seeded(child).id.clone();
        if let Some(child) = workspace.issue_mut(&child) {
            child.parent = Some(parent);
        }
    }

    /// Seeds the relation `issue KIND related` (`ENG-1 blocks ENG-2`).
    pub fn relate(&self, issue: &str, kind: &str, related: &str) {
        let mut workspace = self.shared.workspace();
        let issue = workspace.seeded(issue).id.clone();
        let related = workspace.seeded(related).id.clone();
        let id = workspace.new_id();
        workspace.relations.push(Relation {
            id,
            kind: kind.to_string(),
            issue,
            related,
        });
    }

    /// Seeds a comment on `issue`, as if someone had written it.
    pub fn comment(&self, issue: &str, body: &str) {
        let mut workspace = self.shared.workspace();
        let issue = workspace.seeded(issue).clone();
        resolve::add_comment(&mut workspace, &issue, body);
    }

    /// The next `count` requests are answered 500, whatever they are.
    pub fn fail_next(&self, count: usize) {
        self.shared.fail_next.store(count, Ordering::SeqCst);
    }

    /// The next `count` requests whose root field is `field` (`commentCreate`) are executed,
    /// and then answered 500: an attempt that reached Linear but whose answer was lost.
    pub fn lose_answers_to(&self, field: &str, count: usize) {
        *self
            .shared
            .lose
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((field.to_string(), count));
    }

    /// While down, every request is answered 500.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<LinearRequest> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The bodies of the comments on `issue`, oldest first.
    pub fn comments(&self, issue: &str) -> Vec<String> {
        let workspace = self.shared.workspace();
        let id = workspace.seeded(issue).id.clone();
        workspace
            .comments
            .iter()
            .filter(|comment| comment.issue == id)
            .map(|comment| comment.body.clone())
            .collect()
    }

    /// The name of the workflow state `issue` is in.
    pub fn state_of(&self, issue: &str) -> String {
        let workspace = self.shared.workspace();
        let issue = workspace.seeded(issue);
        workspace
            .team(&issue.team)
            .and_then(|team| team.states.iter().find(|state| state.id == issue.state))
            .map(|state| state.name.clone())
            .unwrap_or_default()
    }

    /// The states mutations moved `issue` to, in order.
    pub fn moves_of(&self, issue: &str) -> Vec<String> {
        self.shared.workspace().seeded(issue).moves.clone()
    }

    /// The description of `issue`, as it is now.
    pub fn description_of(&self, issue: &str) -> Option<String> {
        self.shared.workspace().seeded(issue).description.clone()
    }
}

/// A GraphQL error response: `{"errors": [{"message": …}]}` with `status`.
fn errors(status: StatusCode, messages: Vec<serde_json::Value>) -> Response {
    (status, axum::Json(json!({ "errors": messages }))).into_response()
}

async fn graphql(
    AxumState(shared): AxumState<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let mut record = LinearRequest {
        authorization: headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string),
        query: request["query"].as_str().unwrap_or_default().to_string(),
        variables: request["variables"].clone(),
        operation_name: request["operationName"].as_str().map(str::to_string),
        kind: None,
        fields: Vec::new(),
        status: 0,
    };
    let response = answer(&shared, &mut record);
    record.status = response.status().as_u16();
    shared
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(record);
    response
}

fn answer(shared: &Shared, record: &mut LinearRequest) -> Response {
    let failing = shared
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok();
    if failing || shared.down.load(Ordering::SeqCst) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "fake Linear is down").into_response();
    }
    if record.authorization.as_deref() != Some(shared.api_key.as_str()) {
        // What Linear says to a request without a valid personal API key.
        return errors(
            StatusCode::UNAUTHORIZED,
            vec![json!({
                "message": "Authentication required, not authenticated",
                "extensions": { "code": "AUTHENTICATION_ERROR" },
            })],
        );
    }
    if record.query.is_empty() {
        return errors(
            StatusCode::BAD_REQUEST,
            vec![json!({ "message": "the request has no `query`" })],
        );
    }
    let document = match ExecutableDocument::parse_and_validate(
        &shared.schema,
        &record.query,
        "query.graphql",
    ) {
        Ok(document) => document,
        Err(invalid) => {
            let messages = invalid
                .errors
                .iter()
                .map(|diagnostic| serde_json::to_value(diagnostic.to_json()).unwrap_or_default())
                .collect();
            return errors(StatusCode::BAD_REQUEST, messages);
        }
    };
    let operation = match document.operations.get(record.operation_name.as_deref()) {
        Ok(operation) => operation,
        Err(error) => {
            return errors(
                StatusCode::BAD_REQUEST,
                vec![json!({ "message": error.message().to_string() })],
            );
        }
    };
    record.kind = Some(
        match operation.operation_type {
            OperationType::Query => "query",
            OperationType::Mutation => "mutation",
            OperationType::Subscription => "subscription",
        }
        .to_string(),
    );
    record.fields = operation
        .root_fields(&document)
        .map(|field| field.name.to_string())
        .collect();
    let variables: JsonMap = match &record.variables {
        serde_json::Value::Null => JsonMap::new(),
        serde_json::Value::Object(_) => {
            match serde_json_bytes::from_value::<JsonMap>(
                serde_json_bytes::to_value(&record.variables).unwrap_or_default(),
            ) {
                Ok(map) => map,
                Err(error) => {
                    return errors(
                        StatusCode::BAD_REQUEST,
                        vec![json!({ "message": format!("bad variables: {error}") })],
                    );
                }
            }
        }
        _ => {
            return errors(
                StatusCode::BAD_REQUEST,
                vec![json!({ "message": "`variables` is not an object" })],
            );
        }
    };
    // One request at a time changes the workspace: the lock is held through execution, and
    // the resolvers borrow it through a RefCell (they are called one after the other).
    let mut workspace = shared.workspace();
    let cell = Rc::new(RefCell::new(std::mem::take(&mut *workspace)));
    let execution = Execution::new(&shared.schema, &document)
        .operation(operation)
        .raw_variable_values(&variables);
    let executed = match operation.operation_type {
        OperationType::Mutation => {
            execution.execute_sync(&resolve::MutationRoot::new(Rc::clone(&cell)))
        }
        _ => execution.execute_sync(&resolve::QueryRoot::new(Rc::clone(&cell))),
    };
    // Every object of the execution is dropped by now; `take` is for the impossible rest.
    *workspace = Rc::try_unwrap(cell).map_or_else(|cell| cell.take(), RefCell::into_inner);
    let mut lose = shared.lose.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((field, count)) = lose.as_mut()
        && *count > 0
        && record.fields.contains(field)
    {
        *count -= 1;
        return (StatusCode::INTERNAL_SERVER_ERROR, "the answer was lost").into_response();
    }
    drop(lose);
    match executed {
        Ok(response) => (StatusCode::OK, axum::Json(response)).into_response(),
        Err(error) => errors(
            StatusCode::BAD_REQUEST,
            vec![
                serde_json::to_value(error.to_graphql_error(&document.sources)).unwrap_or_default(),
            ],
        ),
    }
}
