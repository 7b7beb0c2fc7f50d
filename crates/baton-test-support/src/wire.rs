//! The bytes of the two chat dialects: OpenAI chat-completion chunks and objects, Anthropic
//! Messages events and objects, each built from serde structs so that fields come out in the
//! order the real servers send them. Pure functions; timing and connections live in `respond`.

use bytes::Bytes;
use serde::Serialize;

use crate::script::UsageSpec;

/// Why a reply ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finish {
    /// The model finished (`stop`, `end_turn`).
    Stop,
    /// The request's `max_tokens` ran out (`length`, `max_tokens`).
    Length,
}

impl Finish {
    fn openai(self) -> &'static str {
        match self {
            Finish::Stop => "stop",
            Finish::Length => "length",
        }
    }

    fn anthropic(self) -> &'static str {
        match self {
            Finish::Stop => "end_turn",
            Finish::Length => "max_tokens",
        }
    }
}

/// What one reply says, independent of dialect.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Completion<'a> {
    pub(crate) id: &'a str,
    pub(crate) model: &'a str,
    /// Unix seconds.
    pub(crate) created: u64,
    pub(crate) chunks: &'a [String],
    pub(crate) usage: Option<UsageSpec>,
    pub(crate) finish: Finish,
}

impl Completion<'_> {
    fn text(&self) -> String {
        self.chunks.concat()
    }

    /// Anthropic always reports usage; when the script gave none, count one token per chunk.
    fn anthropic_usage(&self) -> UsageSpec {
        self.usage.unwrap_or_else(|| UsageSpec {
            prompt_tokens: 0,
            completion_tokens: u64::try_from(self.chunks.len()).unwrap_or(u64::MAX),
        })
    }
}

/// The `data:` events of an OpenAI stream, split where delays go.
#[derive(Debug)]
pub(crate) struct OpenAiEvents {
    /// One event per content chunk (at least one: the first carries the role).
    pub(crate) content: Vec<Bytes>,
    /// Finish chunk, optional usage chunk, `[DONE]`.
    pub(crate) tail: Vec<Bytes>,
}

#[derive(Serialize)]
struct ChatChunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: Vec<ChunkChoice<'a>>,
    /// Absent unless the client asked for usage; then `null` on every chunk but the last, as
    /// OpenAI does.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<OpenAiUsage>>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    finish_reason: Option<&'static str>,
}

#[derive(Serialize)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
}

#[derive(Serialize)]
struct OpenAiUsage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
}

impl From<UsageSpec> for OpenAiUsage {
    fn from(usage: UsageSpec) -> Self {
        Self {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage.prompt_tokens.saturating_add(usage.completion_tokens),
        }
    }
}

#[derive(Serialize)]
struct ChatCompletion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [CompletionChoice; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<OpenAiUsage>,
}

