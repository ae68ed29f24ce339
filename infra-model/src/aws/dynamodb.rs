//! `AWS::DynamoDB::Table`, with named constructors and safe defaults.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::cfn::{Expr, Handle, Resource, Tag};

/// The type of a key attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AttrType {
    String,
    Number,
    Binary,
}

impl AttrType {
    pub fn code(self) -> &'static str {
        match self {
            AttrType::String => "S",
            AttrType::Number => "N",
            AttrType::Binary => "B",
        }
    }
}

/// A key attribute: its name and type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    pub name: &'static str,
    pub kind: AttrType,
}

impl Key {
    pub const fn string(name: &'static str) -> Key {
        Key {
            name,
            kind: AttrType::String,
        }
    }
    pub const fn number(name: &'static str) -> Key {
        Key {
            name,
            kind: AttrType::Number,
        }
    }
}

/// How the table is paid for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Billing {
    /// Pay per request; no capacity planning.
    OnDemand,
    /// Fixed read and write capacity units.
    Provisioned { read: u32, write: u32 },
}

impl Billing {
    pub fn on_demand() -> Billing {
        Billing::OnDemand
    }
}

/// What a stream record carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamView {
    KeysOnly,
    NewImage,
    OldImage,
    NewAndOldImages,
}

impl StreamView {
    pub fn code(self) -> &'static str {
        match self {
            StreamView::KeysOnly => "KEYS_ONLY",
            StreamView::NewImage => "NEW_IMAGE",
            StreamView::OldImage => "OLD_IMAGE",
            StreamView::NewAndOldImages => "NEW_AND_OLD_IMAGES",
        }
    }
}

/// Which attributes an index copies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Projection {
    All,
    KeysOnly,
    Include(Vec<&'static str>),
}

/// A global secondary index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalIndex {
    pub name: &'static str,
    pub partition: Key,
    pub sort: Option<Key>,
    pub projection: Projection,
}

/// How the table is encrypted at rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableEncryption {
    /// A key owned by DynamoDB (no KMS charges, no key policy to see).
    AwsOwned,
    /// The AWS-managed KMS key `aws/dynamodb` (use of the key shows in CloudTrail).
    AwsManaged,
}

/// A DynamoDB table.
///
/// Defaults (`Table::new`): on-demand billing, encrypted with the AWS-managed KMS key,
/// point-in-time recovery off, no stream, no TTL, deletion protection off.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub partition: Key,
    pub sort: Option<Key>,
    pub billing: Billing,
    pub indexes: Vec<GlobalIndex>,
    pub stream: Option<StreamView>,
    pub point_in_time_recovery: bool,
    pub encryption: TableEncryption,
    pub ttl_attribute: Option<&'static str>,
    pub deletion_protection: bool,
    pub tags: Vec<Tag>,
}

impl Table {
    pub fn new(partition: Key) -> Table {
        Table {
            partition,
            sort: None,
            billing: Billing::OnDemand,
            indexes: Vec::new(),
            stream: None,
            point_in_time_recovery: false,
            encryption: TableEncryption::AwsManaged,
            ttl_attribute: None,
            deletion_protection: false,
            tags: Vec::new(),
        }
    }

    /// The definition of every key attribute, once each, sorted by name.
    fn attribute_definitions(&self) -> Vec<Value> {
        let mut defs: BTreeMap<&str, AttrType> = BTreeMap::new();
        let keys = std::iter::once(&self.partition).chain(self.sort.as_ref()).chain(
            self.indexes
                .iter()
                .flat_map(|i| std::iter::once(&i.partition).chain(i.sort.as_ref())),
        );
        for k in keys {
            defs.insert(k.name, k.kind);
        }
        defs.into_iter()
            .map(|(name, kind)| json!({"AttributeName": name, "AttributeType": kind.code()}))
            .collect()
    }
}

fn key_schema(partition: &Key, sort: Option<&Key>) -> Value {
    let mut schema = vec![json!({"AttributeName": partition.name, "KeyType": "HASH"})];
    if let Some(s) = sort {
        schema.push(json!({"AttributeName": s.name, "KeyType": "RANGE"}));
    }
    Value::Array(schema)
}

impl Resource for Table {
    const TYPE: &'static str = "AWS::DynamoDB::Table";

