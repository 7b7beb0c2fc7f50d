//! What every parse must hold, whatever the reply: the fuzz targets' shared assertions.

use baton_edit::{EditFormat, EditKind, HunkLine, Parsed};

/// Asserts the invariants of `parsed`, the result of parsing `reply` as `format` (`None`:
/// detected).
pub fn check(reply: &str, parsed: &Parsed, format: Option<EditFormat>) {
    assert_eq!(
        parsed.format, format,
        "the parse reports another format than used"
    );
    // One past the last line: problems about a cut reply may point just after it.
    let last_line = reply.lines().count().max(1) + 1;
    let mut previous_line = 0;
    for (index, edit) in parsed.edits.iter().enumerate() {
        assert!(!edit.path.is_empty(), "edit {index} has an empty path");
        assert!(!edit.path.contains('\n'), "edit {index}'s path spans lines");
        assert_eq!(edit.origin.index, index, "origin indexes out of order");
        assert!(
            edit.origin.line > previous_line,
            "origin lines out of order"
        );
        assert!(edit.origin.line <= last_line, "origin line past the reply");
        previous_line = edit.origin.line;
        if let EditKind::Patch { hunks } = &edit.kind {
            assert!(!hunks.is_empty(), "a patch without hunks");
            for hunk in hunks {
                let changes = hunk
                    .lines
                    .iter()
                    .any(|line| !matches!(line, HunkLine::Context(_)));
                assert!(changes, "a hunk that changes nothing");
            }
        }
    }
    for problem in &parsed.problems {
        assert!(
            problem.line >= 1 && problem.line <= last_line,
            "problem line out of range"
        );
        assert!(!problem.message.is_empty(), "a problem without a message");
    }
    assert!(
        !parsed.edits.is_empty() || !parsed.problems.is_empty(),
        "no edits and no problem saying why"
    );
}