#[derive(Serialize)]
struct CompletionChoice {
    index: u32,
    message: Message,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct Message {
    role: &'static str,
    content: String,
}

/// `data: <json>\n\n`.
fn data_event(json: &impl Serialize) -> Bytes {
    let mut out = b"data: ".to_vec();
    // Serializing these plain structs cannot fail: no maps with non-string keys, no I/O.
    if serde_json::to_writer(&mut out, json).is_err() {
        out.extend_from_slice(b"{}");
    }
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// `event: <name>\ndata: <json>\n\n`, the Anthropic framing.
fn named_event(name: &str, json: &impl Serialize) -> Bytes {
    let mut out = format!("event: {name}\n").into_bytes();
    out.extend_from_slice(&data_event(json));
    Bytes::from(out)
}

pub(crate) const OPENAI_DONE: &[u8] = b"data: [DONE]\n\n";

/// One chunk of an OpenAI stream: `delta` with a finish reason or none.
fn openai_chunk(
    completion: &Completion<'_>,
    delta: Delta<'_>,
    finish_reason: Option<&'static str>,
    include_usage: bool,
) -> Bytes {
    data_event(&ChatChunk {
        id: completion.id,
        object: "chat.completion.chunk",
        created: completion.created,
        model: completion.model,
        choices: vec![ChunkChoice {
            index: 0,
            delta,
            finish_reason,
        }],
        usage: include_usage.then_some(None),
    })
}

/// The content chunk carrying `text`; the role rides on the first chunk only, as OpenAI and
/// llama-server send it. For replies made chunk by chunk (a loop) as for whole ones.
pub(crate) fn openai_content_event(
    completion: &Completion<'_>,
    first: bool,
    text: &str,
    include_usage: bool,
) -> Bytes {
    let delta = Delta {
        role: first.then_some("assistant"),
        content: Some(text),
    };
    openai_chunk(completion, delta, None, include_usage)
}

/// The events of an OpenAI chat-completions stream. The usage chunk is sent only when the
/// client asked with `stream_options.include_usage` (OpenAI's rule) and the reply has usage.
pub(crate) fn openai_stream(completion: &Completion<'_>, include_usage: bool) -> OpenAiEvents {
    let mut content = Vec::with_capacity(completion.chunks.len().max(1));
    if completion.chunks.is_empty() {
        content.push(openai_content_event(completion, true, "", include_usage));
    }
    for (index, text) in completion.chunks.iter().enumerate() {
        content.push(openai_content_event(
            completion,
            index == 0,
            text,
            include_usage,
        ));
    }
    OpenAiEvents {
        content,
        tail: openai_tail(completion, include_usage),
    }
}

/// The finish chunk, the usage chunk when asked for and known, and `[DONE]`.
pub(crate) fn openai_tail(completion: &Completion<'_>, include_usage: bool) -> Vec<Bytes> {
    let finish = Delta {
        role: None,
        content: None,
    };
    let mut tail = vec![openai_chunk(
        completion,
        finish,
        Some(completion.finish.openai()),
        include_usage,
    )];
    if let (true, Some(usage)) = (include_usage, completion.usage) {
        tail.push(data_event(&ChatChunk {
            id: completion.id,
            object: "chat.completion.chunk",
            created: completion.created,
            model: completion.model,
            choices: Vec::new(),
            usage: Some(Some(usage.into())),
        }));
    }
    tail.push(Bytes::from_static(OPENAI_DONE));
    tail
}

/// A whole `chat.completion` object, for requests that did not ask to stream.
pub(crate) fn openai_object(completion: &Completion<'_>) -> Bytes {
    json_bytes(&ChatCompletion {
        id: completion.id,
        object: "chat.completion",
        created: completion.created,
        model: completion.model,
        choices: [CompletionChoice {
            index: 0,
            message: Message {
                role: "assistant",
                content: completion.text(),
            },
            finish_reason: completion.finish.openai(),
        }],
        usage: completion.usage.map(Into::into),
    })
}

/// The events of an Anthropic Messages stream, split where delays go.
#[derive(Debug)]
pub(crate) struct AnthropicEvents {
    /// `message_start`, `content_block_start`, `ping`.
    pub(crate) head: Vec<Bytes>,
    /// One `content_block_delta` per chunk.
    pub(crate) content: Vec<Bytes>,
    /// `content_block_stop`, `message_delta`, `message_stop`.
    pub(crate) tail: Vec<Bytes>,
}

#[derive(Serialize)]
struct AnthropicMessage<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    content: Vec<TextBlock>,
    model: &'a str,
    stop_reason: Option<&'static str>,
    stop_sequence: Option<&'static str>,
    usage: AnthropicUsage,
}

#[derive(Serialize)]
struct TextBlock {
    #[serde(rename = "type")]
    kind: &'static str,
    text: String,
}

#[derive(Serialize)]
struct AnthropicUsage {
    input_tokens: u64,
    output_tokens: u64,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum AnthropicEvent<'a> {
    MessageStart {
        message: AnthropicMessage<'a>,
    },
    ContentBlockStart {
        index: u32,
        content_block: TextBlock,
    },
    Ping,
    ContentBlockDelta {
        index: u32,
        delta: TextDelta<'a>,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        delta: StopDelta,
        usage: OutputUsage,
    },
    MessageStop,
}

#[derive(Serialize)]
struct TextDelta<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
}

#[derive(Serialize)]
struct StopDelta {
    stop_reason: &'static str,
    stop_sequence: Option<&'static str>,
}

#[derive(Serialize)]
struct OutputUsage {
    output_tokens: u64,
}

