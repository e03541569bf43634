//! The servers under test: parsing `--url`, the loopback-only rule, and creating sessions
//! through the real server function `POST /api/create` (a tiny HTTP/1.1 client, so the load
//! generator needs no HTTP library).

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use watchparty_core::ids::SessionId;

/// Largest HTTP response read while creating a session.
const MAX_RESPONSE: usize = 64 * 1024;

/// Errors reaching or using a server.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The URL is not `http://host:port`, `ws://host:port` or `host:port`.
    #[error("bad server URL {0:?}: expected http://host:port")]
    BadUrl(String),
    /// The name did not resolve.
    #[error("cannot resolve {0}: {1}")]
    Resolve(String, std::io::Error),
    /// Only loopback servers may be targeted.
    #[error("{0} resolves to {1}, which is not a loopback address; refusing to send load there")]
    NotLoopback(String, SocketAddr),
    /// Network error.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// The server answered something unusable.
    #[error("POST /api/create on {0}: {1}")]
    Create(String, String),
}

/// One server: where to connect and what to put in `Host`/`Origin`.
#[derive(Clone, Debug)]
pub struct Target {
    /// `host:port` as given (used for `Host` and `Origin`).
    pub authority: String,
    /// The resolved loopback address.
    pub addr: SocketAddr,
}

impl Target {
    /// Parses and resolves `url`; refuses anything that is not loopback.
    pub async fn resolve(url: &str) -> Result<Self, TargetError> {
        let authority = authority_of(url).ok_or_else(|| TargetError::BadUrl(url.into()))?;
        let addr = tokio::net::lookup_host(authority.as_str())
            .await
            .map_err(|e| TargetError::Resolve(authority.clone(), e))?
            .next()
            .ok_or_else(|| TargetError::BadUrl(url.into()))?;
        if !addr.ip().is_loopback() {
            return Err(TargetError::NotLoopback(authority, addr));
        }
        Ok(Self { authority, addr })
    }

    /// `ws://authority/ws/{id}`.
    pub fn ws_url(&self, session: &SessionId) -> String {
        format!("ws://{}/ws/{}", self.authority, session)
    }

    /// The `Origin` a browser on this server would send.
    pub fn origin(&self) -> String {
        format!("http://{}", self.authority)
    }

    /// Creates a session showing `video` through `POST /api/create` and returns its id.
    pub async fn create_session(&self, video: &str) -> Result<SessionId, TargetError> {
        let body = format!("video={}", form_encode(video));
        let request = format!(
            "POST /api/create HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\n\
             Accept: application/json\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {len}\r\nConnection: close\r\n\r\n{body}",
            host = self.authority,
            origin = self.origin(),
            len = body.len(),
        );
        let io = |e| TargetError::Io(self.authority.clone(), e);
        let mut stream = TcpStream::connect(self.addr).await.map_err(io)?;
        stream.write_all(request.as_bytes()).await.map_err(io)?;
        let mut response = Vec::with_capacity(1024);
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await.map_err(io)?;
            if n == 0 {
                break;
            }
            response.extend_from_slice(&chunk[..n]);
            if response.len() > MAX_RESPONSE {
                return Err(self.create_error("response too large"));
            }
        }
        let response = parse_response(&response).map_err(|e| self.create_error(e))?;
        session_from_response(&response).map_err(|e| self.create_error(e))
    }

    fn create_error(&self, msg: impl Into<String>) -> TargetError {
        TargetError::Create(self.authority.clone(), msg.into())
    }
}

/// `host:port` of `http://host:port[/]`, `ws://host:port[/]` or `host:port`.
fn authority_of(url: &str) -> Option<String> {
    let rest = ["http://", "ws://"]
        .iter()
        .find_map(|s| url.strip_prefix(s))
        .unwrap_or(url);
    let rest = rest.trim_end_matches('/');
    let valid = !rest.is_empty()
        && !rest.contains(['/', '?', '#', '@', ' '])
        && rest
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
    valid.then(|| rest.to_owned())
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A parsed HTTP response.
#[derive(Debug, PartialEq)]
struct Response {
    status: u16,
    location: Option<String>,
    body: Vec<u8>,
}

/// Parses a complete HTTP/1.1 response (identity or chunked body).
fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| "headers are not UTF-8")?;
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or("bad status line")?;
    let mut location = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("location") {
            location = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && value.to_ascii_lowercase().contains("chunked")
        {
            chunked = true;
        }
    }
    if chunked {
        body = dechunk(&body)?;
    }
    Ok(Response {
        status,
        location,
        body,
    })
}

