//! Declarations: the typed values a serverless system is made of, in the spirit of CDK's
//! constructs but as plain data. A table, queue, topic, secret, workflow, function or route is
//! declared once, as a `static`, with safe defaults; synthesis ([`crate::system`]), the local
//! cloud of `cargo xtask dev`, the handlers and the tests all read that value, never a copy of
//! it and never the synthesized JSON.
//!
//! - [`data`]: tables (keys, indexes, stream, TTL, record type), queues (message type, dead
//!   letters), topics (message type, KMS key), secrets, workflows;
//! - [`function`]: functions (crate, trigger, bindings, configuration, sizing per environment),
//!   generic triggers (a table's stream with a filter, a queue, a workflow task, the API) and
//!   the typed bindings the handler reads back at start-up;
//! - [`route`]: the API's routes (method, path, function, body, typed parameters, key).
//!
//! Names that follow from a declaration are derived, not written again: the environment
//! variable of a binding (`OrdersTable` → `ORDERS_TABLE_NAME`), the stack output of a resource
//! (`OrdersTableName`), the workflow's substitution of a task function (`PaymentFunctionArn`).

pub mod data;
pub mod function;
pub mod route;

pub use data::{
    DeadLetter, Index, IndexProjection, Lifecycle, Queue, QueueKind, QueueSpec, Secret, Table, TableSpec,
    Target, Topic, TopicSpec, Workflow, WorkflowSpec,
};
pub use function::{
    Access, Bind, Binding, BindingError, BoundValue, Config, Function, FunctionBindings, QueueTrigger,
    QueueUrl, SecretArn, Sizing, StateMachineArn, StreamEvent, StreamFilter, StreamTrigger, TableName,
    TopicArn, Trigger,
};
pub use route::{Body, ErrorReply, Method, Param, ParamIn, ParamSchema, Reply, Route, TypeSchema};

/// String equality usable in constants: the compile-time check that a handler crate reads its
/// own function's bindings ([`crate::bindings!`]).
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `OrdersTable` → `ORDERS_TABLE`: a logical id as the stem of an environment variable.
pub fn screaming_snake(id: &str) -> String {
    let mut out = String::with_capacity(id.len() + 4);
    for (i, c) in id.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_variable_stems() {
        assert_eq!(screaming_snake("OrdersTable"), "ORDERS_TABLE");
        assert_eq!(screaming_snake("PaginationKeySecret"), "PAGINATION_KEY_SECRET");
        assert_eq!(screaming_snake("Api"), "API");
    }

    #[test]
    fn const_string_equality() {
        const { assert!(str_eq("payment", "payment")) };
        assert!(!str_eq("payment", "payments"));
        assert!(!str_eq("payment", "shipment"));
        assert!(str_eq("", ""));
    }
}
