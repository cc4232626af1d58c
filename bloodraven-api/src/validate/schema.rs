//! The OpenAPI (structural schema) layer of validation: a walk of a JSON value against a CRD schema.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock};

use regex::Regex;
use serde_json::{Map, Value};

use super::{Violation, field, index};
use crate::crd;
use crate::duration::DURATION_PATTERN;
use crate::schema::QUANTITY_PATTERN;

/// Checks a whole object of `kind` against that kind's CRD schema.
pub(crate) fn check_kind(kind: &str, value: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    if let Some(schema) = kind_schema(kind) {
        Walker.check(schema, value, "", &mut out);
    }
    out
}

fn kind_schema(kind: &str) -> Option<&'static Value> {
    static SCHEMAS: [OnceLock<Value>; 5] = [const { OnceLock::new() }; 5];
    let index = crd::KINDS.iter().position(|k| *k == kind)?;
    Some(SCHEMAS[index].get_or_init(|| {
        crd::crd_for(kind)
            .map(|c| crd::schema_of(&c))
            .unwrap_or_default()
    }))
}

struct Walker;

impl Walker {
    fn check(&self, schema: &Value, value: &Value, path: &str, out: &mut Vec<Violation>) {
        let Some(schema) = schema.as_object() else {
            return;
        };
        if value.is_null() {
            // The API server drops nulls of non-nullable fields before validating.
            return;
        }
        if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
            match value {
                Value::Number(n) if n.is_i64() || n.is_u64() => {}
                Value::String(s) => check_string(schema, s, path, out),
                other => out.push(Violation::new(
                    path,
                    format!("must be an integer or a string, found {}", describe(other)),
                )),
            }
            return;
        }
        check_enum(schema, value, path, out);
        match schema.get("type").and_then(Value::as_str) {
            Some("object") => match value {
                Value::Object(map) => self.check_object(schema, map, path, out),
                other => out.push(type_error(path, "an object (a mapping)", other)),
            },
            Some("array") => match value {
                Value::Array(items) => self.check_array(schema, items, path, out),
                other => out.push(type_error(path, "a list", other)),
            },
            Some("string") => match value {
                Value::String(s) => check_string(schema, s, path, out),
                other => out.push(type_error(path, "a string", other)),
            },
            Some("integer") => match value.as_i64() {
                Some(n) => check_integer(schema, n, path, out),
                None => out.push(type_error(path, "an integer", value)),
            },
            Some("number") if !value.is_number() => out.push(type_error(path, "a number", value)),
            Some("boolean") if !value.is_boolean() => {
                out.push(type_error(path, "true or false", value))
            }
            _ => {}
        }
    }

    fn check_object(
        &self,
        schema: &Map<String, Value>,
        map: &Map<String, Value>,
        path: &str,
        out: &mut Vec<Violation>,
    ) {
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if map.get(name).is_none_or(Value::is_null) {
                    out.push(Violation::new(
                        field(path, name),
                        "required field is missing: add it",
                    ));
                }
            }
        }
        let count = map.values().filter(|v| !v.is_null()).count();
        if let Some(min) = schema.get("minProperties").and_then(Value::as_u64)
            && (count as u64) < min
        {
            out.push(Violation::new(
                path,
                format!(
                    "must have at least {min} entr{}",
                    if min == 1 { "y" } else { "ies" }
                ),
            ));
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties").filter(|v| v.is_object());
        let preserve =
            schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
        for (key, child) in map {
            let child_path = key_path(path, key);
            match (properties.and_then(|p| p.get(key)), additional) {
                (Some(child_schema), _) => self.check(child_schema, child, &child_path, out),
                (None, Some(child_schema)) => self.check(child_schema, child, &child_path, out),
                (None, None) if preserve || properties.is_none() => {}
                (None, None) => {
                    let known: Vec<&str> = properties
                        .into_iter()
                        .flat_map(|p| p.keys())
                        .map(String::as_str)
                        .collect();
                    out.push(Violation::new(
                        child_path,
                        unknown_field_message(key, &known),
                    ));
                }
            }
        }
    }

    fn check_array(
        &self,
        schema: &Map<String, Value>,
        items: &[Value],
        path: &str,
        out: &mut Vec<Violation>,
    ) {
        let len = items.len() as u64;
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
            && len < min
        {
            out.push(Violation::new(
                path,
                format!("must have at least {min} item{}, found {len}", plural(min)),
            ));
        }
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
            && len > max
        {
            out.push(Violation::new(
                path,
                format!(
                    "must have at most {max} item{}, found {len}: remove some",
                    plural(max)
                ),
            ));
        }
        match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => {
                let mut seen = BTreeSet::new();
                for (i, item) in items.iter().enumerate() {
                    if !seen.insert(item.to_string()) {
                        out.push(Violation::new(
                            index(path, i),
                            format!("duplicate entry {item}: list entries must be unique"),
                        ));
                    }
                }
            }
            Some("map") => {
                let keys: Vec<&str> = schema
                    .get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let mut seen = HashMap::new();
                for (i, item) in items.iter().enumerate() {
                    let key: Vec<String> = keys
                        .iter()
                        .map(|k| item.get(*k).map(Value::to_string).unwrap_or_default())
                        .collect();
                    if let Some(first) = seen.insert(key.join(","), i) {
                        out.push(Violation::new(
                            index(path, i),
                            format!(
                                "duplicate {} {} (already used by {}): each entry needs its own {}",
                                keys.join("/"),
                                key.join(","),
                                index(path, first),
                                keys.join("/")
                            ),
                        ));
                    }
                }
            }
            _ => {}
        }
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                self.check(item_schema, item, &index(path, i), out);
            }
        }
    }
}

