//! The fake endpoint's resolvers: apollo-compiler executes a validated document (variables
//! coerced, fragments and aliases followed, results shaped by the selection and checked
//! against the schema's types) and calls these for each field, over the seeded workspace.
//! Only the fields of `fixtures/linear-schema.graphql` exist, so only those are resolved;
//! what Linear would refuse at run time (an unknown issue, a state of another team) is a
//! field error with Linear's wording, not a panic.

use std::cell::RefCell;
use std::rc::Rc;

use apollo_compiler::resolvers::{FieldError, ObjectValue, ResolveInfo, ResolvedValue};
use apollo_compiler::response::JsonValue;

use super::{Comment, Issue, Workspace};

/// The workspace, shared by every object of one execution (which runs on one thread).
pub(crate) type Shared = Rc<RefCell<Workspace>>;

/// What Linear's connections return when `first` is not given.
const DEFAULT_PAGE: usize = 50;

fn error(message: impl Into<String>) -> FieldError {
    FieldError {
        message: message.into(),
    }
}

fn not_found(kind: &str) -> FieldError {
    error(format!(
        "Entity not found: {kind} - Could not find referenced {kind}."
    ))
}

fn argument<'a>(info: &'a ResolveInfo<'a>, name: &str) -> Option<&'a JsonValue> {
    info.arguments().get(name).filter(|value| !value.is_null())
}

fn string<'a>(info: &'a ResolveInfo<'a>, name: &str) -> Result<&'a str, FieldError> {
    argument(info, name)
        .and_then(JsonValue::as_str)
        .ok_or_else(|| error(format!("Argument Validation Error: `{name}` is required")))
}

/// `first` of a connection field, Linear's default when absent.
fn first(info: &ResolveInfo<'_>) -> usize {
    argument(info, "first")
        .and_then(JsonValue::as_i64)
        .and_then(|first| usize::try_from(first).ok())
        .unwrap_or(DEFAULT_PAGE)
}

fn text<'a>(value: &str) -> ResolvedValue<'a> {
    ResolvedValue::leaf(value.to_string())
}

/// Adds a comment on `issue` and returns its id.
pub(crate) fn add_comment(workspace: &mut Workspace, issue: &Issue, body: &str) -> String {
    let id = workspace.new_id();
    let short = &id[id.len() - 8..];
    workspace.comments.push(Comment {
        id: id.clone(),
        issue: issue.id.clone(),
        body: body.to_string(),
        url: format!("{}#comment-{short}", issue.url),
    });
    workspace.sync_id += 1;
    id
}

/// `Query`.
pub(crate) struct QueryRoot {
    workspace: Shared,
}

impl QueryRoot {
    pub(crate) fn new(workspace: Shared) -> QueryRoot {
        QueryRoot { workspace }
    }
}

impl ObjectValue for QueryRoot {
    fn type_name(&self) -> &str {
        "Query"
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        match info.field_name() {
            "issue" => {
                let id = string(info, "id")?;
                let found = self
                    .workspace
                    .borrow()
                    .issue(id)
                    .map(|issue| issue.id.clone())
                    .ok_or_else(|| not_found("Issue"))?;
                Ok(ResolvedValue::object(IssueObject::new(
                    Rc::clone(&self.workspace),
                    found,
                )))
            }
            _ => Err(self.unknown_field_error(info)),
        }
    }
}

/// `Mutation`: the two Baton makes.
pub(crate) struct MutationRoot {
    workspace: Shared,
}

impl MutationRoot {
    pub(crate) fn new(workspace: Shared) -> MutationRoot {
        MutationRoot { workspace }
    }

    fn comment_create(&self, info: &ResolveInfo<'_>) -> Result<Payload, FieldError> {
        let input = argument(info, "input")
            .and_then(JsonValue::as_object)
            .ok_or_else(|| error("Argument Validation Error: `input` is required"))?;
        let field = |name: &str| input.get(name).and_then(JsonValue::as_str);
        let issue_id = field("issueId")
            .ok_or_else(|| error("Argument Validation Error: a comment needs an `issueId`"))?;
        let body = field("body")
            .ok_or_else(|| error("Argument Validation Error: a comment needs a `body`"))?;
        let mut workspace = self.workspace.borrow_mut();
        let issue = workspace
            .issue(issue_id)
            .cloned()
            .ok_or_else(|| not_found("Issue"))?;
        let id = add_comment(&mut workspace, &issue, body);
        Ok(Payload {
            workspace: Rc::clone(&self.workspace),
            kind: "CommentPayload",
            id,
            sync_id: workspace.sync_id,
        })
    }

