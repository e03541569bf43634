//! A connection's permanent-room messages: keep the room (with a short name), make it
//! temporary again, end it (see [`crate::sessions::Sessions::make_permanent`]). Applied at
//! once (they are rare and host-only), within the connection's command budget; the answer is
//! the usual one of a command (the new state reaches everyone; a refusal is a typed error).

use super::messages::error_msg;
use super::{Conn, End, Reader};
use crate::hub::Hub;
use crate::metrics::CommandKind;
use crate::sessions::PermanentRefusal;
use watchparty_core::permanent::AliasError;
use watchparty_core::protocol::{Cause, ErrorCode, ServerMsg};

/// What a permanent-room message asks for.
pub(super) enum Ask<'a> {
    /// Keep the room, optionally under this name.
    Keep(Option<&'a str>),
    /// Make it temporary again.
    Release,
    /// End it.
    End,
}

impl Conn {
    /// Handles one permanent-room message `seq`; the reply to send, if any.
    pub(super) async fn on_permanent(
        &mut self,
        hub: &Hub,
        reader: &mut Reader,
        seq: u32,
        ask: Ask<'_>,
        mono: f64,
    ) -> Result<Option<ServerMsg>, End> {
        if !reader.commands.try_take(mono) {
            return Ok(Some(error_msg(
                ErrorCode::RateLimited,
                "too many commands; slow down",
                Some(seq),
            )));
        }
        let cause = Cause {
            conn_id: self.conn_id,
            seq,
        };
        let sessions = self.sessions.clone();
        let result = match ask {
            Ask::Keep(name) => sessions.make_permanent(hub, cause, &self.kid, name).await,
            Ask::Release => sessions.make_temporary(hub, cause, &self.kid).await,
            Ask::End => {
                return Ok(match sessions.end_room(hub, &self.kid).await {
                    // The connection closes with `close::SESSION_ENDED` (the hub ended).
                    Ok(()) => None,
                    Err(e) => Some(super::messages::rejection_msg(&e, seq)),
                });
            }
        };
        self.finish_command(seq, cause, CommandKind::Other, result)?;
        Ok(None)
    }
}

/// The error code of a refused keep.
pub(super) fn error_code(refusal: &PermanentRefusal) -> ErrorCode {
    match refusal {
        PermanentRefusal::HostLimit(_) | PermanentRefusal::Limit(_) => ErrorCode::PermanentLimit,
        PermanentRefusal::NameTaken(_) => ErrorCode::NameTaken,
        PermanentRefusal::Name(AliasError::Reserved) => ErrorCode::ReservedRoomName,
        PermanentRefusal::Name(_) => ErrorCode::InvalidRoomName,
    }
}
