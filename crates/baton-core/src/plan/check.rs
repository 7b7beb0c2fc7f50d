//! Every problem of a plan or a verdict, not just the first, each located: the architect or
//! the reviewer gets them all back at once, and a `--plan` file's author sees them all. Also
//! the path normalisation that [`Plan::normalized`] applies, so that a path is checked in the
//! form the scheduler compares.

use std::collections::HashMap;

use super::{Check, Plan, PlanProblem, Verdict};

impl Plan {
    /// Every problem: an empty summary; no subtasks; ids empty, not `[A-Za-z0-9._-]+` or
    /// duplicated; an empty `title` or `what`; no `files` (for any kind); a path
    /// (of `files` or `context`) that is empty, absolute, uses a backslash, climbs with `..`, or
    /// lies in `.git` or `.baton`; `depends_on` naming an unknown id or the subtask itself; and
    /// each dependency cycle, its ids in order. Two subtasks owning one file is not a problem:
    /// the scheduler runs them one after the other.
    pub fn check(&self) -> Vec<PlanProblem> {
        let mut problems = Vec::new();
        if self.summary.trim().is_empty() {
            problems.push(PlanProblem::new("summary", "is empty"));
        }
        if self.subtasks.is_empty() {
            problems.push(PlanProblem::new("subtasks", "the plan has no subtasks"));
        }
        // The first subtask with each id: duplicates are reported against it, and dependencies
        // resolve to it.
        let mut first_with_id: HashMap<&str, usize> = HashMap::new();
        for (index, subtask) in self.subtasks.iter().enumerate() {
            let at = format!("subtasks[{index}]");
            let id = subtask.id.as_str();
            if id.trim().is_empty() {
                problems.push(PlanProblem::new(format!("{at}.id"), "is empty"));
            } else if !is_valid_id(id) {
                problems.push(PlanProblem::new(
                    format!("{at}.id"),
                    format!("`{id}` may hold only letters, digits, `.`, `_` and `-`"),
                ));
            }
            if !id.is_empty() {
                match first_with_id.get(id) {
                    Some(first) => problems.push(PlanProblem::new(
                        format!("{at}.id"),
                        format!("`{id}` is also the id of subtasks[{first}]"),
                    )),
                    None => {
                        first_with_id.insert(id, index);
                    }
                }
            }
            if subtask.title.trim().is_empty() {
                problems.push(PlanProblem::new(format!("{at}.title"), "is empty"));
            }
            if subtask.what.trim().is_empty() {
                problems.push(PlanProblem::new(format!("{at}.what"), "is empty"));
            }
            // Every kind writes somewhere, and an empty allow-list would let it write anywhere.
            if subtask.files.is_empty() {
                problems.push(PlanProblem::new(
                    format!("{at}.files"),
                    format!(
                        "a {} subtask must own at least one file",
                        subtask.kind.as_str()
                    ),
                ));
            }
            for (field, paths) in [("files", &subtask.files), ("context", &subtask.context)] {
                for (k, path) in paths.iter().enumerate() {
                    if let Err(problem) = normalize_path(path) {
                        problems.push(PlanProblem::new(format!("{at}.{field}[{k}]"), problem));
                    }
                }
            }
        }
        for (index, subtask) in self.subtasks.iter().enumerate() {
            for (k, dependency) in subtask.depends_on.iter().enumerate() {
                let at = format!("subtasks[{index}].depends_on[{k}]");
                if *dependency == subtask.id {
                    problems.push(PlanProblem::new(at, "a subtask cannot depend on itself"));
                } else if !first_with_id.contains_key(dependency.as_str()) {
                    problems.push(PlanProblem::new(
                        at,
                        format!("no subtask has the id {dependency:?}"),
                    ));
                }
            }
        }
        for cycle in self.cycles(&first_with_id) {
            let names: Vec<&str> = cycle
                .iter()
                .chain(cycle.first())
                .map(|index| self.subtasks[*index].id.as_str())
                .collect();
            problems.push(PlanProblem::new(
                format!("subtasks[{}].depends_on", cycle[0]),
                format!("dependency cycle: {}", names.join(" -> ")),
            ));
        }
        problems
    }

    /// The plan with every path of `files` and `context` normalised as [`Plan::check`] does
    /// (`./src/x.py` becomes `src/x.py`), so that paths compare equal. A path `check` refuses
    /// is kept as written; call this once `check` finds nothing.
    pub fn normalized(&self) -> Plan {
        let mut plan = self.clone();
        for subtask in &mut plan.subtasks {
            for path in subtask.files.iter_mut().chain(subtask.context.iter_mut()) {
                if let Ok(normal) = normalize_path(path) {
                    *path = normal;
                }
            }
        }
        plan
    }

