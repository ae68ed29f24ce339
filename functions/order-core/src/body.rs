//! Reading a JSON request body: the Content-Type, the size limit, the JSON itself, the shape of
//! the document, then serde into a contract type, with every failure turned into an
//! [`ApiProblem`] whose message names the field (as a camelCase path the way the client wrote
//! it, `items[0].quantity`) and the rule.
//!
//! The order of the checks, and so which problem a body with several is told about:
//! 1. Content-Type (415 `UNSUPPORTED_MEDIA_TYPE`);
//! 2. size (413 `PAYLOAD_TOO_LARGE`);
//! 3. JSON syntax, a duplicated key, a top level that is not an object (400 `MALFORMED_JSON`);
//! 4. the shape: containers, enum values and whole numbers, in field order (400
//!    `VALIDATION_FAILED`, as are the next two);
//! 5. serde: missing and unknown fields, amounts of money;
//! 6. the request's own rules (text, e-mail, SKU, …; see [`crate::requests`]).

use std::fmt;

use infra_model::contract::api::{ErrorCode, limits};
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::problem::ApiProblem;

/// Accepts no Content-Type, `application/json`, and `application/json` with a UTF-8 charset
/// parameter (`application/json; charset=utf-8`, any case, any spaces around `;` and `=`). An
/// empty header counts as none.
pub fn check_content_type(content_type: Option<&str>) -> Result<(), ApiProblem> {
    let Some(raw) = content_type.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(());
    };
    let mut parts = raw.split(';').map(str::trim);
    let media_type = parts.next().unwrap_or_default();
    let mut ok = media_type.eq_ignore_ascii_case("application/json");
    for param in parts {
        let charset_utf8 = param.split_once('=').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("charset")
                && value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        });
        ok &= charset_utf8;
    }
    if ok {
        Ok(())
    } else {
        Err(ApiProblem::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "Unsupported Content-Type {}: send application/json (charset utf-8)",
                quoted(raw, 100)
            ),
        ))
    }
}

/// At most [`limits::MAX_BODY_BYTES`] bytes.
pub fn check_body_size(body: &[u8]) -> Result<(), ApiProblem> {
    if body.len() > limits::MAX_BODY_BYTES {
        return Err(ApiProblem::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "Request body is {} bytes: the limit is {} bytes",
                body.len(),
                limits::MAX_BODY_BYTES
            ),
        ));
    }
    Ok(())
}

/// Steps 1 to 3: the body as a JSON object. A key that appears twice in one object is
/// refused: API Gateway's validator and this parser might each pick a different one.
pub fn read_json_object(body: &[u8], content_type: Option<&str>) -> Result<Map<String, Value>, ApiProblem> {
    check_content_type(content_type)?;
    check_body_size(body)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(malformed("Request body is empty: send a JSON object"));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = match serde_path_to_error::deserialize::<_, StrictValue>(&mut de) {
        Ok(StrictValue(v)) => v,
        Err(e) => return Err(json_problem(&render_path(e.path()), e.inner())),
    };
    if let Err(e) = de.end() {
        return Err(json_problem("", &e));
    }
    match value {
        Value::Object(map) => Ok(map),
        other => Err(malformed(format!(
            "Request body must be a JSON object, got {}",
            describe_value(&other)
        ))),
    }
}

fn json_problem(path: &str, e: &serde_json::Error) -> ApiProblem {
    if e.classify() == serde_json::error::Category::Data {
        // The only data error of `StrictValue`: a duplicated key.
        let key = backticked(&bare_message(e)).unwrap_or_default();
        return malformed(format!("Duplicate field: {}", join_key(path, &key)));
    }
    malformed(format!(
        "Malformed JSON at line {} column {}: {}",
        e.line(),
        e.column(),
        bare_message(e)
    ))
}

fn malformed(message: impl Into<String>) -> ApiProblem {
    ApiProblem::new(ErrorCode::MalformedJson, message)
}

