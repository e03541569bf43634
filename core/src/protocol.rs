//! The WebSocket protocol between browser and server (JSON text frames), shared by both sides,
//! the integration tests and the load generator. See `docs/protocol.md` for an example exchange.
//!
//! A viewer opens `GET /ws/{session_id}`; the server answers with [`ServerMsg::Hello`]. Every
//! accepted change is broadcast as [`ServerMsg::State`] to every viewer of the session, in
//! revision order, including the sender (who recognises its own echo by `cause`).

use crate::chat::{ChatLine, Reaction};
use crate::ids::{SessionId, VideoId};
use crate::playback::{Command, PlaybackState};
use crate::queue::{ItemId, QueueEdit};
use crate::ready_skip::TogetherCommand;
use crate::rights::{Kid, RightsCommand};
use crate::room::RoomCommand;
use crate::together::RoomSettings;
use serde::{Deserialize, Serialize};

/// Largest text frame a client may send, in bytes.
pub const MAX_CLIENT_FRAME: usize = 4096;

/// Where a viewer's socket connects: `/ws/{session_id}`.
pub const WS_PATH: &str = "/ws/";
/// The subprotocol a browser offers and the server answers with.
pub const SUBPROTOCOL: &str = "wp1";
/// Prefix of the subprotocol token that carries the viewer's private key (`k.<key>`, offered
/// next to [`SUBPROTOCOL`]; see [`crate::rights`]).
pub const KEY_PROTOCOL_PREFIX: &str = "k.";

pub use crate::ids::ConnId;

