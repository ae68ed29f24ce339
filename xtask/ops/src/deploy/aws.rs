//! AWS clients for one account and region (or a local endpoint), and errors that say what to do.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::config::{Credentials, ProvideCredentials};
use tokio::sync::Notify;

/// The SDK's configuration loader with our HTTPS client: rustls over `ring`. The SDK crates are
/// built without their default client (aws-lc-rs; see the workspace `Cargo.toml`), so every
/// configuration must come from here or it fails its first request.
pub fn sdk_loader() -> ConfigLoader {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest()).http_client(client)
}

/// Where the commands talk to: `--region`, `--profile`, `--endpoint-url`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    /// A custom endpoint for every service (`http://127.0.0.1:5000` for moto). Without it,
    /// `AWS_ENDPOINT_URL` is honoured too.
    pub endpoint_url: Option<String>,
}

impl AwsSettings {
    /// The endpoint in effect: `--endpoint-url`, else `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> Option<String> {
        self.endpoint_url.clone().or_else(|| {
            std::env::var("AWS_ENDPOINT_URL")
                .ok()
                .filter(|s| !s.trim().is_empty())
        })
    }

    /// True when the endpoint is on this machine (127.0.0.0/8, ::1, localhost): an emulator.
    pub fn is_local(&self) -> bool {
        self.endpoint().as_deref().is_some_and(is_loopback_url)
    }
}

/// Whether a URL's host is a loopback address.
pub fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The region used against a local endpoint when none is given.
pub const LOCAL_DEFAULT_REGION: &str = "us-east-1";

/// How often and for how long the commands poll CloudFormation. Every wait has a limit, and a
/// wait that reaches it says what is still running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Polling {
    /// The first delay between two polls; it grows to `max_delay`.
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// How long a change set may take to be computed.
    pub change_set_limit: Duration,
    /// How long a stack operation (create, update, delete) is followed.
    pub operation_limit: Duration,
}

impl Polling {
    /// Against AWS: a stack of this size is created in 5 to 15 minutes (tables with streams,
    /// the API, the mappings); an hour means something is stuck.
    pub const AWS: Polling = Polling {
        first_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(5),
        change_set_limit: Duration::from_secs(10 * 60),
        operation_limit: Duration::from_secs(60 * 60),
    };
    /// Against moto, which answers at once.
    pub const LOCAL: Polling = Polling {
        first_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(250),
        change_set_limit: Duration::from_secs(60),
        operation_limit: Duration::from_secs(5 * 60),
    };
}

/// The service clients deploy uses, built from one configuration (or given, by a test).
#[derive(Clone, Debug)]
pub struct Clients {
    pub cfn: aws_sdk_cloudformation::Client,
    pub s3: aws_sdk_s3::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub apigateway: aws_sdk_apigateway::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sfn: aws_sdk_sfn::Client,
}

impl Clients {
    /// Every client from one SDK configuration. `path_style`: emulators serve buckets by path
    /// (`http://127.0.0.1:5000/<bucket>`), not by host.
    pub fn from_conf(conf: &SdkConfig, path_style: bool) -> Clients {
        let mut s3 = aws_sdk_s3::config::Builder::from(conf);
        if path_style {
            s3 = s3.force_path_style(true);
        }
        Clients {
            cfn: aws_sdk_cloudformation::Client::new(conf),
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            secrets: aws_sdk_secretsmanager::Client::new(conf),
            apigateway: aws_sdk_apigateway::Client::new(conf),
            dynamodb: aws_sdk_dynamodb::Client::new(conf),
            lambda: aws_sdk_lambda::Client::new(conf),
            logs: aws_sdk_cloudwatchlogs::Client::new(conf),
            cloudwatch: aws_sdk_cloudwatch::Client::new(conf),
            sqs: aws_sdk_sqs::Client::new(conf),
            sfn: aws_sdk_sfn::Client::new(conf),
        }
    }
}

/// Who we are, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub region: String,
    pub account: String,
    /// The caller's identity (for error messages).
    pub caller_arn: String,
}

