//! `--faults`: what the local cloud injects while orders flow (`cargo xtask dev --faults`,
//! `cargo xtask soak --faults`, the fault tests). Parsed here, in the light binary, so a
//! mistyped spec is refused before anything heavy compiles; `xtask_ops::dev::faults` injects it.
//!
//! A spec is a comma-separated list of `name=value` (or `all`, every fault at a moderate rate):
//!
//! | name | value | what happens |
//! |---|---|---|
//! | `kill` | interval | a pipeline function's sandbox is SIGKILLed (mid-invocation or idle), and every other time its replacement while it starts |
//! | `kill-api` | interval | the same for the API's functions |
//! | `hang` | interval | a busy pipeline sandbox is frozen (SIGSTOP): the invocation runs into the function's timeout |
//! | `aws-errors` | share (`10%`) | the functions' AWS requests answered with a throttling error or a 5xx, as the service answers them |
//! | `aws-stall` | share, `:stall` (`5%:3s`) | the functions' AWS requests held that long before they go through |
//! | `outage` | `on/off` (`10s/20s`) | the AWS faults are on for `on`, then off for `off`, repeating (default: always on) |
//! | `duplicates` | share | queue and stream batches and workflow tasks delivered a second time |
//! | `poison` | interval | a message no consumer can read into the order-events queue, and an order record reserve-stock cannot read into the orders stream |

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The faults to inject; [`FaultSpec::default`] injects none.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultSpec {
    pub kill: Option<Duration>,
    pub kill_api: Option<Duration>,
    pub hang: Option<Duration>,
    /// The share of the functions' AWS requests answered with an error, in `[0, 1]`.
    pub aws_errors: f64,
    /// The share held for [`FaultSpec::stall_for`] before they go through.
    pub aws_stall: f64,
    pub stall_for: Duration,
    /// The AWS faults' duty cycle: on, then off; `None`: always on.
    pub outage: Option<(Duration, Duration)>,
    pub duplicates: f64,
    pub poison: Option<Duration>,
}

/// `all`: every fault, at rates an order flow survives in minutes.
pub const ALL: &str =
    "kill=3s,kill-api=10s,hang=20s,aws-errors=10%,aws-stall=3%:2s,outage=10s/20s,duplicates=10%,poison=15s";

/// How long a stalled request is held when the spec does not say.
pub const DEFAULT_STALL: Duration = Duration::from_secs(5);

impl FaultSpec {
    /// Whether anything is injected.
    pub fn any(&self) -> bool {
        self.kill.is_some()
            || self.kill_api.is_some()
            || self.hang.is_some()
            || self.poison.is_some()
            || self.endpoint()
            || self.duplicates > 0.0
    }

    /// Whether the functions' AWS endpoint is faulty (the functions then talk to it through
    /// the fault proxy).
    pub fn endpoint(&self) -> bool {
        self.aws_errors > 0.0 || self.aws_stall > 0.0
    }

    /// Whether the AWS faults are on `elapsed` after they started.
    pub fn outage_on(&self, elapsed: Duration) -> bool {
        match self.outage {
            None => true,
            Some((on, off)) => {
                let period = (on + off).as_nanos().max(1);
                elapsed.as_nanos() % period < on.as_nanos()
            }
        }
    }
}

fn interval(name: &str, value: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(value)
        .map_err(|e| format!("{name}={value}: {e}; give a duration such as 400ms, 2s or 1m"))?;
    if d < Duration::from_millis(10) {
        return Err(format!("{name}={value}: at least 10ms"));
    }
    Ok(d)
}

fn share(name: &str, value: &str) -> Result<f64, String> {
    let bad = || format!("{name}={value}: give a share such as 10% or 0.1, between 0 and 100%");
    let v = match value.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map_err(|_| bad())? / 100.0,
        None => value.trim().parse::<f64>().map_err(|_| bad())?,
    };
    if !(0.0..=1.0).contains(&v) {
        return Err(bad());
    }
    Ok(v)
}