/// What a request document must look like, checked before serde so that the messages are
/// ours and a list that is too long is refused before its entries are looked at.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Shape {
    /// An object with these fields (missing and unknown fields are serde's to report).
    Object(&'static [(&'static str, Shape)]),
    /// An array of `min..=max` entries of one shape.
    Array {
        item: &'static Shape,
        min: usize,
        max: usize,
    },
    /// A string naming one of these values.
    OneOf(&'static [&'static str]),
    /// A whole number in `min..=max`.
    Integer { min: u64, max: u64 },
    /// A string (its rules are checked after serde).
    Text,
    /// Anything: serde's deserializer has the rule (amounts of money).
    Any,
}

pub(crate) fn check_shape(value: &Value, shape: &Shape, path: &str) -> Result<(), ApiProblem> {
    match *shape {
        Shape::Object(fields) => {
            let Value::Object(map) = value else {
                return Err(type_problem(path, "an object", value));
            };
            for (name, field_shape) in fields {
                if let Some(v) = map.get(*name) {
                    check_shape(v, field_shape, &join_key(path, name))?;
                }
            }
        }
        Shape::Array { item, min, max } => {
            let Value::Array(entries) = value else {
                return Err(type_problem(path, "an array", value));
            };
            if !(min..=max).contains(&entries.len()) {
                return Err(ApiProblem::invalid_field(
                    path,
                    format!("must have between {min} and {max} entries"),
                ));
            }
            for (i, entry) in entries.iter().enumerate() {
                check_shape(entry, item, &format!("{path}[{i}]"))?;
            }
        }
        Shape::OneOf(names) => {
            if !value.as_str().is_some_and(|s| names.contains(&s)) {
                return Err(ApiProblem::invalid_field(
                    path,
                    format!("must be one of {}", names.join(", ")),
                ));
            }
        }
        Shape::Integer { min, max } => {
            let Value::Number(n) = value else {
                return Err(type_problem(
                    path,
                    &format!("a whole number between {min} and {max}"),
                    value,
                ));
            };
            let in_range = n.as_u64().is_some_and(|v| (min..=max).contains(&v));
            if n.is_f64() {
                return Err(ApiProblem::invalid_field(
                    path,
                    format!("must be a whole number between {min} and {max}"),
                ));
            }
            if !in_range {
                return Err(ApiProblem::invalid_field(
                    path,
                    format!("must be between {min} and {max}"),
                ));
            }
        }
        Shape::Text => {
            if !value.is_string() {
                return Err(type_problem(path, "a string", value));
            }
        }
        Shape::Any => {}
    }
    Ok(())
}

/// `1.0` is the integer 1, as JSON Schema counts it (an integer is a number with no fraction):
/// every such number becomes an integer before the shape and serde see it.
fn whole_numbers_as_integers(v: &mut Value) {
    match v {
        Value::Number(n) => {
            if let Some(f) = n
                .as_f64()
                .filter(|f| n.is_f64() && f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0)
            {
                // Within ±2^53 the conversion is exact.
                *n = if f < 0.0 {
                    Number::from(f as i64)
                } else {
                    Number::from(f as u64)
                };
            }
        }
        Value::Array(a) => a.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(o) => o.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

fn type_problem(path: &str, expected: &str, got: &Value) -> ApiProblem {
    ApiProblem::invalid_field(path, format!("must be {expected}, got {}", describe_value(got)))
}

/// Steps 1 to 5: a request body as the contract type `T`.
pub(crate) fn parse_request<T: DeserializeOwned>(
    body: &[u8],
    content_type: Option<&str>,
    shape: &Shape,
) -> Result<T, ApiProblem> {
    let map = read_json_object(body, content_type)?;
    let mut value = Value::Object(map);
    whole_numbers_as_integers(&mut value);
    check_shape(&value, shape, "")?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = render_path(e.path());
        rewrite_serde_message(&path, &e.inner().to_string())
    })
}

