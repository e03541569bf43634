//! The servers under test: parsing `--url`, the loopback-only rule, and creating sessions
//! through the real server function `POST /api/create` (with `reqwest`, already in the
//! workspace: plain HTTP to loopback, no TLS, no proxy, redirects not followed).

use std::net::SocketAddr;
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
    /// Network error (the innermost cause, e.g. "Connection refused (os error 111)").
    #[error("{0}: {1}")]
    Io(String, String),
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
    /// The HTTP client for `POST /api/create`, pinned to `addr`.
    http: reqwest::Client,
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
        let host = authority
            .rsplit_once(':')
            .map_or(authority.as_str(), |(h, _)| h);
        let http = reqwest::Client::builder()
            // The loopback address checked above, not a second lookup that could differ.
            .resolve(host, addr)
            .no_proxy()
            // A redirect to `/s/{id}` carries the id: read it, do not follow it.
            .redirect(reqwest::redirect::Policy::none())
            // One connection per request, closed after it, as a form post from a page would.
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| TargetError::Io(authority.clone(), root_cause(&e)))?;
        Ok(Self {
            authority,
            addr,
            http,
        })
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
        let io = |e: reqwest::Error| TargetError::Io(self.authority.clone(), root_cause(&e));
        let mut answer = self
            .http
            .post(format!("{}/api/create", self.origin()))
            .header(reqwest::header::ORIGIN, self.origin())
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[("video", video)])
            .send()
            .await
            .map_err(io)?;
        let location = answer
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut response = Response {
            status: answer.status().as_u16(),
            location,
            body: Vec::with_capacity(1024),
        };
        while let Some(chunk) = answer.chunk().await.map_err(io)? {
            response.body.extend_from_slice(&chunk);
            if response.body.len() > MAX_RESPONSE {
                return Err(self.create_error("response too large"));
            }
        }
        session_from_response(&response).map_err(|e| self.create_error(e))
    }

    fn create_error(&self, msg: impl Into<String>) -> TargetError {
        TargetError::Create(self.authority.clone(), msg.into())
    }
}

/// The innermost cause of `e`: reqwest wraps the `io::Error` a failed connection gives in two
/// layers ("error sending request for url", "client error (Connect)").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
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

/// What `POST /api/create` answered: status, `Location` and body.
#[derive(Debug, PartialEq)]
struct Response {
    status: u16,
    location: Option<String>,
    body: Vec<u8>,
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

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
    fn session_from_json_or_redirect() {
        let response = |status, location: Option<&str>, body: &[u8]| Response {
            status,
            location: location.map(str::to_owned),
            body: body.to_vec(),
        };
        let json = response(200, None, b"\"abcDEF012345\"");
        assert_eq!(
            session_from_response(&json).unwrap().as_str(),
            "abcDEF012345"
        );
        let redirect = response(302, Some("/s/abcDEF012345"), b"");
        assert_eq!(
            session_from_response(&redirect).unwrap().as_str(),
            "abcDEF012345"
        );
        let err = response(500, None, b"nope");
        assert!(session_from_response(&err).unwrap_err().contains("500"));
    }

    /// Answers one request on a loopback port with `answer`; returns the target and the request
    /// as received (head and body).
    async fn serve_once(answer: &'static [u8]) -> (Target, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            // Head, then `content-length` bytes of body.
            let complete = |r: &[u8]| {
                let text = String::from_utf8_lossy(r);
                text.split_once("\r\n\r\n").is_some_and(|(head, body)| {
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .map_or(0, |n| n.parse().unwrap());
                    body.len() >= len
                })
            };
            while !complete(&request) {
                let n = s.read(&mut buf).await.unwrap();
                assert!(n > 0, "request cut short");
                request.extend_from_slice(&buf[..n]);
            }
            s.write_all(answer).await.unwrap();
            String::from_utf8(request).unwrap()
        });
        (Target::resolve(&url).await.unwrap(), server)
    }

    #[tokio::test]
    async fn creates_through_the_server_function() {
        let (t, server) = serve_once(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 14\r\n\r\n\"abcDEF012345\"",
        )
        .await;
        let id = t.create_session("https://youtu.be/x?t=1 2").await.unwrap();
        assert_eq!(id.as_str(), "abcDEF012345");
        let request = server.await.unwrap();
        assert!(
            request.starts_with("POST /api/create HTTP/1.1\r\n"),
            "{request}"
        );
        for line in [
            format!("host: {}", t.authority),
            format!("origin: {}", t.origin()),
            "accept: application/json".into(),
            "content-type: application/x-www-form-urlencoded".into(),
        ] {
            assert!(
                request.contains(&format!("\r\n{line}\r\n")),
                "{line}: {request}"
            );
        }
        assert!(
            request.ends_with("\r\n\r\nvideo=https%3A%2F%2Fyoutu.be%2Fx%3Ft%3D1+2"),
            "{request}"
        );
    }

    #[tokio::test]
    async fn reads_chunked_bodies_and_redirects() {
        let (t, _s) = serve_once(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\n\"abc\r\na\r\nDEF012345\"\r\n0\r\n\r\n",
        )
        .await;
        assert_eq!(
            t.create_session("v").await.unwrap().as_str(),
            "abcDEF012345"
        );
        // The redirect is read, not followed (nothing listens for a second request).
        let (t, _s) = serve_once(
            b"HTTP/1.1 302 Found\r\nLocation: /s/abcDEF012345\r\ncontent-length: 0\r\n\r\n",
        )
        .await;
        assert_eq!(
            t.create_session("v").await.unwrap().as_str(),
            "abcDEF012345"
        );
    }

    #[tokio::test]
    async fn reports_server_and_network_errors() {
        let (t, _s) = serve_once(b"HTTP/1.1 500 Internal\r\ncontent-length: 4\r\n\r\nnope").await;
        let err = t.create_session("v").await.unwrap_err().to_string();
        assert!(err.starts_with("POST /api/create on 127.0.0.1:"), "{err}");
        assert!(
            err.ends_with(": status 500, no session id in \"nope\""),
            "{err}"
        );
        // Nothing listening: the io error itself, not reqwest's wrappers.
        let port = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let t = Target::resolve(&format!("127.0.0.1:{port}")).await.unwrap();
        let err = t.create_session("v").await.unwrap_err();
        assert!(matches!(err, TargetError::Io(..)), "{err:?}");
        assert!(
            err.to_string()
                .starts_with(&format!("127.0.0.1:{port}: Connection refused")),
            "{err}"
        );
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
