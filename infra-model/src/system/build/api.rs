//! The REST API, from the routes: paths, methods, models, the validator, CORS preflight,
//! gateway responses, the deployment, the stage, the key and its usage plan.

use std::collections::BTreeMap;

use super::Built;
use super::log_policy;
use crate::aws::apigateway::{
    ApiKey, Deployment, GatewayResponse, Integration, Method, Model, PathResource, RequestValidator, RestApi,
    Stage, UsagePlan, UsagePlanKey, static_origin,
};
use crate::aws::lambda::{Function, Permission};
use crate::aws::logs::LogGroup;
use crate::cfn::{AnyHandle, Expr, Handle, Options, Resource, Template};
use crate::decl::{Route, Trigger};
use crate::system::FUNCTIONS;
use crate::system::api::{CORS_ALLOWED_HEADERS, GATEWAY_RESPONSES, ROUTES, methods_of};
use crate::system::env::{Env, Settings};
use crate::system::security::{self, Accepted, accept};

pub(super) struct Api {
    pub stage: Handle<Stage>,
    pub key: Handle<ApiKey>,
}

/// `/orders/{orderId}` → `OrdersOrderId`; `/` → `Root`.
fn path_id(path: &str) -> String {
    let id: String = path
        .split(['/', '-', '{', '}'])
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    if id.is_empty() { "Root".into() } else { id }
}

/// A stable 8-hex-digit FNV-1a hash, for the deployment's logical id.
fn fnv_hex(data: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:08X}", h >> 32)
}

pub(super) fn add(t: &mut Template, env: Env, settings: &Settings, built: &Built) -> Api {
    let functions = &built.functions;
    let api = t.add(
        "Api",
        RestApi {
            name: Expr::sub("${AWS::StackName}-api"),
            description: format!("Order processing API ({})", env.name()),
            tags: Vec::new(),
        },
    );
    // What the deployment snapshots: every resource that changes what the API serves. The
    // deployment depends on each of them (so a first create deploys them all) and the hash of
    // their properties is part of its logical id (so any change, a validator flag, a CORS
    // header, the function a route calls, a route removed, makes CloudFormation deploy again).
    let mut served = Served::default();

    let validator = served.add(
        t,
        "ApiRequestValidator",
        RequestValidator {
            rest_api_id: api.id(),
            name: "parameters".into(),
            // Bodies are validated by the handler against the same types, because API Gateway
            // cannot render its body-validation errors in the API's error format with the
            // field named (gateway response templates do no escaping).
            validate_body: false,
            validate_parameters: true,
        },
    );
    let mut models = BTreeMap::new();
    for body in ROUTES.iter().filter_map(|r| r.body) {
        if models.contains_key(body.name) {
            continue;
        }
        let m = Model {
            rest_api_id: api.id(),
            name: body.name.into(),
            description: body.description.into(),
            schema: (body.schema)(),
        };
        models.insert(body.name, served.add(t, &format!("ApiModel{}", body.name), m));
    }

    // The path tree: one resource per path segment.
    let mut paths: BTreeMap<String, Expr> = BTreeMap::new();
    paths.insert("/".into(), api.root_resource_id());
    let mut all_paths: Vec<&str> = ROUTES.iter().map(|r| r.path).collect();
    all_paths.sort();
    all_paths.dedup();
    for path in &all_paths {
        let mut current = String::new();
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            let parent = if current.is_empty() {
                "/".to_string()
            } else {
                current.clone()
            };
            current = format!("{current}/{segment}");
            if !paths.contains_key(&current) {
                let r = served.add(
                    t,
                    &format!("ApiPath{}", path_id(&current)),
                    PathResource {
                        rest_api_id: api.id(),
                        parent_id: paths[&parent].clone(),
                        path_part: segment.into(),
                    },
                );
                paths.insert(current.clone(), r.id());
            }
        }
    }

    let origins = settings.cors.origins();
    for route in ROUTES {
        let m = route_method(route, &api, &paths, &validator, &models, functions);
        let accepted = if route.api_key {
            security::API_KEY_ROUTE
        } else {
            security::PUBLIC_ROUTE
        };
        served.add_with(
            t,
            &format!(
                "ApiMethod{}{}",
                path_id(route.method.as_str().to_ascii_lowercase().as_str()),
                path_id(route.path)
            ),
            m,
            accept(Options::new(), &[accepted]),
        );
    }
    for path in &all_paths {
        let mut allowed: Vec<String> = methods_of(path).iter().map(|m| m.to_string()).collect();
        allowed.push("OPTIONS".into());
        let m = Method {
            rest_api_id: api.id(),
            resource_id: paths[*path].clone(),
            http_method: "OPTIONS".into(),
            api_key_required: false,
            request_validator_id: None,
            request_model: None,
            request_parameters: BTreeMap::new(),
            integration: Integration::CorsPreflight {
                origins: origins.clone(),
                methods: allowed,
                headers: CORS_ALLOWED_HEADERS.iter().map(|s| s.to_string()).collect(),
            },
        };
        served.add_with(
            t,
            &format!("ApiMethodOptions{}", path_id(path)),
            m,
            accept(
                Options::new(),
                &[Accepted {
                    reason: "CORS preflight: browsers send it without credentials.",
                    ..security::PUBLIC_ROUTE
                }],
            ),
        );
    }

    for g in GATEWAY_RESPONSES {
        let template = g.template();
        served.add(
            t,
            &format!(
                "ApiGatewayResponse{}",
                path_id(&g.kind.to_ascii_lowercase().replace('_', "-"))
            ),
            GatewayResponse {
                rest_api_id: api.id(),
                response_type: g.kind,
                status_code: g.status,
                allow_origin: static_origin(&origins),
                template,
            },
        );
    }

    let mut deployment_options = Options::new();
    for h in served.handles {
        deployment_options = deployment_options.depends_on(h);
    }
    let deployment = t.add_with(
        &format!("ApiDeployment{}", fnv_hex(&served.snapshot)),
        Deployment {
            rest_api_id: api.id(),
            description: "The API's routes (the logical id changes with them)".into(),
        },
        deployment_options,
    );

    let access_logs = t.add_with(
        "ApiAccessLogGroup",
        LogGroup::new(
            Expr::sub("/aws/apigateway/${AWS::StackName}-api"),
            settings.log_retention_days,
        ),
        accept(
            Options::new().policy(log_policy(settings)),
            &[security::LOGS_AWS_KEY],
        ),
    );
    // With execution logging on, API Gateway writes to a log group of this fixed name, and
    // creates it with no retention if it is missing; created here it has the environment's
    // retention and goes with the stack ("Set up CloudWatch logging for REST APIs in API
    // Gateway"). The account-wide setting that lets API Gateway log is the account stack's.
    let execution_logs = t.add_with(
        "ApiExecutionLogGroup",
        LogGroup::new(
            Expr::sub_with(
                format!("API-Gateway-Execution-Logs_${{Api}}/{}", env.name()),
                [("Api", api.id())],
            ),
            settings.log_retention_days,
        ),
        accept(
            Options::new().policy(log_policy(settings)),
            &[security::LOGS_AWS_KEY],
        ),
    );
    let stage = t.add_with(
        "ApiStage",
        Stage {
            rest_api_id: api.id(),
            deployment_id: deployment.id(),
            stage_name: env.name().into(),
            access_log_arn: access_logs.arn(),
            throttle: settings.stage_throttle,
            tags: Vec::new(),
        },
        // Its execution logs go to the group above, which must exist first.
        accept(
            Options::new().depends_on(&execution_logs),
            &[security::NO_API_CACHE, security::NO_WAF, security::NO_CLIENT_CERT],
        ),
    );
    let key = t.add(
        "ApiKey",
        ApiKey {
            name: Expr::sub("${AWS::StackName}-key"),
            description: "The API key of the order and inventory routes".into(),
            tags: Vec::new(),
        },
    );
    let plan = t.add(
        "ApiUsagePlan",
        UsagePlan {
            name: Expr::sub("${AWS::StackName}-plan"),
            description: "Throttling and daily quota of the API key".into(),
            rest_api_id: api.id(),
            stage: stage.name(),
            throttle: settings.usage_plan.throttle,
            daily_quota: settings.usage_plan.daily_quota,
            tags: Vec::new(),
        },
    );
    t.add(
        "ApiUsagePlanKey",
        UsagePlanKey {
            key_id: key.id(),
            usage_plan_id: plan.id(),
        },
    );

    for spec in FUNCTIONS.iter().filter(|f| f.trigger == Trigger::Api) {
        t.add(
            &format!("{}ApiPermission", spec.id),
            Permission {
                function: functions[spec.name].arn(),
                principal: "apigateway.amazonaws.com",
                source_arn: Expr::sub_with(
                    "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/*",
                    [("Api", api.id())],
                ),
            },
        );
    }
    Api { stage, key }
}

