//! The EC2 source against a real EC2 emulator (moto's server, started on
//! loopback), seeded through the EC2 API itself: subnet facts, instance-type
//! limits, ENIs by attachment, error kinds.

#[path = "common/bin.rs"]
mod bin;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use eniwatch_core::sources::requests::RequestCounts;
use eniwatch_ec2::{Ec2Client, Ec2Config};

#[path = "common/skip.rs"]
mod skip;

struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts moto's server on a free loopback port; None (after saying why) when
/// it is not installed outside CI.
fn moto() -> Option<Moto> {
    let server = std::env::var("ENIWATCH_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
    if let Err(e) = skip::runs(&server, &["--help"]) {
        let why = format!("moto's EC2 server is not installed ({e}; run scripts/setup.sh)");
        skip::skip_or_fail("the EC2 source against moto", &why);
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    let child = Command::new(&server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("moto_server ({server}) ran with --help but not as a server: {e}")
        });
    let m = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(m)
}

fn config(endpoint: &str) -> Ec2Config {
    Ec2Config {
        endpoint: Some(endpoint.to_string()),
        region: Some("ap-southeast-1".into()),
        static_credentials: Some(("testing".into(), "testing".into())),
    }
}

/// A raw SDK client for seeding (the lab's).
async fn seeder(endpoint: &str) -> aws_sdk_ec2::Client {
    eniwatch_lab::ec2_seed::client(endpoint, "ap-southeast-1").await
}

#[tokio::test]
async fn subnets_instance_types_and_enis_from_moto() {
    let Some(m) = moto() else { return };
    let seed = seeder(&m.endpoint).await;
    let vpc = seed
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    seed.associate_vpc_cidr_block()
        .vpc_id(&vpc_id)
        .cidr_block("100.64.0.0/16")
        .send()
        .await
        .unwrap();
    let pods = seed
        .create_subnet()
        .vpc_id(&vpc_id)
        .cidr_block("100.64.1.0/24")
        .availability_zone("ap-southeast-1a")
        .send()
        .await
        .unwrap();
    let pods_id = pods.subnet().unwrap().subnet_id().unwrap().to_string();

    let calls = RequestCounts::new();
    let ec2 = Ec2Client::new(&config(&m.endpoint), None, calls.clone())
        .await
        .unwrap();
    let facts = ec2
        .describe_subnets(&[pods_id.parse().unwrap()])
        .await
        .unwrap();
    assert_eq!(facts.len(), 1);
    assert_eq!(facts[0].cidr.unwrap().to_string(), "100.64.1.0/24");
    assert_eq!(
        facts[0].availability_zone.as_deref(),
        Some("ap-southeast-1a")
    );
    assert_eq!(facts[0].available_ips, Some(251));
    // An id that does not exist is absent (or a NotFound), never a panic.
    match ec2
        .describe_subnets(&["subnet-0doesnotexist".parse().unwrap()])
        .await
    {
        Ok(v) => assert!(v.is_empty()),
        Err(e) => assert_eq!(e.kind(), "not_found", "{e}"),
    }

    let m5 = ec2.instance_type("m5.large").await.unwrap();
    assert_eq!((m5.limits.max_enis, m5.limits.ipv4_per_eni), (3, 10));
    let t3 = ec2.instance_type("t3.2xlarge").await.unwrap();
    assert_eq!((t3.limits.max_enis, t3.limits.ipv4_per_eni), (4, 15));

    let run = seed
        .run_instances()
        .image_id("ami-12c6146b")
        .instance_type(aws_sdk_ec2::types::InstanceType::M5Large)
        .subnet_id(&pods_id)
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .unwrap();
    let instance = run.instances()[0].instance_id().unwrap().to_string();
    let eni = seed
        .create_network_interface()
        .subnet_id(&pods_id)
        .send()
        .await
        .unwrap();
    let eni_id = eni
        .network_interface()
        .unwrap()
        .network_interface_id()
        .unwrap()
        .to_string();
    seed.attach_network_interface()
        .network_interface_id(&eni_id)
        .instance_id(&instance)
        .device_index(1)
        .send()
        .await
        .unwrap();
    let enis = ec2.instance_enis(&instance).await.unwrap();
    assert_eq!(enis.len(), 2, "{enis:?}");
    let secondary = enis.iter().find(|e| e.id.as_str() == eni_id).unwrap();
    assert_eq!(secondary.attachment_status.as_deref(), Some("attached"));
    assert_eq!(secondary.device_index, Some(1));

    let counted = calls.snapshot();
    assert_eq!(counted.get(&("DescribeInstanceTypes", "ok")), Some(&2));
    assert_eq!(counted.get(&("DescribeNetworkInterfaces", "ok")), Some(&1));
}

#[tokio::test]
async fn unreachable_ec2_is_a_classified_error() {
    // A port nothing listens on: the SDK's retries end in a transport error.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ec2 = Ec2Client::new(
        &config(&format!("http://127.0.0.1:{port}")),
        None,
        RequestCounts::new(),
    )
    .await
    .unwrap();
    let err = ec2.instance_type("m5.large").await.unwrap_err();
    assert!(matches!(err.kind(), "unreachable" | "timeout"), "{err}");
}

