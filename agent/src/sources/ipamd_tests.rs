use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use proptest::prelude::*;
use serde_json::Value;

use super::*;
use eniwatch_lab::ipamd_emulator::{self as emulator, enis_json, router, IpamdState};
use eniwatch_lab::scenario::Scenario;

fn scenario(name: &str) -> Scenario {
    let name = name.strip_suffix(".yaml").unwrap_or(name);
    Scenario::bundled(name).expect("lab scenario loads")
}

/// Serves `state` on 127.0.0.1 and returns a client for it.
async fn serve(state: &IpamdState, timeout: Duration) -> (IpamdClient, RequestCounts) {
    let addr = eniwatch_lab::serve_on_loopback(router(state.clone()))
        .await
        .expect("bind");
    let counts = RequestCounts::new();
    let client = IpamdClient::new(&format!("http://{addr}/"), timeout)
        .expect("client")
        .with_counts(counts.clone());
    (client, counts)
}

fn assigned_count(view: &IpamdView) -> usize {
    view.enis.iter().map(|e| e.assigned.len()).sum()
}

/// Each shape the emulator serves, and what the parser must call it.
const SHAPES: [(emulator::EnisShape, EnisShape); 2] = [
    (
        emulator::EnisShape::PerNetworkCard,
        EnisShape::PerNetworkCard,
    ),
    (emulator::EnisShape::PreV120, EnisShape::PreV120),
];

#[tokio::test]
async fn healthy_node_in_both_shapes() {
    let healthy = scenario("healthy.yaml");
    let state = IpamdState::new(&healthy);
    let (client, counts) = serve(&state, DEFAULT_TIMEOUT).await;
    for (served, shape) in SHAPES {
        state.set_shape(served);
        let view = read_ipamd(&client).await.expect("read");
        assert_eq!(view.enis.len(), 4, "{shape:?}");
        assert_eq!(assigned_count(&view), 38, "{shape:?}");
        assert_eq!(view.custom_networking, Some(true));
        assert_eq!(view.selected_eniconfig.as_deref(), Some("ap-southeast-1a"));
        assert_eq!(view.warm.warm_eni_target, Some(1));
        assert_eq!(view.warm.warm_ip_target, Some(0));
        assert_eq!(view.warm.minimum_ip_target, None);
        assert_eq!(view.prefix_delegation, None);
        let first = &view.enis[0];
        assert!(first.primary && first.ipv4_addresses.is_empty());
        let eni1 = &view.enis[1];
        assert_eq!(eni1.id.as_str(), "eni-0a000000000000001");
        assert_eq!(eni1.device_number, 1);
        // 14 secondary addresses; the ENI's own 100.64.1.10 is not ipamd's.
        assert_eq!(eni1.ipv4_addresses.len(), 14);
        assert!(!eni1.ipv4_addresses.contains(&Ipv4Addr::new(100, 64, 1, 10)));
        let web = (
            Ipv4Addr::new(100, 64, 1, 11),
            Some("shop/web-00".to_string()),
        );
        assert_eq!(eni1.assigned.first(), Some(&web));
        assert!(view
            .enis
            .iter()
            .all(|e| e.assigned.iter().all(|(_, p)| p.is_some())));
    }
    assert_eq!(counts.snapshot().get(&("ipamd", "ok")), Some(&6));
}

#[tokio::test]
async fn network_cards_appear_only_in_the_multi_card_shape() {
    let state = IpamdState::new(&scenario("multi-card-efa.yaml"));
    let (client, _) = serve(&state, DEFAULT_TIMEOUT).await;
    let view = read_ipamd(&client).await.expect("read");
    let cards: Vec<u32> = view.enis.iter().map(|e| e.network_card).collect();
    assert_eq!(cards, vec![0, 0, 0, 1, 2, 3]);
    let efa = &view.enis[4];
    assert!(efa.efa && efa.ipv4_addresses.is_empty() && efa.assigned.is_empty());
    state.set_shape(emulator::EnisShape::PreV120);
    let view = read_ipamd(&client).await.expect("read");
    assert!(view.enis.iter().all(|e| e.network_card == 0));
    assert_eq!(view.enis.len(), 3);
}

#[tokio::test]
async fn overrides_and_a_missing_eniconfig() {
    let state = IpamdState::new(&scenario("healthy.yaml"));
    let (client, counts) = serve(&state, DEFAULT_TIMEOUT).await;
    state.set_custom_networking(false);
    state.set_selected_eniconfig(Some("other".into()));
    let view = read_ipamd(&client).await.expect("read");
    assert_eq!(view.custom_networking, Some(false));
    assert_eq!(view.selected_eniconfig.as_deref(), Some("other"));
    state.set_selected_eniconfig(None);
    let view = read_ipamd(&client)
        .await
        .expect("a 404 on eni-configs is an answer");
    assert_eq!(view.selected_eniconfig, None);
    assert_eq!(counts.snapshot().get(&("ipamd", "not_found")), Some(&1));
}

