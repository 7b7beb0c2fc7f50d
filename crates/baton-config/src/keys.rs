//! Unknown keys: which key of a layer `Settings` has no place for, the keys the table it was
//! written in does know, and the nearest of them.
//!
//! Nothing here lists keys by hand. Every struct of [`Settings`] denies unknown fields, so
//! deserializing a layer stops at the first key it does not know; the layers record that
//! key's path (`serde_path_to_error`). Whether the path ends in an unknown key, and which keys
//! its table knows, is asked of `Settings` itself with [`known_keys`]: a probe deserializer
//! walks the path and offers a key no struct has, and the struct at its end answers with its
//! field names (serde's `unknown_field`). Tables whose keys are names (`[backends.NAME]`,
//! `[profiles.NAME]`, `env`) are maps in `Settings`: any name passes there, and the keys inside
//! each named entry are checked like any other.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde_path_to_error::{Path, Segment};

use crate::settings::Settings;

/// A key `Settings` does not know, with the known keys of its table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnknownKey {
    /// The whole dotted path of the key, as written (`profiles.code.temprature`).
    pub key: String,
    /// The key itself, the last part of the path (`temprature`).
    pub name: String,
    /// The dotted path of the table it was written in; empty for the top level.
    pub table: String,
    /// The keys that table knows, in the order `Settings` declares them.
    pub known: &'static [&'static str],
}

impl UnknownKey {
    /// The known key nearest to the one written, if one is near enough to be a misspelling.
    pub(crate) fn nearest(&self) -> Option<&'static str> {
        nearest(&self.name, self.known)
    }
}

/// The unknown key a failed deserialization of `Settings` stopped at, when its path ends in
/// one; `None` when the path ends in a key that is known (the value was wrong instead).
pub(crate) fn unknown_key(path: &Path) -> Option<UnknownKey> {
    let mut keys = Vec::new();
    for segment in path.iter() {
        match segment {
            Segment::Map { key } => keys.push(key.as_str()),
            // Settings holds no arrays of tables and no enums with fields.
            Segment::Seq { .. } | Segment::Enum { .. } | Segment::Unknown => return None,
        }
    }
    let (last, parent) = keys.split_last()?;
    let known = known_keys(parent)?;
    (!known.contains(last)).then(|| UnknownKey {
        key: dotted(&keys),
        name: (*last).to_string(),
        table: dotted(parent),
        known,
    })
}

/// The keys of the struct at `path` in `Settings` (map entries named by any name), or `None`
/// when `path` leads to a map of names, to a value, or to nothing.
pub(crate) fn known_keys(path: &[&str]) -> Option<&'static [&'static str]> {
    match Settings::deserialize(Probe { path }) {
        Err(ProbeError::Fields(fields)) => Some(fields),
        Ok(_) | Err(ProbeError::Other) => None,
    }
}

