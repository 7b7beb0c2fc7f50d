//! Turning a model's reply into safe changes to files (DESIGN.md section 7): parsers for the
//! three edit formats, each with the prompt that asks a model for it, format detection, and
//! the applier that validates every edit of a reply before any file changes, matches SEARCH
//! text exactly, then ignoring whitespace, then by the best unique fuzzy match, refuses paths
//! outside the root, and writes atomically.
//!
//! What small models copy from a prompt's example is marked by the parse, which is told the
//! context files ([`parse_with_context`]), and decided by the applier, which sees the files: an
//! echoed example ([`Edit::example`]) is dropped when its file does not exist, and an answer
//! put under the example's path or directory ([`Edit::context_file`]) edits the context file
//! when the written path does not exist.
//!
//! Knows nothing of the store or of models: callers record outcomes (the ledger's `edits`
//! rows) and send [`ApplyReport::feedback`] back to the model. `tests/corpus/real/` holds real
//! replies of the rig's models in every format (rebuilt by `bench/edits_corpus.sh`), each with
//! what it parses to.

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
pub use detect::{detect, parse, parse_for, parse_with_context, prompt};
pub use edit::{Edit, EditFormat, EditKind, Hunk, HunkLine, Origin, ParseProblem, Parsed};
pub use safety::Refusal;
