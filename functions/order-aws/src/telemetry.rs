//! Logs and metrics: JSON logs (Lambda's log format and level settings) and business metrics
//! in CloudWatch Embedded Metric Format, written to stdout where Lambda picks them up.

use std::time::{SystemTime, UNIX_EPOCH};

use infra_model::contract::metrics::Metric;
use serde_json::json;

/// The metrics namespace: the application's name.
pub const NAMESPACE: &str = infra_model::system::APP;

/// Sets up `tracing` as Lambda's logging settings say (`AWS_LAMBDA_LOG_FORMAT=JSON`,
/// `AWS_LAMBDA_LOG_LEVEL`); each line carries the invocation's request id.
pub fn init_logging() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// A count or duration, in Embedded Metric Format.
pub fn emf_line(metric: Metric, value: f64, environment: &str, now_ms: u128) -> String {
    let (name, unit) = (metric.name(), metric.unit().name());
    json!({
        "_aws": {
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Environment"]],
                "Metrics": [{"Name": name, "Unit": unit}],
            }],
        },
        "Environment": environment,
        name: value,
    })
    .to_string()
}

/// Emits one metric.
pub fn metric(metric: Metric, value: f64, environment: &str) {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    println!("{}", emf_line(metric, value, environment, now_ms));
}

/// Counts one business event (`OrdersAccepted`, `OrdersPaid`, ...).
pub fn count(metric: Metric, environment: &str) {
    self::metric(metric, 1.0, environment);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_lines_declare_their_metric() {
        let line: serde_json::Value =
            serde_json::from_str(&emf_line(Metric::OrdersPaid, 1.0, "dev", 5)).unwrap();
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "orders");
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "OrdersPaid"
        );
        assert_eq!(line["OrdersPaid"], 1.0);
        assert_eq!(line["Environment"], "dev");
    }
}
