//! The IMDS emulator over HTTP: the token protocol and the answers it
//! derives from a scenario. [`Lab`] serves one on loopback for these tests
//! and those of its faults.

use super::*;

const SCENARIO: &str = r#"
name: imds-test
node:
  name: ip-10-0-1-10.us-west-2.compute.internal
  instance_id: i-0123456789abcdef0
  instance_type: m5.large
  region: us-west-2
  availability_zone: us-west-2a
vpc:
  id: vpc-0abc
  cidrs: ["10.0.0.0/16", "100.64.0.0/16"]
subnets:
  - { id: subnet-node, cidr: "10.0.1.0/24", availability_zone: us-west-2a }
  - { id: subnet-pods, cidr: "100.64.1.0/24", availability_zone: us-west-2a }
enis:
  - mac: "0A:00:00:00:00:01"
    id: eni-primary
    device_number: 0
    subnet: subnet-node
    security_groups: [sg-node]
    ips: ["10.0.1.10", "10.0.1.11"]
  - mac: "0a:00:00:00:00:02"
    id: eni-pods
    device_number: 1
    subnet: subnet-pods
    security_groups: [sg-pods, sg-extra]
    ips: ["100.64.1.5"]
    prefixes: ["100.64.1.16/28", "100.64.1.32/28"]
  - mac: "0a:00:00:00:00:03"
    id: eni-efa
    device_number: 2
    subnet: subnet-node
    kind: efa-only
"#;

pub(super) const MACS: &str = "/latest/meta-data/network/interfaces/macs/";

pub(super) fn scenario() -> Scenario {
    let scenario: Scenario = serde_norway::from_str(SCENARIO).expect("test scenario parses");
    scenario.validate().expect("test scenario is valid");
    scenario
}

pub(super) struct Lab {
    pub(super) state: ImdsState,
    base: String,
    client: reqwest::Client,
}

impl Lab {
    pub(super) async fn start(scenario: &Scenario) -> Lab {
        let state = ImdsState::new(scenario);
        let addr = crate::serve_on_loopback(router(state.clone()))
            .await
            .expect("bind");
        // No proxy: a CI proxy variable must not capture loopback traffic.
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        Lab {
            state,
            base: format!("http://{addr}"),
            client,
        }
    }

    /// (status, ttl header, body) of a token PUT with this TTL header.
    pub(super) async fn put_token(&self, ttl: Option<&str>) -> (u16, Option<String>, String) {
        let mut request = self.client.put(format!("{}{TOKEN_PATH}", self.base));
        if let Some(ttl) = ttl {
            request = request.header(TTL_HEADER, ttl);
        }
        let response = request.send().await.expect("send");
        let status = response.status().as_u16();
        let echoed = response
            .headers()
            .get(TTL_HEADER)
            .map(|v| v.to_str().expect("ascii").to_string());
        (status, echoed, response.text().await.expect("body"))
    }

    pub(super) async fn token(&self) -> String {
        let (status, _, token) = self.put_token(Some("21600")).await;
        assert_eq!(status, 200, "token PUT failed: {token}");
        token
    }

    pub(super) async fn get(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header(TOKEN_HEADER, token);
        }
        let response = request.send().await.expect("send");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    pub(super) async fn ok(&self, path: &str, token: &str) -> String {
        let (status, body) = self.get(path, Some(token)).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }
}

