//! The config layers and how they merge, lowest to highest:
//! built-in defaults < user file (`$XDG_CONFIG_HOME/baton/config.toml`, or `BATON_CONFIG`)
//! < project `baton.toml` (nearest one walking up from the working directory)
//! < environment (`BATON_*`, and the `CODER_*` / `SYSTEM_PROMPT` names of `dispatch.sh`)
//! < flags and `-c dotted.key=value`.
//! Tables merge key by key; any other value (arrays included) is replaced whole. Every leaf
//! remembers the layer that set it, for `baton config show --origins`.
//! Each layer is checked on its own before it is merged: a key `Settings` does not know is
//! refused with where it was written (file and line, or the `-c` override) and the nearest
//! known key (see `keys`).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

use crate::error::{ConfigError, KeyPlace};
use crate::keys::{self, UnknownKey};
use crate::settings::Settings;

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    UserFile(PathBuf),
    ProjectFile(PathBuf),
    Env(&'static str),
    Flag(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::UserFile(path) => write!(f, "user config {}", path.display()),
            Origin::ProjectFile(path) => write!(f, "project config {}", path.display()),
            Origin::Env(var) => write!(f, "env {var}"),
            Origin::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// One layer: a TOML table and who set each of its values.
#[derive(Debug, Clone)]
pub struct Layer {
    pub table: Table,
    /// Set for values of the whole layer (files, defaults); `per_key` overrides it.
    pub origin: Origin,
    /// Origins of single keys, for layers built from several sources (env, flags).
    pub per_key: BTreeMap<String, Origin>,
}

impl Layer {
    pub fn new(origin: Origin) -> Self {
        Self {
            table: Table::new(),
            origin,
            per_key: BTreeMap::new(),
        }
    }

    /// Sets a dotted key (`profiles.code.model`) to a value, remembering its origin.
    pub fn set(&mut self, dotted: &str, value: Value, origin: Origin) {
        let parts: Vec<&str> = dotted.split('.').collect();
        let mut table = &mut self.table;
        for part in &parts[..parts.len().saturating_sub(1)] {
            let entry = table
                .entry(part.to_string())
                .or_insert_with(|| Value::Table(Table::new()));
            if !entry.is_table() {
                *entry = Value::Table(Table::new());
            }
            let Value::Table(next) = entry else { return };
            table = next;
        }
        if let Some(last) = parts.last() {
            table.insert(last.to_string(), value);
        }
        self.per_key.insert(dotted.to_string(), origin);
    }

    /// The origin of a leaf of this layer.
    fn origin_of(&self, dotted: &str) -> Origin {
        self.per_key
            .get(dotted)
            .cloned()
            .unwrap_or_else(|| self.origin.clone())
    }

    /// Checks that this layer alone is well-formed (known keys, types).
    pub fn check(&self) -> Result<(), ConfigError> {
        let origin = self.origin.to_string();
        check_table(&self.table, origin.clone(), KeyPlace::Layer { origin })
    }
}

/// Checks one `-c dotted.key=value` override on its own, so that an error names it.
pub fn check_override(text: &str, key: &str, value: &Value) -> Result<(), ConfigError> {
    let origin = Origin::Flag(format!("-c {text}"));
    let mut layer = Layer::new(origin.clone());
    layer.set(key, value.clone(), origin.clone());
    check_table(
        &layer.table,
        origin.to_string(),
        KeyPlace::Override { text: text.into() },
    )
}

/// Deserializes `table` as `Settings`: an unknown key is reported at `place`, any other
/// problem as a bad value of the layer `origin`.
fn check_table(table: &Table, origin: String, place: KeyPlace) -> Result<(), ConfigError> {
    serde_path_to_error::deserialize::<_, Settings>(Value::Table(table.clone()))
        .map(drop)
        .map_err(|error| match keys::unknown_key(error.path()) {
            Some(unknown) => unknown_key_error(&unknown, place),
            None => ConfigError::Layer {
                origin,
                message: error.inner().message().trim().to_string(),
            },
        })
}

fn unknown_key_error(unknown: &UnknownKey, place: KeyPlace) -> ConfigError {
    ConfigError::UnknownKey {
        key: unknown.key.clone(),
        place,
        table: unknown.table.clone(),
        known: unknown.known,
        nearest: unknown.nearest().map(str::to_string),
    }
}

/// Reads and checks a config file layer. Errors name the file, line, column and key.
pub fn file_layer(path: &Path, origin: Origin) -> Result<Layer, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_file_layer(&text, path, origin)
}

/// Parses and checks config text as a file layer.
pub fn parse_file_layer(text: &str, path: &Path, origin: Origin) -> Result<Layer, ConfigError> {
    let parse_error = |error: toml::de::Error| {
        let (line, column, key) = match error.span() {
            Some(span) => locate(text, span.start),
            None => (0, 0, None),
        };
        ConfigError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            key,
            message: error.message().trim().to_string(),
        }
    };
    let table: Table = toml::from_str(text).map_err(parse_error)?;
    // The built-in defaults are checked against `Settings` by a test (keys_tests: every key
    // of the defaults is accepted as a project file), not on every run: parsing them a second
    // time is a good part of what loading the config costs a CLI call.
    if origin == Origin::Default {
        return Ok(Layer {
            table,
            origin,
            per_key: BTreeMap::new(),
        });
    }
    let document = toml::Deserializer::parse(text).map_err(parse_error)?;
    serde_path_to_error::deserialize::<_, Settings>(document).map_err(|error| {
        let unknown = keys::unknown_key(error.path());
        let error = error.into_inner();
        match (unknown, error.span()) {
            (Some(unknown), Some(span)) => {
                let (line, _, _) = locate(text, span.start);
                unknown_key_error(
                    &unknown,
                    KeyPlace::File {
                        path: path.to_path_buf(),
                        line,
                    },
                )
            }
            // Without a span there is no line to name; the parse error says what it can.
            (Some(_), None) | (None, _) => parse_error(error),
        }
    })?;
    Ok(Layer {
        table,
        origin,
        per_key: BTreeMap::new(),
    })
}

