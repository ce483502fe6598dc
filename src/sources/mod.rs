//! One module per outside system. Each returns plain data or its own error
//! type, and none decides what is wrong: that is the checks' job.

pub mod bounded;
pub mod bounded_body;
pub mod cause;
pub mod ec2;
mod ec2_wire;
pub mod imds;
pub mod ipamd;
pub mod kube;
pub mod netlink;
pub mod requests;
#[cfg(test)]
pub(crate) mod test_servers;
