//! The first deploy read back through the service APIs: every table, queue, function and
//! mapping compared with the template (part of `tests/deploy.rs`).

use std::collections::{BTreeMap, BTreeSet};

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use infra_model::Env;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use xtask_ops::artifact::Artifact;
use xtask_ops::deploy::template::{resource_type, resources};

use super::stack_resources;

/// Standard base64 with padding: how Lambda reports a code package's `CodeSha256`.
pub(super) fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The value a template expression has in the deployed stack: literals as they are, `Ref` as
/// the physical id, `GetAtt Arn/StreamArn` as read back from the service.
struct Resolver {
    physical: BTreeMap<String, (String, String)>,
    queue_arns: BTreeMap<String, String>,
    stream_arns: BTreeMap<String, String>,
    secret_arn: String,
}

impl Resolver {
    fn resolve(&self, v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Object(m) => {
                if let Some(Value::String(name)) = m.get("Ref") {
                    if name == "PaginationKeySecret" {
                        return Some(self.secret_arn.clone());
                    }
                    return self.physical.get(name).map(|(_, p)| p.clone());
                }
                let parts = m.get("Fn::GetAtt")?.as_array()?;
                let (name, attr) = (parts[0].as_str()?, parts[1].as_str()?);
                match attr {
                    "Arn" if self.queue_arns.contains_key(name) => self.queue_arns.get(name).cloned(),
                    "StreamArn" => self.stream_arns.get(name).cloned(),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

pub(super) async fn check_resources_match_the_template(cfg: &SdkConfig, stack: &str, artifacts: &[Artifact]) {
    let template = infra_model::synth(Env::Dev).unwrap().to_value();
    let resources = resources(&template);
    let physical = stack_resources(cfg, stack).await;
    let ddb = aws_sdk_dynamodb::Client::new(cfg);
    let sqs = aws_sdk_sqs::Client::new(cfg);
    let lambda = aws_sdk_lambda::Client::new(cfg);
    let secrets = aws_sdk_secretsmanager::Client::new(cfg);

    let of_type = |ty: &str| -> Vec<(String, Value)> {
        resources
            .iter()
            .filter(|(_, r)| resource_type(r) == ty)
            .map(|(id, r)| (id.clone(), r.clone()))
            .collect()
    };
    let id_of = |logical: &str| -> String {
        physical
            .get(logical)
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| panic!("{logical} is not in the stack"))
    };

    // Tables: keys, attributes, indexes, stream, billing.
    let mut stream_arns = BTreeMap::new();
    let tables = of_type("AWS::DynamoDB::Table");
    assert!(tables.len() >= 4, "{tables:?}");
    for (id, r) in &tables {
        let p = &r["Properties"];
        let t = ddb.describe_table().table_name(id_of(id)).send().await.unwrap();
        let t = t.table().unwrap();
        let keys: BTreeSet<(String, String)> = t
            .key_schema()
            .iter()
            .map(|k| (k.attribute_name().to_owned(), k.key_type().as_str().to_owned()))
            .collect();
        let want: BTreeSet<(String, String)> = p["KeySchema"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["AttributeName"].as_str().unwrap().to_owned(),
                    k["KeyType"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(keys, want, "{id} key schema");
        let attrs: BTreeSet<(String, String)> = t
            .attribute_definitions()
            .iter()
            .map(|a| {
                (
                    a.attribute_name().to_owned(),
                    a.attribute_type().as_str().to_owned(),
                )
            })
            .collect();
        let want: BTreeSet<(String, String)> = p["AttributeDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["AttributeName"].as_str().unwrap().to_owned(),
                    a["AttributeType"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(attrs, want, "{id} attributes");
        let gsis: BTreeSet<String> = t
            .global_secondary_indexes()
            .iter()
            .filter_map(|g| g.index_name().map(str::to_owned))
            .collect();
        let want: BTreeSet<String> = p
            .get("GlobalSecondaryIndexes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|g| g["IndexName"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(gsis, want, "{id} indexes");
        assert_eq!(
            t.billing_mode_summary()
                .and_then(|b| b.billing_mode())
                .map(|b| b.as_str()),
            p["BillingMode"].as_str(),
            "{id} billing"
        );
        if let Some(view) = p.pointer("/StreamSpecification/StreamViewType") {
            let spec = t.stream_specification().unwrap();
            assert!(spec.stream_enabled(), "{id} stream");
            assert_eq!(
                spec.stream_view_type().map(|v| v.as_str()),
                view.as_str(),
                "{id} stream view"
            );
            stream_arns.insert(id.clone(), t.latest_stream_arn().unwrap().to_owned());
        }
    }

    // Queues: every attribute the template sets, the redrive to the right queue.
    let mut queue_arns = BTreeMap::new();
    let queues = of_type("AWS::SQS::Queue");
    for (id, _) in &queues {
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(id_of(id))
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        let arn = attrs.attributes().unwrap()[&QueueAttributeName::QueueArn].clone();
        queue_arns.insert(id.clone(), arn);
    }
    for (id, r) in &queues {
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(id_of(id))
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        let attrs = attrs.attributes().unwrap();
        let p = &r["Properties"];
        for (prop, attr) in [
            ("VisibilityTimeout", QueueAttributeName::VisibilityTimeout),
            (
                "MessageRetentionPeriod",
                QueueAttributeName::MessageRetentionPeriod,
            ),
            (
                "ReceiveMessageWaitTimeSeconds",
                QueueAttributeName::ReceiveMessageWaitTimeSeconds,
            ),
            ("KmsMasterKeyId", QueueAttributeName::KmsMasterKeyId),
            (
                "KmsDataKeyReusePeriodSeconds",
                QueueAttributeName::KmsDataKeyReusePeriodSeconds,
            ),
        ] {
            if let Some(want) = p.get(prop) {
                let want = want
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| want.to_string());
                assert_eq!(attrs.get(&attr), Some(&want), "{id} {prop}");
            }
        }
        if let Some(redrive) = p.get("RedrivePolicy") {
            let got: Value = serde_json::from_str(&attrs[&QueueAttributeName::RedrivePolicy]).unwrap();
            let dlq = redrive
                .pointer("/deadLetterTargetArn/Fn::GetAtt/0")
                .unwrap()
                .as_str()
                .unwrap();
            assert_eq!(
                got["deadLetterTargetArn"],
                json!(queue_arns[dlq]),
                "{id} redrive target"
            );
            assert_eq!(
                got["maxReceiveCount"].to_string(),
                redrive["maxReceiveCount"].to_string(),
                "{id} redrive count"
            );
        }
    }

    let secret_arn = secrets
        .describe_secret()
        .secret_id(format!("{stack}/PaginationKeySecret"))
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let resolver = Resolver {
        physical: physical.clone(),
        queue_arns,
        stream_arns,
        secret_arn,
    };

    // Functions: runtime, handler, sizes, every environment variable resolved, and the code is
    // the artifact (CodeSha256 is the base64 SHA-256 of the zip).
    let functions = of_type("AWS::Lambda::Function");
    assert_eq!(functions.len(), infra_model::system::FUNCTIONS.len());
    for (id, r) in &functions {
        let p = &r["Properties"];
        let f = lambda
            .get_function()
            .function_name(id_of(id))
            .send()
            .await
            .unwrap();
        let c = f.configuration().unwrap();
        assert_eq!(
            c.runtime().map(|r| r.as_str()),
            p["Runtime"].as_str(),
            "{id} runtime"
        );
        assert_eq!(c.handler(), p["Handler"].as_str(), "{id} handler");
        assert_eq!(
            c.memory_size().map(i64::from),
            p["MemorySize"].as_i64(),
            "{id} memory"
        );
        assert_eq!(c.timeout().map(i64::from), p["Timeout"].as_i64(), "{id} timeout");
        let vars = c
            .environment()
            .and_then(|e| e.variables())
            .cloned()
            .unwrap_or_default();
        let want = p
            .pointer("/Environment/Variables")
            .and_then(Value::as_object)
            .unwrap();
        assert_eq!(vars.len(), want.len(), "{id} environment: {vars:?}");
        for (k, v) in want {
            assert_eq!(vars.get(k), resolver.resolve(v).as_ref(), "{id} {k}");
        }
        let spec = infra_model::system::FUNCTIONS
            .iter()
            .find(|s| format!("{}Function", s.id) == *id)
            .unwrap();
        let artifact = artifacts.iter().find(|a| a.function == spec.name).unwrap();
        let zip = std::fs::read(&artifact.zip).unwrap();
        assert_eq!(
            c.code_sha256(),
            Some(base64(&Sha256::digest(&zip)).as_str()),
            "{id} code"
        );
    }
    // The secret the functions read is real.
    let arn = resolver.secret_arn.clone();
    let value = secrets.get_secret_value().secret_id(&arn).send().await.unwrap();
    assert_eq!(value.secret_string().map(str::len), Some(64));

    // Event source mappings: source, target and settings.
    let mappings = of_type("AWS::Lambda::EventSourceMapping");
    let polled = infra_model::system::FUNCTIONS
        .iter()
        .filter(|f| {
            matches!(
                f.trigger,
                infra_model::decl::Trigger::Stream(_) | infra_model::decl::Trigger::Queue(_)
            )
        })
        .count();
    assert_eq!(mappings.len(), polled);
    for (id, r) in &mappings {
        let p = &r["Properties"];
        let m = lambda
            .get_event_source_mapping()
            .uuid(id_of(id))
            .send()
            .await
            .unwrap();
        let source = resolver.resolve(&p["EventSourceArn"]).unwrap();
        assert_eq!(m.event_source_arn(), Some(source.as_str()), "{id} source");
        let target = p.pointer("/FunctionName/Fn::GetAtt/0").unwrap().as_str().unwrap();
        assert!(
            m.function_arn()
                .unwrap()
                .ends_with(&format!(":{}", id_of(target))),
            "{id} target"
        );
        assert_eq!(
            m.batch_size().map(i64::from),
            p["BatchSize"].as_i64(),
            "{id} batch size"
        );
        let types: Vec<String> = m
            .function_response_types()
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect();
        assert_eq!(json!(types), p["FunctionResponseTypes"], "{id} response types");
        if let Some(pos) = p.get("StartingPosition") {
            assert_eq!(
                m.starting_position().map(|s| s.as_str()),
                pos.as_str(),
                "{id} start"
            );
        }
        if let Some(n) = p.get("MaximumRetryAttempts") {
            assert_eq!(
                m.maximum_retry_attempts().map(i64::from),
                n.as_i64(),
                "{id} retries"
            );
        }
        if let Some(b) = p.get("BisectBatchOnFunctionError") {
            assert_eq!(m.bisect_batch_on_function_error(), b.as_bool(), "{id} bisect");
        }
    }
}