/// The resources that change what the API serves, added through here: their handles (the
/// deployment depends on them) and their properties (hashed into its logical id).
#[derive(Default)]
struct Served {
    handles: Vec<AnyHandle>,
    snapshot: String,
}

impl Served {
    fn add<R: Resource>(&mut self, t: &mut Template, id: &str, r: R) -> Handle<R> {
        self.add_with(t, id, r, Options::new())
    }

    fn add_with<R: Resource>(&mut self, t: &mut Template, id: &str, r: R, options: Options) -> Handle<R> {
        self.snapshot.push_str(id);
        self.snapshot
            .push_str(&crate::cfn::sorted(r.properties()).to_string());
        let h = t.add_with(id, r, options);
        self.handles.push(h.any());
        h
    }
}

fn route_method(
    route: &Route,
    api: &Handle<RestApi>,
    paths: &BTreeMap<String, Expr>,
    validator: &Handle<RequestValidator>,
    models: &BTreeMap<&str, Handle<Model>>,
    functions: &BTreeMap<&str, Handle<Function>>,
) -> Method {
    let mut request_parameters = BTreeMap::new();
    for p in route.path_param_names() {
        request_parameters.insert(format!("method.request.path.{p}"), true);
    }
    for q in route.query {
        request_parameters.insert(format!("method.request.querystring.{}", q.name), false);
    }
    Method {
        rest_api_id: api.id(),
        resource_id: paths[route.path].clone(),
        http_method: route.method.as_str().into(),
        api_key_required: route.api_key,
        request_validator_id: Some(validator.id()),
        request_model: route.body.map(|b| models[b.name].name()),
        request_parameters,
        integration: Integration::LambdaProxy {
            function_arn: functions[route.function.name].arn(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_ids_are_pascal_case() {
        assert_eq!(path_id("/"), "Root");
        assert_eq!(path_id("/orders/{orderId}"), "OrdersOrderId");
        assert_eq!(path_id("/auth/register-business"), "AuthRegisterBusiness");
        assert_eq!(path_id("get"), "Get");
    }

    #[test]
    fn the_deployment_hash_is_stable() {
        assert_eq!(fnv_hex("abc"), fnv_hex("abc"));
        assert_ne!(fnv_hex("abc"), fnv_hex("abd"));
        assert_eq!(fnv_hex("").len(), 8);
    }
}
