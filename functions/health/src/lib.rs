//! `GET /`, `/health`, `/auth/health`: who answers. `GET /health/detailed`: whether every
//! table and the queue answer, with their latency; 503 when one does not.

use std::time::Instant;

use infra_model::contract::api::{DependencyHealth, DetailedHealthResponse, HealthResponse, Operation};
use infra_model::system::functions::HealthBindings;
use order_aws::aws_sdk_dynamodb;
use order_aws::http::{ApiRequest, json, unrouted};
use order_aws::lambda_http::{Body, Response};
use order_aws::messaging::OrderEvents;
use order_aws::{AppConfig, VERSION};

/// What the handler uses, built once per process.
pub struct Health {
    pub config: AppConfig,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub bindings: HealthBindings,
    pub events: OrderEvents,
}

impl Health {
    pub fn new(
        config: AppConfig,
        sdk: &order_aws::aws_config_type::SdkConfig,
        bindings: HealthBindings,
    ) -> Health {
        Health {
            config,
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            events: OrderEvents::new(
                order_aws::aws_sdk_sqs::Client::new(sdk),
                bindings.order_events.as_str(),
            ),
            bindings,
        }
    }

    fn summary(&self, service: &str) -> HealthResponse {
        HealthResponse {
            status: "ok".into(),
            service: service.into(),
            version: VERSION.into(),
            environment: self.config.environment.clone(),
        }
    }

    async fn table(&self, name: &str, table: &str) -> DependencyHealth {
        let start = Instant::now();
        let result = self.dynamodb.describe_table().table_name(table).send().await;
        DependencyHealth {
            name: name.into(),
            healthy: result.is_ok(),
            latency_ms: start.elapsed().as_millis() as u64,
            error: result.err().map(|e| order_aws::error::error_chain(&e)),
        }
    }

    async fn detailed(&self) -> (u16, DetailedHealthResponse) {
        let b = &self.bindings;
        let (orders, inventory, businesses, idempotency) = tokio::join!(
            self.table("ordersTable", b.orders.as_str()),
            self.table("inventoryTable", b.inventory.as_str()),
            self.table("businessesTable", b.businesses.as_str()),
            self.table("idempotencyTable", b.idempotency.as_str()),
        );
        let start = Instant::now();
        let queue = self.events.ping().await;
        let queue = DependencyHealth {
            name: "orderEventsQueue".into(),
            healthy: queue.is_ok(),
            latency_ms: start.elapsed().as_millis() as u64,
            error: queue.err(),
        };
        let dependencies = vec![orders, inventory, businesses, idempotency, queue];
        let healthy = dependencies.iter().all(|d| d.healthy);
        let status = if healthy { 200 } else { 503 };
        (
            status,
            DetailedHealthResponse {
                status: if healthy { "ok" } else { "degraded" }.into(),
                service: "orders".into(),
                version: VERSION.into(),
                environment: self.config.environment.clone(),
                dependencies,
            },
        )
    }

    /// Answers one request.
    pub async fn handle(&self, req: &ApiRequest) -> Response<Body> {
        let (cors, origin) = (&self.config.cors, req.origin.as_deref());
        match req.operation() {
            Some(Operation::GetRoot | Operation::GetHealth) => {
                json(200, &self.summary("orders"), cors, origin)
            }
            Some(Operation::GetAuthHealth) => json(200, &self.summary("auth"), cors, origin),
            Some(Operation::GetDetailedHealth) => {
                let (status, body) = self.detailed().await;
                json(status, &body, cors, origin)
            }
            _ => unrouted(req, cors),
        }
    }
}