impl FromStr for FaultSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<FaultSpec, String> {
        let mut spec = FaultSpec {
            stall_for: DEFAULT_STALL,
            ..FaultSpec::default()
        };
        let s = s.trim();
        if s.is_empty() || s == "none" {
            return Ok(FaultSpec::default());
        }
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "all" {
                let all: FaultSpec = ALL.parse()?;
                spec = all;
                continue;
            }
            let Some((name, value)) = part.split_once('=') else {
                return Err(format!(
                    "{part:?}: write name=value (kill=2s, aws-errors=10%, ...) or all; names: kill, kill-api, hang, aws-errors, aws-stall, outage, duplicates, poison"
                ));
            };
            let (name, value) = (name.trim(), value.trim());
            match name {
                "kill" => spec.kill = Some(interval(name, value)?),
                "kill-api" => spec.kill_api = Some(interval(name, value)?),
                "hang" => spec.hang = Some(interval(name, value)?),
                "aws-errors" => spec.aws_errors = share(name, value)?,
                "aws-stall" => {
                    let (v, stall) = value.split_once(':').unwrap_or((value, ""));
                    spec.aws_stall = share(name, v)?;
                    if !stall.is_empty() {
                        spec.stall_for = interval(name, stall)?;
                    }
                }
                "outage" => {
                    let Some((on, off)) = value.split_once('/') else {
                        return Err(format!("outage={value}: give on/off, such as 10s/20s"));
                    };
                    spec.outage = Some((interval(name, on)?, interval(name, off)?));
                }
                "duplicates" => spec.duplicates = share(name, value)?,
                "poison" => spec.poison = Some(interval(name, value)?),
                other => {
                    return Err(format!(
                        "unknown fault {other:?}; the faults are kill, kill-api, hang, aws-errors, aws-stall, outage, duplicates, poison (or all)"
                    ));
                }
            }
        }
        if spec.aws_errors + spec.aws_stall > 1.0 {
            return Err("aws-errors and aws-stall add up to more than 100%".into());
        }
        if spec.outage.is_some() && !spec.endpoint() {
            return Err("outage= times the AWS faults: give aws-errors= or aws-stall= with it".into());
        }
        Ok(spec)
    }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = |d: Duration| humantime::format_duration(d).to_string().replace(' ', "");
        let pct = |v: f64| format!("{}%", (v * 1000.0).round() / 10.0);
        let mut parts = Vec::new();
        if let Some(k) = self.kill {
            parts.push(format!("kill={}", d(k)));
        }
        if let Some(k) = self.kill_api {
            parts.push(format!("kill-api={}", d(k)));
        }
        if let Some(h) = self.hang {
            parts.push(format!("hang={}", d(h)));
        }
        if self.aws_errors > 0.0 {
            parts.push(format!("aws-errors={}", pct(self.aws_errors)));
        }
        if self.aws_stall > 0.0 {
            parts.push(format!("aws-stall={}:{}", pct(self.aws_stall), d(self.stall_for)));
        }
        if let Some((on, off)) = self.outage {
            parts.push(format!("outage={}/{}", d(on), d(off)));
        }
        if self.duplicates > 0.0 {
            parts.push(format!("duplicates={}", pct(self.duplicates)));
        }
        if let Some(p) = self.poison {
            parts.push(format!("poison={}", d(p)));
        }
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join(","))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_reads_every_fault_and_prints_back_the_same() {
        let spec: FaultSpec = "kill=400ms, hang=5s,aws-errors=10%,aws-stall=0.05:2s,outage=10s/20s,duplicates=20%,poison=1m,kill-api=2s"
            .parse()
            .unwrap();
        assert_eq!(spec.kill, Some(Duration::from_millis(400)));
        assert_eq!(spec.kill_api, Some(Duration::from_secs(2)));
        assert_eq!(spec.hang, Some(Duration::from_secs(5)));
        assert!((spec.aws_errors - 0.1).abs() < 1e-9 && (spec.aws_stall - 0.05).abs() < 1e-9);
        assert_eq!(spec.stall_for, Duration::from_secs(2));
        assert_eq!(
            spec.outage,
            Some((Duration::from_secs(10), Duration::from_secs(20)))
        );
        assert!((spec.duplicates - 0.2).abs() < 1e-9);
        assert_eq!(spec.poison, Some(Duration::from_secs(60)));
        let back: FaultSpec = spec.to_string().parse().unwrap();
        assert_eq!(back, spec);
        assert!(spec.any() && spec.endpoint());
        assert!(!"none".parse::<FaultSpec>().unwrap().any());
        assert_eq!("".parse::<FaultSpec>().unwrap(), FaultSpec::default());
        let all: FaultSpec = "all".parse().unwrap();
        assert!(all.kill.is_some() && all.hang.is_some() && all.poison.is_some() && all.duplicates > 0.0);
        assert_eq!(
            "all,kill=1s".parse::<FaultSpec>().unwrap().kill,
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn a_bad_spec_says_what_to_write() {
        for (spec, says) in [
            ("kill", "name=value"),
            ("kil=2s", "unknown fault \"kil\""),
            ("kill=fast", "a duration such as"),
            ("kill=1ms", "at least 10ms"),
            ("aws-errors=150%", "between 0 and 100%"),
            ("aws-errors=60%,aws-stall=50%", "more than 100%"),
            ("outage=10s", "on/off"),
            ("outage=10s/5s", "give aws-errors= or aws-stall="),
        ] {
            let err = spec.parse::<FaultSpec>().unwrap_err();
            assert!(err.contains(says), "{spec}: {err}");
        }
    }

    #[test]
    fn the_outage_is_on_then_off_in_turn() {
        let spec: FaultSpec = "aws-errors=10%,outage=1s/3s".parse().unwrap();
        let at = |ms| spec.outage_on(Duration::from_millis(ms));
        assert!(at(0) && at(999) && !at(1000) && !at(3999) && at(4000) && at(4500));
        let always: FaultSpec = "aws-errors=10%".parse().unwrap();
        assert!(always.outage_on(Duration::from_secs(1000)));
    }
}
