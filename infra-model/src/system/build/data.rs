//! Tables, queues, topics and secrets, from their declarations.

use serde_json::json;

use super::{Built, data_policy};
use crate::aws::dynamodb::{GlobalIndex, Projection, Table};
use crate::aws::iam::{PolicyDocument, Principal, Statement};
use crate::aws::kms::{Alias, Key};
use crate::aws::secretsmanager::GeneratedSecret;
use crate::aws::sns::{Topic, TopicPolicy};
use crate::aws::sqs::{MAX_RETENTION, Queue};
use crate::cfn::{Expr, Options, Policy, Template};
use crate::decl::{IndexProjection, Lifecycle, QueueKind, TopicSpec};
use crate::system::env::Settings;
use crate::system::security::{self, accept};
use crate::system::{APP, QUEUES, SECRETS, TABLES, TOPICS, queue_visibility};

pub(super) fn add(t: &mut Template, s: &Settings, built: &mut Built) {
    for spec in TABLES {
        let mut table = Table::new(spec.partition);
        table.sort = spec.sort;
        table.indexes = spec
            .indexes
            .iter()
            .map(|i| GlobalIndex {
                name: i.name,
                partition: i.partition,
                sort: i.sort,
                projection: match i.projection {
                    IndexProjection::All => Projection::All,
                    IndexProjection::KeysOnly => Projection::KeysOnly,
                },
            })
            .collect();
        table.stream = spec.stream;
        table.ttl_attribute = spec.ttl;
        let options = match spec.lifecycle {
            Lifecycle::Durable => {
                table.point_in_time_recovery = s.point_in_time_recovery;
                table.deletion_protection = s.retain_data;
                let mut accepted = vec![security::TABLE_AWS_KEY];
                if !s.point_in_time_recovery {
                    accepted.push(security::NO_PITR_IN_DEV);
                }
                accept(Options::new().policy(data_policy(s)), &accepted)
            }
            Lifecycle::Ephemeral => {
                table.point_in_time_recovery = false;
                table.deletion_protection = false;
                accept(
                    Options::new().policy(Policy::Delete),
                    &[security::TABLE_AWS_KEY, security::EPHEMERAL_NO_PITR],
                )
            }
        };
        built.tables.insert(spec.id, t.add_with(spec.id, table, options));
    }

    // Dead-letter queues first: the work queues' redrive policies name them.
    let mut queues: Vec<_> = QUEUES.to_vec();
    queues.sort_by_key(|q| q.kind != QueueKind::DeadLetters);
    for spec in queues {
        let mut queue = Queue::new();
        if spec.kind == QueueKind::DeadLetters {
            queue.retention = MAX_RETENTION;
        }
        queue.visibility_timeout = queue_visibility(spec);
        queue.receive_wait = spec.receive_wait;
        if let Some(dl) = spec.dead_letter {
            queue = queue.dead_letter_to(&built.queues[dl.queue.id], dl.max_receives);
        }
        let handle = t.add_with(spec.id, queue, Options::new().policy(data_policy(s)));
        built.queues.insert(spec.id, handle);
    }

    for spec in TOPICS {
        add_topic(t, built, spec);
    }

    for spec in SECRETS {
        let secret = t.add_with(
            spec.id,
            GeneratedSecret {
                description: spec.description.into(),
                length: spec.length,
                tags: Vec::new(),
            },
            accept(
                Options::new().policy(Policy::Delete),
                &[security::SECRET_NO_ROTATION, security::SECRET_AWS_KEY],
            ),
        );
        built.secrets.insert(spec.id, secret);
    }
}

/// `alarms` → `Alarms`.
fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// A topic with its own KMS key (the services that publish must be able to use it, which an
/// AWS-managed key does not allow) and a policy that lets those services publish, from this
/// account only, and refuses plain HTTP.
fn add_topic(t: &mut Template, built: &mut Built, spec: &TopicSpec) {
    let from_this_account = || json!({"StringEquals": {"aws:SourceAccount": Expr::account_id()}});
    let key = t.add_with(
        &format!("{}Key", spec.id),
        Key {
            grants: spec
                .service_publishers
                .iter()
                .map(|(service, name)| {
                    Statement::allow(
                        format!("{name}Publishes{}", capitalized(spec.name)),
                        ["kms:Decrypt", "kms:GenerateDataKey*"],
                        [Expr::str("*")],
                    )
                    .principal(Principal::Service(service))
                    .condition(from_this_account())
                })
                .collect(),
            ..Key::new(format!("Encrypts the {} topic", spec.purpose))
        },
        // Deleting a key schedules its deletion after the pending window; nothing is lost at once.
        Options::new().policy(Policy::Delete),
    );
    t.add(
        &format!("{}KeyAlias", spec.id),
        Alias {
            name: Expr::sub(format!("alias/${{AWS::StackName}}/{}", spec.name)),
            target_key_id: key.key_id(),
        },
    );
    let topic = t.add(
        spec.id,
        Topic {
            display_name: format!("{APP} {}", spec.name),
            kms_key: key.arn(),
            tags: Vec::new(),
        },
    );
    let mut statements: Vec<Statement> = spec
        .service_publishers
        .iter()
        .map(|(service, name)| {
            Statement::allow(format!("{name}Publishes"), ["sns:Publish"], [topic.arn()])
                .principal(Principal::Service(service))
                .condition(from_this_account())
        })
        .collect();
    statements.push(
        Statement::allow("DenyInsecureTransport", ["sns:Publish"], [topic.arn()])
            .principal(Principal::Anyone)
            .condition(json!({"Bool": {"aws:SecureTransport": "false"}}))
            .deny(),
    );
    t.add(
        &format!("{}Policy", spec.id),
        TopicPolicy {
            topics: vec![topic.arn()],
            policy: PolicyDocument::new(statements),
        },
    );
    built.topics.insert(spec.id, (topic, key));
}
