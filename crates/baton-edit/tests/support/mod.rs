//! Edits built by hand, shared by the applier's test binaries (`apply.rs`, `refusals.rs`).

use baton_edit::{Edit, EditKind, Origin};

/// Edits numbered in order, as a parser would return them.
pub(crate) fn edits(list: Vec<(&str, EditKind)>) -> Vec<Edit> {
    list.into_iter()
        .enumerate()
        .map(|(index, (path, kind))| Edit {
            path: path.to_owned(),
            kind,
            origin: Origin {
                index,
                line: index * 10 + 1,
            },
            context_file: None,
            example: false,
        })
        .collect()
}

pub(crate) fn sr(search: &str, replace: &str) -> EditKind {
    EditKind::SearchReplace {
        search: search.to_owned(),
        replace: replace.to_owned(),
    }
}

pub(crate) fn whole(content: &str) -> EditKind {
    EditKind::Whole {
        content: content.to_owned(),
    }
}
