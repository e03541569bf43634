//! The WebSocket endpoint `/ws/{id}`: checks, upgrade, and one task per connection.
//!
//! Before upgrading: the `Origin` must be allowed (else 403), the id valid and the session
//! known (else 404), the store reachable (else 503). The socket gets small buffers (4 KiB) and
//! frames are capped at `max_frame_bytes`.
//!
//! The connection task `select!`s over the socket, the hub's broadcast frames, the heartbeat
//! and shutdown; it owns no buffers besides the socket's own. It sends `Hello` first, answers
//! `Ping` with `Pong` straight away (no store round trip), applies commands through
//! [`Sessions::apply`] and forwards broadcast frames (each revision once, in order).
//! See `docs/protocol.md` for the error and close codes.

use crate::hub::Frame;
use crate::limits::{origin_allowed, TokenBucket};
use crate::metrics::{CommandKind, CommandOutcome, ReportGate, FANOUT_SAMPLE};
use crate::sessions::{random_id, Outcome, Rejection, Sessions};
use crate::state::AppState;
use app::ids::SessionId;
use app::protocol::{close, Cause, ClientMsg, ConnId, ErrorCode, ServerMsg};
use app::rights::Kid;
use axum::extract::ws::{
    rejection::WebSocketUpgradeRejection, CloseFrame, Message, Utf8Bytes, WebSocket,
    WebSocketUpgrade,
};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use tracing::Instrument;

/// Socket read/write buffer sizes (axum's default is 128 KiB each).
const BUFFER_BYTES: usize = 4096;
/// A send that does not complete within this time means the viewer stalled: disconnect it.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// Consecutive rate-limited messages after which the connection is closed (1008).
const FLOOD_STRIKES: u32 = 40;
/// All messages (pings and junk included) may arrive this many times faster than commands.
const MESSAGE_RATE_FACTOR: f64 = 5.0;
/// How long the closing handshake may take.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// After a read error, how long to wait before dropping the socket after the Close.
const CLOSE_GRACE: Duration = Duration::from_millis(500);
/// Longest error message text sent back.
const MAX_ERROR_TEXT: usize = 200;
/// Commands queued behind the one being applied (beyond: `rate_limited`).
const MAX_QUEUED_COMMANDS: usize = 4;

/// A command being applied: `(seq, cause, kind, result)` when done.
type InFlight = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = (u32, Cause, CommandKind, Result<Outcome, Rejection>)>
            + Send,
    >,
>;

/// `GET /ws/{id}` (any method reaches it; only a valid WebSocket upgrade proceeds).
pub async fn upgrade(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("invalid"));
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if !origin_allowed(origin, host, &app.settings.allowed_origins) {
        crate::telemetry::sampled_info("websocket origin rejected");
        tracing::debug!(?origin, ?host, "websocket origin rejected");
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    let Ok(id) = SessionId::parse(&id) else {
        return (StatusCode::NOT_FOUND, "no such session").into_response();
    };
    let sessions = app.sessions.clone();
    let ws = match ws {
        Ok(ws) => ws,
        // Not a WebSocket request: still a 404 for unknown sessions.
        Err(rejection) => {
            return match sessions.snapshot(&id).await {
                Ok(None) => (StatusCode::NOT_FOUND, "no such session").into_response(),
                _ => rejection.into_response(),
            }
        }
    };
    // Sockets per session per client address (issue 11: one client filling a room).
    let addr = crate::limits::client_addr(peer, &headers, &app.settings.client_ip_header);
    let Some(place) = app
        .sockets
        .try_acquire((id.clone(), addr), app.settings.max_sockets_per_address)
    else {
        crate::telemetry::sampled_info("websocket refused: too many sockets from one address");
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "too many connections to this session from your address",
        )
            .into_response();
    };
    // Upgrades to ids with no hub here: check existence with one store read before building a
    // hub (which subscribes, loads and unsubscribes).
    if sessions.hubs().get(&id).is_none() {
        match sessions.exists(&id).await {
            Ok(true) => {}
            Ok(false) => return (StatusCode::NOT_FOUND, "no such session").into_response(),
            Err(e) => {
                return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response();
            }
        }
    }
    let Some((conn_guard, shutdown)) = sessions.register_connection() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    };
    let membership = match sessions.join(&id).await {
        Ok(m) => m,
        Err(crate::hub::JoinError::UnknownSession) => {
            return (StatusCode::NOT_FOUND, "no such session").into_response()
        }
        Err(e) => {
            tracing::warn!(session = %id, error = %e, "join failed");
            return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response();
        }
    };
    // Who this is: the key offered as a subprotocol (see `crate::identity`).
    let kid = crate::identity::key_from_protocols(
        headers
            .get(header::SEC_WEBSOCKET_PROTOCOL)
            .and_then(|v| v.to_str().ok()),
    )
    .map(crate::identity::kid_of)
    .unwrap_or_else(crate::identity::random_kid);
    let max = app.settings.max_frame_bytes;
    ws.protocols([crate::identity::PROTOCOL])
        .read_buffer_size(BUFFER_BYTES)
        .write_buffer_size(BUFFER_BYTES)
        .max_write_buffer_size(BUFFER_BYTES * 64)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| {
            let conn_id = random_id();
            let span = tracing::info_span!("ws", session = %id, conn_id);
            async move {
                let conn = Conn {
                    sessions,
                    membership,
                    shutdown,
                    conn_id,
                    kid,
                    last_revision: 0,
                    last_viewers: 0,
                    name: None,
                    listed: None,
                };
                conn.run(socket).await;
                drop(conn_guard);
                drop(place);
            }
            .instrument(span)
        })
}

