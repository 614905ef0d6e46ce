//! The browser app's files, served from a directory at `/`. A path without a file extension that
//! names no file gets `index.html`, so the app's own routes (`/cart`, `/product/7`) survive a
//! reload. Paths never leave the directory.

use std::path::{Component, Path, PathBuf};

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::Full;

use crate::http::wire::Resp;

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The file for a URL path, or None when the path tries to leave the directory.
fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let mut out = root.to_path_buf();
    for part in Path::new(url_path.trim_start_matches('/')).components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

fn text(status: StatusCode, body: &'static str) -> Resp {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("static response")
}

pub async fn serve(root: &Path, url_path: &str) -> Resp {
    if url_path.contains('\0') || url_path.contains('%') && url_path.contains("..") {
        return text(StatusCode::BAD_REQUEST, "bad path\n");
    }
    let Some(mut path) = resolve(root, url_path) else {
        return text(StatusCode::NOT_FOUND, "not found\n");
    };
    if tokio::fs::metadata(&path)
        .await
        .map(|m| m.is_dir())
        .unwrap_or(false)
    {
        path.push("index.html");
    }
    let mut found = tokio::fs::read(&path).await;
    if found.is_err() && Path::new(url_path).extension().is_none() {
        path = root.join("index.html");
        found = tokio::fs::read(&path).await;
    }
    match found {
        Ok(bytes) => {
            // The app's assets are named by content hash; index.html must always be fetched fresh.
            let cache = if path.file_name().is_some_and(|n| n == "index.html") {
                "no-cache"
            } else {
                "public, max-age=3600"
            };
            Response::builder()
                .header(header::CONTENT_TYPE, content_type(&path))
                .header(header::CACHE_CONTROL, cache)
                .body(Full::new(Bytes::from(bytes)))
                .expect("static headers")
        }
        Err(_) if root.join("index.html").exists() => text(StatusCode::NOT_FOUND, "not found\n"),
        Err(_) => text(
            StatusCode::NOT_FOUND,
            "The browser app is not built here (no index.html in STATIC_DIR). The API is at /api/.\n",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_leaves_the_root() {
        let root = Path::new("/srv/app");
        assert_eq!(
            resolve(root, "/a/b.js"),
            Some(PathBuf::from("/srv/app/a/b.js"))
        );
        assert_eq!(resolve(root, "/../etc/passwd"), None);
        assert_eq!(resolve(root, "/a/../../x"), None);
    }

    #[tokio::test]
    async fn spa_routes_fall_back_to_index() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<html>app</html>").unwrap();
        std::fs::write(dir.path().join("app.js"), "js").unwrap();
        let r = serve(dir.path(), "/cart").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let r = serve(dir.path(), "/app.js").await;
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            serve(dir.path(), "/missing.js").await.status(),
            StatusCode::NOT_FOUND
        );
    }
}
