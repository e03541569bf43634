//! One simulated viewer: one tokio task, one WebSocket with small buffers, speaking
//! `watchparty_core::protocol`. A viewer records when each broadcast of its session's sender arrives; the
//! session's sender (its first viewer) also sends the paced, open-loop commands; with
//! `--ping-interval-ms` every viewer also measures `Ping`→`Pong` round trips.
//!
//! This module holds the shared types, connecting and the connection's loop; [`send`] what a
//! viewer sends and when, [`receive`] what it makes of what arrives.

mod receive;
mod send;

use crate::clock;
use crate::stats::Receipts;
use crate::target::Target;
use futures::StreamExt;
use receive::receive;
use send::{send_command, send_ping, send_status, sleep_opt, Schedule};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{header::ORIGIN, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use watchparty_core::ids::SessionId;
use watchparty_core::protocol::{ConnId, ServerMsg};

/// How long a connection may take from TCP connect to `Hello`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a polite close may take at the end.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// The phase of the run, broadcast to every connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Connections are being opened; nothing is sent.
    Connect,
    /// Commands (and pings) run on a schedule starting at this instant.
    Commands(Instant),
    /// Close and report.
    Stop,
}

/// Live counters for the progress line (all connections together).
#[derive(Debug, Default)]
pub struct Counters {
    /// Connections that received `Hello`.
    pub connected: AtomicU64,
    /// Connections that failed before `Hello`.
    pub failed: AtomicU64,
    /// Connections lost after `Hello`, before the end.
    pub disconnected: AtomicU64,
    /// Commands sent.
    pub sent: AtomicU64,
    /// First receipts of sender broadcasts.
    pub received: AtomicU64,
    /// Pongs received.
    pub pongs: AtomicU64,
    /// `Error` messages from the server.
    pub server_errors: AtomicU64,
}

/// What all connections of one session share.
#[derive(Debug)]
pub struct SessionShared {
    /// The session.
    pub id: SessionId,
    /// Index of the session in the run.
    pub index: usize,
    /// `sent[seq - 1]`: send time of command `seq` in µs + 1 (0: not sent).
    pub sent: Vec<AtomicU64>,
    /// The sender's connection id (0 until its `Hello`).
    pub sender_conn: AtomicU64,
    /// Viewers of this session currently connected.
    pub live: AtomicU64,
}

impl SessionShared {
    /// A session that will carry `commands` commands.
    pub fn new(id: SessionId, index: usize, commands: u32) -> Self {
        Self {
            id,
            index,
            sent: (0..commands).map(|_| AtomicU64::new(0)).collect(),
            sender_conn: AtomicU64::new(0),
            live: AtomicU64::new(0),
        }
    }

    /// Send times, µs, indexed by `seq - 1`.
    pub fn send_times(&self) -> Vec<Option<u64>> {
        self.sent
            .iter()
            .map(|t| t.load(Relaxed).checked_sub(1))
            .collect()
    }

    /// Commands sent so far.
    pub fn sent_count(&self) -> u64 {
        self.sent.iter().filter(|t| t.load(Relaxed) != 0).count() as u64
    }
}

/// What one connection does.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Index among all connections.
    pub index: usize,
    /// Index of its server in `--url` order.
    pub url: usize,
    /// Its server.
    pub target: Arc<Target>,
    /// Its session.
    pub session: Arc<SessionShared>,
    /// Sends the session's commands.
    pub sender: bool,
    /// Offset of this sender's schedule inside the interval (spreads many senders).
    pub offset: Duration,
    /// Time between commands.
    pub interval: Duration,
    /// Ping period.
    pub ping: Option<Duration>,
    /// Health-change (`status`) period.
    pub status: Option<Duration>,
}

/// What one connection observed.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Index of its server.
    pub url: usize,
    /// Index of its session.
    pub session: usize,
    /// It was its session's sender.
    pub sender: bool,
    /// TCP connect → `Hello`, µs (`None`: failed).
    pub connect_us: Option<u64>,
    /// Why connecting failed.
    pub connect_error: Option<String>,
    /// Why it ended before the run did.
    pub disconnect: Option<String>,
    /// Broadcasts of the sender's commands.
    pub receipts: Receipts,
    /// Ping round trips, µs.
    pub pings_us: Vec<u64>,
    /// Server `Error` messages (the first few).
    pub errors: Vec<String>,
    /// Number of server `Error` messages.
    pub error_count: u64,
    /// Sender only: largest delay of a send behind its schedule, µs.
    pub send_lag_max_us: u64,
    /// Messages that were not understood.
    pub bad_messages: u64,
    /// `roster` messages received (who is here).
    pub roster_msgs: u64,
    /// Their bytes.
    pub roster_bytes: u64,
    /// `status` reports sent.
    pub statuses_sent: u64,
}

