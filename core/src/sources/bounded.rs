//! One read of a source, bounded in time, as a snapshot part: the data, or
//! an [`Unavailable`] with the error's words and its kind from a closed set
//! (for metric labels). A source that hangs costs at most the limit; the
//! others are read meanwhile.

use std::future::Future;
use std::time::Duration;

use super::kube;
use crate::model::{Observed, Unavailable};

/// An error that can say what kind it is, in a bounded vocabulary.
pub trait ErrorKind: std::fmt::Display {
    fn kind(&self) -> &'static str;
}

impl ErrorKind for kube::KubeError {
    fn kind(&self) -> &'static str {
        kube::KubeError::kind(self)
    }
}

/// Runs `fut` for at most `limit`.
pub async fn bounded<T, E: ErrorKind>(
    source: &'static str,
    limit: Duration,
    fut: impl Future<Output = Result<T, E>>,
) -> Observed<T> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Unavailable::new(source, e.to_string()).with_kind(e.kind())),
        Err(_) => Err(
            Unavailable::new(source, format!("no answer within {limit:?}")).with_kind("timeout"),
        ),
    }
}
