//! One WebSocket connection: its task reads the client's frames and applies them; the hub
//! writes the broadcasts into its socket directly.
//!
//! The task `select!`s over the socket's readiness, its write side's wake-ups (a queue to
//! write out, a slow or broken write side), the heartbeat and shutdown. It holds no buffers
//! while idle: input is read into a stack buffer and kept (in [`Decoder`]) only while a frame is
//! incomplete; output is written straight into the socket and queued only when the socket does
//! not take it (see `crate::hub::Viewer`). It greets the viewer (`hello`, the room's list, the
//! history) before any broadcast reaches it, answers `Ping` with `Pong` straight away (no store
//! round trip), and applies commands through [`Sessions::apply`].
//! See `docs/protocol.md` for the error and close codes.

use crate::hub::{Attached, Hub, Status, Viewer, SLOW_REASON};
use crate::limits::TokenBucket;
use crate::metrics::{CommandKind, CommandOutcome, ReportGate};
use crate::sessions::{Outcome, Rejection, Sessions};
use crate::settings::Settings;
use crate::wire::{Decoder, Incoming, Prepared, WireError};
use bytes::Bytes;
use futures::FutureExt;
use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;
use watchparty_core::protocol::{close, Cause, ConnId, ErrorCode, ServerMsg};
use watchparty_core::rights::Kid;

mod messages;
mod permanent;

use messages::{error_msg, rejection_msg};

/// Bytes read from the socket at a time (a stack buffer: nothing is held while idle).
const READ_CHUNK: usize = 4096;
/// Reads per wake-up before other work gets a turn.
const READS_PER_WAKE: usize = 16;
/// A queue that the socket takes nothing of for this long means the viewer stalled (4008).
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// Heartbeats fall on a grid of this step (like the Node peer's wheel of 100 slots), so the
/// pings of the connections due in one step go out in one burst: one timer tick and one
/// wake-up of the runtime for them all, not one each (at 10,000 viewers: 100 bursts a second
/// instead of 1,000 scattered wake-ups).
const BEAT_STEP: Duration = Duration::from_millis(100);
/// Consecutive rate-limited messages after which the connection is closed (1008).
const FLOOD_STRIKES: u32 = 40;
/// All messages (pings and junk included) may arrive this many times faster than commands.
const MESSAGE_RATE_FACTOR: f64 = 5.0;
/// How long the closing handshake may take.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// After unreadable input, how long to wait before dropping the socket after the Close.
const CLOSE_GRACE: Duration = Duration::from_millis(500);
/// Longest error message text sent back.
const MAX_ERROR_TEXT: usize = 200;
/// Commands queued behind the one being applied (beyond: `rate_limited`).
const MAX_QUEUED_COMMANDS: usize = 4;
/// The close reason sent to a removed viewer.
const REMOVED_REASON: &str = "a host removed you from this watch party";

/// A command being applied: `(seq, cause, kind, result)`, boxed, when done.
type InFlight = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = Box<(u32, Cause, CommandKind, Result<Outcome, Rejection>)>>
            + Send,
    >,
>;

/// Why the connection loop ended.
enum End {
    /// Close with this code and reason.
    Close(u16, &'static str),
    /// The peer is gone or stalled: just drop the socket.
    Drop,
}

/// Released when a connection ends: its place in the server's count (shutdown waits for it)
/// and in its address's count for the session.
pub(super) type Guards = (
    crate::sessions::ConnGuard,
    crate::limits::CounterGuard<(watchparty_core::ids::SessionId, crate::limits::ClientKey)>,
);

/// What a connection is started with (boxed by the upgrade handler: see [`Conn::run`]).
pub(super) struct Start {
    pub sessions: Arc<Sessions>,
    pub membership: crate::hub::Membership,
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    pub conn_id: ConnId,
    pub kid: Kid,
    pub guards: Guards,
}

impl Conn {
    /// The connection's state, on the heap (`early`: bytes read past the handshake).
    pub(super) fn new(start: Start, tcp: TcpStream, early: Bytes) -> Box<Conn> {
        let Start {
            sessions,
            membership,
            shutdown,
            conn_id,
            kid,
            guards,
        } = start;
        let limit = sessions.settings().send_queue;
        let viewer = Arc::new(Viewer::new(tcp, conn_id, limit, sessions.metrics_handle()));
        let mut decoder = Decoder::new(sessions.settings().max_frame_bytes);
        decoder.feed(&early);
        Box::new(Conn {
            sessions,
            membership,
            shutdown,
            conn_id,
            kid,
            name: None,
            listed: None,
            attached: None,
            viewer,
            decoder,
            _guards: guards,
        })
    }

