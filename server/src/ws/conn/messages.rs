//! What a connection does with one message from its client: the message limits, the answers
//! (pongs, errors), names, health reports, chat and reactions, and the room commands queued to
//! be applied one at a time (see the parent module).
//!
//! [`Conn::handle`] sorts frames from JSON messages and [`Conn::dispatch`] hands each message
//! kind to its own small function (`on_*`). Invariants: every frame, control frames included,
//! counts against the message limit; chat, reactions and commands each spend their own budget;
//! a refused message is answered with a typed error (its text cut to `MAX_ERROR_TEXT`), never
//! by dropping the connection, except for command flooding (`FLOOD_STRIKES`, close 1008) and
//! the peer's own Close.

use super::{Conn, End, Reader, FLOOD_STRIKES, MAX_ERROR_TEXT, MAX_QUEUED_COMMANDS};
use crate::hub::Hub;
use crate::metrics::{CommandKind, CommandOutcome};
use crate::sessions::Rejection;
use crate::wire::{CloseFrame, Incoming, Prepared};
use std::sync::Arc;
use watchparty_core::health::Health;
use watchparty_core::ids::VideoId;
use watchparty_core::protocol::{close, ClientMsg, ErrorCode, ServerMsg};
use watchparty_core::ready_skip::ReadySkipError;
use watchparty_core::room::RoomCommand;

impl Conn {
    /// Handles one message from the client: a control or binary frame, or a JSON message
    /// (within the message limit) dispatched by its kind ([`Conn::dispatch`]).
    pub(super) async fn handle(
        &mut self,
        hub: &Arc<Hub>,
        reader: &mut Reader,
        msg: Incoming,
    ) -> Result<(), End> {
        let received = self.sessions.now_ms();
        let mono = self.sessions.monotonic_ms();
        let text = match msg {
            Incoming::Text(t) => t,
            Incoming::Binary => return self.on_binary(reader, mono),
            Incoming::Close(frame) => return Err(self.on_close(frame)),
            // Control frames count against the message limit too (a ping flood costs the
            // server a pong each).
            Incoming::Ping(payload) => return self.on_ping_frame(reader, &payload, mono),
            Incoming::Pong => return Self::over_limit(reader, mono).map(drop),
        };
        if Self::over_limit(reader, mono)? {
            let err = error_msg(ErrorCode::RateLimited, "too many messages", None);
            self.send_msg(&err);
            return Ok(());
        }
        let reply = match serde_json::from_str::<ClientMsg>(&text) {
            Err(e) => Some(error_msg(ErrorCode::BadMessage, e.to_string(), None)),
            Ok(msg) => self.dispatch(hub, reader, msg, received, mono).await?,
        };
        if let Some(reply) = reply {
            self.send_msg(&reply);
        }
        Ok(())
    }

    /// One JSON message, by kind; the reply to send, if any. `received`: the server time it
    /// arrived at; `mono`: the monotonic time (for the rate limits).
    async fn dispatch(
        &mut self,
        hub: &Hub,
        reader: &mut Reader,
        msg: ClientMsg,
        received: f64,
        mono: f64,
    ) -> Result<Option<ServerMsg>, End> {
        Ok(match msg {
            ClientMsg::Ping { t0 } => Some(self.on_ping(reader, t0, received)),
            ClientMsg::Health { error_ms } => self.on_health(reader, error_ms),
            ClientMsg::Ended { video_id } => self.on_ended(hub, &video_id),
            ClientMsg::Status { status } => self.on_status(hub, status),
            ClientMsg::StartNeed { ms } => self.on_start_need(hub, ms),
            ClientMsg::Name { seq, name } => self.on_name(hub, seq, &name),
            ClientMsg::Chat { seq, text } => self.on_chat(hub, reader, seq, &text, mono).await,
            ClientMsg::React { seq, emoji, at } => {
                self.on_react(hub, reader, seq, &emoji, at, mono).await
            }
            ClientMsg::DeleteChat { seq, id } => {
                self.on_delete_chat(hub, reader, seq, id, mono).await
            }
            ClientMsg::MakePermanent { seq, name } => {
                let ask = super::permanent::Ask::Keep(name.as_deref());
                self.on_permanent(hub, reader, seq, ask, mono).await?
            }
            ClientMsg::MakeTemporary { seq } => {
                let ask = super::permanent::Ask::Release;
                self.on_permanent(hub, reader, seq, ask, mono).await?
            }
            ClientMsg::EndRoom { seq } => {
                let ask = super::permanent::Ask::End;
                self.on_permanent(hub, reader, seq, ask, mono).await?
            }
            ClientMsg::VoteSkip { seq, round, vote } => {
                let cmd = self.sessions.vote_skip(hub, round, vote);
                self.on_command(reader, seq, 0, cmd, mono)?
            }
            msg => match msg.room_command() {
                None => None,
                Some((seq, base, cmd)) => self.on_command(reader, seq, base, cmd, mono)?,
            },
        })
    }

