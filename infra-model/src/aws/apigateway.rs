//! API Gateway REST API resources.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::cfn::{Expr, Handle, Resource, Tag};

/// A regional REST API whose API keys come from the `x-api-key` header.
#[derive(Clone, Debug, PartialEq)]
pub struct RestApi {
    pub name: Expr,
    pub description: String,
    pub tags: Vec<Tag>,
}

impl Resource for RestApi {
    const TYPE: &'static str = "AWS::ApiGateway::RestApi";
    fn properties(&self) -> Value {
        let mut p = json!({
            "Name": self.name,
            "Description": self.description,
            "EndpointConfiguration": {"Types": ["REGIONAL"]},
            "ApiKeySourceType": "HEADER",
        });
        if !self.tags.is_empty() {
            p["Tags"] = json!(self.tags);
        }
        p
    }
}

impl Handle<RestApi> {
    pub fn id(&self) -> Expr {
        self.reference()
    }
    pub fn root_resource_id(&self) -> Expr {
        self.att("RootResourceId")
    }
}

/// One path segment of the API (`orders`, `{orderId}`).
#[derive(Clone, Debug, PartialEq)]
pub struct PathResource {
    pub rest_api_id: Expr,
    pub parent_id: Expr,
    pub path_part: String,
}

impl Resource for PathResource {
    const TYPE: &'static str = "AWS::ApiGateway::Resource";
    fn properties(&self) -> Value {
        json!({"RestApiId": self.rest_api_id, "ParentId": self.parent_id, "PathPart": self.path_part})
    }
}

impl Handle<PathResource> {
    pub fn id(&self) -> Expr {
        self.reference()
    }
}

/// How a method reaches its backend.
#[derive(Clone, Debug, PartialEq)]
pub enum Integration {
    /// Lambda proxy integration: the function gets the whole request and answers the response.
    LambdaProxy { function_arn: Expr },
    /// The CORS preflight, answered by API Gateway itself. With several allowed origins the
    /// response echoes the request's `Origin` when it is one of them.
    CorsPreflight {
        origins: Vec<String>,
        methods: Vec<String>,
        headers: Vec<String>,
    },
}

/// One HTTP method on a path.
#[derive(Clone, Debug, PartialEq)]
pub struct Method {
    pub rest_api_id: Expr,
    pub resource_id: Expr,
    pub http_method: String,
    pub api_key_required: bool,
    pub request_validator_id: Option<Expr>,
    /// `application/json` → model name.
    pub request_model: Option<Expr>,
    /// `method.request.querystring.x` / `method.request.path.x` → required.
    pub request_parameters: BTreeMap<String, bool>,
    pub integration: Integration,
}

/// The origin API Gateway puts in its own responses when it cannot echo the request's.
pub fn static_origin(origins: &[String]) -> String {
    origins.first().cloned().unwrap_or_else(|| "*".into())
}

impl Resource for Method {
    const TYPE: &'static str = "AWS::ApiGateway::Method";
    fn properties(&self) -> Value {
        let mut p = json!({
            "RestApiId": self.rest_api_id,
            "ResourceId": self.resource_id,
            "HttpMethod": self.http_method,
            "AuthorizationType": "NONE",
            "ApiKeyRequired": self.api_key_required,
        });
        if let Some(v) = &self.request_validator_id {
            p["RequestValidatorId"] = json!(v);
        }
        if let Some(m) = &self.request_model {
            p["RequestModels"] = json!({"application/json": m});
        }
        if !self.request_parameters.is_empty() {
            p["RequestParameters"] = json!(self.request_parameters);
        }
        match &self.integration {
            Integration::LambdaProxy { function_arn } => {
                p["Integration"] = json!({
                    "Type": "AWS_PROXY",
                    "IntegrationHttpMethod": "POST",
                    "Uri": Expr::sub_with(
                        "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${FunctionArn}/invocations",
                        [("FunctionArn", function_arn.clone())],
                    ),
                });
            }
            Integration::CorsPreflight {
                origins,
                methods,
                headers,
            } => {
                let header = |h: &str| format!("method.response.header.{h}");
                let quoted = |s: &str| format!("'{s}'");
                let mut response_params = BTreeMap::new();
                response_params.insert(header("Access-Control-Allow-Headers"), quoted(&headers.join(",")));
                response_params.insert(header("Access-Control-Allow-Methods"), quoted(&methods.join(",")));
                response_params.insert(
                    header("Access-Control-Allow-Origin"),
                    quoted(&static_origin(origins)),
                );
                response_params.insert(header("Access-Control-Max-Age"), quoted("600"));
                response_params.insert(header("Vary"), quoted("Origin"));
                let mut integration_response =
                    json!({"StatusCode": "204", "ResponseParameters": response_params});
                if origins.len() > 1 {
                    let allowed = origins
                        .iter()
                        .map(|o| format!("$origin == \"{o}\""))
                        .collect::<Vec<_>>()
                        .join(" || ");
                    integration_response["ResponseTemplates"] = json!({
                        "application/json": format!(
                            "#set($origin = $input.params().header.get(\"Origin\"))\n\
                             #if(\"$!origin\" == \"\")#set($origin = $input.params().header.get(\"origin\"))#end\n\
                             #if({allowed})\n\
                             #set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)\n\
                             #end"
                        )
                    });
                }
                p["Integration"] = json!({
                    "Type": "MOCK",
                    "RequestTemplates": {"application/json": "{\"statusCode\": 204}"},
                    "IntegrationResponses": [integration_response],
                });
                let declared: BTreeMap<String, bool> =
                    response_params.keys().map(|k| (k.clone(), true)).collect();
                p["MethodResponses"] = json!([{"StatusCode": "204", "ResponseParameters": declared}]);
            }
        }
        p
    }
}

