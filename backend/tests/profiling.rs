//! The profiling endpoints, read by the real tool: `go tool pprof` (Debian's `golang-go`) must
//! parse what `/debug/pprof/profile` and `/debug/pprof/heap` return.
//!
//! The CPU profile is taken from a shop in this process (so a thread of the test itself can burn
//! CPU in a function the profile must name) and from the `shop` binary. The heap profile only
//! exists where jemalloc with profiling is the allocator: the `shop` binary, run as a child
//! process on its in-process mock cluster (`KAFKA_BROKERS=memory`). In this test binary the
//! allocator is the system's, and the endpoint says so with 501.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::{Method, StatusCode, header};
use support::{ADMIN_TOKEN, Backend, InProcess, Reply, Shopper, shop_in_memory};

/// The CPU profiler is process-wide and refuses a second profile (409): the tests that profile
/// this process take turns.
static PROFILES_THIS_PROCESS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn admin_get(s: &mut Shopper, path: &str) -> Reply {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    s.send(Method::GET, path, &[("authorization", &auth)], Bytes::new())
        .await
}

/// Runs `go tool pprof <args> <profile>` and returns its standard output; fails the test when
/// `go` is missing or pprof cannot read the profile.
fn go_pprof(args: &[&str], profile: &[u8]) -> String {
    let go_works = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        go_works,
        "`go` is not installed: `make test` installs it (Debian's golang-go, for `go tool pprof`)"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("profile.pb.gz");
    std::fs::write(&file, profile).unwrap();
    let out = Command::new("go")
        .args(["tool", "pprof"])
        .args(args)
        .arg(&file)
        .env("PPROF_TMPDIR", dir.path())
        .output()
        .expect("run go tool pprof");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "go tool pprof {args:?} failed ({}):\n{}\n{stdout}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn assert_gzip_octets(r: &Reply) {
    assert_eq!(
        r.headers[header::CONTENT_TYPE],
        "application/octet-stream",
        "{:?}",
        r.headers
    );
    assert_eq!(
        &r.body[..2],
        [0x1f, 0x8b],
        "gzip-compressed, as Go serves it"
    );
}

/// Spins for as long as `running` is set, in a function the CPU profile must name.
#[inline(never)]
fn burn_cpu_for_the_profile(running: &AtomicBool) -> u64 {
    let mut x = 0u64;
    while running.load(Ordering::Relaxed) {
        for i in 0..10_000u64 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
        }
    }
    x
}

