//! What Warden does with a proposed call: execute it, wait for approval, or
//! refuse it with a reason the user sees. The checks, in order: the tool
//! exists (deny by default), the caller holds one of its roles, bound
//! arguments take the caller's identity (whatever the model said), the
//! arguments fit the schema and the limits, a call that changes something
//! uses only values the user wrote, the caller is within the rate; then the
//! declared approval decides.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::{schema, Binding, Risk, ToolRegistry, ToolSpec};
use crate::auth::Principal;

/// The decision on one call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum PlannedAction {
    Execute,
    AwaitApproval { approvers_needed: usize },
    Refuse { reason: String },
}

/// A proposed call after policy.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub tool: String,
    pub risk: Option<Risk>,
    /// As proposed.
    pub proposed: Value,
    /// After binding: what would be sent.
    pub arguments: Value,
    /// Bound arguments whose proposed value was replaced by the identity's.
    pub overridden: Vec<String>,
    pub action: PlannedAction,
}

impl Plan {
    pub fn refused(&self) -> Option<&str> {
        match &self.action {
            PlannedAction::Refuse { reason } => Some(reason),
            _ => None,
        }
    }
}

pub fn may_call(spec: &ToolSpec, principal: &Principal) -> bool {
    principal.operator || spec.roles.iter().any(|role| principal.roles.contains(role))
}

pub fn may_approve(spec: &ToolSpec, principal: &Principal) -> bool {
    principal.operator
        || spec
            .approvers
            .iter()
            .any(|role| principal.roles.contains(role))
}

fn identity_value(binding: Binding, principal: &Principal) -> Value {
    Value::String(match binding {
        Binding::User => principal.name.clone(),
        Binding::UserId => principal.id.clone(),
        Binding::Tenant => principal.tenant.clone(),
    })
}

/// Decides on `arguments` for `tool`, proposed in answer to `user_message`
/// by `principal`, who made `calls_last_hour` calls of it in the last hour.
pub fn evaluate(
    registry: &ToolRegistry,
    principal: &Principal,
    tool: &str,
    arguments: &Value,
    user_message: &str,
    calls_last_hour: usize,
) -> Plan {
    let mut plan = Plan {
        tool: tool.to_string(),
        risk: None,
        proposed: arguments.clone(),
        arguments: arguments.clone(),
        overridden: Vec::new(),
        action: PlannedAction::Execute,
    };
    let refuse = |mut plan: Plan, reason: String| {
        plan.action = PlannedAction::Refuse { reason };
        plan
    };
    let Some(spec) = registry.get(tool) else {
        return refuse(plan, format!("there is no tool named `{tool}`"));
    };
    plan.risk = Some(spec.risk);
    if !may_call(spec, principal) {
        return refuse(
            plan,
            format!(
                "{} may not use `{tool}` (it needs one of the roles: {})",
                principal.name,
                if spec.roles.is_empty() {
                    "none granted".to_string()
                } else {
                    spec.roles.join(", ")
                }
            ),
        );
    }
    let Some(object) = arguments.as_object() else {
        return refuse(plan, "the arguments are not a JSON object".into());
    };
    let mut bound = object.clone();
    for (name, binding) in &spec.bound {
        let value = identity_value(*binding, principal);
        if object.get(name).is_some_and(|proposed| proposed != &value) {
            plan.overridden.push(name.clone());
        }
        bound.insert(name.clone(), value);
    }
    plan.arguments = Value::Object(bound);
    if let Err(message) = schema::validate(&spec.parameters, &plan.arguments) {
        return refuse(plan, format!("`{tool}`: {message}"));
    }
    if let Some(reason) = over_limit(spec, &plan.arguments) {
        return refuse(plan, reason);
    }
    if spec.risk != Risk::Read {
        if let Some(reason) = not_from_the_user(spec, object, user_message) {
            return refuse(plan, reason);
        }
    }
    if let Some(limit) = spec.calls_per_hour {
        if calls_last_hour >= limit as usize {
            return refuse(
                plan,
                format!("`{tool}` may be called {limit} times an hour; try again later"),
            );
        }
    }
    plan.action = match spec.approval.approvers_needed() {
        0 => PlannedAction::Execute,
        approvers_needed => PlannedAction::AwaitApproval { approvers_needed },
    };
    plan
}

fn over_limit(spec: &ToolSpec, arguments: &Value) -> Option<String> {
    for (name, bounds) in &spec.limits {
        let Some(number) = arguments.get(name).and_then(Value::as_f64) else {
            continue;
        };
        if let Some(max) = bounds.max.filter(|max| number > *max) {
            return Some(format!(
                "{name} {number} is over the limit of {max} for `{}`",
                spec.name
            ));
        }
        if let Some(min) = bounds.min.filter(|min| number < *min) {
            return Some(format!(
                "{name} {number} is under the minimum of {min} for `{}`",
                spec.name
            ));
        }
    }
    None
}

