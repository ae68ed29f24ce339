//! The deployment environments and the settings in which they differ.

use std::fmt;
use std::str::FromStr;

use crate::aws::apigateway::Throttle;

/// A deployment environment. Each is its own stack, `<app>-<env>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Env {
    Dev,
    Staging,
    Prod,
}

impl Env {
    pub const ALL: [Env; 3] = [Env::Dev, Env::Staging, Env::Prod];

    pub fn name(self) -> &'static str {
        match self {
            Env::Dev => "dev",
            Env::Staging => "staging",
            Env::Prod => "prod",
        }
    }

    /// Position in [`Env::ALL`], for per-environment tables.
    pub fn index(self) -> usize {
        match self {
            Env::Dev => 0,
            Env::Staging => 1,
            Env::Prod => 2,
        }
    }

    /// The settings of this environment.
    pub fn settings(self) -> Settings {
        match self {
            Env::Dev => Settings {
                point_in_time_recovery: false,
                retain_data: false,
                log_retention_days: 7,
                cors: Cors::AnyOrigin,
                stage_throttle: Throttle {
                    rate_per_second: 20,
                    burst: 40,
                },
                usage_plan: UsagePlanSettings {
                    throttle: Throttle {
                        rate_per_second: 10,
                        burst: 20,
                    },
                    daily_quota: 1_000,
                },
                reserve_concurrency: false,
                alarms: AlarmSettings {
                    function_errors_per_5_minutes: 10,
                    api_5xx_per_5_minutes: 10,
                    stream_iterator_age_ms: 300_000,
                },
                payment_failures: FailureRates::NONE,
            },
            Env::Staging => Settings {
                point_in_time_recovery: true,
                retain_data: false,
                log_retention_days: 30,
                cors: Cors::Origins(vec!["https://staging.orders.example.com".into()]),
                stage_throttle: Throttle {
                    rate_per_second: 50,
                    burst: 100,
                },
                usage_plan: UsagePlanSettings {
                    throttle: Throttle {
                        rate_per_second: 25,
                        burst: 50,
                    },
                    daily_quota: 5_000,
                },
                reserve_concurrency: true,
                alarms: AlarmSettings {
                    function_errors_per_5_minutes: 5,
                    api_5xx_per_5_minutes: 5,
                    stream_iterator_age_ms: 120_000,
                },
                payment_failures: FailureRates::NONE,
            },
            // Seed 003: 50 requests/s, bursts of 100, 10,000 a day; 5 errors in 5 minutes.
            Env::Prod => Settings {
                point_in_time_recovery: true,
                retain_data: true,
                log_retention_days: 365,
                cors: Cors::Origins(vec![
                    "https://orders.example.com".into(),
                    "https://admin.orders.example.com".into(),
                ]),
                stage_throttle: Throttle {
                    rate_per_second: 100,
                    burst: 200,
                },
                usage_plan: UsagePlanSettings {
                    throttle: Throttle {
                        rate_per_second: 50,
                        burst: 100,
                    },
                    daily_quota: 10_000,
                },
                reserve_concurrency: true,
                alarms: AlarmSettings {
                    function_errors_per_5_minutes: 5,
                    api_5xx_per_5_minutes: 5,
                    stream_iterator_age_ms: 60_000,
                },
                payment_failures: FailureRates::NONE,
            },
        }
    }
}

impl fmt::Display for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An environment name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown environment {0:?}: expected one of dev, staging, prod")]
pub struct UnknownEnv(pub String);

impl FromStr for Env {
    type Err = UnknownEnv;
    fn from_str(s: &str) -> Result<Env, UnknownEnv> {
        Env::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| UnknownEnv(s.to_owned()))
    }
}

/// Which browser origins may call the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cors {
    /// Any origin (`*`): for development only.
    AnyOrigin,
    /// Exactly these origins; the API echoes the request's origin when it is one of them.
    Origins(Vec<String>),
}

impl Cors {
    /// The allowed origins as the handlers' configuration reads them (`*` or a comma list).
    pub fn to_config(&self) -> String {
        match self {
            Cors::AnyOrigin => "*".into(),
            Cors::Origins(o) => o.join(","),
        }
    }

    pub fn origins(&self) -> Vec<String> {
        match self {
            Cors::AnyOrigin => vec!["*".into()],
            Cors::Origins(o) => o.clone(),
        }
    }
}

/// The API key's usage plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsagePlanSettings {
    pub throttle: Throttle,
    pub daily_quota: u32,
}

/// When alarms fire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlarmSettings {
    pub function_errors_per_5_minutes: u32,
    pub api_5xx_per_5_minutes: u32,
    pub stream_iterator_age_ms: u32,
}

/// Random failures of the mock payment gateway, in percent (for chaos testing; zero by
/// default everywhere). The deterministic triggers work regardless (see the README).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailureRates {
    pub decline_percent: u8,
    pub unavailable_percent: u8,
}

impl FailureRates {
    pub const NONE: FailureRates = FailureRates {
        decline_percent: 0,
        unavailable_percent: 0,
    };
}

/// What differs between environments. Everything else is the same in all of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Point-in-time recovery on the tables.
    pub point_in_time_recovery: bool,
    /// Keep tables' and queues' data when the stack deletes or replaces them, and protect the
    /// tables against deletion.
    pub retain_data: bool,
    /// How long function, workflow and API logs are kept.
    pub log_retention_days: u32,
    pub cors: Cors,
    /// The stage's own limit, for all callers together.
    pub stage_throttle: Throttle,
    pub usage_plan: UsagePlanSettings,
    /// Reserve concurrency for each function (off in dev: new AWS accounts often have a
    /// concurrency limit of 10, below what reservations need).
    pub reserve_concurrency: bool,
    pub alarms: AlarmSettings,
    pub payment_failures: FailureRates,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::logs::RETENTION_DAYS;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for env in Env::ALL {
            assert_eq!(env.name().parse::<Env>().unwrap(), env);
            assert_eq!(Env::ALL[env.index()], env);
        }
        let err = "production".parse::<Env>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown environment \"production\": expected one of dev, staging, prod"
        );
    }

    #[test]
    fn prod_keeps_its_data_and_dev_does_not() {
        assert!(Env::Prod.settings().point_in_time_recovery && Env::Prod.settings().retain_data);
        assert!(!Env::Dev.settings().point_in_time_recovery && !Env::Dev.settings().retain_data);
    }

    #[test]
    fn every_environment_uses_valid_values() {
        for env in Env::ALL {
            let s = env.settings();
            assert!(RETENTION_DAYS.contains(&s.log_retention_days), "{env}");
            assert!(
                s.usage_plan.throttle.rate_per_second <= s.stage_throttle.rate_per_second,
                "{env}"
            );
            assert!(
                s.usage_plan.throttle.burst >= s.usage_plan.throttle.rate_per_second,
                "{env}"
            );
        }
        assert_eq!(
            Env::Prod.settings().usage_plan.throttle,
            Throttle {
                rate_per_second: 50,
                burst: 100
            }
        );
        assert_eq!(Env::Prod.settings().usage_plan.daily_quota, 10_000);
        assert_eq!(Env::Dev.settings().cors, Cors::AnyOrigin);
        assert!(
            matches!(Env::Prod.settings().cors, Cors::Origins(ref o) if o.iter().all(|o| o.starts_with("https://")))
        );
    }
}
