//! Sampling beyond the temperature: the knobs that prune unlikely tokens (`top_k`, `top_p`,
//! `min_p`) and those that work against repetition (`repeat_penalty`, the frequency and
//! presence penalties, and llama.cpp's DRY sampler). Every field is optional: `None` leaves
//! the server's own default. Which fields reach a server, and under which names, is the wire
//! layer's business (servers name and support them differently; cloud APIs reject most).

use serde::{Deserialize, Serialize};

/// Sampling settings of one request, in llama.cpp's terms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sampling {
    /// Keep only the k most likely tokens (0: all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// Keep the most likely tokens up to this probability mass (1: all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Drop tokens less likely than this fraction of the most likely one (0: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_p: Option<f64>,
    /// Divides the odds of tokens seen in the last `repeat_last_n` (1: off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_penalty: Option<f64>,
    /// Tokens `repeat_penalty` and the frequency and presence penalties look back over
    /// (0: off). A count, never -1: llama-server once read -1 as "the whole context", and
    /// now refuses negative values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_last_n: Option<u32>,
    /// Subtracted from a token's logit once per time it appeared (0: off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// Subtracted from a token's logit if it appeared at all (0: off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// DRY ("don't repeat yourself"): strength of the penalty on a token that would extend
    /// a sequence already in the context (0: off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_multiplier: Option<f64>,
    /// DRY: how fast the penalty grows with the length of the repeated sequence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_base: Option<f64>,
    /// DRY: repeated sequences up to this many tokens go unpunished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_allowed_length: Option<u32>,
    /// DRY: tokens looked back over (0: off; a count, as for `repeat_last_n`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_penalty_last_n: Option<u32>,
}

impl Sampling {
    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        *self == Sampling::default()
    }

    /// These settings with every field that `over` sets taken from `over`.
    pub fn overlay(&self, over: &Sampling) -> Sampling {
        Sampling {
            top_k: over.top_k.or(self.top_k),
            top_p: over.top_p.or(self.top_p),
            min_p: over.min_p.or(self.min_p),
            repeat_penalty: over.repeat_penalty.or(self.repeat_penalty),
            repeat_last_n: over.repeat_last_n.or(self.repeat_last_n),
            frequency_penalty: over.frequency_penalty.or(self.frequency_penalty),
            presence_penalty: over.presence_penalty.or(self.presence_penalty),
            dry_multiplier: over.dry_multiplier.or(self.dry_multiplier),
            dry_base: over.dry_base.or(self.dry_base),
            dry_allowed_length: over.dry_allowed_length.or(self.dry_allowed_length),
            dry_penalty_last_n: over.dry_penalty_last_n.or(self.dry_penalty_last_n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overlay_replaces_only_the_fields_it_sets() {
        let base = Sampling {
            top_k: Some(40),
            repeat_penalty: Some(1.05),
            ..Sampling::default()
        };
        let over = Sampling {
            repeat_penalty: Some(1.1),
            dry_multiplier: Some(0.8),
            ..Sampling::default()
        };
        assert_eq!(
            base.overlay(&over),
            Sampling {
                top_k: Some(40),
                repeat_penalty: Some(1.1),
                dry_multiplier: Some(0.8),
                ..Sampling::default()
            }
        );
        assert!(Sampling::default().is_empty());
        assert!(!over.is_empty());
    }
}