/// Messages a browser sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMsg {
    /// Clock probe: `t0` is the client's clock (ms) when sent; answered by [`ServerMsg::Pong`].
    Ping {
        /// Client send time, ms, client clock.
        t0: f64,
    },
    /// Play from `position`, the position the sender's player showed.
    Play {
        /// Client sequence number, echoed in the resulting `State`/`Error`.
        seq: u32,
        /// The revision the sender had seen.
        base_revision: u64,
        /// Seconds.
        position: f64,
    },
    /// Pause at `position`, the position the sender's player showed.
    Pause {
        /// Client sequence number.
        seq: u32,
        /// The revision the sender had seen.
        base_revision: u64,
        /// Seconds.
        position: f64,
    },
    /// Jump to `position`; play/pause stays as it is.
    Seek {
        /// Client sequence number.
        seq: u32,
        /// The revision the sender had seen.
        base_revision: u64,
        /// Seconds.
        position: f64,
    },
    /// Change the playback rate.
    Rate {
        /// Client sequence number.
        seq: u32,
        /// The revision the sender had seen.
        base_revision: u64,
        /// 0.25 ..= 2.0.
        rate: f64,
    },
    /// The sender's player learned the video length (first report wins).
    Duration {
        /// Client sequence number.
        seq: u32,
        /// Seconds.
        seconds: f64,
        /// The video measured; when given, a report for a video the session no longer plays
        /// is ignored.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        video_id: Option<VideoId>,
    },
    /// Edit the room's queue. No base revision: applied to the newest queue, so concurrent
    /// edits all survive (see `crate::room`).
    Queue {
        /// Client sequence number.
        seq: u32,
        /// The edit.
        edit: QueueEdit,
    },
    /// Play a queued item now (a playback change: first command per revision wins).
    PlayNow {
        /// Client sequence number.
        seq: u32,
        /// The revision the sender had seen.
        base_revision: u64,
        /// The queued item.
        item: ItemId,
    },
    /// This viewer's display name (validated: length, no control characters). Acknowledged
    /// only by an `invalid_name` error when refused.
    Name {
        /// Client sequence number.
        seq: u32,
        /// The name.
        name: String,
    },
    /// Switch the room to another video (first command per revision wins, like `seek`).
    Video {
        /// Client sequence number.
        seq: u32,
        /// The revision the sender had seen.
        base_revision: u64,
        /// The new video.
        video_id: VideoId,
        /// Where to start it (seconds).
        position: f64,
    },
    /// This viewer's health as its own client sees it, for the room's list ("who is here").
    /// Sent on changes only, at most once a second (see `crate::health::Reporter`); an in-sync
    /// figure must be within ±`IN_SYNC_MS`. Never answered unless invalid.
    Status {
        /// The health.
        status: crate::health::Health,
    },
    /// A host's change of rights: lock, co-host, hand over, remove (see `crate::rights`).
    /// Applied to the newest state (no base); refused with `forbidden` for non-hosts.
    Host {
        /// Client sequence number.
        seq: u32,
        /// The change.
        cmd: RightsCommand,
    },
    /// A chat message (text only; see `crate::chat`). Answered only by an error when refused;
    /// accepted lines reach everyone, the sender included, as `chat`.
    Chat {
        /// Client sequence number.
        seq: u32,
        /// The text.
        text: String,
    },
    /// A host deletes a chat message.
    DeleteChat {
        /// Client sequence number.
        seq: u32,
        /// The message's id.
        id: u64,
    },
    /// A reaction at the sender's video moment `at` (s).
    React {
        /// Client sequence number.
        seq: u32,
        /// One of `crate::chat::REACTIONS`.
        emoji: String,
        /// The sender's player position (s).
        at: f64,
    },
    /// The sender's player reached the end of the room's video (`YT.PlayerState.ENDED`), sent
    /// once per playback revision: the witness the room's end needs (an ad never reports
    /// ENDED, while its duration can pass for the video's). Never answered; ignored unless the
    /// room plays `video_id` and its clock is at the end.
    Ended {
        /// The video the player finished.
        video_id: VideoId,
    },
    /// A host replaces the room's settings (see `crate::together`). Applied to the newest
    /// state (no base); refused with `forbidden` for non-hosts.
    Settings {
        /// Client sequence number.
        seq: u32,
        /// The new settings.
        settings: RoomSettings,
    },
    /// A host opens (`open: true`, only while paused: else `room_playing`) or cancels the
    /// ready check ("Everyone ready?"; see `crate::ready_skip`). No base; `forbidden` for
    /// non-hosts.
    ReadyCheck {
        /// Client sequence number.
        seq: u32,
        /// Open or cancel.
        open: bool,
    },
    /// The sender is ready (or not) in the open ready check. No base: concurrent readies all
    /// survive; without an open check it changes nothing.
    Ready {
        /// Client sequence number.
        seq: u32,
        /// Ready or not.
        ready: bool,
    },
    /// The sender votes to skip the current video (`vote: false` takes the vote back).
    /// `round` is the state's `ready_skip.round` the sender saw: a vote for an older round
    /// changes nothing. No base: concurrent votes all survive, and the vote that crosses the
    /// quorum plays the next queued item in the same change. Refused with `vote_skip_off` or
    /// `nothing_to_skip`.
    VoteSkip {
        /// Client sequence number.
        seq: u32,
        /// The skip round (the video) voted on.
        round: u64,
        /// Vote or take back.
        vote: bool,
    },
    /// What this viewer's player needs to start at a scheduled moment (ms): half its round
    /// trip plus its learned start latency (see [`crate::start`]). Sent after connecting and
    /// when it moves by [`crate::start::NEED_STEP_MS`]; never answered unless invalid.
    StartNeed {
        /// Milliseconds, 0 ..= [`crate::start::MAX_NEED_MS`].
        ms: f64,
    },
    /// "Start now": end the room's hold (made at revision `hold`) and play at once (see
    /// `crate::hold`; a control command, so hosts only in a "hosts control" room). Baseless:
    /// it names the hold, so it changes nothing once that hold is over.
    StartNow {
        /// Client sequence number.
        seq: u32,
        /// The revision that made the hold (`state.hold.active.revision`).
        hold: u64,
    },
    /// The viewer's own sync error as its client measures it (the badge figure), for the
    /// operators' histogram. Counted at most once per 5 s per connection; never answered.
    Health {
        /// Milliseconds between the player's position and the shared one (sign ignored).
        error_ms: f64,
    },
    /// The host keeps the room: it no longer expires (see [`crate::permanent`]), optionally
    /// under a short name (`/r/<name>`; renames a permanent room). Host only (`forbidden`);
    /// refused with `permanent_limit`, `name_taken`, `invalid_room_name` or
    /// `reserved_room_name`.
    MakePermanent {
        /// Client sequence number.
        seq: u32,
        /// The short name (validated by the server), or none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// The host makes a permanent room temporary again (it expires like any room; its name is
    /// freed). Host only.
    MakeTemporary {
        /// Client sequence number.
        seq: u32,
    },
    /// The host ends the room: its state, chat and name are deleted and every viewer is closed
    /// with `close::SESSION_ENDED`. Host only.
    EndRoom {
        /// Client sequence number.
        seq: u32,
    },
}

