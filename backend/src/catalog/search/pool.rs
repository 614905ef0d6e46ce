//! Where large searches run: a few threads of their own at the lowest priority a thread may
//! give itself (nice 19), so a search that walks long posting lists never holds up the async
//! runtime's workers (and with them `/healthz`, the product pages and every command). A bounded
//! queue in front: when it is full the search is refused at once (503) instead of piling up
//! behind the others.
//!
//! Why nice 19 and not `SCHED_IDLE`, which sounds made for this: measured on this 2-core VM
//! (kernel 6.18, EEVDF), `/healthz` p99 with two busy threads beside it was 2.1–3.0 ms when they
//! were `SCHED_IDLE` and 0.50–0.52 ms when they were nice 19 (0.35–0.44 ms with nothing beside
//! it): a thread woken beside a `SCHED_IDLE` one often waited for the next tick instead of
//! preempting it. A nice-19 thread still gets 1.5 % of a core against each nice-0 one, so a
//! flood of searches slows down, never stops.

use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// The pool; cloning shares it.
#[derive(Clone)]
pub struct SearchPool {
    queue: SyncSender<Job>,
}

/// Why a search could not be queued.
#[derive(Debug, thiserror::Error)]
#[error("too many searches are waiting; try again in a moment")]
pub struct Busy;

impl SearchPool {
    /// Starts `threads` search threads with room for `queued` waiting searches. The threads end
    /// when the last handle is dropped.
    pub fn new(threads: usize, queued: usize) -> SearchPool {
        let (queue, jobs) = sync_channel::<Job>(queued);
        let jobs = Arc::new(Mutex::new(jobs));
        for i in 0..threads.max(1) {
            let jobs = jobs.clone();
            std::thread::Builder::new()
                .name(format!("search-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        // The lock is held only while taking a job, never while running one.
                        let job = jobs.lock().expect("no job panics holding it").recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .expect("cannot start a search thread");
        }
        SearchPool { queue }
    }

    /// Runs `f` on a search thread and waits for its answer.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        match self.queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => return Err(Busy),
        }
        rx.await.map_err(|_| Busy)
    }
}

/// The nice value of search threads: the lowest priority.
pub const NICE: i32 = 19;

fn lower_priority() {
    // SAFETY: gettid and setpriority on the calling thread (on Linux, PRIO_PROCESS with a thread
    // id sets that thread's nice value alone); neither touches memory. Any thread may lower its
    // own priority; if it fails anyway the thread simply keeps its priority.
    #[cfg(target_os = "linux")]
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, NICE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_and_refuses_when_full() {
        let pool = SearchPool::new(1, 1);
        assert_eq!(pool.run(|| 2 + 2).await.unwrap(), 4);
        #[cfg(target_os = "linux")]
        {
            // SAFETY: reads the calling thread's nice value.
            let nice = pool
                .run(|| unsafe {
                    libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t)
                })
                .await
                .unwrap();
            assert_eq!(nice, NICE, "search threads yield to every other thread");
        }
        let (hold, wait) = std::sync::mpsc::channel::<()>();
        let blocked = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(move || {
                    let _ = wait.recv();
                })
                .await
            })
        };
        // The first job occupies the thread, the second the queue's one place.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let queued = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run(|| 1).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(pool.run(|| 0).await.is_err(), "a third search is refused");
        hold.send(()).unwrap();
        blocked.await.unwrap().unwrap();
        assert_eq!(queued.await.unwrap().unwrap(), 1);
    }
}