#[tokio::test]
async fn no_region_is_a_clear_error() {
    let cfg = Ec2Config {
        region: None,
        ..config("http://127.0.0.1:1")
    };
    let err = Ec2Client::new(&cfg, None, RequestCounts::new())
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("--ec2-region"), "{err}");
}

/// Reads the lab scenario's node through the IMDS emulator, as the agent would.
async fn imds_of(s: &eniwatch_lab::scenario::Scenario) -> eniwatch_core::model::InstanceMetadata {
    use eniwatch::sources::imds::{read_instance_metadata, ImdsClient, ImdsConfig};
    use eniwatch_lab::imds_emulator::{router, ImdsState};
    let addr = eniwatch_lab::serve_on_loopback(router(ImdsState::new(s)))
        .await
        .unwrap();
    let client = ImdsClient::new(ImdsConfig {
        endpoint: format!("http://{addr}"),
        ..ImdsConfig::default()
    })
    .unwrap();
    read_instance_metadata(&client).await.unwrap()
}

/// A steady node makes no EC2 call after start-up: an hour of cycles, one a
/// second on a simulated clock, against moto seeded with the healthy lab node.
/// Then the ENI set changes: one DescribeNetworkInterfaces (and one subnet
/// refresh, since the node's use of the subnet changed), and quiet again.
#[tokio::test]
async fn a_steady_hour_makes_no_ec2_calls_after_start_up() {
    use eniwatch::witnesses::{Ec2Needs, Ec2Tracker};
    let Some(m) = moto() else { return };
    let s = eniwatch_lab::scenario::Scenario::bundled("healthy").unwrap();
    let seed = seeder(&m.endpoint).await;
    let ids = eniwatch_lab::ec2_seed::seed(&seed, &s).await.unwrap();
    let s = eniwatch_lab::ec2_seed::rename(&s, &ids);
    let mut imds = imds_of(&s).await;
    let calls = RequestCounts::new();
    let mut tracker = Ec2Tracker::new(config(&m.endpoint), Duration::from_secs(300), calls.clone());
    let needs = Ec2Needs {
        pod_subnet: Some(s.eniconfigs[0].subnet.parse().unwrap()),
        headroom: false,
    };
    let t0 = Instant::now();
    let first = tracker.observe(&imds, &needs, t0).await;
    assert!(
        first.instance_type.is_ok() && first.attachments.is_ok(),
        "{first:?}"
    );
    let after_start = calls.snapshot();
    assert_eq!(
        after_start.values().sum::<u64>(),
        3,
        "one call of each operation at start-up: {after_start:?}"
    );
    for second in 1..=3600 {
        let v = tracker
            .observe(&imds, &needs, t0 + Duration::from_secs(second))
            .await;
        assert!(v.attachments.is_ok());
    }
    assert_eq!(calls.snapshot(), after_start, "EC2 calls in a steady hour");

    // An ENI goes away (IMDS no longer lists it).
    imds.enis.pop();
    for second in 3601..=7200 {
        tracker
            .observe(&imds, &needs, t0 + Duration::from_secs(second))
            .await;
    }
    let later = calls.snapshot();
    assert_eq!(
        later.get(&("DescribeNetworkInterfaces", "ok")),
        Some(&2),
        "{later:?}"
    );
    assert_eq!(later.get(&("DescribeSubnets", "ok")), Some(&2), "{later:?}");
    assert_eq!(
        later.get(&("DescribeInstanceTypes", "ok")),
        Some(&1),
        "{later:?}"
    );
}

