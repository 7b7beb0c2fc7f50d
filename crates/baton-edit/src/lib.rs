//! Turning a model's reply into safe changes to files (DESIGN.md section 7): parsers for the
//! three edit formats, each with the prompt that asks a model for it, format detection, and
//! the applier that validates every edit of a reply before any file changes, matches SEARCH
//! text exactly, then ignoring whitespace, then by the best unique fuzzy match, refuses paths
//! outside the root, and writes atomically.
//!
//! Knows nothing of the store or of models: callers record outcomes (the ledger's `edits`
//! rows) and send [`ApplyReport::feedback`] back to the model.

mod apply;
mod detect;
mod edit;
mod fence;
mod matching;
mod safety;
pub mod search_replace;
pub mod udiff;
pub mod whole;

pub use apply::{
    ApplyOptions, ApplyReport, EditOutcome, EditStatus, FileChange, FileStatus, MatchMethod, Tally,
    apply,
};
pub use detect::{detect, parse, parse_for, prompt};
pub use edit::{Edit, EditFormat, EditKind, Hunk, HunkLine, Origin, ParseProblem, Parsed};
pub use safety::Refusal;
