//! A run's trail as it happens: every event goes to the store (subject = the run id), to the
//! run folder's `events.jsonl` (the same row shape as the store's), to the caller's
//! [`Progress`] (the terminal display, or NDJSON on stdout), and, for a run that publishes,
//! to its outbox with the publications it calls for (`publish/trail.rs`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use baton_core::publish::PublishPlan;
use baton_core::{Event, Phase};
use baton_ops::Project;

use crate::PipelineError;
use crate::publish::{Publication, Publisher, trail};

/// Where the caller watches a run from. Called from the run's task, in order.
pub trait Progress: Send + Sync {
    /// An event was recorded.
    fn event(&self, run_id: &str, event: &Event);
    /// Something to tell the person watching (a notice of a dispatch, a detected command).
    fn note(&self, run_id: &str, text: &str);
    /// Work began that takes a while (a dispatch, a gate, a review): `key` names it until
    /// [`Progress::done`], `what` says what it is.
    fn working(&self, _run_id: &str, _key: &str, _what: &str) {}
    /// The work `key` is over (its outcome comes as an event).
    fn done(&self, _run_id: &str, _key: &str) {}
}

/// Shows nothing (tests, callers that read the summary only).
#[derive(Debug, Default)]
pub struct Quiet;

impl Progress for Quiet {
    fn event(&self, _run_id: &str, _event: &Event) {}
    fn note(&self, _run_id: &str, _text: &str) {}
}

/// Writes a run's events everywhere they go. Clones share the `events.jsonl` handle, so
/// the run and its publisher never interleave half lines.
#[derive(Clone)]
pub(crate) struct Recorder<'a> {
    pub run_id: String,
    project: &'a Project,
    jsonl: Arc<Mutex<std::fs::File>>,
    jsonl_path: PathBuf,
    folder: PathBuf,
    progress: &'a dyn Progress,
    publisher: Option<Arc<Publisher>>,
}

