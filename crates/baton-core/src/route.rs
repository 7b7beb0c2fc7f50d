//! Where a request may run: local or cloud backends, the route a user asked for, and the
//! edit format a profile asks models to answer in.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Whether a backend runs on hardware the user owns (free tokens) or in a paid cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Locality {
    #[default]
    Local,
    Cloud,
}

impl Locality {
    pub fn as_str(self) -> &'static str {
        match self {
            Locality::Local => "local",
            Locality::Cloud => "cloud",
        }
    }

    /// The locality named `value` (its [`Locality::as_str`] name).
    pub fn parse(value: &str) -> Option<Locality> {
        [Locality::Local, Locality::Cloud]
            .into_iter()
            .find(|l| l.as_str() == value)
    }
}

impl fmt::Display for Locality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The route a request was asked to take: pinned local (`--local`), pinned cloud (`--api`),
/// or chosen by classifying the task (`auto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    Local,
    Api,
    #[default]
    Auto,
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Local => "local",
            Route::Api => "api",
            Route::Auto => "auto",
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown name for an enum read from config or flags.
#[derive(Debug, thiserror::Error)]
#[error("unknown {what} `{value}` (expected one of: {expected})")]
pub struct UnknownName {
    pub what: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl FromStr for Route {
    type Err = UnknownName;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "local" => Ok(Route::Local),
            "api" | "cloud" => Ok(Route::Api),
            "auto" => Ok(Route::Auto),
            _ => Err(UnknownName {
                what: "route",
                value: value.into(),
                expected: "local, api, auto",
            }),
        }
    }
}

/// The format a profile asks a model to answer code changes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum EditFormat {
    #[default]
    Whole,
    SearchReplace,
    Udiff,
}

impl EditFormat {
    /// Every format, in the order reports list them.
    pub const ALL: [EditFormat; 3] = [
        EditFormat::Whole,
        EditFormat::SearchReplace,
        EditFormat::Udiff,
    ];

    /// The format named `value` (its [`EditFormat::as_str`] name).
    pub fn parse(value: &str) -> Option<EditFormat> {
        EditFormat::ALL.into_iter().find(|f| f.as_str() == value)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EditFormat::Whole => "whole",
            EditFormat::SearchReplace => "search-replace",
            EditFormat::Udiff => "udiff",
        }
    }
}

impl fmt::Display for EditFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