    /// Serves the connection until it ends. A method of the box, so that the task's future
    /// (alive as long as the connection, idle or not) holds one pointer and the loop's own
    /// state, not the parts of the connection.
    pub(super) async fn run(mut self: Box<Self>) {
        let end = self.serve().await;
        if let End::Close(code, reason) = end {
            self.sessions.metrics().close(code);
            tracing::debug!(code, reason, "closing websocket");
            self.closing_handshake(code, reason).await;
        }
        // Out of the fan-out before the socket closes.
        self.attached = None;
    }
}

pub(super) struct Conn {
    sessions: Arc<Sessions>,
    membership: crate::hub::Membership,
    shutdown: tokio::sync::watch::Receiver<bool>,
    conn_id: ConnId,
    /// The viewer's public id (from its key).
    kid: Kid,
    /// The viewer's display name, once sent and valid.
    name: Option<String>,
    /// The viewer's entry in the room's list (removed when the connection ends).
    listed: Option<Listed>,
    /// The viewer's place in the hub's fan-out.
    attached: Option<Attached>,
    /// The socket's write side (shared with the hub) and, through it, the socket.
    viewer: Arc<Viewer>,
    /// The client's frames.
    decoder: Decoder,
    /// Dropped last, when the connection is over.
    _guards: Guards,
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

/// The limits and bookkeeping of the read side.
struct Reader {
    commands: TokenBucket,
    messages: TokenBucket,
    chat: TokenBucket,
    react: TokenBucket,
    strikes: u32,
    last_seen: Instant,
    /// Commands waiting behind the one being applied.
    queued: VecDeque<(u32, u64, watchparty_core::room::RoomCommand)>,
    reports: ReportGate,
}

fn json(msg: &ServerMsg) -> Prepared {
    // Plain data with string keys always serialises.
    Prepared::text(&serde_json::to_string(msg).unwrap_or_default())
}

/// Reads what the socket has (up to [`READS_PER_WAKE`] chunks) into `decoder`: `Ok(false)` at
/// the end of the stream. A stack buffer, so that nothing is held between reads.
fn read_available(stream: &TcpStream, decoder: &mut Decoder) -> io::Result<bool> {
    let mut chunk = [0u8; READ_CHUNK];
    for _ in 0..READS_PER_WAKE {
        match stream.try_read(&mut chunk) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                decoder.feed(&chunk[..n]);
                if n < READ_CHUNK {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Reads what the socket has into `decoder`: `Err(End::Drop)` at the end of the stream or
/// on a read error.
fn read_or_end(stream: &TcpStream, decoder: &mut Decoder) -> Result<(), End> {
    match read_available(stream, decoder) {
        Ok(true) => Ok(()),
        Ok(false) => Err(End::Drop),
        Err(e) => {
            tracing::debug!(error = %e, "websocket read error");
            Err(End::Drop)
        }
    }
}

impl Reader {
    /// A new connection's limits (`now`: the monotonic clock, ms).
    fn new(settings: &Settings, now: f64) -> Box<Self> {
        Box::new(Reader {
            commands: TokenBucket::new(settings.commands_per_sec, settings.command_burst, now),
            messages: TokenBucket::new(
                settings.commands_per_sec * MESSAGE_RATE_FACTOR,
                settings
                    .command_burst
                    .saturating_mul(MESSAGE_RATE_FACTOR as u32),
                now,
            ),
            chat: TokenBucket::new(settings.chat_per_sec, settings.chat_burst, now),
            react: TokenBucket::new(settings.reactions_per_sec, settings.reaction_burst, now),
            strikes: 0,
            last_seen: Instant::now(),
            queued: VecDeque::new(),
            reports: ReportGate::default(),
        })
    }
}

/// The connection's two deadlines, served by one timer (an idle connection's task holds one
/// `Sleep`, not two), which fires at whichever is due first:
/// - the heartbeat: a ping every `heartbeat_secs` (on the shared grid, see [`BEAT_STEP`]), and a
///   close after `heartbeat_timeout_secs` without a message from the peer;
/// - while frames wait in the viewer's queue, the stall: the socket must take some of them
///   within [`SEND_TIMEOUT`] (else 4008).
struct Deadlines {
    /// When the next ping is due.
    next_beat: Instant,
    every: Duration,
    silence: Duration,
    /// While frames wait in the queue: when the socket must have taken some of them.
    stall: Option<Instant>,
}

impl Deadlines {
    fn new(settings: &Settings) -> Self {
        let every = Duration::from_secs(settings.heartbeat_secs.max(1));
        let silence = Duration::from_secs(settings.heartbeat_timeout_secs.max(1));
        Self {
            next_beat: on_beat_grid(Instant::now() + every),
            every,
            silence,
            stall: None,
        }
    }

    /// When the timer must fire next; `pending`: frames wait in the queue (the stall deadline
    /// starts when they begin to wait and ends when none do).
    fn due(&mut self, pending: bool) -> Instant {
        if !pending {
            self.stall = None;
        } else if self.stall.is_none() {
            self.stall = Some(Instant::now() + SEND_TIMEOUT);
        }
        self.stall.map_or(self.next_beat, |s| s.min(self.next_beat))
    }

    /// The socket took some of the queue: the stall deadline starts again.
    fn progress(&mut self) {
        self.stall = None;
    }

    /// The timer fired at `now`: `Err` when the queue stalled or the peer has been silent
    /// (nothing since `last_seen`) too long, else a ping when one is due.
    fn fired(
        &mut self,
        now: Instant,
        pending: bool,
        last_seen: Instant,
        viewer: &Viewer,
    ) -> Result<(), End> {
        if pending && self.stall.is_some_and(|s| now >= s) {
            tracing::info!("send stalled; disconnecting slow viewer");
            return Err(End::Close(close::TOO_SLOW, SLOW_REASON));
        }
        if now >= self.next_beat {
            if last_seen.elapsed() > self.silence {
                tracing::info!("heartbeat timeout");
                return Err(End::Close(close::HEARTBEAT_TIMEOUT, "heartbeat timeout"));
            }
            viewer.send(&Prepared::ping(), None, None);
            self.next_beat = on_beat_grid(now + self.every);
        }
        Ok(())
    }
}

impl Conn {
    /// Sends one message (a state or hello in it raises this viewer's revision floor).
    fn send_msg(&self, msg: &ServerMsg) {
        let (revision, viewers) = match msg {
            ServerMsg::Hello { state, viewers, .. } => (Some(state.revision), Some(*viewers)),
            ServerMsg::State { state, .. } => (Some(state.revision), None),
            _ => (None, None),
        };
        self.viewer.send(&json(msg), revision, viewers);
    }

    /// Sends Close (behind what is queued), writes the queue out, and reads until the peer's
    /// Close, all within [`CLOSE_WAIT`]. Closing with unread input would make the kernel reset
    /// the connection, and the peer would never see the close code.
    async fn closing_handshake(&mut self, code: u16, reason: &'static str) {
        // A slow viewer's Close is already queued (see `Viewer`).
        self.viewer.send_close(&Prepared::close(code, reason));
        let viewer = self.viewer.clone();
        let decoder = &mut self.decoder;
        let handshake = async {
            let mut peer_closed = false;
            loop {
                let pending = viewer.pending() && viewer.status() != Status::Broken;
                if peer_closed && !pending {
                    return;
                }
                tokio::select! {
                    w = viewer.stream().writable(), if pending => {
                        if w.is_err() || viewer.flush().is_err() {
                            return;
                        }
                    }
                    r = viewer.stream().readable(), if !peer_closed => {
                        if r.is_err() {
                            return;
                        }
                        match read_available(viewer.stream(), decoder) {
                            Ok(true) => {}
                            Ok(false) | Err(_) => return,
                        }
                        loop {
                            match decoder.next_message() {
                                Ok(Some(Incoming::Close(_))) => {
                                    peer_closed = true;
                                    break;
                                }
                                Ok(Some(_)) => continue,
                                Ok(None) => break,
                                Err(_) => {
                                    // Unreadable input: give the peer a moment to read the
                                    // Close before the reset.
                                    tokio::time::sleep(CLOSE_GRACE).await;
                                    return;
                                }
                            }
                        }
                        decoder.release();
                    }
                }
            }
        };
        let _ = tokio::time::timeout(CLOSE_WAIT, handshake).await;
    }

    /// Admits the viewer unless the room removed it, greets it (`hello`, the room's list, the
    /// history) and lists it in the room.
    fn greet(&mut self, hub: &Arc<Hub>) -> Result<(), End> {
        // (In a block: the state is not kept beyond the check.)
        {
            let Some(state) = hub.latest() else {
                return Err(End::Close(close::INTERNAL, "no state"));
            };
            if state.rights.is_removed(&self.kid, self.sessions.now_ms()) {
                return Err(End::Close(close::REMOVED, REMOVED_REASON));
            }
        }
        // The greeting goes out under the fan-out's lock: no broadcast overtakes it, and
        // broadcasts older than it are skipped (see `crate::hub::fanout`).
        let (attached, greeted) = hub.attach(self.viewer.clone(), |viewer| {
            let state = hub.latest()?;
            let viewers = hub.viewers();
            let revision = state.revision;
            let hello = ServerMsg::Hello {
                conn_id: self.conn_id,
                session_id: hub.id().clone(),
                server_time: self.sessions.now_ms(),
                state,
                viewers,
                kid: Some(self.kid.clone()),
            };
            viewer.send(&json(&hello), Some(revision), Some(viewers));
            // Who is here: the whole list now, deltas through the hub's frames (a delta older
            // than this list carries a lower version and is ignored by the client).
            hub.member_join(
                self.conn_id,
                self.sessions.now_ms().max(0.0) as u64,
                Some(self.kid.clone()),
            );
            viewer.send(&hub.roster_full(), None, None);
            // The kept chat lines and reactions (framed once per change by the hub).
            viewer.send(&hub.history(), None, None);
            Some(())
        });
        self.attached = Some(attached);
        if greeted.is_none() {
            return Err(End::Close(close::INTERNAL, "no state"));
        }
        self.listed = Some(Listed {
            hub: hub.clone(),
            id: self.conn_id,
        });
        tracing::debug!("viewer joined");
        Ok(())
    }

    /// `Err` when the room's removals (just changed) include this viewer now.
    fn check_removed(&self, removed: &[watchparty_core::rights::Removal]) -> Result<(), End> {
        let now = self.sessions.now_ms();
        if removed.iter().any(|r| r.kid == self.kid && r.until > now) {
            tracing::info!("removed by a host");
            return Err(End::Close(close::REMOVED, REMOVED_REASON));
        }
        Ok(())
    }

    /// Greets the viewer, then serves it until the connection ends: why it ended.
    async fn serve(&mut self) -> End {
        // A reference through our own handle (a copy of the settings would live as long as
        // the connection).
        let sessions = self.sessions.clone();
        let settings = sessions.settings();
        let hub = self.membership.hub().clone();
        let mut ended = hub.ended();
        let mut removed = hub.removed();
        if let Err(end) = self.greet(&hub) {
            return end;
        }

        // Rate limits run on the monotonic clock (never slewed towards Redis' clock).
        let mut reader = Reader::new(settings, self.sessions.monotonic_ms());
        let mut deadlines = Deadlines::new(settings);
        // One timer for both deadlines (see `Deadlines`).
        let timer = tokio::time::sleep_until(deadlines.next_beat);
        tokio::pin!(timer);
        // One command is applied at a time, concurrently with the loop, so pings are answered
        // and broadcasts forwarded while a command waits for the store.
        let mut inflight: Option<InFlight> = None;
        let viewer = self.viewer.clone();

        loop {
            match viewer.status() {
                Status::Open | Status::Closing => {}
                Status::Slow => return End::Close(close::TOO_SLOW, SLOW_REASON),
                Status::Broken => return End::Drop,
            }
            self.start_next(&hub, &mut reader, &mut inflight);
            let pending = viewer.pending();
            let due = deadlines.due(pending);
            if timer.deadline() != due {
                timer.as_mut().reset(due);
            }
            // Input already buffered (read together with the handshake) is handled first.
            if !self.decoder.is_idle() {
                if let Err(end) =
                    Box::pin(self.handle_input(&hub, &mut reader, &mut inflight)).await
                {
                    return end;
                }
            }
            tokio::select! {
                biased;
                _ = self.shutdown.changed() => return End::Close(close::GOING_AWAY, "server shutting down"),
                _ = async { let _ = ended.wait_for(|e| *e).await; } => return End::Close(close::SESSION_ENDED, if hub.ended_by_host() { close::ENDED_BY_HOST } else { "this watch party has ended" }),
                changed = removed.changed() => {
                    if changed.is_err() {
                        return End::Close(close::INTERNAL, "session closed");
                    }
                    if let Err(end) = self.check_removed(&removed.borrow_and_update()) {
                        return end;
                    }
                }
                // The queue became non-empty or the write side failed: re-check at the top.
                _ = viewer.woken() => {}
                w = viewer.stream().writable(), if pending => {
                    if w.is_err() {
                        return End::Drop;
                    }
                    match viewer.flush() {
                        // Progress: the stall timer starts again.
                        Ok(n) if n > 0 => deadlines.progress(),
                        Ok(_) => {}
                        Err(_) => return End::Drop,
                    }
                }
                done = async { inflight.as_mut().expect("guarded").await }, if inflight.is_some() => {
                    inflight = None;
                    let (seq, cause, kind, result) = *done;
                    if let Err(end) = self.finish_command(seq, cause, kind, result) {
                        return end;
                    }
                }
                r = viewer.stream().readable() => {
                    if r.is_err() {
                        return End::Drop;
                    }
                    if let Err(end) = read_or_end(viewer.stream(), &mut self.decoder) {
                        return end;
                    }
                    if let Err(end) = Box::pin(self.handle_input(&hub, &mut reader, &mut inflight)).await {
                        return end;
                    }
                }
                () = &mut timer => {
                    let last_seen = reader.last_seen;
                    if let Err(end) = deadlines.fired(Instant::now(), pending, last_seen, &viewer) {
                        return end;
                    }
                }
            }
        }
    }

    // `handle_input` is boxed where it is awaited: its future (which may wait for the store)
    // then lives on the heap only while messages are handled, and an idle connection's task
    // stays small.

    /// Starts the next queued command unless one is being applied.
    fn start_next(
        &self,
        hub: &Arc<crate::hub::Hub>,
        reader: &mut Reader,
        inflight: &mut Option<InFlight>,
    ) {
        if inflight.is_none() {
            if let Some((seq, base, cmd)) = reader.queued.pop_front() {
                *inflight = Some(self.start_command(hub, seq, base, cmd));
            }
        }
    }

    /// Handles every whole message read so far (a command starts as soon as none is being
    /// applied, as if the messages had arrived one by one), then lets the decoder release its
    /// buffer.
    async fn handle_input(
        &mut self,
        hub: &Arc<crate::hub::Hub>,
        reader: &mut Reader,
        inflight: &mut Option<InFlight>,
    ) -> Result<(), End> {
        loop {
            let msg = match self.decoder.next_message() {
                Ok(Some(msg)) => msg,
                Ok(None) => break,
                Err(e @ WireError::TooBig) => {
                    tracing::debug!(error = %e, "websocket frame refused");
                    return Err(End::Close(close::TOO_BIG, "frame too large"));
                }
                Err(e @ WireError::Protocol(_)) => {
                    tracing::debug!(error = %e, "websocket protocol error");
                    return Err(End::Close(e.close_code(), "protocol error"));
                }
                Err(e @ WireError::NotUtf8) => {
                    tracing::debug!(error = %e, "websocket text not UTF-8");
                    return Err(End::Close(e.close_code(), "text is not UTF-8"));
                }
            };
            reader.last_seen = Instant::now();
            self.handle(hub, reader, msg).await?;
            // Between two messages of a burst, a command that is done already is answered and
            // the next one started (as the loop would, had they arrived one by one).
            loop {
                self.start_next(hub, reader, inflight);
                let Some(done) = inflight.as_mut().and_then(|f| f.as_mut().now_or_never()) else {
                    break;
                };
                *inflight = None;
                let (seq, cause, kind, result) = *done;
                self.finish_command(seq, cause, kind, result)?;
            }
            if self.viewer.status() != Status::Open {
                break;
            }
        }
        self.decoder.release();
        Ok(())
    }

    /// Counts a message against the all-messages limit; `Err` after too many strikes.
    fn over_limit(reader: &mut Reader, mono: f64) -> Result<bool, End> {
        if reader.messages.try_take(mono) {
            return Ok(false);
        }
        reader.strikes += 1;
        if reader.strikes >= FLOOD_STRIKES {
            return Err(End::Close(close::POLICY, "flooding"));
        }
        Ok(true)
    }

    /// Starts applying one command (bounded by `apply_timeout_ms` inside [`Sessions::apply`]).
    fn start_command(
        &self,
        hub: &Arc<crate::hub::Hub>,
        seq: u32,
        base: u64,
        cmd: watchparty_core::room::RoomCommand,
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
            // Boxed: the result is large and would otherwise widen the connection loop's
            // `select!` output, which lives in every idle connection's task.
            Box::new((seq, cause, kind, result))
        })
    }

    /// Answers an applied command: rejections (and the current state after `Stale`) and
    /// acknowledgements of no-ops. Accepted changes reach this viewer through the broadcast
    /// like everybody else.
    fn finish_command(
        &mut self,
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
                | Rejection::Together(_)
                | Rejection::Permanent(_)
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
                // current state, its own cause and the unchanged revision. Decided against the
                // broadcasts atomically (see `Viewer::send_with`).
                self.viewer.send_with(|last_revision| {
                    if state.revision < last_revision {
                        // Newer changes reached this viewer while the no-op was decided: the
                        // verdict is "superseded" (nothing changed; the newer state is already
                        // here). Without it the sender would wait for a verdict that never
                        // comes.
                        let err = error_msg(
                            ErrorCode::Stale,
                            "superseded by a newer change; nothing changed",
                            Some(seq),
                        );
                        return Some((json(&err), None));
                    }
                    let revision = state.revision;
                    let ack = ServerMsg::State {
                        state,
                        cause: Some(cause),
                    };
                    Some((json(&ack), Some(revision)))
                });
                Ok(())
            }
            Err(rejection) => {
                let err = rejection_msg(&rejection, seq);
                self.send_msg(&err);
                match rejection {
                    Rejection::Stale { current, .. } => {
                        // The current state unless a broadcast brought it (or newer) already.
                        self.viewer.send_with(|last_revision| {
                            let revision = current.revision;
                            (revision > last_revision).then(|| {
                                let state = ServerMsg::State {
                                    state: *current,
                                    cause: None,
                                };
                                (json(&state), Some(revision))
                            })
                        });
                        Ok(())
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

/// `t` rounded up to the heartbeat grid ([`BEAT_STEP`] since a process-wide origin).
fn on_beat_grid(t: Instant) -> Instant {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    let step = BEAT_STEP.as_nanos();
    let since = t.saturating_duration_since(origin).as_nanos();
    let up = since.div_ceil(step) * step;
    origin + Duration::from_nanos(u64::try_from(up).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_fall_on_a_grid_so_nearby_ones_share_a_tick() {
        let t = Instant::now() + Duration::from_secs(10);
        let a = on_beat_grid(t);
        assert!(
            a >= t && a < t + BEAT_STEP,
            "rounded up by less than a step"
        );
        // Anything up to the grid point lands on it; just past it, on the next one.
        assert_eq!(on_beat_grid(a - BEAT_STEP / 2), a);
        assert_eq!(on_beat_grid(a), a);
        assert_eq!(on_beat_grid(a + Duration::from_nanos(1)), a + BEAT_STEP);
    }
}
