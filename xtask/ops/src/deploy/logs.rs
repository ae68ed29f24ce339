//! `cargo xtask logs --env E [--function F]... [--order ID] [--since 10m] [--follow]`: the
//! functions' and the workflow's CloudWatch logs, merged in time order, one line each: the time,
//! the function, the level and the message. The log groups are the stack's (its physical ids of
//! the declared log groups), never typed by hand; `--order` keeps the lines that carry an order id
//! (the handlers log it in their `order` span), as CloudWatch Logs' filter pattern `"<id>"`
//! matches a term anywhere in the line.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};
use infra_model::system::{FUNCTIONS, WORKFLOWS};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::invoke::function;
use super::{Aws, DeployTarget, read_stack};

/// `10m`, `90s`, `2h`, `1d`: how far back `--since` reaches.
pub fn parse_since(s: &str) -> Result<Duration> {
    parse_duration("--since", s)
}

/// `10m`, `90s`, `2h`, `1d` (a bare number is minutes): the value of `flag`.
pub fn parse_duration(flag: &str, s: &str) -> Result<Duration> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let Ok(n) = n.parse::<u64>() else {
        bail!("{flag} {s:?}: give a number and a unit, such as 10m, 90s, 2h or 1d");
    };
    let secs = match unit {
        "s" => n,
        "m" | "" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => bail!("{flag} {s:?}: the unit is s, m, h or d (10m, 90s, 2h, 1d)"),
    };
    Ok(Duration::from_secs(secs))
}

/// One log line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// The function (or `workflow`).
    pub source: String,
    pub level: String,
    pub message: String,
    #[serde(skip)]
    pub event_id: String,
}

impl Line {
    /// On stdout: as JSON with `json`, else [`Line::render`]ed.
    fn print(&self, width: usize, colour: bool, json: bool) {
        if json {
            println!("{}", serde_json::to_string(self).unwrap_or_default());
        } else {
            println!("{}", self.render(width, colour));
        }
    }

    /// `10:00:01.234 payment INFO order paid`, coloured by level on a terminal.
    pub fn render(&self, width: usize, colour: bool) -> String {
        let ms = self.timestamp.rem_euclid(86_400_000);
        let time = format!(
            "{:02}:{:02}:{:02}.{:03}",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        );
        let level = if colour {
            let code = match self.level.as_str() {
                "ERROR" => "31",
                "WARN" => "33",
                "DEBUG" | "TRACE" => "2",
                _ => "0",
            };
            format!("\x1b[{code}m{:<5}\x1b[0m", self.level)
        } else {
            format!("{:<5}", self.level)
        };
        format!("{time} {:<width$} {level} {}", self.source, self.message)
    }
}

/// The level and message of a raw line: the JSON that `lambda_runtime`'s subscriber writes
/// (`{"level", "fields": {"message", ...}, "span": {...}}`, the other fields appended), or
/// Lambda's own `START`/`END`/`REPORT` lines as they are.
pub fn parse_message(raw: &str) -> (String, String) {
    let raw = raw.trim_end();
    let Ok(v) = serde_json::from_str::<Value>(raw) else {
        return parse_text(raw);
    };
    let level = v["level"].as_str().unwrap_or("-").to_owned();
    let mut message = v["fields"]["message"]
        .as_str()
        .or(v["message"].as_str())
        .unwrap_or(raw)
        .to_owned();
    let mut extra: Vec<String> = Vec::new();
    for (k, val) in v["fields"].as_object().into_iter().flatten() {
        if k != "message" {
            extra.push(format!(
                "{k}={}",
                val.as_str().map_or_else(|| val.to_string(), str::to_owned)
            ));
        }
    }
    for (k, val) in v["span"].as_object().into_iter().flatten() {
        if k != "name" {
            extra.push(format!(
                "{k}={}",
                val.as_str().map_or_else(|| val.to_string(), str::to_owned)
            ));
        }
    }
    if !extra.is_empty() {
        message = format!("{message} ({})", extra.join(", "));
    }
    (level, message)
}

/// A text line of `tracing`'s formatter (what the functions write locally, without
/// `AWS_LAMBDA_LOG_FORMAT=JSON`): `  INFO Lambda runtime invoke{requestId=..}: message k=v`.
/// The level is its first word; the runtime's invoke span is dropped (the request id is
/// noise in a merged view).
fn parse_text(raw: &str) -> (String, String) {
    let trimmed = raw.trim_start();
    let (first, rest) = trimmed.split_once(' ').unwrap_or((trimmed, ""));
    if !["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&first) {
        return ("-".to_owned(), raw.to_owned());
    }
    let rest = rest.trim_start();
    let message = match rest
        .strip_prefix("Lambda runtime invoke{")
        .and_then(|r| r.split_once("}: "))
    {
        Some((_, m)) => m,
        None => rest,
    };
    (first.to_owned(), message.to_owned())
}

/// What to read.
#[derive(Clone, Debug, Default)]
pub struct LogsOptions {
    /// Only these functions (all, and the workflow, when empty).
    pub functions: Vec<String>,
    pub order: Option<String>,
    pub since: Duration,
}

