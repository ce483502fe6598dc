//! `eniwatch run --secure-metrics` against the lab's API emulator: the
//! listener speaks TLS (a self-signed certificate), /metrics answers 401
//! without a token or with an unknown one, 403 for a user not allowed to get
//! it, 200 for one that is, and 503 when the API server cannot review a new
//! token (an allowed one is still served from the cache); /healthz needs no
//! token.

#[macro_use]
mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::daemon::LISTEN;
use common::*;
use eniwatch_lab::kube_emulator::{IdentitySpec, UserInfo};
use eniwatch_lab::node::LabNode;

const ALLOWED: &str = "prometheus-token";
const NOT_ALLOWED: &str = "nobody-token";

fn identity(token: &str, name: &str, may_get: &[&str]) -> IdentitySpec {
    IdentitySpec {
        token: token.into(),
        user: UserInfo {
            username: format!("system:serviceaccount:{name}"),
            uid: format!("uid-{name}"),
            groups: vec![
                "system:serviceaccounts".into(),
                "system:authenticated".into(),
            ],
            ..UserInfo::default()
        },
        may_get: may_get.iter().map(|s| s.to_string()).collect(),
    }
}

/// (HTTP status, body) of an HTTPS GET from inside the node (0: no answer).
fn get(node: &LabNode, path: &str, token: Option<&str>) -> (u16, String) {
    let mut cmd = node.command("curl");
    cmd.args(["-sk", "--max-time", "10", "-w", "\n%{http_code}"]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    let out = cmd
        .arg(format!("https://{LISTEN}{path}"))
        .stderr(Stdio::null())
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

fn wait_for(timeout: Duration, ok: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    ok()
}

struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn metrics_need_a_token_the_api_server_allows() {
    lab!();
    if let Err(why) = skip::runs("curl", &["--version"]) {
        skip::skip_or_fail("secure metrics (the test's HTTPS client is curl)", &why);
        return;
    }
    let mut s = scenario("healthy");
    s.identities = vec![
        identity(ALLOWED, "monitoring:prometheus", &["/metrics"]),
        identity(NOT_ALLOWED, "default:nobody", &[]),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("scenario.yaml");
    std::fs::write(&path, serde_norway::to_string(&s).expect("yaml")).expect("write scenario");
    let node = LabNode::up(&s, &path, &unique_name(), &lab_bin()).expect("lab node");
    let log = dir.path().join("eniwatch.log");
    let _agent = Agent(
        node.command(common::bin::eniwatch_bin())
            .args([
                "run",
                "--secure-metrics",
                "--listen",
                LISTEN,
                "--node-name",
                &s.node.name,
            ])
            .args(["--full-cycle-interval", "1s", "--log-format", "json"])
            .arg("--kubeconfig")
            .arg(node.kubeconfig())
            .args(s.eniwatch_args())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("eniwatch run starts"),
    );
    let logs = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        wait_for(Duration::from_secs(20), || get(&node, "/readyz", None).0
            == 200),
        "not ready over TLS:\n{}",
        logs()
    );
    assert_eq!(get(&node, "/healthz", None).0, 200, "probes need no token");

    let (status, body) = get(&node, "/metrics", None);
    assert_eq!(status, 401, "{body}");
    assert_eq!(body.lines().count(), 1, "{body}");
    assert!(body.contains("Bearer"), "{body}");
    assert_eq!(get(&node, "/metrics", Some("made-up")).0, 401);
    let (status, body) = get(&node, "/metrics", Some(NOT_ALLOWED));
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("system:serviceaccount:default:nobody"),
        "{body}"
    );
    let (status, body) = get(&node, "/metrics", Some(ALLOWED));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("eniwatch_build_info{"), "{body}");
    assert_eq!(get(&node, "/metrics", Some(ALLOWED)).0, 200);

    node.set_kube_down(true).expect("API down");
    let (status, body) = get(&node, "/metrics", Some("fresh-token"));
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("cannot review the token"), "{body}");
    assert_eq!(
        get(&node, "/metrics", Some(ALLOWED)).0,
        200,
        "an allowed token is cached"
    );
    assert_eq!(get(&node, "/healthz", None).0, 200);
}
