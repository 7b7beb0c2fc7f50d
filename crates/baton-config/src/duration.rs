//! Durations in config: `"500ms"`, `"60s"`, `"5m"`, `"1h"`, `"7d"`, or a bare number of seconds.

use std::time::Duration;

/// A duration text that is not understood.
#[derive(Debug, thiserror::Error)]
#[error("invalid duration `{0}` (expected e.g. `500ms`, `30s`, `5m`, `1h`, `7d`)")]
pub struct InvalidDuration(pub String);

/// Parses `500ms`, `1.5s`, `30s`, `5m`, `1h`, `7d` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, InvalidDuration> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let value: f64 = number.parse().map_err(|_| InvalidDuration(text.into()))?;
    let seconds = match unit.trim() {
        "" | "s" | "sec" | "secs" => value,
        "ms" => value / 1000.0,
        "m" | "min" | "mins" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86_400.0,
        _ => return Err(InvalidDuration(text.into())),
    };
    // Refuses negative, infinite and too large values (`from_secs_f64` would panic on them).
    Duration::try_from_secs_f64(seconds).map_err(|_| InvalidDuration(text.into()))
}

/// Renders a duration the way it is best written in config.
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(3_600_000) && millis > 0 {
        format!("{}h", millis / 3_600_000)
    } else if millis.is_multiple_of(60_000) && millis > 0 {
        format!("{}m", millis / 60_000)
    } else if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Raw {
    Text(String),
    Seconds(f64),
}

fn from_raw<E: serde::de::Error>(raw: Raw) -> Result<Duration, E> {
    match raw {
        Raw::Text(text) => parse_duration(&text).map_err(E::custom),
        Raw::Seconds(seconds) => Duration::try_from_secs_f64(seconds)
            .map_err(|_| E::custom(InvalidDuration(seconds.to_string()))),
    }
}

/// Serde for `Duration` fields.
pub mod serde_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_duration(*value))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        super::from_raw(super::Raw::deserialize(deserializer)?)
    }
}

/// Serde for `Option<Duration>` fields.
pub mod serde_opt_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(duration) => serializer.serialize_str(&super::format_duration(*duration)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<super::Raw>::deserialize(deserializer)?
            .map(super::from_raw)
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_every_unit() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(
            parse_duration("7d").unwrap(),
            Duration::from_secs(7 * 86_400)
        );
        assert!(parse_duration("99999999999999999999999h").is_err());
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3 parsecs").is_err());
    }

    #[test]
    fn durations_format_back_to_their_shortest_unit() {
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h");
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
    }
}