fn anthropic_event(event: &AnthropicEvent<'_>) -> Bytes {
    let name = match event {
        AnthropicEvent::MessageStart { .. } => "message_start",
        AnthropicEvent::ContentBlockStart { .. } => "content_block_start",
        AnthropicEvent::Ping => "ping",
        AnthropicEvent::ContentBlockDelta { .. } => "content_block_delta",
        AnthropicEvent::ContentBlockStop { .. } => "content_block_stop",
        AnthropicEvent::MessageDelta { .. } => "message_delta",
        AnthropicEvent::MessageStop => "message_stop",
    };
    named_event(name, event)
}

/// The `content_block_delta` event carrying `text`.
pub(crate) fn anthropic_content_event(text: &str) -> Bytes {
    anthropic_event(&AnthropicEvent::ContentBlockDelta {
        index: 0,
        delta: TextDelta {
            kind: "text_delta",
            text,
        },
    })
}

/// The events of an Anthropic Messages stream. `message_start` reports the input tokens and
/// one output token, and `message_delta` the final output count, as the real API does.
pub(crate) fn anthropic_stream(completion: &Completion<'_>) -> AnthropicEvents {
    AnthropicEvents {
        head: anthropic_head(completion),
        content: completion
            .chunks
            .iter()
            .map(|text| anthropic_content_event(text))
            .collect(),
        tail: anthropic_tail(completion),
    }
}

/// `message_start`, `content_block_start`, `ping`.
pub(crate) fn anthropic_head(completion: &Completion<'_>) -> Vec<Bytes> {
    let usage = completion.anthropic_usage();
    vec![
        anthropic_event(&AnthropicEvent::MessageStart {
            message: AnthropicMessage {
                id: completion.id,
                kind: "message",
                role: "assistant",
                content: Vec::new(),
                model: completion.model,
                stop_reason: None,
                stop_sequence: None,
                usage: AnthropicUsage {
                    input_tokens: usage.prompt_tokens,
                    output_tokens: 1,
                },
            },
        }),
        anthropic_event(&AnthropicEvent::ContentBlockStart {
            index: 0,
            content_block: TextBlock {
                kind: "text",
                text: String::new(),
            },
        }),
        anthropic_event(&AnthropicEvent::Ping),
    ]
}

/// `content_block_stop`, `message_delta` (the stop reason and output count), `message_stop`.
pub(crate) fn anthropic_tail(completion: &Completion<'_>) -> Vec<Bytes> {
    let usage = completion.anthropic_usage();
    vec![
        anthropic_event(&AnthropicEvent::ContentBlockStop { index: 0 }),
        anthropic_event(&AnthropicEvent::MessageDelta {
            delta: StopDelta {
                stop_reason: completion.finish.anthropic(),
                stop_sequence: None,
            },
            usage: OutputUsage {
                output_tokens: usage.completion_tokens,
            },
        }),
        anthropic_event(&AnthropicEvent::MessageStop),
    ]
}

/// A whole Anthropic `message` object, for requests that did not ask to stream.
pub(crate) fn anthropic_object(completion: &Completion<'_>) -> Bytes {
    let usage = completion.anthropic_usage();
    json_bytes(&AnthropicMessage {
        id: completion.id,
        kind: "message",
        role: "assistant",
        content: vec![TextBlock {
            kind: "text",
            text: completion.text(),
        }],
        model: completion.model,
        stop_reason: Some(completion.finish.anthropic()),
        stop_sequence: None,
        usage: AnthropicUsage {
            input_tokens: usage.prompt_tokens,
            output_tokens: usage.completion_tokens,
        },
    })
}

/// Serializes a response object; the structs here cannot fail to serialize.
pub(crate) fn json_bytes(value: &impl Serialize) -> Bytes {
    Bytes::from(serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec()))
}

/// A data line cut off mid-object, then the normal end, for `MalformedSse`.
pub(crate) const OPENAI_MALFORMED: &[u8] =
    b"data: {\"choices\":[{\"delta\":{\"content\":\"ok\"\n\n";
pub(crate) const ANTHROPIC_MALFORMED: &[u8] = b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"ok\"\n\n";
pub(crate) const ANTHROPIC_STOP: &[u8] =
    b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
