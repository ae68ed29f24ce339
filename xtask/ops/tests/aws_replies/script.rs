//! An environment's stack that exists, and what CloudFormation answers while a change set is
//! computed, executed and followed: the stack's status and its events, step by step; and an
//! operation already running on it before the command starts (an interrupted deploy).

#![allow(dead_code, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use aws_smithy_mocks::{MockResponse, Rule, mock};

use super::world::{Seen, World};
use super::*;

/// How the operation goes once the change set is executed.
#[derive(Clone, Debug)]
pub struct Script {
    pub stack: &'static str,
    /// The stack's status at each poll after the execution (the last one repeats).
    pub statuses: Vec<&'static str>,
    /// The events, oldest first, each with the poll from which it is listed.
    pub events: Vec<(usize, String)>,
    /// After the execution, DescribeStacks answers ExpiredToken.
    pub expire_after_execute: bool,
    /// The change set: `Ok(changes XML)` or `Err(status reason)` for a FAILED one.
    pub change_set: Result<String, String>,
    pub termination_protection: bool,
    /// The stack's status at each DescribeStacks before the execution (the last one repeats):
    /// an operation already running when the command starts, and how it ends.
    pub before: Vec<&'static str>,
    /// The events of that operation, oldest first, each listed from the `at`-th DescribeStacks
    /// before the execution.
    pub earlier: Vec<(usize, String)>,
    /// CreateChangeSet is refused as for a stack that became busy meanwhile (this state),
    /// whatever DescribeStacks said.
    pub busy_on_change_set: Option<&'static str>,
}

#[derive(Debug, Default)]
struct State {
    executed: bool,
    polls: usize,
    /// DescribeStacks answered before the execution.
    polls_before: usize,
    /// The status DescribeStacks answered last.
    last_status: String,
}

/// What CloudFormation answers CreateChangeSet (and UpdateStack) for a stack busy with another
/// operation: a ValidationError naming the stack's ARN and state.
pub fn busy_stack(stack: &str, status: &str) -> HttpResponse {
    cfn_error(
        400,
        "ValidationError",
        &format!(
            "Stack:{} is in {status} state and can not be updated.",
            stack_id(stack)
        ),
    )
}

impl Script {
    pub fn new(stack: &'static str) -> Script {
        Script {
            stack,
            statuses: vec!["UPDATE_COMPLETE"],
            events: Vec::new(),
            expire_after_execute: false,
            change_set: Ok(String::new()),
            termination_protection: false,
            before: vec!["UPDATE_COMPLETE"],
            earlier: Vec::new(),
            busy_on_change_set: None,
        }
    }

    /// An event of the operation already running before the command, listed from the `at`-th
    /// DescribeStacks.
    pub fn earlier_event(
        mut self,
        at: usize,
        logical_id: &'static str,
        resource_type: &'static str,
        status: &'static str,
        reason: Option<&'static str>,
    ) -> Script {
        let n = self.earlier.len() + 1;
        let xml = self.event_xml("earlier-", n, logical_id, resource_type, status, reason);
        self.earlier.push((at, xml));
        self
    }

    /// An event of this stack, listed from poll `at`.
    pub fn event(
        mut self,
        at: usize,
        logical_id: &'static str,
        resource_type: &'static str,
        status: &'static str,
        reason: Option<&'static str>,
    ) -> Script {
        let n = self.events.len() + 1;
        let xml = self.event_xml("", n, logical_id, resource_type, status, reason);
        self.events.push((at, xml));
        self
    }

    /// The `n`-th event's XML, its id `{prefix}{logical_id}-{status}-{n}`.
    fn event_xml(
        &self,
        prefix: &str,
        n: usize,
        logical_id: &'static str,
        resource_type: &'static str,
        status: &'static str,
        reason: Option<&'static str>,
    ) -> String {
        EventXml {
            id: format!("{prefix}{logical_id}-{status}-{n}"),
            stack: self.stack,
            logical_id,
            resource_type,
            status,
            reason,
            second: u32::try_from(n).unwrap(),
        }
        .xml()
    }