/// Why the connection loop ended.
enum End {
    /// Close with this code and reason.
    Close(u16, &'static str),
    /// The peer is gone or stalled: just drop the socket.
    Drop,
}

struct Conn {
    sessions: Arc<Sessions>,
    membership: crate::hub::Membership,
    shutdown: tokio::sync::watch::Receiver<bool>,
    conn_id: ConnId,
    /// The viewer's public id (from its key).
    kid: Kid,
    /// The newest revision this viewer has been sent (older frames are skipped).
    last_revision: u64,
    /// The viewer count this viewer was last told (unchanged counts are skipped).
    last_viewers: u32,
    /// The viewer's display name, once sent and valid.
    name: Option<String>,
    /// The viewer's entry in the room's list (removed when the connection ends).
    listed: Option<Listed>,
}

/// A viewer's entry in the room's list; dropping it removes the entry.
struct Listed {
    hub: Arc<crate::hub::Hub>,
    id: ConnId,
}

impl Drop for Listed {
    fn drop(&mut self) {
        self.hub.member_leave(self.id);
    }
}

fn text_of(msg: &ServerMsg) -> Utf8Bytes {
    // Plain data with string keys always serialises.
    Utf8Bytes::from(serde_json::to_string(msg).unwrap_or_default())
}

/// The close reason sent to a removed viewer.
const REMOVED_REASON: &str = "a host removed you from this watch party";

/// The error message answering a rejected command or message `seq`.
fn rejection_msg(rejection: &Rejection, seq: u32) -> ServerMsg {
    let code = match rejection {
        Rejection::Invalid(_) => ErrorCode::InvalidValue,
        Rejection::Stale { .. } => ErrorCode::Stale,
        Rejection::UnknownSession => ErrorCode::UnknownSession,
        Rejection::Unavailable(_) => ErrorCode::Unavailable,
        Rejection::RateLimited => ErrorCode::RateLimited,
        Rejection::Queue(app::queue::QueueError::UnknownItem(_)) | Rejection::NoSuchMessage => {
            ErrorCode::UnknownItem
        }
        Rejection::Queue(app::queue::QueueError::Full(_)) => ErrorCode::QueueFull,
        Rejection::Queue(app::queue::QueueError::InvalidStart) => ErrorCode::InvalidValue,
        Rejection::Forbidden(_) => ErrorCode::Forbidden,
        Rejection::Text(_) => ErrorCode::InvalidText,
    };
    error_msg(code, rejection.to_string(), Some(seq))
}

fn error_msg(code: ErrorCode, message: impl Into<String>, seq: Option<u32>) -> ServerMsg {
    let mut message = message.into();
    if message.len() > MAX_ERROR_TEXT {
        let mut cut = MAX_ERROR_TEXT;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
    }
    ServerMsg::Error { code, message, seq }
}

/// Sends one message, giving up after [`SEND_TIMEOUT`].
async fn send(socket: &mut WebSocket, msg: Message) -> Result<(), End> {
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(msg)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(End::Drop),
        Err(_) => {
            tracing::info!("send stalled; disconnecting slow viewer");
            Err(End::Close(close::TOO_SLOW, "too slow; reconnect to resync"))
        }
    }
}

