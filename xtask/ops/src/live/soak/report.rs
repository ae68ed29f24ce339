//! The soak's report: its figures, the processes' memory, and its summary lines.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::dev::faults::FaultCounts;

/// Resident memory, MB, per kind of process.
pub type Memory = BTreeMap<String, f64>;

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SoakReport {
    pub target: String,
    pub duration_seconds: f64,
    pub rate: f64,
    pub faults: String,
    pub placed: usize,
    pub accepted: usize,
    /// The final answers that were not 202, by status.
    pub refused: BTreeMap<String, usize>,
    pub terminal: BTreeMap<String, usize>,
    pub by_path: BTreeMap<String, BTreeMap<String, usize>>,
    pub order_to_terminal_ms: BTreeMap<String, f64>,
    /// Every answer by route and status (`POST /orders 503`), and lost answers.
    pub answers: BTreeMap<String, usize>,
    pub retries: usize,
    pub fault_counts: Option<FaultCounts>,
    pub memory_start: Memory,
    pub memory_end: Memory,
    pub violations: Vec<String>,
}

/// The resident memory of this process and its descendants (moto, the function sandboxes),
/// MB by kind; empty where `/proc` does not exist.
pub fn memory_of_tree(root: u32) -> Memory {
    let mut out = Memory::new();
    let mut stack = vec![(root, true)];
    while let Some((pid, is_root)) = stack.pop() {
        let rss_kb = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
            .unwrap_or(0.0);
        let cmd = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let kind = if is_root {
            "xtask (API, event sources, workflow)"
        } else if cmd.contains("moto") {
            "moto"
        } else if cmd.contains("python") {
            "other"
        } else {
            "functions"
        };
        if rss_kb > 0.0 {
            *out.entry(kind.to_owned()).or_default() += rss_kb / 1024.0;
        }
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten();
        for t in tasks {
            let children = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            stack.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse().ok())
                    .map(|c| (c, false)),
            );
        }
    }
    for v in out.values_mut() {
        *v = (*v * 10.0).round() / 10.0;
    }
    out
}

impl SoakReport {
    /// The summary, a line per figure.
    pub fn lines(&self) -> Vec<String> {
        let join = |m: &BTreeMap<String, usize>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mem = |m: &Memory| {
            m.iter()
                .map(|(k, v)| format!("{k} {v:.1} MB"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let ms = |k: &str| self.order_to_terminal_ms.get(k).copied().unwrap_or(0.0) / 1000.0;
        let mut l = vec![
            format!(
                "soak: {} for {:.0} s at {}/s; faults: {}",
                self.target, self.duration_seconds, self.rate, self.faults
            ),
            format!(
                "orders: {} placed, {} accepted{}",
                self.placed,
                self.accepted,
                if self.refused.is_empty() {
                    String::new()
                } else {
                    format!(" (not accepted, last answer: {})", join(&self.refused))
                }
            ),
            format!("final state: {}", join(&self.terminal)),
        ];
        for (path, states) in &self.by_path {
            l.push(format!("  {path:<10} {}", join(states)));
        }
        l.push(format!(
            "order to final state: p50 {:.2} s, p90 {:.2} s, p99 {:.2} s, max {:.2} s",
            ms("p50"),
            ms("p90"),
            ms("p99"),
            ms("max")
        ));
        l.push(format!(
            "answers: {}; POST retries {}",
            join(&self.answers),
            self.retries
        ));
        if let Some(c) = &self.fault_counts {
            l.push(format!(
                "faults injected: {} kills (+{} while starting), {} API kills, {} hangs, {} AWS requests: {} errors {:?}, {} stalls; poison: {} messages, {} records",
                c.kills,
                c.init_kills,
                c.api_kills,
                c.hangs,
                c.aws_requests,
                c.aws_errors.values().sum::<u64>(),
                c.aws_errors,
                c.aws_stalls,
                c.poison_messages,
                c.poison_records
            ));
        }
        if !self.memory_start.is_empty() {
            l.push(format!("memory at the start: {}", mem(&self.memory_start)));
            l.push(format!("memory at the end:   {}", mem(&self.memory_end)));
        }
        l.push(format!("invariant violations: {}", self.violations.len()));
        l.extend(self.violations.iter().map(|v| format!("  {v}")));
        l
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_has_every_figure_and_each_violation() {
        let report = SoakReport {
            target: "orders-dev".into(),
            duration_seconds: 600.0,
            rate: 2.0,
            faults: "kill=3s".into(),
            placed: 3,
            accepted: 2,
            refused: BTreeMap::from([("400".into(), 1)]),
            terminal: BTreeMap::from([("SHIPPED".into(), 1), ("FAILED".into(), 1)]),
            by_path: BTreeMap::from([("plain".into(), BTreeMap::from([("SHIPPED".into(), 1)]))]),
            order_to_terminal_ms: BTreeMap::from([("p50".into(), 900.0), ("p99".into(), 8_340.0)]),
            answers: BTreeMap::from([("POST /orders 202".into(), 2)]),
            retries: 1,
            fault_counts: Some(FaultCounts {
                kills: 4,
                ..FaultCounts::default()
            }),
            memory_start: Memory::from([("moto".into(), 200.04)]),
            memory_end: Memory::from([("moto".into(), 476.9)]),
            violations: vec!["order o1 is PAID, not terminal".into()],
        };
        let lines = report.lines();
        assert_eq!(lines[0], "soak: orders-dev for 600 s at 2/s; faults: kill=3s");
        assert_eq!(
            lines[1],
            "orders: 3 placed, 2 accepted (not accepted, last answer: 400 1)"
        );
        assert_eq!(lines[2], "final state: FAILED 1, SHIPPED 1");
        assert_eq!(lines[3], "  plain      SHIPPED 1");
        assert_eq!(
            lines[4],
            "order to final state: p50 0.90 s, p90 0.00 s, p99 8.34 s, max 0.00 s"
        );
        assert!(lines[6].starts_with("faults injected: 4 kills"), "{}", lines[6]);
        assert_eq!(lines[7], "memory at the start: moto 200.0 MB");
        assert_eq!(lines[9], "invariant violations: 1");
        assert_eq!(lines[10], "  order o1 is PAID, not terminal");
    }

    #[test]
    fn memory_is_read_for_this_process() {
        let m = memory_of_tree(std::process::id());
        if std::path::Path::new("/proc/self/status").exists() {
            assert!(m.values().sum::<f64>() > 0.0, "{m:?}");
        }
    }
}