#[tokio::test]
async fn unavailable_ipamd_is_an_error_with_a_kind() {
    let state = IpamdState::new(&scenario("healthy.yaml"));
    let (client, counts) = serve(&state, DEFAULT_TIMEOUT).await;
    state.set_unavailable(true);
    let err = read_ipamd(&client).await.expect_err("503");
    assert!(
        matches!(err, IpamdError::Status { status: 503, .. }),
        "{err}"
    );
    assert_eq!(err.kind(), "error");
    assert_eq!(counts.total("ipamd"), 3);
    assert_eq!(state.requests(), 3, "no retries");
}

#[tokio::test]
async fn a_slow_ipamd_times_out() {
    let state = IpamdState::new(&scenario("healthy.yaml"));
    state.set_delay(Duration::from_secs(1));
    let (client, counts) = serve(&state, Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    let err = read_ipamd(&client).await.expect_err("timeout");
    assert_eq!(err.kind(), "timeout", "{err}");
    // Concurrent requests: one timeout's worth, not three.
    assert!(started.elapsed() < Duration::from_millis(900));
    assert_eq!(counts.snapshot().get(&("ipamd", "timeout")), Some(&3));
}

#[tokio::test]
async fn the_emulator_answers_as_go_ipamd_does() {
    let state = IpamdState::new(&scenario("healthy.yaml"));
    let (client, _) = serve(&state, DEFAULT_TIMEOUT).await;
    let http = reqwest::Client::builder().no_proxy().build().expect("http");
    let get = |path: &str| http.get(format!("{}{path}", client.base())).send();
    let resp = get(ENV_SETTINGS_PATH).await.expect("env");
    let content_type = resp.headers().get("content-type").cloned();
    assert_eq!(
        content_type.as_ref().and_then(|v| v.to_str().ok()),
        Some("text/plain; charset=utf-8")
    );
    let env: Value = serde_json::from_slice(&resp.bytes().await.expect("body")).expect("json");
    let expected = serde_json::json!({
        "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": true, "WARM_ENI_TARGET": 1, "WARM_IP_TARGET": 0
    });
    assert_eq!(env, expected);
    let root = get("/anything").await.expect("root");
    assert_eq!(root.status(), 200);
    let root: Value = serde_json::from_slice(&root.bytes().await.expect("body")).expect("json");
    assert!(root["AvailableCommands"]
        .as_array()
        .is_some_and(|a| a.len() == 4));
    let selected = get(ENI_CONFIGS_PATH).await.expect("eni-configs");
    assert_eq!(selected.text().await.expect("body"), r#""ap-southeast-1a""#);
}

#[tokio::test]
async fn nothing_listening_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let client = IpamdClient::new(&format!("http://{addr}"), DEFAULT_TIMEOUT).expect("client");
    let err = read_ipamd(&client).await.expect_err("refused");
    assert_eq!(err.kind(), "unreachable", "{err}");
    assert!(err.to_string().contains("host network"));
}

#[test]
fn endpoints_must_be_plain_http_hosts() {
    for bad in [
        "https://127.0.0.1:61679",
        "127.0.0.1:61679",
        "http://h/v1",
        "",
    ] {
        let err = IpamdClient::new(bad, DEFAULT_TIMEOUT).expect_err(bad);
        assert_eq!(err.kind(), "invalid");
    }
    let ok = IpamdClient::new(DEFAULT_BASE, DEFAULT_TIMEOUT).expect("default");
    assert_eq!(ok.base(), DEFAULT_BASE);
}

/// Trimmed from a v1.20+ node's answer (one free, one assigned /32), plus a prefix.
const PER_CARD: &str = r#"{"0":{"TotalIPs":18,"AssignedIPs":2,"ENIs":{"eni-05084d1f2e789e47c":{
 "ID":"eni-05084d1f2e789e47c","IsPrimary":true,"IsTrunk":false,"IsEFA":false,"DeviceNumber":0,
 "AvailableIPv4Cidrs":{
  "192.168.5.217/32":{"Cidr":{"IP":"192.168.5.217","Mask":"/////w=="},"IPAddresses":{"192.168.5.217":{
   "Address":"192.168.5.217","IPAMKey":{"networkName":"","containerID":"","ifName":""},"IPAMMetadata":{},
   "AssignedTime":"2026-03-24T13:41:48Z","UnassignedTime":"2026-03-24T13:58:24Z"}},"IsPrefix":false,"AddressFamily":""},
  "192.168.4.8/32":{"Cidr":{"IP":"192.168.4.8","Mask":"/////w=="},"IPAddresses":{"192.168.4.8":{
   "Address":"192.168.4.8","IPAMKey":{"networkName":"aws-cni","containerID":"6400f2","ifName":"eth0"},
   "IPAMMetadata":{"k8sPodNamespace":"kube-system","k8sPodName":"coredns-d487b6fcb-8d8v9","interfacesCount":1},
   "AssignedTime":"2026-03-24T12:56:48Z","UnassignedTime":"0001-01-01T00:00:00Z"}},"IsPrefix":false,"AddressFamily":""},
  "192.168.9.16/28":{"Cidr":{"IP":"192.168.9.16","Mask":"////8A=="},"IPAddresses":{"192.168.9.20":{
   "Address":"192.168.9.20","IPAMKey":{"networkName":"","containerID":"","ifName":""},
   "IPAMMetadata":{"k8sPodNamespace":"shop","k8sPodName":"web-1"}}},"IsPrefix":true}},
 "IPv6Cidrs":{},"RouteTableID":254,"SomeFutureField":[1,2]}}}}"#;

