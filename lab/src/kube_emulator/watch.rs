//! Watches: a chunked `application/json` response carrying one
//! `{"type":…,"object":…}` line per event, as the real server streams them.
//!
//! Semantics follow the watch cache (`cacheWatcher`):
//! - no resourceVersion or "0": synthetic ADDED events for the current
//!   matching objects, then changes;
//! - resourceVersion N: replay every change after N from the history, then
//!   follow; if N has been compacted away, one `ERROR` event carrying a 410
//!   `Expired` Status and the end of the stream;
//! - `sendInitialEvents=true`: the ADDED events, then a BOOKMARK annotated
//!   `k8s.io/initial-events-end: "true"`, then changes;
//! - selectors are applied to both the new and the previous state of each
//!   object, so an object that stops matching arrives as DELETED (carrying
//!   its last matching state) and one that starts matching as ADDED;
//! - with `allowWatchBookmarks`, a BOOKMARK every `bookmark_interval`
//!   (the real server's is about a minute; tests want it short);
//! - the stream ends after `timeoutSeconds` (default 1800 s);
//! - while the lab stalls watches, a watch sends nothing at all (and does not
//!   end), as a connection stuck behind a proxy.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;

use super::handlers::{Params, Shape};
use super::resources::ResourceDef;
use super::selectors::Filter;
use super::status::ApiError;
use super::store::{meta_mut, Change, Store};
use super::KubeState;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// How often a stalled watch looks whether it has been released.
const STALL_POLL: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// Begin at the current state, with or without ADDED events for it and
    /// the initial-events-end bookmark.
    Now { initial: bool, end_bookmark: bool },
    /// Replay changes after this resourceVersion.
    After(u64),
}

pub(crate) struct WatchRequest {
    def: &'static ResourceDef,
    filter: Filter,
    shape: Shape,
    start: Start,
    bookmarks: bool,
    timeout: Duration,
}

