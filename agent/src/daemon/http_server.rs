//! The agent's own accept loop: HTTP/1.1 (hyper) over TCP or TLS, with a
//! bound on connections and on how long a client may take to speak.
//!
//! The agent runs with host networking, so anyone who reaches the node's
//! address reaches this server, and the kubelet's liveness probe shares it
//! with them. The policy is that a client holding connections must never
//! stop `/healthz` from answering, nor take the agent past its memory limit
//! (64 MiB) or its file descriptors (nofile 1024 by default):
//!
//! - **At most [`Limits::max_connections`] (256) connections per listener.**
//!   When the table is full a new connection is still served: the
//!   connection idle longest is closed to make room. *Idle* is any
//!   connection not in the middle of a request: waiting between keep-alive
//!   requests, still sending its request head, or still in its TLS
//!   handshake. A request is in progress from the moment its head is read
//!   until its response is produced; such a connection is never evicted.
//!   The newest connection is never the one closed, so a fresh probe
//!   connection is answered however many connections a client holds. Only
//!   when every connection is mid-request is the new one closed at once.
//!   `accept()` never waits for room: a waiting accept loop would let the
//!   listen backlog fill, and the probe would wait in it.
//! - **Request heads within [`Limits::header_read_timeout`] (5 s).** A client
//!   trickling its head a byte at a time (slowloris) is closed after 5 s.
//!   hyper 1 starts this timer whenever it waits for a head, also between
//!   keep-alive requests, so an idle keep-alive connection is closed after
//!   5 s as well. The TLS handshake has the same 5 s.
//! - **[`Limits::idle_timeout`] (30 s)**: a connection that has not been in a
//!   request for this long is closed by this loop itself, whatever the HTTP
//!   library does (a stalled TLS session, a timer another hyper version
//!   starts later).
//! - **Request heads of at most [`Limits::max_header_bytes`] (16 KiB)**:
//!   hyper's read buffer stops there and answers 431 (or closes).
//! - HTTP/1.1 only: Prometheus and the kubelet speak it; h2 would bring
//!   per-stream state for nothing.
//!
//! Memory and descriptors: a connection costs its task, hyper's state and
//! its read buffer, and one file descriptor. Unbounded (`axum::serve`),
//! 2,000 idle connections took the agent to 73 MiB. Bounded, the lab's abuse
//! test (`agent/tests/lab_http_abuse.rs`: 2,000 connections held and
//! re-opened as they are closed, 200 slowloris, the agent at nofile 1024)
//! measured the debug build at 35 MiB before and 43 MiB at most, and at most
//! about 400 descriptors (BENCHMARKS.md). A listener holds at most 256
//! connection descriptors, +1 for the moment between accepting a connection
//! and closing the one it evicts. The listen backlog is 4096 (see the
//! agent's `bind`): the churn of an attacker re-opening what is evicted
//! must not fill it, or new SYNs are dropped and a probe waits out the 1 s
//! SYN retransmission (measured: the slowest probe went from 1,040 ms with
//! the default backlog of 1024 to 30-40 ms).
//!
//! `accept()` errors (EMFILE, ENFILE, ECONNABORTED) do not end the loop:
//! it logs at most one warning a second and waits 50 ms before accepting
//! again, so a node out of file descriptors is not also a busy loop.
//!
//! Shutdown: when `shutdown` completes the loop stops accepting; idle
//! connections are closed, requests in progress finish (keep-alive off),
//! and [`serve`] returns once every connection is gone.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

/// How much a listener allows its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections held at once; beyond, the one idle longest is closed.
    pub max_connections: usize,
    /// Time for a TLS handshake, and for each request head once awaited.
    pub header_read_timeout: Duration,
    /// A connection not in a request for this long is closed.
    pub idle_timeout: Duration,
    /// Size of a request head (hyper's read buffer; at least 8 KiB).
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 256,
            header_read_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            max_header_bytes: 16 * 1024,
        }
    }
}

/// Back-off after a failed `accept()`, and the least time between two of
/// its warnings.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
const ACCEPT_WARN_EVERY: Duration = Duration::from_secs(1);

/// One connection as the table sees it.
struct Slot {
    id: u64,
    busy: AtomicBool,
    /// Milliseconds since the listener started when the last request ended
    /// (or the connection was accepted).
    idle_since: AtomicU64,
    evict: Notify,
}

/// The connections of one listener.
struct Table {
    started: Instant,
    slots: Mutex<HashMap<u64, Arc<Slot>>>,
}

impl Table {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Registers connection `id`, evicting the longest idle one when `max`
    /// are held already; None when all of them are mid-request.
    fn admit(&self, id: u64, max: usize) -> Option<Arc<Slot>> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots.len() >= max.max(1) {
            let victim = slots
                .values()
                .filter(|s| !s.busy.load(Ordering::Acquire))
                .min_by_key(|s| (s.idle_since.load(Ordering::Acquire), s.id))
                .map(|s| s.id)?;
            if let Some(slot) = slots.remove(&victim) {
                slot.evict.notify_one();
            }
        }
        let slot = Arc::new(Slot {
            id,
            busy: AtomicBool::new(false),
            idle_since: AtomicU64::new(self.now_ms()),
            evict: Notify::new(),
        });
        slots.insert(id, slot.clone());
        Some(slot)
    }

    fn remove(&self, id: u64) {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }

    #[cfg(test)]
    fn ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .copied()
            .collect();
        ids.sort_unstable();
        ids
    }
}

