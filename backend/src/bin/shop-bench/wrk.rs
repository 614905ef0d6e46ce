//! Running `wrk` and reading its report.

use super::*;

pub(crate) struct WrkRun {
    pub(crate) rps: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) non_2xx: u64,
    pub(crate) socket_errors: Option<String>,
}

impl std::fmt::Display for WrkRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} req/s, p50 {:.3} ms, p99 {:.3} ms",
            self.rps,
            self.p50_us / 1000.0,
            self.p99_us / 1000.0
        )?;
        if self.non_2xx > 0 {
            write!(f, ", {} non-2xx", self.non_2xx)?;
        }
        if let Some(e) = &self.socket_errors {
            write!(f, ", socket errors: {e}")?;
        }
        Ok(())
    }
}

impl WrkRun {
    pub(crate) fn rps_cell(&self) -> String {
        let mut s = count(self.rps);
        if self.non_2xx > 0 {
            let _ = write!(s, " ({} non-2xx!)", self.non_2xx);
        }
        if let Some(e) = &self.socket_errors {
            let _ = write!(s, " (socket errors: {e})");
        }
        s
    }

    pub(crate) fn latency_cell(&self) -> String {
        format!(
            "{:.2} / {:.2} ms",
            self.p50_us / 1000.0,
            self.p99_us / 1000.0
        )
    }
}

/// `wrk` with these threads/connections options and, optionally, a Lua script.
pub(crate) async fn wrk_with(
    options: &[&str],
    secs: u64,
    url: &str,
    script: Option<&Path>,
) -> anyhow::Result<WrkRun> {
    let mut args: Vec<String> = options.iter().map(|o| o.to_string()).collect();
    args.push(format!("-d{secs}s"));
    args.push("--latency".into());
    if let Some(script) = script {
        args.push("-s".into());
        args.push(script.display().to_string());
    }
    args.push(url.into());
    let out = tokio::process::Command::new("wrk")
        .args(&args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .context("cannot run wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "wrk failed ({}): {text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse_wrk(&text).with_context(|| format!("cannot read wrk's output:\n{text}"))
}

pub(crate) fn parse_wrk(text: &str) -> Option<WrkRun> {
    let mut run = WrkRun {
        rps: f64::NAN,
        p50_us: f64::NAN,
        p99_us: f64::NAN,
        non_2xx: 0,
        socket_errors: None,
    };
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            run.rps = v.trim().parse().ok()?;
        } else if let Some(v) = line.strip_prefix("50%") {
            run.p50_us = wrk_duration_us(v.trim())?;
        } else if let Some(v) = line.strip_prefix("99%") {
            run.p99_us = wrk_duration_us(v.trim())?;
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            run.non_2xx = v.trim().parse().ok()?;
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            run.socket_errors = Some(v.trim().to_owned());
        }
    }
    (run.rps.is_finite() && run.p50_us.is_finite() && run.p99_us.is_finite()).then_some(run)
}

/// wrk's durations: "245.00us", "1.23ms", "1.02s", "2.00m".
pub(crate) fn wrk_duration_us(v: &str) -> Option<f64> {
    let split = v.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = v.split_at(split);
    let num: f64 = num.parse().ok()?;
    let factor = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => return None,
    };
    Some(num * factor)
}

pub(crate) fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

/// GETs of `path(i)` sent at `rate` per second for 5 s over keep-alive connections (one per
/// 250 req/s, at least 8, so each sends every 4 ms or more: above the timer's millisecond)
/// with `headers`; their percentiles. Open loop: a request whose connection was still busy at
/// its slot counts from the slot (a stall is not hidden); one sent on time counts from its
/// send (the timer waking late is not the server's).
pub(crate) async fn paced(
    addr: SocketAddr,
    rate: f64,
    headers: &[(String, String)],
    path: &(dyn Fn(u64) -> String + Sync),
) -> anyhow::Result<Percentiles> {
    let connections = ((rate / 250.0).ceil() as u64).max(8);
    let total = (rate * 5.0) as u64;
    let interval = Duration::from_secs_f64(connections as f64 / rate);
    let start = Instant::now() + Duration::from_millis(50);
    let mut tasks = vec![];
    for c in 0..connections {
        let paths: Vec<String> = (0..total / connections)
            .map(|k| path(k * connections + c))
            .collect();
        let headers = headers.to_vec();
        tasks.push(tokio::spawn(async move {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let mut conn = HttpConn::connect(addr).await?;
            let first = start + interval.mul_f64(c as f64 / connections as f64);
            let mut samples = Vec::with_capacity(paths.len());
            let mut free_at = Instant::now();
            for (k, p) in paths.iter().enumerate() {
                let slot = first + interval * k as u32;
                tokio::time::sleep_until(slot.into()).await;
                let from = if free_at > slot { slot } else { Instant::now() };
                let (status, body) = conn.request("GET", p, &headers, b"").await?;
                if status != 200 {
                    bail!("GET {p}: {status} {}", String::from_utf8_lossy(&body));
                }
                free_at = Instant::now();
                samples.push(free_at - from);
            }
            anyhow::Ok(samples)
        }));
    }
    let mut all = vec![];
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(Percentiles::of(all))
}

/// [`paced`] of one URL from a child process (this binary with `--paced`), so the load is
/// generated outside the runtime of the servers measured: (p50, p99).
pub(crate) async fn paced_child(
    url: &str,
    rate: f64,
    accept: &str,
) -> anyhow::Result<(Duration, Duration)> {
    let exe = std::env::current_exe()?;
    let out = tokio::process::Command::new(exe)
        .args([
            "--paced",
            url,
            "--paced-rate",
            &rate.to_string(),
            "--paced-accept",
            accept,
        ])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .context("cannot run the paced client")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let nums: Vec<u64> = text
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    match nums[..] {
        [p50, p99] if out.status.success() => {
            Ok((Duration::from_micros(p50), Duration::from_micros(p99)))
        }
        _ => bail!(
            "the paced client failed ({}): {text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// The child's side of [`paced_child`]: prints "p50_us p99_us".
pub(crate) async fn paced_probe(url: &str, rate: f64, accept: &str) -> anyhow::Result<()> {
    let rest = url.strip_prefix("http://").context("an http:// URL")?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let addr: SocketAddr = host.parse().context("a numeric host:port")?;
    let path = if path.is_empty() { "/" } else { path }.to_owned();
    let headers = [("accept".to_owned(), accept.to_owned())];
    let p = paced(addr, rate, &headers, &move |_| path.clone()).await?;
    println!("{} {}", p.p50.as_micros(), p.p99.as_micros());
    Ok(())
}
