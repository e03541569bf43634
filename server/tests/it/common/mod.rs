//! Helpers for the integration tests: servers on port 0 over the memory store or a real Redis,
//! sessions, and a small WebSocket client speaking the real protocol.

#![allow(dead_code)]

pub mod proxy;
pub mod redis;
pub mod redis_cluster;

use futures::{SinkExt, StreamExt};
use server::settings::Settings;
use server::startup::TestServer;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use watchparty_core::ids::{SessionId, VideoId};
use watchparty_core::playback::PlaybackState;
use watchparty_core::protocol::{Cause, ClientMsg, ErrorCode, ServerMsg};

/// Runs each listed body as `memory::name` and `redis::name`.
#[allow(unused_macros)]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Store::Memory).await
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Store::Redis).await
                }
            )*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_stores;

/// How long a test waits for any expected message.
pub const WAIT: Duration = Duration::from_secs(5);

/// Which store a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    /// The in-memory store.
    Memory,
    /// A real Redis at `$REDIS_URL` (default `redis://127.0.0.1:6379`); tests fail without it.
    Redis,
}

/// `$REDIS_URL` or the local default.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Default settings on 127.0.0.1:0 for `store`, with the per-session change budget lifted.
///
/// The budget (`session_changes_per_sec`, 5/s with a burst of 20 by default) is a token bucket
/// in the store: a test that sends a few dozen commands within a second (the cross-instance
/// convergence test, the queue tests) would see `rate_limited` or `stale` depending on timing.
/// The tests of the budget itself (abuse.rs) set it explicitly.
pub fn settings(store: Store) -> Settings {
    let mut s = Settings {
        listen: "127.0.0.1:0".parse().expect("address"),
        session_changes_per_sec: 0.0,
        ..Settings::default()
    };
    if store == Store::Redis {
        s.redis_url = Some(redis_url());
    }
    s
}

/// Spawns a server with `settings`.
pub async fn spawn_with(settings: Settings) -> TestServer {
    // TEST_LOG=1 (with RUST_LOG) shows the servers' logs, for debugging a failing test.
    if std::env::var_os("TEST_LOG").is_some() {
        server::telemetry::init();
    }
    TestServer::spawn(settings)
        .await
        .expect("server starts (is Redis running for the redis tests?)")
}

/// Spawns a server with the default settings for `store`.
pub async fn spawn(store: Store) -> TestServer {
    spawn_with(settings(store)).await
}

/// A video id for tests.
pub fn video() -> VideoId {
    VideoId::parse("dQw4w9WgXcQ").expect("valid id")
}

/// Creates a session paused at `start` seconds.
pub async fn create(server: &TestServer, start: f64) -> SessionId {
    server
        .sessions
        .create(video(), start)
        .await
        .expect("session created")
}

/// Why connecting failed.
#[derive(Debug)]
pub enum ConnectError {
    /// The server answered the upgrade with this HTTP status.
    Status(u16),
    /// Anything else.
    Other(String),
}

/// Opens a viewer of `id` with a tiny TCP receive window that never reads: once the kernel
/// buffers toward it are full, the server's sends to it stall (the slow-viewer policy, 4008).
pub async fn never_reading_viewer(
    server: &TestServer,
    id: &SessionId,
) -> WebSocketStream<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(2048).expect("receive buffer");
    let stream = socket.connect(server.addr).await.expect("tcp connect");
    let (ws, _) = tokio_tungstenite::client_async(server.ws_url(&format!("/ws/{id}")), stream)
        .await
        .expect("slow viewer connects");
    ws
}

/// A viewer over a real WebSocket.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// From `Hello`.
    pub conn_id: u64,
    /// From `Hello`.
    pub hello_state: PlaybackState,
    /// From `Hello`.
    pub hello_server_time: f64,
    /// From `Hello`.
    pub hello_viewers: u32,
    /// The newest viewer count this client was told (`Hello`, then `Presence`).
    pub viewers: u32,
    /// Newest state received (Hello or State).
    pub state: PlaybackState,
    /// This viewer's public id, from `Hello`.
    pub kid: Option<watchparty_core::rights::Kid>,
    seq: u32,
}

