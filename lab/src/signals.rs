//! The lab process's stop signals and its single-threaded runtime.

/// Resolves on SIGINT or SIGTERM (SIGINT only if SIGTERM cannot be watched).
pub async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// A single-threaded runtime with I/O and timers. One thread is enough for
/// eniwatch's work, which is small and mostly waiting, and every extra thread
/// costs a malloc arena of resident memory.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
