//! moto's EC2 server on a free loopback port, one per test (each test
//! seeds its own VPC and must not see another's), for the tests of every
//! crate that talks to EC2's emulator.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::skip;

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts moto's server (`ENIWATCH_MOTO_SERVER`, else `moto_server` on the
/// PATH); None, after saying why, when it is not installed outside CI.
pub fn start(what: &str) -> Option<Moto> {
    let server = std::env::var("ENIWATCH_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
    if let Err(e) = skip::runs(&server, &["--help"]) {
        let why = format!("moto's EC2 server is not installed ({e}; run scripts/setup.sh)");
        skip::skip_or_fail(what, &why);
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
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(m)
}