/// A dotted path, quoting the keys that are not bare TOML keys (`workers."my.kind".command`).
pub(crate) fn dotted(keys: &[&str]) -> String {
    keys.iter()
        .map(|key| {
            let bare = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if bare {
                (*key).to_string()
            } else {
                format!("\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""))
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The key of `known` nearest to `written`: at most a third of its letters changed (one at
/// least), ties going to the first declared. Case is ignored.
pub(crate) fn nearest(written: &str, known: &[&'static str]) -> Option<&'static str> {
    let written = written.to_lowercase();
    known
        .iter()
        .map(|key| (distance(&written, key), *key))
        .filter(|(distance, key)| {
            let longer = written.chars().count().max(key.chars().count());
            *distance <= (longer / 3).max(1)
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, key)| key)
}

/// Edit distance counting insertions, deletions, substitutions and swaps of two neighbours
/// (optimal string alignment): `temprature` -> `temperature` is 1, `profiel` -> `profile` 1.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows of the dynamic-programming table: two back (for swaps), one back, current.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let substitution = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + substitution);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// The key the probe offers at the end of its path: no struct has it.
const PROBE_KEY: &str = "\u{0}probe";

/// What the probe learnt: the field names of the struct at the end of the path, or nothing.
#[derive(Debug)]
enum ProbeError {
    Fields(&'static [&'static str]),
    Other,
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::Fields(fields) => write!(f, "fields: {}", fields.join(", ")),
            ProbeError::Other => f.write_str("not a table of known keys"),
        }
    }
}

impl std::error::Error for ProbeError {}

impl de::Error for ProbeError {
    fn custom<T: fmt::Display>(_message: T) -> Self {
        ProbeError::Other
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        // Only the probe's own key at the end of the path answers; any other unknown field
        // means the path itself left the shape of Settings.
        if field == PROBE_KEY {
            ProbeError::Fields(expected)
        } else {
            ProbeError::Other
        }
    }
}

/// Presents `path` as nested one-entry tables ending in a table holding only [`PROBE_KEY`].
/// No value is ever given, so only the tables on the path are deserialized.
struct Probe<'a> {
    path: &'a [&'a str],
}

impl<'de> de::Deserializer<'de> for Probe<'_> {
    type Error = ProbeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_map(ProbeTable {
            path: self.path,
            given: false,
        })
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// One table of the probe: its single key is the next one of the path, or the probe key.
struct ProbeTable<'a> {
    path: &'a [&'a str],
    given: bool,
}

impl<'de> MapAccess<'de> for ProbeTable<'_> {
    type Error = ProbeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ProbeError> {
        if self.given {
            return Ok(None);
        }
        self.given = true;
        let key = self.path.first().copied().unwrap_or(PROBE_KEY);
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ProbeError> {
        match self.path.split_first() {
            Some((_, rest)) => seed.deserialize(Probe { path: rest }),
            // The probe key was taken as a name: this table is a map of names.
            None => Err(ProbeError::Other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_reads_the_field_names_of_each_struct_from_settings() {
        let top = known_keys(&[]).unwrap();
        assert!(
            top.contains(&"dispatch") && top.contains(&"profiles"),
            "{top:?}"
        );
        let profile = known_keys(&["profiles", "any-name"]).unwrap();
        assert!(profile.contains(&"temperature"), "{profile:?}");
        let price = known_keys(&["backends", "x", "price_per_mtok"]).unwrap();
        assert_eq!(price, ["input", "output"]);
    }

    #[test]
    fn maps_of_names_values_and_paths_outside_settings_have_no_known_keys() {
        assert_eq!(known_keys(&["profiles"]), None, "a map of names");
        assert_eq!(
            known_keys(&["workers", "codex", "env"]),
            None,
            "an env table"
        );
        assert_eq!(known_keys(&["dispatch", "cache"]), None, "a value");
        assert_eq!(known_keys(&["supervise", "timeout"]), None, "a duration");
        assert_eq!(known_keys(&["nowhere"]), None, "no such table");
        assert_eq!(known_keys(&["routes", "nowhere"]), None, "no such table");
    }

    #[test]
    fn distance_counts_a_swap_of_neighbours_as_one_edit() {
        assert_eq!(distance("temprature", "temperature"), 1);
        assert_eq!(distance("profiel", "profile"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("same", "same"), 0);
    }

    #[test]
    fn the_nearest_key_must_be_near_enough_to_be_a_misspelling() {
        let known = &["backend", "model", "temperature", "max_tokens"];
        assert_eq!(nearest("temprature", known), Some("temperature"));
        assert_eq!(nearest("Model", known), Some("model"));
        assert_eq!(nearest("max_token", known), Some("max_tokens"));
        assert_eq!(nearest("colour", known), None);
        assert_eq!(nearest("x", known), None);
    }

    #[test]
    fn keys_that_are_not_bare_are_quoted_in_a_dotted_path() {
        assert_eq!(
            dotted(&["workers", "my.kind", "cmd"]),
            "workers.\"my.kind\".cmd"
        );
        assert_eq!(dotted(&["profiles", "code"]), "profiles.code");
    }
}