impl WatchRequest {
    pub(crate) fn parse(
        def: &'static ResourceDef,
        filter: Filter,
        params: &Params,
        shape: Shape,
    ) -> Result<Self, ApiError> {
        let bookmarks = params.flag("allowWatchBookmarks");
        let send_initial = params
            .get("sendInitialEvents")
            .map(|v| v == "true" || v == "1");
        let rv_match = params.get("resourceVersionMatch");
        match send_initial {
            Some(_) if rv_match != Some("NotOlderThan") => {
                return Err(ApiError::invalid_options(
                    "ListOptions",
                    "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                ))
            }
            Some(true) if !bookmarks => {
                return Err(ApiError::invalid_options(
                    "ListOptions",
                    "allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true",
                ))
            }
            None if rv_match.is_some() => {
                return Err(ApiError::invalid_options(
                    "ListOptions",
                    "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                ))
            }
            _ => {}
        }
        let timeout = match params.get("timeoutSeconds") {
            Some(t) => match t.parse::<u64>() {
                Ok(0) => DEFAULT_TIMEOUT,
                Ok(secs) => Duration::from_secs(secs),
                Err(_) => {
                    return Err(ApiError::bad_request(format!(
                        "invalid timeoutSeconds: {t}"
                    )))
                }
            },
            None => DEFAULT_TIMEOUT,
        };
        let start =
            match (params.get("resourceVersion"), send_initial) {
                (_, Some(true)) => Start::Now {
                    initial: true,
                    end_bookmark: true,
                },
                (None | Some("0"), initial) => Start::Now {
                    initial: initial.unwrap_or(true),
                    end_bookmark: false,
                },
                (Some(rv), _) => Start::After(rv.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid resource version: {rv}"))
                })?),
            };
        Ok(WatchRequest {
            def,
            filter,
            shape,
            start,
            bookmarks,
            timeout,
        })
    }
}

fn line(kind: &str, object: Value) -> Bytes {
    let mut text = json!({"type": kind, "object": object}).to_string();
    // kube-rs and client-go split the stream on newlines.
    text.push('\n');
    Bytes::from(text)
}

/// One running watch: its position in the history and what it still has to send.
struct Watch {
    state: KubeState,
    req: WatchRequest,
    rx: broadcast::Receiver<u64>,
    cursor: u64,
    pending: VecDeque<Bytes>,
    finished: bool,
    deadline: Instant,
    next_bookmark: Instant,
    bookmark_interval: Duration,
}

impl Watch {
    fn bookmark(&self, initial_end: bool) -> Bytes {
        let (api_version, kind) = match self.req.shape {
            Shape::Metadata => ("meta.k8s.io/v1".to_string(), "PartialObjectMetadata"),
            Shape::Full => (self.req.def.api_version(), self.req.def.kind_name),
        };
        let mut metadata =
            json!({"resourceVersion": self.cursor.to_string(), "creationTimestamp": null});
        if initial_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        line(
            "BOOKMARK",
            json!({"kind": kind, "apiVersion": api_version, "metadata": metadata}),
        )
    }

    /// The event this watcher sees for one change, if any (cacheWatcher's
    /// `convertToWatchEvent`).
    fn convert(&self, change: &Change) -> Option<Bytes> {
        if change.key.kind != self.req.def.kind {
            return None;
        }
        let current = change
            .object
            .as_ref()
            .filter(|o| self.req.filter.matches(o));
        let previous = change.prev.as_ref().filter(|o| self.req.filter.matches(o));
        let present = |o: &Value| self.req.shape.present(self.req.def, o, false);
        match (current, previous) {
            (Some(o), None) => Some(line("ADDED", present(o))),
            (Some(o), Some(_)) => Some(line("MODIFIED", present(o))),
            (None, Some(p)) => {
                // The last state the watcher could see, at the change's version.
                let mut gone = p.clone();
                if let Some(meta) = meta_mut(&mut gone) {
                    meta.insert("resourceVersion".into(), json!(change.rv.to_string()));
                }
                Some(line("DELETED", present(&gone)))
            }
            (None, None) => None,
        }
    }

    fn catch_up(&mut self, store: &Store) {
        let events: Result<Vec<Bytes>, ApiError> = store
            .changes_after(self.cursor)
            .map(|changes| changes.filter_map(|c| self.convert(c)).collect());
        match events {
            Ok(events) => {
                self.pending.extend(events);
                self.cursor = self.cursor.max(store.rv());
            }
            Err(e) => {
                self.pending.push_back(line("ERROR", e.to_status()));
                self.finished = true;
            }
        }
    }

    async fn next(mut self) -> Option<(Bytes, Watch)> {
        loop {
            if self.state.watches_stalled() {
                tokio::time::sleep(STALL_POLL).await;
                continue;
            }
            if let Some(next) = self.pending.pop_front() {
                return Some((next, self));
            }
            if self.finished {
                return None;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(self.deadline) => return None,
                _ = tokio::time::sleep_until(self.next_bookmark), if self.req.bookmarks => {
                    self.pending.push_back(self.bookmark(false));
                    self.next_bookmark = Instant::now() + self.bookmark_interval;
                }
                received = self.rx.recv() => match received {
                    // A lagging receiver only missed wake-ups: the history
                    // has the changes themselves.
                    Ok(_) | Err(RecvError::Lagged(_)) => {
                        let state = self.state.clone();
                        let inner = state.lock();
                        self.catch_up(&inner.store);
                    }
                    Err(RecvError::Closed) => return None,
                },
            }
        }
    }
}

/// Start a watch and return the streaming response.
pub(crate) fn respond(state: &KubeState, req: WatchRequest) -> Response {
    let now = Instant::now();
    let bookmark_interval = state.bookmark_interval();
    let watch = {
        let inner = state.lock();
        // Subscribing under the lock: no change can slip between the
        // snapshot below and the first wake-up.
        let rx = inner.store.subscribe();
        let mut watch = Watch {
            state: state.clone(),
            rx,
            cursor: inner.store.rv(),
            pending: VecDeque::new(),
            finished: false,
            deadline: now + req.timeout,
            next_bookmark: now + bookmark_interval,
            bookmark_interval,
            req,
        };
        match watch.req.start {
            Start::Now {
                initial,
                end_bookmark,
            } => {
                if initial {
                    let added: Vec<Bytes> = inner
                        .store
                        .objects(watch.req.def.kind)
                        .filter(|(_, o)| watch.req.filter.matches(o))
                        .map(|(_, o)| {
                            line("ADDED", watch.req.shape.present(watch.req.def, o, false))
                        })
                        .collect();
                    watch.pending.extend(added);
                }
                if end_bookmark {
                    let bookmark = watch.bookmark(true);
                    watch.pending.push_back(bookmark);
                }
            }
            Start::After(rv) => {
                watch.cursor = rv;
                watch.catch_up(&inner.store);
            }
        }
        watch
    };
    let stream = futures::stream::unfold(watch, Watch::next).map(Ok::<Bytes, Infallible>);
    let mut resp = Response::new(Body::from_stream(stream));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
