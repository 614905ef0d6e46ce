//! The local broker as a child process in a fresh temporary directory, started through
//! `scripts/broker.sh`; killed and its directory removed on drop.

use super::*;

/// The tansu broker as a child process with its data in a fresh temporary directory; killed and
/// its directory removed on drop.
pub(crate) struct Broker {
    pub(crate) child: Option<Child>,
    pub(crate) dir: PathBuf,
    pub(crate) port: u16,
    pub(crate) version: String,
}

impl Broker {
    pub(crate) async fn start(tansu: &Path) -> anyhow::Result<Broker> {
        let version = Command::new(tansu)
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "tansu (version unknown)".to_owned());
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("shop-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::fs::File::create(dir.join("tansu.log"))?;
        // The broker's flags live in scripts/broker.sh (it execs: the child is the broker).
        let child = Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/broker.sh"))
            .arg(&dir)
            .args([port.to_string(), port.to_string(), "bench".to_owned()])
            .env("TANSU_BIN", tansu)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", tansu.display()))?;
        let mut broker = Broker {
            child: Some(child),
            dir,
            port,
            version,
        };
        let t0 = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if let Some(Ok(Some(status))) = broker.child.as_mut().map(Child::try_wait) {
                bail!("the broker exited at start ({status}); see its log above");
            }
            if t0.elapsed() > Duration::from_secs(20) {
                bail!("the broker did not accept connections within 20 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(broker)
    }

    pub(crate) fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