/// Connected clients and who we are.
#[derive(Clone, Debug)]
pub struct Aws {
    pub settings: AwsSettings,
    pub region: String,
    pub account: String,
    /// The caller's identity (for error messages).
    pub caller_arn: String,
    pub endpoint: Option<String>,
    pub local: bool,
    pub poll: Polling,
    /// Stops following a stack operation (the operation goes on in CloudFormation), as Ctrl-C
    /// does; tests notify it.
    pub interrupt: Arc<Notify>,
    pub cfn: aws_sdk_cloudformation::Client,
    pub s3: aws_sdk_s3::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub apigateway: aws_sdk_apigateway::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sfn: aws_sdk_sfn::Client,
}

impl Aws {
    /// From given clients and identity, without a network call: what `connect` ends with, and
    /// what the tests of the AWS-only code paths build (clients answering from typed rules with
    /// replies shaped as AWS documents them: `xtask/ops/tests/aws_replies/`).
    pub fn from_clients(settings: &AwsSettings, identity: Identity, clients: Clients) -> Aws {
        let local = settings.is_local();
        Aws {
            settings: settings.clone(),
            region: identity.region,
            account: identity.account,
            caller_arn: identity.caller_arn,
            endpoint: settings.endpoint(),
            local,
            poll: if local { Polling::LOCAL } else { Polling::AWS },
            interrupt: Arc::new(Notify::new()),
            cfn: clients.cfn,
            s3: clients.s3,
            secrets: clients.secrets,
            apigateway: clients.apigateway,
            dynamodb: clients.dynamodb,
            lambda: clients.lambda,
            logs: clients.logs,
            cloudwatch: clients.cloudwatch,
            sqs: clients.sqs,
            sfn: clients.sfn,
        }
    }

    /// The partition of the region: `aws`, `aws-cn`, `aws-us-gov`, ... (ARNs name it).
    pub fn partition(&self) -> &'static str {
        partition(&self.region)
    }

    /// The command that shows a stack's state: `cargo xtask status` for an environment's
    /// stack, the AWS CLI otherwise.
    pub fn status_command(&self, stack: &str) -> String {
        match infra_model::Env::ALL
            .iter()
            .find(|e| infra_model::system::stack_name(**e) == stack)
        {
            Some(env) => format!("cargo xtask status --env {}", env.name()),
            None => format!(
                "aws cloudformation describe-stack-events --stack-name {stack} --region {}",
                self.region
            ),
        }
    }

    /// Loads the configuration (environment, profile, SSO, ...), checks that credentials
    /// resolve and asks STS who we are.
    ///
    /// Against a loopback endpoint the credentials are fixed test ones (the emulator accepts
    /// anything, and a developer's real keys are never sent to it) and the region defaults to
    /// us-east-1.
    pub async fn connect(settings: &AwsSettings) -> Result<Aws> {
        let endpoint = settings.endpoint();
        let local = settings.is_local();
        let mut loader = sdk_loader();
        if let Some(p) = &settings.profile {
            loader = loader.profile_name(p);
        }
        if let Some(r) = &settings.region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(url) = &endpoint {
            loader = loader.endpoint_url(url);
        }
        if local {
            loader = loader.credentials_provider(Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "xtask-local-endpoint",
            ));
            if settings.region.is_none() && std::env::var_os("AWS_REGION").is_none() {
                loader = loader.region(Region::new(LOCAL_DEFAULT_REGION));
            }
            // moto is not idempotent: a retried request after its internal error (HTTP 500) can
            // "succeed" on half-applied state and hide the failure. Nothing throttles locally.
            loader = loader.retry_config(aws_config::retry::RetryConfig::disabled());
        }
        let conf = loader.load().await;
        let Some(region) = conf.region().map(|r| r.to_string()) else {
            return Err(anyhow!(
                "no AWS region is configured: pass --region (for example --region eu-west-1), \
                 set AWS_REGION, or set `region` in your AWS profile"
            ));
        };
        let Some(provider) = conf.credentials_provider() else {
            return Err(no_credentials(settings, "no credentials provider is configured"));
        };
        if let Err(e) = provider.provide_credentials().await {
            return Err(no_credentials(settings, &chain(&e)));
        }

        let sts = aws_sdk_sts::Client::new(&conf);
        let who = match sts.get_caller_identity().send().await {
            Ok(who) => who,
            Err(e) => {
                return Err(explain_sdk(
                    "check your AWS credentials (sts:GetCallerIdentity)",
                    e,
                    endpoint.as_deref(),
                    local,
                ));
            }
        };
        let account = who.account().unwrap_or_default().to_owned();
        let caller_arn = who.arn().unwrap_or_default().to_owned();

        Ok(Aws::from_clients(
            settings,
            Identity {
                region,
                account,
                caller_arn,
            },
            Clients::from_conf(&conf, endpoint.is_some()),
        ))
    }

    /// Turns an SDK error into one that says what failed and what to do.
    pub fn explain<E, R>(&self, what: &str, err: SdkError<E, R>) -> anyhow::Error
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
        R: HttpStatus + std::fmt::Debug + Send + Sync + 'static,
    {
        let (mut text, denied) = describe_sdk(what, &err, self.endpoint.as_deref(), self.local);
        if denied {
            let _ = write!(
                text,
                "\nWhat to do: the identity {} lacks a permission this command needs; the README's \
                 \"Deploying\" section lists them",
                self.caller_arn
            );
        }
        anyhow!(text)
    }
}

