//! What an EKS Auto Mode cluster and the VPC CNI's enhanced subnet
//! discovery add to a seeded VPC: tags on subnets (`kubernetes.io/role/cni`,
//! or whatever a NodeClass selects by), security groups for pods, and the
//! `eks.amazonaws.com/v1` NodeClass objects the API server holds.

use aws_sdk_ec2::types::Tag;
use aws_sdk_ec2::Client;
use serde_json::{json, Value};

use super::{err, missing};
use crate::LabError;

/// The tag enhanced subnet discovery selects subnets by (value `1`).
pub const CNI_ROLE_TAG: &str = "kubernetes.io/role/cni";

/// Tags `resource` (a subnet, a group) with `key=value`.
pub async fn tag(ec2: &Client, resource: &str, key: &str, value: &str) -> Result<(), LabError> {
    ec2.create_tags()
        .resources(resource)
        .tags(Tag::builder().key(key).value(value).build())
        .send()
        .await
        .map_err(|e| err("CreateTags")(e.into()))?;
    Ok(())
}

/// A new security group in `vpc_id`, tagged with `tags`; its id.
pub async fn security_group(
    ec2: &Client,
    vpc_id: &str,
    name: &str,
    tags: &[(&str, &str)],
) -> Result<String, LabError> {
    let id = ec2
        .create_security_group()
        .vpc_id(vpc_id)
        .group_name(name)
        .description("pods of an EKS Auto Mode NodeClass")
        .send()
        .await
        .map_err(|e| err("CreateSecurityGroup")(e.into()))?
        .group_id()
        .ok_or_else(|| missing("GroupId"))?
        .to_string();
    for (k, v) in tags {
        tag(ec2, &id, k, v).await?;
    }
    Ok(id)
}

/// A NodeClass in the wire form, with `spec` as given (e.g.
/// `podSubnetSelectorTerms`, `podSecurityGroupSelectorTerms`).
pub fn node_class_object(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "eks.amazonaws.com/v1",
        "kind": "NodeClass",
        "metadata": {"name": name, "generation": 1},
        "spec": spec,
    })
}
