//! The environment a child gets: an allow-list of this process's variables (the ones any
//! program needs to find its tools, home, locale and temp dir), the names a caller asks to
//! pass on, then the variables a caller sets. Everything else (API keys above all) stays out.
//! Worker supervision and [`run`](crate::run()) both build their children's environment here.

use std::ffi::{OsStr, OsString};

/// Variables of this process's environment every child gets.
const ALLOWED: [&str; 9] = [
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "TERM", "TZ", "TMPDIR",
];
const ALLOWED_PREFIXES: [&str; 2] = ["LC_", "XDG_"];

/// The allow-listed and `pass`ed variables of `ours`, then `set`. Later entries win (as
/// with `Command::envs`), so `set` overrides an inherited variable of the same name.
pub(crate) fn build(
    ours: impl Iterator<Item = (OsString, OsString)>,
    pass: &[String],
    set: &[(String, String)],
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = ours
        .filter(|(name, _)| {
            let name = name.to_string_lossy();
            ALLOWED.contains(&name.as_ref())
                || ALLOWED_PREFIXES
                    .iter()
                    .any(|prefix| name.starts_with(prefix))
                || pass.iter().any(|pass| OsStr::new(pass) == name.as_ref())
        })
        .collect();
    env.extend(set.iter().map(|(name, value)| (name.into(), value.into())));
    env
}

/// The value `name` ends up with in `env` (the last entry wins).
pub(crate) fn value_of<'a>(env: &'a [(OsString, OsString)], name: &str) -> Option<&'a OsStr> {
    env.iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_os_str())
}