    fn properties(&self) -> Value {
        let mut p = serde_json::Map::new();
        p.insert(
            "AttributeDefinitions".into(),
            Value::Array(self.attribute_definitions()),
        );
        p.insert(
            "KeySchema".into(),
            key_schema(&self.partition, self.sort.as_ref()),
        );
        match self.billing {
            Billing::OnDemand => {
                p.insert("BillingMode".into(), json!("PAY_PER_REQUEST"));
            }
            Billing::Provisioned { read, write } => {
                p.insert("BillingMode".into(), json!("PROVISIONED"));
                p.insert(
                    "ProvisionedThroughput".into(),
                    json!({"ReadCapacityUnits": read, "WriteCapacityUnits": write}),
                );
            }
        }
        if !self.indexes.is_empty() {
            let indexes: Vec<Value> = self
                .indexes
                .iter()
                .map(|i| {
                    let projection = match &i.projection {
                        Projection::All => json!({"ProjectionType": "ALL"}),
                        Projection::KeysOnly => json!({"ProjectionType": "KEYS_ONLY"}),
                        Projection::Include(attrs) => {
                            json!({"ProjectionType": "INCLUDE", "NonKeyAttributes": attrs})
                        }
                    };
                    let mut index = json!({
                        "IndexName": i.name,
                        "KeySchema": key_schema(&i.partition, i.sort.as_ref()),
                        "Projection": projection,
                    });
                    if let Billing::Provisioned { read, write } = self.billing {
                        index["ProvisionedThroughput"] =
                            json!({"ReadCapacityUnits": read, "WriteCapacityUnits": write});
                    }
                    index
                })
                .collect();
            p.insert("GlobalSecondaryIndexes".into(), Value::Array(indexes));
        }
        if let Some(view) = self.stream {
            p.insert(
                "StreamSpecification".into(),
                json!({"StreamViewType": view.code()}),
            );
        }
        p.insert(
            "PointInTimeRecoverySpecification".into(),
            json!({"PointInTimeRecoveryEnabled": self.point_in_time_recovery}),
        );
        match self.encryption {
            TableEncryption::AwsOwned => {}
            TableEncryption::AwsManaged => {
                p.insert(
                    "SSESpecification".into(),
                    json!({"SSEEnabled": true, "SSEType": "KMS"}),
                );
            }
        }
        if let Some(attr) = self.ttl_attribute {
            p.insert(
                "TimeToLiveSpecification".into(),
                json!({"AttributeName": attr, "Enabled": true}),
            );
        }
        if self.deletion_protection {
            p.insert("DeletionProtectionEnabled".into(), json!(true));
        }
        if !self.tags.is_empty() {
            p.insert("Tags".into(), json!(self.tags));
        }
        Value::Object(p)
    }
}

impl Handle<Table> {
    /// The table's name (`Ref`).
    pub fn name(&self) -> Expr {
        self.reference()
    }
    pub fn arn(&self) -> Expr {
        self.att("Arn")
    }
    /// The ARN of the table's stream; the table must have one.
    pub fn stream_arn(&self) -> Expr {
        self.att("StreamArn")
    }
    /// The ARN of one of the table's indexes.
    pub fn index_arn(&self, index: &str) -> Expr {
        Expr::sub(format!("${{{}.Arn}}/index/{index}", self.logical_id()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_defaults_to_on_demand_encrypted_without_pitr() {
        let t = Table::new(Key::string("id"));
        let p = t.properties();
        assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
        assert_eq!(
            p["SSESpecification"],
            json!({"SSEEnabled": true, "SSEType": "KMS"})
        );
        assert_eq!(
            p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
            false
        );
        assert!(p.get("StreamSpecification").is_none());
        assert!(p.get("TimeToLiveSpecification").is_none());
        assert!(p.get("DeletionProtectionEnabled").is_none());
    }

    #[test]
    fn attribute_definitions_cover_every_key_once() {
        let mut t = Table::new(Key::string("pk"));
        t.sort = Some(Key::number("sk"));
        t.indexes = vec![
            GlobalIndex {
                name: "a",
                partition: Key::string("x"),
                sort: Some(Key::string("pk")),
                projection: Projection::KeysOnly,
            },
            GlobalIndex {
                name: "b",
                partition: Key::string("x"),
                sort: None,
                projection: Projection::Include(vec!["y"]),
            },
        ];
        let p = t.properties();
        assert_eq!(
            p["AttributeDefinitions"],
            json!([
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
                {"AttributeName": "x", "AttributeType": "S"},
            ])
        );
        assert_eq!(
            p["GlobalSecondaryIndexes"][1]["Projection"]["NonKeyAttributes"],
            json!(["y"])
        );
    }

    #[test]
    fn provisioned_billing_sets_capacity_on_table_and_indexes() {
        let mut t = Table::new(Key::string("pk"));
        t.billing = Billing::Provisioned { read: 5, write: 2 };
        t.indexes.push(GlobalIndex {
            name: "i",
            partition: Key::string("g"),
            sort: None,
            projection: Projection::All,
        });
        let p = t.properties();
        assert_eq!(p["BillingMode"], "PROVISIONED");
        assert_eq!(p["ProvisionedThroughput"]["ReadCapacityUnits"], 5);
        assert_eq!(
            p["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"]["WriteCapacityUnits"],
            2
        );
    }
}
