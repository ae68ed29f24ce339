//! API problems: what the client did wrong (or what went wrong for it), as a status code, a
//! stable [`ErrorCode`] and a message that names the field and the rule. Every handler turns an
//! [`ApiProblem`] into the same JSON body, [`ApiError`].

use infra_model::contract::api::{ApiError, ErrorCode};

/// An API error before it becomes a response: `status` is the HTTP status code,
/// [`ErrorCode::status`] unless a caller had a reason to choose another.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status} {}: {message}", .code.as_str())]
pub struct ApiProblem {
    pub status: u16,
    pub code: ErrorCode,
    pub message: String,
}

impl ApiProblem {
    /// A problem with the status code of its error code.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiProblem {
        ApiProblem {
            status: code.status(),
            code,
            message: message.into(),
        }
    }

    /// `Missing required field: <path>` (400 `VALIDATION_FAILED`).
    pub fn missing_field(path: &str) -> ApiProblem {
        ApiProblem::new(
            ErrorCode::ValidationFailed,
            format!("Missing required field: {path}"),
        )
    }

    /// `Invalid field <path>: <rule>` (400 `VALIDATION_FAILED`).
    pub fn invalid_field(path: &str, rule: impl std::fmt::Display) -> ApiProblem {
        ApiProblem::new(
            ErrorCode::ValidationFailed,
            format!("Invalid field {path}: {rule}"),
        )
    }

    /// `Unknown field: <path>` (400 `VALIDATION_FAILED`).
    pub fn unknown_field(path: &str) -> ApiProblem {
        ApiProblem::new(ErrorCode::ValidationFailed, format!("Unknown field: {path}"))
    }

    /// `Invalid field <parameter>: <rule>` for a query parameter (400 `INVALID_QUERY`).
    pub fn invalid_query(parameter: &str, rule: impl std::fmt::Display) -> ApiProblem {
        ApiProblem::new(
            ErrorCode::InvalidQuery,
            format!("Invalid field {parameter}: {rule}"),
        )
    }

    /// 404 `NOT_FOUND`, e.g. `not_found("Order", "abc")` → `Order not found: abc`.
    pub fn not_found(what: &str, id: &str) -> ApiProblem {
        ApiProblem::new(ErrorCode::NotFound, format!("{what} not found: {id}"))
    }

    /// 422 `BUSINESS_RULE`: the field is well formed, but a business rule refuses it.
    pub fn business_rule(path: &str, rule: impl std::fmt::Display) -> ApiProblem {
        ApiProblem::new(ErrorCode::BusinessRule, format!("Refused field {path}: {rule}"))
    }

    /// 500 `INTERNAL_ERROR`, with a message that gives nothing away. Log the cause instead.
    pub fn internal() -> ApiProblem {
        ApiProblem::new(
            ErrorCode::InternalError,
            "Internal error: quote the requestId when you report it",
        )
    }

    /// 503 `SERVICE_UNAVAILABLE`: a dependency did not answer.
    pub fn unavailable(dependency: &str) -> ApiProblem {
        ApiProblem::new(
            ErrorCode::ServiceUnavailable,
            format!("{dependency} is not available: retry later"),
        )
    }

    /// The response body's value.
    pub fn to_api_error(&self, request_id: &str) -> ApiError {
        ApiError {
            code: self.code,
            message: self.message.clone(),
            request_id: request_id.to_owned(),
        }
    }

    /// The response body: `{"code":"…","message":"…","requestId":"…"}`.
    pub fn to_body(&self, request_id: &str) -> String {
        let body = serde_json::json!({
            "code": self.code.as_str(),
            "message": self.message,
            "requestId": request_id,
        });
        body.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_status() {
        let got: Vec<(u16, &str)> = ErrorCode::ALL.iter().map(|c| (c.status(), c.as_str())).collect();
        assert_eq!(
            got,
            [
                (400, "MALFORMED_JSON"),
                (415, "UNSUPPORTED_MEDIA_TYPE"),
                (413, "PAYLOAD_TOO_LARGE"),
                (400, "VALIDATION_FAILED"),
                (400, "INVALID_QUERY"),
                (403, "FORBIDDEN"),
                (404, "NOT_FOUND"),
                (405, "METHOD_NOT_ALLOWED"),
                (409, "CONFLICT"),
                (422, "IDEMPOTENCY_KEY_REUSED"),
                (422, "INVALID_TOKEN"),
                (422, "BUSINESS_RULE"),
                (429, "TOO_MANY_REQUESTS"),
                (503, "SERVICE_UNAVAILABLE"),
                (500, "INTERNAL_ERROR"),
            ]
        );
    }

    #[test]
    fn body_is_the_contract_api_error() {
        let p = ApiProblem::missing_field("customerEmail");
        assert_eq!(p.status, 400);
        assert_eq!(p.code, ErrorCode::ValidationFailed);
        let body = p.to_body("req-1");
        assert_eq!(
            body,
            r#"{"code":"VALIDATION_FAILED","message":"Missing required field: customerEmail","requestId":"req-1"}"#
        );
        let back: ApiError = serde_json::from_str(&body).unwrap();
        assert_eq!(back, p.to_api_error("req-1"));
    }

    #[test]
    fn messages_with_quotes_are_escaped() {
        let p = ApiProblem::invalid_field("a", "must not contain \"quotes\"\n");
        let v: serde_json::Value = serde_json::from_str(&p.to_body("r")).unwrap();
        assert_eq!(v["message"], "Invalid field a: must not contain \"quotes\"\n");
    }

    #[test]
    fn constructors_choose_code_and_text() {
        assert_eq!(
            ApiProblem::invalid_query("limit", "must be an integer between 1 and 100"),
            ApiProblem {
                status: 400,
                code: ErrorCode::InvalidQuery,
                message: "Invalid field limit: must be an integer between 1 and 100".into()
            }
        );
        assert_eq!(
            ApiProblem::unknown_field("items[0].foo").message,
            "Unknown field: items[0].foo"
        );
        assert_eq!(ApiProblem::not_found("Order", "o-1").status, 404);
        assert_eq!(ApiProblem::internal().status, 500);
        assert_eq!(ApiProblem::unavailable("Inventory").status, 503);
        assert_eq!(
            ApiProblem::missing_field("x").to_string(),
            "400 VALIDATION_FAILED: Missing required field: x"
        );
    }
}
