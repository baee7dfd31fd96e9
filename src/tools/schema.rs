//! The JSON Schema subset tool arguments are checked against: `type`,
//! `properties`, `required`, `additionalProperties` (true or false), `enum`,
//! `const`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`,
//! `minLength`, `maxLength`, `pattern`, `items`, `minItems`, `maxItems`, and
//! the annotations `description`, `title`, `default`, `examples`.
//!
//! A declaration that uses any other keyword is refused when it is loaded:
//! a keyword silently ignored would be a check the deployer believes in and
//! nobody makes. Arguments are small (a handful of fields), so the whole
//! check is a walk over the value.

use serde_json::Value;

const KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "items",
    "minItems",
    "maxItems",
    "description",
    "title",
    "default",
    "examples",
];

const TYPES: &[&str] = &[
    "string", "number", "integer", "boolean", "object", "array", "null",
];

/// Checks that `schema` is an object schema within the subset.
pub fn check_schema(schema: &Value) -> Result<(), String> {
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        return Err("`parameters` must be a JSON Schema with \"type\": \"object\"".into());
    }
    check_node(schema, "parameters")
}

fn check_node(schema: &Value, at: &str) -> Result<(), String> {
    let Some(object) = schema.as_object() else {
        return Err(format!("{at}: a schema is an object"));
    };
    for (keyword, value) in object {
        if !KEYWORDS.contains(&keyword.as_str()) {
            return Err(format!(
                "{at}: the keyword `{keyword}` is not enforced by Warden (supported: {})",
                KEYWORDS.join(", ")
            ));
        }
        match keyword.as_str() {
            "type" => {
                let names: Vec<&Value> = match value {
                    Value::Array(items) => items.iter().collect(),
                    other => vec![other],
                };
                for name in names {
                    if !name.as_str().is_some_and(|n| TYPES.contains(&n)) {
                        return Err(format!("{at}: unknown type {name}"));
                    }
                }
            }
            "properties" => {
                let Some(properties) = value.as_object() else {
                    return Err(format!("{at}: `properties` is an object"));
                };
                for (name, property) in properties {
                    check_node(property, &format!("{at}.{name}"))?;
                }
            }
            "items" => check_node(value, &format!("{at}[]"))?,
            "required"
                if !value
                    .as_array()
                    .is_some_and(|names| names.iter().all(Value::is_string)) =>
            {
                return Err(format!("{at}: `required` is a list of names"));
            }
            "additionalProperties" if !value.is_boolean() => {
                return Err(format!(
                    "{at}: `additionalProperties` must be true or false"
                ));
            }
            "pattern" => {
                let pattern = value.as_str().unwrap_or_default();
                regex::Regex::new(pattern).map_err(|err| format!("{at}: pattern: {err}"))?;
            }
            "enum" if !value.is_array() => return Err(format!("{at}: `enum` is a list")),
            "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" | "minLength"
            | "maxLength" | "minItems" | "maxItems"
                if !value.is_number() =>
            {
                return Err(format!("{at}: `{keyword}` is a number"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks `value` against `schema`; the error names the argument.
pub fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    validate_at(schema, value, "arguments")
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|n| n.fract() == 0.0)
        }
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "null" => value.is_null(),
        _ => false,
    }
}

fn validate_at(schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(kind) = schema.get("type") {
        let names: Vec<&str> = match kind {
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            other => other.as_str().into_iter().collect(),
        };
        if !names.iter().any(|name| type_matches(name, value)) {
            return Err(format!("{at} must be {}", names.join(" or ")));
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            return Err(format!(
                "{at} must be one of {}",
                Value::from(allowed.clone())
            ));
        }
    }
    if let Some(constant) = schema.get("const") {
        if constant != value {
            return Err(format!("{at} must be {constant}"));
        }
    }
    if let Some(number) = value.as_f64() {
        let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
        if bound("minimum").is_some_and(|min| number < min)
            || bound("exclusiveMinimum").is_some_and(|min| number <= min)
        {
            return Err(format!("{at} is below its minimum"));
        }
        if bound("maximum").is_some_and(|max| number > max)
            || bound("exclusiveMaximum").is_some_and(|max| number >= max)
        {
            return Err(format!("{at} is above its maximum"));
        }
    }
    if let Some(text) = value.as_str() {
        let length = text.chars().count() as u64;
        let bound = |key: &str| schema.get(key).and_then(Value::as_u64);
        if bound("minLength").is_some_and(|min| length < min) {
            return Err(format!("{at} is too short"));
        }
        if bound("maxLength").is_some_and(|max| length > max) {
            return Err(format!("{at} is too long"));
        }
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
            // Checked when the declarations were loaded.
            if regex::Regex::new(pattern).is_ok_and(|re| !re.is_match(text)) {
                return Err(format!("{at} does not match {pattern}"));
            }
        }
    }
    if let Some(items) = value.as_array() {
        let count = items.len() as u64;
        let bound = |key: &str| schema.get(key).and_then(Value::as_u64);
        if bound("minItems").is_some_and(|min| count < min)
            || bound("maxItems").is_some_and(|max| count > max)
        {
            return Err(format!("{at} has the wrong number of items"));
        }
        if let Some(item_schema) = schema.get("items") {
            for (index, item) in items.iter().enumerate() {
                validate_at(item_schema, item, &format!("{at}[{index}]"))?;
            }
        }
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(name) {
                    return Err(format!("{at}.{name} is required"));
                }
            }
        }
        for (name, item) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(property) => validate_at(property, item, &format!("{at}.{name}"))?,
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("{at}.{name} is not an argument of this tool"));
                }
                None => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arguments_are_checked_against_the_subset() {
        let schema = json!({
            "type": "object",
            "required": ["order_id", "amount"],
            "additionalProperties": false,
            "properties": {
                "order_id": {"type": "string", "pattern": "^ORD-[0-9]{6}$"},
                "amount": {"type": "number", "minimum": 0},
                "reason": {"type": "string", "enum": ["damaged", "late"]}
            }
        });
        check_schema(&schema).unwrap();
        validate(&schema, &json!({"order_id": "ORD-123456", "amount": 12.5})).unwrap();
        for (bad, message) in [
            (json!({"order_id": "ORD-1", "amount": 1}), "does not match"),
            (json!({"order_id": "ORD-123456"}), "amount is required"),
            (
                json!({"order_id": "ORD-123456", "amount": -1}),
                "below its minimum",
            ),
            (
                json!({"order_id": "ORD-123456", "amount": "5"}),
                "must be number",
            ),
            (
                json!({"order_id": "ORD-123456", "amount": 1, "iban": "x"}),
                "not an argument",
            ),
            (
                json!({"order_id": "ORD-123456", "amount": 1, "reason": "bored"}),
                "one of",
            ),
        ] {
            let err = validate(&schema, &bad).unwrap_err();
            assert!(err.contains(message), "{bad}: {err}");
        }
    }

    #[test]
    fn unsupported_keywords_are_refused_at_load() {
        let err = check_schema(&json!({
            "type": "object",
            "properties": {"a": {"type": "string", "format": "email"}}
        }))
        .unwrap_err();
        assert!(err.contains("`format` is not enforced"), "{err}");
        assert!(check_schema(&json!({"type": "string"})).is_err());
    }
}