#[test]
fn parses_a_real_per_card_answer() {
    let (shape, enis) = parse_enis(PER_CARD.as_bytes()).expect("parses");
    assert_eq!(shape, EnisShape::PerNetworkCard);
    let [eni] = enis.as_slice() else {
        panic!("one ENI expected: {enis:?}")
    };
    let ip = |s: &str| s.parse::<Ipv4Addr>().expect("ip");
    assert_eq!(
        eni.ipv4_addresses,
        vec![ip("192.168.4.8"), ip("192.168.5.217"), ip("192.168.9.20")]
    );
    assert_eq!(
        eni.prefixes,
        vec!["192.168.9.16/28".parse::<Ipv4Net>().expect("net")]
    );
    // The prefix address counts as assigned by its pod name alone (a scrubbed IPAMKey).
    assert_eq!(
        eni.assigned,
        vec![
            (
                ip("192.168.4.8"),
                Some("kube-system/coredns-d487b6fcb-8d8v9".into())
            ),
            (ip("192.168.9.20"), Some("shop/web-1".into())),
        ]
    );
}

#[test]
fn parsers_are_strict_about_the_types_they_use() {
    let bad = [
        r#"{"ENIs":{"e":{"ID":"eni-01","DeviceNumber":"1"}}}"#,
        r#"{"ENIs":{"e":{"ID":"not-an-eni","DeviceNumber":1}}}"#,
        r#"{"ENIs":{"e":{"ID":"eni-01","DeviceNumber":-1}}}"#,
        r#"{"ENIs":{"e":{"ID":"eni-01","DeviceNumber":1,"IsTrunk":"yes"}}}"#,
        r#"{"ENIs":{"e":{"ID":"eni-01","DeviceNumber":1,"AvailableIPv4Cidrs":{"x":{}}}}}"#,
        r#"{"cards":{}}"#,
        r#"{"+0":{}}"#,
        "[]",
    ];
    for body in bad {
        assert!(parse_enis(body.as_bytes()).is_err(), "{body}");
    }
    let old = r#"{"TotalIPs":0,"AssignedIPs":0,"ENIs":null}"#;
    assert_eq!(parse_enis(old.as_bytes()), Ok((EnisShape::PreV120, vec![])));
    assert_eq!(parse_enis(b"{}"), Ok((EnisShape::PerNetworkCard, vec![])));
}