/// A JSON Schema (draft 4) request model.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub rest_api_id: Expr,
    pub name: String,
    pub description: String,
    pub schema: Value,
}

impl Resource for Model {
    const TYPE: &'static str = "AWS::ApiGateway::Model";
    fn properties(&self) -> Value {
        json!({
            "RestApiId": self.rest_api_id,
            "Name": self.name,
            "Description": self.description,
            "ContentType": "application/json",
            "Schema": self.schema,
        })
    }
}

impl Handle<Model> {
    pub fn name(&self) -> Expr {
        self.reference()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RequestValidator {
    pub rest_api_id: Expr,
    pub name: String,
    pub validate_body: bool,
    pub validate_parameters: bool,
}

impl Resource for RequestValidator {
    const TYPE: &'static str = "AWS::ApiGateway::RequestValidator";
    fn properties(&self) -> Value {
        json!({
            "RestApiId": self.rest_api_id,
            "Name": self.name,
            "ValidateRequestBody": self.validate_body,
            "ValidateRequestParameters": self.validate_parameters,
        })
    }
}

impl Handle<RequestValidator> {
    pub fn id(&self) -> Expr {
        self.reference()
    }
}

/// A snapshot of the API's routes. CloudFormation creates a new one only when the resource is
/// new, so its logical id carries a hash of everything it snapshots.
#[derive(Clone, Debug, PartialEq)]
pub struct Deployment {
    pub rest_api_id: Expr,
    pub description: String,
}

impl Resource for Deployment {
    const TYPE: &'static str = "AWS::ApiGateway::Deployment";
    fn properties(&self) -> Value {
        json!({"RestApiId": self.rest_api_id, "Description": self.description})
    }
}

impl Handle<Deployment> {
    pub fn id(&self) -> Expr {
        self.reference()
    }
}

/// Request rate limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttle {
    pub rate_per_second: u32,
    pub burst: u32,
}

/// A stage: the deployed API at a URL, with tracing, access logs and throttling.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    pub rest_api_id: Expr,
    pub deployment_id: Expr,
    pub stage_name: String,
    pub access_log_arn: Expr,
    pub throttle: Throttle,
    pub tags: Vec<Tag>,
}

/// The access log line: one JSON object per request.
pub const ACCESS_LOG_FORMAT: &str = r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","apiKeyId":"$context.identity.apiKeyId","requestTime":"$context.requestTime","httpMethod":"$context.httpMethod","path":"$context.path","resourcePath":"$context.resourcePath","status":"$context.status","responseLength":"$context.responseLength","latencyMs":"$context.responseLatency","integrationLatencyMs":"$context.integration.latency","errorType":"$context.error.responseType","xrayTraceId":"$context.xrayTraceId"}"#;