/// Throttled for a whole simulated hour: each operation backs off (30 s
/// doubling to 15 min), so the agent makes a handful of calls, not thousands.
#[tokio::test]
async fn throttled_calls_back_off() {
    use eniwatch::witnesses::{Ec2Needs, Ec2Tracker};
    use eniwatch_lab::scenario::Ec2Fault;
    use eniwatch_lab::witness_spec::fault_router;
    let addr = eniwatch_lab::serve_on_loopback(fault_router(Ec2Fault::Throttle))
        .await
        .unwrap();
    let s = eniwatch_lab::scenario::Scenario::bundled("healthy").unwrap();
    let imds = imds_of(&s).await;
    let calls = RequestCounts::new();
    let mut tracker = Ec2Tracker::new(
        config(&format!("http://{addr}")),
        Duration::from_secs(300),
        calls.clone(),
    );
    let needs = Ec2Needs {
        pod_subnet: Some("subnet-0pods1a".parse().unwrap()),
        headroom: true,
    };
    let t0 = Instant::now();
    for second in (0..3600).step_by(5) {
        let v = tracker
            .observe(&imds, &needs, t0 + Duration::from_secs(second))
            .await;
        let e = v.instance_type.unwrap_err();
        assert_eq!(e.kind, "throttled", "{e:?}");
    }
    let counted = calls.snapshot();
    for op in [
        "DescribeInstanceTypes",
        "DescribeSubnets",
        "DescribeNetworkInterfaces",
    ] {
        let n = counted.get(&(op, "throttled")).copied().unwrap_or(0);
        assert!(
            (1..=9).contains(&n),
            "{op}: {n} calls in an hour: {counted:?}"
        );
    }
}

/// `eniwatch check` with EC2's endpoint unreachable: the report's EC2
/// source error names the endpoint and the cause in words, not the SDK's
/// `Debug` dump (`DispatchFailure { source: ConnectorError { ...`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_ec2_is_reported_in_words_with_its_endpoint() {
    use eniwatch_lab::imds_emulator::{router, ImdsState};
    let s = eniwatch_lab::scenario::Scenario::bundled("healthy").unwrap();
    let imds = eniwatch_lab::serve_on_loopback(router(ImdsState::new(&s)))
        .await
        .unwrap();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let out = tokio::process::Command::new(bin::eniwatch_bin())
        .args(["check", "--output", "json", "--no-kube", "--no-ipamd"])
        .args(["--expect-subnet", "subnet-0pods1a"])
        .args(["--imds-endpoint", &format!("http://{imds}")])
        .args(["--ec2-endpoint", &closed, "--ec2-region", "ap-southeast-1"])
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .output()
        .await
        .expect("eniwatch check runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let ec2 = report["sources"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == "ec2"))
        .cloned()
        .unwrap_or_else(|| panic!("no ec2 source: {}", report["sources"]));
    assert_eq!(ec2["ok"], false, "{ec2}");
    let error = ec2["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&format!(
            "EC2 endpoint {closed} unreachable: connection refused"
        )),
        "{error}"
    );
    for dump in ["{", "DispatchFailure", "ConnectorError"] {
        assert!(!error.contains(dump), "{dump} in {error}");
    }
    for c in ["max-pods", "eniconfig-subnet", "eni-attachment"] {
        let check = report["checks"]
            .as_array()
            .and_then(|cs| cs.iter().find(|x| x["name"] == c))
            .cloned()
            .unwrap_or_default();
        assert_eq!(check["status"], "unknown", "{c}: {check}");
    }
}