/// Opens `/ws/{id}` presenting `key` (the subprotocols `wp1, k.<key>`, as the browser does).
pub async fn open_with_key(
    server: &TestServer,
    id: &str,
    key: &str,
) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>, ConnectError> {
    let mut req = server
        .ws_url(&format!("/ws/{id}"))
        .into_client_request()
        .map_err(|e| ConnectError::Other(e.to_string()))?;
    req.headers_mut().insert(
        "sec-websocket-protocol",
        format!("wp1, k.{key}").parse().expect("header value"),
    );
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(resp)) => Err(ConnectError::Status(resp.status().as_u16())),
        Err(e) => Err(ConnectError::Other(e.to_string())),
    }
}

/// Opens `/ws/{id}` with an optional `Origin` header, returning the raw stream.
pub async fn open(
    server: &TestServer,
    id: &str,
    origin: Option<&str>,
) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>, ConnectError> {
    let mut req = server
        .ws_url(&format!("/ws/{id}"))
        .into_client_request()
        .map_err(|e| ConnectError::Other(e.to_string()))?;
    if let Some(o) = origin {
        req.headers_mut()
            .insert("origin", o.parse().expect("header value"));
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(resp)) => Err(ConnectError::Status(resp.status().as_u16())),
        Err(e) => Err(ConnectError::Other(e.to_string())),
    }
}

impl Client {
    /// Connects and reads `Hello`.
    pub async fn connect(server: &TestServer, id: &SessionId) -> Client {
        let ws = open(server, id.as_str(), None)
            .await
            .expect("websocket connects");
        Self::from_stream(ws).await
    }

    /// Wraps an open stream and reads `Hello`.
    pub async fn from_stream(ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Client {
        let mut c = Client {
            ws,
            conn_id: 0,
            hello_state: PlaybackState::new(video(), 0.0, 0.0),
            hello_server_time: 0.0,
            hello_viewers: 0,
            viewers: 0,
            state: PlaybackState::new(video(), 0.0, 0.0),
            kid: None,
            seq: 0,
        };
        match c.recv().await {
            ServerMsg::Hello {
                conn_id,
                server_time,
                state,
                viewers,
                kid,
                ..
            } => {
                c.kid = kid;
                c.conn_id = conn_id;
                c.hello_server_time = server_time;
                c.hello_viewers = viewers;
                c.viewers = viewers;
                c.hello_state = state.clone();
                c.state = state;
            }
            other => panic!("expected hello, got {other:?}"),
        }
        c
    }

    /// Connects presenting `key` and reads `Hello`.
    pub async fn connect_as(server: &TestServer, id: &SessionId, key: &str) -> Client {
        let ws = open_with_key(server, id.as_str(), key)
            .await
            .expect("websocket connects");
        Self::from_stream(ws).await
    }

    /// The next sequence number for a message built by hand.
    pub fn next_seq(&mut self) -> u32 {
        self.seq += 1;
        self.seq
    }

    /// Sends a protocol message.
    pub async fn send(&mut self, msg: &ClientMsg) {
        let text = serde_json::to_string(msg).expect("serialise");
        self.send_raw(Message::text(text)).await;
    }

    /// Sends a raw frame (ignoring errors: the server may have closed already).
    pub async fn send_raw(&mut self, msg: Message) {
        let _ = self.ws.send(msg).await;
    }

    /// Sends a command based on the newest state this client saw; returns its seq.
    pub async fn command(&mut self, cmd: watchparty_core::playback::Command) -> u32 {
        let base = self.state.revision;
        self.command_on(base, cmd).await
    }

    /// Sends a command based on `base`; returns its seq.
    pub async fn command_on(&mut self, base: u64, cmd: watchparty_core::playback::Command) -> u32 {
        self.seq += 1;
        let seq = self.seq;
        self.send(&ClientMsg::from_command(seq, base, cmd)).await;
        seq
    }

    /// The next protocol message (WebSocket pings are answered and skipped). Panics on close.
    pub async fn recv(&mut self) -> ServerMsg {
        match self.try_recv(WAIT).await {
            Some(Ok(m)) => m,
            Some(Err(code)) => panic!("closed with {code:?} while waiting for a message"),
            None => panic!("no message within {WAIT:?}"),
        }
    }

    /// The next message within `wait`: `Some(Ok(msg))`, `Some(Err(close code))` when the
    /// connection closed, `None` on timeout.
    pub async fn try_recv(&mut self, wait: Duration) -> Option<Result<ServerMsg, Option<u16>>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            match next {
                Some(Ok(Message::Text(t))) => {
                    let msg: ServerMsg = serde_json::from_str(&t).expect("server sends valid JSON");
                    if let ServerMsg::Presence { viewers } = &msg {
                        self.viewers = *viewers;
                    }
                    if let ServerMsg::State { state, cause } = &msg {
                        // A new revision, or the acknowledgement of our own no-op command.
                        let own_ack = state.revision == self.state.revision
                            && cause.is_some_and(|c| c.conn_id == self.conn_id);
                        assert!(
                            state.revision > self.state.revision || own_ack,
                            "revision {} after {}: duplicate or out of order",
                            state.revision,
                            self.state.revision
                        );
                        self.state = state.clone();
                    }
                    return Some(Ok(msg));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Some(Err(frame.map(|f| u16::from(f.code))));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Some(Err(None)),
            }
        }
    }