    /// The rules of the stack, the deployed template, the uploads already there, the change
    /// set and the execution; with those of `world` (preflight), after them.
    pub fn rules(&self, world: &World, deployed: &serde_json::Value, seen: &Seen) -> Vec<Rule> {
        let state = Arc::new(Mutex::new(State::default()));
        let stack = self.stack;
        let is_ours = move |n: Option<&str>| n.is_some_and(|n| n == stack || n == stack_id(stack));
        let mut rules = Vec::new();

        let (st, script) = (state.clone(), self.clone());
        rules.push(
            mock!(aws_sdk_cloudformation::Client::describe_stacks)
                .match_requests(move |r| is_ours(r.stack_name()))
                .then_compute_response(move |_| {
                    let mut s = st.lock().unwrap();
                    let status = if s.executed {
                        if script.expire_after_execute {
                            return MockResponse::Http(expired_token());
                        }
                        let i = s.polls.min(script.statuses.len() - 1);
                        s.polls += 1;
                        script.statuses[i]
                    } else {
                        let i = s.polls_before.min(script.before.len() - 1);
                        s.polls_before += 1;
                        script.before[i]
                    };
                    s.last_status = status.to_owned();
                    MockResponse::Http(
                        StackXml {
                            termination_protection: script.termination_protection,
                            ..StackXml::new(stack, status)
                        }
                        .reply(),
                    )
                }),
        );
        let (st, script) = (state.clone(), self.clone());
        rules.push(
            mock!(aws_sdk_cloudformation::Client::describe_stack_events)
                .match_requests(move |r| is_ours(r.stack_name()))
                .then_compute_response(move |_| {
                    let s = st.lock().unwrap();
                    let old = EventXml {
                        id: "last-deploy-UPDATE_COMPLETE".into(),
                        stack,
                        logical_id: stack,
                        resource_type: "AWS::CloudFormation::Stack",
                        status: "UPDATE_COMPLETE",
                        reason: None,
                        second: 0,
                    }
                    .xml();
                    // Oldest first: the last deploy's end, the earlier operation, this one.
                    let mut listed: Vec<String> = script
                        .earlier
                        .iter()
                        .filter(|(at, _)| s.executed || *at < s.polls_before.max(1))
                        .map(|(_, x)| x.clone())
                        .collect();
                    if s.executed {
                        listed.extend(
                            script
                                .events
                                .iter()
                                .filter(|(at, _)| *at < s.polls.max(1))
                                .map(|(_, x)| x.clone()),
                        );
                    }
                    listed.reverse();
                    listed.push(old);
                    MockResponse::Http(events_reply(&listed))
                }),
        );
        // As deploy submitted it (sorted).
        let body = xtask_ops::deploy::template::body(deployed);
        rules.push(
            mock!(aws_sdk_cloudformation::Client::get_template)
                .match_requests(move |r| is_ours(r.stack_name()))
                .then_http_response(move || template_reply(&body)),
        );
        rules.push(
            mock!(aws_sdk_cloudformation::Client::list_stack_resources).then_http_response(|| {
                cfn(
                    "ListStackResources",
                    "<StackResourceSummaries></StackResourceSummaries>",
                )
            }),
        );
        // Every artifact and the template are in the bucket already.
        rules.push(mock!(aws_sdk_s3::Client::head_object).then_http_response(|| {
            http(
                200,
                &[
                    ("content-length", "1024"),
                    ("etag", "\"9b2cf535f27731c974343645a3985328\""),
                ],
                "",
            )
        }));
        let (s, st, busy) = (seen.clone(), state.clone(), self.busy_on_change_set);
        rules.push(
            mock!(aws_sdk_cloudformation::Client::create_change_set).then_compute_response(move |r| {
                let last = st.lock().unwrap().last_status.clone();
                // CloudFormation runs one operation on a stack at a time.
                let refused = busy
                    .map(str::to_owned)
                    .or_else(|| last.ends_with("_IN_PROGRESS").then_some(last));
                if let Some(status) = refused {
                    s.push(format!("CreateChangeSet refused: {status}"));
                    return MockResponse::Http(busy_stack(stack, &status));
                }
                s.push(format!("CreateChangeSet {:?}", r.change_set_type()));
                if let Some(url) = r.template_url() {
                    s.push(format!("TemplateURL {url}"));
                }
                MockResponse::Http(cfn(
                    "CreateChangeSet",
                    &format!(
                        "<Id>arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/xtask-1/0f1e2d3c</Id><StackId>{}</StackId>",
                        stack_id(stack)
                    ),
                ))
            }),
        );
        let change_set = self.change_set.clone();
        let described = |status: &str, extra: &str| {
            cfn(
                "DescribeChangeSet",
                &format!(
                    "<ChangeSetName>xtask-1</ChangeSetName>\
                     <ChangeSetId>arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/xtask-1/0f1e2d3c</ChangeSetId>\
                     <StackId>{}</StackId><StackName>{stack}</StackName><Status>{status}</Status>{extra}",
                    stack_id(stack)
                ),
            )
        };
        let first = described(
            "CREATE_IN_PROGRESS",
            "<ExecutionStatus>UNAVAILABLE</ExecutionStatus>",
        );
        let last = match &change_set {
            Ok(changes) => described(
                "CREATE_COMPLETE",
                &format!("<ExecutionStatus>AVAILABLE</ExecutionStatus><Changes>{changes}</Changes>"),
            ),
            Err(reason) => described(
                "FAILED",
                &format!(
                    "<ExecutionStatus>UNAVAILABLE</ExecutionStatus><StatusReason>{}</StatusReason>",
                    escape(reason)
                ),
            ),
        };
        let (first, last) = (Arc::new(Mutex::new(Some(first))), Arc::new(last));
        rules.push(
            mock!(aws_sdk_cloudformation::Client::describe_change_set)
                // Asked with the properties' values.
                .match_requests(|r| r.include_property_values() == Some(true))
                .then_compute_response(move |_| {
                    let resp = first.lock().unwrap().take();
                    MockResponse::Http(resp.unwrap_or_else(|| clone_response(&last)))
                }),
        );
        let s = seen.clone();
        rules.push(
            mock!(aws_sdk_cloudformation::Client::delete_change_set).then_compute_response(move |_| {
                s.push("DeleteChangeSet");
                MockResponse::Http(cfn("DeleteChangeSet", ""))
            }),
        );
        let (st, s) = (state.clone(), seen.clone());
        rules.push(
            mock!(aws_sdk_cloudformation::Client::execute_change_set).then_compute_response(move |_| {
                st.lock().unwrap().executed = true;
                s.push("ExecuteChangeSet");
                MockResponse::Http(cfn("ExecuteChangeSet", ""))
            }),
        );
        // A destroy's deletion is the scripted operation: `statuses` and `events` follow it.
        let (st, s) = (state.clone(), seen.clone());
        rules.push(
            mock!(aws_sdk_cloudformation::Client::delete_stack).then_compute_response(move |_| {
                let mut st = st.lock().unwrap();
                let last = st.last_status.clone();
                // CloudFormation refuses to delete a stack while it is being updated.
                if last.ends_with("_IN_PROGRESS")
                    && !matches!(last.as_str(), "DELETE_IN_PROGRESS" | "REVIEW_IN_PROGRESS")
                {
                    s.push(format!("DeleteStack refused: {last}"));
                    return MockResponse::Http(cfn_error(
                        400,
                        "ValidationError",
                        &format!(
                            "Stack [{}] cannot be deleted while in status {last}",
                            stack_id(stack)
                        ),
                    ));
                }
                st.executed = true;
                s.push("DeleteStack");
                MockResponse::Http(cfn_empty("DeleteStack"))
            }),
        );
        let s = seen.clone();
        rules.push(
            mock!(aws_sdk_cloudformation::Client::update_termination_protection).then_compute_response(
                move |r| {
                    s.push(format!(
                        "UpdateTerminationProtection {} {:?}",
                        r.stack_name().unwrap_or(""),
                        r.enable_termination_protection()
                    ));
                    MockResponse::Http(cfn(
                        "UpdateTerminationProtection",
                        &format!("<StackId>{}</StackId>", stack_id(stack)),
                    ))
                },
            ),
        );
        rules.extend(world.preflight_rules(seen));
        rules
    }
}

