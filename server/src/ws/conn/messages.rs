//! What a connection does with one message from its client: the message limits, the answers
//! (pongs, errors), names, health reports, chat and reactions, and the room commands queued to
//! be applied one at a time (see the parent module).

use super::{Conn, End, Reader, FLOOD_STRIKES, MAX_ERROR_TEXT, MAX_QUEUED_COMMANDS};
use crate::metrics::{CommandKind, CommandOutcome};
use crate::sessions::Rejection;
use crate::wire::{Incoming, Prepared};
use std::sync::Arc;
use watchparty_core::protocol::{close, ClientMsg, ErrorCode, ServerMsg};

impl Conn {
    /// Handles one message from the client.
    pub(super) async fn handle(
        &mut self,
        hub: &Arc<crate::hub::Hub>,
        reader: &mut Reader,
        msg: Incoming,
    ) -> Result<(), End> {
        let received = self.sessions.now_ms();
        let mono = self.sessions.monotonic_ms();
        let text = match msg {
            Incoming::Text(t) => t,
            Incoming::Binary => {
                if !Self::over_limit(reader, mono)? {
                    let err = error_msg(
                        ErrorCode::BadMessage,
                        "binary frames are not supported",
                        None,
                    );
                    self.send_msg(&err);
                }
                return Ok(());
            }
            Incoming::Close(frame) => {
                // Answer the peer's Close by echoing its code and reason (the decoder let only
                // codes that may be on the wire through); an empty Close gets an empty one.
                // Then drop the socket.
                let answer = match frame {
                    Some(f) => Prepared::close(f.code, &f.reason),
                    None => Prepared::close_empty(),
                };
                self.viewer.send_close(&answer);
                let _ = self.viewer.flush();
                return Err(End::Drop);
            }
            // Control frames count against the message limit too (a ping flood costs the
            // server a pong each).
            Incoming::Ping(payload) => {
                if !Self::over_limit(reader, mono)? {
                    self.viewer.send(&Prepared::pong(&payload), None, None);
                }
                return Ok(());
            }
            Incoming::Pong => {
                Self::over_limit(reader, mono)?;
                return Ok(());
            }
        };
        if Self::over_limit(reader, mono)? {
            let err = error_msg(ErrorCode::RateLimited, "too many messages", None);
            self.send_msg(&err);
            return Ok(());
        }
        let settings = self.sessions.settings();
        let reply = match serde_json::from_str::<ClientMsg>(&text) {
            Err(e) => Some(error_msg(ErrorCode::BadMessage, e.to_string(), None)),
            Ok(ClientMsg::Ping { t0 }) => {
                reader.strikes = 0;
                Some(ServerMsg::Pong {
                    t0,
                    t1: received,
                    t2: self.sessions.now_ms(),
                })
            }
            Ok(ClientMsg::Health { error_ms }) => {
                let metrics = self.sessions.metrics();
                if reader.reports.admit(std::time::Instant::now()) {
                    metrics.client_error_ms(error_ms);
                } else {
                    metrics.client_reports_dropped.inc();
                }
                None
            }
            Ok(ClientMsg::Ended { video_id }) => {
                let recorded = hub.witness_end(&video_id, self.sessions.now_ms());
                tracing::debug!(%video_id, recorded, "a player reported the end");
                None
            }
            Ok(ClientMsg::Status { status }) => {
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
            Ok(ClientMsg::Name { seq, name }) => {
                match watchparty_core::names::validate_name(&name, settings.max_name_chars) {
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
                if let Err(e) = watchparty_core::chat::validate_text(&text, settings.max_chat_chars)
                {
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
                        .chat(hub, &self.kid, self.name.as_deref(), &text)
                        .await;
                    r.err().map(|e| rejection_msg(&e, seq))
                }
            }
            Ok(ClientMsg::React { seq, emoji, at }) => {
                if !reader.react.try_take(mono) {
                    Some(error_msg(
                        ErrorCode::RateLimited,
                        "too many reactions; slow down",
                        Some(seq),
                    ))
                } else {
                    let r = self
                        .sessions
                        .react(hub, &self.kid, self.name.as_deref(), &emoji, at)
                        .await;
                    r.err().map(|e| rejection_msg(&e, seq))
                }
            }
            Ok(ClientMsg::DeleteChat { seq, id }) => {
                if !reader.commands.try_take(mono) {
                    Some(error_msg(
                        ErrorCode::RateLimited,
                        "too many commands; slow down",
                        Some(seq),
                    ))
                } else {
                    let r = self.sessions.delete_chat(hub, &self.kid, id).await;
                    r.err().map(|e| rejection_msg(&e, seq))
                }
            }
            Ok(msg) => match msg.room_command() {
                None => None,
                Some((seq, base, cmd)) => {
                    if !reader.commands.try_take(mono) {
                        self.sessions
                            .metrics()
                            .command(CommandKind::of_room(&cmd), CommandOutcome::RateLimited);
                        reader.strikes += 1;
                        if reader.strikes >= FLOOD_STRIKES {
                            return Err(End::Close(close::POLICY, "flooding"));
                        }
                        Some(error_msg(
                            ErrorCode::RateLimited,
                            "too many commands; slow down",
                            Some(seq),
                        ))
                    } else if reader.queued.len() >= MAX_QUEUED_COMMANDS {
                        self.sessions
                            .metrics()
                            .command(CommandKind::of_room(&cmd), CommandOutcome::RateLimited);
                        Some(error_msg(
                            ErrorCode::RateLimited,
                            "too many commands in flight; slow down",
                            Some(seq),
                        ))
                    } else {
                        reader.strikes = 0;
                        reader.queued.push_back((seq, base, cmd));
                        None
                    }
                }
            },
        };
        if let Some(reply) = reply {
            self.send_msg(&reply);
        }
        Ok(())
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
        Rejection::Queue(watchparty_core::queue::QueueError::InvalidStart) => {
            ErrorCode::InvalidValue
        }
        Rejection::Forbidden(_) => ErrorCode::Forbidden,
        Rejection::Text(_) => ErrorCode::InvalidText,
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
