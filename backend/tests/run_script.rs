//! `make run`'s script (`backend/scripts/run.sh`) as a person uses it: start it, wait for the
//! shop, press Ctrl-C (SIGINT to the terminal's foreground process group), and start it again at
//! once. It must return only when the local broker it started has stopped (port and data free),
//! and the second start must find the first one's data.

mod support;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use http::StatusCode;
use support::{Shopper, eventually, free_port};

struct Run {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

fn tansu_bin() -> String {
    std::env::var("TANSU_BIN").unwrap_or_else(|_| {
        format!(
            "{}/.cache/kafka-shop/tools/bin/tansu",
            std::env::var("HOME").unwrap()
        )
    })
}

impl Run {
    fn start(data: &std::path::Path, http: u16, broker: u16) -> Run {
        Run::start_with(data, http, broker, &[])
    }

    fn start_with(data: &std::path::Path, http: u16, broker: u16, env: &[(&str, &str)]) -> Run {
        let mut child = Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/run.sh"))
            .env("SHOP_BIN", env!("CARGO_BIN_EXE_shop"))
            .env("TANSU_BIN", tansu_bin())
            .env("DATA_DIR", data)
            .env("HTTP_ADDR", format!("127.0.0.1:{http}"))
            .env("BROKER_PORT", broker.to_string())
            .env("STATIC_DIR", "/nonexistent")
            .env("DEMO_PRODUCTS", "40")
            .env("RUST_LOG", "warn")
            .env_remove("KAFKA_BROKERS")
            .env_remove("BROKER")
            // Its own process group, as a terminal's foreground job is.
            .process_group(0)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start run.sh");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                println!("run.sh: {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Run {
            child,
            lines,
            seen: vec![],
        }
    }

    fn drain(&mut self) {
        self.seen.extend(self.lines.try_iter());
    }

    /// The broker's pid, from the script's "local broker on … (pid N)" line.
    fn find_broker_pid(&mut self) -> Option<i32> {
        self.drain();
        self.seen.iter().find_map(|l| {
            l.strip_prefix("local broker on ")?
                .split("(pid ")
                .nth(1)?
                .split(')')
                .next()?
                .parse()
                .ok()
        })
    }

    fn broker_pid(&mut self) -> i32 {
        self.find_broker_pid()
            .unwrap_or_else(|| panic!("no broker pid in {:#?}", self.seen))
    }

    /// Ctrl-C: SIGINT to the whole process group, then the script's exit, within a minute.
    fn ctrl_c(mut self) -> (std::process::ExitStatus, Duration) {
        let started = Instant::now();
        let pgid = self.child.id() as i32;
        unsafe { kill(-pgid, 2) };
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.drain();
                return (status, started.elapsed());
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "run.sh still running a minute after Ctrl-C"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        // The broker runs in a session of its own: a failed test must not leave it behind.
        if let Some(pid) = self.find_broker_pid().filter(|&pid| process_exists(pid)) {
            unsafe { kill(pid, 9) };
        }
        let pgid = self.child.id() as i32;
        unsafe { kill(-pgid, 9) };
        let _ = self.child.wait();
    }
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn kill(pid: i32, sig: i32) -> i32;
}

fn process_exists(pid: i32) -> bool {
    // Signal 0 checks existence; a zombie (exited, not yet reaped) has no /proc/PID/exe target.
    let signalled = unsafe { kill(pid, 0) } == 0;
    signalled && std::fs::read_link(format!("/proc/{pid}/exe")).is_ok()
}

fn port_taken(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

async fn ready_with_products(http: u16) -> u64 {
    let s = Shopper::new(format!("127.0.0.1:{http}").parse().unwrap());
    eventually(Duration::from_secs(120), "the shop ready", || {
        let mut s = s.clone();
        async move {
            s.try_send(http::Method::GET, "/readyz", &[], "")
                .await
                .is_ok_and(|r| r.status == StatusCode::OK)
        }
    })
    .await;
    let mut s = s.clone();
    let page = s
        .get("/api/products?page_size=1")
        .await
        .expect(StatusCode::OK)
        .json();
    page["totalItems"]
        .as_str()
        .map(|t| t.parse().unwrap())
        .or_else(|| page["totalItems"].as_u64())
        .unwrap_or_else(|| panic!("no totalItems in {page}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_the_broker_too_and_a_second_start_at_once_finds_the_data() {
    let data = tempfile::tempdir().unwrap();
    let (http, broker) = (free_port(), free_port());

    let mut first = Run::start(data.path(), http, broker);
    let products = ready_with_products(http).await;
    assert_eq!(products, 40, "the demo data of a first run");
    let broker_pid = first.broker_pid();
    assert!(process_exists(broker_pid));

    let (status, took) = first.ctrl_c();
    println!("run.sh returned {status} {took:?} after Ctrl-C");
    assert!(
        !process_exists(broker_pid),
        "run.sh returned while its broker (pid {broker_pid}) still runs"
    );
    assert!(!port_taken(broker), "the broker's port is still taken");
    assert!(!port_taken(http), "the shop's port is still taken");

    // At once: no waiting for anything to let go of the port or the data.
    let mut second = Run::start(data.path(), http, broker);
    assert_eq!(
        ready_with_products(http).await,
        40,
        "the second start finds the first one's catalog (and makes no second demo catalog)"
    );
    let second_pid = second.broker_pid();
    let (_, took) = second.ctrl_c();
    println!("second run.sh returned {took:?} after Ctrl-C");
    assert!(!process_exists(second_pid));
    assert!(!port_taken(broker));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let data = tempfile::tempdir().unwrap();
    let (http, broker) = (free_port(), free_port());
    let mut run = Run::start_with(data.path(), http, broker, &[("BROKER_STOP_SECONDS", "2")]);
    assert_eq!(ready_with_products(http).await, 40);
    let pid = run.broker_pid();
    // SIGSTOP: a hung broker, which holds its port and data and answers no signal but SIGKILL.
    unsafe { kill(pid, 19) };

    let (_, took) = run.ctrl_c();
    println!("run.sh returned {took:?} after Ctrl-C with a hung broker");
    assert!(
        !process_exists(pid),
        "the hung broker (pid {pid}) was left running"
    );
    assert!(!port_taken(broker));

    // What it had acknowledged survived the kill (SQLite's write-ahead log).
    let mut again = Run::start(data.path(), http, broker);
    assert_eq!(ready_with_products(http).await, 40);
    let pid = again.broker_pid();
    again.ctrl_c();
    assert!(!process_exists(pid));
}