    /// A binary frame: refused with an error (within the message limit).
    fn on_binary(&mut self, reader: &mut Reader, mono: f64) -> Result<(), End> {
        if !Self::over_limit(reader, mono)? {
            let err = error_msg(
                ErrorCode::BadMessage,
                "binary frames are not supported",
                None,
            );
            self.send_msg(&err);
        }
        Ok(())
    }

    /// The peer's Close: answered by echoing its code and reason (the decoder let only codes
    /// that may be on the wire through; an empty Close gets an empty one), then the socket is
    /// dropped.
    fn on_close(&mut self, frame: Option<CloseFrame>) -> End {
        let answer = match frame {
            Some(f) => Prepared::close(f.code, &f.reason),
            None => Prepared::close_empty(),
        };
        self.viewer.send_close(&answer);
        let _ = self.viewer.flush();
        End::Drop
    }

    /// A ping frame: answered with a pong (within the message limit).
    fn on_ping_frame(&mut self, reader: &mut Reader, payload: &[u8], mono: f64) -> Result<(), End> {
        if !Self::over_limit(reader, mono)? {
            self.viewer.send(&Prepared::pong(payload), None, None);
        }
        Ok(())
    }

    /// A clock probe: answered with the server's receive and send times.
    fn on_ping(&mut self, reader: &mut Reader, t0: f64, received: f64) -> ServerMsg {
        reader.strikes = 0;
        ServerMsg::Pong {
            t0,
            t1: received,
            t2: self.sessions.now_ms(),
        }
    }

    /// A viewer's own sync error: counted at most once per [`crate::metrics::ReportGate`]
    /// interval.
    fn on_health(&mut self, reader: &mut Reader, error_ms: f64) -> Option<ServerMsg> {
        let metrics = self.sessions.metrics();
        if reader.reports.admit(std::time::Instant::now()) {
            metrics.client_error_ms(error_ms);
        } else {
            metrics.client_reports_dropped.inc();
        }
        None
    }

    /// A player reported the end of `video_id` (the witness the automatic advance needs).
    fn on_ended(&mut self, hub: &Hub, video_id: &VideoId) -> Option<ServerMsg> {
        let recorded = hub.witness_end(video_id, self.sessions.now_ms());
        tracing::debug!(%video_id, recorded, "a player reported the end");
        None
    }

    /// What the viewer's player needs to make a scheduled start (see
    /// [`watchparty_core::start`]).
    fn on_start_need(&mut self, hub: &Hub, ms: f64) -> Option<ServerMsg> {
        if watchparty_core::start::valid_need(ms) {
            hub.set_start_need(self.conn_id, ms.round() as u32);
            None
        } else {
            Some(error_msg(
                ErrorCode::InvalidValue,
                "a start need is between 0 and 10000 ms",
                None,
            ))
        }
    }

    /// The viewer's health for the room's list.
    fn on_status(&mut self, hub: &Hub, status: Health) -> Option<ServerMsg> {
        if watchparty_core::health::is_valid(&status) {
            hub.member_update(self.conn_id, None, Some(status));
            None
        } else {
            Some(error_msg(
                ErrorCode::InvalidValue,
                "an in-sync figure is within ±50 ms, in steps of 10",
                None,
            ))
        }
    }

    /// The viewer's display name (validated).
    fn on_name(&mut self, hub: &Hub, seq: u32, name: &str) -> Option<ServerMsg> {
        let max = self.sessions.settings().max_name_chars;
        match watchparty_core::names::validate_name(name, max) {
            Ok(name) => {
                hub.member_update(self.conn_id, Some(&name), None);
                self.name = Some(name);
                tracing::debug!(name = self.name.as_deref(), "named");
                None
            }
            Err(e) => Some(error_msg(ErrorCode::InvalidName, e.to_string(), Some(seq))),
        }
    }

    /// A chat line: validated first (refused text costs no chat budget; the message limit
    /// applies), then within the connection's chat budget.
    async fn on_chat(
        &mut self,
        hub: &Hub,
        reader: &mut Reader,
        seq: u32,
        text: &str,
        mono: f64,
    ) -> Option<ServerMsg> {
        let max = self.sessions.settings().max_chat_chars;
        if let Err(e) = watchparty_core::chat::validate_text(text, max) {
            Some(rejection_msg(&Rejection::Text(e), seq))
        } else if !reader.chat.try_take(mono) {
            Some(error_msg(
                ErrorCode::RateLimited,
                "too many messages; slow down",
                Some(seq),
            ))
        } else {
            let r = self
                .sessions
                .chat(hub, &self.kid, self.name.as_deref(), text)
                .await;
            r.err().map(|e| rejection_msg(&e, seq))
        }
    }