/// Decodes a chunked body.
fn dechunk(mut raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunk size")?;
        let size_text = std::str::from_utf8(&raw[..eol]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "bad chunk size")?;
        raw = &raw[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = raw.get(..size).ok_or("truncated chunk")?;
        out.extend_from_slice(chunk);
        raw = raw.get(size + 2..).ok_or("truncated chunk")?;
    }
}

/// The session id from the server function's answer: a JSON string body, or a redirect to
/// `/s/{id}`.
fn session_from_response(r: &Response) -> Result<SessionId, String> {
    if (200..300).contains(&r.status) {
        if let Ok(text) = serde_json::from_slice::<String>(&r.body) {
            if let Ok(id) = SessionId::parse(&text) {
                return Ok(id);
            }
        }
    }
    if let Some(id) = r
        .location
        .as_deref()
        .and_then(|l| l.rsplit_once("/s/"))
        .and_then(|(_, id)| SessionId::parse(id.trim_end_matches('/')).ok())
    {
        return Ok(id);
    }
    let body = String::from_utf8_lossy(&r.body);
    let body: String = body.chars().take(200).collect();
    Err(format!("status {}, no session id in {body:?}", r.status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_reduce_to_authorities() {
        assert_eq!(
            authority_of("http://127.0.0.1:3000").as_deref(),
            Some("127.0.0.1:3000")
        );
        assert_eq!(
            authority_of("ws://localhost:80/").as_deref(),
            Some("localhost:80")
        );
        assert_eq!(authority_of("127.0.0.1:1").as_deref(), Some("127.0.0.1:1"));
        assert_eq!(authority_of("[::1]:3000").as_deref(), Some("[::1]:3000"));
        for bad in [
            "",
            "http://",
            "127.0.0.1",
            "http://h:3000/x",
            "https://h:1x",
            "h:99999",
        ] {
            assert_eq!(authority_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn form_encoding() {
        assert_eq!(form_encode("dQw4w9WgXcQ"), "dQw4w9WgXcQ");
        assert_eq!(
            form_encode("https://youtu.be/x?t=1 2"),
            "https%3A%2F%2Fyoutu.be%2Fx%3Ft%3D1+2"
        );
    }

    #[test]
    fn session_from_json_or_redirect() {
        let json = parse_response(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 14\r\n\r\n\"abcDEF012345\"",
        )
        .unwrap();
        assert_eq!(
            session_from_response(&json).unwrap().as_str(),
            "abcDEF012345"
        );
        let chunked = parse_response(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\n\"abc\r\na\r\nDEF012345\"\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(chunked.body, b"\"abcDEF012345\"");
        assert_eq!(
            session_from_response(&chunked).unwrap().as_str(),
            "abcDEF012345"
        );
        let redirect =
            parse_response(b"HTTP/1.1 302 Found\r\nLocation: /s/abcDEF012345\r\n\r\n").unwrap();
        assert_eq!(
            session_from_response(&redirect).unwrap().as_str(),
            "abcDEF012345"
        );
        let err =
            parse_response(b"HTTP/1.1 500 Internal\r\ncontent-length: 4\r\n\r\nnope").unwrap();
        assert!(session_from_response(&err).unwrap_err().contains("500"));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
    }

    #[tokio::test]
    async fn refuses_non_loopback() {
        assert!(matches!(
            Target::resolve("http://192.0.2.1:80").await,
            Err(TargetError::NotLoopback(..))
        ));
        let t = Target::resolve("http://127.0.0.1:3000").await.unwrap();
        assert_eq!(t.origin(), "http://127.0.0.1:3000");
    }
}
