//! The API's routes: method, path, the function that answers, the API key, the request body's
//! type, the typed path, query and header parameters, and what the route answers (its replies
//! by status with their body types, and its error codes). Synthesis turns them into API Gateway
//! methods, the local API of `cargo xtask dev` serves them, the handlers receive the matched
//! one, and the OpenAPI document is written from them.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Value, json};

use super::function::Function;
use crate::contract::api::{ErrorCode, Operation};
use crate::contract::schema::api_gateway_schema;

/// An HTTP method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    pub fn parse(s: &str) -> Option<Method> {
        [
            Method::Get,
            Method::Post,
            Method::Put,
            Method::Patch,
            Method::Delete,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<Method> for &str {
    fn eq(&self, other: &Method) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Method> for serde_json::Value {
    fn eq(&self, other: &Method) -> bool {
        self.as_str() == Some(other.as_str())
    }
}

/// A contract type's JSON Schema inside a document that holds many (the OpenAPI document):
/// named types become a `$ref` to a definition the generator collects.
#[derive(Clone, Copy)]
pub struct TypeSchema {
    name: fn() -> Cow<'static, str>,
    subschema: fn(&mut SchemaGenerator) -> Schema,
}

impl TypeSchema {
    pub const fn of<T: JsonSchema>() -> TypeSchema {
        TypeSchema {
            name: T::schema_name,
            subschema: SchemaGenerator::subschema_for::<T>,
        }
    }

    /// The type's schema name (`OrderView`).
    pub fn name(&self) -> Cow<'static, str> {
        (self.name)()
    }

    /// The type's schema in `generator`: a `$ref` for a named type, whose definition (and those
    /// of the types it uses) the generator then holds.
    pub fn subschema(&self, generator: &mut SchemaGenerator) -> Schema {
        (self.subschema)(generator)
    }
}

impl PartialEq for TypeSchema {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl fmt::Debug for TypeSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TypeSchema({})", self.name())
    }
}

/// A request body's type, as an API Gateway model.
#[derive(Clone, Copy, Debug)]
pub struct Body {
    /// The model name (letters and digits).
    pub name: &'static str,
    pub description: &'static str,
    /// The draft-4 JSON Schema of the type, generated from it.
    pub schema: fn() -> Value,
    /// The same type, for the OpenAPI document.
    pub typed: TypeSchema,
}

impl Body {
    /// The body of type `T`: its API Gateway model and its OpenAPI schema, both from `T`.
    pub const fn of<T: JsonSchema>(name: &'static str, description: &'static str) -> Body {
        Body {
            name,
            description,
            schema: api_gateway_schema::<T>,
            typed: TypeSchema::of::<T>(),
        }
    }
}

impl PartialEq for Body {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// What a query, path or header parameter may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamSchema {
    /// A string of `min_length..=max_length` characters, matching `pattern` when given.
    Text {
        min_length: u32,
        max_length: u32,
        pattern: Option<&'static str>,
    },
    /// A whole number in `min..=max`.
    Integer { min: i64, max: i64 },
    /// One of these values.
    OneOf(&'static [&'static str]),
}

impl ParamSchema {
    /// As a JSON Schema (2020-12; every keyword here is also draft 4).
    pub fn json_schema(&self) -> Value {
        match *self {
            ParamSchema::Text {
                min_length,
                max_length,
                pattern,
            } => {
                let mut s = json!({"type": "string", "minLength": min_length, "maxLength": max_length});
                if let Some(p) = pattern {
                    s["pattern"] = json!(p);
                }
                s
            }
            ParamSchema::Integer { min, max } => json!({"type": "integer", "minimum": min, "maximum": max}),
            ParamSchema::OneOf(values) => json!({"type": "string", "enum": values}),
        }
    }
}

/// A query string, path or header parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub description: &'static str,
    pub schema: ParamSchema,
}

/// Where a parameter is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ParamIn {
    /// A `{param}` segment of the path: always required.
    Path,
    /// The query string: optional.
    Query,
    /// A request header: optional.
    Header,
}

impl ParamIn {
    /// The OpenAPI name of the location.
    pub const fn as_str(self) -> &'static str {
        match self {
            ParamIn::Path => "path",
            ParamIn::Query => "query",
            ParamIn::Header => "header",
        }
    }

    /// Whether a request must carry it.
    pub const fn required(self) -> bool {
        matches!(self, ParamIn::Path)
    }

    /// The code of the error a value that breaks the parameter's rule gets: `INVALID_QUERY`
    /// for the query string, `VALIDATION_FAILED` for a path segment or a header (the field is
    /// named in the message either way).
    pub const fn error_code(self) -> ErrorCode {
        match self {
            ParamIn::Query => ErrorCode::InvalidQuery,
            ParamIn::Path | ParamIn::Header => ErrorCode::ValidationFailed,
        }
    }
}

