//! The metadata tree the emulator serves, and the `garbage` fault's bodies.
//!
//! The tree is built once per scenario (not per request) and holds every
//! servable path under `/latest/meta-data/`. Directory listings are derived
//! from the leaves, so a listing can never name a field that then answers
//! 404: a field that is absent for an ENI (no prefixes, EFA-only without
//! addresses) is simply not a leaf, which is what real IMDS does too.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use crate::scenario::{EniKind, EniSpec, Scenario};

/// Where the per-ENI directories live, relative to `/latest/meta-data/`.
const MACS_DIR: &str = "network/interfaces/macs/";

/// The lab node's instance-profile role.
const NODE_ROLE: &str = "eks-lab-node-role";
const IAM_INFO: &str = r#"{"Code":"Success","LastUpdated":"2026-01-01T00:00:00Z","InstanceProfileArn":"arn:aws:iam::111122223333:instance-profile/eks-lab-node","InstanceProfileId":"AIPAEXAMPLELAB"}"#;
const IAM_CREDENTIALS: &str = r#"{"Code":"Success","LastUpdated":"2026-01-01T00:00:00Z","Type":"AWS-HMAC","AccessKeyId":"ASIAEXAMPLELABNODE","SecretAccessKey":"lab-secret","Token":"lab-session-token","Expiration":"2099-01-01T00:00:00Z"}"#;

/// Any 12 digits do; this is the account id AWS uses in its own examples.
const OWNER_ID: &str = "111122223333";

/// What a path holds. Only used to pick a convincing wrong body when the
/// `garbage` fault is on, so that each client parser meets its own poison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Listing,
    Number,
    Addresses,
    Mac,
    Cidr,
    Text,
}

#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) body: String,
    pub(super) kind: Kind,
}

/// Paths relative to `/latest/meta-data/`: leaves have no trailing slash,
/// directories have one, and the root directory is the empty string.
#[derive(Debug, Clone, Default)]
pub(super) struct Tree(BTreeMap<String, Entry>);

impl Tree {
    pub(super) fn build(scenario: &Scenario) -> Tree {
        let node = &scenario.node;
        let mut leaves: Vec<(String, String, Kind)> = vec![
            ("instance-id".into(), node.instance_id.clone(), Kind::Text),
            (
                "instance-type".into(),
                node.instance_type.clone(),
                Kind::Text,
            ),
            ("placement/region".into(), node.region.clone(), Kind::Text),
            (
                "placement/availability-zone".into(),
                node.availability_zone.clone(),
                Kind::Text,
            ),
            ("services/domain".into(), "amazonaws.com".into(), Kind::Text),
            ("services/partition".into(), "aws".into(), Kind::Text),
            // An EKS node has an instance profile: its role's credentials
            // are here for any process on the host network that asks. The
            // agent must never ask (agent/tests/lab_imds_paths.rs).
            ("iam/info".into(), IAM_INFO.into(), Kind::Text),
            (
                format!("iam/security-credentials/{NODE_ROLE}"),
                IAM_CREDENTIALS.into(),
                Kind::Text,
            ),
        ];
        if let Some(zone_id) = &node.availability_zone_id {
            leaves.push((
                "placement/availability-zone-id".into(),
                zone_id.clone(),
                Kind::Text,
            ));
        }
        if let Some(primary) = scenario.primary_eni() {
            leaves.push(("mac".into(), primary.mac.to_ascii_lowercase(), Kind::Mac));
            if let Some(ip) = primary.ips.first() {
                let name = hostname(*ip, &node.region);
                leaves.push(("local-ipv4".into(), ip.to_string(), Kind::Addresses));
                leaves.push(("local-hostname".into(), name.clone(), Kind::Text));
                leaves.push(("hostname".into(), name, Kind::Text));
            }
        }
        // Real IMDS only has `network-card` on instances with several cards.
        let multi_card = scenario.enis.iter().any(|e| e.network_card > 0);
        for eni in &scenario.enis {
            let dir = format!("{MACS_DIR}{}/", eni.mac.to_ascii_lowercase());
            for (field, body, kind) in eni_fields(scenario, eni, multi_card) {
                leaves.push((format!("{dir}{field}"), body, kind));
            }
        }

        let mut dirs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (path, _, _) in &leaves {
            let parts: Vec<&str> = path.split('/').collect();
            let mut parent = String::new();
            for (i, part) in parts.iter().enumerate() {
                let child = if i + 1 == parts.len() {
                    (*part).to_string()
                } else {
                    format!("{part}/")
                };
                dirs.entry(parent.clone())
                    .or_default()
                    .insert(child.clone());
                parent.push_str(&child);
            }
        }
        let mut map = BTreeMap::new();
        for (dir, children) in dirs {
            let body = children.into_iter().collect::<Vec<_>>().join("\n");
            map.insert(
                dir,
                Entry {
                    body,
                    kind: Kind::Listing,
                },
            );
        }
        for (path, body, kind) in leaves {
            map.insert(path, Entry { body, kind });
        }
        Tree(map)
    }

