//! Tickets read from a tracker (`baton run --github N`, `--linear ID`): the issue's title and
//! description written as a markdown ticket under `.baton/tickets/` in the repository, which
//! the run then reads like any other ticket (its acceptance criteria, scope and constraints
//! sections included), and which stays there as the ticket the run was given.

use std::path::{Path, PathBuf};

use baton_ops::Project;

use crate::PipelineError;

/// An issue as a tracker gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Issue {
    /// The ticket's id: `#12` for GitHub, the identifier (`ENG-12`) for Linear.
    pub id: String,
    pub title: String,
    pub body: String,
    pub url: String,
}

/// Writes `issue` as `.baton/tickets/NAME.md` in `repo` (whole, through a rename) and returns
/// its path.
fn write_ticket(repo: &Path, name: &str, issue: &Issue) -> Result<PathBuf, PipelineError> {
    let dir = crate::run::baton_dir(repo)?.join("tickets");
    std::fs::create_dir_all(&dir).map_err(|source| PipelineError::Write {
        path: dir.clone(),
        source,
    })?;
    let path = dir.join(format!("{name}.md"));
    let id = issue.id.replace('"', "");
    let text = format!(
        "---\nid: \"{id}\"\nsource: {}\n---\n\n# {}\n\n{}\n",
        issue.url,
        issue.title.trim(),
        issue.body.trim()
    );
    let tmp = path.with_extension("md.tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|source| PipelineError::Write {
            path: path.clone(),
            source,
        })?;
    Ok(path)
}

/// GitHub issue `number`, read with `gh issue view` in the project's repository, as a ticket.
pub async fn github_ticket(project: &Project, number: u64) -> Result<PathBuf, PipelineError> {
    let repo = crate::git::top_level(project.cwd()).await?;
    let settings = project.settings()?;
    let target = super::github_target(
        &settings.publish,
        &settings.publish.github.base,
        Some(number),
    );
    let issue = super::github::issue(&repo, &target, number, settings.publish.timeout)
        .await
        .map_err(|message| PipelineError::Tracker {
            tracker: "GitHub",
            id: format!("#{number}"),
            message,
            check: "check that `gh auth status` passes and the issue number exists in the repository",
        })?;
    write_ticket(&repo, &format!("github-{number}"), &issue)
}

/// Linear issue `id` (an identifier such as `ENG-12`), read through the GraphQL API, as a
/// ticket.
pub async fn linear_ticket(project: &Project, id: &str) -> Result<PathBuf, PipelineError> {
    let repo = crate::git::top_level(project.cwd()).await?;
    let settings = project.settings()?;
    let issue = super::linear::issue(
        project,
        &settings.publish.linear,
        id,
        settings.publish.timeout,
    )
    .await
    .map_err(|message| PipelineError::Tracker {
        tracker: "Linear",
        id: id.to_string(),
        message,
        check: "check that the API key's variable ([publish.linear] api_key_env) is set and the issue identifier exists",
    })?;
    let name = issue
        .id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect::<String>();
    write_ticket(&repo, &name, &issue)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issue_becomes_a_ticket_with_its_id_title_and_sections() {
        let dir = tempfile::tempdir().unwrap();
        let issue = Issue {
            id: "#7".into(),
            title: "Add a greeting".into(),
            body: "Say hello.\n\n## Acceptance criteria\n- [ ] greet() returns hello\n".into(),
            url: "https://github.com/o/r/issues/7".into(),
        };
        let path = write_ticket(dir.path(), "github-7", &issue).unwrap();
        let ticket =
            baton_core::Ticket::parse(&std::fs::read_to_string(&path).unwrap(), "x").unwrap();
        assert_eq!(ticket.id, "#7");
        assert_eq!(ticket.title, "Add a greeting");
        assert_eq!(ticket.acceptance, vec!["greet() returns hello".to_string()]);
    }
}