#[tokio::test]
async fn token_protocol() {
    let lab = Lab::start(&scenario()).await;
    let (status, body) = lab.get("/latest/meta-data/instance-id", None).await;
    assert_eq!((status, body.as_str()), (401, ""), "IMDSv1 must be off");
    assert_eq!(
        lab.get("/latest/meta-data/instance-id", Some("made-up"))
            .await
            .0,
        401
    );
    for bad in [
        None,
        Some("0"),
        Some("21601"),
        Some("abc"),
        Some("+5"),
        Some(""),
    ] {
        assert_eq!(lab.put_token(bad).await.0, 400, "TTL {bad:?}");
    }
    let (status, echoed, token) = lab.put_token(Some("300")).await;
    assert_eq!((status, echoed.as_deref()), (200, Some("300")));
    assert_eq!(token.len(), 56, "{token}");
    assert_ne!(token, lab.token().await, "tokens must differ");
    assert_eq!(
        lab.ok("/latest/meta-data/instance-id", &token).await,
        "i-0123456789abcdef0"
    );

    let proxied = lab
        .client
        .put(format!("{}{TOKEN_PATH}", lab.base))
        .header(TTL_HEADER, "60");
    let proxied = proxied
        .header("X-Forwarded-For", "10.9.9.9")
        .send()
        .await
        .expect("send");
    assert_eq!(proxied.status().as_u16(), 403);
    assert_eq!(lab.get(TOKEN_PATH, Some(&token)).await.0, 405);
    let delete = lab
        .client
        .delete(format!("{}/latest/meta-data/mac", lab.base));
    assert_eq!(delete.send().await.expect("send").status().as_u16(), 405);
}

#[tokio::test]
async fn node_fields_and_listings() {
    let lab = Lab::start(&scenario()).await;
    let token = lab.token().await;
    let root = lab.ok("/latest/meta-data/", &token).await;
    let entries: Vec<&str> = root.lines().collect();
    for wanted in [
        "instance-id",
        "instance-type",
        "local-ipv4",
        "mac",
        "network/",
        "placement/",
        "services/",
        "iam/",
    ] {
        assert!(
            entries.contains(&wanted),
            "{wanted} missing from {entries:?}"
        );
    }
    assert!(!root.ends_with('\n'));
    assert_eq!(lab.ok("/latest/meta-data", &token).await, root);
    assert_eq!(
        lab.ok("/latest/meta-data/instance-type", &token).await,
        "m5.large"
    );
    assert_eq!(
        lab.ok("/latest/meta-data/local-ipv4", &token).await,
        "10.0.1.10"
    );
    assert_eq!(
        lab.ok("/latest/meta-data/mac", &token).await,
        "0a:00:00:00:00:01"
    );
    assert_eq!(
        lab.ok("/latest/meta-data/placement/region", &token).await,
        "us-west-2"
    );
    assert_eq!(
        lab.ok("/latest/meta-data/placement/availability-zone", &token)
            .await,
        "us-west-2a"
    );
    assert_eq!(
        lab.get(
            "/latest/meta-data/placement/availability-zone-id",
            Some(&token)
        )
        .await
        .0,
        404
    );
    assert_eq!(
        lab.ok("/latest/meta-data/network/", &token).await,
        "interfaces/"
    );
    assert_eq!(
        lab.ok("/latest/meta-data/network/interfaces", &token).await,
        "macs/"
    );
    assert_eq!(
        lab.ok(MACS, &token).await,
        "0a:00:00:00:00:01/\n0a:00:00:00:00:02/\n0a:00:00:00:00:03/"
    );
    let (status, body) = lab
        .get("/latest/meta-data/no-such-thing", Some(&token))
        .await;
    assert_eq!(status, 404);
    assert!(body.contains("404 - Not Found"), "{body}");
    assert_eq!(
        lab.get("/latest/meta-data/instance-id/", Some(&token))
            .await
            .0,
        404
    );
    assert_eq!(lab.get("/latest/meta-dataz", Some(&token)).await.0, 404);
}