/// Small buffers: a viewer receives ~300-byte frames and sends tiny ones.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(Some(64 * 1024))
        .max_frame_size(Some(64 * 1024))
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens the WebSocket and waits for `Hello`.
async fn connect(spec: &Spec) -> Result<(Ws, ConnId, u64), String> {
    let mut req = spec
        .target
        .ws_url(&spec.session.id)
        .into_client_request()
        .map_err(|e| e.to_string())?;
    let origin = HeaderValue::from_str(&spec.target.origin()).map_err(|e| e.to_string())?;
    req.headers_mut().insert(ORIGIN, origin);
    let tcp = TcpStream::connect(spec.target.addr)
        .await
        .map_err(|e| format!("tcp: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(
        req,
        MaybeTlsStream::Plain(tcp),
        Some(ws_config()),
    )
    .await
    .map_err(|e| format!("upgrade: {e}"))?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                return match serde_json::from_str::<ServerMsg>(&t) {
                    Ok(ServerMsg::Hello { conn_id, state, .. }) => {
                        Ok((ws, conn_id, state.revision))
                    }
                    Ok(other) => Err(format!("expected hello, got {other:?}")),
                    Err(e) => Err(format!("bad first message: {e}")),
                };
            }
            Some(Ok(Message::Close(f))) => return Err(format!("closed before hello: {f:?}")),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("before hello: {e}")),
            None => return Err("closed before hello".into()),
        }
    }
}

/// Runs one connection until [`Phase::Stop`].
pub async fn run(
    spec: Spec,
    mut phase: watch::Receiver<Phase>,
    counters: Arc<Counters>,
) -> Outcome {
    let mut out = Outcome {
        url: spec.url,
        session: spec.session.index,
        sender: spec.sender,
        receipts: Receipts::new(spec.session.sent.len() as u32),
        ..Outcome::default()
    };
    let (mut ws, revision) = match join(&spec, &counters, &mut out).await {
        Ok(joined) => joined,
        Err(e) => return failed(out, e, &counters),
    };
    let stopping = exchange(&mut ws, &spec, &mut phase, &counters, &mut out, revision).await;
    spec.session.live.fetch_sub(1, Relaxed);
    if stopping {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.close(None)).await;
    } else {
        counters.disconnected.fetch_add(1, Relaxed);
    }
    out
}

/// Connects within [`CONNECT_TIMEOUT`] and counts the viewer in: its connect time, the
/// `Hello` revision, its session's sender and live viewers. Returns the socket and that
/// revision, or why connecting failed.
async fn join(spec: &Spec, counters: &Counters, out: &mut Outcome) -> Result<(Ws, u64), String> {
    let started = Instant::now();
    let (ws, conn_id, revision) = tokio::time::timeout(CONNECT_TIMEOUT, connect(spec))
        .await
        .map_err(|_| "timed out before hello".to_string())??;
    out.connect_us = Some(started.elapsed().as_micros() as u64);
    out.receipts.observe_revision(revision);
    if spec.sender {
        spec.session.sender_conn.store(conn_id, Relaxed);
    }
    spec.session.live.fetch_add(1, Relaxed);
    counters.connected.fetch_add(1, Relaxed);
    Ok((ws, revision))
}

/// The connected viewer's life: follows the phase, sends what its [`Schedule`] makes due and
/// records what arrives. Returns `true` at [`Phase::Stop`], `false` when the connection ended
/// first (the reason is in `out.disconnect`).
async fn exchange(
    ws: &mut Ws,
    spec: &Spec,
    phase: &mut watch::Receiver<Phase>,
    counters: &Counters,
    out: &mut Outcome,
    revision: u64,
) -> bool {
    let mut sched = Schedule::new(spec, revision);
    loop {
        let next_status = sched.next_status(spec, out.statuses_sent);
        let next_cmd = sched.next_command(spec);
        let next_ping = sched.next_ping(spec);
        let step = tokio::select! {
            biased;
            changed = phase.changed() => {
                let now = if changed.is_err() { Phase::Stop } else { *phase.borrow_and_update() };
                match now {
                    Phase::Stop => return true,
                    Phase::Commands(s) => sched.start = Some(s),
                    Phase::Connect => {}
                }
                Ok(())
            }
            _ = sleep_opt(next_cmd) => {
                let Some(scheduled) = next_cmd else { continue };
                send_command(ws, spec, counters, out, &mut sched, scheduled).await
            }
            _ = sleep_opt(next_status) => send_status(ws, out).await,
            _ = sleep_opt(next_ping) => {
                sched.pings_sent += 1;
                send_ping(ws).await
            }
            msg = ws.next() => {
                let at = clock::now_us();
                receive(msg, at, spec, out, counters, &mut sched.next_base)
            }
        };
        if let Err(reason) = step {
            out.disconnect = Some(reason);
            return false;
        }
    }
}

/// Counts a connection that never got `Hello`.
fn failed(mut out: Outcome, e: String, counters: &Counters) -> Outcome {
    counters.failed.fetch_add(1, Relaxed);
    out.connect_error = Some(e);
    out
}
