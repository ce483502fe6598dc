//! The three EC2 calls the call policy makes, as a trait.
//!
//! [`crate::tracker`] decides what to ask and when; this is all it needs of
//! EC2. [`Ec2Client`] is the real implementation (the AWS SDK, one attempt
//! per call, see [`crate::client`]); the policy's tests answer from memory,
//! on a simulated clock, and count what was asked.

use std::future::Future;

use crate::client::{Ec2Client, Ec2Error};
use eniwatch_core::model::{EniAttachment, InstanceTypeFacts, SubnetFacts, SubnetId};

/// The read-only EC2 calls, answering in the model's types.
pub trait Ec2Api: Sync {
    /// `DescribeSubnets` for these ids. Unknown ids are simply absent from the answer.
    fn describe_subnets(
        &self,
        ids: &[SubnetId],
    ) -> impl Future<Output = Result<Vec<SubnetFacts>, Ec2Error>> + Send;

    /// `DescribeInstanceTypes` for one type.
    fn instance_type(
        &self,
        instance_type: &str,
    ) -> impl Future<Output = Result<InstanceTypeFacts, Ec2Error>> + Send;

    /// `DescribeNetworkInterfaces` filtered to this instance's attachments.
    fn instance_enis(
        &self,
        instance_id: &str,
    ) -> impl Future<Output = Result<Vec<EniAttachment>, Ec2Error>> + Send;
}

impl Ec2Api for Ec2Client {
    fn describe_subnets(
        &self,
        ids: &[SubnetId],
    ) -> impl Future<Output = Result<Vec<SubnetFacts>, Ec2Error>> + Send {
        Ec2Client::describe_subnets(self, ids)
    }

    fn instance_type(
        &self,
        instance_type: &str,
    ) -> impl Future<Output = Result<InstanceTypeFacts, Ec2Error>> + Send {
        Ec2Client::instance_type(self, instance_type)
    }

    fn instance_enis(
        &self,
        instance_id: &str,
    ) -> impl Future<Output = Result<Vec<EniAttachment>, Ec2Error>> + Send {
        Ec2Client::instance_enis(self, instance_id)
    }
}
