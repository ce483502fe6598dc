//! What makes a scenario one the lab can build faithfully: one primary
//! ENI, MACs and link names used once, every ENI in a known subnet with its
//! primary address inside it, pod IPs used once, and breaks that name a pod
//! with an IP or a known ENI. Each rejection names the offending entry.

use std::collections::BTreeSet;

use super::{Break, EniKind, Scenario, ScenarioError};

impl Scenario {
    fn invalid(&self, problem: String) -> ScenarioError {
        ScenarioError::Invalid {
            name: self.name.clone(),
            problem,
        }
    }

    /// Reject scenarios the builder could not materialise faithfully.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        if self.primary_eni().is_none() {
            return Err(self.invalid("no ENI with device_number 0 on network_card 0".into()));
        }
        let mut macs = BTreeSet::new();
        let mut links = BTreeSet::new();
        for eni in &self.enis {
            if !macs.insert(eni.mac.to_ascii_lowercase()) {
                return Err(self.invalid(format!("MAC {} is used twice", eni.mac)));
            }
            let subnet = self.subnet(&eni.subnet).ok_or_else(|| {
                self.invalid(format!(
                    "ENI {} names unknown subnet {}",
                    eni.id, eni.subnet
                ))
            })?;
            if eni.kind == EniKind::EfaOnly {
                continue;
            }
            let link = eni.link_name();
            if link.len() > 15 || !links.insert(link.clone()) {
                return Err(self.invalid(format!(
                    "ENI {}: link name {link} is too long or used twice",
                    eni.id
                )));
            }
            let Some(first) = eni.ips.first() else {
                return Err(self.invalid(format!(
                    "ENI {} has no ips (only efa-only ENIs may)",
                    eni.id
                )));
            };
            if !subnet.cidr.contains(first) {
                return Err(self.invalid(format!(
                    "ENI {}: primary address {first} is outside subnet {} ({})",
                    eni.id, subnet.id, subnet.cidr
                )));
            }
        }
        let mut pod_ips = BTreeSet::new();
        let mut pod_keys = BTreeSet::new();
        for pod in &self.pods {
            if !pod_keys.insert(pod.key()) {
                return Err(self.invalid(format!("pod {} is listed twice", pod.key())));
            }
            if let (Some(ip), false) = (pod.ip, pod.host_network) {
                if !pod_ips.insert(ip) {
                    return Err(self.invalid(format!("pod IP {ip} is used by two pods")));
                }
            }
        }
        for brk in &self.breaks {
            let (pod, mac) = match brk {
                Break::RemovePodRoute { pod }
                | Break::RemovePodRule { pod, .. }
                | Break::PodRuleTable { pod, .. } => (Some(pod), None),
                Break::RemoveEniLink { mac }
                | Break::EniLinkDown { mac }
                | Break::RemoveEniAddress { mac }
                | Break::RemoveEniDefaultRoute { mac }
                | Break::ShadowingRule { via_mac: mac, .. } => (None, Some(mac)),
            };
            if let Some(pod) = pod {
                if self.pod(pod).and_then(|p| p.ip).is_none() {
                    return Err(
                        self.invalid(format!("break names pod {pod}, which has no IP here"))
                    );
                }
            }
            if let Some(mac) = mac {
                if self.eni_by_mac(mac).is_none() {
                    return Err(self.invalid(format!("break names unknown ENI MAC {mac}")));
                }
            }
        }
        Ok(())
    }
}
