//! [`Parameters`]: the tools' argument extractor. It replaces rmcp's `Parameters<T>` (same
//! name, which is how rmcp's `#[tool]` macro finds the input schema) so that an argument of
//! the wrong type is reported with its name: rmcp's says `invalid type: string "five",
//! expected u32`, this one adds `argument \`limit\`: ` before it.
//! rmcp turns the invalid-params error into an `is_error: true` tool result.

use rmcp::ErrorData;
use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::ToolCallContext;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

/// A tool's arguments, deserialized from the call's JSON object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Parameters<P>(pub(crate) P);

impl<P: JsonSchema> JsonSchema for Parameters<P> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        P::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        P::json_schema(generator)
    }
}

impl<S, P: DeserializeOwned> FromContextPart<ToolCallContext<'_, S>> for Parameters<P> {
    fn from_context_part(context: &mut ToolCallContext<'_, S>) -> Result<Self, ErrorData> {
        let arguments = context.arguments.take().unwrap_or_default();
        parse(serde_json::Value::Object(arguments)).map(Parameters)
    }
}

/// rmcp's tool router turns an invalid-params error into an `is_error: true` tool result
/// (which agents read and correct) only when its message starts with this prefix; any other
/// becomes a JSON-RPC error that many clients show only as "internal error".
const RMCP_ARGUMENT_ERROR_PREFIX: &str = "failed to deserialize parameters:";

/// `value` as `P`, or an invalid-params error naming the argument at fault.
pub(crate) fn parse<P: DeserializeOwned>(value: serde_json::Value) -> Result<P, ErrorData> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let message = if path.is_empty() || path == "." {
            format!("{RMCP_ARGUMENT_ERROR_PREFIX} {}", error.inner())
        } else {
            format!(
                "{RMCP_ARGUMENT_ERROR_PREFIX} argument `{path}`: {}",
                error.inner()
            )
        };
        ErrorData::invalid_params(message, None)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::parse;
    use crate::params::MemorySearchParams;

    #[test]
    fn a_mistyped_argument_is_named() {
        let error =
            parse::<MemorySearchParams>(json!({"query": "x", "limit": "five"})).unwrap_err();
        assert!(
            error
                .message
                .ends_with(": argument `limit`: invalid type: string \"five\", expected u32"),
            "{}",
            error.message
        );
    }

    #[test]
    fn a_missing_argument_is_named() {
        let error = parse::<MemorySearchParams>(json!({"limit": 5})).unwrap_err();
        assert_eq!(
            error.message,
            "failed to deserialize parameters: missing field `query`"
        );
    }
}
