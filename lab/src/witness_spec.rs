//! The scenario's `ipamd:` and `ec2:` sections: what the lab's ipamd emulator
//! and EC2 serve for the node.
//!
//! ```yaml
//! ipamd:                  # optional; by default ipamd agrees with the scenario
//!   served: true          # false: nothing listens on 127.0.0.1:61679
//!   shape: per-network-card   # or pre-v1.20
//!   custom_networking: false  # override (default: ENIConfigs exist)
//!   selected_eniconfig: other # override (default: as the CNI selects)
//!   warm_eni_target: 1
//!   warm_ip_target: 5
//!   forget_enis: [eni-...]    # ipamd's datastore lacks these ENIs
//!   forget_ips: [100.64.1.13] # ...and these addresses (neither held nor assigned)
//! ec2:                    # optional; without it the agent runs with --no-ec2
//!   fault: throttle       # or deny: every call answers RequestLimitExceeded / UnauthorizedOperation
//!   detached: [eni-...]   # IMDS lists them, EC2 has them not attached
//! ```
//!
//! With `ec2:` and no fault, the lab runs moto's EC2 server in the node's
//! namespace on [`EC2_LISTEN`], creates the scenario's VPC, subnets, instance
//! and ENIs in it through the EC2 API, and renames the scenario's ids to
//! moto's (see [`super::ec2_seed`]).

use serde::{Deserialize, Serialize};

/// Where the lab's EC2 (moto, or the fault server) listens, inside the node namespace.
pub const EC2_LISTEN: &str = "127.0.0.1:5000";
/// Where the lab's ipamd emulator listens, inside the node namespace.
pub const IPAMD_LISTEN: &str = "127.0.0.1:61679";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IpamdSpec {
    #[serde(default = "yes")]
    pub served: bool,
    #[serde(default)]
    pub shape: Option<IpamdShape>,
    #[serde(default)]
    pub custom_networking: Option<bool>,
    #[serde(default)]
    pub selected_eniconfig: Option<String>,
    #[serde(default)]
    pub warm_eni_target: Option<u32>,
    #[serde(default)]
    pub warm_ip_target: Option<u32>,
    #[serde(default)]
    pub forget_enis: Vec<String>,
    #[serde(default)]
    pub forget_ips: Vec<std::net::Ipv4Addr>,
}

impl Default for IpamdSpec {
    fn default() -> Self {
        IpamdSpec {
            served: true,
            shape: None,
            custom_networking: None,
            selected_eniconfig: None,
            warm_eni_target: None,
            warm_ip_target: None,
            forget_enis: Vec::new(),
            forget_ips: Vec::new(),
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum IpamdShape {
    #[serde(rename = "pre-v1.20")]
    PreV120,
    PerNetworkCard,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Ec2Spec {
    #[serde(default)]
    pub fault: Option<Ec2Fault>,
    #[serde(default)]
    pub detached: Vec<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Ec2Fault {
    /// Every call: HTTP 503 `RequestLimitExceeded`.
    Throttle,
    /// Every call: HTTP 403 `UnauthorizedOperation`.
    Deny,
}

impl Ec2Fault {
    /// The EC2 query protocol's error answer.
    pub fn answer(self) -> (u16, String) {
        let (status, code, message) = match self {
            Ec2Fault::Throttle => (503, "RequestLimitExceeded", "Request limit exceeded."),
            Ec2Fault::Deny => (
                403,
                "UnauthorizedOperation",
                "You are not authorized to perform this operation.",
            ),
        };
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code>\
             <Message>{message}</Message></Error></Errors><RequestID>5f0c8a52-lab</RequestID></Response>"
        );
        (status, body)
    }
}

/// An EC2 endpoint that answers every call with `fault`.
pub fn fault_router(fault: Ec2Fault) -> axum::Router {
    counted_fault_router(fault, Default::default())
}

/// [`fault_router`], counting every request it receives into `requests`:
/// what EC2 saw on the wire, to hold the agent's own count against.
pub fn counted_fault_router(
    fault: Ec2Fault,
    requests: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> axum::Router {
    let (status, body) = fault.answer();
    axum::Router::new().fallback(move || {
        let body = body.clone();
        requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            let status = axum::http::StatusCode::from_u16(status)
                .unwrap_or(axum::http::StatusCode::SERVICE_UNAVAILABLE);
            (status, [("content-type", "text/xml;charset=UTF-8")], body)
        }
    })
}