    /// A reaction, within the connection's reaction budget.
    async fn on_react(
        &mut self,
        hub: &Hub,
        reader: &mut Reader,
        seq: u32,
        emoji: &str,
        at: f64,
        mono: f64,
    ) -> Option<ServerMsg> {
        if !reader.react.try_take(mono) {
            return Some(error_msg(
                ErrorCode::RateLimited,
                "too many reactions; slow down",
                Some(seq),
            ));
        }
        let r = self
            .sessions
            .react(hub, &self.kid, self.name.as_deref(), emoji, at)
            .await;
        r.err().map(|e| rejection_msg(&e, seq))
    }

    /// A host deletes chat line `id`, within the connection's command budget.
    async fn on_delete_chat(
        &mut self,
        hub: &Hub,
        reader: &mut Reader,
        seq: u32,
        id: u64,
        mono: f64,
    ) -> Option<ServerMsg> {
        if !reader.commands.try_take(mono) {
            return Some(error_msg(
                ErrorCode::RateLimited,
                "too many commands; slow down",
                Some(seq),
            ));
        }
        let r = self.sessions.delete_chat(hub, &self.kid, id).await;
        r.err().map(|e| rejection_msg(&e, seq))
    }

    /// A room command (playback, queue, rights): queued to be applied in order, within the
    /// command budget (repeated overruns close the connection as flooding) and the queue's
    /// length.
    fn on_command(
        &mut self,
        reader: &mut Reader,
        seq: u32,
        base: u64,
        cmd: RoomCommand,
        mono: f64,
    ) -> Result<Option<ServerMsg>, End> {
        if !reader.commands.try_take(mono) {
            self.sessions
                .metrics()
                .command(CommandKind::of_room(&cmd), CommandOutcome::RateLimited);
            reader.strikes += 1;
            if reader.strikes >= FLOOD_STRIKES {
                return Err(End::Close(close::POLICY, "flooding"));
            }
            return Ok(Some(error_msg(
                ErrorCode::RateLimited,
                "too many commands; slow down",
                Some(seq),
            )));
        }
        if reader.queued.len() >= MAX_QUEUED_COMMANDS {
            self.sessions
                .metrics()
                .command(CommandKind::of_room(&cmd), CommandOutcome::RateLimited);
            return Ok(Some(error_msg(
                ErrorCode::RateLimited,
                "too many commands in flight; slow down",
                Some(seq),
            )));
        }
        reader.strikes = 0;
        reader.queued.push_back((seq, base, cmd));
        Ok(None)
    }
}

/// The error message answering a rejected command or message `seq`.
pub(super) fn rejection_msg(rejection: &Rejection, seq: u32) -> ServerMsg {
    let code = match rejection {
        Rejection::Invalid(_) => ErrorCode::InvalidValue,
        Rejection::Stale { .. } => ErrorCode::Stale,
        Rejection::UnknownSession => ErrorCode::UnknownSession,
        Rejection::Unavailable(_) => ErrorCode::Unavailable,
        Rejection::RateLimited => ErrorCode::RateLimited,
        Rejection::Queue(watchparty_core::queue::QueueError::UnknownItem(_))
        | Rejection::NoSuchMessage => ErrorCode::UnknownItem,
        Rejection::Queue(watchparty_core::queue::QueueError::Full(_)) => ErrorCode::QueueFull,
        Rejection::Queue(
            watchparty_core::queue::QueueError::InvalidStart
            | watchparty_core::queue::QueueError::BadImport,
        ) => ErrorCode::InvalidValue,
        Rejection::Forbidden(_) => ErrorCode::Forbidden,
        Rejection::Text(_) => ErrorCode::InvalidText,
        Rejection::Together(e) => match e {
            ReadySkipError::NotAHost => ErrorCode::Forbidden,
            ReadySkipError::Playing => ErrorCode::RoomPlaying,
            ReadySkipError::VoteSkipOff => ErrorCode::VoteSkipOff,
            ReadySkipError::NothingToSkip => ErrorCode::NothingToSkip,
        },
        Rejection::Permanent(p) => super::permanent::error_code(p),
    };
    error_msg(code, rejection.to_string(), Some(seq))
}

pub(super) fn error_msg(
    code: ErrorCode,
    message: impl Into<String>,
    seq: Option<u32>,
) -> ServerMsg {
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
