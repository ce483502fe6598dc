//! EC2 from memory, for the VPC plan's tests: one VPC and what is in it,
//! filtered and paged as EC2 does, failing as told, logging every call.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Mutex, MutexGuard};

use super::api::{
    EniQuery, GroupQuery, Page, SubnetQuery, TypeAnswer, VpcApi, ENI_PAGE, PAGE, TYPE_PAGE,
};
use super::plan::{OP_ENIS, OP_GROUPS, OP_ROUTES, OP_SUBNETS, OP_TYPES};
use crate::client::Ec2Error;
use crate::wire::code_kind;
use eniwatch_core::checks::fixture::net;
use eniwatch_core::model::{
    EniAttachmentFacts, InstanceLimits, InstanceTypeFacts, NetworkInterface, RouteTable,
    SecurityGroup, Subnet, SubnetFacts, VpcId, CNI_INSTANCE_TAG,
};

pub(super) const VPC: &str = "vpc-0main";

/// One call (one page) the fake got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Call {
    pub op: &'static str,
    /// The filter, in words (`vpc-id=...`, `subnet-id=a,b`).
    pub what: String,
    pub token: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reply {
    Answer,
    /// Fails with this EC2 error code.
    Fail(&'static str),
}

#[derive(Default)]
pub(super) struct State {
    pub subnets: Vec<Subnet>,
    pub enis: Vec<NetworkInterface>,
    pub tables: Vec<RouteTable>,
    pub groups: Vec<SecurityGroup>,
    pub types: BTreeMap<String, InstanceTypeFacts>,
    replies: BTreeMap<&'static str, Reply>,
    log: Vec<Call>,
}

#[derive(Default)]
pub(super) struct FakeVpc {
    state: Mutex<State>,
}

pub(super) fn vpc() -> VpcId {
    VPC.parse().unwrap()
}

pub(super) fn subnet(id: &str, cidr: &str, vpc: &str) -> Subnet {
    Subnet {
        facts: SubnetFacts {
            id: id.parse().unwrap(),
            cidr: Some(net(cidr)),
            availability_zone: Some("ap-southeast-1a".into()),
            availability_zone_id: Some("apse1-az1".into()),
            available_ips: Some(200),
        },
        vpc_id: Some(vpc.parse().unwrap()),
        tags: BTreeMap::new(),
    }
}

/// A CNI ENI numbered `n`, in `subnet`, attached to `instance`.
pub(super) fn cni_eni(n: usize, subnet: &str, instance: &str) -> NetworkInterface {
    NetworkInterface {
        id: format!("eni-{n:06x}").parse().unwrap(),
        subnet_id: Some(subnet.parse().unwrap()),
        vpc_id: Some(vpc()),
        status: Some("in-use".into()),
        interface_type: Some("interface".into()),
        attachment: Some(EniAttachmentFacts {
            instance_id: Some(instance.into()),
            status: Some("attached".into()),
            device_index: Some(1),
            network_card_index: Some(0),
        }),
        private_ips: vec![],
        prefixes: vec![],
        tags: BTreeMap::from([(CNI_INSTANCE_TAG.to_string(), instance.to_string())]),
    }
}

pub(super) const TYPE_FACTS: InstanceTypeFacts = InstanceTypeFacts {
    limits: InstanceLimits {
        max_enis: 4,
        ipv4_per_eni: 15,
    },
    nitro: Some(true),
};

/// Page `items` as EC2 does: the token is the offset of the next page.
fn page<T: Clone>(items: Vec<T>, token: Option<String>, size: usize) -> Page<T> {
    let from: usize = token.and_then(|t| t.parse().ok()).unwrap_or(0);
    let to = (from + size).min(items.len());
    Page {
        items: items.get(from..to).map(<[T]>::to_vec).unwrap_or_default(),
        next: (to < items.len()).then(|| to.to_string()),
        skipped: 0,
    }
}

fn list<T: ToString>(items: &[T]) -> String {
    items.iter().map(T::to_string).collect::<Vec<_>>().join(",")
}

impl FakeVpc {
    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    pub(super) fn reply(&self, op: &'static str, reply: Reply) {
        self.state().replies.insert(op, reply);
    }

    pub(super) fn take_log(&self) -> Vec<Call> {
        std::mem::take(&mut self.state().log)
    }

    fn answer<T>(
        &self,
        op: &'static str,
        what: String,
        token: Option<String>,
        value: impl FnOnce(&State, Option<String>) -> Page<T>,
    ) -> impl Future<Output = Result<Page<T>, Ec2Error>> + Send
    where
        T: Send,
    {
        let mut s = self.state();
        s.log.push(Call {
            op,
            what,
            token: token.clone(),
        });
        let r = match s.replies.get(op).copied().unwrap_or(Reply::Answer) {
            Reply::Answer => Ok(value(&s, token)),
            Reply::Fail(code) => Err(Ec2Error::Api {
                operation: op,
                code: code.to_string(),
                message: "as told".into(),
                kind: code_kind(code),
                hint: "",
            }),
        };
        std::future::ready(r)
    }
}

impl VpcApi for FakeVpc {
    fn subnets(
        &self,
        query: &SubnetQuery,
        token: Option<String>,
    ) -> impl Future<Output = Result<Page<Subnet>, Ec2Error>> + Send {
        let what = match query {
            SubnetQuery::Vpc(v) => format!("vpc-id={v}"),
            SubnetQuery::Ids(ids) => format!("subnet-id={}", list(ids)),
        };
        self.answer(OP_SUBNETS, what, token, |s, token| {
            let found = s.subnets.iter().filter(|x| match query {
                SubnetQuery::Vpc(v) => x.vpc_id.as_ref() == Some(v),
                SubnetQuery::Ids(ids) => ids.contains(&x.facts.id),
            });
            page(found.cloned().collect(), token, PAGE)
        })
    }

    fn network_interfaces(
        &self,
        query: &EniQuery,
        token: Option<String>,
    ) -> impl Future<Output = Result<Page<NetworkInterface>, Ec2Error>> + Send {
        let what = match query {
            EniQuery::CniTagged(v) => format!("vpc-id={v} tag-key={CNI_INSTANCE_TAG}"),
            EniQuery::InSubnets(ids) => format!("subnet-id={}", list(ids)),
        };
        self.answer(OP_ENIS, what, token, |s, token| {
            let found = s.enis.iter().filter(|e| match query {
                EniQuery::CniTagged(v) => {
                    e.vpc_id.as_ref() == Some(v) && e.tags.contains_key(CNI_INSTANCE_TAG)
                }
                EniQuery::InSubnets(ids) => e.subnet_id.as_ref().is_some_and(|s| ids.contains(s)),
            });
            page(found.cloned().collect(), token, ENI_PAGE)
        })
    }

    fn route_tables(
        &self,
        vpc: &VpcId,
        token: Option<String>,
    ) -> impl Future<Output = Result<Page<RouteTable>, Ec2Error>> + Send {
        self.answer(OP_ROUTES, format!("vpc-id={vpc}"), token, |s, token| {
            page(s.tables.clone(), token, 100)
        })
    }

    fn security_groups(
        &self,
        query: &GroupQuery,
        token: Option<String>,
    ) -> impl Future<Output = Result<Page<SecurityGroup>, Ec2Error>> + Send {
        let asked = match query {
            GroupQuery::Ids(ids) => format!("group-id={}", list(ids)),
            GroupQuery::Vpc(vpc) => format!("vpc-id={vpc}"),
        };
        self.answer(OP_GROUPS, asked, token, |s, token| {
            let found = s.groups.iter().filter(|g| match query {
                GroupQuery::Ids(ids) => ids.contains(&g.id),
                GroupQuery::Vpc(vpc) => g.vpc_id.as_ref() == Some(vpc),
            });
            page(found.cloned().collect(), token, PAGE)
        })
    }

    fn instance_types(
        &self,
        names: &[String],
        token: Option<String>,
    ) -> impl Future<Output = Result<Page<TypeAnswer>, Ec2Error>> + Send {
        assert!(
            names.len() <= TYPE_PAGE,
            "{} types in one call",
            names.len()
        );
        self.answer(
            OP_TYPES,
            format!("instance-type={}", names.join(",")),
            token,
            |s, token| {
                let found = names
                    .iter()
                    .filter_map(|n| Some((n.clone(), Ok(*s.types.get(n)?))));
                page(found.collect(), token, TYPE_PAGE)
            },
        )
    }
}