impl<'a> Recorder<'a> {
    /// Opens (appending) `folder/events.jsonl`, creating the folder. A run already recorded
    /// publishes by the plan it began with.
    pub(crate) fn open(
        project: &'a Project,
        run_id: &str,
        folder: &Path,
        progress: &'a dyn Progress,
    ) -> Result<Recorder<'a>, PipelineError> {
        std::fs::create_dir_all(folder).map_err(|source| PipelineError::Write {
            path: folder.to_path_buf(),
            source,
        })?;
        let jsonl_path = folder.join("events.jsonl");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&jsonl_path)
            .map_err(|source| PipelineError::Write {
                path: jsonl_path.clone(),
                source,
            })?;
        let store = project.store()?;
        let publisher = match store.run(run_id)?.filter(|run| run.id == run_id) {
            Some(run) => {
                let plan = crate::publish::recorded(&store, run_id)?;
                (!plan.is_empty()).then(|| Publisher::new(plan, run.branch))
            }
            None => None,
        };
        drop(store);
        Ok(Recorder {
            run_id: run_id.to_string(),
            project,
            jsonl: Arc::new(Mutex::new(file)),
            jsonl_path,
            folder: folder.to_path_buf(),
            progress,
            publisher,
        })
    }

    /// Publishes by `plan` from now on (a new run, whose plan its `run.started` will hold).
    pub(crate) fn with_publish(mut self, plan: PublishPlan, branch: &str) -> Recorder<'a> {
        self.publisher = (!plan.is_empty()).then(|| Publisher::new(plan, branch.to_string()));
        self
    }

    pub(crate) fn publisher(&self) -> Option<&Arc<Publisher>> {
        self.publisher.as_ref()
    }

    pub(crate) fn project(&self) -> &'a Project {
        self.project
    }

    /// Queues `items` in the run's outbox (those of targets the run does not publish to are
    /// dropped) and wakes its publisher.
    pub(crate) fn publish(&self, items: Vec<Publication>) -> Result<(), PipelineError> {
        let Some(publisher) = &self.publisher else {
            return Ok(());
        };
        let targets = publisher.plan.targets();
        let queued = items
            .iter()
            .filter(|item| targets.contains(&item.target))
            .map(Publication::queued)
            .collect::<Result<Vec<_>, _>>()?;
        if queued.is_empty() {
            return Ok(());
        }
        self.project
            .store()?
            .outbox_enqueue(&self.run_id, &queued)?;
        publisher.ring();
        Ok(())
    }

    /// Writes the phase's comment (`NN-phase.md`; a later round replaces it) and queues it for
    /// the trackers, saying which `agent` did the phase.
    pub(crate) fn phase_comment(
        &self,
        phase: Phase,
        agent: &str,
        body: &str,
    ) -> Result<(), PipelineError> {
        crate::report::phase_comment(&self.folder, phase, agent, body)?;
        self.publish(trail::for_comment(phase, agent, body))
    }

    /// Records `event`: store first (the trail of record), then the mirror and the display.
    pub(crate) fn record(&self, event: Event) -> Result<(), PipelineError> {
        let id = self.project.store()?.append_event(&self.run_id, &event)?;
        self.mirror(id, &event)?;
        self.progress.event(&self.run_id, &event);
        Ok(())
    }

    /// Mirrors an event the store already holds (one written with a state change).
    pub(crate) fn mirror_latest(&self) -> Result<(), PipelineError> {
        let store = self.project.store()?;
        if let Some(row) = store.events_of(&self.run_id)?.pop() {
            self.mirror(row.id, &row.event)?;
            self.progress.event(&self.run_id, &row.event);
        }
        Ok(())
    }

    /// Mirrors event `id` (one the store wrote with a state change of its own) and shows it.
    pub(crate) fn mirror_event(&self, id: i64, event: &Event) -> Result<(), PipelineError> {
        self.mirror(id, event)?;
        self.progress.event(&self.run_id, event);
        Ok(())
    }

    fn mirror(&self, id: i64, event: &Event) -> Result<(), PipelineError> {
        let line = serde_json::json!({
            "id": id,
            "at_ms": baton_core::now_ms(),
            "kind": event.kind(),
            "version": event.version(),
            "subject": self.run_id,
            "data": event.data().unwrap_or_default(),
        });
        let mut file = self
            .jsonl
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        writeln!(file, "{line}").map_err(|source| PipelineError::Write {
            path: self.jsonl_path.clone(),
            source,
        })?;
        drop(file);
        match &self.publisher {
            Some(publisher) => {
                self.publish(trail::for_event(publisher, &self.folder, id, &line, event))
            }
            None => Ok(()),
        }
    }

    pub(crate) fn note(&self, text: &str) {
        self.progress.note(&self.run_id, text);
    }

    pub(crate) fn working(&self, key: &str, what: &str) {
        self.progress.working(&self.run_id, key, what);
    }

    pub(crate) fn done(&self, key: &str) {
        self.progress.done(&self.run_id, key);
    }
}

/// Marks a run whose coordinator was stopped (Ctrl-C, SIGTERM) as `interrupted`, with its
/// `run.ended` event in the store and in the run folder's `events.jsonl`. A run already
/// ended is left as it is.
pub fn mark_interrupted(project: &Project, run_id: &str, why: &str) -> Result<(), PipelineError> {
    let store = project.store()?;
    let Some(run) = store.run(run_id)? else {
        return Ok(());
    };
    if run.status.is_final() {
        return Ok(());
    }
    store.set_run_status(run_id, baton_core::run::RunStatus::Interrupted, Some(why))?;
    drop(store);
    let folder = Path::new(&run.repo)
        .join(".baton")
        .join("runs")
        .join(run_id);
    let recorder = Recorder::open(project, run_id, &folder, &Quiet)?;
    recorder.mirror_latest()
}
