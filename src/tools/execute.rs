//! Sending a call that policy allowed: the arguments POSTed as JSON to the
//! integrator's endpoint, with the endpoint's own bearer token, the call id
//! as `Idempotency-Key`, a deadline, no redirects, no proxy from the
//! environment and no retries; the answer read up to a size limit. What
//! comes back is untrusted text: the caller screens it before the model
//! sees it.

use std::time::Duration;

use serde_json::Value;

use super::{Target, ToolSpec};

/// The built-in targets.
pub const BUILTINS: &[&str] = &["echo"];

/// Longest tool answer read.
pub const MAX_RESULT_BYTES: u64 = 64 * 1024;

/// Runs `spec` with `arguments`; the text it answered, or why it failed.
pub fn execute(spec: &ToolSpec, arguments: &Value, call_id: &str) -> Result<String, String> {
    match &spec.target {
        Target::Builtin(name) if name == "echo" => Ok(serde_json::json!({
            "tool": spec.name,
            "arguments": arguments,
        })
        .to_string()),
        Target::Builtin(name) => Err(format!("unknown built-in `{name}`")),
        Target::Reply(text) => Ok(text.clone()),
        Target::Http {
            url,
            credential_env,
        } => {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_millis(spec.timeout_ms.max(1))))
                .http_status_as_error(false)
                .max_redirects(0)
                .proxy(None)
                .build()
                .into();
            let mut request = agent
                .post(url)
                .header("Idempotency-Key", call_id)
                .header("User-Agent", concat!("warden/", env!("CARGO_PKG_VERSION")));
            if let Some(name) = credential_env {
                let token = std::env::var(name).map_err(|_| {
                    format!(
                        "the credential for `{}` is not set (environment variable {name})",
                        spec.name
                    )
                })?;
                request = request.header("Authorization", format!("Bearer {token}"));
            }
            let mut response = request
                .send_json(arguments)
                .map_err(|err| format!("`{}` could not be reached: {err}", spec.name))?;
            let status = response.status();
            let body = response
                .body_mut()
                .with_config()
                .limit(MAX_RESULT_BYTES)
                .read_to_string()
                .map_err(|err| format!("`{}` answered unreadably: {err}", spec.name))?;
            if status.is_success() {
                Ok(body)
            } else {
                Err(format!(
                    "`{}` answered HTTP {}: {}",
                    spec.name,
                    status.as_u16(),
                    body.chars().take(300).collect::<String>()
                ))
            }
        }
    }
}