#[tokio::test]
async fn per_mac_fields() {
    let lab = Lab::start(&scenario()).await;
    let token = lab.token().await;
    let field = |mac: &str, name: &str| format!("{MACS}{mac}/{name}");
    let (primary, pods, efa) = (
        "0a:00:00:00:00:01",
        "0A:00:00:00:00:02",
        "0a:00:00:00:00:03",
    );

    assert_eq!(lab.ok(&field(pods, "device-number"), &token).await, "1");
    assert_eq!(
        lab.ok(&field(pods, "interface-id"), &token).await,
        "eni-pods"
    );
    assert_eq!(
        lab.ok(&field(pods, "mac"), &token).await,
        "0a:00:00:00:00:02"
    );
    assert_eq!(
        lab.ok(&field(pods, "subnet-id"), &token).await,
        "subnet-pods"
    );
    assert_eq!(
        lab.ok(&field(pods, "subnet-ipv4-cidr-block"), &token).await,
        "100.64.1.0/24"
    );
    assert_eq!(lab.ok(&field(pods, "vpc-id"), &token).await, "vpc-0abc");
    assert_eq!(
        lab.ok(&field(pods, "vpc-ipv4-cidr-block"), &token).await,
        "10.0.0.0/16"
    );
    assert_eq!(
        lab.ok(&field(pods, "vpc-ipv4-cidr-blocks"), &token).await,
        "10.0.0.0/16\n100.64.0.0/16"
    );
    assert_eq!(
        lab.ok(&field(pods, "security-group-ids"), &token).await,
        "sg-pods\nsg-extra"
    );
    assert_eq!(
        lab.ok(&field(pods, "security-groups"), &token).await,
        "name-of-sg-pods\nname-of-sg-extra"
    );
    assert_eq!(
        lab.ok(&field(pods, "local-ipv4s"), &token).await,
        "100.64.1.5"
    );
    assert_eq!(
        lab.ok(&field(pods, "ipv4-prefix"), &token).await,
        "100.64.1.16/28\n100.64.1.32/28"
    );
    assert_eq!(
        lab.ok(&field(pods, "local-hostname"), &token).await,
        "ip-100-64-1-5.us-west-2.compute.internal"
    );
    let owner = lab.ok(&field(pods, "owner-id"), &token).await;
    assert!(
        owner.len() == 12 && owner.bytes().all(|b| b.is_ascii_digit()),
        "{owner}"
    );
    assert_eq!(
        lab.ok(&field(primary, "local-ipv4s"), &token).await,
        "10.0.1.10\n10.0.1.11"
    );

    for (mac, name) in [
        (primary, "ipv4-prefix"),
        (primary, "network-card"),
        (pods, "ipv6s"),
        (efa, "local-ipv4s"),
    ] {
        assert_eq!(
            lab.get(&field(mac, name), Some(&token)).await.0,
            404,
            "{mac} {name}"
        );
    }
    assert_eq!(
        lab.get(&field("0a:00:00:00:00:99", "mac"), Some(&token))
            .await
            .0,
        404
    );

    let listing = lab.ok(&field(pods, ""), &token).await;
    assert!(listing.lines().any(|l| l == "ipv4-prefix"), "{listing}");
    let listing = lab.ok(&format!("{MACS}{primary}"), &token).await;
    assert!(listing.lines().any(|l| l == "local-ipv4s"), "{listing}");
    assert!(
        !listing
            .lines()
            .any(|l| l == "ipv4-prefix" || l == "network-card"),
        "{listing}"
    );
    let listing = lab.ok(&field(efa, ""), &token).await;
    assert!(listing.lines().any(|l| l == "device-number"), "{listing}");
    assert!(!listing.lines().any(|l| l == "local-ipv4s"), "{listing}");
}

#[tokio::test]
async fn network_card_on_multi_card_instances() {
    let lab = Lab::start(&scenario()).await;
    let token = lab.token().await;
    let mut multi = scenario();
    multi.enis[1].network_card = 1;
    multi.enis[1].device_number = 0;
    lab.state.set_scenario(&multi);
    assert_eq!(
        lab.ok(&format!("{MACS}0a:00:00:00:00:01/network-card"), &token)
            .await,
        "0"
    );
    assert_eq!(
        lab.ok(&format!("{MACS}0a:00:00:00:00:02/network-card"), &token)
            .await,
        "1"
    );
    assert_eq!(
        lab.ok(&format!("{MACS}0a:00:00:00:00:02/device-number"), &token)
            .await,
        "0"
    );
}
