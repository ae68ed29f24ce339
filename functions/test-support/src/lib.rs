//! What the functions' handler tests share: one moto server per test binary (the AWS-compatible
//! emulator, pinned and installed into the project's tool folder), the system's tables created
//! from their declarations (so tests use the real key schema and indexes), and real Lambda
//! event fixtures.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test support: a panic is the report

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use infra_model::aws::dynamodb::Key;
use infra_model::decl::{FunctionBindings, IndexProjection, TableSpec, Target};
use infra_model::system::resources::{INVENTORY, ORDERS};
use local_cloud::moto::MotoServer;
use order_aws::aws_config_type::{Region, SdkConfig};
use order_aws::aws_sdk_dynamodb::config::Credentials;
use order_aws::aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};
use order_aws::{aws_sdk_dynamodb, aws_sdk_sfn, aws_sdk_sqs};
use serde_json::Value;

/// The moto server of this test binary, started on first use (the local cloud's one launcher:
/// it stops when the test process ends).
pub fn moto() -> &'static MotoServer {
    static MOTO: OnceLock<MotoServer> = OnceLock::new();
    MOTO.get_or_init(|| {
        MotoServer::start().expect("moto starts (installed into the tools folder on first use)")
    })
}

/// The SDK configuration for the emulator: its endpoint, test credentials, us-east-1.
pub async fn sdk() -> SdkConfig {
    order_aws::sdk_loader()
        .endpoint_url(&moto().endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test-support"))
        .load()
        .await
}

/// A name no other test of this process uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// The system's tables, created as the model declares them (keys, indexes, stream, TTL),
/// under unique names. Returns table id (`OrdersTable`) → table name.
pub async fn create_tables(sdk: &SdkConfig) -> BTreeMap<String, String> {
    let client = aws_sdk_dynamodb::Client::new(sdk);
    let mut names = BTreeMap::new();
    for spec in infra_model::system::TABLES {
        let name = unique(spec.id);
        create_table(&client, spec, &name).await;
        names.insert(spec.id.to_owned(), name);
    }
    names
}

/// One declared table, under `name`.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, spec: &TableSpec, name: &str) {
    let key = |k: &Key, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(k.name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    let schema = |partition: &Key, sort: &Option<Key>| {
        let mut s = vec![key(partition, KeyType::Hash)];
        s.extend(sort.iter().map(|k| key(k, KeyType::Range)));
        s
    };
    let mut attributes: BTreeMap<&str, &str> = BTreeMap::new();
    for k in std::iter::once(&spec.partition).chain(spec.sort.iter()).chain(
        spec.indexes
            .iter()
            .flat_map(|i| std::iter::once(&i.partition).chain(i.sort.iter())),
    ) {
        attributes.insert(k.name, k.kind.code());
    }
    let mut req = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(schema(&spec.partition, &spec.sort)));
    for (attr, kind) in attributes {
        req = req.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attr)
                .attribute_type(ScalarAttributeType::from(kind))
                .build()
                .unwrap(),
        );
    }
    for i in spec.indexes {
        let projection = match i.projection {
            IndexProjection::All => ProjectionType::All,
            IndexProjection::KeysOnly => ProjectionType::KeysOnly,
        };
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(i.name)
                .set_key_schema(Some(schema(&i.partition, &i.sort)))
                .projection(Projection::builder().projection_type(projection).build())
                .build()
                .unwrap(),
        );
    }
    if let Some(view) = spec.stream {
        req = req.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(view.code()))
                .build()
                .unwrap(),
        );
    }
    req.send()
        .await
        .unwrap_or_else(|e| panic!("create table {name}: {e:?}"));
}

/// A function's bindings as a deployed function reads them: each binding's variable set to
/// `value_of(target)` (a test's table name, queue URL, ...); a binding without a value is left
/// unset, which the bindings report.
pub fn bindings<B: FunctionBindings>(value_of: impl Fn(Target) -> Option<String>) -> B {
    let env: BTreeMap<String, String> = B::BINDINGS
        .iter()
        .filter_map(|b| Some((b.target.env_var(), value_of(b.target)?)))
        .collect();
    B::from_lookup(|k| env.get(k).cloned()).unwrap()
}

/// A queue with a unique name; returns its URL.
pub async fn create_queue(sdk: &SdkConfig) -> String {
    let out = aws_sdk_sqs::Client::new(sdk)
        .create_queue()
        .queue_name(unique("queue"))
        .send()
        .await
        .unwrap();
    out.queue_url().unwrap().to_owned()
}

