//! The edits ledger: one row per reply handed to the applier, with its event, read back as
//! written and summed per model and format by the rules of `src/edits.rs`.

#![allow(
    clippy::unwrap_used,
    reason = "clippy allows unwrap in #[test] fns only; the helpers here panic on failure too"
)]

use baton_core::event::{FileStatus, FileTouched};
use baton_core::{EditFormat, EditRecord};
use baton_store::Store;
use pretty_assertions::assert_eq;
use serde_json::json;
use tempfile::TempDir;

fn record(id: &str, model: Option<&str>, format: EditFormat, at_ms: i64) -> EditRecord {
    EditRecord {
        id: id.into(),
        request_id: Some(format!("req-{id}")),
        at_ms,
        model: model.map(Into::into),
        format,
        parsed_as: Some(format),
        well_formed: true,
        edits: 2,
        applied: 2,
        already_applied: 0,
        failed: 0,
        refused: 0,
        written: true,
        dry_run: false,
    }
}

#[test]
fn a_recorded_reply_reads_back_as_written_with_an_event_that_carries_no_file_content() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    let mut malformed = record("a", None, EditFormat::SearchReplace, 10);
    malformed.parsed_as = None;
    malformed.well_formed = false;
    malformed.edits = 0;
    malformed.applied = 0;
    malformed.written = false;
    let files = [FileTouched {
        path: "src/a.rs".into(),
        status: FileStatus::Modified,
        insertions: 3,
        deletions: 1,
        written: false,
    }];
    store.record_edit(&malformed, &files).unwrap();
    assert_eq!(store.edits(None).unwrap(), [malformed]);
    assert_eq!(store.edits(Some(11)).unwrap(), []);

    let events = store.events_of("a").unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind(), "edit.applied");
    assert_eq!(
        events[0].data()["files"],
        json!([{"path": "src/a.rs", "status": "modified", "insertions": 3, "deletions": 1, "written": false}])
    );
    assert_eq!(events[0].data()["format"], "search-replace");
    assert_eq!(events[0].data()["well_formed"], false);
}

#[test]
fn a_duplicate_id_is_refused_and_writes_neither_row_nor_event() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    let first = record("same", Some("m"), EditFormat::Whole, 1);
    store.record_edit(&first, &[]).unwrap();
    assert!(store.record_edit(&first, &[]).is_err());
    assert_eq!(store.edits(None).unwrap().len(), 1);
    assert_eq!(store.events_of("same").unwrap().len(), 1);
}

#[test]
fn stats_count_well_formed_and_applied_replies_per_model_and_format_leaving_out_dry_runs() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    let qwen = Some("qwen");
    store
        .record_edit(&record("1", qwen, EditFormat::Whole, 1), &[])
        .unwrap();
    let mut failed = record("2", qwen, EditFormat::Whole, 2);
    failed.applied = 1;
    failed.failed = 1;
    store.record_edit(&failed, &[]).unwrap();
    let mut malformed = record("3", qwen, EditFormat::SearchReplace, 3);
    malformed.well_formed = false;
    malformed.edits = 0;
    malformed.applied = 0;
    store.record_edit(&malformed, &[]).unwrap();
    let mut already = record("4", qwen, EditFormat::SearchReplace, 4);
    already.applied = 0;
    already.already_applied = 2;
    store.record_edit(&already, &[]).unwrap();
    store
        .record_edit(&record("5", None, EditFormat::Udiff, 5), &[])
        .unwrap();
    store
        .record_edit(&record("6", Some("alpha"), EditFormat::Udiff, 6), &[])
        .unwrap();
    let mut checked = record("7", Some("alpha"), EditFormat::Udiff, 7);
    checked.dry_run = true;
    store.record_edit(&checked, &[]).unwrap();

    let stats = store.edit_stats(None).unwrap();
    let rows: Vec<(Option<&str>, EditFormat, u64, u64, u64)> = stats
        .iter()
        .map(|s| {
            (
                s.model.as_deref(),
                s.format,
                s.replies,
                s.well_formed,
                s.applied,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (Some("alpha"), EditFormat::Udiff, 1, 1, 1),
            (qwen, EditFormat::Whole, 2, 2, 1),
            (qwen, EditFormat::SearchReplace, 2, 1, 1),
            (None, EditFormat::Udiff, 1, 1, 1),
        ]
    );
    let whole = &stats[1];
    assert_eq!(
        (whole.edits, whole.edits_applied, whole.edits_failed),
        (4, 3, 1)
    );
    assert_eq!(whole.applied_rate(), 0.5);
    assert_eq!(stats[2].well_formed_rate(), 0.5);
    assert_eq!(stats[2].edits_already_applied, 2);
    assert_eq!(store.edit_stats(Some(6)).unwrap().len(), 1);
}