/// An answer a route gives when it has done what was asked, or one it gives in its own body
/// rather than in the error format (`GET /health/detailed`'s 503).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub description: &'static str,
    pub body: TypeSchema,
}

/// One error status a route can answer with, and the error codes its body can carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorReply {
    pub status: u16,
    /// In the order of [`ErrorCode::ALL`].
    pub codes: Vec<ErrorCode>,
}

/// The errors every route can answer with: throttling (the stage's and the usage plan's),
/// a bug, and a dependency that does not answer.
pub const EVERY_ROUTE_ERRORS: [ErrorCode; 3] = [
    ErrorCode::TooManyRequests,
    ErrorCode::InternalError,
    ErrorCode::ServiceUnavailable,
];

/// The errors of a route with a request body: not JSON or not an object, a broken rule, too
/// large, not `application/json`.
pub const BODY_ERRORS: [ErrorCode; 4] = [
    ErrorCode::MalformedJson,
    ErrorCode::ValidationFailed,
    ErrorCode::PayloadTooLarge,
    ErrorCode::UnsupportedMediaType,
];

/// One method on one path.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Route {
    pub operation: Operation,
    pub method: Method,
    /// The path, with `{param}` segments.
    pub path: &'static str,
    pub function: &'static Function,
    /// Whether the caller needs the API key (`x-api-key`).
    pub api_key: bool,
    pub body: Option<&'static Body>,
    /// The path's `{param}` segments, in order, with their schemas.
    pub path_params: &'static [&'static Param],
    /// The query string parameters the route reads (all optional).
    pub query: &'static [&'static Param],
    /// The request headers the route reads (all optional), beyond the API key.
    pub headers: &'static [&'static Param],
    /// What the route does, in one line (the OpenAPI summary).
    pub summary: &'static str,
    /// What it answers when it works, by status.
    pub replies: &'static [Reply],
    /// Its own errors, beyond those that follow from the declaration (see [`Route::errors`]):
    /// `NOT_FOUND` for an unknown id, `CONFLICT`, ...
    pub errors: &'static [ErrorCode],
}

impl Route {
    /// The names of the path's `{param}` segments (`/orders/{orderId}` → `orderId`).
    pub fn path_param_names(&self) -> Vec<&'static str> {
        path_params(self.path)
    }

    /// Every parameter with where it is sent: path, then query, then headers.
    pub fn params(&self) -> impl Iterator<Item = (ParamIn, &'static Param)> + '_ {
        let at =
            |location: ParamIn, params: &'static [&'static Param]| params.iter().map(move |p| (location, *p));
        at(ParamIn::Path, self.path_params)
            .chain(at(ParamIn::Query, self.query))
            .chain(at(ParamIn::Header, self.headers))
    }

    /// Every error code the route can answer with: those of every route
    /// ([`EVERY_ROUTE_ERRORS`]), `FORBIDDEN` with the API key, [`BODY_ERRORS`] with a body, the
    /// code of each parameter location it reads ([`ParamIn::error_code`]) and its own
    /// [`Route::errors`]; once each, in the order of [`ErrorCode::ALL`].
    pub fn error_codes(&self) -> Vec<ErrorCode> {
        let mut codes: Vec<ErrorCode> = EVERY_ROUTE_ERRORS.to_vec();
        if self.api_key {
            codes.push(ErrorCode::Forbidden);
        }
        if self.body.is_some() {
            codes.extend(BODY_ERRORS);
        }
        codes.extend(self.params().map(|(location, _)| location.error_code()));
        codes.extend(self.errors);
        ErrorCode::ALL.into_iter().filter(|c| codes.contains(c)).collect()
    }

    /// [`Route::error_codes`] by status ([`ErrorCode::status`]), statuses ascending.
    pub fn error_replies(&self) -> Vec<ErrorReply> {
        let mut replies: Vec<ErrorReply> = Vec::new();
        for code in self.error_codes() {
            match replies.iter_mut().find(|r| r.status == code.status()) {
                Some(r) => r.codes.push(code),
                None => replies.push(ErrorReply {
                    status: code.status(),
                    codes: vec![code],
                }),
            }
        }
        replies.sort_by_key(|r| r.status);
        replies
    }
}

