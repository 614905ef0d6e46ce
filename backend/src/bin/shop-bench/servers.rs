//! The in-process shop, the bare hyper server that is the floor of any server on this
//! machine, and a minimal keep-alive HTTP/1.1 client.

use super::*;

/// The in-process shop's produce timeout (the server's default is 5 s): see the notes of d.
pub(crate) const SHOP_PRODUCE_TIMEOUT_MS: u64 = 30_000;

pub(crate) struct Shop {
    pub(crate) addr: SocketAddr,
    pub(crate) server: Server,
    pub(crate) stop: tokio::sync::watch::Sender<bool>,
    /// Set once the shop is ready and the bridge has copied the whole catalog.
    pub(crate) startup: Option<Startup>,
}

pub(crate) struct Startup {
    pub(crate) products: u64,
    pub(crate) ready: Duration,
    pub(crate) bridged: Duration,
    pub(crate) stocked: u64,
    pub(crate) rss: u64,
    pub(crate) rss_growth: u64,
}

/// A bare hyper 1.x http1 server answering a fixed body per path: the floor of what any server
/// on this machine can do for a response of that size.
pub(crate) struct BareServer {
    pub(crate) addr: SocketAddr,
    pub(crate) task: tokio::task::JoinHandle<()>,
}

impl BareServer {
    /// Answers each path with its (content type, body).
    pub(crate) async fn start(
        bodies: Vec<(String, &'static str, Bytes)>,
    ) -> anyhow::Result<BareServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let bodies = Arc::new(bodies);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let bodies = bodies.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let body = bodies
                            .iter()
                            .find(|(p, _, _)| p == req.uri().path())
                            .map(|(_, t, b)| (*t, b.clone()));
                        async move {
                            let resp = match body {
                                Some((content_type, b)) => Response::builder()
                                    .status(StatusCode::OK)
                                    .header(header::CONTENT_TYPE, content_type)
                                    .header(header::CACHE_CONTROL, "no-store")
                                    .body(Full::new(b)),
                                None => Response::builder()
                                    .status(StatusCode::NOT_FOUND)
                                    .body(Full::new(Bytes::new())),
                            };
                            Ok::<_, std::convert::Infallible>(resp.expect("static headers"))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(BareServer { addr, task })
    }

    pub(crate) fn stop(self) {
        self.task.abort();
    }
}

/// A minimal HTTP/1.1 client on one keep-alive connection (the backend crate has hyper's client
/// only as a dev-dependency). Enough for the shop's and the bare server's replies, which always
/// carry Content-Length.
pub(crate) struct HttpConn {
    pub(crate) stream: BufReader<TcpStream>,
    pub(crate) host: String,
}

impl HttpConn {
    pub(crate) async fn connect(addr: SocketAddr) -> anyhow::Result<HttpConn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(HttpConn {
            stream: BufReader::new(stream),
            host: addr.to_string(),
        })
    }

    pub(crate) async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nhost: {}\r\ncontent-length: {}\r\n",
            self.host,
            body.len()
        );
        for (k, v) in headers {
            let _ = write!(head, "{k}: {v}\r\n");
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(body);
        self.stream.get_mut().write_all(&out).await?;

        let mut line = String::new();
        self.stream.read_line(&mut line).await?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {line:?}"))?;
        let mut length = None;
        loop {
            line.clear();
            if self.stream.read_line(&mut line).await? == 0 {
                bail!("connection closed in the response head");
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.trim().eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse::<usize>().ok();
            }
        }
        let length = length.context("response without Content-Length")?;
        let mut reply = vec![0; length];
        self.stream.read_exact(&mut reply).await?;
        Ok((status, reply))
    }
}
