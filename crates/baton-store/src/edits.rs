//! The edits ledger (`edits` table, schema v4): one row per model reply handed to the applier,
//! written with an `edit.applied` event in the same transaction, and the well-formedness
//! figures per model and format that `baton stats --edits` prints.
//!
//! Counting rules, chosen once here:
//! - a reply is **well-formed** when it parsed, in the format asked for, into at least one
//!   edit with no parse problem;
//! - a reply **applied** when it was well-formed and none of its edits failed or was refused
//!   (edits found already applied count as applied: the file holds what the model meant);
//! - dry runs are recorded (with `dry_run` set) but not counted: checking a reply and then
//!   applying it is one reply, not two.

use baton_core::Event;
use baton_core::event::{EditApplied, FileTouched};
use baton_core::{EditFormat, EditRecord};
use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::codec::{opt_text_enum, text_enum};
use crate::{Store, StoreError};

/// Well-formedness and outcomes of the replies of one model in one format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditStats {
    /// `None`: replies given to `baton apply` without `--model`.
    pub model: Option<String>,
    pub format: EditFormat,
    pub replies: u64,
    pub well_formed: u64,
    /// Well-formed replies none of whose edits failed or was refused.
    pub applied: u64,
    /// Edits in all the replies, and how they ended.
    pub edits: u64,
    pub edits_applied: u64,
    pub edits_already_applied: u64,
    pub edits_failed: u64,
    pub edits_refused: u64,
}

impl EditStats {
    /// `well_formed / replies`, 0..=1.
    pub fn well_formed_rate(&self) -> f64 {
        ratio(self.well_formed, self.replies)
    }

    /// `applied / replies`, 0..=1.
    pub fn applied_rate(&self) -> f64 {
        ratio(self.applied, self.replies)
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

impl Store {
    /// Appends one reply's outcome with its `edit.applied` event (subject: the record id;
    /// data: the record and `files`, what changed in each file, never file contents), in one
    /// transaction.
    pub fn record_edit(
        &self,
        record: &EditRecord,
        files: &[FileTouched],
    ) -> Result<(), StoreError> {
        const WHAT: &str = "record an applied reply";
        let tx = self.write_tx(WHAT)?;
        tx.prepare_cached(
            "INSERT INTO edits (id, request_id, at_ms, model, format, parsed_as, well_formed,
                edits, applied, already_applied, failed, refused, written, dry_run)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                record.id,
                record.request_id,
                record.at_ms,
                record.model,
                record.format.as_str(),
                record.parsed_as.map(EditFormat::as_str),
                record.well_formed,
                record.edits,
                record.applied,
                record.already_applied,
                record.failed,
                record.refused,
                record.written,
                record.dry_run,
            ])
        })
        .map_err(self.query_err(WHAT))?;
        let event = Event::EditApplied(EditApplied {
            record: record.clone(),
            files: files.to_vec(),
        });
        self.insert_event(&tx, &record.id, &event)?;
        tx.commit().map_err(self.query_err(WHAT))?;
        Ok(())
    }

    /// Every recorded reply at or after `since_ms` (all when `None`), oldest first.
    pub fn edits(&self, since_ms: Option<i64>) -> Result<Vec<EditRecord>, StoreError> {
        const WHAT: &str = "read the edits ledger";
        self.conn
            .prepare_cached(
                "SELECT id, request_id, at_ms, model, format, parsed_as, well_formed, edits,
                    applied, already_applied, failed, refused, written, dry_run
                 FROM edits WHERE at_ms >= ?1 ORDER BY at_ms, id",
            )
            .and_then(|mut stmt| {
                stmt.query_map([since_ms.unwrap_or(i64::MIN)], |r| {
                    Ok(EditRecord {
                        id: r.get(0)?,
                        request_id: r.get(1)?,
                        at_ms: r.get(2)?,
                        model: r.get(3)?,
                        format: text_enum(r, 4, "edits.format", EditFormat::parse)?,
                        parsed_as: opt_text_enum(r, 5, "edits.parsed_as", EditFormat::parse)?,
                        well_formed: r.get(6)?,
                        edits: r.get(7)?,
                        applied: r.get(8)?,
                        already_applied: r.get(9)?,
                        failed: r.get(10)?,
                        refused: r.get(11)?,
                        written: r.get(12)?,
                        dry_run: r.get(13)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(self.query_err(WHAT))
    }

    /// Replies and their outcomes per model and format since `since_ms`, sorted by model
    /// (unknown last), then format in [`EditFormat::ALL`] order.
    pub fn edit_stats(&self, since_ms: Option<i64>) -> Result<Vec<EditStats>, StoreError> {
        let mut groups: Vec<EditStats> = Vec::new();
        for record in self.edits(since_ms)?.into_iter().filter(|r| !r.dry_run) {
            let index = match groups
                .iter()
                .position(|g| g.model == record.model && g.format == record.format)
            {
                Some(index) => index,
                None => {
                    groups.push(EditStats {
                        model: record.model.clone(),
                        format: record.format,
                        replies: 0,
                        well_formed: 0,
                        applied: 0,
                        edits: 0,
                        edits_applied: 0,
                        edits_already_applied: 0,
                        edits_failed: 0,
                        edits_refused: 0,
                    });
                    groups.len() - 1
                }
            };
            let group = &mut groups[index];
            group.replies += 1;
            group.well_formed += u64::from(record.well_formed);
            group.applied +=
                u64::from(record.well_formed && record.failed == 0 && record.refused == 0);
            group.edits += u64::from(record.edits);
            group.edits_applied += u64::from(record.applied);
            group.edits_already_applied += u64::from(record.already_applied);
            group.edits_failed += u64::from(record.failed);
            group.edits_refused += u64::from(record.refused);
        }
        let format_rank = |f: EditFormat| EditFormat::ALL.iter().position(|x| *x == f);
        groups.sort_by(|a, b| {
            (a.model.is_none(), &a.model, format_rank(a.format)).cmp(&(
                b.model.is_none(),
                &b.model,
                format_rank(b.format),
            ))
        });
        Ok(groups)
    }
}
