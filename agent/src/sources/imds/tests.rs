//! The IMDS client and reader against the lab's IMDSv2 emulator, over HTTP on
//! loopback: token caching and refresh, retries, 404s and bad bodies.

use std::time::Duration;

use super::*;
use eniwatch_lab::imds_emulator::{router, ImdsState};
use eniwatch_lab::scenario::{ImdsFaults, Scenario};

fn scenario(name: &str) -> Scenario {
    Scenario::bundled(name).unwrap()
}

async fn emulator(s: &Scenario) -> (ImdsState, ImdsClient) {
    let state = ImdsState::new(s);
    let addr = eniwatch_lab::serve_on_loopback(router(state.clone()))
        .await
        .unwrap();
    let client = ImdsClient::new(ImdsConfig {
        endpoint: format!("http://{addr}"),
        request_timeout: Duration::from_millis(300),
        backoff: Duration::from_millis(10),
        ..ImdsConfig::default()
    })
    .unwrap();
    (state, client)
}

#[tokio::test]
async fn reads_a_node_with_one_token() {
    let (state, client) = emulator(&scenario("healthy")).await;
    let m = read_instance_metadata(&client).await.unwrap();
    assert_eq!(m.instance_type, "t3.2xlarge");
    assert_eq!(m.availability_zone_id.as_deref(), Some("apse1-az1"));
    assert_eq!(m.enis.len(), 4);
    assert_eq!(m.enis[1].device_number, 1);
    assert_eq!(m.enis[1].local_ipv4s.len(), 15);
    assert_eq!(m.enis[1].subnet_cidr.unwrap().to_string(), "100.64.1.0/24");
    assert_eq!(m.enis[1].vpc_cidrs.len(), 2);
    assert_eq!(m.enis[0].network_card, 0, "404 network-card means card 0");
    let stats = state.stats();
    assert_eq!(
        stats.token_requests, 1,
        "the token is cached across {} GETs",
        stats.metadata_requests
    );
    // A second read reuses the same token.
    read_instance_metadata(&client).await.unwrap();
    assert_eq!(state.stats().token_requests, 1);
}

#[tokio::test]
async fn prefixes_and_network_cards() {
    let (_, client) = emulator(&scenario("prefix-delegation")).await;
    let m = read_instance_metadata(&client).await.unwrap();
    assert_eq!(m.enis[1].ipv4_prefixes.len(), 2);
    assert_eq!(m.enis[1].pod_capacity(), 32);
    let (_, client) = emulator(&scenario("multi-card-efa")).await;
    let m = read_instance_metadata(&client).await.unwrap();
    let card1 = m.enis.iter().find(|e| e.network_card == 1).unwrap();
    assert_eq!(card1.route_table(), 10_101);
    assert!(m.enis.iter().any(|e| e.is_efa_only()));
}

#[tokio::test]
async fn a_401_fetches_a_new_token_once() {
    let (state, client) = emulator(&scenario("healthy")).await;
    assert!(client
        .get("/latest/meta-data/instance-id")
        .await
        .unwrap()
        .is_some());
    state.expire_tokens();
    assert!(client
        .get("/latest/meta-data/instance-id")
        .await
        .unwrap()
        .is_some());
    assert_eq!(state.stats().token_requests, 2);
    // A fresh token refused again is an error, not a loop.
    state.set_faults(ImdsFaults {
        unauthorized: 100,
        ..Default::default()
    });
    let err = client
        .get("/latest/meta-data/instance-id")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
    assert!(state.stats().token_requests <= 4);
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_then_reported() {
    let (state, client) = emulator(&scenario("healthy")).await;
    state.set_faults(ImdsFaults {
        throttle: 2,
        ..Default::default()
    });
    assert!(client.get("/latest/meta-data/mac").await.unwrap().is_some());
    state.set_faults(ImdsFaults {
        server_error: 50,
        ..Default::default()
    });
    let err = client.get("/latest/meta-data/mac").await.unwrap_err();
    assert!(
        matches!(err, ImdsError::Unreachable { attempts: 4, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn slow_answers_time_out_and_404_is_none() {
    let (state, client) = emulator(&scenario("healthy")).await;
    assert_eq!(
        client.get("/latest/meta-data/no-such-thing").await.unwrap(),
        None
    );
    state.set_faults(ImdsFaults {
        slow_ms: 1000,
        ..Default::default()
    });
    let err = client.get("/latest/meta-data/mac").await.unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");
}

#[tokio::test]
async fn garbage_fails_the_read_with_the_field_named() {
    let (state, client) = emulator(&scenario("healthy")).await;
    state.set_faults(ImdsFaults {
        garbage: true,
        ..Default::default()
    });
    let err = read_instance_metadata(&client).await.unwrap_err();
    assert!(matches!(err, ImdsError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("/latest/meta-data/"), "{err}");
}

#[test]
fn endpoints_are_validated() {
    for bad in [
        "169.254.169.254",
        "https://169.254.169.254",
        "http://",
        "not a url",
    ] {
        let cfg = ImdsConfig {
            endpoint: bad.into(),
            ..ImdsConfig::default()
        };
        assert!(ImdsClient::new(cfg).is_err(), "{bad}");
    }
    let cfg = ImdsConfig {
        endpoint: "http://[fd00:ec2::254]/".into(),
        ..ImdsConfig::default()
    };
    assert_eq!(
        ImdsClient::new(cfg).unwrap().endpoint(),
        "http://[fd00:ec2::254]"
    );
}

#[tokio::test]
async fn light_refresh_reads_addresses_only_until_the_eni_set_changes() {
    let mut s = scenario("healthy");
    let (state, client) = emulator(&s).await;
    let first = read_instance_metadata(&client).await.unwrap();
    let before = state.stats().metadata_requests;
    s.enis[1].ips.pop();
    state.set_scenario(&s);
    let light = refresh_addresses(&client, &first).await.unwrap();
    assert_eq!(
        state.stats().metadata_requests - before,
        1 + 2 * 4,
        "listing + 2 per ENI"
    );
    assert_eq!(light.enis[1].local_ipv4s.len(), 14);
    assert_eq!(light.enis[1].security_groups, first.enis[1].security_groups);
    s.enis.pop();
    state.set_scenario(&s);
    let full = refresh_addresses(&client, &light).await.unwrap();
    assert_eq!(full.enis.len(), 3, "a changed ENI set makes it a full read");
}

#[test]
fn retries_wait_100_200_400_ms_each_plus_up_to_a_fifth() {
    let client = ImdsClient::new(ImdsConfig::default()).unwrap();
    let policy = client.retry_policy();
    let ms = |n| policy.nominal(n).as_millis();
    assert_eq!([ms(1), ms(2), ms(3)], [100, 200, 400]);
    let mut rng = fastrand::Rng::with_seed(3);
    let waits: Vec<Duration> = (0..32).map(|_| policy.delay(2, &mut rng)).collect();
    for w in &waits {
        assert!(
            (Duration::from_millis(200)..=Duration::from_millis(240)).contains(w),
            "{w:?}"
        );
    }
    assert!(
        waits.iter().any(|w| *w != waits[0]),
        "the jitter varies: {waits:?}"
    );
}
