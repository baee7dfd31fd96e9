//! Agent tools against a mock integrator API that the test serves on
//! loopback: a read tool answers with the caller's identity bound in; a
//! financial call over its limit is refused; a write waits for approval and
//! runs exactly once after it; a user without the role is refused; the real
//! model proposes calls from the question, and text planted in documents or
//! tool answers never leads to one.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::common::{add_user, stderr, stdout, warden, warden_with_env, QWEN2};

/// One request the mock API received.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    authorization: Option<String>,
    idempotency_key: Option<String>,
    body: Value,
}

/// Serves the integrator's API on loopback; records every request.
fn mock_api() -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Some(request) = crate::common::read_mock_request(&stream) else {
                continue;
            };
            let path = request.path.clone();
            let authorization = request.headers.get("authorization").cloned();
            let idempotency_key = request.headers.get("idempotency-key").cloned();
            let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            let reply = match path.as_str() {
                "/orders/status" => serde_json::json!({
                    "order_id": body["order_id"],
                    "customer": body["customer_id"],
                    "status": "shipped on 20 November 2026 by DHL, tracking number JD0140"
                }),
                "/refunds" => serde_json::json!({"refund": "RF-31", "amount": body["amount"]}),
                "/address" => serde_json::json!({"updated": true}),
                _ => serde_json::json!({"error": "no such endpoint"}),
            };
            log.lock().unwrap().push(Received {
                path,
                authorization,
                idempotency_key,
                body,
            });
            let reply = reply.to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    (address, received)
}

fn declarations(api: &str) -> String {
    format!(
        r#"
[tools.order_status]
description = "Look up the delivery status of one of the user's orders."
risk = "read"
roles = ["reader"]
bound = {{ customer_id = "user" }}
target = {{ http = {{ url = "{api}/orders/status", credential_env = "ORDERS_API_TOKEN" }} }}
[tools.order_status.parameters]
type = "object"
required = ["order_id"]
additionalProperties = false
properties.order_id = {{ type = "string", pattern = "^ORD-[0-9]{{6}}$", description = "the order number, like ORD-123456" }}
properties.customer_id = {{ type = "string" }}

[tools.refund]
description = "Refund an amount in EUR for one of the user's orders."
risk = "financial"
roles = ["reader"]
bound = {{ customer_id = "user" }}
limits = {{ amount = {{ max = 100 }} }}
target = {{ http = {{ url = "{api}/refunds" }} }}
[tools.refund.parameters]
type = "object"
required = ["order_id", "amount"]
additionalProperties = false
properties.order_id = {{ type = "string", pattern = "^ORD-[0-9]{{6}}$" }}
properties.amount = {{ type = "number", exclusiveMinimum = 0 }}
properties.customer_id = {{ type = "string" }}

[tools.update_address]
description = "Change the delivery address of one of the user's orders."
risk = "write"
roles = ["reader"]
approval = "human"
bound = {{ customer_id = "user" }}
target = {{ http = {{ url = "{api}/address" }} }}
[tools.update_address.parameters]
type = "object"
required = ["order_id", "address"]
additionalProperties = false
properties.order_id = {{ type = "string", pattern = "^ORD-[0-9]{{6}}$" }}
properties.address = {{ type = "string" }}
properties.customer_id = {{ type = "string" }}

[tools.close_account]
description = "Close a customer account."
risk = "write"
roles = ["reader"]
approval = "two_people"
target = {{ http = {{ url = "{api}/address" }} }}
[tools.close_account.parameters]
type = "object"
required = ["customer_id"]
properties.customer_id = {{ type = "string" }}
"#
    )
}

fn calls_to(received: &Arc<Mutex<Vec<Received>>>, path: &str) -> Vec<Received> {
    received
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.path == path)
        .cloned()
        .collect()
}

fn as_user(home: &Path, token: &str, args: &[&str]) -> std::process::Output {
    warden_with_env(
        home,
        args,
        &[
            ("WARDEN_TOKEN", token),
            ("ORDERS_API_TOKEN", "orders-secret-7"),
        ],
    )
}

