//! Graceful shutdown, passed down explicitly: one sender in `main`, a receiver in every task.

use tokio::sync::watch;

/// Becomes `true` once the process should stop.
pub type Shutdown = watch::Receiver<bool>;

pub fn channel() -> (watch::Sender<bool>, Shutdown) {
    watch::channel(false)
}

/// Resolves when shutdown is requested (or its sender is gone).
pub async fn requested(mut shutdown: Shutdown) {
    let _ = shutdown.wait_for(|&stop| stop).await;
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
