//! EC2 from memory, for the policy's tests: it answers what it holds, fails
//! (or never answers) as told, and logs every call it gets.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Mutex, MutexGuard};

use super::{OP_ENIS, OP_SUBNETS, OP_TYPES};
use crate::api::Ec2Api;
use crate::client::Ec2Error;
use crate::wire::code_kind;
use eniwatch_core::checks::fixture::net;
use eniwatch_core::model::{
    EniAttachment, EniId, InstanceLimits, InstanceMetadata, InstanceTypeFacts, SubnetFacts,
    SubnetId,
};

/// One call the fake got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Call {
    InstanceType(String),
    Subnets(Vec<SubnetId>),
    Enis(String),
}

impl Call {
    pub(super) fn op(&self) -> &'static str {
        match self {
            Call::InstanceType(_) => OP_TYPES,
            Call::Subnets(_) => OP_SUBNETS,
            Call::Enis(_) => OP_ENIS,
        }
    }
}

/// What a call does when asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reply {
    Answer,
    /// Fails with this EC2 error code.
    Fail(&'static str),
    /// Never answers.
    Hang,
}

struct State {
    types: BTreeMap<String, InstanceTypeFacts>,
    subnets: BTreeMap<SubnetId, SubnetFacts>,
    enis: Vec<EniAttachment>,
    replies: BTreeMap<&'static str, Reply>,
    log: Vec<Call>,
}

pub(super) struct FakeEc2 {
    state: Mutex<State>,
}

pub(super) const TYPE_FACTS: InstanceTypeFacts = InstanceTypeFacts {
    limits: InstanceLimits {
        max_enis: 4,
        ipv4_per_eni: 15,
    },
    nitro: Some(true),
};

/// A subnet of the fixture's VPC with `free` addresses left.
pub(super) fn subnet(id: &str, cidr: &str, free: u32) -> SubnetFacts {
    SubnetFacts {
        id: id.parse().unwrap(),
        cidr: Some(net(cidr)),
        availability_zone: Some("ap-southeast-1a".into()),
        availability_zone_id: Some("apse1-az1".into()),
        available_ips: Some(free),
    }
}

/// An ENI attached to the instance, in this attachment state.
pub(super) fn attachment(id: &EniId, device: u32, state: &str) -> EniAttachment {
    EniAttachment {
        id: id.clone(),
        status: Some("in-use".into()),
        attachment_status: Some(state.into()),
        device_index: Some(device),
        network_card_index: Some(0),
        interface_type: Some("interface".into()),
        private_ips: vec![],
    }
}

impl FakeEc2 {
    /// EC2 as it sees this node when all is well: its type, the subnets its
    /// ENIs are in, and every ENI attached.
    pub(super) fn of(imds: &InstanceMetadata) -> FakeEc2 {
        let mut subnets = BTreeMap::new();
        for e in &imds.enis {
            if let Some(id) = &e.subnet_id {
                let cidr = e
                    .subnet_cidr
                    .map_or("100.64.2.0/24".into(), |c| c.to_string());
                subnets.insert(id.clone(), subnet(&id.to_string(), &cidr, 200));
            }
        }
        let enis = imds
            .enis
            .iter()
            .filter_map(|e| {
                Some(attachment(
                    e.interface_id.as_ref()?,
                    e.device_number,
                    "attached",
                ))
            })
            .collect();
        FakeEc2 {
            state: Mutex::new(State {
                types: BTreeMap::from([(imds.instance_type.clone(), TYPE_FACTS)]),
                subnets,
                enis,
                replies: BTreeMap::new(),
                log: Vec::new(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// From now on, `op` does what `reply` says.
    pub(super) fn reply(&self, op: &'static str, reply: Reply) {
        self.state().replies.insert(op, reply);
    }

    pub(super) fn set_subnet(&self, facts: SubnetFacts) {
        self.state().subnets.insert(facts.id.clone(), facts);
    }

    pub(super) fn remove_subnet(&self, id: &SubnetId) {
        self.state().subnets.remove(id);
    }

    pub(super) fn set_enis(&self, enis: Vec<EniAttachment>) {
        self.state().enis = enis;
    }

    /// The calls since the last take.
    pub(super) fn take_log(&self) -> Vec<Call> {
        std::mem::take(&mut self.state().log)
    }

    /// Logs the call; Err(None) when it is never to answer.
    fn asked(&self, call: Call) -> Result<(), Option<Ec2Error>> {
        let op = call.op();
        let mut state = self.state();
        state.log.push(call);
        match state.replies.get(op).copied().unwrap_or(Reply::Answer) {
            Reply::Answer => Ok(()),
            Reply::Hang => Err(None),
            Reply::Fail(code) => Err(Some(Ec2Error::Api {
                operation: op,
                code: code.to_string(),
                message: "as told".into(),
                kind: code_kind(code),
                hint: "",
            })),
        }
    }

    async fn answer<T>(
        &self,
        call: Call,
        value: impl FnOnce(&State) -> Result<T, Ec2Error>,
    ) -> Result<T, Ec2Error> {
        match self.asked(call) {
            Ok(()) => value(&self.state()),
            Err(Some(e)) => Err(e),
            Err(None) => std::future::pending().await,
        }
    }
}

impl Ec2Api for FakeEc2 {
    fn describe_subnets(
        &self,
        ids: &[SubnetId],
    ) -> impl Future<Output = Result<Vec<SubnetFacts>, Ec2Error>> + Send {
        self.answer(Call::Subnets(ids.to_vec()), move |s| {
            Ok(ids
                .iter()
                .filter_map(|id| s.subnets.get(id).cloned())
                .collect())
        })
    }

    fn instance_type(
        &self,
        instance_type: &str,
    ) -> impl Future<Output = Result<InstanceTypeFacts, Ec2Error>> + Send {
        self.answer(Call::InstanceType(instance_type.into()), move |s| {
            s.types
                .get(instance_type)
                .copied()
                .ok_or_else(|| Ec2Error::Invalid {
                    operation: OP_TYPES,
                    problem: format!("no data for instance type {instance_type:?}"),
                })
        })
    }

    fn instance_enis(
        &self,
        instance_id: &str,
    ) -> impl Future<Output = Result<Vec<EniAttachment>, Ec2Error>> + Send {
        self.answer(Call::Enis(instance_id.into()), |s| Ok(s.enis.clone()))
    }
}