    /// Look up a path relative to `/latest/meta-data/`. A directory asked
    /// for without its trailing slash still lists (real IMDS does); a leaf
    /// asked for with one does not exist.
    pub(super) fn lookup(&self, rel: &str) -> Option<&Entry> {
        let rel = lowercase_mac(rel);
        self.0.get(&rel).or_else(|| {
            if rel.is_empty() || rel.ends_with('/') {
                None
            } else {
                self.0.get(&format!("{rel}/"))
            }
        })
    }
}

/// MACs are matched case-insensitively, field names are not: only the path
/// segment right after `macs/` is folded.
fn lowercase_mac(rel: &str) -> String {
    match rel.strip_prefix(MACS_DIR) {
        Some(rest) => {
            let (mac, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            format!("{MACS_DIR}{}{tail}", mac.to_ascii_lowercase())
        }
        None => rel.to_string(),
    }
}

/// EC2's private DNS name; us-east-1 is the historical exception.
fn hostname(ip: Ipv4Addr, region: &str) -> String {
    let dashed = ip.to_string().replace('.', "-");
    if region == "us-east-1" {
        format!("ip-{dashed}.ec2.internal")
    } else {
        format!("ip-{dashed}.{region}.compute.internal")
    }
}

fn lines<T: ToString>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The fields present under `macs/<mac>/` for one ENI.
fn eni_fields(
    scenario: &Scenario,
    eni: &EniSpec,
    multi_card: bool,
) -> Vec<(&'static str, String, Kind)> {
    let mut fields = vec![
        ("device-number", eni.device_number.to_string(), Kind::Number),
        ("interface-id", eni.id.clone(), Kind::Text),
        ("mac", eni.mac.to_ascii_lowercase(), Kind::Mac),
        ("owner-id", OWNER_ID.to_string(), Kind::Text),
        ("subnet-id", eni.subnet.clone(), Kind::Text),
        ("vpc-id", scenario.vpc.id.clone(), Kind::Text),
    ];
    if multi_card {
        fields.push(("network-card", eni.network_card.to_string(), Kind::Number));
    }
    if let Some(subnet) = scenario.subnet(&eni.subnet) {
        fields.push((
            "subnet-ipv4-cidr-block",
            subnet.cidr.to_string(),
            Kind::Cidr,
        ));
    }
    if let Some(first) = scenario.vpc.cidrs.first() {
        fields.push(("vpc-ipv4-cidr-block", first.to_string(), Kind::Cidr));
        fields.push((
            "vpc-ipv4-cidr-blocks",
            lines(&scenario.vpc.cidrs),
            Kind::Cidr,
        ));
    }
    if !eni.security_groups.is_empty() {
        let names: Vec<String> = eni
            .security_groups
            .iter()
            .map(|sg| format!("name-of-{sg}"))
            .collect();
        fields.push((
            "security-group-ids",
            lines(&eni.security_groups),
            Kind::Text,
        ));
        fields.push(("security-groups", lines(&names), Kind::Text));
    }
    // EFA-only interfaces have no IPv4 stack at all, whatever the file says.
    if let (Some(first), false) = (eni.ips.first(), eni.kind == EniKind::EfaOnly) {
        fields.push(("local-ipv4s", lines(&eni.ips), Kind::Addresses));
        fields.push((
            "local-hostname",
            hostname(*first, &scenario.node.region),
            Kind::Text,
        ));
    }
    if !eni.prefixes.is_empty() {
        fields.push(("ipv4-prefix", lines(&eni.prefixes), Kind::Cidr));
    }
    fields
}

/// A body that is wrong for its field yet close enough to the real thing
/// that a lax parser would take it. Deterministic, so tests can match it.
pub(super) fn garbage(kind: Kind) -> &'static str {
    match kind {
        Kind::Listing => "\u{0}\u{7f}\u{fffd}/\n<html>\nzz:zz:zz:zz:zz:zz/\n../",
        Kind::Number => "not-a-number",
        Kind::Addresses => "10.0.0.999\n<html>",
        Kind::Mac => "zz:zz",
        Kind::Cidr => "100.64.1.0/33",
        Kind::Text => "<html><body>Service Unavailable</body></html>",
    }
}