#[test]
fn env_settings_typed_or_as_strings() {
    let typed =
        r#"{"AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG":true,"WARM_ENI_TARGET":1,"WARM_IP_TARGET":0}"#;
    let env = parse_env_settings(typed.as_bytes()).expect("typed");
    assert_eq!(env.custom_networking, Some(true));
    assert_eq!(
        (env.warm.warm_eni_target, env.warm.warm_ip_target),
        (Some(1), Some(0))
    );
    assert_eq!(env.prefix_delegation, None);
    let strings = r#"{"AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG":"false","ENABLE_PREFIX_DELEGATION":"True",
        "MINIMUM_IP_TARGET":"10","WARM_PREFIX_TARGET":" 2 ","MAX_ENI":"-1","WARM_IP_TARGET":""}"#;
    let env = parse_env_settings(strings.as_bytes()).expect("strings");
    assert_eq!(env.custom_networking, Some(false));
    assert_eq!(env.prefix_delegation, Some(true));
    assert_eq!(env.warm.minimum_ip_target, Some(10));
    assert_eq!(env.warm.warm_prefix_target, Some(2));
    assert_eq!(env.warm.max_eni, Some(-1));
    assert_eq!(env.warm.warm_ip_target, None);
    for bad in [
        r#"{"WARM_ENI_TARGET":-1}"#,
        r#"{"WARM_ENI_TARGET":1.5}"#,
        r#"{"WARM_ENI_TARGET":"many"}"#,
        r#"{"AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG":"yes"}"#,
        r#"{"AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG":1}"#,
        r#"["WARM_ENI_TARGET"]"#,
    ] {
        assert!(parse_env_settings(bad.as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn eni_configs_as_a_name_or_the_old_object() {
    assert_eq!(
        parse_eni_configs(br#""ap-southeast-1a""#),
        Ok(Some("ap-southeast-1a".into()))
    );
    let old = br#"{"ENI":{"az1":{"securityGroups":["sg-1"],"subnet":"subnet-1"}},"MyENI":"az1","EniConfigAnnotationDef":"k8s.amazonaws.com/eniConfig","EniConfigLabelDef":"k8s.amazonaws.com/eniConfig"}"#;
    assert_eq!(parse_eni_configs(old), Ok(Some("az1".into())));
    assert_eq!(parse_eni_configs(br#""""#), Ok(None));
    assert_eq!(parse_eni_configs(b"null"), Ok(None));
    assert!(parse_eni_configs(b"42").is_err());
    assert!(parse_eni_configs(br#"{"MyENI":7}"#).is_err());
}

#[test]
fn emulator_json_round_trips_through_the_parser() {
    let healthy = eniwatch_lab::ipamd_emulator::data_from_scenario(&scenario("healthy.yaml"));
    for (served, shape) in SHAPES {
        let body = enis_json(&healthy.enis, served).to_string();
        let (parsed_shape, enis) = parse_enis(body.as_bytes()).expect("parses");
        assert_eq!(parsed_shape, shape);
        assert_eq!(enis.iter().map(|e| e.assigned.len()).sum::<usize>(), 38);
    }
}

const KEYS: &[&str] = &[
    "ENIs",
    "TotalIPs",
    "0",
    "1",
    "ID",
    "DeviceNumber",
    "IsPrimary",
    "IsTrunk",
    "IsEFA",
    "AvailableIPv4Cidrs",
    "10.0.0.1/32",
    "10.0.0.16/28",
    "IPAddresses",
    "Address",
    "IPAMKey",
    "IPAMMetadata",
    "k8sPodName",
    "k8sPodNamespace",
    "IsPrefix",
    "MyENI",
    "WARM_ENI_TARGET",
    "MAX_ENI",
    "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(KEYS).prop_map(Value::from),
        "eni-[0-9a-f]{1,8}|10\\.0\\.0\\.[0-9]{1,3}|\\PC{0,10}".prop_map(Value::from),
    ];
    let key = prop_oneof![
        prop::sample::select(KEYS).prop_map(String::from),
        "\\PC{0,6}"
    ];
    leaf.prop_recursive(5, 96, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn parse_all(body: &[u8]) {
    let _ = parse_enis(body);
    let _ = parse_eni_configs(body);
    let _ = parse_env_settings(body);
}

proptest! {
    #[test]
    fn parsers_never_panic(s in "\\PC*") {
        parse_all(s.as_bytes());
    }

    #[test]
    fn parsers_never_panic_on_json_shapes(v in arb_json()) {
        parse_all(v.to_string().as_bytes());
    }

    #[test]
    fn parsers_never_panic_on_near_valid_enis(
        card in "\\PC{0,3}|[0-9]{1,11}", id in "eni-[0-9a-f]{0,4}|\\PC{0,6}", dev in any::<i64>(),
        cidr in "10\\.0\\.[0-9]{1,3}\\.[0-9]{1,3}/[0-9]{1,2}|\\PC{0,8}", addr in "\\PC{0,15}",
        pod in "\\PC{0,8}", prefix in any::<bool>(),
    ) {
        let body = serde_json::json!({ card: { "ENIs": { "x": {
            "ID": id, "DeviceNumber": dev, "AvailableIPv4Cidrs": { cidr: {
                "IsPrefix": prefix,
                "IPAddresses": { "a": { "Address": addr, "IPAMMetadata": { "k8sPodName": pod } } }
            } }
        } } } });
        let _ = parse_enis(body.to_string().as_bytes());
    }
}
