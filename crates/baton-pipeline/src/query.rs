//! Reading runs back: the list (`baton runs`) and one run with its trail (`baton show`), as
//! the typed responses every front end prints.

use std::path::Path;

use baton_core::run::RunRecord;
use baton_ops::{OpsError, Project};
use baton_store::{EventRow, RunUsage};
use serde::Serialize;

use crate::PipelineError;

/// Runs, newest first.
pub async fn runs(project: &Project, limit: usize) -> Result<Vec<RunRecord>, PipelineError> {
    Ok(project.store()?.runs(limit)?)
}

/// One run and everything recorded of it.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub run: RunRecord,
    pub events: Vec<EventRow>,
    pub usage: Vec<RunUsage>,
    /// The run folder and the reports in it that exist.
    pub folder: String,
    pub reports: Vec<String>,
}

/// The run `key` names (its id, or the start of it).
pub async fn show(project: &Project, key: &str) -> Result<RunView, PipelineError> {
    let store = project.store()?;
    let run = store.run(key)?.ok_or_else(|| {
        PipelineError::Ops(OpsError::from(baton_store::StoreError::UnknownRun {
            id: key.to_string(),
        }))
    })?;
    let events = store.events_of(&run.id)?;
    let usage = store.run_usage(&run.id)?;
    let folder = Path::new(&run.repo)
        .join(".baton")
        .join("runs")
        .join(&run.id);
    let mut reports: Vec<String> = std::fs::read_dir(&folder)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".md"))
                .collect()
        })
        .unwrap_or_default();
    reports.sort();
    Ok(RunView {
        run,
        events,
        usage,
        folder: folder.to_string_lossy().into_owned(),
        reports,
    })
}