impl ClientMsg {
    /// The room change this message asks for: `(seq, base_revision, command)` (queue edits
    /// have base 0: they have none).
    pub fn room_command(&self) -> Option<(u32, u64, RoomCommand)> {
        match self {
            ClientMsg::Queue { seq, edit } => Some((*seq, 0, RoomCommand::Queue(edit.clone()))),
            ClientMsg::Host { seq, cmd } => Some((*seq, 0, RoomCommand::Rights(cmd.clone()))),
            ClientMsg::Settings { seq, settings } => Some((
                *seq,
                0,
                RoomCommand::Together(TogetherCommand::Settings(*settings)),
            )),
            ClientMsg::ReadyCheck { seq, open } => Some((
                *seq,
                0,
                RoomCommand::Together(TogetherCommand::Check { open: *open }),
            )),
            ClientMsg::Ready { seq, ready } => Some((
                *seq,
                0,
                RoomCommand::Together(TogetherCommand::Ready { ready: *ready }),
            )),
            ClientMsg::StartNow { seq, hold } => {
                Some((*seq, 0, RoomCommand::Release { from: *hold }))
            }
            // The vote needs the room's viewer count: the server builds it (`vote_skip`).
            ClientMsg::VoteSkip { .. } => None,
            ClientMsg::PlayNow {
                seq,
                base_revision,
                item,
            } => Some((*seq, *base_revision, RoomCommand::PlayNow { item: *item })),
            other => other
                .command()
                .map(|(seq, base, c)| (seq, base, RoomCommand::Playback(c))),
        }
    }

    /// The state change this message asks for: `(seq, base_revision, command)`.
    pub fn command(&self) -> Option<(u32, u64, Command)> {
        match *self {
            ClientMsg::Ping { .. }
            | ClientMsg::Queue { .. }
            | ClientMsg::PlayNow { .. }
            | ClientMsg::Name { .. }
            | ClientMsg::Host { .. }
            | ClientMsg::Chat { .. }
            | ClientMsg::DeleteChat { .. }
            | ClientMsg::React { .. }
            | ClientMsg::Status { .. }
            | ClientMsg::Ended { .. }
            | ClientMsg::Settings { .. }
            | ClientMsg::ReadyCheck { .. }
            | ClientMsg::Ready { .. }
            | ClientMsg::VoteSkip { .. }
            | ClientMsg::StartNow { .. }
            | ClientMsg::Health { .. }
            | ClientMsg::MakePermanent { .. }
            | ClientMsg::MakeTemporary { .. }
            | ClientMsg::EndRoom { .. }
            | ClientMsg::StartNeed { .. } => None,
            ClientMsg::Play {
                seq,
                base_revision,
                position,
            } => Some((seq, base_revision, Command::Play { position })),
            ClientMsg::Pause {
                seq,
                base_revision,
                position,
            } => Some((seq, base_revision, Command::Pause { position })),
            ClientMsg::Seek {
                seq,
                base_revision,
                position,
            } => Some((seq, base_revision, Command::Seek { position })),
            ClientMsg::Rate {
                seq,
                base_revision,
                rate,
            } => Some((seq, base_revision, Command::Rate { rate })),
            ClientMsg::Duration {
                seq,
                seconds,
                video_id: None,
            } => Some((seq, 0, Command::Duration { seconds })),
            ClientMsg::Duration {
                seq,
                seconds,
                video_id: Some(video_id),
            } => Some((seq, 0, Command::VideoDuration { video_id, seconds })),
            ClientMsg::Video {
                seq,
                base_revision,
                video_id,
                position,
            } => Some((seq, base_revision, Command::Video { video_id, position })),
        }
    }