/// The partition a region belongs to, as ARNs name it.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("eu-isoe-") {
        "aws-iso-e"
    } else {
        "aws"
    }
}

/// Whether an SDK error says the credentials expired (the session of an SSO login or an
/// assumed role ends, typically after an hour).
pub fn is_expired_credentials<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(
        error_code(err),
        Some("ExpiredToken" | "ExpiredTokenException" | "RequestExpired" | "TokenRefreshRequired")
    )
}

/// The HTTP status of a raw response, for SDK errors.
pub trait HttpStatus {
    fn status_code(&self) -> u16;
}

/// Every client's raw response is the same smithy type.
impl HttpStatus for aws_sdk_cloudformation::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// The error code of an SDK error (`ValidationError`, `NoSuchBucket`, ...), if the service
/// answered.
pub fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    err.as_service_error().and_then(|e| e.code())
}

/// The message of an SDK error from the service, if it answered.
pub fn error_message<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    err.as_service_error().and_then(|e| e.message())
}

/// The error in a response body the client could not parse (moto answers some CloudFormation
/// errors with another service's JSON: `{"__type": "...#ResourceInUseException", "message": ...}`).
pub fn raw_error_text<E>(
    err: &SdkError<E, aws_sdk_cloudformation::config::http::HttpResponse>,
) -> Option<String> {
    let body = err.raw_response()?.body().bytes()?;
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let message = v.get("message").or_else(|| v.get("Message"))?.as_str()?;
    let kind = v
        .get("__type")
        .and_then(serde_json::Value::as_str)
        .map(|t| t.rsplit('#').next().unwrap_or(t));
    Some(match kind {
        Some(k) => format!("{k}: {message}"),
        None => message.to_owned(),
    })
}

/// The HTTP status of an SDK error's response, if there was one.
pub fn http_status<E, R: HttpStatus>(err: &SdkError<E, R>) -> Option<u16> {
    err.raw_response().map(HttpStatus::status_code)
}

fn no_credentials(settings: &AwsSettings, detail: &str) -> anyhow::Error {
    let profile = settings
        .profile
        .as_deref()
        .map(|p| format!(" --profile {p}"))
        .unwrap_or_default();
    anyhow!(
        "no usable AWS credentials ({detail}).\n\
         What to do: configure credentials the usual way — `aws configure{profile}`, \
         `aws sso login{profile}` for an SSO profile, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY \
         in the environment — and pass --profile NAME if they are not the default profile. \
         To use a local emulator instead, pass --endpoint-url http://127.0.0.1:PORT."
    )
}

