//! Logs and metrics: JSON logs (Lambda's log format and level settings) and business metrics
//! in CloudWatch Embedded Metric Format, written to stdout where Lambda picks them up.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;

/// The metrics namespace: the application's name.
pub const NAMESPACE: &str = infra_model::system::APP;

/// Sets up `tracing` as Lambda's logging settings say (`AWS_LAMBDA_LOG_FORMAT=JSON`,
/// `AWS_LAMBDA_LOG_LEVEL`); each line carries the invocation's request id.
pub fn init_logging() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// A count or duration, in Embedded Metric Format.
pub fn emf_line(metric: &str, value: f64, unit: &str, environment: &str, now_ms: u128) -> String {
    json!({
        "_aws": {
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Environment"]],
                "Metrics": [{"Name": metric, "Unit": unit}],
            }],
        },
        "Environment": environment,
        metric: value,
    })
    .to_string()
}

/// Emits one metric.
pub fn metric(metric: &str, value: f64, unit: &str, environment: &str) {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    println!("{}", emf_line(metric, value, unit, environment, now_ms));
}

/// Counts one business event (`OrdersAccepted`, `OrdersPaid`, ...).
pub fn count(metric_name: &str, environment: &str) {
    metric(metric_name, 1.0, "Count", environment);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_lines_declare_their_metric() {
        let line: serde_json::Value =
            serde_json::from_str(&emf_line("OrdersPaid", 1.0, "Count", "dev", 5)).unwrap();
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "orders");
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "OrdersPaid"
        );
        assert_eq!(line["OrdersPaid"], 1.0);
        assert_eq!(line["Environment"], "dev");
    }
}