    /// Builds the message for `command`.
    pub fn from_command(seq: u32, base_revision: u64, command: Command) -> Self {
        match command {
            Command::Play { position } => ClientMsg::Play {
                seq,
                base_revision,
                position,
            },
            Command::Pause { position } => ClientMsg::Pause {
                seq,
                base_revision,
                position,
            },
            Command::Seek { position } => ClientMsg::Seek {
                seq,
                base_revision,
                position,
            },
            Command::Rate { rate } => ClientMsg::Rate {
                seq,
                base_revision,
                rate,
            },
            Command::Duration { seconds } => ClientMsg::Duration {
                seq,
                seconds,
                video_id: None,
            },
            Command::VideoDuration { video_id, seconds } => ClientMsg::Duration {
                seq,
                seconds,
                video_id: Some(video_id),
            },
            Command::Video { video_id, position } => ClientMsg::Video {
                seq,
                base_revision,
                video_id,
                position,
            },
        }
    }
}

/// Which connection (and which of its commands) caused a state change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cause {
    /// The sender's connection id.
    pub conn_id: ConnId,
    /// The sender's sequence number for that command.
    pub seq: u32,
}

/// Messages the server sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// First message on a connection: who you are, the state, and the server clock.
    Hello {
        /// This connection's id (compare with `Cause::conn_id`).
        conn_id: ConnId,
        /// The session.
        session_id: SessionId,
        /// Server time (ms since the Unix epoch) when this was sent.
        server_time: f64,
        /// The authoritative state.
        state: PlaybackState,
        /// Viewers connected to the session.
        viewers: u32,
        /// This viewer's public id (derived from the key it presented; see `crate::rights`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kid: Option<Kid>,
    },
    /// Sent after `hello`: the session's kept chat lines and reactions, oldest first.
    History {
        /// Chat lines (the last `chat_kept`).
        chat: Vec<ChatLine>,
        /// Reactions (the last `reactions_kept`).
        reactions: Vec<Reaction>,
    },
    /// A chat message (also to its sender).
    Chat(ChatLine),
    /// A host deleted a chat message.
    ChatDeleted {
        /// The message's id.
        id: u64,
    },
    /// A reaction (also to its sender): show it when the viewer's video reaches `at`.
    Reaction(Reaction),
    /// Answer to [`ClientMsg::Ping`] (NTP-style: offset = ((t1 - t0) + (t2 - t3)) / 2).
    Pong {
        /// The client's send time, echoed.
        t0: f64,
        /// Server receive time (ms).
        t1: f64,
        /// Server send time (ms).
        t2: f64,
    },
    /// The state changed (or is re-sent): apply it.
    State {
        /// The full authoritative state.
        state: PlaybackState,
        /// Who caused it; `None` for server-side changes.
        cause: Option<Cause>,
    },
    /// The number of viewers changed.
    Presence {
        /// Viewers connected to the session, over all server instances.
        viewers: u32,
    },
    /// Who is here: the room's list of viewers and their health (see `crate::roster`). The
    /// first one after `hello` is `full`; later ones are deltas, applied only when `v` is newer.
    Roster {
        /// Version of this view (per server instance).
        v: u64,
        /// `true`: `members` is the whole list; `false`: a delta.
        full: bool,
        /// Members added or changed (the whole list when `full`), in join order.
        members: Vec<crate::roster::Member>,
        /// Members who left the list.
        #[serde(default)]
        gone: Vec<ConnId>,
        /// Health counts over the whole room (the list shows only the first names).
        counts: crate::roster::Counts,
    },
    /// A message was rejected; nothing changed.
    Error {
        /// Machine-readable reason.
        code: ErrorCode,
        /// Human-readable explanation.
        message: String,
        /// The `seq` of the rejected command, when there was one.
        seq: Option<u32>,
    },
}

/// Why the server rejected a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not valid JSON or not a known message.
    BadMessage,
    /// Frame larger than [`MAX_CLIENT_FRAME`].
    TooLarge,
    /// Too many commands; slow down.
    RateLimited,
    /// A number out of range or not finite.
    InvalidValue,
    /// Based on an older revision: someone else's change won. The latest `State` follows.
    Stale,
    /// The session does not exist (or expired).
    UnknownSession,
    /// The store is unreachable; try again.
    Unavailable,
    /// A queue edit named an item that is not in the queue (removed or played meanwhile).
    UnknownItem,
    /// The queue holds `max_queue_len` items already.
    QueueFull,
    /// A display name that is empty, too long or contains control characters.
    InvalidName,
    /// The sender lacks the right (a locked room, a host-only action, a removed viewer).
    Forbidden,
    /// A chat message or reaction that is empty, too long, has control characters, or is not
    /// one of the offered reactions.
    InvalidText,
    /// A ready check was asked for while the room plays (it starts while paused).
    RoomPlaying,
    /// A vote to skip in a room whose "vote to skip" setting is off.
    VoteSkipOff,
    /// A vote to skip with nothing queued after the video.
    NothingToSkip,
    /// Making the room permanent would pass a cap (`max_permanent_rooms_per_host` or
    /// `max_permanent_rooms`).
    PermanentLimit,
    /// Another permanent room has this short name (names ignore case).
    NameTaken,
    /// A short name that is too short or long or has characters other than a-z, 0-9 and
    /// single inner hyphens.
    InvalidRoomName,
    /// A short name that is a reserved word (a page of the site).
    ReservedRoomName,
}

