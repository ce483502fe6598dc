//! The IMDS emulator's faults and switches over HTTP: expiring and revoked
//! tokens, throttling and server errors, garbage, delays, a scenario swapped
//! at run time, and the request counters.

use super::tests::{scenario, Lab, MACS};
use super::*;

#[tokio::test]
async fn tokens_expire() {
    let lab = Lab::start(&scenario()).await;
    let (status, _, short) = lab.put_token(Some("1")).await;
    assert_eq!(status, 200);
    lab.ok("/latest/meta-data/mac", &short).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(lab.get("/latest/meta-data/mac", Some(&short)).await.0, 401);

    let long = lab.token().await;
    lab.ok("/latest/meta-data/mac", &long).await;
    lab.state.expire_tokens();
    assert_eq!(lab.get("/latest/meta-data/mac", Some(&long)).await.0, 401);
    lab.ok("/latest/meta-data/mac", &lab.token().await).await;
}

#[tokio::test]
async fn throttle_then_server_error_then_ok() {
    let mut faulty = scenario();
    faulty.imds_faults.throttle = 2;
    faulty.imds_faults.server_error = 1;
    let lab = Lab::start(&faulty).await;
    assert_eq!(lab.put_token(Some("60")).await.0, 429);
    assert_eq!(lab.get("/latest/meta-data/mac", None).await.0, 429);
    assert_eq!(lab.state.faults().throttle, 0);
    assert_eq!(lab.state.faults().server_error, 1);
    let (status, _, body) = lab.put_token(Some("60")).await;
    assert_eq!(status, 500, "{body}");
    let token = lab.token().await;
    lab.ok("/latest/meta-data/mac", &token).await;
    assert_eq!(lab.state.faults(), ImdsFaults::default());

    lab.state.set_faults(ImdsFaults {
        server_error: 2,
        ..Default::default()
    });
    assert_eq!(lab.get("/latest/meta-data/mac", Some(&token)).await.0, 500);
    assert_eq!(lab.get("/latest/meta-data/mac", Some(&token)).await.0, 500);
    lab.ok("/latest/meta-data/mac", &token).await;
}

#[tokio::test]
async fn unauthorized_revokes_the_token() {
    let lab = Lab::start(&scenario()).await;
    let token = lab.token().await;
    lab.state.set_faults(ImdsFaults {
        unauthorized: 1,
        ..Default::default()
    });
    // A request without a valid token does not use the fault up.
    assert_eq!(lab.get("/latest/meta-data/mac", None).await.0, 401);
    assert_eq!(lab.state.faults().unauthorized, 1);
    assert_eq!(lab.get("/latest/meta-data/mac", Some(&token)).await.0, 401);
    assert_eq!(lab.state.faults().unauthorized, 0);
    assert_eq!(
        lab.get("/latest/meta-data/mac", Some(&token)).await.0,
        401,
        "token must be revoked"
    );
    lab.ok("/latest/meta-data/mac", &lab.token().await).await;
}

#[tokio::test]
async fn garbage_poisons_successful_answers() {
    let lab = Lab::start(&scenario()).await;
    let token = lab.token().await;
    let pods = format!("{MACS}0a:00:00:00:00:02/");
    let clean_listing = lab.ok(MACS, &token).await;
    lab.state.set_faults(ImdsFaults {
        garbage: true,
        ..Default::default()
    });
    assert_eq!(
        lab.ok(&format!("{pods}device-number"), &token).await,
        "not-a-number"
    );
    assert_eq!(
        lab.ok(&format!("{pods}local-ipv4s"), &token).await,
        "10.0.0.999\n<html>"
    );
    assert_eq!(lab.ok(&format!("{pods}mac"), &token).await, "zz:zz");
    assert_eq!(
        lab.ok(&format!("{pods}subnet-ipv4-cidr-block"), &token)
            .await,
        "100.64.1.0/33"
    );
    assert_eq!(
        lab.ok(&format!("{pods}interface-id"), &token).await,
        "<html><body>Service Unavailable</body></html>"
    );
    let listing = lab.ok(MACS, &token).await;
    assert_ne!(listing, clean_listing);
    assert!(listing.contains("<html>"), "{listing:?}");
    assert_eq!(
        lab.get("/latest/meta-data/nothing", Some(&token)).await.0,
        404
    );
    // Garbage is served with a valid token only; the token path is untouched.
    assert_eq!(lab.get(&format!("{pods}mac"), None).await.0, 401);
    assert_eq!(lab.token().await.len(), 56);
    lab.state.set_faults(ImdsFaults::default());
    assert_eq!(
        lab.ok(&format!("{pods}mac"), &token).await,
        "0a:00:00:00:00:02"
    );
}

#[tokio::test]
async fn slow_delays_every_answer() {
    let lab = Lab::start(&scenario()).await;
    lab.state.set_faults(ImdsFaults {
        slow_ms: 300,
        ..Default::default()
    });
    let started = std::time::Instant::now();
    let token = lab.token().await;
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    let started = std::time::Instant::now();
    lab.ok("/latest/meta-data/mac", &token).await;
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn set_scenario_changes_data_and_keeps_tokens() {
    let lab = Lab::start(&scenario()).await;
    let token = lab.token().await;
    let mut detached = scenario();
    detached.enis.retain(|e| e.id != "eni-pods");
    detached.enis[0].ips.push("10.0.1.12".parse().expect("ip"));
    lab.state.set_scenario(&detached);
    assert_eq!(
        lab.ok(MACS, &token).await,
        "0a:00:00:00:00:01/\n0a:00:00:00:00:03/"
    );
    assert_eq!(
        lab.get(&format!("{MACS}0a:00:00:00:00:02/mac"), Some(&token))
            .await
            .0,
        404
    );
    assert_eq!(
        lab.ok(&format!("{MACS}0a:00:00:00:00:01/local-ipv4s"), &token)
            .await,
        "10.0.1.10\n10.0.1.11\n10.0.1.12"
    );
}

#[tokio::test]
async fn stats_count_requests_and_statuses() {
    let lab = Lab::start(&scenario()).await;
    let token = lab.token().await;
    lab.ok("/latest/meta-data/mac", &token).await;
    lab.get("/latest/meta-data/mac", None).await;
    lab.get("/latest/meta-data/nope", Some(&token)).await;
    lab.put_token(None).await;
    lab.get(TOKEN_PATH, None).await;
    let stats = lab.state.stats();
    assert_eq!(stats.requests, 6);
    assert_eq!(stats.token_requests, 2);
    assert_eq!(stats.metadata_requests, 3);
    assert_eq!(
        stats.by_status,
        BTreeMap::from([(200, 2), (400, 1), (401, 1), (404, 1), (405, 1)])
    );
    assert_eq!(stats.answered(401), 1);
    assert_eq!(stats.answered(418), 0);
    let json = serde_json::to_value(&stats).expect("stats serialize");
    assert_eq!(json["by_status"]["404"], 1);
}
