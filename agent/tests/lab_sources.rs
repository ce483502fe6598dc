//! Source failures in the lab: IMDS faults and an API server that is down give
//! *unknown*, never a false drift; `--no-kube` works without an API server.

#[macro_use]
mod common;

use common::*;
use eniwatch_lab::scenario::ImdsFaults;

fn with_faults(f: ImdsFaults) -> eniwatch_lab::scenario::Scenario {
    let mut s = scenario("healthy");
    s.imds_faults = f;
    s
}

#[test]
fn imds_recovers_from_a_401_a_429_and_a_500() {
    lab!();
    for f in [
        ImdsFaults {
            unauthorized: 1,
            ..Default::default()
        },
        ImdsFaults {
            throttle: 2,
            ..Default::default()
        },
        ImdsFaults {
            server_error: 2,
            ..Default::default()
        },
    ] {
        let o = check(&with_faults(f.clone()), &[]);
        assert_eq!(o.code, 0, "{f:?}: {}", o.report["sources"]);
    }
}

#[test]
fn imds_timeouts_and_garbage_are_unknown_not_drift() {
    lab!();
    let slow = check(
        &with_faults(ImdsFaults {
            slow_ms: 1500,
            ..Default::default()
        }),
        &["--imds-timeout-ms", "200"],
    );
    let garbage = check(
        &with_faults(ImdsFaults {
            garbage: true,
            ..Default::default()
        }),
        &[],
    );
    for o in [slow, garbage] {
        assert_eq!(o.code, 2, "{}", o.report["sources"]);
        assert!(o.reasons().is_empty(), "{:?}", o.reasons());
        assert_eq!(o.report["status"], "unknown");
        let imds = &o.report["sources"][0];
        assert_eq!(imds["name"], "imds");
        assert_eq!(imds["ok"], false);
        assert_eq!(o.check_status("eni-subnet"), "unknown");
    }
}

#[test]
fn persistent_throttling_is_unknown() {
    lab!();
    let o = check(
        &with_faults(ImdsFaults {
            throttle: 1000,
            ..Default::default()
        }),
        &[],
    );
    assert_eq!(o.code, 2);
    assert!(o.reasons().is_empty());
    let err = o.report["sources"][0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.contains("429"), "{err}");
}

#[test]
fn api_server_down_is_unknown_and_no_kube_still_checks() {
    lab!();
    let mut s = scenario("healthy");
    s.kube_api = false;
    let o = check(&s, &[]);
    assert_eq!(o.code, 2, "{:?}", o.reasons());
    assert!(o.reasons().is_empty());
    let kube = o.report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "kubernetes")
        .unwrap()
        .clone();
    assert_eq!(kube["ok"], false);

    let o = check(
        &s,
        &[
            "--no-kube",
            "--expect-subnet",
            "subnet-0pods1a",
            "--expect-security-groups",
            "sg-0pods",
        ],
    );
    assert_eq!(o.code, 0, "{:?} {}", o.reasons(), o.report["checks"]);
    assert_eq!(o.report["eniconfig"]["source"], "flags");
    assert_eq!(
        o.report["pods"]["eniconfig_subnet"], 38,
        "pods found from the kernel's routes"
    );

    // And drift is still seen without the API server.
    s.breaks = vec![eniwatch_lab::scenario::Break::RemovePodRule {
        pod: "shop/api-01".into(),
        priority: 512,
    }];
    let o = check(
        &s,
        &[
            "--no-kube",
            "--expect-subnet",
            "subnet-0pods1a",
            "--expect-security-groups",
            "sg-0pods",
        ],
    );
    assert_eq!(o.code, 1);
    assert_eq!(o.reasons(), vec!["PodRuleMissing"]);
}

/// A plain-HTTP API server needs no TLS roots: with the system's roots made
/// empty (`SSL_CERT_FILE`, `SSL_CERT_DIR`, which the TLS stack reads), the
/// check still reads the lab's API emulator and passes. Building kube's TLS
/// stack for it failed here ("No CA certificates were loaded from the system").
#[test]
fn plain_http_api_server_is_read_without_tls_roots() {
    lab!();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("scenario.yaml");
    let yaml = serde_norway::to_string(&scenario("healthy")).expect("scenario serialises");
    std::fs::write(&path, yaml).expect("write scenario");
    let (no_file, no_dir) = (dir.path().join("no-roots.pem"), dir.path().join("no-roots"));
    std::fs::write(&no_file, "").expect("write empty roots");
    std::fs::create_dir(&no_dir).expect("empty roots dir");
    let out = std::process::Command::new(lab_bin())
        .arg("check")
        .arg(&path)
        .args(["--name", &unique_name()])
        .arg("--eniwatch")
        .arg(common::bin::eniwatch_bin())
        .args(["--", "--output", "json"])
        .env("SSL_CERT_FILE", &no_file)
        .env("SSL_CERT_DIR", &no_dir)
        .output()
        .expect("eniwatch-lab runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let kube = report["sources"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["name"] == "kubernetes"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(kube["ok"], true, "{kube}");
    assert_eq!(out.status.code(), Some(0), "{}", report["checks"]);
}
