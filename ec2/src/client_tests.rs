//! The EC2 client against tiny servers on loopback: errors in words with
//! the endpoint, bounded answers, no retries, and every attempt counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::*;
use crate::vpc::{EniQuery, SubnetQuery, VpcApi};
use eniwatch_lab::test_servers::{answering_huge, closed_port, serve};
use eniwatch_lab::witness_spec::{counted_fault_router, Ec2Fault};

fn vpc() -> eniwatch_core::model::VpcId {
    "vpc-0abc".parse().expect("id")
}

async fn client(endpoint: &str, calls: RequestCounts) -> Ec2Client {
    let config = Ec2Config {
        endpoint: Some(endpoint.to_string()),
        region: Some("eu-west-1".into()),
        static_credentials: Some(("AKIDEXAMPLE".into(), "secret".into())),
    };
    Ec2Client::new(&config, None, calls).await.expect("client")
}

#[tokio::test]
async fn an_unreachable_endpoint_is_named_with_the_cause_in_words() {
    let endpoint = closed_port().await;
    let calls = RequestCounts::new();
    let c = client(&endpoint, calls.clone()).await;
    let e = c
        .subnets(&SubnetQuery::Vpc(vpc()), None)
        .await
        .expect_err("refused");
    assert_eq!(
        e.to_string(),
        format!("EC2 DescribeSubnets: EC2 endpoint {endpoint} unreachable: connection refused")
    );
    assert_eq!(e.kind(), "unreachable");
    assert_eq!(
        calls.snapshot().get(&("DescribeSubnets", "unreachable")),
        Some(&1),
        "one attempt, counted on the wire"
    );
}

#[tokio::test]
async fn the_regional_endpoint_is_named_when_none_is_given() {
    assert_eq!(
        endpoint_of(&Ec2Config::default(), "eu-west-1"),
        "https://ec2.eu-west-1.amazonaws.com"
    );
}

#[tokio::test]
async fn an_answer_over_the_limit_is_refused_with_or_without_a_length() {
    for chunked in [false, true] {
        let endpoint = serve(answering_huge(wire::MAX_BODY + 1, chunked)).await;
        let calls = RequestCounts::new();
        let c = client(&endpoint, calls.clone()).await;
        let e = c
            .network_interfaces(&EniQuery::CniTagged(vpc()), None)
            .await
            .expect_err("too large");
        assert_eq!(
            e.to_string(),
            format!("EC2 DescribeNetworkInterfaces: EC2 endpoint {endpoint} answered more than 4 MiB: not an EC2 API answer"),
            "chunked: {chunked}"
        );
        assert_eq!(e.kind(), "invalid");
        assert_eq!(
            calls
                .snapshot()
                .get(&("DescribeNetworkInterfaces", "invalid")),
            Some(&1)
        );
    }
}

#[tokio::test]
async fn a_throttled_call_is_sent_once_and_counted_once() {
    let received = Arc::new(AtomicU64::new(0));
    let endpoint = serve(counted_fault_router(Ec2Fault::Throttle, received.clone())).await;
    let calls = RequestCounts::new();
    let c = client(&endpoint, calls.clone()).await;
    let started = std::time::Instant::now();
    let e = c
        .subnets(
            &SubnetQuery::Ids(vec!["subnet-0abc".parse().expect("id")]),
            None,
        )
        .await
        .expect_err("throttled");
    assert_eq!(e.kind(), "throttled", "{e}");
    assert!(e.to_string().contains("RequestLimitExceeded"), "{e}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "no SDK backoff"
    );
    assert_eq!(received.load(Ordering::SeqCst), 1, "no SDK retries");
    assert_eq!(
        calls.snapshot().get(&("DescribeSubnets", "throttled")),
        Some(&1)
    );
    assert_eq!(calls.total("DescribeSubnets"), 1);
}

#[tokio::test]
async fn an_attempt_dropped_unfinished_is_counted_as_a_timeout() {
    // Accepts and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let calls = RequestCounts::new();
    let c = client(&endpoint, calls.clone()).await;
    let cut = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        c.subnets(&SubnetQuery::Vpc(vpc()), None),
    )
    .await;
    assert!(cut.is_err(), "cut off by the caller");
    assert_eq!(
        calls.snapshot().get(&("DescribeSubnets", "timeout")),
        Some(&1)
    );
}