/// Takes a connection out of the table however its task ends.
struct Leave(Arc<Table>, u64);

impl Drop for Leave {
    fn drop(&mut self) {
        self.0.remove(self.1);
    }
}

/// Marks a connection mid-request while it lives.
struct Busy(Arc<Table>, Arc<Slot>);

impl Busy {
    fn begin(table: &Arc<Table>, slot: &Arc<Slot>) -> Busy {
        slot.busy.store(true, Ordering::Release);
        Busy(table.clone(), slot.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.1.idle_since.store(self.0.now_ms(), Ordering::Release);
        self.1.busy.store(false, Ordering::Release);
    }
}

/// What every connection task shares.
#[derive(Clone)]
struct Shared {
    table: Arc<Table>,
    router: Router,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    stop: watch::Receiver<bool>,
}

/// Serves `router` on `listener` under `limits` (over TLS with `tls`) until
/// `shutdown` completes; then requests in progress finish and it returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop) = watch::channel(false);
    let shared = Shared {
        table: Arc::new(Table {
            started: Instant::now(),
            slots: Mutex::new(HashMap::new()),
        }),
        router,
        limits,
        tls,
        stop,
    };
    let mut tasks = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut next_id = 0u64;
    let mut warned: Option<Instant> = None;
    let mut refused: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = tasks.join_next() => continue,
            accepted = listener.accept() => accepted,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                if warned.is_none_or(|at| at.elapsed() >= ACCEPT_WARN_EVERY) {
                    tracing::warn!(error = %e, "cannot accept a connection; retrying in 50 ms");
                    warned = Some(Instant::now());
                }
                tokio::select! {
                    _ = &mut shutdown => break,
                    _ = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        next_id += 1;
        let Some(slot) = shared.table.admit(next_id, limits.max_connections) else {
            if refused.is_none_or(|at| at.elapsed() >= ACCEPT_WARN_EVERY) {
                tracing::warn!(
                    max = limits.max_connections,
                    "every connection is in a request; closing a new one"
                );
                refused = Some(Instant::now());
            }
            continue;
        };
        tasks.spawn(connection(tcp, slot, shared.clone()));
    }
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// One connection: the TLS handshake if any, then HTTP/1.1 until the
/// client leaves, a limit is hit, it is evicted or the server stops.
async fn connection(tcp: TcpStream, slot: Arc<Slot>, shared: Shared) {
    let _leave = Leave(shared.table.clone(), slot.id);
    let _ = tcp.set_nodelay(true);
    let Some(acceptor) = shared.tls.clone() else {
        return http(tcp, &slot, &shared).await;
    };
    let mut stop = shared.stop.clone();
    let handshake = tokio::time::timeout(shared.limits.header_read_timeout, acceptor.accept(tcp));
    let tls = tokio::select! {
        tls = handshake => tls,
        _ = slot.evict.notified() => return,
        _ = stopped(&mut stop) => return,
    };
    match tls {
        Ok(Ok(tls)) => http(tls, &slot, &shared).await,
        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!("TLS handshake timed out"),
    }
}

async fn http<IO>(io: IO, slot: &Arc<Slot>, shared: &Shared)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = shared.limits;
    let tower = TowerToHyperService::new(shared.router.clone());
    let (table, mine) = (shared.table.clone(), slot.clone());
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let busy = Busy::begin(&table, &mine);
        let answer = hyper::service::Service::call(&tower, req);
        async move {
            let response = answer.await;
            drop(busy);
            response
        }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .serve_connection(TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    let mut stop = shared.stop.clone();
    loop {
        let idle_at = if slot.busy.load(Ordering::Acquire) {
            Instant::now() + limits.idle_timeout
        } else {
            let since = Duration::from_millis(slot.idle_since.load(Ordering::Acquire));
            shared.table.started + since + limits.idle_timeout
        };
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(error = %e, "connection ended");
                }
                return;
            }
            _ = slot.evict.notified() => return,
            _ = tokio::time::sleep_until(idle_at) => {
                if !slot.busy.load(Ordering::Acquire) && Instant::now() >= idle_at {
                    return;
                }
            }
            _ = stopped(&mut stop) => {
                if !slot.busy.load(Ordering::Acquire) {
                    return;
                }
                conn.as_mut().graceful_shutdown();
                let _ = conn.as_mut().await;
                return;
            }
        }
    }
}

/// Resolves once the server stops (holding no borrow of the channel).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

#[cfg(test)]
#[path = "http_server_tests.rs"]
mod tests;
