//! `[proxy]`: the settings of `baton proxy`, the loopback gateway agent CLIs send their model
//! traffic to: where it listens, which profile a requested model name maps to, and what it
//! adapts in requests for local models and for cloud ones.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `[proxy]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxySettings {
    /// `HOST:PORT`; a loopback address unless the user says otherwise.
    pub listen: String,
    /// The profile a model name not in `models` (and not a profile's own name) is served by;
    /// empty: `dispatch.profile`.
    pub profile: String,
    /// Model names the CLIs ask for -> a profile, or `backend:model`.
    pub models: BTreeMap<String, String>,
    /// What is adapted in requests served by local backends.
    pub local: ProxyAdapt,
    /// What is adapted in requests served by cloud backends.
    pub cloud: ProxyAdapt,
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings {
            listen: "127.0.0.1:11400".into(),
            profile: String::new(),
            models: BTreeMap::new(),
            local: ProxyAdapt::LOCAL,
            cloud: ProxyAdapt::CLOUD,
        }
    }
}

/// `[proxy.local]`, `[proxy.cloud]`: how requests are adapted for a backend of that locality.
/// Small local models need help that a cloud model would only be hindered by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyAdapt {
    /// A tool call the model wrote as text (fenced or bare JSON naming a declared tool)
    /// becomes a real tool call; a call to a tool that was not declared is refused back to
    /// the model.
    pub rescue_tool_calls: bool,
    /// Where the request demands a tool call (`tool_choice` required, any, or one tool), the
    /// answer is held to a JSON schema over the declared tools (a grammar, on llama-server).
    pub force_tool_choice: bool,
    /// The profile's temperature and sampling where the client sends none.
    pub default_sampling: bool,
    /// `max_tokens` capped at the profile's, and at the room the server's slot leaves.
    pub cap_max_tokens: bool,
    /// A reply that loops on itself is cut as it streams (the profile's repetition guard).
    pub cut_repetition: bool,
    /// Tool names left out of requests, so that an agent CLI's prompt fits a small slot.
    pub trim_tools: Vec<String>,
}

impl ProxyAdapt {
    /// On for local backends.
    pub const LOCAL: ProxyAdapt = ProxyAdapt {
        rescue_tool_calls: true,
        force_tool_choice: true,
        default_sampling: true,
        cap_max_tokens: true,
        cut_repetition: true,
        trim_tools: Vec::new(),
    };

    /// Off for cloud backends: they are passed what the client sent.
    pub const CLOUD: ProxyAdapt = ProxyAdapt {
        rescue_tool_calls: false,
        force_tool_choice: false,
        default_sampling: false,
        cap_max_tokens: false,
        cut_repetition: false,
        trim_tools: Vec::new(),
    };
}

impl Default for ProxyAdapt {
    fn default() -> Self {
        ProxyAdapt::LOCAL
    }
}