/// 1-based line and column of a byte offset, and the key written on that line.
fn locate(text: &str, offset: usize) -> (usize, usize, Option<String>) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    let line_text = text[line_start..].lines().next().unwrap_or_default().trim();
    let key = line_text
        .split_once('=')
        .map(|(key, _)| key.trim().trim_matches('"').to_string())
        .filter(|key| !key.is_empty() && !key.starts_with('['))
        .or_else(|| {
            line_text
                .strip_prefix('[')
                .map(|rest| rest.trim_end_matches(']').trim().to_string())
        });
    (line, column, key)
}

/// Merges layers (lowest first) into one table and the origin of every leaf.
pub fn merge(layers: &[Layer]) -> (Table, BTreeMap<String, Origin>) {
    let mut merged = Table::new();
    let mut origins = BTreeMap::new();
    for layer in layers {
        merge_into(&mut merged, &layer.table, "", layer, &mut origins);
    }
    (merged, origins)
}

fn merge_into(
    target: &mut Table,
    source: &Table,
    prefix: &str,
    layer: &Layer,
    origins: &mut BTreeMap<String, Origin>,
) {
    for (key, value) in source {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match (target.get_mut(key), value) {
            (Some(Value::Table(existing)), Value::Table(incoming)) => {
                merge_into(existing, incoming, &path, layer, origins);
            }
            _ => {
                // A replaced subtree forgets the origins of what it replaced. Its keys sit
                // together in the sorted map, so only they are visited (a scan of the whole
                // map per key made loading the defaults quadratic).
                origins.remove(&path);
                let below = format!("{path}.");
                let replaced: Vec<String> = origins
                    .range::<str, _>((Bound::Included(below.as_str()), Bound::Unbounded))
                    .map(|(key, _)| key)
                    .take_while(|key| key.starts_with(&below))
                    .cloned()
                    .collect();
                for key in replaced {
                    origins.remove(&key);
                }
                record_origins(value, &path, layer, origins);
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

fn record_origins(
    value: &Value,
    path: &str,
    layer: &Layer,
    origins: &mut BTreeMap<String, Origin>,
) {
    match value {
        Value::Table(table) if !table.is_empty() => {
            for (key, inner) in table {
                record_origins(inner, &format!("{path}.{key}"), layer, origins);
            }
        }
        _ => {
            origins.insert(path.to_string(), layer.origin_of(path));
        }
    }
}

/// Parses a `-c dotted.key=value` override. The value is read as TOML (`4`, `true`,
/// `["a"]`, `"text"`), and as a plain string when it is not valid TOML.
pub fn parse_override(text: &str) -> Result<(String, Value), ConfigError> {
    let (key, raw) = text.split_once('=').ok_or_else(|| ConfigError::Override {
        text: text.into(),
        message: "missing `=`".into(),
    })?;
    let key = key.trim();
    if key.is_empty() || key.split('.').any(|part| part.trim().is_empty()) {
        return Err(ConfigError::Override {
            text: text.into(),
            message: "empty key".into(),
        });
    }
    let raw = raw.trim();
    let value = toml::from_str::<Table>(&format!("value = {raw}"))
        .ok()
        .and_then(|mut table| table.remove("value"))
        .unwrap_or_else(|| Value::String(raw.to_string()));
    Ok((key.to_string(), value))
}