    /// Each dependency cycle, as subtask indexes in dependency order (each depends on the next,
    /// the last on the first), starting at its subtask that comes first in the plan. A cycle
    /// is found once, by the back edge that closes it in a depth-first walk in plan order.
    fn cycles(&self, first_with_id: &HashMap<&str, usize>) -> Vec<Vec<usize>> {
        let edges: Vec<Vec<usize>> = self
            .subtasks
            .iter()
            .enumerate()
            .map(|(index, subtask)| {
                subtask
                    .depends_on
                    .iter()
                    .filter_map(|id| first_with_id.get(id.as_str()).copied())
                    // A self dependency is reported on its own, and is no cycle to list.
                    .filter(|target| *target != index)
                    .collect()
            })
            .collect();
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Unseen,
            OnPath,
            Done,
        }
        let mut marks = vec![Mark::Unseen; edges.len()];
        let mut cycles = Vec::new();
        for root in 0..edges.len() {
            if marks[root] != Mark::Unseen {
                continue;
            }
            // The walk's path: each subtask on it, and the next of its edges to follow.
            let mut path: Vec<(usize, usize)> = vec![(root, 0)];
            marks[root] = Mark::OnPath;
            while let Some(top) = path.last_mut() {
                let node = top.0;
                let Some(&target) = edges[node].get(top.1) else {
                    marks[node] = Mark::Done;
                    path.pop();
                    continue;
                };
                top.1 += 1;
                match marks[target] {
                    Mark::Unseen => {
                        marks[target] = Mark::OnPath;
                        path.push((target, 0));
                    }
                    Mark::OnPath => {
                        let from = path.iter().position(|(n, _)| *n == target).unwrap_or(0);
                        let mut cycle: Vec<usize> = path[from..].iter().map(|(n, _)| *n).collect();
                        let lowest = (0..cycle.len()).min_by_key(|i| cycle[*i]).unwrap_or(0);
                        cycle.rotate_left(lowest);
                        cycles.push(cycle);
                    }
                    Mark::Done => {}
                }
            }
        }
        cycles
    }
}

/// `[A-Za-z0-9._-]+`: safe in a branch name, a file name and a log line.
fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A plan's path in the form the scheduler compares: trimmed, `.` components and repeated
/// slashes dropped, no trailing slash. Err is the problem, for [`PlanProblem::problem`].
/// `.git` is refused at any depth (a nested repository's internals are no safer), `.baton`
/// (Baton's own state) at the root.
pub(crate) fn normalize_path(raw: &str) -> Result<String, String> {
    let path = raw.trim();
    if path.is_empty() {
        return Err("is empty".into());
    }
    if path.contains('\\') {
        return Err(format!("`{path}` uses a backslash; write paths with `/`"));
    }
    let bytes = path.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    if path.starts_with('/') || drive {
        return Err(format!(
            "`{path}` is absolute; paths are relative to the project root"
        ));
    }
    let parts: Vec<&str> = path
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(format!("`{path}` climbs out with `..`"));
    }
    let Some(first) = parts.first() else {
        return Err(format!("`{path}` names no file"));
    };
    if parts.iter().any(|part| part.eq_ignore_ascii_case(".git")) {
        return Err(format!("`{path}` is inside `.git`"));
    }
    if first.eq_ignore_ascii_case(".baton") {
        return Err(format!("`{path}` is inside `.baton`, Baton's own state"));
    }
    Ok(parts.join("/"))
}

impl Verdict {
    /// Problems: a rejection that lists no required fix; an approval with a failed finding or
    /// with required fixes; a check with two findings. A check with none is allowed: the
    /// reviewer may have nothing to say about it.
    pub fn check(&self) -> Vec<PlanProblem> {
        let mut problems = Vec::new();
        let fixes = self
            .required_fixes
            .iter()
            .filter(|fix| !fix.trim().is_empty())
            .count();
        if !self.approved && fixes == 0 {
            problems.push(PlanProblem::new(
                "required_fixes",
                "a rejection must list the fixes it requires",
            ));
        }
        if self.approved && fixes > 0 {
            problems.push(PlanProblem::new(
                "required_fixes",
                "an approval cannot require fixes; reject instead",
            ));
        }
        let mut first_with_check: HashMap<Check, usize> = HashMap::new();
        for (index, finding) in self.findings.iter().enumerate() {
            if self.approved && !finding.passed {
                problems.push(PlanProblem::new(
                    format!("findings[{index}]"),
                    format!(
                        "the verdict approves, but `{}` failed ({})",
                        finding.check,
                        finding.check.describe()
                    ),
                ));
            }
            match first_with_check.get(&finding.check) {
                Some(first) => problems.push(PlanProblem::new(
                    format!("findings[{index}].check"),
                    format!("`{}` is also the check of findings[{first}]", finding.check),
                )),
                None => {
                    first_with_check.insert(finding.check, index);
                }
            }
        }
        problems
    }
}
