//! The business metrics the functions emit (CloudWatch Embedded Metric Format, namespace
//! [`crate::system::APP`], dimension `Environment`) and the dashboard charts.

/// A metric's unit, as CloudWatch names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    pub const fn name(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// A business metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    OrdersAccepted,
    OrdersRejected,
    OrdersPaid,
    OrdersShipped,
    OrdersFailed,
    /// How long taking a payment took.
    PaymentLatency,
}

impl Metric {
    pub const ALL: [Metric; 6] = [
        Metric::OrdersAccepted,
        Metric::OrdersRejected,
        Metric::OrdersPaid,
        Metric::OrdersShipped,
        Metric::OrdersFailed,
        Metric::PaymentLatency,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Metric::OrdersAccepted => "OrdersAccepted",
            Metric::OrdersRejected => "OrdersRejected",
            Metric::OrdersPaid => "OrdersPaid",
            Metric::OrdersShipped => "OrdersShipped",
            Metric::OrdersFailed => "OrdersFailed",
            Metric::PaymentLatency => "PaymentLatency",
        }
    }

    pub const fn unit(self) -> Unit {
        match self {
            Metric::PaymentLatency => Unit::Milliseconds,
            _ => Unit::Count,
        }
    }
}
