//! IMDS: the node's identity and its ENIs, as the instance metadata service
//! tells them (domain brief §4).
//!
//! One read is a handful of instance fields plus ten fields per ENI. The
//! instance fields are fetched concurrently, then every ENI's fields
//! concurrently (at most [`MAX_IN_FLIGHT`] requests at once: IMDS is throttled
//! per instance, and a burst of 150 requests would earn 429s). Any answer that
//! is not what IMDS sends fails the whole read with an error naming the field:
//! a half-understood ENI list is worse than none, because the checks would
//! judge it.

pub mod client;
mod error;
pub mod parse;

use std::net::Ipv4Addr;

use futures::stream::{self, StreamExt, TryStreamExt};

pub use client::{ImdsClient, ImdsConfig, ImdsError, DEFAULT_ENDPOINT};
use parse::ParseError;

use eniwatch_core::model::{EniMetadata, InstanceMetadata, MacAddr};

/// Requests in flight at once during one read.
pub const MAX_IN_FLIGHT: usize = 8;

const META: &str = "/latest/meta-data/";

impl From<(String, ParseError)> for ImdsError {
    fn from((path, e): (String, ParseError)) -> Self {
        ImdsError::Invalid {
            path,
            problem: e.problem,
        }
    }
}

async fn get(client: &ImdsClient, field: &str) -> Result<Option<String>, ImdsError> {
    client.get(&format!("{META}{field}")).await
}

/// A field that must be present.
async fn required(client: &ImdsClient, field: &str) -> Result<String, ImdsError> {
    get(client, field).await?.ok_or_else(|| ImdsError::Invalid {
        path: format!("{META}{field}"),
        problem: "not found (404), but every instance has it".to_string(),
    })
}

fn parsed<T>(field: &str, r: Result<T, ParseError>) -> Result<T, ImdsError> {
    r.map_err(|e| ImdsError::from((format!("{META}{field}"), e)))
}

/// Reads the instance identity and every attached ENI.
pub async fn read_instance_metadata(client: &ImdsClient) -> Result<InstanceMetadata, ImdsError> {
    let (instance_id, instance_type, mac, local_ipv4, zone, zone_id, region, macs) = tokio::try_join!(
        required(client, "instance-id"),
        required(client, "instance-type"),
        required(client, "mac"),
        get(client, "local-ipv4"),
        required(client, "placement/availability-zone"),
        get(client, "placement/availability-zone-id"),
        get(client, "placement/region"),
        required(client, "network/interfaces/macs/"),
    )?;
    let instance_id = parsed(
        "instance-id",
        parse::single("instance-id", &instance_id).map(String::from),
    )?;
    if !instance_id.starts_with("i-") {
        return Err(ImdsError::Invalid {
            path: format!("{META}instance-id"),
            problem: format!("{instance_id:?} is not an instance id"),
        });
    }
    let instance_type = parsed(
        "instance-type",
        parse::single("instance-type", &instance_type).map(String::from),
    )?;
    let primary_mac: MacAddr = parsed("mac", parse::value("mac", &mac))?;
    let local_ipv4: Option<Ipv4Addr> = local_ipv4
        .map(|b| parsed("local-ipv4", parse::value("local-ipv4", &b)))
        .transpose()?;
    let availability_zone = parsed(
        "placement/availability-zone",
        parse::single("availability-zone", &zone).map(String::from),
    )?;
    let availability_zone_id = zone_id
        .map(|b| {
            parsed(
                "placement/availability-zone-id",
                parse::single("availability-zone-id", &b).map(String::from),
            )
        })
        .transpose()?;
    let region = region
        .map(|b| {
            parsed(
                "placement/region",
                parse::single("region", &b).map(String::from),
            )
        })
        .transpose()?;
    let macs = parsed("network/interfaces/macs/", parse::mac_listing(&macs))?;
    if !macs.contains(&primary_mac) {
        return Err(ImdsError::Invalid {
            path: format!("{META}network/interfaces/macs/"),
            problem: format!("the primary MAC {primary_mac} is not listed"),
        });
    }
    let mut enis: Vec<EniMetadata> = stream::iter(macs)
        .map(|mac| read_eni(client, mac))
        .buffer_unordered(2)
        .try_collect()
        .await?;
    enis.sort_by_key(|e| (e.network_card, e.device_number));
    Ok(InstanceMetadata {
        instance_id,
        instance_type,
        region,
        availability_zone,
        availability_zone_id,
        local_ipv4,
        primary_mac,
        enis,
    })
}