/// The whole chain of an error, on one line.
pub fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            let _ = write!(s, ": {text}");
        }
        source = inner.source();
    }
    s
}

/// Explains an SDK error without a connected [`Aws`].
pub fn explain_sdk<E, R>(
    what: &str,
    err: SdkError<E, R>,
    endpoint: Option<&str>,
    local: bool,
) -> anyhow::Error
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: HttpStatus + std::fmt::Debug + Send + Sync + 'static,
{
    let (mut text, denied) = describe_sdk(what, &err, endpoint, local);
    if denied {
        text.push_str(
            "\nWhat to do: use an identity with the permissions the README's \"Deploying\" section lists",
        );
    }
    anyhow!(text)
}

/// The text of an SDK error, and whether it is an access denial.
fn describe_sdk<E, R>(what: &str, err: &SdkError<E, R>, endpoint: Option<&str>, local: bool) -> (String, bool)
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: HttpStatus + std::fmt::Debug + Send + Sync + 'static,
{
    let status = http_status(err);
    match err {
        SdkError::DispatchFailure(d) => {
            let target = endpoint.unwrap_or("AWS");
            let hint = if local {
                "is the emulator running? Start one with `cargo xtask moto`"
            } else if d.is_timeout() {
                "the request timed out: check your network and try again"
            } else {
                "check your network connection (and a proxy, if you use one)"
            };
            return (
                format!("cannot {what}: cannot reach {target} ({}): {hint}", chain(err)),
                false,
            );
        }
        SdkError::TimeoutError(_) => {
            return (
                format!("cannot {what}: the request timed out: check your network and try again"),
                false,
            );
        }
        _ => {}
    }
    let code = error_code(err).unwrap_or("").to_owned();
    let message = error_message(err).unwrap_or("").to_owned();
    let advice = match code.as_str() {
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" | "TokenRefreshRequired" => Some(
            "your AWS session has expired: log in again (`aws sso login --profile NAME` for SSO) \
             or refresh the credentials, then run the command again",
        ),
        "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "SignatureDoesNotMatch"
        | "InvalidAccessKeyId"
        | "AuthFailure" => Some(
            "AWS rejected the credentials: check the access key (or the profile passed with \
             --profile) and that it is still active",
        ),
        "Throttling" | "ThrottlingException" | "TooManyRequestsException" => {
            Some("AWS throttled the requests: wait a minute and run the command again")
        }
        _ => None,
    };
    let denied = matches!(
        code.as_str(),
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "AllAccessDisabled"
    ) || (status == Some(403) && code.is_empty());
    let mut text = format!("cannot {what}");
    if !code.is_empty() || !message.is_empty() {
        let sep = if code.is_empty() || message.is_empty() {
            ""
        } else {
            ": "
        };
        let _ = write!(text, ": {code}{sep}{message}");
    } else if status == Some(500) && local {
        let _ = write!(
            text,
            ": the emulator answered HTTP 500 (an internal error of moto; its log has the traceback)"
        );
    } else if let Some(st) = status {
        let meaning = match st {
            403 => " (access denied)",
            404 => " (not found)",
            _ => "",
        };
        let _ = write!(text, ": HTTP {st}{meaning}");
    } else {
        let _ = write!(text, ": {}", chain(err));
    }
    if let Some(a) = advice {
        let _ = write!(text, "\nWhat to do: {a}");
    }
    (text, denied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_follow_the_region() {
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("cn-northwest-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("us-east-1"), "aws");
    }

    #[test]
    fn loopback_endpoints_are_local() {
        for url in [
            "http://127.0.0.1:5000",
            "http://127.1.2.3:80/",
            "http://localhost:4566",
            "https://LOCALHOST",
            "http://[::1]:5000",
            "http://s3.localhost:4566/path",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "https://cloudformation.eu-west-1.amazonaws.com",
            "http://10.0.0.5:5000",
            "http://localhost.example.com",
            "http://128.0.0.1",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }
}
