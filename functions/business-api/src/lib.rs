//! `POST /auth/register-business` (seed 000): registers a business; an e-mail can be
//! registered once (409 on the second time).

use infra_model::contract::api::{ErrorCode, Operation, RegisterBusinessResponse};
use order_aws::AppConfig;
use order_aws::api::{failure, new_id, problem};
use order_aws::businesses::{BusinessRecord, BusinessStore, Registration};
use order_aws::http::{ApiRequest, json, unrouted};
use order_aws::lambda_http::{Body, Response};
use order_core::ApiProblem;
use order_core::requests::parse_register_business;
use tracing::info;

pub struct BusinessApi {
    pub config: AppConfig,
    pub businesses: BusinessStore,
}

impl BusinessApi {
    pub async fn handle(&self, req: &ApiRequest, now: &str) -> Response<Body> {
        let cors = &self.config.cors;
        if req.operation() != Some(Operation::RegisterBusiness) {
            return unrouted(req, cors);
        }
        let r = match parse_register_business(&req.body, req.content_type.as_deref()) {
            Ok(r) => r,
            Err(p) => return problem(req, cors, &p),
        };
        let business_id = match new_id() {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(error = %e);
                return problem(req, cors, &ApiProblem::internal());
            }
        };
        let record = BusinessRecord {
            business_id,
            business_name: r.business_name,
            email: r.email,
            phone: r.phone,
            address: r.address,
            cognito_user_id: r.cognito_user_id,
            created_at: now.to_owned(),
        };
        match self.businesses.register(&record).await {
            Ok(Registration::Registered) => {
                info!(business_id = %record.business_id, "business registered");
                json(
                    201,
                    &RegisterBusinessResponse {
                        business_id: record.business_id,
                        business_name: record.business_name,
                        email: record.email,
                        created_at: record.created_at,
                        message: "Business registered".into(),
                    },
                    cors,
                    req.origin.as_deref(),
                )
            }
            Ok(Registration::EmailTaken) => problem(
                req,
                cors,
                &ApiProblem::new(
                    ErrorCode::Conflict,
                    "Invalid field email: a business with this e-mail is already registered",
                ),
            ),
            Err(e) => failure(req, cors, "the businesses table", &e),
        }
    }
}
