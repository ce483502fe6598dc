//! The EC2 API as a witness: the ENIConfig subnet's CIDR, zone and free
//! addresses, the instance type's network limits, and the attachment state of
//! the node's ENIs.
//!
//! Policy (EC2 throttles per account and region, and the CNI itself is known
//! to cause throttling in large clusters: an agent on every node must not add
//! to it):
//! - Read-only calls only: `DescribeSubnets`, `DescribeInstanceTypes`,
//!   `DescribeNetworkInterfaces`. The caller caches what never changes
//!   (subnet CIDR and zone, instance limits) for the process lifetime and
//!   calls the rest only when IMDS shows a change, so a steady node makes no
//!   EC2 calls at all.
//! - No retries in the SDK: one attempt per call, 3 s per attempt, 10 s per
//!   operation. The SDK's standard retry would send a throttled call three
//!   times to an account that is already throttled; eniwatch's own backoff
//!   (see [`crate::tracker`]) asks again later instead, for every error.
//! - Every answer's body is bounded (4 MiB) and every attempt is counted on
//!   the wire, by an SDK interceptor ([`crate::wire`]): the SDK itself reads whole
//!   bodies with no limit, and counts nothing.
//! - Credentials from the default chain (environment, IRSA web identity, EKS
//!   Pod Identity, instance profile); region from `--ec2-region`, else IMDS.
//! - Errors name the endpoint and state the cause in words (connection
//!   refused, timed out, the error code EC2 answered). Errors carry a bounded
//!   kind (`throttled`, `forbidden`, `not_found`, `timeout`, `unreachable`,
//!   `error`): with no EC2 permission at all, the checks that need EC2 say
//!   unknown and the rest of the agent works on.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};

use crate::wire::{self, Wire};
pub use eniwatch_core::model::{InstanceLimits, InstanceTypeFacts};
use eniwatch_core::sources::bounded_body::size_text;
use eniwatch_core::sources::cause::{is_timeout, root_cause};
use eniwatch_core::sources::requests::RequestCounts;

const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);

/// Where EC2 is and who we are to it.
#[derive(Debug, Clone, Default)]
pub struct Ec2Config {
    /// `--ec2-endpoint`: an emulator or a VPC endpoint; None: the regional endpoint.
    pub endpoint: Option<String>,
    /// `--ec2-region`; None: the region IMDS reports.
    pub region: Option<String>,
    /// Static credentials (emulators, tests); None: the default chain.
    pub static_credentials: Option<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum Ec2Error {
    #[error("no AWS region: pass --ec2-region (IMDS did not report one)")]
    NoRegion,
    #[error("EC2 {operation}: {code}: {message}{hint}")]
    Api {
        operation: &'static str,
        code: String,
        message: String,
        kind: &'static str,
        hint: &'static str,
    },
    #[error("EC2 {operation}: {message}")]
    Transport {
        operation: &'static str,
        message: String,
        kind: &'static str,
    },
    #[error("EC2 {operation}: {problem}")]
    Invalid {
        operation: &'static str,
        problem: String,
    },
}

impl Ec2Error {
    /// A bounded classification, for metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Ec2Error::NoRegion | Ec2Error::Invalid { .. } => "invalid",
            Ec2Error::Api { kind, .. } | Ec2Error::Transport { kind, .. } => kind,
        }
    }
}

pub struct Ec2Client {
    pub(crate) client: aws_sdk_ec2::Client,
    /// The endpoint, for error messages.
    pub(crate) endpoint: String,
}

/// The regional endpoint when none is given.
fn endpoint_of(config: &Ec2Config, region: &str) -> String {
    match &config.endpoint {
        Some(e) => e.trim_end_matches('/').to_string(),
        None => format!("https://ec2.{region}.amazonaws.com"),
    }
}

/// The fix for an access-denied answer: the IAM action the call needs.
fn forbidden_hint(operation: &str) -> &'static str {
    match operation {
        "DescribeSubnets" => " (grant eniwatch-cluster's role ec2:DescribeSubnets: deploy/iam/cluster-policy.json)",
        "DescribeNetworkInterfaces" => " (grant eniwatch-cluster's role ec2:DescribeNetworkInterfaces: deploy/iam/cluster-policy.json)",
        "DescribeRouteTables" => " (grant eniwatch-cluster's role ec2:DescribeRouteTables: deploy/iam/cluster-policy.json)",
        "DescribeSecurityGroups" => " (grant eniwatch-cluster's role ec2:DescribeSecurityGroups: deploy/iam/cluster-policy.json)",
        "DescribeInstanceTypes" => " (grant eniwatch-cluster's role ec2:DescribeInstanceTypes: deploy/iam/cluster-policy.json)",
        _ => " (grant eniwatch-cluster's role the read-only ec2:Describe* calls in deploy/iam/cluster-policy.json)",
    }
}