    fn issue_update(&self, info: &ResolveInfo<'_>) -> Result<Payload, FieldError> {
        let id = string(info, "id")?;
        let input = argument(info, "input")
            .and_then(JsonValue::as_object)
            .ok_or_else(|| error("Argument Validation Error: `input` is required"))?;
        let mut workspace = self.workspace.borrow_mut();
        let issue = workspace
            .issue(id)
            .cloned()
            .ok_or_else(|| not_found("Issue"))?;
        let mut updated = issue.clone();
        if let Some(state) = input.get("stateId").filter(|value| !value.is_null()) {
            let state = state.as_str().unwrap_or_default();
            let known = workspace
                .team(&issue.team)
                .is_some_and(|team| team.states.iter().any(|known| known.id == state));
            if !known {
                return Err(error(
                    "Invalid input: the workflow state does not belong to the issue's team",
                ));
            }
            if updated.state != state {
                let name = workspace
                    .team(&issue.team)
                    .and_then(|team| team.states.iter().find(|known| known.id == state))
                    .map(|known| known.name.clone())
                    .unwrap_or_default();
                updated.moves.push(name);
            }
            updated.state = state.to_string();
        }
        if let Some(description) = input.get("description") {
            updated.description = description.as_str().map(str::to_string);
        }
        if let Some(slot) = workspace.issues.iter_mut().find(|slot| slot.id == issue.id) {
            *slot = updated;
        }
        workspace.sync_id += 1;
        Ok(Payload {
            workspace: Rc::clone(&self.workspace),
            kind: "IssuePayload",
            id: issue.id,
            sync_id: workspace.sync_id,
        })
    }
}

impl ObjectValue for MutationRoot {
    fn type_name(&self) -> &str {
        "Mutation"
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        match info.field_name() {
            "commentCreate" => Ok(ResolvedValue::object(self.comment_create(info)?)),
            "issueUpdate" => Ok(ResolvedValue::object(self.issue_update(info)?)),
            _ => Err(self.unknown_field_error(info)),
        }
    }
}

/// `CommentPayload` or `IssuePayload`: what a mutation changed.
struct Payload {
    workspace: Shared,
    kind: &'static str,
    id: String,
    sync_id: u64,
}

impl ObjectValue for Payload {
    fn type_name(&self) -> &str {
        self.kind
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        Ok(match info.field_name() {
            "success" => ResolvedValue::leaf(true),
            // A Float in Linear's schema.
            "lastSyncId" => ResolvedValue::leaf(self.sync_id as f64),
            "comment" => ResolvedValue::object(CommentObject {
                workspace: Rc::clone(&self.workspace),
                id: self.id.clone(),
            }),
            "issue" => ResolvedValue::object(IssueObject::new(
                Rc::clone(&self.workspace),
                self.id.clone(),
            )),
            _ => return Err(self.unknown_field_error(info)),
        })
    }
}

/// `IssueConnection`, `CommentConnection`, …: their `nodes`.
struct Connection<T> {
    kind: &'static str,
    nodes: Vec<T>,
}

impl<T: ObjectValue + Clone> ObjectValue for Connection<T> {
    fn type_name(&self) -> &str {
        self.kind
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        match info.field_name() {
            "nodes" => Ok(ResolvedValue::list(
                self.nodes.iter().cloned().map(ResolvedValue::object),
            )),
            _ => Err(self.unknown_field_error(info)),
        }
    }
}

#[derive(Clone)]
struct IssueObject {
    workspace: Shared,
    id: String,
}

impl IssueObject {
    fn new(workspace: Shared, id: String) -> IssueObject {
        IssueObject { workspace, id }
    }

    fn issues(&self, ids: impl Iterator<Item = String>) -> Vec<IssueObject> {
        ids.map(|id| IssueObject::new(Rc::clone(&self.workspace), id))
            .collect()
    }
}