/// A call that changes something may only carry values the user wrote
/// (bound arguments aside, and choices the schema enumerates): a value the
/// model took from anywhere else is refused.
fn not_from_the_user(
    spec: &ToolSpec,
    proposed: &serde_json::Map<String, Value>,
    user_message: &str,
) -> Option<String> {
    let message = user_message.to_lowercase();
    let numbers: Vec<f64> = numbers_in(&message);
    let properties: BTreeMap<&str, &Value> = spec
        .parameters
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default();
    for (name, value) in proposed {
        if spec.bound.contains_key(name)
            || properties
                .get(name.as_str())
                .is_some_and(|p| p.get("enum").is_some())
        {
            continue;
        }
        let written = match value {
            Value::String(text) => message.contains(&text.to_lowercase()),
            Value::Number(number) => number
                .as_f64()
                .is_some_and(|n| numbers.iter().any(|m| (m - n).abs() < 1e-9)),
            Value::Bool(_) | Value::Null => true,
            other => message.contains(&other.to_string().to_lowercase()),
        };
        if !written {
            return Some(format!(
                "`{}` changes something, and its argument {name} = {value} is not in your request; \
                 state every value yourself",
                spec.name
            ));
        }
    }
    None
}

fn numbers_in(text: &str) -> Vec<f64> {
    let mut numbers = Vec::new();
    let mut current = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() || (c == '.' && !current.is_empty()) {
            current.push(c);
        } else if c == ',' && !current.is_empty() {
            // Thousands separator: 1,000.
        } else if !current.is_empty() {
            if let Ok(number) = current.trim_end_matches('.').parse() {
                numbers.push(number);
            }
            current.clear();
        }
    }
    numbers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{LabelScope, Principal};
    use serde_json::json;

    const DECLARATIONS: &str = r#"
[tools.refund]
description = "Refund an order"
risk = "financial"
roles = ["reader"]
approval = "human"
target = { builtin = "echo" }
bound = { customer_id = "user" }
limits = { amount = { max = 100 } }
calls_per_hour = 3
[tools.refund.parameters]
type = "object"
required = ["order_id", "amount", "customer_id"]
additionalProperties = false
properties.order_id = { type = "string" }
properties.amount = { type = "number" }
properties.customer_id = { type = "string" }
"#;

    fn user(name: &str, roles: &[&str]) -> Principal {
        Principal {
            id: format!("u-{name}"),
            name: name.into(),
            tenant: "default".into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            actions: Default::default(),
            labels: LabelScope::All,
            operator: false,
        }
    }

    #[test]
    fn the_policy_binds_limits_and_refuses_what_the_user_did_not_say() {
        let registry = ToolRegistry::parse(DECLARATIONS).unwrap();
        let ann = user("ann", &["reader"]);
        let asked = "Please refund 40 EUR for order ORD-100200.";
        let plan = evaluate(
            &registry,
            &ann,
            "refund",
            &json!({"order_id": "ORD-100200", "amount": 40, "customer_id": "bob"}),
            asked,
            0,
        );
        assert_eq!(
            plan.action,
            PlannedAction::AwaitApproval {
                approvers_needed: 1
            }
        );
        assert_eq!(plan.arguments["customer_id"], "ann");
        assert_eq!(plan.overridden, ["customer_id"]);

        let over = evaluate(
            &registry,
            &ann,
            "refund",
            &json!({"order_id": "ORD-100200", "amount": 400}),
            "Refund 400 EUR for order ORD-100200.",
            0,
        );
        assert!(over.refused().unwrap().contains("over the limit of 100"));

        let invented = evaluate(
            &registry,
            &ann,
            "refund",
            &json!({"order_id": "ORD-999999", "amount": 40}),
            asked,
            0,
        );
        assert!(invented.refused().unwrap().contains("not in your request"));

        let stranger = evaluate(
            &registry,
            &user("sam", &["auditor"]),
            "refund",
            &json!({"order_id": "ORD-100200", "amount": 40}),
            asked,
            0,
        );
        assert!(stranger.refused().unwrap().contains("may not use"));
        let unknown = evaluate(&registry, &ann, "wire_money", &json!({}), asked, 0);
        assert!(unknown.refused().unwrap().contains("no tool named"));
        let busy = evaluate(
            &registry,
            &ann,
            "refund",
            &json!({"order_id": "ORD-100200", "amount": 40}),
            asked,
            3,
        );
        assert!(busy.refused().unwrap().contains("3 times an hour"));
    }
}
