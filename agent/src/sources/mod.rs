//! The node's own sources: IMDS, the kernel over netlink, and ipamd's
//! introspection. Each returns plain data or its own error type, and none
//! decides what is wrong: that is the checks' job. The Kubernetes API, which
//! the cluster component reads too, is in `eniwatch_core::sources`. The node
//! agent asks EC2 nothing: what EC2 says comes from eniwatch-cluster's
//! published facts ([`cluster_facts`]). The daemon's watches on the API are
//! here ([`kube_watch`], [`cluster_facts::FactsWatch`]).

use eniwatch_core::sources::bounded::ErrorKind;

pub mod cluster_facts;
pub mod imds;
pub mod ipamd;
pub mod kube_watch;
pub mod netlink;

impl ErrorKind for imds::ImdsError {
    fn kind(&self) -> &'static str {
        imds::ImdsError::kind(self)
    }
}

impl ErrorKind for ipamd::IpamdError {
    fn kind(&self) -> &'static str {
        ipamd::IpamdError::kind(self)
    }
}

impl ErrorKind for netlink::NetlinkError {
    fn kind(&self) -> &'static str {
        netlink::NetlinkError::kind(self)
    }
}