/// Turns one of serde's messages, at `path`, into ours.
pub(crate) fn rewrite_serde_message(path: &str, message: &str) -> ApiProblem {
    if let Some(rest) = message.strip_prefix("missing field ") {
        let field = backticked(rest).unwrap_or_default();
        return ApiProblem::missing_field(&join_key(path, &field));
    }
    if message.starts_with("unknown field ") {
        return ApiProblem::unknown_field(path);
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let choices = rest
            .split_once("expected one of ")
            .map(|(_, list)| list.replace('`', ""))
            .unwrap_or_default();
        return ApiProblem::invalid_field(path, format!("must be one of {choices}"));
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let (unexpected, expected) = rest.rsplit_once(", expected ").unwrap_or((rest, ""));
            let rule = format!("must be {}", describe_expected(expected));
            return if prefix == "invalid type: " {
                ApiProblem::invalid_field(path, format!("{rule}, got {}", describe_unexpected(unexpected)))
            } else {
                ApiProblem::invalid_field(path, rule)
            };
        }
    }
    if let Some(rest) = message.strip_prefix("invalid length ") {
        let expected = rest.split_once(", expected ").map_or("", |(_, e)| e);
        return ApiProblem::invalid_field(path, format!("must be {}", describe_expected(expected)));
    }
    // A custom message is already a rule ("must have at most 2 decimal places").
    ApiProblem::invalid_field(path, message)
}

fn describe_expected(expected: &str) -> String {
    let integer = ["u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "usize"];
    if integer.contains(&expected) {
        "a whole number".into()
    } else if expected.starts_with("struct ") || expected == "a map" {
        "an object".into()
    } else if expected == "a sequence" {
        "an array".into()
    } else if expected == "string or map" || expected == "unit" {
        "a string".into()
    } else if let Some(money) = expected.strip_prefix("an amount of money") {
        format!("a number{money}")
    } else if expected.is_empty() {
        "a valid value".into()
    } else {
        expected.into()
    }
}

/// serde's `Unexpected` display (`string "5"`, `integer `5``, `floating point `1.5``, …).
fn describe_unexpected(unexpected: &str) -> &'static str {
    let word = unexpected.split([' ', '`', '"']).next().unwrap_or_default();
    match word {
        "string" | "char" => "a string",
        "integer" => "a whole number",
        "floating" => "a number with a fraction",
        "boolean" => "a boolean",
        "null" | "unit" | "Option" => "null",
        "sequence" => "an array",
        "map" => "an object",
        _ => "something else",
    }
}

/// How a JSON value is named in a message.
pub(crate) fn describe_value(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `items[0].quantity`: keys joined with dots, indices in brackets. A key that is not a plain
/// identifier is written as a quoted, shortened JSON string: `["a key"]`.
pub(crate) fn render_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => out = join_key(&out, key),
            // `{"CARD": …}` as an enum: the field is the one to name.
            Segment::Enum { .. } | Segment::Unknown => break,
        }
    }
    out
}

pub(crate) fn join_key(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key.len() <= 64
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$');
    match (plain, path.is_empty()) {
        (true, true) => key.to_owned(),
        (true, false) => format!("{path}.{key}"),
        (false, _) => format!("{path}[{}]", quoted(key, 64)),
    }
}

/// `s` as a JSON string of at most `max` characters (`…` marks a cut).
fn quoted(s: &str, max: usize) -> String {
    let cut: String = s.chars().take(max).collect();
    let ellipsis = if cut.len() < s.len() { "…" } else { "" };
    format!("{}{ellipsis}", Value::String(cut))
}

/// The text between the first pair of backticks.
fn backticked(s: &str) -> Option<String> {
    let start = s.find('`')? + 1;
    let len = s[start..].find('`')?;
    Some(s[start..start + len].to_owned())
}

/// serde_json's message without its ` at line L column C` suffix.
fn bare_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    full.strip_suffix(&suffix).unwrap_or(&full).to_owned()
}

/// A JSON value parsed like `serde_json::Value`, except that a key repeated in one object is
/// an error (`duplicate field `k``).
struct StrictValue(Value);

impl<'de> de::Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StrictValue, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate field `{key}`")));
            }
            let StrictValue(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests;
