//! One simulated viewer: one tokio task, one WebSocket with small buffers, speaking
//! `watchparty_core::protocol`. A viewer records when each broadcast of its session's sender arrives; the
//! session's sender (its first viewer) also sends the paced, open-loop commands; with
//! `--ping-interval-ms` every viewer also measures `Ping`→`Pong` round trips.

use crate::clock;
use crate::stats::Receipts;
use crate::target::Target;
use futures::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{header::ORIGIN, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use watchparty_core::ids::SessionId;
use watchparty_core::protocol::{Cause, ClientMsg, ConnId, ServerMsg};

/// How long a connection may take from TCP connect to `Hello`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a polite close may take at the end.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Server error messages kept per connection.
const KEEP_ERRORS: usize = 4;

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

/// Sleeps until `at`, or forever when `None`.
async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Runs one connection until [`Phase::Stop`].
pub async fn run(
    spec: Spec,
    mut phase: watch::Receiver<Phase>,
    counters: Arc<Counters>,
) -> Outcome {
    let commands = spec.session.sent.len() as u32;
    let mut out = Outcome {
        url: spec.url,
        session: spec.session.index,
        sender: spec.sender,
        receipts: Receipts::new(commands),
        ..Outcome::default()
    };
    let started = Instant::now();
    let connected = tokio::time::timeout(CONNECT_TIMEOUT, connect(&spec)).await;
    let (mut ws, conn_id, revision) = match connected {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return failed(out, e, &counters),
        Err(_) => return failed(out, "timed out before hello".into(), &counters),
    };
    out.connect_us = Some(started.elapsed().as_micros() as u64);
    out.receipts.observe_revision(revision);
    if spec.sender {
        spec.session.sender_conn.store(conn_id, Relaxed);
    }
    spec.session.live.fetch_add(1, Relaxed);
    counters.connected.fetch_add(1, Relaxed);

    // The sender predicts the revision each command is based on (it is the only writer),
    // so its schedule never waits for a response: open loop.
    let mut next_base = revision;
    let mut seq: u32 = 0;
    let mut schedule_start: Option<Instant> = None;
    let mut pings_sent: u32 = 0;
    let ping_offset = spec.ping.map(|p| {
        let ms = p.as_millis().max(1) as u64;
        Duration::from_millis((spec.index as u64).wrapping_mul(7919) % ms)
    });
    let status_offset = spec.status.map(|p| {
        let ms = p.as_millis().max(1) as u64;
        Duration::from_millis((spec.index as u64).wrapping_mul(7919) % ms)
    });
    let mut stopping = false;

    loop {
        let next_status = match (schedule_start, spec.status, status_offset) {
            (Some(s), Some(p), Some(o)) => Some(s + o + p * out.statuses_sent as u32),
            _ => None,
        };
        let next_cmd = match schedule_start {
            Some(s) if spec.sender && seq < commands => Some(s + spec.offset + spec.interval * seq),
            _ => None,
        };
        let next_ping = match (schedule_start, spec.ping, ping_offset) {
            (Some(s), Some(p), Some(o)) => Some(s + o + p * pings_sent),
            _ => None,
        };
        tokio::select! {
            biased;
            changed = phase.changed() => {
                let now = if changed.is_err() { Phase::Stop } else { *phase.borrow_and_update() };
                match now {
                    Phase::Stop => { stopping = true; break; }
                    Phase::Commands(s) => schedule_start = Some(s),
                    Phase::Connect => {}
                }
            }
            _ = sleep_opt(next_cmd) => {
                let Some(scheduled) = next_cmd else { continue };
                seq += 1;
                let msg = ClientMsg::Seek {
                    seq,
                    base_revision: next_base,
                    // Distinct positions, so no seek is a duplicate of the state.
                    position: f64::from(seq) * 1.25,
                };
                next_base += 1;
                let text = serde_json::to_string(&msg).unwrap_or_default();
                let now = Instant::now();
                out.send_lag_max_us = out.send_lag_max_us.max(
                    now.saturating_duration_since(scheduled).as_micros() as u64);
                if let Some(slot) = spec.session.sent.get(seq as usize - 1) {
                    slot.store(clock::micros_at(now.into_std()) + 1, Relaxed);
                }
                counters.sent.fetch_add(1, Relaxed);
                if let Err(e) = ws.send(Message::text(text)).await {
                    out.disconnect = Some(format!("send: {e}"));
                    break;
                }
            }
            _ = sleep_opt(next_status) => {
                out.statuses_sent += 1;
                let status = if out.statuses_sent % 2 == 1 {
                    watchparty_core::health::Health::in_sync(0)
                } else {
                    watchparty_core::health::Health::Buffering
                };
                let text = serde_json::to_string(&ClientMsg::Status { status }).unwrap_or_default();
                if let Err(e) = ws.send(Message::text(text)).await {
                    out.disconnect = Some(format!("send: {e}"));
                    break;
                }
            }
            _ = sleep_opt(next_ping) => {
                pings_sent += 1;
                let t0 = clock::now_us() as f64 / 1000.0;
                let text = serde_json::to_string(&ClientMsg::Ping { t0 }).unwrap_or_default();
                if let Err(e) = ws.send(Message::text(text)).await {
                    out.disconnect = Some(format!("send: {e}"));
                    break;
                }
            }
            msg = ws.next() => {
                let at = clock::now_us();
                match msg {
                    Some(Ok(Message::Text(t))) => {
                        handle_text(&t, at, &spec, &mut out, &counters, &mut next_base);
                    }
                    Some(Ok(Message::Close(f))) => {
                        out.disconnect = Some(match f {
                            Some(f) => format!("closed by server: {} {}", u16::from(f.code), f.reason),
                            None => "closed by server".into(),
                        });
                        break;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => { out.disconnect = Some(format!("read: {e}")); break; }
                    None => { out.disconnect = Some("connection ended".into()); break; }
                }
            }
        }
    }
    spec.session.live.fetch_sub(1, Relaxed);
    if stopping {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.close(None)).await;
    } else {
        counters.disconnected.fetch_add(1, Relaxed);
    }
    out
}

fn failed(mut out: Outcome, e: String, counters: &Counters) -> Outcome {
    counters.failed.fetch_add(1, Relaxed);
    out.connect_error = Some(e);
    out
}

/// Handles one text frame received at `at` µs.
fn handle_text(
    text: &str,
    at: u64,
    spec: &Spec,
    out: &mut Outcome,
    counters: &Counters,
    next_base: &mut u64,
) {
    // Presence updates can be frequent while thousands join: skip them without parsing.
    if text.starts_with(r#"{"type":"presence""#) {
        return;
    }
    // The hot path: a `State` broadcast. Only the revision and the cause matter here, so
    // skip building the full state (the serde tag buffering of `ServerMsg` costs the most).
    if text.starts_with(r#"{"type":"state""#) {
        if let Ok(s) = serde_json::from_str::<StateLite>(text) {
            on_state(
                s.state.revision,
                s.cause,
                at,
                spec,
                out,
                counters,
                next_base,
            );
            return;
        }
    }
    match serde_json::from_str::<ServerMsg>(text) {
        Ok(ServerMsg::State { state, cause }) => {
            on_state(state.revision, cause, at, spec, out, counters, next_base);
        }
        Ok(ServerMsg::Pong { t0, .. }) => {
            let sent = (t0 * 1000.0).round();
            if sent.is_finite() && sent >= 0.0 {
                out.pings_us.push(at.saturating_sub(sent as u64));
                counters.pongs.fetch_add(1, Relaxed);
            } else {
                out.bad_messages += 1;
            }
        }
        Ok(ServerMsg::Error { code, message, seq }) => {
            out.error_count += 1;
            counters.server_errors.fetch_add(1, Relaxed);
            if out.errors.len() < KEEP_ERRORS {
                out.errors
                    .push(format!("{code:?} (seq {seq:?}): {message}"));
            }
            // A rejected command did not move the revision: continue from the latest one
            // seen (the `State` that follows a stale rejection carries it).
            if spec.sender && seq.is_some() {
                *next_base = out.receipts.last_revision();
            }
        }
        // Chat and reactions are not part of the load profile; history comes once per join.
        Ok(
            ServerMsg::Presence { .. }
            | ServerMsg::History { .. }
            | ServerMsg::Chat(_)
            | ServerMsg::ChatDeleted { .. }
            | ServerMsg::Reaction(_),
        ) => {}
        Ok(ServerMsg::Roster { .. }) => {
            out.roster_msgs += 1;
            out.roster_bytes += text.len() as u64;
        }
        Ok(ServerMsg::Hello { .. }) => out.bad_messages += 1,
        Err(_) => out.bad_messages += 1,
    }
}

/// The parts of a `State` message the load generator needs (same wire format as
/// [`ServerMsg::State`]; the other fields are skipped, not buffered).
#[derive(serde::Deserialize)]
struct StateLite {
    state: RevisionOnly,
    cause: Option<Cause>,
}

#[derive(serde::Deserialize)]
struct RevisionOnly {
    revision: u64,
}

/// Records a `State` with `revision` and `cause` received at `at` µs.
fn on_state(
    revision: u64,
    cause: Option<Cause>,
    at: u64,
    spec: &Spec,
    out: &mut Outcome,
    counters: &Counters,
    next_base: &mut u64,
) {
    // Never base a command on less than a revision already seen.
    *next_base = (*next_base).max(revision);
    let sender = spec.session.sender_conn.load(Relaxed);
    match cause {
        Some(c) if sender != 0 && c.conn_id == sender => {
            if out.receipts.record(c.seq, revision, at) == crate::stats::Recorded::First {
                counters.received.fetch_add(1, Relaxed);
            }
        }
        _ => out.receipts.observe_revision(revision),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use watchparty_core::ids::VideoId;
    use watchparty_core::playback::PlaybackState;

    #[test]
    fn fast_paths_match_the_real_wire_format() {
        let state = PlaybackState {
            revision: 42,
            ..PlaybackState::new(VideoId::parse("dQw4w9WgXcQ").unwrap(), 3.0, 1.0)
        };
        let msg = ServerMsg::State {
            state,
            cause: Some(Cause { conn_id: 7, seq: 9 }),
        };
        let text = serde_json::to_string(&msg).unwrap();
        assert!(text.starts_with(r#"{"type":"state""#), "{text}");
        let lite: StateLite = serde_json::from_str(&text).unwrap();
        assert_eq!(lite.state.revision, 42);
        assert_eq!(lite.cause, Some(Cause { conn_id: 7, seq: 9 }));
        let presence = serde_json::to_string(&ServerMsg::Presence { viewers: 3 }).unwrap();
        assert!(presence.starts_with(r#"{"type":"presence""#), "{presence}");
    }
}
