//! Plumbing shared by the API functions: problems as responses, new ids, the clock.

use lambda_http::{Body, Response};
use order_core::ApiProblem;

use crate::http::{ApiRequest, CorsPolicy, error};

/// A problem as the API's error response.
pub fn problem(req: &ApiRequest, cors: &CorsPolicy, p: &ApiProblem) -> Response<Body> {
    error(
        p.status,
        p.code,
        p.message.clone(),
        &req.request_id,
        cors,
        req.origin.as_deref(),
    )
}

/// A store or service failure as a 503 (retryable) or 500, logged with its detail; the client
/// sees no internals.
pub fn failure(req: &ApiRequest, cors: &CorsPolicy, what: &str, e: &crate::StoreError) -> Response<Body> {
    tracing::error!(error = %e, "{what} failed");
    let p = match e {
        crate::StoreError::Service { retryable: true, .. } => ApiProblem::unavailable(what),
        _ => ApiProblem::internal(),
    };
    problem(req, cors, &p)
}

/// A new random id (UUID v4).
pub fn new_id() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for a new id: {e}"))?;
    Ok(order_core::ids::uuid_v4(bytes))
}
