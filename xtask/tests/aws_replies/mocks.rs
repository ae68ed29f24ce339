//! Typed rules that answer the SDK's requests with raw HTTP responses: an interceptor finds the
//! rule whose input type (and predicate) matches the request before it is serialized, and puts
//! the rule's response in place of the transport's before the SDK deserializes it. The SDK's
//! own deserializers then read the reply, as they read AWS's.
//!
//! The same shape as `aws-smithy-mocks` (`mock!(Client::operation).match_requests(..)
//! .then_http_response(..)`), written here because that crate cannot be used in this
//! workspace: it depends on `aws-smithy-http-client`'s `test-util` feature, which turns on
//! serde_json's `preserve_order`, and Cargo unifies features across `cargo test --workspace`:
//! infra-model's templates would then be emitted in insertion order instead of sorted, and the
//! snapshots and `synth --check` would fail (seen: the workflow's ASL and the functions'
//! properties reordered).

#![allow(dead_code, clippy::unwrap_used)]

use std::fmt;
use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeSerializationInterceptorContextRef, Input,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// What a rule answers (the HTTP response, as AWS would send it).
pub enum MockResponse {
    Http(HttpResponse),
}

type Answer = Arc<dyn Fn(&Input) -> Option<HttpResponse> + Send + Sync>;

/// One rule: answers the requests of one operation that its predicate accepts.
#[derive(Clone)]
pub struct Rule(Answer);

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Rule")
    }
}

/// A rule being built, for the operation whose input is `I`.
pub struct RuleBuilder<I> {
    matches: Arc<dyn Fn(&I) -> bool + Send + Sync>,
}

impl<I: fmt::Debug + Send + Sync + 'static> RuleBuilder<I> {
    /// From a closure that names the operation's input type (never called).
    pub fn from_hint(_hint: impl Fn() -> I) -> RuleBuilder<I> {
        RuleBuilder {
            matches: Arc::new(|_| true),
        }
    }

    /// Only the requests the predicate accepts.
    pub fn match_requests(self, f: impl Fn(&I) -> bool + Send + Sync + 'static) -> RuleBuilder<I> {
        RuleBuilder { matches: Arc::new(f) }
    }

    /// Answers with the response the closure makes.
    pub fn then_http_response(self, f: impl Fn() -> HttpResponse + Send + Sync + 'static) -> Rule {
        self.then_compute_response(move |_| MockResponse::Http(f()))
    }

    /// Answers with a response computed from the request.
    pub fn then_compute_response(self, f: impl Fn(&I) -> MockResponse + Send + Sync + 'static) -> Rule {
        let matches = self.matches;
        Rule(Arc::new(move |input: &Input| {
            let typed = input.downcast_ref::<I>()?;
            if !matches(typed) {
                return None;
            }
            let MockResponse::Http(r) = f(typed);
            Some(r)
        }))
    }
}

/// `mock!(aws_sdk_s3::Client::head_bucket)`: a rule builder for that operation.
#[macro_export]
macro_rules! mock {
    ($operation:expr) => {
        $crate::aws_replies::mocks::RuleBuilder::from_hint(
            #[allow(unreachable_code, clippy::diverging_sub_expression)]
            || $operation(todo!()).as_input().clone().build().unwrap(),
        )
    };
}

/// The response chosen for one request, carried from serialization to deserialization.
#[derive(Clone, Debug)]
struct Chosen(Arc<std::sync::Mutex<Option<HttpResponse>>>);

impl Storable for Chosen {
    type Storer = StoreReplace<Chosen>;
}

/// The interceptor that answers from the rules (the first that matches); a request no rule
/// answers fails, naming the request.
#[derive(Clone, Debug)]
pub struct Replies {
    rules: Vec<Rule>,
}

impl Replies {
    pub fn new(rules: &[Rule]) -> Replies {
        Replies {
            rules: rules.to_vec(),
        }
    }
}

impl Intercept for Replies {
    fn name(&self) -> &'static str {
        "Replies"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input();
        let Some(reply) = self.rules.iter().find_map(|r| (r.0)(input)) else {
            return Err(format!("no reply for the request {input:?}").into());
        };
        cfg.interceptor_state()
            .store_put(Chosen(Arc::new(std::sync::Mutex::new(Some(reply)))));
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let reply = cfg
            .load::<Chosen>()
            .and_then(|c| c.0.lock().unwrap().take())
            .ok_or("the reply was used already (a retry?)")?;
        *context.response_mut() = reply;
        Ok(())
    }
}

/// The transport: answers every request with an empty 200, which the interceptor replaces.
#[derive(Clone, Debug)]
struct Transport;

impl HttpConnector for Transport {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        HttpConnectorFuture::ready(Ok(HttpResponse::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(200).unwrap(),
            aws_smithy_types::body::SdkBody::empty(),
        )))
    }
}

impl HttpClient for Transport {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

pub fn http_client() -> SharedHttpClient {
    SharedHttpClient::new(Transport)
}
