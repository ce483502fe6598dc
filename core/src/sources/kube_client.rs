//! Building Kubernetes clients: TLS only for servers that speak it.
//!
//! kube's own stack (`Client::try_from(Config)`) wraps every connection in
//! rustls and, when the kubeconfig names no CA, loads the system's roots
//! (some 145 files on a Debian node) before the first request, even for a
//! plain `http://` server. On a single-threaded runtime that load also holds
//! up IMDS and the kernel dump, which `check` reads at the same time.
//!
//! Policy:
//! - `https://` servers (every real cluster, in-cluster or not), and any
//!   kubeconfig with a proxy, get kube's stack unchanged: the same roots,
//!   the same verification, the same errors.
//! - `http://` servers without a proxy (emulators, `kubectl proxy`) get the
//!   same stack without the TLS connector: the same timeouts, retry policy,
//!   authentication and headers, and the same trace events under kube's
//!   target (`kube_client::client::builder`), so log filters that name it
//!   work for both. A client certificate cannot be presented over plain HTTP
//!   either way, so it is not read.

use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_timeout::TimeoutConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kube::client::retry::RetryPolicy;
use kube::client::{Body, ClientBuilder, ConfigExt};
use kube::{Client, Config};
use tower::retry::RetryLayer;
use tower::{BoxError, ServiceBuilder};
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::trace::TraceLayer;
use tracing::Span;

use super::KubeError;

/// Whether `config` needs kube's TLS stack: anything but a plain `http://`
/// server reached without a proxy.
pub fn needs_tls(config: &Config) -> bool {
    config.cluster_url.scheme_str() != Some("http") || config.proxy_url.is_some()
}

/// A client for `config`: kube's own stack where TLS is needed (see
/// [`needs_tls`]), else the same stack over a plain HTTP connector.
pub fn client_from(config: Config) -> Result<Client, KubeError> {
    if needs_tls(&config) {
        Client::try_from(config).map_err(|e| KubeError::Config(e.to_string()))
    } else {
        plain_http_client(config).map_err(|e| KubeError::Config(e.to_string()))
    }
}

/// kube's default stack (`kube_client::client::builder`) with the
/// `HttpConnector` in place of the HTTPS one.
fn plain_http_client(config: Config) -> Result<Client, kube::Error> {
    let mut connector = TimeoutConnector::new(HttpConnector::new());
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    connector.set_reset_reader_on_write(config.reset_reader_on_write);
    let http: hyper_util::client::legacy::Client<_, Body> =
        hyper_util::client::legacy::Builder::new(TokioExecutor::new()).build(connector);
    let retry = config
        .default_retry
        .then(|| RetryLayer::new(RetryPolicy::server_retry()));
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(retry)
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(record_status)
                .on_failure(log_failure),
        )
        .map_err(BoxError::from)
        .service(http);
    Ok(ClientBuilder::new(service, config.default_namespace.clone()).build())
}

fn request_span(req: &Request<Body>) -> Span {
    tracing::debug_span!(
        target: "kube_client::client::builder",
        "HTTP",
        http.method = %req.method(),
        http.url = %req.uri(),
        http.status_code = tracing::field::Empty,
        otel.name = req.extensions().get::<&'static str>().unwrap_or(&"HTTP"),
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
    )
}

fn record_status(res: &Response<Incoming>, _latency: Duration, span: &Span) {
    let status = res.status();
    span.record("http.status_code", status.as_u16());
    if status.is_client_error() || status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
}

fn log_failure(failure: ServerErrorsFailureClass, _latency: Duration, span: &Span) {
    span.record("otel.status_code", "ERROR");
    match failure {
        ServerErrorsFailureClass::StatusCode(status) => {
            span.record("http.status_code", status.as_u16());
            tracing::error!(target: "kube_client::client::builder", "failed with status {}", status)
        }
        ServerErrorsFailureClass::Error(err) => {
            tracing::error!(target: "kube_client::client::builder", "failed with error {}", err)
        }
    }
}

#[cfg(test)]
#[path = "kube_client_tests.rs"]
mod tests;
