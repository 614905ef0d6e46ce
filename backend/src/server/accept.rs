//! Accepting connections and draining them on shutdown; what no client may hold: a connection
//! past its deadlines (head, body, send), more connections than `MAX_CONNECTIONS`, or the accept
//! loop spinning when the process runs out of file descriptors.

use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::send_deadline::SendDeadline;
use crate::http::request::PeerAddr;
use crate::shutdown::{self, Shutdown};
use crate::state::State;

/// Accept errors back off as Go's `net/http` does: 5 ms, doubling, at most 1 s.
fn next_backoff(previous: Duration) -> Duration {
    if previous.is_zero() {
        Duration::from_millis(5)
    } else {
        (previous * 2).min(Duration::from_secs(1))
    }
}

/// Raises the soft limit of open files to the hard one (most systems start processes at 1,024,
/// far below `MAX_CONNECTIONS`); returns the soft limit now in force.
pub fn raise_open_file_limit() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            limit.rlim_cur = limit.rlim_max;
        }
    }
    Ok(limit.rlim_cur)
}

/// Accepts connections until shutdown, then lets open requests finish (up to 10 s).
pub async fn serve(listener: TcpListener, state: Arc<State>, shutdown: Shutdown) {
    // hyper-util's `GracefulShutdown` cannot watch a connection that may upgrade, so each
    // connection task drains itself on shutdown and the set is awaited here.
    let mut connections = JoinSet::new();
    let limits = state.config.limits.clone();
    // At the cap no connection is accepted until one closes: the kernel's backlog holds the
    // rest, as nginx does at worker_connections.
    let permits = Arc::new(Semaphore::new(limits.max_connections as usize));
    let mut backoff = Duration::ZERO;
    let stop = shutdown::requested(shutdown.clone());
    tokio::pin!(stop);
    'serve: loop {
        let permit = tokio::select! {
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            _ = &mut stop => break,
        };
        let (stream, peer) = loop {
            tokio::select! {
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                accepted = listener.accept() => match accepted {
                    Ok(s) => {
                        backoff = Duration::ZERO;
                        break s;
                    }
                    Err(e) => {
                        // Out of file descriptors (EMFILE) or the like: retrying at once would
                        // spin a core and flood the log.
                        backoff = next_backoff(backoff);
                        tracing::warn!(%e, retry_in_ms = backoff.as_millis() as u64, "accept failed");
                        tokio::select! {
                            _ = tokio::time::sleep(backoff) => {}
                            _ = &mut stop => break 'serve,
                        }
                    }
                },
                _ = &mut stop => break 'serve,
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let io = TokioIo::new(SendDeadline::new(stream, limits.send_timeout));
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(
                io,
                service_fn(move |mut req| {
                    let state = state.clone();
                    req.extensions_mut().insert(PeerAddr(peer));
                    // Inside the request's span when traces are exported.
                    async move {
                        let resp = super::dispatch::handle(&state, req).await;
                        Ok::<_, std::convert::Infallible>(resp)
                    }
                }),
            )
            .with_upgrades();
        let stop = shutdown::requested(shutdown.clone());
        connections.spawn(async move {
            let _permit = permit;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_errors_back_off_from_5_ms_to_1_s() {
        let mut d = Duration::ZERO;
        let steps: Vec<u64> = (0..10)
            .map(|_| {
                d = next_backoff(d);
                d.as_millis() as u64
            })
            .collect();
        assert_eq!(steps, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
    }

    #[test]
    fn the_open_file_limit_is_raised_to_the_hard_one() {
        let soft = raise_open_file_limit().unwrap();
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes only the struct passed.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        assert_eq!((soft, limit.rlim_cur), (limit.rlim_max, limit.rlim_max));
    }
}