impl Conn {
    async fn run(mut self, mut socket: WebSocket) {
        let end = self.serve(&mut socket).await;
        if let End::Close(code, reason) = end {
            self.sessions.metrics().close(code);
            tracing::debug!(code, reason, "closing websocket");
            let frame = CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            };
            // Complete the closing handshake: send Close, then read (and discard) until the
            // peer's Close. Closing with unread input would make the kernel reset the
            // connection, and the peer would never see the close code.
            let handshake = async {
                socket.send(Message::Close(Some(frame))).await.ok()?;
                loop {
                    match socket.recv().await {
                        Some(Ok(_)) => continue,
                        None => break,
                        Some(Err(_)) => {
                            // Unreadable input (e.g. the rest of an oversized frame): give the
                            // peer a moment to read the Close before the reset.
                            tokio::time::sleep(CLOSE_GRACE).await;
                            break;
                        }
                    }
                }
                Some(())
            };
            let _ = tokio::time::timeout(CLOSE_WAIT, handshake).await;
        }
    }

    async fn send_msg(&mut self, socket: &mut WebSocket, msg: &ServerMsg) -> Result<(), End> {
        if let ServerMsg::State { state, .. } | ServerMsg::Hello { state, .. } = msg {
            self.last_revision = self.last_revision.max(state.revision);
        }
        if let ServerMsg::Hello { viewers, .. } = msg {
            self.last_viewers = *viewers;
        }
        send(socket, Message::Text(text_of(msg))).await
    }

    async fn serve(&mut self, socket: &mut WebSocket) -> End {
        let settings = self.sessions.settings().clone();
        let hub = self.membership.hub().clone();
        let mut frames = hub.frames();
        let mut ended = hub.ended();
        let mut removed = hub.removed();
        let Some(state) = hub.latest() else {
            return End::Close(close::INTERNAL, "no state");
        };
        if state.rights.is_removed(&self.kid, self.sessions.now_ms()) {
            return End::Close(close::REMOVED, REMOVED_REASON);
        }
        let hello = ServerMsg::Hello {
            conn_id: self.conn_id,
            session_id: hub.id().clone(),
            server_time: self.sessions.now_ms(),
            state,
            viewers: hub.viewers(),
            kid: Some(self.kid.clone()),
        };
        if let Err(end) = self.send_msg(socket, &hello).await {
            return end;
        }
        // Who is here: the whole list now, deltas through the hub's frames (a delta older
        // than this list carries a lower version and is ignored by the client).
        hub.member_join(
            self.conn_id,
            self.sessions.now_ms().max(0.0) as u64,
            Some(self.kid.clone()),
        );
        self.listed = Some(Listed {
            hub: hub.clone(),
            id: self.conn_id,
        });
        if let Err(end) = send(socket, Message::Text(hub.roster_full())).await {
            return end;
        }
        // The kept chat lines and reactions (built once per change by the hub).
        if let Err(end) = send(socket, Message::Text(hub.history())).await {
            return end;
        }
        tracing::debug!("viewer joined");

        // Rate limits run on the monotonic clock (never slewed towards Redis' clock).
        let now = self.sessions.monotonic_ms();
        let mut commands = TokenBucket::new(settings.commands_per_sec, settings.command_burst, now);
        let mut messages = TokenBucket::new(
            settings.commands_per_sec * MESSAGE_RATE_FACTOR,
            settings
                .command_burst
                .saturating_mul(MESSAGE_RATE_FACTOR as u32),
            now,
        );
        let mut chat_bucket = TokenBucket::new(settings.chat_per_sec, settings.chat_burst, now);
        let mut react_bucket =
            TokenBucket::new(settings.reactions_per_sec, settings.reaction_burst, now);
        let mut strikes = 0u32;
        let beat = Duration::from_secs(settings.heartbeat_secs.max(1));
        let silence = Duration::from_secs(settings.heartbeat_timeout_secs.max(1));
        let mut heartbeat = tokio::time::interval_at(Instant::now() + beat, beat);
        let mut last_seen = Instant::now();
        // One command is applied at a time, concurrently with the loop, so pings are answered
        // and broadcasts forwarded while a command waits for the store.
        let mut inflight: Option<InFlight> = None;
        let mut queued: std::collections::VecDeque<(u32, u64, app::room::RoomCommand)> =
            std::collections::VecDeque::new();
        let mut reports = ReportGate::default();

        loop {
            if inflight.is_none() {
                if let Some((seq, base, cmd)) = queued.pop_front() {
                    inflight = Some(self.start_command(&hub, seq, base, cmd));
                }
            }
            tokio::select! {
                biased;
                _ = self.shutdown.changed() => return End::Close(close::GOING_AWAY, "server shutting down"),
                _ = async { let _ = ended.wait_for(|e| *e).await; } => return End::Close(close::SESSION_ENDED, "this watch party has ended"),
                changed = removed.changed() => {
                    if changed.is_err() {
                        return End::Close(close::INTERNAL, "session closed");
                    }
                    let now = self.sessions.now_ms();
                    if removed.borrow_and_update().iter().any(|r| r.kid == self.kid && r.until > now) {
                        tracing::info!("removed by a host");
                        return End::Close(close::REMOVED, REMOVED_REASON);
                    }
                }
                done = async { inflight.as_mut().expect("guarded").await }, if inflight.is_some() => {
                    inflight = None;
                    let (seq, cause, kind, result) = done;
                    if let Err(end) = self.finish_command(socket, seq, cause, kind, result).await {
                        return end;
                    }
                }
                frame = frames.recv() => match frame {
                    Ok(Frame { revision, viewers, text, at }) => {
                        if revision != 0 {
                            if revision <= self.last_revision {
                                continue;
                            }
                            self.last_revision = revision;
                        }
                        if let Some(n) = viewers {
                            if n == self.last_viewers {
                                continue;
                            }
                            self.last_viewers = n;
                        }
                        if let Err(end) = send(socket, Message::Text(text)).await {
                            return end;
                        }
                        if self.conn_id.is_multiple_of(FANOUT_SAMPLE) {
                            self.sessions.metrics().fanout.observe(at.elapsed().as_secs_f64());
                        }
                    }
                    Err(RecvError::Lagged(n)) => {
                        tracing::info!(missed = n, "viewer lagged behind broadcasts");
                        self.sessions.metrics().overflows.inc();
                        return End::Close(close::TOO_SLOW, "too slow; reconnect to resync");
                    }
                    Err(RecvError::Closed) => return End::Close(close::INTERNAL, "session closed"),
                },
                incoming = socket.recv() => {
                    let received = self.sessions.now_ms();
                    let mono = self.sessions.monotonic_ms();
                    let msg = match incoming {
                        None => return End::Drop,
                        Some(Err(e)) => {
                            let text = e.to_string();
                            // tungstenite reports frames over the limit as "Message too long".
                            if text.contains("too long") || text.contains("Space limit") {
                                return End::Close(close::TOO_BIG, "frame too large");
                            }
                            tracing::debug!(error = %text, "websocket read error");
                            return End::Drop;
                        }
                        Some(Ok(msg)) => msg,
                    };
                    last_seen = Instant::now();
                    let text = match msg {
                        Message::Text(t) => t,
                        Message::Binary(_) => {
                            if !messages.try_take(mono) {
                                strikes += 1;
                                if strikes >= FLOOD_STRIKES {
                                    return End::Close(close::POLICY, "flooding");
                                }
                                continue;
                            }
                            let err = error_msg(ErrorCode::BadMessage, "binary frames are not supported", None);
                            if let Err(end) = self.send_msg(socket, &err).await {
                                return end;
                            }
                            continue;
                        }
                        Message::Close(_) => return End::Drop,
                        // Control frames count against the message limit too (a ping flood
                        // costs the server a pong each).
                        Message::Ping(_) | Message::Pong(_) => {
                            if !messages.try_take(mono) {
                                strikes += 1;
                                if strikes >= FLOOD_STRIKES {
                                    return End::Close(close::POLICY, "flooding");
                                }
                            }
                            continue;
                        }
                    };
                    if !messages.try_take(mono) {
                        strikes += 1;
                        if strikes >= FLOOD_STRIKES {
                            return End::Close(close::POLICY, "flooding");
                        }
                        let err = error_msg(ErrorCode::RateLimited, "too many messages", None);
                        if let Err(end) = self.send_msg(socket, &err).await {
                            return end;
                        }
                        continue;
                    }
                    let parsed = serde_json::from_str::<ClientMsg>(&text);
                    let reply = match parsed {
                        Err(e) => Some(error_msg(ErrorCode::BadMessage, e.to_string(), None)),
                        Ok(ClientMsg::Ping { t0 }) => {
                            strikes = 0;
                            Some(ServerMsg::Pong { t0, t1: received, t2: self.sessions.now_ms() })
                        }
                        Ok(ClientMsg::Health { error_ms }) => {
                            let metrics = self.sessions.metrics();
                            if reports.admit(std::time::Instant::now()) {
                                metrics.client_error_ms(error_ms);
                            } else {
                                metrics.client_reports_dropped.inc();
                            }
                            None
                        }
                        Ok(ClientMsg::Status { status }) => {
                            if app::health::is_valid(&status) {
                                hub.member_update(self.conn_id, None, Some(status));
                                None
                            } else {
                                Some(error_msg(ErrorCode::InvalidValue, "an in-sync figure is within ±50 ms, in steps of 10", None))
                            }
                        }
                        Ok(ClientMsg::Name { seq, name }) => {
                            match app::names::validate_name(&name, self.sessions.settings().max_name_chars) {
                                Ok(name) => {
                                    hub.member_update(self.conn_id, Some(&name), None);
                                    self.name = Some(name);
                                    tracing::debug!(name = self.name.as_deref(), "named");
                                    None
                                }
                                Err(e) => Some(error_msg(ErrorCode::InvalidName, e.to_string(), Some(seq))),
                            }
                        }
                        Ok(ClientMsg::Chat { seq, text }) => {
                            // Refused text costs no chat budget (the message limit applies).
                            if let Err(e) = app::chat::validate_text(&text, settings.max_chat_chars) {
                                Some(rejection_msg(&Rejection::Text(e), seq))
                            } else if !chat_bucket.try_take(mono) {
                                Some(error_msg(ErrorCode::RateLimited, "too many messages; slow down", Some(seq)))
                            } else {
                                let r = self.sessions.chat(&hub, &self.kid, self.name.as_deref(), &text).await;
                                r.err().map(|e| rejection_msg(&e, seq))
                            }
                        }
                        Ok(ClientMsg::React { seq, emoji, at }) => {
                            if !react_bucket.try_take(mono) {
                                Some(error_msg(ErrorCode::RateLimited, "too many reactions; slow down", Some(seq)))
                            } else {
                                let r = self.sessions.react(&hub, &self.kid, self.name.as_deref(), &emoji, at).await;
                                r.err().map(|e| rejection_msg(&e, seq))
                            }
                        }
                        Ok(ClientMsg::DeleteChat { seq, id }) => {
                            if !commands.try_take(mono) {
                                Some(error_msg(ErrorCode::RateLimited, "too many commands; slow down", Some(seq)))
                            } else {
                                let r = self.sessions.delete_chat(&hub, &self.kid, id).await;
                                r.err().map(|e| rejection_msg(&e, seq))
                            }
                        }
                        Ok(msg) => match msg.room_command() {
                            None => None,
                            Some((seq, base, cmd)) => {
                                if !commands.try_take(mono) {
                                    self.sessions.metrics().command(CommandKind::of_room(&cmd), CommandOutcome::RateLimited);
                                    strikes += 1;
                                    if strikes >= FLOOD_STRIKES {
                                        return End::Close(close::POLICY, "flooding");
                                    }
                                    Some(error_msg(ErrorCode::RateLimited, "too many commands; slow down", Some(seq)))
                                } else if queued.len() >= MAX_QUEUED_COMMANDS {
                                    self.sessions.metrics().command(CommandKind::of_room(&cmd), CommandOutcome::RateLimited);
                                    Some(error_msg(ErrorCode::RateLimited, "too many commands in flight; slow down", Some(seq)))
                                } else {
                                    strikes = 0;
                                    queued.push_back((seq, base, cmd));
                                    None
                                }
                            }
                        },
                    };
                    if let Some(reply) = reply {
                        if let Err(end) = self.send_msg(socket, &reply).await {
                            return end;
                        }
                    }
                }
                _ = heartbeat.tick() => {
                    if last_seen.elapsed() > silence {
                        tracing::info!("heartbeat timeout");
                        return End::Close(close::HEARTBEAT_TIMEOUT, "heartbeat timeout");
                    }
                    if let Err(end) = send(socket, Message::Ping(bytes::Bytes::new())).await {
                        return end;
                    }
                }
            }
        }
    }

    /// Starts applying one command (bounded by `apply_timeout_ms` inside [`Sessions::apply`]).
    fn start_command(
        &self,
        hub: &Arc<crate::hub::Hub>,
        seq: u32,
        base: u64,
        cmd: app::room::RoomCommand,
    ) -> InFlight {
        let cause = Cause {
            conn_id: self.conn_id,
            seq,
        };
        let kind = CommandKind::of_room(&cmd);
        let (sessions, hub, name, kid) = (
            self.sessions.clone(),
            hub.clone(),
            self.name.clone(),
            self.kid.clone(),
        );
        Box::pin(async move {
            let result = sessions
                .apply_as(&hub, cause, name.as_deref(), Some(&kid), base, cmd)
                .await;
            (seq, cause, kind, result)
        })
    }

    /// Answers an applied command: rejections (and the current state after `Stale`) and
    /// acknowledgements of no-ops. Accepted changes reach this viewer through the broadcast
    /// like everybody else.
    async fn finish_command(
        &mut self,
        socket: &mut WebSocket,
        seq: u32,
        cause: Cause,
        kind: CommandKind,
        result: Result<Outcome, Rejection>,
    ) -> Result<(), End> {
        let outcome = match &result {
            Ok(Outcome::Applied(_)) => CommandOutcome::Applied,
            Ok(Outcome::Unchanged(_)) => CommandOutcome::Unchanged,
            Err(
                Rejection::Invalid(_)
                | Rejection::Queue(_)
                | Rejection::Text(_)
                | Rejection::NoSuchMessage,
            ) => CommandOutcome::Invalid,
            Err(Rejection::Forbidden(_)) => CommandOutcome::Forbidden,
            Err(Rejection::Stale { .. }) => CommandOutcome::Stale,
            Err(Rejection::UnknownSession) => CommandOutcome::UnknownSession,
            Err(Rejection::Unavailable(_)) => CommandOutcome::Unavailable,
            Err(Rejection::RateLimited) => CommandOutcome::RateLimited,
        };
        self.sessions.metrics().command(kind, outcome);
        match result {
            Ok(Outcome::Applied(state)) => {
                tracing::debug!(seq, revision = state.revision, "command applied");
                Ok(())
            }
            Ok(Outcome::Unchanged(state)) => {
                // Nothing changed (a duplicate): acknowledge to the sender only, with the
                // current state, its own cause and the unchanged revision.
                if state.revision < self.last_revision {
                    // Newer changes reached this viewer while the no-op was decided: the
                    // verdict is "superseded" (nothing changed; the newer state is already
                    // here). Without it the sender would wait for a verdict that never comes.
                    let err = error_msg(
                        ErrorCode::Stale,
                        "superseded by a newer change; nothing changed",
                        Some(seq),
                    );
                    return self.send_msg(socket, &err).await;
                }
                let ack = ServerMsg::State {
                    state,
                    cause: Some(cause),
                };
                self.send_msg(socket, &ack).await
            }
            Err(rejection) => {
                let err = rejection_msg(&rejection, seq);
                self.send_msg(socket, &err).await?;
                match rejection {
                    Rejection::Stale { current, .. } if current.revision > self.last_revision => {
                        let state = ServerMsg::State {
                            state: *current,
                            cause: None,
                        };
                        self.send_msg(socket, &state).await
                    }
                    Rejection::UnknownSession => {
                        Err(End::Close(close::UNKNOWN_SESSION, "session expired"))
                    }
                    _ => Ok(()),
                }
            }
        }
    }
}
