//! The deployment environments and the settings in which they differ.

use std::fmt;
use std::str::FromStr;

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

    /// The settings of this environment.
    pub fn settings(self) -> Settings {
        match self {
            Env::Dev => Settings {
                point_in_time_recovery: false,
                retain_data: false,
                log_retention_days: 7,
            },
            Env::Staging => Settings {
                point_in_time_recovery: true,
                retain_data: false,
                log_retention_days: 30,
            },
            Env::Prod => Settings {
                point_in_time_recovery: true,
                retain_data: true,
                log_retention_days: 365,
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

/// What differs between environments. Everything else is the same in all of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Point-in-time recovery on the tables.
    pub point_in_time_recovery: bool,
    /// Keep tables and queues' data when the stack deletes or replaces them.
    pub retain_data: bool,
    /// How long function and API logs are kept.
    pub log_retention_days: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for env in Env::ALL {
            assert_eq!(env.name().parse::<Env>().unwrap(), env);
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
}