/// A light re-read for the daemon's timer: the ENI listing, and per ENI only
/// what changes in steady state (`local-ipv4s`, `ipv4-prefix`: the warm pool
/// growing and shrinking). Everything else is taken from `previous`. When the
/// set of ENIs changed, this is a full read. 1 + 2 requests per ENI instead
/// of 8 + 10 per ENI.
pub async fn refresh_addresses(
    client: &ImdsClient,
    previous: &InstanceMetadata,
) -> Result<InstanceMetadata, ImdsError> {
    let listing = required(client, "network/interfaces/macs/").await?;
    let mut macs = parsed("network/interfaces/macs/", parse::mac_listing(&listing))?;
    let mut known: Vec<MacAddr> = previous.enis.iter().map(|e| e.mac).collect();
    macs.sort();
    known.sort();
    if macs != known {
        return read_instance_metadata(client).await;
    }
    let enis: Vec<EniMetadata> = stream::iter(previous.enis.iter())
        .map(|eni| async move {
            let base = format!("network/interfaces/macs/{}/", eni.mac);
            let (ips_path, prefix_path) =
                (format!("{base}local-ipv4s"), format!("{base}ipv4-prefix"));
            let (ips, prefixes) =
                tokio::try_join!(get(client, &ips_path), get(client, &prefix_path))?;
            let mut next = eni.clone();
            next.local_ipv4s = optional(&ips_path, ips.as_deref(), |b| {
                parse::ipv4_list("local-ipv4s", b)
            })?
            .unwrap_or_default();
            next.ipv4_prefixes = optional(&prefix_path, prefixes.as_deref(), |b| {
                parse::net_list("ipv4-prefix", b)
            })?
            .unwrap_or_default();
            Ok::<_, ImdsError>(next)
        })
        .buffered(MAX_IN_FLIGHT / 2)
        .try_collect()
        .await?;
    Ok(InstanceMetadata {
        enis,
        ..previous.clone()
    })
}

/// The fields read per ENI.
const ENI_FIELDS: [&str; 10] = [
    "device-number",
    "network-card",
    "interface-id",
    "subnet-id",
    "subnet-ipv4-cidr-block",
    "vpc-id",
    "vpc-ipv4-cidr-blocks",
    "security-group-ids",
    "local-ipv4s",
    "ipv4-prefix",
];

async fn read_eni(client: &ImdsClient, mac: MacAddr) -> Result<EniMetadata, ImdsError> {
    let base = format!("network/interfaces/macs/{mac}/");
    // Two ENIs at a time, each with at most half of the in-flight budget.
    let bodies: Vec<Option<String>> = stream::iter(ENI_FIELDS)
        .map(|f| {
            let path = format!("{base}{f}");
            async move { get(client, &path).await }
        })
        .buffered(MAX_IN_FLIGHT / 2)
        .try_collect()
        .await?;
    let body = |i: usize| bodies.get(i).and_then(|b| b.as_deref());
    let path = |i: usize| format!("{base}{}", ENI_FIELDS[i]);

    let device_number = match body(0) {
        Some(b) => parsed(&path(0), parse::value::<u32>("device-number", b))?,
        // Listed a moment ago, gone now: IMDS changed under the read.
        None => {
            return Err(ImdsError::Invalid {
                path: format!("{META}{}", path(0)),
                problem: "not found while the ENI is listed (the ENI set is changing; read again)"
                    .into(),
            })
        }
    };
    let network_card =
        optional(&path(1), body(1), |b| parse::value("network-card", b))?.unwrap_or(0);
    let interface_id = optional(&path(2), body(2), |b| parse::value("interface-id", b))?;
    let subnet_id = optional(&path(3), body(3), |b| parse::value("subnet-id", b))?;
    let subnet_cidr = optional(&path(4), body(4), |b| {
        parse::net("subnet-ipv4-cidr-block", b)
    })?;
    let vpc_id = optional(&path(5), body(5), |b| parse::value("vpc-id", b))?;
    let vpc_cidrs = optional(&path(6), body(6), |b| {
        parse::net_list("vpc-ipv4-cidr-blocks", b)
    })?
    .unwrap_or_default();
    let security_groups =
        optional(&path(7), body(7), |b| parse::list("security-group-ids", b))?.unwrap_or_default();
    let local_ipv4s =
        optional(&path(8), body(8), |b| parse::ipv4_list("local-ipv4s", b))?.unwrap_or_default();
    let ipv4_prefixes =
        optional(&path(9), body(9), |b| parse::net_list("ipv4-prefix", b))?.unwrap_or_default();
    Ok(EniMetadata {
        mac,
        device_number,
        network_card,
        interface_id,
        subnet_id,
        subnet_cidr,
        vpc_id,
        vpc_cidrs,
        security_groups,
        local_ipv4s,
        ipv4_prefixes,
    })
}

/// Parses a field that may be absent (404).
fn optional<T>(
    path: &str,
    body: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, ParseError>,
) -> Result<Option<T>, ImdsError> {
    body.map(|b| parsed(path, parse(b))).transpose()
}

#[cfg(test)]
mod answer_tests;
#[cfg(test)]
mod tests;
