//! Token usage of one call, and the estimate used when a server reports none.

use serde::{Deserialize, Serialize};

/// Tokens a call consumed. `estimated` is true when the server did not report them and
/// Baton counted them itself with [`estimate_tokens`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Prompt tokens the server served from its prompt cache, when it says.
    #[serde(default)]
    pub cached_tokens: u64,
    pub estimated: bool,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// Rough token count of a text: one token per four characters, rounded up. Used only where
/// a server reports no usage or before a request is sent (budgets); always marked estimated.
pub fn estimate_tokens(text: &str) -> u64 {
    estimate_tokens_from_chars(text.chars().count())
}

/// [`estimate_tokens`] for a known character count.
pub fn estimate_tokens_from_chars(chars: usize) -> u64 {
    (chars as u64).div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_rounds_up_to_whole_tokens() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abc"), 1);
        assert_eq!(estimate_tokens("abcdefghi"), 3);
    }
}