fn call(home: &Path, token: &str, tool: &str, arguments: &str) -> (bool, Value) {
    let output = as_user(
        home,
        token,
        &["tools", "call", tool, "--args", arguments, "--json"],
    );
    let text = stdout(&output);
    let value =
        serde_json::from_str(text.trim()).unwrap_or_else(|_| panic!("{text}\n{}", stderr(&output)));
    (output.status.success(), value)
}

#[test]
fn tools_run_wait_or_are_refused_under_policy() {
    let (api, received) = mock_api();
    let dir = tempfile::tempdir().unwrap();
    let home = crate::common::ingested_home(dir.path());
    std::fs::write(home.join("tools.toml"), declarations(&api)).unwrap();
    let ann = add_user(&home, "default", "ann", "reader");
    let rev = add_user(&home, "default", "rev", "reviewer");
    let rita = add_user(&home, "default", "rita", "reviewer");
    let sam = add_user(&home, "default", "sam", "editor");

    // A read tool answers; the customer comes from the caller's identity,
    // whatever the request said; the endpoint gets its own credential.
    let (ok, read) = call(
        &home,
        &ann,
        "order_status",
        r#"{"order_id": "ORD-123456", "customer_id": "bob"}"#,
    );
    assert!(ok, "{read}");
    assert!(read["text"].as_str().unwrap().contains("shipped"), "{read}");
    assert_eq!(read["report"]["overridden"][0], "customer_id");
    let sent = calls_to(&received, "/orders/status");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body["customer_id"], "ann");
    assert_eq!(
        sent[0].authorization.as_deref(),
        Some("Bearer orders-secret-7")
    );

    // A financial call over its limit is refused and never sent.
    let (ok, over) = call(
        &home,
        &ann,
        "refund",
        r#"{"order_id": "ORD-123456", "amount": 500}"#,
    );
    assert!(!ok);
    assert!(
        over["text"]
            .as_str()
            .unwrap()
            .contains("over the limit of 100"),
        "{over}"
    );
    assert!(calls_to(&received, "/refunds").is_empty());
    // Within the limit it runs.
    let (ok, _) = call(
        &home,
        &ann,
        "refund",
        r#"{"order_id": "ORD-123456", "amount": 40}"#,
    );
    assert!(ok);
    assert_eq!(calls_to(&received, "/refunds").len(), 1);

    // A user without the role is refused; nothing is sent.
    let (ok, refused) = call(&home, &sam, "order_status", r#"{"order_id": "ORD-123456"}"#);
    assert!(!ok);
    assert!(
        refused["text"].as_str().unwrap().contains("may not use"),
        "{refused}"
    );
    assert_eq!(calls_to(&received, "/orders/status").len(), 1);

    // A write waits for approval, then runs exactly once.
    let (ok, pending) = call(
        &home,
        &ann,
        "update_address",
        r#"{"order_id": "ORD-123456", "address": "2 Aire Quay, Leeds"}"#,
    );
    assert!(ok, "{pending}");
    assert_eq!(pending["report"]["decision"], "pending");
    let id = pending["report"]["call_id"].as_str().unwrap().to_string();
    assert!(calls_to(&received, "/address").is_empty());
    let listed = stdout(&as_user(&home, &rev, &["review", "calls", "--json"]));
    assert!(listed.contains(&id), "{listed}");
    // Not by the requester, not by someone who may not review.
    for token in [&ann, &sam] {
        let denied = as_user(&home, token, &["review", "approve", &id]);
        assert!(!denied.status.success());
    }
    assert!(calls_to(&received, "/address").is_empty());
    let approved = as_user(&home, &rev, &["review", "approve", &id, "--comment", "ok"]);
    assert!(approved.status.success(), "{}", stderr(&approved));
    assert!(
        stdout(&approved).contains("executed"),
        "{}",
        stdout(&approved)
    );
    // A second approval does not send it again.
    let again = as_user(&home, &rita, &["review", "approve", &id]);
    assert!(
        stderr(&again).contains("already executed"),
        "{}",
        stderr(&again)
    );
    let sent = calls_to(&received, "/address");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].idempotency_key.as_deref(), Some(id.as_str()));
    assert_eq!(sent[0].body["customer_id"], "ann");

    // Two people: the same approver twice is not two approvals.
    let (_, pending) = call(&home, &ann, "close_account", r#"{"customer_id": "ann"}"#);
    let id = pending["report"]["call_id"].as_str().unwrap().to_string();
    assert!(as_user(&home, &rev, &["review", "approve", &id])
        .status
        .success());
    let twice = as_user(&home, &rev, &["review", "approve", &id]);
    assert!(
        stderr(&twice).contains("second approver"),
        "{}",
        stderr(&twice)
    );
    assert_eq!(calls_to(&received, "/address").len(), 1);
    assert!(as_user(&home, &rita, &["review", "approve", &id])
        .status
        .success());
    assert_eq!(calls_to(&received, "/address").len(), 2);

    // Rejected calls never run.
    let (_, pending) = call(
        &home,
        &ann,
        "update_address",
        r#"{"order_id": "ORD-123456", "address": "3 Aire Quay"}"#,
    );
    let id = pending["report"]["call_id"].as_str().unwrap().to_string();
    let rejected = as_user(&home, &rev, &["review", "reject", &id, "--comment", "no"]);
    assert!(rejected.status.success(), "{}", stderr(&rejected));
    assert!(!as_user(&home, &rita, &["review", "approve", &id])
        .status
        .success());
    assert_eq!(calls_to(&received, "/address").len(), 2);

    // The dry run says what would happen without sending anything.
    let dry = warden(
        &home,
        &[
            "tools",
            "test",
            "refund",
            "--args",
            r#"{"order_id": "ORD-123456", "amount": 90, "customer_id": "eve"}"#,
            "--user",
            "ann",
            "--json",
        ],
    );
    let plan: Value = serde_json::from_str(stdout(&dry).trim()).unwrap();
    assert_eq!(plan["action"]["decision"], "execute", "{plan}");
    assert_eq!(plan["arguments"]["customer_id"], "ann");
    assert_eq!(calls_to(&received, "/refunds").len(), 1);

    // Every decision is in the audit chain.
    let export = stdout(&warden(&home, &["audit", "export"]));
    for outcome in [
        r#""action":"tool","outcome":"executed""#,
        r#""action":"tool","outcome":"refused""#,
        r#""action":"tool","outcome":"pending""#,
        r#""action":"tool approve","outcome":"executed""#,
        r#""action":"tool reject","outcome":"rejected""#,
    ] {
        assert!(export.contains(outcome), "{outcome} missing");
    }
    assert!(warden(&home, &["audit", "verify"]).status.success());
}

