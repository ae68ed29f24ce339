//! Findings of the common IaC scanners (checkov, cfn_nag) that do not fit this system, written
//! into the resources' metadata with the reason, the way those tools read suppressions, so a
//! scan shows a decision and not an oversight. The README's "Security decisions" table gives
//! the longer reasoning; the metadata keeps one line each, as templates have a size limit.

use serde_json::{Value, json};

use crate::cfn::Options;

/// One accepted finding: the scanner's rule ids and why the rule does not apply.
#[derive(Clone, Copy, Debug)]
pub struct Accepted {
    pub checkov: Option<&'static str>,
    pub cfn_nag: Option<&'static str>,
    pub reason: &'static str,
}

pub const NO_VPC: Accepted = Accepted {
    checkov: Some("CKV_AWS_117"),
    cfn_nag: Some("W89"),
    reason: "Calls only AWS public endpoints; a VPC adds NAT cost and latency, no protection.",
};
pub const NO_FUNCTION_DLQ: Accepted = Accepted {
    checkov: Some("CKV_AWS_116"),
    cfn_nag: None,
    reason: "Never invoked asynchronously; its event sources have their own failure destinations.",
};
pub const ENV_VARS_AWS_KEY: Accepted = Accepted {
    checkov: Some("CKV_AWS_173"),
    cfn_nag: None,
    reason: "Environment holds resource names only, no secrets.",
};
pub const NO_RESERVED_CONCURRENCY_IN_DEV: Accepted = Accepted {
    checkov: Some("CKV_AWS_115"),
    cfn_nag: Some("W92"),
    reason: "dev reserves no concurrency (new accounts have a limit of 10); staging and prod do.",
};
pub const TABLE_AWS_KEY: Accepted = Accepted {
    checkov: Some("CKV_AWS_119"),
    cfn_nag: None,
    reason: "AWS-managed KMS key (aws/dynamodb), audited in CloudTrail.",
};
pub const LOGS_AWS_KEY: Accepted = Accepted {
    checkov: Some("CKV_AWS_158"),
    cfn_nag: None,
    reason: "Logs hold ids and statuses, no payment data; encrypted by CloudWatch Logs.",
};
pub const PUBLIC_ROUTE: Accepted = Accepted {
    checkov: Some("CKV_AWS_59"),
    cfn_nag: Some("W59"),
    reason: "Public by design: health checks and business sign-up.",
};
pub const API_KEY_ROUTE: Accepted = Accepted {
    checkov: Some("CKV_AWS_59"),
    cfn_nag: Some("W59"),
    reason: "Protected by the API key and its usage plan.",
};
pub const NO_API_CACHE: Accepted = Accepted {
    checkov: Some("CKV_AWS_120"),
    cfn_nag: None,
    reason: "Order statuses change; a cache would serve stale answers.",
};
pub const NO_WAF: Accepted = Accepted {
    checkov: Some("CKV2_AWS_29"),
    cfn_nag: None,
    reason: "Throttling and quotas bound abuse; a WAF is an account-level decision.",
};
pub const NO_CLIENT_CERT: Accepted = Accepted {
    checkov: Some("CKV2_AWS_51"),
    cfn_nag: None,
    reason: "Lambda proxy integrations: no HTTP backend to authenticate.",
};
pub const SECRET_NO_ROTATION: Accepted = Accepted {
    checkov: Some("CKV2_AWS_57"),
    cfn_nag: None,
    reason: "Signs short-lived pagination tokens; rotate by replacing the secret.",
};
pub const SECRET_AWS_KEY: Accepted = Accepted {
    checkov: Some("CKV_AWS_149"),
    cfn_nag: None,
    reason: "AWS-managed key; only the functions that bind it can read it.",
};
pub const NO_PITR_IN_DEV: Accepted = Accepted {
    checkov: Some("CKV_AWS_28"),
    cfn_nag: None,
    reason: "dev holds test data; point-in-time recovery is on in staging and prod.",
};
pub const EPHEMERAL_NO_PITR: Accepted = Accepted {
    checkov: Some("CKV_AWS_28"),
    cfn_nag: None,
    reason: "Records expire after a day (TTL): nothing to restore.",
};
pub const ACCOUNT_WIDE_SETTING: Accepted = Accepted {
    checkov: None,
    cfn_nag: None,
    reason: "One setting per account and region: deleting the stack does not unset it.",
};

/// Resource options whose metadata records the accepted findings.
pub fn accept(options: Options, accepted: &[Accepted]) -> Options {
    if accepted.is_empty() {
        return options;
    }
    let checkov: Vec<Value> = accepted
        .iter()
        .filter_map(|a| a.checkov.map(|id| json!({"id": id, "comment": a.reason})))
        .collect();
    let cfn_nag: Vec<Value> = accepted
        .iter()
        .filter_map(|a| a.cfn_nag.map(|id| json!({"id": id, "reason": a.reason})))
        .collect();
    let notes: Vec<&str> = accepted
        .iter()
        .filter(|a| a.checkov.is_none() && a.cfn_nag.is_none())
        .map(|a| a.reason)
        .collect();
    let mut options = options;
    if !checkov.is_empty() {
        options = options.metadata("checkov", json!({"skip": checkov}));
    }
    if !cfn_nag.is_empty() {
        options = options.metadata("cfn_nag", json!({"rules_to_suppress": cfn_nag}));
    }
    if !notes.is_empty() {
        options = options.metadata("Notes", json!(notes));
    }
    options
}