/// The messages waiting in a queue (received, not deleted).
pub async fn receive_all(sdk: &SdkConfig, queue_url: &str) -> Vec<String> {
    let out = aws_sdk_sqs::Client::new(sdk)
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    out.messages()
        .iter()
        .filter_map(|m| m.body().map(str::to_owned))
        .collect()
}

/// A state machine holding the order workflow's definition (task ARNs are placeholders: the
/// emulator only records executions); returns its ARN.
pub async fn create_state_machine(sdk: &SdkConfig) -> String {
    let definition = infra_model::system::workflow::definition();
    let mut asl = definition
        .to_asl()
        .to_string()
        .replace("${AWS::Partition}", "aws");
    for f in definition.task_functions() {
        asl = asl.replace(
            &format!("${{{}}}", f.arn_var()),
            &format!("arn:aws:lambda:us-east-1:123456789012:function:{}", f.name),
        );
    }
    let out = aws_sdk_sfn::Client::new(sdk)
        .create_state_machine()
        .name(unique("workflow"))
        .definition(asl)
        .role_arn("arn:aws:iam::123456789012:role/order-workflow")
        .send()
        .await
        .unwrap();
    out.state_machine_arn().to_owned()
}

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A fixture's JSON.
pub fn fixture(name: &str) -> Value {
    let path = fixtures_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// An API Gateway REST proxy event (the fixture) for a request.
pub fn api_event(method: &str, resource: &str, path: &str, body: Option<&str>) -> Value {
    let mut e = fixture("apigw-rest-proxy.json");
    e["httpMethod"] = method.into();
    e["resource"] = resource.into();
    e["path"] = path.into();
    e["requestContext"]["httpMethod"] = method.into();
    e["requestContext"]["resourcePath"] = resource.into();
    e["requestContext"]["path"] = format!("/dev{path}").into();
    e["body"] = body.map_or(Value::Null, Value::from);
    let mut params = serde_json::Map::new();
    for (r, p) in resource.split('/').zip(path.split('/')) {
        if let Some(name) = r.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
            params.insert(name.to_owned(), p.into());
        }
    }
    e["pathParameters"] = if params.is_empty() {
        Value::Null
    } else {
        Value::Object(params)
    };
    e
}

/// Sets a header on an API event.
pub fn with_header(mut e: Value, name: &str, value: &str) -> Value {
    e["headers"][name] = value.into();
    e["multiValueHeaders"][name] = serde_json::json!([value]);
    e
}

/// Sets the query string of an API event.
pub fn with_query(mut e: Value, pairs: &[(&str, &str)]) -> Value {
    let mut single = serde_json::Map::new();
    let mut multi = serde_json::Map::new();
    for (k, v) in pairs {
        single.insert((*k).into(), (*v).into());
        multi
            .entry((*k).to_owned())
            .or_insert_with(|| Value::Array(vec![]))
            .as_array_mut()
            .unwrap()
            .push((*v).into());
    }
    e["queryStringParameters"] = Value::Object(single);
    e["multiValueQueryStringParameters"] = Value::Object(multi);
    e
}

/// The request a Lambda function receives for an API event, as the handlers read it.
pub fn api_request(event: &Value) -> order_aws::http::ApiRequest {
    let req =
        order_aws::lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway event");
    order_aws::http::ApiRequest::from_lambda(&req)
}

/// A response's status and JSON body.
pub fn response_json(r: order_aws::lambda_http::Response<order_aws::lambda_http::Body>) -> (u16, Value) {
    let status = r.status().as_u16();
    let body: &[u8] = r.body().as_ref();
    let json = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body).unwrap()
    };
    (status, json)
}

/// A plain JSON value as DynamoDB JSON (`{"S": ...}`), as stream images carry it.
pub fn to_dynamodb_json(v: &Value) -> Value {
    match v {
        Value::Null => serde_json::json!({"NULL": true}),
        Value::Bool(b) => serde_json::json!({"BOOL": b}),
        Value::Number(n) => serde_json::json!({"N": n.to_string()}),
        Value::String(s) => serde_json::json!({"S": s}),
        Value::Array(a) => serde_json::json!({"L": a.iter().map(to_dynamodb_json).collect::<Vec<_>>()}),
        Value::Object(o) => {
            let m: serde_json::Map<String, Value> =
                o.iter().map(|(k, v)| (k.clone(), to_dynamodb_json(v))).collect();
            serde_json::json!({"M": m})
        }
    }
}

