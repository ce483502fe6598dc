//! Capacity, warm-pool and subnet metrics (on the agent's registry). The
//! agent calls no EC2 API, so it counts no EC2 calls: eniwatch-cluster does
//! (`eniwatch_cluster_ec2_requests_total`).
//!
//! | metric | type | labels | meaning |
//! |---|---|---|---|
//! | `eniwatch_enis_max` | gauge | | ENIs network card 0 can have: the type's limit, or `MAX_ENI` if lower (absent when unknown) |
//! | `eniwatch_ipv4_addresses_max` | gauge | | pod addresses custom networking can supply on this type (absent when unknown) |
//! | `eniwatch_pod_capacity` | gauge | | pods custom networking can host: the max-pods formula (absent when unknown) |
//! | `eniwatch_kubelet_max_pods` | gauge | | the kubelet's max-pods (absent when unknown) |
//! | `eniwatch_warm_pool_target_ipv4_addresses` | gauge | | free addresses ipamd aims to keep (absent when unknown); the free ones are `eniwatch_secondary_ipv4_addresses{state="free"}` |
//! | `eniwatch_subnet_available_ipv4_addresses` | gauge | `subnet_id`, `role` | free addresses of the ENIConfig subnet (`role="eniconfig"`), as eniwatch-cluster last published them from EC2 |
//! | `eniwatch_subnet_size_ipv4_addresses` | gauge | `subnet_id`, `role` | the size of that subnet (its CIDR's addresses) |
//!
//! The values are the evaluation's pool facts as the report carries them
//! (`capacity`); nothing is computed here.
//!
//! Cardinality: `subnet_id` is the one ENIConfig subnet of the node; the
//! other labels come from closed sets.

use prometheus::{IntGaugeVec, Opts, Registry};

use super::metrics::with;
use super::CycleOutcome;

#[derive(Debug)]
pub struct PoolMetrics {
    enis_max: IntGaugeVec,
    ips_max: IntGaugeVec,
    pod_capacity: IntGaugeVec,
    kubelet_max_pods: IntGaugeVec,
    warm_target: IntGaugeVec,
    subnet_available: IntGaugeVec,
    subnet_size: IntGaugeVec,
}

fn gauge(r: &Registry, name: &str, help: &str, labels: &[&str]) -> prometheus::Result<IntGaugeVec> {
    let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

/// Sets the label-less gauge to `v`, or removes it when unknown.
fn set_or_clear(g: &IntGaugeVec, v: Option<u64>) {
    match v {
        Some(v) => {
            with(g, &[], |g| g.set(i64::try_from(v).unwrap_or(i64::MAX)));
        }
        None => g.reset(),
    }
}

impl PoolMetrics {
    pub fn new(r: &Registry) -> prometheus::Result<PoolMetrics> {
        Ok(PoolMetrics {
            enis_max: gauge(
                r,
                "eniwatch_enis_max",
                "ENIs network card 0 can have (type limit or MAX_ENI).",
                &[],
            )?,
            ips_max: gauge(
                r,
                "eniwatch_ipv4_addresses_max",
                "Pod addresses custom networking can supply on this instance type.",
                &[],
            )?,
            pod_capacity: gauge(
                r,
                "eniwatch_pod_capacity",
                "Pods custom networking can host on this instance type.",
                &[],
            )?,
            kubelet_max_pods: gauge(
                r,
                "eniwatch_kubelet_max_pods",
                "The kubelet's max-pods.",
                &[],
            )?,
            warm_target: gauge(
                r,
                "eniwatch_warm_pool_target_ipv4_addresses",
                "Free pod addresses ipamd aims to keep.",
                &[],
            )?,
            subnet_available: gauge(
                r,
                "eniwatch_subnet_available_ipv4_addresses",
                "Free addresses of the ENIConfig subnet, as eniwatch-cluster last published them.",
                &["subnet_id", "role"],
            )?,
            subnet_size: gauge(
                r,
                "eniwatch_subnet_size_ipv4_addresses",
                "Addresses in the ENIConfig subnet's CIDR.",
                &["subnet_id", "role"],
            )?,
        })
    }

    pub fn observe(&self, outcome: &CycleOutcome) {
        let report = &outcome.report;
        let pool = &report.capacity;
        set_or_clear(&self.enis_max, pool.eni_limit.map(u64::from));
        set_or_clear(&self.pod_capacity, pool.capacity.as_ref().ok().copied());
        set_or_clear(&self.ips_max, pool.addresses_max());
        set_or_clear(&self.kubelet_max_pods, pool.kubelet_max_pods.map(u64::from));
        set_or_clear(&self.warm_target, pool.target.as_ref().ok().copied());

        self.subnet_available.reset();
        self.subnet_size.reset();
        if let Some(s) = &report.subnet {
            let id = s.id.to_string();
            let labels = [id.as_str(), "eniconfig"];
            if let Some(n) = s.available_ips {
                with(&self.subnet_available, &labels, |g| g.set(i64::from(n)));
            }
            if let Some(c) = s.cidr {
                let size = 1i64 << (32 - u32::from(c.prefix_len()));
                with(&self.subnet_size, &labels, |g| g.set(size));
            }
        }
    }
}