/// WebSocket close codes the server uses.
pub mod close {
    /// Server shutting down; reconnect elsewhere.
    pub const GOING_AWAY: u16 = 1001;
    /// Policy violation: bad origin or persistent flooding.
    pub const POLICY: u16 = 1008;
    /// Frame too large.
    pub const TOO_BIG: u16 = 1009;
    /// Internal error.
    pub const INTERNAL: u16 = 1011;
    /// The viewer could not keep up with broadcasts; reconnect and resync.
    pub const TOO_SLOW: u16 = 4008;
    /// No such session.
    pub const UNKNOWN_SESSION: u16 = 4404;
    /// No pong to the server's heartbeat in time.
    pub const HEARTBEAT_TIMEOUT: u16 = 4000;
    /// The watch party has ended: its state is gone from the store (expired, or Redis lost its
    /// data). Final: show "this watch party has ended", do not reconnect.
    pub const SESSION_ENDED: u16 = 4410;
    /// A host removed this viewer: do not reconnect (the server refuses this browser's key for
    /// `removal_secs`).
    pub const REMOVED: u16 = 4403;
    /// The reason sent with [`SESSION_ENDED`] when a host ended the room (the page says so).
    pub const ENDED_BY_HOST: &str = "a host ended this room";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_round_trip_and_reject_junk() {
        let m: ClientMsg =
            serde_json::from_str(r#"{"type":"seek","seq":3,"base_revision":9,"position":12.5}"#)
                .unwrap();
        assert_eq!(m.command(), Some((3, 9, Command::Seek { position: 12.5 })));
        let back = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<ClientMsg>(&back).unwrap(), m);
        for junk in [
            "",
            "{}",
            r#"{"type":"explode"}"#,
            r#"{"type":"seek","seq":1,"base_revision":1}"#,
            r#"{"type":"seek","seq":-1,"base_revision":1,"position":1}"#,
            r#"{"type":"ping","t0":1,"extra":true}"#,
            r#"{"type":"video","seq":1,"base_revision":1,"video_id":"<script>x</s","position":0}"#,
            r#"{"type":"video","seq":1,"base_revision":1,"video_id":"dQw4w9WgXcQ"}"#,
        ] {
            assert!(serde_json::from_str::<ClientMsg>(junk).is_err(), "{junk}");
        }
    }

