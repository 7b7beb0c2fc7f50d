//! Linear's GraphQL API as the Linear target speaks it: one client per delivery, the
//! personal API key read from the variable the settings name, each request a `POST` of
//! `{"query", "variables"}` with the key as the `Authorization` header (a personal key goes
//! there as it is; `Bearer` is for OAuth tokens), and every way a request can fail turned
//! into one sentence: the HTTP status, GraphQL's `errors[].message`, a timeout. The key is
//! never shown: not in an error, not in a log, not in a result, and whatever a server
//! answers is scrubbed of it before it is shown (servers and proxies sometimes echo it).

use std::time::Duration;

use baton_llm::secret::ApiKey;
use serde_json::Value;

/// How much of an answer that is not GraphQL an error quotes.
const QUOTED: usize = 200;

/// A client of one endpoint with one key.
#[derive(Debug)]
pub(super) struct Api {
    client: reqwest::Client,
    url: String,
    key: ApiKey,
    timeout: Duration,
}

impl Api {
    /// A client of `url` with `key`, read from variable `key_env` (see
    /// [`crate::publish::secret`]); no key is an error that names the variable.
    pub(super) fn new(
        key: Option<ApiKey>,
        url: &str,
        key_env: &str,
        timeout: Duration,
    ) -> Result<Api, String> {
        let key = key.ok_or_else(|| {
                format!(
                    "the Linear API key's variable {key_env} is not set: set {key_env} to a personal API key (Linear: Settings, Security & access), or name another variable in [publish.linear] api_key_env"
                )
            })?;
        Ok(Api {
            client: super::super::http_client(url, timeout)?,
            url: url.to_string(),
            key,
            timeout,
        })
    }

    /// `text` with the key replaced.
    fn scrub(&self, text: &str) -> String {
        self.key.redact_in(text)
    }

    /// Runs `query` (its operation is named in the document) with `variables`; the `data`
    /// of the answer, or why there is none.
    pub(super) async fn run(&self, query: &str, variables: Value) -> Result<Value, String> {
        let shown = baton_llm::secret::redact_url(&self.url);
        let body = serde_json::json!({ "query": query, "variables": variables });
        let sent = self
            .client
            .post(&self.url)
            .header("Authorization", self.key.expose())
            .header("Content-Type", "application/json")
            .json(&body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) if error.is_timeout() => {
                return Err(format!(
                    "Linear ({shown}) did not answer within {} s",
                    self.timeout.as_secs()
                ));
            }
            Err(error) => {
                return Err(self.scrub(&format!("POST {shown}: {}", error.without_url())));
            }
        };
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|error| self.scrub(&format!("POST {shown}: {}", error.without_url())))?;
        let answer: Option<Value> = serde_json::from_str(&text).ok();
        let said = answer.as_ref().map(messages).unwrap_or_default();
        if !status.is_success() {
            let detail = if !said.is_empty() {
                format!(": {said}")
            } else {
                let quoted: String = text.trim().chars().take(QUOTED).collect();
                if quoted.is_empty() {
                    String::new()
                } else {
                    format!(": {quoted}")
                }
            };
            let hint = match status.as_u16() {
                401 | 403 => " (is the API key valid and allowed to do this?)",
                _ => "",
            };
            return Err(self.scrub(&format!("Linear answered {status}{detail}{hint}")));
        }
        let answer = answer.ok_or_else(|| {
            format!("Linear ({shown}) answered {status} with a body that is not JSON")
        })?;
        if !said.is_empty() {
            return Err(self.scrub(&format!("Linear said: {said}")));
        }
        match answer.get("data") {
            Some(data) if !data.is_null() => Ok(data.clone()),
            _ => Err(format!("Linear ({shown}) answered without data")),
        }
    }
}

/// GraphQL's `errors[].message`, joined; empty when there are none.
fn messages(answer: &Value) -> String {
    answer
        .get("errors")
        .and_then(Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .filter_map(|error| error.get("message").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default()
}

/// The string at `pointer` in `value` (`""` when absent).
pub(super) fn text<'v>(value: &'v Value, pointer: &str) -> &'v str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The `nodes` of the connection at `pointer` in `value`.
pub(super) fn nodes<'v>(value: &'v Value, pointer: &str) -> &'v [Value] {
    value
        .pointer(pointer)
        .and_then(|connection| connection.get("nodes"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphql_errors_are_joined_and_a_key_is_never_shown() {
        let answer = serde_json::json!({"errors": [{"message": "one"}, {"message": "two"}]});
        assert_eq!(messages(&answer), "one; two");
        let api = Api::new(
            ApiKey::from_value("lin_api_secret"),
            "http://127.0.0.1:9/graphql",
            "BATON_TEST_LINEAR_KEY",
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(api.scrub("echo lin_api_secret"), "echo <redacted>");
        assert!(!format!("{api:?}").contains("lin_api_secret"));
    }

    #[test]
    fn a_missing_key_names_its_variable() {
        let error = Api::new(
            None,
            "http://127.0.0.1:9/graphql",
            "BATON_TEST_LINEAR_KEY_NEVER_SET",
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(
            error.contains("BATON_TEST_LINEAR_KEY_NEVER_SET is not set"),
            "{error}"
        );
    }
}