/// A stream INSERT event (the fixture) carrying `record` as its new image.
pub fn stream_insert_event(record: &impl serde::Serialize) -> Value {
    let mut e = fixture("dynamodb-stream-insert.json");
    let plain = serde_json::to_value(record).unwrap();
    let image: serde_json::Map<String, Value> = plain
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), to_dynamodb_json(v)))
        .collect();
    e["Records"][0]["dynamodb"]["Keys"]["orderId"]["S"] = plain["orderId"].clone();
    e["Records"][0]["dynamodb"]["NewImage"] = Value::Object(image);
    e
}

/// An SQS event (the fixture) with one message.
pub fn sqs_event(body: &str) -> Value {
    let mut e = fixture("sqs-event.json");
    e["Records"][0]["body"] = body.into();
    e
}

/// Writes a line to stderr (visible with `--nocapture`).
pub fn note(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// The stores of one test's fresh tables, with a stocked inventory.
pub struct Stores {
    pub sdk: SdkConfig,
    pub tables: BTreeMap<String, String>,
    pub orders: order_aws::orders::OrderStore,
    pub inventory: order_aws::inventory::InventoryStore,
}

/// Fresh tables; the inventory holds `stock` of each `(sku, stock, price_cents)`.
pub async fn stores(stock: &[(&str, u64, u64)]) -> Stores {
    let sdk = sdk().await;
    let tables = create_tables(&sdk).await;
    let db = aws_sdk_dynamodb::Client::new(&sdk);
    let inventory_table = &tables[INVENTORY.spec.id];
    let inventory = order_aws::inventory::InventoryStore::new(db.clone(), inventory_table);
    for (sku, stock, price_cents) in stock {
        inventory
            .put(&order_aws::inventory::ProductRecord {
                sku: (*sku).into(),
                stock: *stock,
                price_cents: *price_cents,
                name: format!("Product {sku}"),
                description: String::new(),
                updated_at: "2026-11-01T00:00:00.000Z".into(),
            })
            .await
            .unwrap();
    }
    let orders =
        order_aws::orders::OrderStore::new(db, &tables[ORDERS.spec.id]).with_inventory(inventory_table);
    Stores {
        sdk,
        tables,
        orders,
        inventory,
    }
}

impl Stores {
    /// The stock of a SKU now.
    pub async fn stock(&self, sku: &str) -> u64 {
        self.inventory
            .get(sku)
            .await
            .unwrap()
            .map(|p| p.stock)
            .unwrap_or(0)
    }

    /// Stores a PENDING order of `lines` (sku, quantity) for `email`; returns its record.
    pub async fn pending_order(&self, email: &str, lines: &[(&str, u32)]) -> order_aws::orders::OrderRecord {
        use infra_model::contract::api::{OrderLine, PaymentMethod, ShippingAddress};
        use infra_model::contract::money::Money;
        let lines: Vec<OrderLine> = lines
            .iter()
            .map(|(sku, q)| OrderLine {
                sku: (*sku).into(),
                product_name: format!("Product {sku}"),
                quantity: *q,
                unit_price: Money::from_cents(1000),
                line_total: Money::from_cents(1000 * u64::from(*q)),
            })
            .collect();
        let total = Money::from_cents(lines.iter().map(|l| l.line_total.cents()).sum());
        let mut random = [0u8; 16];
        let id = unique("o");
        for (i, b) in id.bytes().enumerate() {
            random[i % 16] ^= b.wrapping_mul(31).wrapping_add(i as u8);
        }
        let order = order_aws::orders::OrderRecord::new_pending(
            order_core::ids::uuid_v4(random),
            "Ann Example".into(),
            email.into(),
            &lines,
            total,
            ShippingAddress {
                street: "1 Main St".into(),
                city: "Springfield".into(),
                postal_code: "12345".into(),
                country: "USA".into(),
            },
            PaymentMethod::Card,
            "2026-11-23T04:00:00.000Z".into(),
        );
        self.orders.create(&order).await.unwrap();
        order
    }

    /// An order's status now.
    pub async fn status(&self, order_id: &str) -> infra_model::contract::api::OrderStatus {
        self.orders.get(order_id).await.unwrap().unwrap().status
    }
}
