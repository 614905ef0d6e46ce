//! The API fuzzed from its own OpenAPI document: Schemathesis (PyPI, pinned in
//! `tests/api_fuzz/requirements.txt`, installed by `make test`) generates requests for every
//! operation, valid ones and ones that break the schema, against the real `shop` binary on the
//! real local broker, a bounded number per operation. It fails on any 5xx, any answer whose
//! status, content type, headers or body the document does not describe, a 405 without `Allow`,
//! an admin operation that answers without the token, and (`tests/api_fuzz/hooks.py`) any
//! command answered with success without an `Idempotency-Key`. Its output goes to
//! `target/api-fuzz/schemathesis.txt`.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::{ADMIN_TOKEN, Backend, Broker, Shopper};

/// Examples per operation and phase: enough to reach every parameter and body field with good
/// and bad values, few enough for `make test` (the coverage phase adds its own boundary cases).
const EXAMPLES: &str = "100";

fn schemathesis() -> PathBuf {
    if let Some(p) = std::env::var_os("SCHEMATHESIS") {
        return p.into();
    }
    let home = std::env::var_os("HOME").expect("HOME");
    let p = PathBuf::from(home).join(".cache/kafka-shop/tools/schemathesis-venv/bin/st");
    assert!(
        p.exists(),
        "Schemathesis is not installed: run `make test` (it installs it) or `make api-fuzz-tool`, or set SCHEMATHESIS"
    );
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_no_undocumented_answer_and_no_keyless_command() {
    let st = schemathesis();
    let broker = Broker::start().await;
    let backend = Backend::start(&broker.brokers(), &[]).await;
    let mut admin = Shopper::new(backend.addr);
    for id in 1..=5u64 {
        admin
            .add_product(
                id,
                &format!("Lamp {id}"),
                "Home & Garden",
                1000 * id as i64,
                5,
            )
            .await;
    }
    let out_dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/api-fuzz"));
    std::fs::create_dir_all(&out_dir).unwrap();
    let report = out_dir.join("schemathesis.txt");
    let hooks = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api_fuzz");
    let addr = backend.addr;
    let output = tokio::task::spawn_blocking(move || {
        Command::new(st)
            .arg("run")
            .arg(format!("http://{addr}/api/openapi.json"))
            .args(["--checks", "all"])
            // Valid-by-schema requests may rightly be refused (an unknown product, an order that
            // does not match the cart): only the schema's own refusals are required.
            .args(["--exclude-checks", "positive_data_acceptance"])
            .args(["--header", &format!("Authorization: Bearer {ADMIN_TOKEN}")])
            .args(["--phases", "examples,coverage,fuzzing"])
            .args(["--max-examples", EXAMPLES])
            .args(["--seed", "20261205"])
            .args(["--workers", "1"])
            .args(["--request-timeout", "20"])
            .args(["--generation-database", "none"])
            .args(["--suppress-health-check", "all"])
            .arg("--no-color")
            .env("SCHEMATHESIS_HOOKS", "hooks")
            .env("PYTHONPATH", hooks)
            .current_dir(&out_dir)
            .output()
            .expect("run schemathesis")
    })
    .await
    .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::write(&report, &text).unwrap();
    let tail: Vec<&str> = text.lines().rev().take(60).collect();
    assert!(
        output.status.success(),
        "Schemathesis found problems (target/api-fuzz/schemathesis.txt):\n{}",
        text
    );
    // It really ran: every operation was tested.
    assert!(
        text.contains("passed") && !text.contains("0 passed"),
        "Schemathesis reported no passing operation:\n{}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    backend.terminate();
}