/// An SDK error in words: the code EC2 answered, or the transport's cause
/// at the bottom of the error chain (never the SDK's `Debug` dump).
pub(crate) fn classify<E, R>(operation: &'static str, endpoint: &str, e: SdkError<E, R>) -> Ec2Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let transport = |message: String, kind: &'static str| Ec2Error::Transport {
        operation,
        message,
        kind,
    };
    match &e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            let code = err.code().unwrap_or("Unknown").to_string();
            let message = err.message().unwrap_or("").to_string();
            let kind = wire::code_kind(&code);
            let hint = match kind {
                "throttled" => " (EC2 is throttling this account; backing off)",
                "forbidden" => forbidden_hint(operation),
                _ => "",
            };
            Ec2Error::Api {
                operation,
                code,
                message,
                kind,
                hint,
            }
        }
        _ if wire::is_too_large(&e) => Ec2Error::Invalid {
            operation,
            problem: format!(
                "EC2 endpoint {endpoint} answered more than {}: not an EC2 API answer",
                size_text(wire::MAX_BODY)
            ),
        },
        SdkError::TimeoutError(_) => transport(
            format!("EC2 endpoint {endpoint} did not answer in time ({ATTEMPT_TIMEOUT:?} per attempt, {OPERATION_TIMEOUT:?} per call)"),
            "timeout",
        ),
        SdkError::DispatchFailure(d) if d.is_timeout() || is_timeout(&e) => transport(
            format!("EC2 endpoint {endpoint} did not answer in time: {}", root_cause(&e)),
            "timeout",
        ),
        SdkError::DispatchFailure(d) if d.is_io() => transport(
            format!("EC2 endpoint {endpoint} unreachable: {}", root_cause(&e)),
            "unreachable",
        ),
        SdkError::ResponseError(_) => transport(
            format!("EC2 endpoint {endpoint} sent an answer that could not be read: {}", root_cause(&e)),
            "error",
        ),
        // Not sent: no credentials, or no endpoint for the region.
        _ => transport(
            format!("the request to EC2 endpoint {endpoint} could not be sent: {}", root_cause(&e)),
            "error",
        ),
    }
}

/// An instance type's network limits, or what is missing from EC2's answer.
pub(crate) fn type_facts(
    t: &aws_sdk_ec2::types::InstanceTypeInfo,
) -> Result<InstanceTypeFacts, String> {
    let name = t.instance_type().map_or("?", |n| n.as_str());
    let net = t
        .network_info()
        .ok_or_else(|| format!("no NetworkInfo for {name:?}"))?;
    // Pods live on network card 0: its own limit when EC2 reports per-card limits.
    let card0 = net
        .network_cards()
        .iter()
        .find(|c| c.network_card_index() == Some(0))
        .and_then(|c| c.maximum_network_interfaces());
    let max_enis = card0.or(net.maximum_network_interfaces()).unwrap_or(0);
    let per_eni = net.ipv4_addresses_per_interface().unwrap_or(0);
    Ok(InstanceTypeFacts {
        limits: InstanceLimits {
            max_enis: u32::try_from(max_enis).unwrap_or(0),
            ipv4_per_eni: u32::try_from(per_eni).unwrap_or(0),
        },
        nitro: t.hypervisor().map(|h| h.as_str() == "nitro"),
    })
}

impl Ec2Client {
    /// Builds a client. `imds_region` is used when the config names none;
    /// every attempt sent is counted into `calls` as (operation, outcome).
    pub async fn new(
        config: &Ec2Config,
        imds_region: Option<&str>,
        calls: RequestCounts,
    ) -> Result<Ec2Client, Ec2Error> {
        let region = config
            .region
            .clone()
            .or_else(|| imds_region.map(str::to_string))
            .ok_or(Ec2Error::NoRegion)?;
        let endpoint = endpoint_of(config, &region);
        let timeouts = TimeoutConfig::builder()
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .operation_timeout(OPERATION_TIMEOUT)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new(region))
            .timeout_config(timeouts)
            .retry_config(RetryConfig::standard().with_max_attempts(1));
        if let Some(endpoint) = &config.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some((key, secret)) = &config.static_credentials {
            loader = loader.credentials_provider(aws_sdk_ec2::config::Credentials::new(
                key.clone(),
                secret.clone(),
                None,
                None,
                "eniwatch-static",
            ));
        }
        let shared = loader.load().await;
        let sdk = aws_sdk_ec2::config::Builder::from(&shared)
            .interceptor(Wire { calls })
            .build();
        Ok(Ec2Client {
            client: aws_sdk_ec2::Client::from_conf(sdk),
            endpoint,
        })
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
