//! `AWS::CloudWatch::Alarm` and `AWS::CloudWatch::Dashboard`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::cfn::{Expr, Resource};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    GreaterThanOrEqualToThreshold,
    GreaterThanThreshold,
    LessThanThreshold,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Statistic {
    Sum,
    Maximum,
    Average,
}

/// A metric alarm. Missing data counts as "not breaching": a quiet system is a healthy one.
#[derive(Clone, Debug, PartialEq)]
pub struct Alarm {
    pub name: Expr,
    pub description: String,
    pub namespace: &'static str,
    pub metric: &'static str,
    pub dimensions: Vec<(&'static str, Expr)>,
    pub statistic: Statistic,
    pub period: Duration,
    pub evaluation_periods: u32,
    pub threshold: f64,
    pub comparison: Comparison,
    pub actions: Vec<Expr>,
}

impl Resource for Alarm {
    const TYPE: &'static str = "AWS::CloudWatch::Alarm";
    fn properties(&self) -> Value {
        let dims: Vec<Value> = self
            .dimensions
            .iter()
            .map(|(n, v)| json!({"Name": n, "Value": v}))
            .collect();
        json!({
            "AlarmName": self.name,
            "AlarmDescription": self.description,
            "Namespace": self.namespace,
            "MetricName": self.metric,
            "Dimensions": dims,
            "Statistic": format!("{:?}", self.statistic),
            "Period": self.period.as_secs(),
            "EvaluationPeriods": self.evaluation_periods,
            "Threshold": self.threshold,
            "ComparisonOperator": format!("{:?}", self.comparison),
            "TreatMissingData": "notBreaching",
            "AlarmActions": self.actions,
            "OKActions": self.actions,
        })
    }
}

/// A dashboard; the body is JSON whose `${Name}` placeholders are filled by `Fn::Sub`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dashboard {
    pub name: Expr,
    pub body: Expr,
}

impl Resource for Dashboard {
    const TYPE: &'static str = "AWS::CloudWatch::Dashboard";
    fn properties(&self) -> Value {
        json!({"DashboardName": self.name, "DashboardBody": self.body})
    }
}
