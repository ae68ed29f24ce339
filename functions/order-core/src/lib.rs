//! The order system's domain logic, shared by the Lambda handlers. Pure: no I/O, no AWS SDK,
//! no async runtime, no clock and no randomness of its own: "now" and any random number are
//! parameters, so that every rule is deterministic and unit-tested. A handler is thin:
//! event in → these functions → AWS calls → response out.
//!
//! | module | what it decides |
//! |---|---|
//! | [`body`] | Content-Type, size limit, JSON syntax and shape, serde messages rewritten |
//! | [`requests`] | the request bodies of `POST /orders`, `PUT /inventory/{sku}`, `POST /auth/register-business` |
//! | [`query`] | the query strings of `GET /orders` and `GET /inventory` |
//! | [`problem`] | [`ApiProblem`]: status, [`ErrorCode`](infra_model::contract::api::ErrorCode), message; the error body |
//! | [`pricing`] | an order's lines and total from the stored prices |
//! | [`lifecycle`] | which status may follow which; duplicate events |
//! | [`reservation`] | the stock changes of an order; the REJECTED reason |
//! | [`payment`] | the payment mock and its triggers |
//! | [`shipping`] | countries, carriers, tracking numbers, delivery estimates |
//! | [`triggers`] | the e-mail tags that drive the mocks in tests and demos |
//! | [`pagination`] | signed `nextToken`s; the merge of the sharded status index |
//! | [`idempotency`] | `Idempotency-Key`: request hash and replay decision |
//! | [`time`] | RFC 3339 timestamps and calendar dates |
//! | [`text`] | sanitizing text, e-mail addresses, SKUs |
//! | [`ids`] | order ids |

pub mod body;
mod hash;
pub mod idempotency;
pub mod ids;
pub mod lifecycle;
pub mod pagination;
pub mod payment;
pub mod pricing;
pub mod problem;
pub mod query;
pub mod requests;
pub mod reservation;
pub mod shipping;
pub mod text;
pub mod time;
pub mod triggers;

pub use problem::ApiProblem;
