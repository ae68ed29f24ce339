//! `status` and `outputs`.

use super::*;

// ---------------------------------------------------------------------------------------------
// status, outputs

/// A stack's state: `status` and `outputs` print parts of it.
#[derive(Clone, Debug, Serialize)]
pub struct StatusReport {
    pub stack: String,
    pub region: String,
    pub account: String,
    pub exists: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub info: Option<StackInfo>,
    /// The newest events, newest last.
    pub events: Vec<events::Event>,
    /// Alarms, queues, failed executions, the dashboard (a stack that exists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<health::Health>,
}

impl StatusReport {
    pub fn exit_code(&self) -> u8 {
        if self.exists { exit::OK } else { exit::ERROR }
    }

    /// The text `status` prints.
    pub fn status_lines(&self) -> Vec<String> {
        let Some(info) = &self.info else {
            return vec![format!(
                "{} does not exist in account {}, region {}",
                self.stack, self.account, self.region
            )];
        };
        let mut lines = vec![format!("{}: {}", self.stack, info.status)];
        if let Some(r) = &info.status_reason {
            lines.push(format!("  reason: {r}"));
        }
        lines.push(format!("  account {}, region {}", self.account, self.region));
        if let Some(t) = info.updated.as_ref().or(info.created.as_ref()) {
            lines.push(format!("  last changed {t}"));
        }
        if !info.tags.is_empty() {
            let tags: Vec<String> = info.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            lines.push(format!("  tags: {}", tags.join(", ")));
        }
        lines.extend(self.output_lines());
        if let Some(h) = &self.health {
            lines.extend(h.lines());
        }
        if !self.events.is_empty() {
            lines.push("Last events:".to_owned());
            lines.extend(self.events.iter().map(events::Event::line));
        }
        lines
    }

    /// The text `outputs` prints.
    pub fn output_lines(&self) -> Vec<String> {
        let Some(info) = &self.info else {
            return vec![format!("{} does not exist", self.stack)];
        };
        if info.outputs.is_empty() {
            return vec!["Outputs: none".to_owned()];
        }
        let width = info.outputs.keys().map(String::len).max().unwrap_or(0);
        std::iter::once("Outputs:".to_owned())
            .chain(info.outputs.iter().map(|(k, v)| format!("  {k:<width$}  {v}")))
            .collect()
    }
}

/// How many events `status` shows.
pub const STATUS_EVENTS: usize = 10;

/// `cargo xtask status` / `outputs`.
pub async fn status(target: &DeployTarget) -> Result<StatusReport> {
    let aws = Aws::connect(&target.aws).await?;
    status_with(&aws, target).await
}

/// `cargo xtask outputs`: the stack alone (no events, no health view), one call.
pub async fn outputs(target: &DeployTarget) -> Result<StatusReport> {
    let aws = Aws::connect(&target.aws).await?;
    let info = read_stack(&aws, &target.stack).await?;
    Ok(StatusReport {
        stack: target.stack.clone(),
        region: aws.region.clone(),
        account: aws.account.clone(),
        exists: info.is_some(),
        info,
        events: Vec::new(),
        health: None,
    })
}

/// [`status`] with given clients.
pub async fn status_with(aws: &Aws, target: &DeployTarget) -> Result<StatusReport> {
    let info = read_stack(aws, &target.stack).await?;
    let mut evs = Vec::new();
    if let Some(i) = &info {
        let page = aws
            .cfn
            .describe_stack_events()
            .stack_name(&i.id)
            .send()
            .await
            .map_err(|e| aws.explain("read the stack's events", e))?;
        let mut newest: Vec<events::Event> = page
            .stack_events()
            .iter()
            .take(STATUS_EVENTS)
            .map(events::Event::from_sdk)
            .collect();
        newest.reverse();
        evs = newest;
    }
    let health = match &info {
        Some(i) => Some(health::health(aws, i).await),
        None => None,
    };
    Ok(StatusReport {
        stack: target.stack.clone(),
        region: aws.region.clone(),
        account: aws.account.clone(),
        exists: info.is_some(),
        info,
        events: evs,
        health,
    })
}
