//! The API's routes: method, path, the function that answers, the API key, the request body's
//! type and the typed query and path parameters. Synthesis turns them into API Gateway
//! methods, the local API of `cargo xtask dev` serves them, the handlers receive the matched
//! one, and the OpenAPI document is written from them.

use std::fmt;

use serde_json::Value;

use super::function::Function;
use crate::contract::api::Operation;

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

/// A request body's type, as an API Gateway model.
#[derive(Clone, Copy, Debug)]
pub struct Body {
    /// The model name (letters and digits).
    pub name: &'static str,
    pub description: &'static str,
    /// The draft-4 JSON Schema of the type, generated from it.
    pub schema: fn() -> Value,
}

impl PartialEq for Body {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// What a query or path parameter may be.
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

/// A query string or path parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub description: &'static str,
    pub schema: ParamSchema,
}

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
}

impl Route {
    /// The names of the path's `{param}` segments (`/orders/{orderId}` → `orderId`).
    pub fn path_param_names(&self) -> Vec<&'static str> {
        path_params(self.path)
    }
}

/// The parameters of a path (`{orderId}` → `orderId`).
pub fn path_params(path: &'static str) -> Vec<&'static str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}
