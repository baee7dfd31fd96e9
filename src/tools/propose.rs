//! Asking the model whether the user's message calls for a tool, and reading
//! its answer. The proposal prompt holds the tool list and the user's own
//! message, nothing else: no retrieved passage and no tool result ever
//! reaches it, so text planted in a document or returned by an API cannot
//! propose a call. Bound arguments are left out of the list (the model is
//! not asked for what identity supplies).

use serde::Serialize;
use serde_json::Value;

use super::ToolSpec;
use crate::model::ChatMessage;

/// A call the model proposed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProposedCall {
    pub tool: String,
    pub arguments: Value,
}

/// The instruction that ends the proposal prompt.
pub const PROPOSAL_RULES: &str = "If the user's message asks for one of these actions, reply with \
only one line of JSON: {\"tool\": \"<tool name>\", \"arguments\": {<argument>: <value>}}, taking \
every value from the user's message. If it does not, reply with only the word NONE.";

fn describe(spec: &ToolSpec) -> String {
    let properties = spec
        .parameters
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| {
            properties
                .iter()
                .filter(|(name, _)| !spec.bound.contains_key(*name))
                .map(|(name, property)| {
                    let kind = property
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("any");
                    match property.get("description").and_then(Value::as_str) {
                        Some(description) => format!("{name} ({kind}: {description})"),
                        None => format!("{name} ({kind})"),
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    format!(
        "- {}: {} Arguments: {properties}.",
        spec.name,
        spec.description.trim()
    )
}

/// The messages of the proposal prompt.
pub fn proposal_messages(tools: &[&ToolSpec], user_message: &str) -> Vec<ChatMessage> {
    let list: Vec<String> = tools.iter().map(|spec| describe(spec)).collect();
    vec![
        ChatMessage::system(format!(
            "You are Warden. You can use these tools:\n{}",
            list.join("\n")
        )),
        ChatMessage::user(format!(
            "User's message: {user_message}\n\n{PROPOSAL_RULES}"
        )),
    ]
}

/// Reads a proposed call from the model's reply: the first JSON object that
/// names a tool (`tool` or `name`) and its arguments (`arguments`,
/// `parameters` or `args`; a JSON string holding an object is accepted).
pub fn parse_proposal(reply: &str) -> Option<ProposedCall> {
    let bytes = reply.as_bytes();
    let mut start = 0;
    while let Some(offset) = reply[start..].find('{') {
        let open = start + offset;
        if let Some(close) = matching_brace(bytes, open) {
            if let Ok(value) = serde_json::from_str::<Value>(&reply[open..=close]) {
                if let Some(call) = call_from(&value) {
                    return Some(call);
                }
            }
        }
        start = open + 1;
    }
    None
}

fn call_from(value: &Value) -> Option<ProposedCall> {
    let object = value.as_object()?;
    let tool = object
        .get("tool")
        .or_else(|| object.get("name"))
        .and_then(Value::as_str)?
        .trim()
        .to_string();
    let arguments = object
        .get("arguments")
        .or_else(|| object.get("parameters"))
        .or_else(|| object.get("args"))
        .cloned()
        .unwrap_or(Value::Object(Default::default()));
    let arguments = match arguments {
        Value::String(text) => serde_json::from_str(&text).ok()?,
        other => other,
    };
    (!tool.is_empty()).then_some(ProposedCall { tool, arguments })
}

/// The index of the `}` closing the `{` at `open`, minding strings.
fn matching_brace(bytes: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (index, &byte) in bytes.iter().enumerate().skip(open) {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(index);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposals_are_read_in_the_shapes_small_models_write() {
        let call = parse_proposal(
            "Sure! {\"tool\": \"order_status\", \"arguments\": {\"order_id\": \"ORD-1 }\"}}",
        )
        .unwrap();
        assert_eq!(call.tool, "order_status");
        assert_eq!(call.arguments["order_id"], "ORD-1 }");
        let call = parse_proposal(
            "<tool_call>\n{\"name\": \"refund\", \"arguments\": \"{\\\"amount\\\": 5}\"}\n</tool_call>",
        )
        .unwrap();
        assert_eq!(
            (call.tool.as_str(), &call.arguments["amount"]),
            ("refund", &5.into())
        );
        assert_eq!(parse_proposal("NONE"), None);
        assert_eq!(parse_proposal("{\"note\": 1} {broken"), None);
    }
}
