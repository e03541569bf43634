//! The built site (wasm, JS, CSS, public assets), embedded in the binary at compile time.
//!
//! `make release` builds the front end first (`cargo leptos build --release --frontend-only`),
//! writes the best-level `.br`/`.gz` copies next to each file (`scripts/precompress.mjs`), then
//! compiles this crate (`--server-only`; rust-embed reads every file with `include_bytes!`, so a
//! changed file recompiles it), so the release binary carries the whole site and runs from an
//! empty directory. Debug builds read `target/site` from disk, so
//! `cargo leptos watch` picks up new front-end builds without recompiling the server.
//!
//! Files are served with their content type, the best pre-compressed encoding the client accepts,
//! an ETag, and `Cache-Control: immutable` when requested under their content hash (`?v=`).

use app::ssr::AssetLinks;
use axum::{
    body::Body,
    extract::Request,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use rust_embed::RustEmbed;

/// The site folder written by cargo-leptos.
#[derive(RustEmbed)]
#[folder = "../target/site"]
#[allow_missing = true]
struct Site;

/// Long-lived caching for content-addressed URLs.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Revalidate (cheaply, by ETag) everything else.
const REVALIDATE: &str = "no-cache";

/// A short content hash of an embedded file (hex of the first 8 bytes of its SHA-256).
fn short_hash(path: &str) -> Option<String> {
    let file = Site::get(path)?;
    Some(
        file.metadata.sha256_hash()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// Finds the first embedded `pkg/*.{ext}` (not a compressed copy).
fn find_pkg(ext: &str) -> Option<String> {
    let mut names: Vec<String> = Site::iter()
        .map(|p| p.into_owned())
        .filter(|p| p.starts_with("pkg/") && p.ends_with(ext) && !p.contains("/snippets/"))
        .collect();
    names.sort();
    names.into_iter().next()
}

/// The hashed URLs of the boot script, wasm and stylesheet, for the HTML shell.
pub fn links() -> AssetLinks {
    let link = |ext: &str| {
        find_pkg(ext)
            .map(|p| match short_hash(&p) {
                Some(h) => format!("/{p}?v={h}"),
                None => format!("/{p}"),
            })
            .unwrap_or_default()
    };
    AssetLinks {
        js: link(".js"),
        wasm: link(".wasm"),
        css: link(".css"),
    }
}

/// Serves an embedded file for `req`'s path, or `None` when there is no such file.
pub fn serve(req: &Request) -> Option<Response> {
    let path = req.uri().path().trim_start_matches('/');
    if path.is_empty() || path.ends_with(".br") || path.ends_with(".gz") {
        return None;
    }
    let file = Site::get(path)?;
    let hash = short_hash(path)?;
    let etag = format!("\"{hash}\"");
    let versioned = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == format!("v={hash}")));
    let cache = if versioned { IMMUTABLE } else { REVALIDATE };
    let mime = mime_guess::from_path(path).first_or_octet_stream();

    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, header_value(&etag));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::CONTENT_TYPE, header_value(mime.as_ref()));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));

    let not_modified = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if not_modified {
        return Some((StatusCode::NOT_MODIFIED, headers).into_response());
    }

    let accepts = |enc: &str| {
        req.headers()
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .any(|e| e.split(';').next().is_some_and(|n| n.trim() == enc))
            })
    };
    for (enc, suffix) in [("br", ".br"), ("gzip", ".gz")] {
        if accepts(enc) {
            if let Some(compressed) = Site::get(&format!("{path}{suffix}")) {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(enc));
                return Some((headers, Body::from(compressed.data.into_owned())).into_response());
            }
        }
    }
    Some((headers, Body::from(file.data.into_owned())).into_response())
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}