fn check_string(schema: &Map<String, Value>, s: &str, path: &str, out: &mut Vec<Violation>) {
    let len = s.chars().count() as u64;
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && len < min
    {
        let message = if min == 1 {
            "must not be empty: set a value or remove the field".to_owned()
        } else {
            format!("must be at least {min} characters long, found {len}")
        };
        out.push(Violation::new(path, message));
    }
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && len > max
    {
        out.push(Violation::new(
            path,
            format!("must be at most {max} characters long, found {len}: shorten it"),
        ));
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
        && !matches(pattern, s)
    {
        let message = match pattern {
            DURATION_PATTERN => format!(
                "{s:?} is not a Go duration: write a number and a unit, such as 30s, 5m, 1h30m or 300ms"
            ),
            QUANTITY_PATTERN => {
                format!("{s:?} is not a Kubernetes quantity: write for example 50Gi, 500M or 1.5T")
            }
            _ => format!("{s:?} does not match the pattern {pattern}"),
        };
        out.push(Violation::new(path, message));
    }
}

fn check_integer(schema: &Map<String, Value>, n: i64, path: &str, out: &mut Vec<Violation>) {
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
        && (n as f64) < min
    {
        out.push(Violation::new(
            path,
            format!("must be at least {min}, found {n}"),
        ));
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
        && (n as f64) > max
    {
        out.push(Violation::new(
            path,
            format!("must be at most {max}, found {n}"),
        ));
    }
    if schema.get("format").and_then(Value::as_str) == Some("int32") && i32::try_from(n).is_err() {
        out.push(Violation::new(
            path,
            format!("{n} does not fit a 32-bit integer"),
        ));
    }
}

fn check_enum(schema: &Map<String, Value>, value: &Value, path: &str, out: &mut Vec<Violation>) {
    let Some(allowed) = schema.get("enum").and_then(Value::as_array) else {
        return;
    };
    if !allowed.contains(value) {
        let list: Vec<String> = allowed
            .iter()
            .map(|v| match v {
                Value::String(s) if s.is_empty() => "\"\"".to_owned(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        out.push(Violation::new(
            path,
            format!("unsupported value {value}: use one of {}", list.join(", ")),
        ));
    }
}

fn matches(pattern: &str, s: &str) -> bool {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let regex = cache
        .entry(pattern.to_owned())
        .or_insert_with(|| Regex::new(pattern).ok());
    // A pattern the regex engine cannot compile is left to the API server.
    regex.as_ref().is_none_or(|re| re.is_match(s))
}

fn key_path(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        field(parent, key)
    } else {
        format!("{parent}[{key:?}]")
    }
}

fn unknown_field_message(key: &str, known: &[&str]) -> String {
    let lower = key.to_ascii_lowercase();
    match known.iter().find(|k| k.to_ascii_lowercase() == lower) {
        Some(k) => {
            format!("unknown field {key:?}: did you mean {k:?}? (JSON names are case-sensitive)")
        }
        None => format!(
            "unknown field {key:?}: the API server would drop or reject it; remove it or fix its spelling"
        ),
    }
}

fn type_error(path: &str, expected: &str, found: &Value) -> Violation {
    Violation::new(
        path,
        format!("must be {expected}, found {}", describe(found)),
    )
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}