impl Resource for Stage {
    const TYPE: &'static str = "AWS::ApiGateway::Stage";
    fn properties(&self) -> Value {
        let mut p = json!({
            "RestApiId": self.rest_api_id,
            "DeploymentId": self.deployment_id,
            "StageName": self.stage_name,
            "TracingEnabled": true,
            "AccessLogSetting": {"DestinationArn": self.access_log_arn, "Format": ACCESS_LOG_FORMAT},
            "MethodSettings": [{
                "ResourcePath": "/*",
                "HttpMethod": "*",
                "ThrottlingRateLimit": self.throttle.rate_per_second,
                "ThrottlingBurstLimit": self.throttle.burst,
                "MetricsEnabled": true,
                "LoggingLevel": "ERROR",
                "DataTraceEnabled": false,
            }],
        });
        if !self.tags.is_empty() {
            p["Tags"] = json!(self.tags);
        }
        p
    }
}

impl Handle<Stage> {
    pub fn name(&self) -> Expr {
        self.reference()
    }
}

/// An API key whose value API Gateway generates.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiKey {
    pub name: Expr,
    pub description: String,
    pub tags: Vec<Tag>,
}

impl Resource for ApiKey {
    const TYPE: &'static str = "AWS::ApiGateway::ApiKey";
    fn properties(&self) -> Value {
        let mut p = json!({"Name": self.name, "Description": self.description, "Enabled": true});
        if !self.tags.is_empty() {
            p["Tags"] = json!(self.tags);
        }
        p
    }
}

impl Handle<ApiKey> {
    pub fn id(&self) -> Expr {
        self.reference()
    }
}

/// Throttling and a daily quota for the keys on the plan.
#[derive(Clone, Debug, PartialEq)]
pub struct UsagePlan {
    pub name: Expr,
    pub description: String,
    pub rest_api_id: Expr,
    pub stage: Expr,
    pub throttle: Throttle,
    pub daily_quota: u32,
    pub tags: Vec<Tag>,
}

impl Resource for UsagePlan {
    const TYPE: &'static str = "AWS::ApiGateway::UsagePlan";
    fn properties(&self) -> Value {
        let mut p = json!({
            "UsagePlanName": self.name,
            "Description": self.description,
            "ApiStages": [{"ApiId": self.rest_api_id, "Stage": self.stage}],
            "Throttle": {"RateLimit": self.throttle.rate_per_second, "BurstLimit": self.throttle.burst},
            "Quota": {"Limit": self.daily_quota, "Period": "DAY"},
        });
        if !self.tags.is_empty() {
            p["Tags"] = json!(self.tags);
        }
        p
    }
}

impl Handle<UsagePlan> {
    pub fn id(&self) -> Expr {
        self.reference()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct UsagePlanKey {
    pub key_id: Expr,
    pub usage_plan_id: Expr,
}

impl Resource for UsagePlanKey {
    const TYPE: &'static str = "AWS::ApiGateway::UsagePlanKey";
    fn properties(&self) -> Value {
        json!({"KeyId": self.key_id, "KeyType": "API_KEY", "UsagePlanId": self.usage_plan_id})
    }
}

/// A response API Gateway produces itself (no route, no key, throttled, ...), in the API's
/// error format.
#[derive(Clone, Debug, PartialEq)]
pub struct GatewayResponse {
    pub rest_api_id: Expr,
    pub response_type: &'static str,
    pub status_code: Option<u16>,
    pub allow_origin: String,
    pub template: String,
}

impl Resource for GatewayResponse {
    const TYPE: &'static str = "AWS::ApiGateway::GatewayResponse";
    fn properties(&self) -> Value {
        let mut p = json!({
            "RestApiId": self.rest_api_id,
            "ResponseType": self.response_type,
            "ResponseParameters": {
                "gatewayresponse.header.Access-Control-Allow-Origin": format!("'{}'", self.allow_origin),
                "gatewayresponse.header.Content-Type": "'application/json'",
            },
            "ResponseTemplates": {"application/json": self.template},
        });
        if let Some(code) = self.status_code {
            p["StatusCode"] = json!(code.to_string());
        }
        p
    }
}

/// The region-wide API Gateway setting that lets it write logs to CloudWatch.
#[derive(Clone, Debug, PartialEq)]
pub struct Account {
    pub cloudwatch_role_arn: Expr,
}

impl Resource for Account {
    const TYPE: &'static str = "AWS::ApiGateway::Account";
    fn properties(&self) -> Value {
        json!({"CloudWatchRoleArn": self.cloudwatch_role_arn})
    }
}
