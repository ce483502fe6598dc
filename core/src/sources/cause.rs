//! The cause of a failed request, in words an operator reads.
//!
//! HTTP client errors wrap their cause in layers (`reqwest::Error` over
//! hyper over `std::io::Error`; the AWS SDK's `DispatchFailure` over
//! `ConnectorError` over hyper over `std::io::Error`), and the outer
//! layers' texts say little ("dispatch failure", "io error", "error sending
//! request") while their `Debug` dumps say too much. The cause is at the
//! bottom of the `source()` chain: an `io::Error` (connection refused, reset,
//! timed out) or a DNS or TLS failure, which is phrased here.

use std::error::Error;
use std::io;

/// The deepest error of `e`'s `source()` chain, phrased: an `io::Error` in
/// the chain by its kind ("connection refused", ...), else the innermost
/// error's own text.
pub fn root_cause(e: &(dyn Error + 'static)) -> String {
    let mut current: &(dyn Error + 'static) = e;
    loop {
        if let Some(io) = current.downcast_ref::<io::Error>() {
            // An io::Error may wrap a deeper cause (rustls, DNS): prefer it
            // when its kind says nothing.
            match (phrase_io(io.kind()), io.get_ref()) {
                (Some(words), _) => return words.to_string(),
                (None, Some(inner)) if inner.source().is_some() => current = inner,
                (None, _) => return io_text(io),
            }
            continue;
        }
        match current.source() {
            Some(next) => current = next,
            None => return current.to_string(),
        }
    }
}

/// Whether `e`'s chain holds an `io::Error` that timed out.
pub fn is_timeout(e: &(dyn Error + 'static)) -> bool {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            if io.kind() == io::ErrorKind::TimedOut {
                return true;
            }
        }
        current = err.source();
    }
    false
}

fn phrase_io(kind: io::ErrorKind) -> Option<&'static str> {
    use io::ErrorKind::*;
    Some(match kind {
        ConnectionRefused => "connection refused",
        ConnectionReset => "connection reset by the server",
        ConnectionAborted => "connection aborted",
        NotConnected => "not connected",
        TimedOut => "timed out",
        UnexpectedEof => "the connection closed before the answer was complete",
        BrokenPipe => "the connection closed while sending",
        AddrNotAvailable => "no route to the address",
        // What connect() says when this host's own policy drops the
        // packet: systemd's IPAddressDeny=, an nftables/iptables OUTPUT
        // rule, a cgroup BPF filter.
        PermissionDenied => {
            "permission denied: this host's firewall refused the connection \
             (with systemd/eniwatch.service, add the address to IPAddressAllow=; docs/install.md)"
        }
        HostUnreachable => "no route to the host",
        NetworkUnreachable => "network unreachable",
        _ => return None,
    })
}

/// An `io::Error`'s text without its "(os error N)" tail.
fn io_text(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<dyn Error + Send + Sync>>);
    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl Error for Layer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn Error + 'static))
        }
    }

    #[test]
    fn an_io_error_deep_in_the_chain_is_phrased_by_its_kind() {
        let io = io::Error::from(io::ErrorKind::ConnectionRefused);
        let e = Layer(
            "dispatch failure",
            Some(Box::new(Layer("io error", Some(Box::new(io))))),
        );
        assert_eq!(root_cause(&e), "connection refused");
        assert!(!is_timeout(&e));
        let e = Layer(
            "x",
            Some(Box::new(io::Error::from(io::ErrorKind::TimedOut))),
        );
        assert_eq!(root_cause(&e), "timed out");
        assert!(is_timeout(&e));
    }

    #[test]
    fn a_connect_the_host_refuses_names_the_local_firewall() {
        // EPERM: what connect() returns when systemd's IPAddressDeny= drops it.
        let e = Layer(
            "client error (Connect)",
            Some(Box::new(io::Error::from_raw_os_error(1))),
        );
        let text = root_cause(&e);
        assert!(
            text.starts_with("permission denied: this host's firewall"),
            "{text}"
        );
        assert!(text.contains("IPAddressAllow="), "{text}");
    }

    #[test]
    fn without_an_io_error_the_innermost_text_is_the_cause() {
        let e = Layer(
            "dispatch failure",
            Some(Box::new(Layer("dns error: no such host", None))),
        );
        assert_eq!(root_cause(&e), "dns error: no such host");
        let io = io::Error::other("failed to lookup address information");
        assert_eq!(
            root_cause(&Layer("x", Some(Box::new(io)))),
            "failed to lookup address information"
        );
    }
}