impl ObjectValue for IssueObject {
    fn type_name(&self) -> &str {
        "Issue"
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        let workspace = self.workspace.borrow();
        let issue = workspace
            .issue(&self.id)
            .ok_or_else(|| not_found("Issue"))?;
        let page = first(info);
        Ok(match info.field_name() {
            "id" => text(&issue.id),
            "identifier" => text(&issue.identifier),
            "title" => text(&issue.title),
            "url" => text(&issue.url),
            "description" => issue
                .description
                .as_deref()
                .map_or_else(ResolvedValue::null, text),
            "state" => ResolvedValue::object(StateObject {
                workspace: Rc::clone(&self.workspace),
                team: issue.team.clone(),
                id: issue.state.clone(),
            }),
            "team" => ResolvedValue::object(TeamObject {
                workspace: Rc::clone(&self.workspace),
                id: issue.team.clone(),
            }),
            "parent" => ResolvedValue::nullable_object(
                issue
                    .parent
                    .clone()
                    .map(|id| IssueObject::new(Rc::clone(&self.workspace), id)),
            ),
            "children" => {
                let ids = workspace
                    .issues
                    .iter()
                    .filter(|child| child.parent.as_deref() == Some(issue.id.as_str()))
                    .take(page)
                    .map(|child| child.id.clone());
                ResolvedValue::object(Connection {
                    kind: "IssueConnection",
                    nodes: self.issues(ids),
                })
            }
            "comments" => {
                // `filter: { body: { contains: TEXT } }`, the one filter Baton uses.
                let contains = argument(info, "filter")
                    .and_then(|filter| filter.get("body"))
                    .and_then(|body| body.get("contains"))
                    .and_then(JsonValue::as_str);
                let nodes = workspace
                    .comments
                    .iter()
                    .filter(|comment| comment.issue == issue.id)
                    .filter(|comment| contains.is_none_or(|text| comment.body.contains(text)))
                    .take(page)
                    .map(|comment| CommentObject {
                        workspace: Rc::clone(&self.workspace),
                        id: comment.id.clone(),
                    })
                    .collect();
                ResolvedValue::object(Connection {
                    kind: "CommentConnection",
                    nodes,
                })
            }
            field @ ("relations" | "inverseRelations") => {
                let outgoing = field == "relations";
                let nodes = workspace
                    .relations
                    .iter()
                    .filter(|relation| {
                        let end = if outgoing {
                            &relation.issue
                        } else {
                            &relation.related
                        };
                        *end == issue.id
                    })
                    .take(page)
                    .map(|relation| RelationObject {
                        workspace: Rc::clone(&self.workspace),
                        id: relation.id.clone(),
                    })
                    .collect();
                ResolvedValue::object(Connection {
                    kind: "IssueRelationConnection",
                    nodes,
                })
            }
            _ => return Err(self.unknown_field_error(info)),
        })
    }
}

#[derive(Clone)]
struct CommentObject {
    workspace: Shared,
    id: String,
}

impl ObjectValue for CommentObject {
    fn type_name(&self) -> &str {
        "Comment"
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        let workspace = self.workspace.borrow();
        let comment = workspace
            .comments
            .iter()
            .find(|comment| comment.id == self.id)
            .ok_or_else(|| not_found("Comment"))?;
        Ok(match info.field_name() {
            "id" => text(&comment.id),
            "body" => text(&comment.body),
            "url" => text(&comment.url),
            _ => return Err(self.unknown_field_error(info)),
        })
    }
}

#[derive(Clone)]
struct RelationObject {
    workspace: Shared,
    id: String,
}

impl ObjectValue for RelationObject {
    fn type_name(&self) -> &str {
        "IssueRelation"
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        let workspace = self.workspace.borrow();
        let relation = workspace
            .relations
            .iter()
            .find(|relation| relation.id == self.id)
            .ok_or_else(|| not_found("IssueRelation"))?;
        Ok(match info.field_name() {
            "id" => text(&relation.id),
            "type" => text(&relation.kind),
            "issue" => ResolvedValue::object(IssueObject::new(
                Rc::clone(&self.workspace),
                relation.issue.clone(),
            )),
            "relatedIssue" => ResolvedValue::object(IssueObject::new(
                Rc::clone(&self.workspace),
                relation.related.clone(),
            )),
            _ => return Err(self.unknown_field_error(info)),
        })
    }
}

#[derive(Clone)]
struct TeamObject {
    workspace: Shared,
    id: String,
}

impl ObjectValue for TeamObject {
    fn type_name(&self) -> &str {
        "Team"
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        let workspace = self.workspace.borrow();
        let team = workspace.team(&self.id).ok_or_else(|| not_found("Team"))?;
        Ok(match info.field_name() {
            "id" => text(&team.id),
            // Seeded teams are named by their key.
            "key" | "name" => text(&team.key),
            "states" => ResolvedValue::object(Connection {
                kind: "WorkflowStateConnection",
                nodes: team
                    .states
                    .iter()
                    .take(first(info))
                    .map(|state| StateObject {
                        workspace: Rc::clone(&self.workspace),
                        team: team.id.clone(),
                        id: state.id.clone(),
                    })
                    .collect(),
            }),
            _ => return Err(self.unknown_field_error(info)),
        })
    }
}

#[derive(Clone)]
struct StateObject {
    workspace: Shared,
    team: String,
    id: String,
}

impl ObjectValue for StateObject {
    fn type_name(&self) -> &str {
        "WorkflowState"
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        let workspace = self.workspace.borrow();
        let state = workspace
            .team(&self.team)
            .and_then(|team| team.states.iter().find(|state| state.id == self.id))
            .ok_or_else(|| not_found("WorkflowState"))?;
        Ok(match info.field_name() {
            "id" => text(&state.id),
            "name" => text(&state.name),
            "type" => text(&state.kind),
            _ => return Err(self.unknown_field_error(info)),
        })
    }
}