    #[test]
    fn video_and_duration_messages() {
        let m: ClientMsg = serde_json::from_str(
            r#"{"type":"video","seq":4,"base_revision":2,"video_id":"9bZkp7q19f0","position":90}"#,
        )
        .unwrap();
        let v = VideoId::parse("9bZkp7q19f0").unwrap();
        assert_eq!(
            m.command(),
            Some((
                4,
                2,
                Command::Video {
                    video_id: v,
                    position: 90.0
                }
            ))
        );
        // Old clients send no video id; new ones name the video they measured.
        let old: ClientMsg =
            serde_json::from_str(r#"{"type":"duration","seq":1,"seconds":5}"#).unwrap();
        assert_eq!(
            old.command(),
            Some((1, 0, Command::Duration { seconds: 5.0 }))
        );
        let new = ClientMsg::from_command(
            2,
            0,
            Command::VideoDuration {
                video_id: v,
                seconds: 5.0,
            },
        );
        assert_eq!(
            serde_json::to_string(&new).unwrap(),
            r#"{"type":"duration","seq":2,"seconds":5.0,"video_id":"9bZkp7q19f0"}"#
        );
    }

    #[test]
    fn queue_messages() {
        let m: ClientMsg = serde_json::from_str(
            r#"{"type":"queue","seq":3,"edit":{"op":"add","video_id":"9bZkp7q19f0","start":30}}"#,
        )
        .unwrap();
        assert!(matches!(
            m.room_command(),
            Some((3, 0, RoomCommand::Queue(QueueEdit::Add { start, .. }))) if start == 30.0
        ));
        let m: ClientMsg =
            serde_json::from_str(r#"{"type":"play_now","seq":4,"base_revision":7,"item":2}"#)
                .unwrap();
        assert_eq!(
            m.room_command(),
            Some((4, 7, RoomCommand::PlayNow { item: ItemId(2) }))
        );
        for junk in [
            r#"{"type":"queue","seq":3,"edit":{"op":"explode"}}"#,
            r#"{"type":"queue","seq":3,"edit":{"op":"remove","item":-1}}"#,
            r#"{"type":"queue","seq":3}"#,
        ] {
            assert!(serde_json::from_str::<ClientMsg>(junk).is_err(), "{junk}");
        }
    }

    #[test]
    fn host_chat_and_reaction_messages() {
        let m: ClientMsg =
            serde_json::from_str(r#"{"type":"host","seq":5,"cmd":{"op":"lock","locked":true}}"#)
                .unwrap();
        assert_eq!(
            m.room_command(),
            Some((
                5,
                0,
                RoomCommand::Rights(RightsCommand::Lock { locked: true })
            ))
        );
        let m: ClientMsg =
            serde_json::from_str(r#"{"type":"react","seq":1,"emoji":"🔥","at":12.0}"#).unwrap();
        assert!(m.room_command().is_none());
        for junk in [
            r#"{"type":"host","seq":5,"cmd":{"op":"remove","kid":"not-a-kid"}}"#,
            r#"{"type":"host","seq":5,"cmd":{"op":"lock"}}"#,
            r#"{"type":"chat","seq":1}"#,
            r#"{"type":"delete_chat","seq":1,"id":-3}"#,
        ] {
            assert!(serde_json::from_str::<ClientMsg>(junk).is_err(), "{junk}");
        }
        // Chat events start with their id, so a store can find one by prefix.
        let line = ChatLine {
            id: 77,
            kid: Kid::parse(&"a".repeat(32)).unwrap(),
            name: "Ana".into(),
            text: "<b>hi</b>".into(),
            video_id: VideoId::parse("9bZkp7q19f0").unwrap(),
            at: 12.5,
        };
        let text = serde_json::to_string(&ServerMsg::Chat(line.clone())).unwrap();
        assert!(text.starts_with(r#"{"type":"chat","id":77,"#), "{text}");
        // History is built by joining stored event texts.
        let history = format!(r#"{{"type":"history","chat":[{text}],"reactions":[]}}"#);
        assert_eq!(
            serde_json::from_str::<ServerMsg>(&history).unwrap(),
            ServerMsg::History {
                chat: vec![line],
                reactions: vec![]
            }
        );
    }

    #[test]
    fn permanence_messages() {
        let m: ClientMsg =
            serde_json::from_str(r#"{"type":"make_permanent","seq":1,"name":"Friday"}"#).unwrap();
        assert_eq!(
            m,
            ClientMsg::MakePermanent {
                seq: 1,
                name: Some("Friday".into())
            }
        );
        assert!(m.room_command().is_none());
        let m: ClientMsg = serde_json::from_str(r#"{"type":"make_permanent","seq":2}"#).unwrap();
        assert_eq!(m, ClientMsg::MakePermanent { seq: 2, name: None });
        for text in [
            r#"{"type":"make_temporary","seq":3}"#,
            r#"{"type":"end_room","seq":4}"#,
        ] {
            let m: ClientMsg = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::to_string(&m).unwrap(), text);
        }
        assert_eq!(
            serde_json::to_string(&ErrorCode::ReservedRoomName).unwrap(),
            r#""reserved_room_name""#
        );
    }

    #[test]
    fn from_command_inverts_command() {
        for c in [
            Command::Play { position: 1.0 },
            Command::Pause { position: 2.0 },
            Command::Seek { position: 3.0 },
            Command::Rate { rate: 1.5 },
            Command::Video {
                video_id: VideoId::parse("9bZkp7q19f0").unwrap(),
                position: 7.0,
            },
        ] {
            assert_eq!(ClientMsg::from_command(4, 5, c).command(), Some((4, 5, c)));
        }
    }
}
