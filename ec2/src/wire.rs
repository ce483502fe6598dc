//! What the EC2 client does on the wire, below the SDK's operations: an SDK
//! interceptor that bounds every answer's body and counts every attempt.
//!
//! - **Bounded answers.** The SDK reads a whole response body into memory
//!   before it parses it, with no limit of its own. The interceptor refuses
//!   a `Content-Length` over [`MAX_BODY`] before the body is read, and wraps
//!   the body so that the read fails as soon as it passes [`MAX_BODY`]
//!   (4 MiB: the largest answer asked for, a page of 1,000 ENIs from
//!   `DescribeNetworkInterfaces` with a few addresses each, is around 2 MiB;
//!   an ENI with 50 secondary addresses adds about 2 KiB).
//! - **Counting on the wire.** Every attempt that was sent is counted by
//!   (operation, outcome) when it ends, so the count is what EC2 received,
//!   retries included. An attempt cut off by a timeout (the operation's, or
//!   the cycle's when it drops the call) is counted as `timeout` when it is
//!   dropped.

use std::error::Error;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_ec2::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_sdk_ec2::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::operation::describe_instance_types::DescribeInstanceTypesError;
use aws_sdk_ec2::operation::describe_network_interfaces::DescribeNetworkInterfacesError;
use aws_sdk_ec2::operation::describe_route_tables::DescribeRouteTablesError;
use aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsError;
use aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsError;
use aws_smithy_runtime_api::client::interceptors::context::Error as OperationError;
use aws_smithy_runtime_api::client::orchestrator::{Metadata, OrchestratorError};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};

use eniwatch_core::sources::requests::RequestCounts;

/// The largest EC2 answer accepted (see the module doc).
pub const MAX_BODY: usize = 4 * 1024 * 1024;

type BoxError = Box<dyn Error + Send + Sync>;

/// An answer larger than [`MAX_BODY`].
#[derive(Debug)]
pub struct TooLarge;

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the answer is larger than {MAX_BODY} bytes")
    }
}

impl Error for TooLarge {}

/// Whether `e`'s chain says the answer was over the limit.
pub fn is_too_large(e: &(dyn Error + 'static)) -> bool {
    let mut current = Some(e);
    while let Some(err) = current {
        if err.is::<TooLarge>() || err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        current = err.source();
    }
    false
}

/// The interceptor: installed once on the client.
#[derive(Debug, Clone)]
pub struct Wire {
    pub calls: RequestCounts,
}

/// An attempt on the wire, not yet counted: counted as `timeout` if it is
/// dropped unfinished.
#[derive(Debug)]
struct InFlight {
    calls: RequestCounts,
    operation: &'static str,
    done: AtomicBool,
}

impl InFlight {
    fn finish(&self, outcome: &'static str) {
        if !self.done.swap(true, Ordering::SeqCst) {
            self.calls.add(self.operation, outcome);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.finish("timeout");
    }
}

impl Storable for InFlight {
    type Storer = StoreReplace<Self>;
}

/// The operation names eniwatch calls, as `'static` metric labels.
fn operation(cfg: &ConfigBag) -> &'static str {
    match cfg.load::<Metadata>().map(|m| m.name()) {
        Some("DescribeSubnets") => "DescribeSubnets",
        Some("DescribeInstanceTypes") => "DescribeInstanceTypes",
        Some("DescribeNetworkInterfaces") => "DescribeNetworkInterfaces",
        Some("DescribeRouteTables") => "DescribeRouteTables",
        Some("DescribeSecurityGroups") => "DescribeSecurityGroups",
        _ => "other",
    }
}

/// The error code of an operation's answer, for the operations called.
fn error_code(e: &OperationError) -> Option<&str> {
    if let Some(e) = e.downcast_ref::<DescribeSubnetsError>() {
        return e.code();
    }
    if let Some(e) = e.downcast_ref::<DescribeInstanceTypesError>() {
        return e.code();
    }
    if let Some(e) = e.downcast_ref::<DescribeRouteTablesError>() {
        return e.code();
    }
    if let Some(e) = e.downcast_ref::<DescribeSecurityGroupsError>() {
        return e.code();
    }
    e.downcast_ref::<DescribeNetworkInterfacesError>()
        .and_then(|e| e.code())
}

/// The bounded outcome of an error code, as [`crate::client`] classifies calls.
pub fn code_kind(code: &str) -> &'static str {
    match code {
        "RequestLimitExceeded" | "Throttling" | "ThrottlingException" => "throttled",
        "UnauthorizedOperation" | "AuthFailure" | "AccessDenied" | "AccessDeniedException" => {
            "forbidden"
        }
        c if c.contains("NotFound") => "not_found",
        _ => "error",
    }
}

fn attempt_outcome(e: &OrchestratorError<OperationError>) -> &'static str {
    if let Some(code) = e.as_operation_error().and_then(error_code) {
        return code_kind(code);
    }
    if e.is_timeout_error() || e.as_connector_error().is_some_and(|c| c.is_timeout()) {
        "timeout"
    } else if e.is_connector_error() {
        "unreachable"
    } else {
        "error"
    }
}

impl Intercept for Wire {
    fn name(&self) -> &'static str {
        "eniwatch-ec2-wire"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let attempt = InFlight {
            calls: self.calls.clone(),
            operation: operation(cfg),
            done: AtomicBool::new(false),
        };
        cfg.interceptor_state().store_put(attempt);
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response_mut();
        let declared = response
            .headers()
            .get("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY as u64) {
            return Err(Box::new(TooLarge));
        }
        let body = response.take_body();
        *response.body_mut() =
            body.map(|b| SdkBody::from_body_1_x(http_body_util::Limited::new(b, MAX_BODY)));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(attempt) = cfg.load::<InFlight>() else {
            // Not sent (no credentials, no endpoint): nothing went on the wire.
            return Ok(());
        };
        let outcome = match context.output_or_error() {
            Some(Ok(_)) => "ok",
            Some(Err(e)) if is_too_large(e) => "invalid",
            Some(Err(e)) => attempt_outcome(e),
            None => "error",
        };
        attempt.finish(outcome);
        Ok(())
    }
}
