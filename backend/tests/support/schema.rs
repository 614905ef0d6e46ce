//! A JSON Schema check of the subset the API's OpenAPI document uses (`$ref`, `type` (one or a
//! list), `properties`, `additionalProperties: false`, `items`, `enum`, `pattern`, `minimum`,
//! `maximum`, `minLength`, `maxLength`, `required`), so a test can hold every answer of the real
//! server to its documented schema. Each problem is named by its JSON path.
#![allow(dead_code)]

use serde_json::Value;

/// The problems of `value` against `schema`; `doc` resolves `$ref`s. Empty: it conforms.
pub fn problems(doc: &Value, schema: &Value, value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    check(doc, schema, value, "$", &mut out);
    out
}

fn resolve<'a>(doc: &'a Value, reference: &str) -> &'a Value {
    let path = reference
        .strip_prefix("#/")
        .unwrap_or_else(|| panic!("only local references: {reference}"));
    path.split('/').fold(doc, |v, part| {
        v.get(part)
            .unwrap_or_else(|| panic!("{reference} is not in the document"))
    })
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "null" => v.is_null(),
        other => panic!("unknown type {other}"),
    }
}

fn check(doc: &Value, schema: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        check(doc, resolve(doc, r), v, at, out);
    }
    if let Some(t) = schema.get("type") {
        let ok = match t {
            Value::String(t) => type_matches(t, v),
            Value::Array(ts) => ts
                .iter()
                .filter_map(Value::as_str)
                .any(|t| type_matches(t, v)),
            _ => panic!("bad type {t}"),
        };
        if !ok {
            out.push(format!("{at}: {v} is not of type {t}"));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(v)
    {
        out.push(format!("{at}: {v} is not one of {allowed:?}"));
    }
    if let Some(s) = v.as_str() {
        if let Some(p) = schema.get("pattern").and_then(Value::as_str)
            && !regex::Regex::new(p).unwrap().is_match(s)
        {
            out.push(format!("{at}: {s:?} does not match {p}"));
        }
        let n = s.chars().count() as u64;
        if schema
            .get("maxLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| n > m)
        {
            out.push(format!("{at}: longer than {}", schema["maxLength"]));
        }
        if schema
            .get("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| n < m)
        {
            out.push(format!("{at}: shorter than {}", schema["minLength"]));
        }
    }
    if let Some(n) = v.as_f64().filter(|_| v.is_number()) {
        if schema
            .get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n < m)
        {
            out.push(format!("{at}: {v} is below {}", schema["minimum"]));
        }
        if schema
            .get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n > m)
        {
            out.push(format!("{at}: {v} is above {}", schema["maximum"]));
        }
    }
    if let Some(map) = v.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        for (k, item) in map {
            match properties.and_then(|p| p.get(k)) {
                Some(s) => check(doc, s, item, &format!("{at}.{k}"), out),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    out.push(format!("{at}: property {k:?} is not documented"))
                }
                None => {}
            }
        }
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !map.contains_key(r) {
                out.push(format!("{at}: required property {r:?} is missing"));
            }
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), v.as_array()) {
        for (i, item) in list.iter().enumerate() {
            check(doc, items, item, &format!("{at}[{i}]"), out);
        }
    }
}