/// The non-stream forms of a malformed reply: a JSON object cut off mid-way.
pub(crate) const OPENAI_MALFORMED_OBJECT: &[u8] = b"{\"choices\":[{\"message\":{\"content\":\"ok\"";
pub(crate) const ANTHROPIC_MALFORMED_OBJECT: &[u8] =
    b"{\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":\"ok\"";

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn completion(chunks: &[String], usage: Option<UsageSpec>) -> Completion<'_> {
        Completion {
            id: "chatcmpl-1",
            model: "m",
            created: 7,
            chunks,
            usage,
            finish: Finish::Stop,
        }
    }

    fn text(events: &[Bytes]) -> Vec<String> {
        events
            .iter()
            .map(|event| String::from_utf8_lossy(event).into_owned())
            .collect()
    }

    #[test]
    fn openai_chunks_are_byte_accurate() {
        let chunks = vec!["Hel".to_owned(), "lo".to_owned()];
        let events = openai_stream(&completion(&chunks, Some(UsageSpec::new(3, 2))), false);
        assert_eq!(
            text(&events.content),
            vec![
                "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n",
                "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":null}]}\n\n",
            ]
        );
        assert_eq!(
            text(&events.tail),
            vec![
                "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
                "data: [DONE]\n\n",
            ]
        );
    }

    #[test]
    fn openai_usage_chunk_has_empty_choices_and_other_chunks_carry_null_usage() {
        let chunks = vec!["a".to_owned()];
        let events = openai_stream(&completion(&chunks, Some(UsageSpec::new(3, 2))), true);
        assert!(String::from_utf8_lossy(&events.content[0]).contains(",\"usage\":null}"));
        assert_eq!(
            String::from_utf8_lossy(&events.tail[1]),
            "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n"
        );
    }

    #[test]
    fn openai_stream_without_chunks_still_sends_the_role() {
        let events = openai_stream(&completion(&[], None), true);
        assert_eq!(events.content.len(), 1);
        assert!(String::from_utf8_lossy(&events.content[0]).contains("\"role\":\"assistant\""));
        // No usage to report: finish chunk and [DONE] only.
        assert_eq!(events.tail.len(), 2);
    }

    #[test]
    fn openai_object_is_a_chat_completion_with_usage() {
        let chunks = vec!["Hel".to_owned(), "lo".to_owned()];
        let body = openai_object(&completion(&chunks, Some(UsageSpec::new(3, 2))));
        assert_eq!(
            String::from_utf8_lossy(&body),
            "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":7,\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}"
        );
    }

    #[test]
    fn anthropic_events_are_byte_accurate() {
        let chunks = vec!["Hi".to_owned()];
        let events = anthropic_stream(&Completion {
            id: "msg_1",
            ..completion(&chunks, Some(UsageSpec::new(12, 4)))
        });
        let all: Vec<Bytes> = [events.head, events.content, events.tail].concat();
        assert_eq!(
            text(&all),
            vec![
                "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"m\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\n",
                "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
                "event: ping\ndata: {\"type\":\"ping\"}\n\n",
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
                "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
                "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":4}}\n\n",
                "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
            ]
        );
    }

    #[test]
    fn anthropic_object_is_a_message_with_usage() {
        let chunks = vec!["Hi".to_owned(), "!".to_owned()];
        let body = anthropic_object(&Completion {
            id: "msg_1",
            ..completion(&chunks, Some(UsageSpec::new(12, 4)))
        });
        assert_eq!(
            String::from_utf8_lossy(&body),
            "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Hi!\"}],\"model\":\"m\",\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,\"output_tokens\":4}}"
        );
    }

    #[test]
    fn malformed_data_lines_are_not_json() {
        let line = &OPENAI_MALFORMED[b"data: ".len()..];
        assert!(serde_json::from_slice::<serde_json::Value>(line).is_err());
        let anthropic_data = String::from_utf8_lossy(ANTHROPIC_MALFORMED);
        let data = anthropic_data
            .lines()
            .find_map(|line| line.strip_prefix("data: "))
            .expect("a data line");
        assert!(serde_json::from_str::<serde_json::Value>(data).is_err());
    }
}