#[test]
fn the_model_proposes_calls_from_the_question_and_planted_text_never_triggers_one() {
    let (api, received) = mock_api();
    let dir = tempfile::tempdir().unwrap();
    let home = crate::common::ingested_home(dir.path());
    std::fs::write(home.join("tools.toml"), declarations(&api)).unwrap();
    let ann = add_user(&home, "default", "ann", "reader");
    let ask = |question: &str| {
        let output = as_user(&home, &ann, &["ask", question, "--model", QWEN2, "--json"]);
        assert!(output.status.success(), "{}", stderr(&output));
        serde_json::from_str::<Value>(stdout(&output).trim()).unwrap()
    };

    let status = ask("What is the status of my order ORD-123456?");
    assert_eq!(status["tool"]["tool"], "order_status", "{status}");
    assert_eq!(status["tool"]["decision"], "executed", "{status}");
    let sent = calls_to(&received, "/orders/status");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body["customer_id"], "ann");
    // The tool's answer is source 1 of the answer.
    assert_eq!(
        status["sources"][0]["source"], "tool:order_status",
        "{status}"
    );

    let over = ask("Refund 500 EUR for my order ORD-123456.");
    assert_eq!(over["outcome"], "tool_refused", "{over}");
    assert!(calls_to(&received, "/refunds").is_empty());

    // A question about leave calls nothing.
    let plain = ask("How many days of paid annual leave does a full-time employee get?");
    assert!(plain["tool"].is_null(), "{plain}");
    assert_eq!(received.lock().unwrap().len(), 1);
}
