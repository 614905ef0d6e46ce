//! Where large searches run: a few threads of their own that the kernel schedules only when no
//! other thread wants the CPU (Linux's `SCHED_IDLE`), so a search that walks long posting lists
//! never holds up the async runtime's workers (and with them `/healthz`, the product pages and
//! every command). A bounded queue in front: when it is
//! full the search is refused at once (503) instead of piling up behind the others.

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

fn lower_priority() {
    // SAFETY: sched_setscheduler on the calling thread (pid 0) with a valid parameter; it reads
    // the parameter and touches no other memory. Unprivileged threads may always lower
    // themselves to SCHED_IDLE; if it fails anyway the thread simply keeps its priority.
    #[cfg(target_os = "linux")]
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
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
            // SAFETY: reads the calling thread's scheduling policy.
            let policy = pool
                .run(|| unsafe { libc::sched_getscheduler(0) })
                .await
                .unwrap();
            assert_eq!(
                policy,
                libc::SCHED_IDLE,
                "search threads yield to every other thread"
            );
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