    /// The next `State` (skipping presence and errors).
    pub async fn next_state(&mut self) -> (PlaybackState, Option<Cause>) {
        loop {
            if let ServerMsg::State { state, cause } = self.recv().await {
                return (state, cause);
            }
        }
    }

    /// The next `Error` (skipping presence and states).
    pub async fn next_error(&mut self) -> (ErrorCode, Option<u32>) {
        loop {
            if let ServerMsg::Error { code, seq, .. } = self.recv().await {
                return (code, seq);
            }
        }
    }

    /// Waits until this client has been told exactly `n` viewers (by `Hello` or a `Presence`;
    /// the server only sends counts that differ from what the connection was told).
    pub async fn presence(&mut self, n: u32) {
        if self.viewers == n {
            return;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.try_recv(left).await {
                Some(Ok(ServerMsg::Presence { viewers })) if viewers == n => return,
                Some(Ok(ServerMsg::Presence { viewers })) => seen.push(viewers),
                Some(Ok(_)) => {}
                other => panic!("no presence {n} (saw {seen:?}), got {other:?}"),
            }
        }
    }

    /// Reads until the server closes; returns the close code.
    pub async fn closed(&mut self, wait: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.try_recv(left).await {
                Some(Ok(_)) => continue,
                Some(Err(code)) => return code,
                None => panic!("connection not closed within {wait:?}"),
            }
        }
    }

    /// Reads everything until the connection is quiet for `quiet`; returns the messages.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<ServerMsg> {
        let mut out = Vec::new();
        while let Some(Ok(m)) = self.try_recv(quiet).await {
            out.push(m);
        }
        out
    }

    /// Sends a clock ping and returns the pong's `(t0, t1, t2)`.
    pub async fn ping(&mut self, t0: f64) -> (f64, f64, f64) {
        self.send(&ClientMsg::Ping { t0 }).await;
        loop {
            if let ServerMsg::Pong { t0, t1, t2 } = self.recv().await {
                return (t0, t1, t2);
            }
        }
    }
}

/// Milliseconds since the Unix epoch from the system clock.
pub fn wall_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// `GET path` over plain HTTP/1.1 (blocking; call from `spawn_blocking`); the status code.
pub fn http_status(addr: std::net::SocketAddr, path: &str) -> u16 {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return 0;
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    if write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .is_err()
    {
        return 0;
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}