/// The parameters of a path (`{orderId}` → `orderId`).
pub fn path_params(path: &'static str) -> Vec<&'static str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::api::{ROUTES, route_of};

    fn codes(method: &str, path: &str) -> Vec<&'static str> {
        route_of(method, path)
            .unwrap()
            .error_codes()
            .iter()
            .map(|c| c.as_str())
            .collect()
    }

    #[test]
    fn error_codes_follow_from_the_declaration() {
        // Public, no parameters: what every route can meet.
        assert_eq!(
            codes("GET", "/health"),
            ["TOO_MANY_REQUESTS", "SERVICE_UNAVAILABLE", "INTERNAL_ERROR"]
        );
        // A body, the key, a header and its own refusals.
        assert_eq!(
            codes("POST", "/orders"),
            [
                "MALFORMED_JSON",
                "UNSUPPORTED_MEDIA_TYPE",
                "PAYLOAD_TOO_LARGE",
                "VALIDATION_FAILED",
                "FORBIDDEN",
                "CONFLICT",
                "IDEMPOTENCY_KEY_REUSED",
                "BUSINESS_RULE",
                "TOO_MANY_REQUESTS",
                "SERVICE_UNAVAILABLE",
                "INTERNAL_ERROR"
            ]
        );
        // The query string's code, and a path parameter's.
        assert!(codes("GET", "/orders").contains(&"INVALID_QUERY"));
        assert!(!codes("GET", "/orders").contains(&"VALIDATION_FAILED"));
        assert!(codes("GET", "/orders/{orderId}").contains(&"VALIDATION_FAILED"));
        assert!(codes("GET", "/orders/{orderId}").contains(&"NOT_FOUND"));
        assert!(codes("POST", "/auth/register-business").contains(&"CONFLICT"));
        assert!(!codes("POST", "/auth/register-business").contains(&"FORBIDDEN"));
    }

    #[test]
    fn error_replies_group_codes_by_status() {
        let r = route_of("POST", "/orders").unwrap().error_replies();
        let statuses: Vec<u16> = r.iter().map(|e| e.status).collect();
        assert_eq!(statuses, [400, 403, 409, 413, 415, 422, 429, 500, 503]);
        assert_eq!(
            r[0].codes,
            [ErrorCode::MalformedJson, ErrorCode::ValidationFailed]
        );
        for route in ROUTES {
            for e in route.error_replies() {
                assert!(e.codes.iter().all(|c| c.status() == e.status), "{}", route.path);
            }
        }
    }

    #[test]
    fn parameters_are_listed_by_location() {
        let r = route_of("POST", "/orders").unwrap();
        let p: Vec<(ParamIn, &str)> = r.params().map(|(l, p)| (l, p.name)).collect();
        assert_eq!(p, [(ParamIn::Header, "Idempotency-Key")]);
        let r = route_of("PUT", "/inventory/{sku}").unwrap();
        assert_eq!(
            r.params().next().map(|(l, p)| (l, p.name)),
            Some((ParamIn::Path, "sku"))
        );
        assert!(ParamIn::Path.required() && !ParamIn::Query.required() && !ParamIn::Header.required());
    }

    #[test]
    fn parameter_schemas_as_json_schema() {
        assert_eq!(
            ParamSchema::Integer { min: 1, max: 100 }.json_schema(),
            json!({"type": "integer", "minimum": 1, "maximum": 100})
        );
        assert_eq!(
            ParamSchema::OneOf(&["asc", "desc"]).json_schema(),
            json!({"type": "string", "enum": ["asc", "desc"]})
        );
        assert_eq!(
            ParamSchema::Text {
                min_length: 1,
                max_length: 5,
                pattern: None
            }
            .json_schema(),
            json!({"type": "string", "minLength": 1, "maxLength": 5})
        );
        let with_pattern = ParamSchema::Text {
            min_length: 0,
            max_length: 9,
            pattern: Some("^a$"),
        };
        assert_eq!(with_pattern.json_schema()["pattern"], "^a$");
    }

    #[test]
    fn a_body_carries_both_schemas_of_its_type() {
        let b = route_of("POST", "/orders").unwrap().body.unwrap();
        assert_eq!(b.typed.name(), b.name);
        assert_eq!((b.schema)()["$schema"], "http://json-schema.org/draft-04/schema#");
        let mut generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
        let s = b.typed.subschema(&mut generator);
        assert_eq!(
            s.get("$ref").and_then(Value::as_str),
            Some("#/$defs/CreateOrderRequest")
        );
        assert!(generator.definitions().contains_key("OrderItemRequest"));
    }
}
