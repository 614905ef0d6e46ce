//! Accepting connections and draining them on shutdown.

use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::shutdown::{self, Shutdown};
use crate::state::State;

/// Accepts connections until shutdown, then lets open requests finish (up to 10 s).
pub async fn serve(listener: TcpListener, state: Arc<State>, shutdown: Shutdown) {
    // hyper-util's `GracefulShutdown` cannot watch a connection that may upgrade, so each
    // connection task drains itself on shutdown and the set is awaited here.
    let mut connections = JoinSet::new();
    let stop = shutdown::requested(shutdown.clone());
    tokio::pin!(stop);
    loop {
        tokio::select! {
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(%e, "accept failed");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(30))
                    .serve_connection(TokioIo::new(stream), service_fn(move |req| {
                        let state = state.clone();
                        // Inside the request's span when traces are exported.
                        async move {
                            let resp = super::dispatch::handle(&state, req).await;
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    }))
                    .with_upgrades();
                let stop = shutdown::requested(shutdown.clone());
                connections.spawn(async move {
                    tokio::pin!(conn, stop);
                    let ended = tokio::select! {
                        ended = conn.as_mut() => ended,
                        _ = stop => {
                            conn.as_mut().graceful_shutdown();
                            conn.await
                        }
                    };
                    if let Err(e) = ended {
                        tracing::debug!(%e, "connection ended with an error");
                    }
                });
            }
            _ = &mut stop => break,
        }
    }
    drop(listener);
    let requests = async {
        let drained = async { while connections.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(10), drained)
            .await
            .is_err()
        {
            tracing::warn!("connections still open after 10 s; closing them");
        }
    };
    // Upgraded connections are no longer hyper's: the live hub closes them.
    tokio::join!(requests, state.live.close_all(Duration::from_secs(3)));
}