/// Requests to the shop and a busy thread, until the returned flag is cleared.
fn load(shop: &InProcess) -> Arc<AtomicBool> {
    let running = Arc::new(AtomicBool::new(true));
    let r = running.clone();
    std::thread::spawn(move || burn_cpu_for_the_profile(&r));
    let r = running.clone();
    let mut s = Shopper::new(shop.addr);
    tokio::spawn(async move {
        while r.load(Ordering::Relaxed) {
            s.get("/api/products").await.expect(StatusCode::OK);
        }
    });
    running
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_profile_is_read_by_go_tool_pprof() {
    let _turn = PROFILES_THIS_PROCESS.lock().await;
    let (_cluster, shop) = shop_in_memory().await;
    let mut admin = Shopper::new(shop.addr);
    admin.add_product(1, "Desk lamp", "Home", 2500, 10).await;

    let running = load(&shop);
    let r = admin_get(&mut admin, "/debug/pprof/profile?seconds=1").await;
    running.store(false, Ordering::Relaxed);
    let r = r.expect(StatusCode::OK);
    assert_gzip_octets(&r);

    let top = go_pprof(&["-top"], &r.body);
    assert!(top.contains("Type: cpu"), "{top}");
    assert!(top.contains("burn_cpu_for_the_profile"), "{top}");
    let raw = go_pprof(&["-raw"], &r.body);
    assert!(raw.contains("samples/count"), "{raw}");
    assert!(raw.contains("thread:"), "{raw}");

    let running = load(&shop);
    let r = admin_get(&mut admin, "/debug/pprof/profile?seconds=1&format=svg").await;
    running.store(false, Ordering::Relaxed);
    let r = r.expect(StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_TYPE], "image/svg+xml");
    let svg = String::from_utf8(r.body.to_vec()).expect("UTF-8 SVG");
    assert!(svg.starts_with("<?xml"), "{}", &svg[..svg.len().min(200)]);
    assert!(svg.contains("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("burn_cpu_for_the_profile"));
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_need_the_admin_token_and_valid_parameters() {
    let _turn = PROFILES_THIS_PROCESS.lock().await;
    let (_cluster, shop) = shop_in_memory().await;
    let mut s = Shopper::new(shop.addr);
    for path in ["/debug/pprof/profile?seconds=1", "/debug/pprof/heap"] {
        let r = s.get(path).await.expect(StatusCode::UNAUTHORIZED);
        assert!(r.headers.contains_key(header::WWW_AUTHENTICATE), "{path}");
        s.send(
            Method::GET,
            path,
            &[("authorization", "Bearer not-the-token")],
            Bytes::new(),
        )
        .await
        .expect(StatusCode::UNAUTHORIZED);
    }
    for bad in ["0", "abc", "301", "-1"] {
        let r = admin_get(&mut s, &format!("/debug/pprof/profile?seconds={bad}"))
            .await
            .expect(StatusCode::BAD_REQUEST);
        let msg = r.json()["message"].as_str().unwrap().to_owned();
        assert!(
            msg.contains("seconds must be a whole number from 1 to 300"),
            "{msg}"
        );
    }
    admin_get(&mut s, "/debug/pprof/profile?seconds=1&format=png")
        .await
        .expect(StatusCode::BAD_REQUEST);
    admin_get(&mut s, "/debug/pprof/profile?secs=1")
        .await
        .expect(StatusCode::BAD_REQUEST);
    let auth = format!("Bearer {ADMIN_TOKEN}");
    s.send(
        Method::POST,
        "/debug/pprof/heap",
        &[("authorization", &auth)],
        Bytes::new(),
    )
    .await
    .expect(StatusCode::METHOD_NOT_ALLOWED);

    // This test binary does not allocate with jemalloc: no heap profile, and a reason.
    let r = admin_get(&mut s, "/debug/pprof/heap")
        .await
        .expect(StatusCode::NOT_IMPLEMENTED);
    let msg = r.json()["message"].as_str().unwrap().to_owned();
    assert!(msg.contains("jemalloc") && msg.contains("shop"), "{msg}");

    // One CPU profile at a time: of two at once, one runs and the other is refused.
    let (mut a, mut b) = (s.clone(), s.clone());
    let (ra, rb) = tokio::join!(
        admin_get(&mut a, "/debug/pprof/profile?seconds=2"),
        admin_get(&mut b, "/debug/pprof/profile?seconds=2"),
    );
    let mut statuses = [ra.status, rb.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    let refused = if ra.status == StatusCode::CONFLICT {
        ra
    } else {
        rb
    };
    let msg = refused.json()["message"].as_str().unwrap().to_owned();
    assert!(msg.contains("one runs at a time"), "{msg}");
    // And the next one may run again.
    admin_get(&mut s, "/debug/pprof/profile?seconds=1")
        .await
        .expect(StatusCode::OK);
    shop.stop().await;
}

/// The `shop` binary allocates with jemalloc (profiling on), so it answers a heap profile; its
/// CPU profile works there too, next to jemalloc's own sampling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shop_binary_serves_heap_and_cpu_profiles() {
    // Sample every 4 KiB allocated on average (instead of 512 KiB) so that even this small shop
    // has samples: jemalloc reads MALLOC_CONF after the binary's built-in malloc_conf. The log
    // stays quiet: `Backend` expects the address as the first line on stdout, and the mock
    // cluster's warning would come first.
    let env = [("MALLOC_CONF", "lg_prof_sample:12"), ("RUST_LOG", "error")];
    let backend = Backend::start("memory", &env).await;
    let mut admin = Shopper::new(backend.addr);
    for id in 1..=20 {
        admin
            .add_product(id, &format!("Lamp {id}"), "Home", 1000 + id as i64, 5)
            .await;
    }

    let r = admin_get(&mut admin, "/debug/pprof/heap")
        .await
        .expect(StatusCode::OK);
    assert_gzip_octets(&r);
    let top = go_pprof(&["-top"], &r.body);
    assert!(top.contains("Type: inuse_space"), "{top}");
    assert!(top.contains("alloc"), "names allocating functions:\n{top}");
    let raw = go_pprof(&["-raw"], &r.body);
    assert!(raw.contains("Locations"), "{raw}");

    let mut reader = admin.clone();
    let running = Arc::new(AtomicBool::new(true));
    let r2 = running.clone();
    let requests = tokio::spawn(async move {
        while r2.load(Ordering::Relaxed) {
            reader.get("/api/products").await.expect(StatusCode::OK);
        }
    });
    let r = admin_get(&mut admin, "/debug/pprof/profile?seconds=1").await;
    running.store(false, Ordering::Relaxed);
    requests.await.unwrap();
    let r = r.expect(StatusCode::OK);
    assert_gzip_octets(&r);
    let top = go_pprof(&["-top"], &r.body);
    assert!(top.contains("Type: cpu"), "{top}");
    backend.terminate();
}

#[test]
fn profiles_are_documented_with_the_exact_commands() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("README.md");
    for needle in [
        "## Profiling",
        "/debug/pprof/profile?seconds=30",
        "go tool pprof -top cpu.pb.gz",
        "format=svg",
        "/debug/pprof/heap",
    ] {
        assert!(readme.contains(needle), "README.md lacks {needle:?}");
    }
}