/// The log groups to read: source name -> the deployed group's name.
pub async fn log_groups(
    aws: &Aws,
    target: &DeployTarget,
    only: &[String],
) -> Result<BTreeMap<String, String>> {
    let Some(stack) = read_stack(aws, &target.stack).await? else {
        bail!(
            "{} does not exist: deploy it first (`cargo xtask deploy --env {}`)",
            target.stack,
            target.env.name()
        );
    };
    let mut wanted: Vec<(String, String)> = Vec::new();
    for name in only {
        let f = function(name)?;
        wanted.push((f.name.to_owned(), f.log_group_id()));
    }
    if only.is_empty() {
        wanted.extend(FUNCTIONS.iter().map(|f| (f.name.to_owned(), f.log_group_id())));
        wanted.extend(WORKFLOWS.iter().map(|w| (w.name.to_owned(), w.log_group_id())));
    }
    let physical = super::physical_ids(aws, &stack.id).await?;
    Ok(wanted
        .into_iter()
        .filter_map(|(source, id)| physical.get(&id).map(|p| (source, p.clone())))
        .collect())
}

/// The lines of every group from `start_ms` on, merged in time order.
pub async fn read(
    aws: &Aws,
    groups: &BTreeMap<String, String>,
    order: Option<&str>,
    start_ms: i64,
) -> Result<Vec<Line>> {
    let mut lines = Vec::new();
    for (source, group) in groups {
        let mut token = None;
        loop {
            let mut req = aws
                .logs
                .filter_log_events()
                .log_group_name(group)
                .start_time(start_ms)
                .set_next_token(token);
            if let Some(id) = order {
                // A quoted term: the id anywhere in the line (CloudWatch Logs filter syntax).
                req = req.filter_pattern(format!("\"{id}\""));
            }
            let page = match req.send().await {
                Ok(p) => p,
                Err(e) => {
                    let err = aws.explain(&format!("read {group}"), e);
                    // A group not created yet (the function never ran) has no lines.
                    if format!("{err:#}").contains("ResourceNotFoundException") {
                        break;
                    }
                    return Err(err);
                }
            };
            for e in page.events() {
                let (level, message) = parse_message(e.message().unwrap_or_default());
                lines.push(Line {
                    timestamp: e.timestamp().unwrap_or_default(),
                    source: source.clone(),
                    level,
                    message,
                    event_id: e.event_id().unwrap_or_default().to_owned(),
                });
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
    }
    lines.sort_by(|a, b| (a.timestamp, &a.source, &a.event_id).cmp(&(b.timestamp, &b.source, &b.event_id)));
    Ok(lines)
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `cargo xtask logs`: prints the lines (JSON lines with `--json`); with `follow`, polls every
/// 2 s for new ones until Ctrl-C.
pub async fn logs(target: &DeployTarget, options: &LogsOptions, follow: bool, json: bool) -> Result<usize> {
    let aws = Aws::connect(&target.aws).await?;
    let groups = log_groups(&aws, target, &options.functions).await?;
    if groups.is_empty() {
        bail!(
            "{} has none of those log groups yet: deploy the current model first",
            target.stack
        );
    }
    let width = groups.keys().map(String::len).max().unwrap_or(0);
    let colour = !json && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let since = i64::try_from(options.since.as_millis()).unwrap_or(i64::MAX);
    let mut start = now_ms().saturating_sub(since);
    let mut seen = BTreeSet::new();
    let mut printed = 0;
    loop {
        let lines = read(&aws, &groups, options.order.as_deref(), start).await?;
        for l in lines {
            if !seen.insert(l.event_id.clone()) {
                continue;
            }
            start = start.max(l.timestamp);
            printed += 1;
            l.print(width, colour, json);
        }
        if !follow {
            return Ok(printed);
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(printed),
        }
    }
}

/// The local system's log: every function's (and the drivers') lines, as `cargo xtask dev`
/// writes them while it runs, one [`Line`] as JSON per line.
pub fn local_log_path() -> std::path::PathBuf {
    crate::root().join("target").join("dev").join("functions.log")
}

/// The lines of the local log from `start_ms` on that `options` keep, read from byte `from`;
/// gives them and the offset read up to.
pub fn read_local(
    path: &std::path::Path,
    options: &LogsOptions,
    start_ms: i64,
    from: u64,
) -> Result<(Vec<Line>, u64)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).map_err(|e| {
        anyhow::anyhow!(
            "no local log at {} ({e}): start the local system with `cargo xtask dev`",
            path.display()
        )
    })?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    // A shorter file is a new `cargo xtask dev`: read it from the start.
    let from = if len < from { 0 } else { from };
    file.seek(SeekFrom::Start(from))?;
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    // Only whole lines: a line being written is read next time.
    let whole = text.rfind('\n').map_or(0, |i| i + 1);
    let mut lines = Vec::new();
    for raw in text[..whole].lines() {
        let Ok(l) = serde_json::from_str::<Line>(raw) else {
            continue;
        };
        let wanted_source = options.functions.is_empty() || options.functions.contains(&l.source);
        let wanted_order = options.order.as_deref().is_none_or(|id| l.message.contains(id));
        if l.timestamp >= start_ms && wanted_source && wanted_order {
            lines.push(l);
        }
    }
    Ok((lines, from + whole as u64))
}

/// `cargo xtask logs --local`: the same view of the local system's log.
pub async fn local_logs(options: &LogsOptions, follow: bool, json: bool) -> Result<usize> {
    for name in &options.functions {
        function(name)?;
    }
    let path = local_log_path();
    let colour = !json && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let width = FUNCTIONS.iter().map(|f| f.name.len()).max().unwrap_or(0);
    let since = i64::try_from(options.since.as_millis()).unwrap_or(i64::MAX);
    let start = now_ms().saturating_sub(since);
    let mut offset = 0;
    let mut printed = 0;
    loop {
        let (lines, next) = read_local(&path, options, start, offset)?;
        offset = next;
        for l in lines {
            printed += 1;
            l.print(width, colour, json);
        }
        if !follow {
            return Ok(printed);
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(printed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_log_is_filtered_and_read_from_where_it_stopped() {
        let dir = std::env::temp_dir().join(format!("orders-logs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("functions.log");
        let line = |t: i64, source: &str, message: &str| {
            serde_json::to_string(&Line {
                timestamp: t,
                source: source.into(),
                level: "INFO".into(),
                message: message.into(),
                event_id: String::new(),
            })
            .unwrap()
        };
        let text = [
            line(1000, "orders-api", "order placed (order_id=o-1)"),
            line(2000, "payment", "order paid (order_id=o-2)"),
            line(3000, "payment", "order paid (order_id=o-1)"),
        ]
        .join("\n");
        // The last line is being written: not read yet.
        std::fs::write(&path, format!("{text}\n{{\"timestamp\":4")).unwrap();
        let all = LogsOptions::default();
        let (lines, offset) = read_local(&path, &all, 0, 0).unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!(offset, text.len() as u64 + 1);
        let one_order = LogsOptions {
            order: Some("o-1".into()),
            ..LogsOptions::default()
        };
        let (lines, _) = read_local(&path, &one_order, 0, 0).unwrap();
        assert_eq!(
            lines.iter().map(|l| l.timestamp).collect::<Vec<_>>(),
            [1000, 3000]
        );
        let payment_since = LogsOptions {
            functions: vec!["payment".into()],
            ..LogsOptions::default()
        };
        let (lines, _) = read_local(&path, &payment_since, 2500, 0).unwrap();
        assert_eq!(lines.len(), 1);
        // Read on from the offset: nothing new; a new, shorter file is read from its start.
        assert!(read_local(&path, &all, 0, offset).unwrap().0.is_empty());
        std::fs::write(&path, format!("{}\n", line(5000, "health", "ok"))).unwrap();
        assert_eq!(read_local(&path, &all, 0, offset).unwrap().0.len(), 1);
        let e = read_local(&dir.join("missing.log"), &all, 0, 0).unwrap_err();
        assert!(format!("{e:#}").contains("cargo xtask dev"), "{e:#}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn since_takes_seconds_minutes_hours_and_days() {
        assert_eq!(parse_since("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_since("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_since("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_since("1d").unwrap(), Duration::from_secs(86_400));
        assert!(format!("{:#}", parse_since("10 minutes").unwrap_err()).contains("the unit is s, m, h or d"));
        assert!(format!("{:#}", parse_since("m").unwrap_err()).contains("give a number and a unit"));
    }

    #[test]
    fn a_json_line_gives_its_level_message_and_fields() {
        let raw = r#"{"timestamp":"2026-12-01T10:00:01.234Z","level":"INFO","fields":{"message":"order paid","transaction_id":"txn-1"},"target":"payment","span":{"order_id":"ord-1","name":"order"},"spans":[{"order_id":"ord-1","name":"order"}]}"#;
        assert_eq!(
            parse_message(raw),
            (
                "INFO".to_owned(),
                "order paid (transaction_id=txn-1, order_id=ord-1)".to_owned()
            )
        );
        assert_eq!(
            parse_message(
                "     INFO Lambda runtime invoke{requestId=\"0b14\" xrayTraceId=\"Root=1-6b0f\"}: customer notified status=\"SHIPPED\""
            ),
            (
                "INFO".to_owned(),
                "customer notified status=\"SHIPPED\"".to_owned()
            )
        );
        assert_eq!(
            parse_message(" WARN retrying the gateway"),
            ("WARN".to_owned(), "retrying the gateway".to_owned())
        );
        assert_eq!(
            parse_message("REPORT RequestId: 8f5e Duration: 12.31 ms\n"),
            (
                "-".to_owned(),
                "REPORT RequestId: 8f5e Duration: 12.31 ms".to_owned()
            )
        );
        let line = Line {
            timestamp: 1_764_583_201_234,
            source: "payment".into(),
            level: "INFO".into(),
            message: "order paid".into(),
            event_id: "1".into(),
        };
        assert_eq!(line.render(8, false), "10:00:01.234 payment  INFO  order paid");
    }
}