fn clone_response(r: &HttpResponse) -> HttpResponse {
    let body = r
        .body()
        .bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let headers: Vec<(String, String)> = r
        .headers()
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    http(r.status().as_u16(), &refs, body)
}

/// A property change: its name, `RequiresRecreation`, and (before, after) values.
pub type Detail<'a> = (&'a str, &'a str, Option<(&'a str, &'a str)>);

/// One `<member>` of DescribeChangeSet's Changes: a resource change with its details.
pub fn change(
    action: &str,
    logical_id: &str,
    resource_type: &str,
    replacement: &str,
    scope: &str,
    details: &[Detail<'_>],
) -> String {
    let details: String = details
        .iter()
        .map(|(name, recreation, values)| {
            let values = values
                .map(|(b, a)| format!("<BeforeValue>{b}</BeforeValue><AfterValue>{a}</AfterValue><AttributeChangeType>Modify</AttributeChangeType>"))
                .unwrap_or_default();
            format!(
                "<member><Target><Attribute>{scope}</Attribute><Name>{name}</Name>\
                 <RequiresRecreation>{recreation}</RequiresRecreation>{values}</Target>\
                 <Evaluation>Static</Evaluation><ChangeSource>DirectModification</ChangeSource></member>"
            )
        })
        .collect();
    format!(
        "<member><Type>Resource</Type><ResourceChange><PolicyAction>ReplaceAndDelete</PolicyAction>\
         <Action>{action}</Action><LogicalResourceId>{logical_id}</LogicalResourceId>\
         <PhysicalResourceId>{logical_id}-1A2B3C</PhysicalResourceId><ResourceType>{resource_type}</ResourceType>\
         <Replacement>{replacement}</Replacement><Scope><member>{scope}</member></Scope>\
         <Details>{details}</Details></ResourceChange></member>"
    )
}
