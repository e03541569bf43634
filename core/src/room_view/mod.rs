//! The browser's view of its room, as a pure state machine beside the sync [`Engine`]: who is
//! here ([`Roster`]), this viewer's public id and the room's rights, the queue and the video as
//! the page shows them, the chat lines and notices the page lists, the reactions still to float
//! (a [`ReactionTrack`]), this viewer's reported health, and the sequence numbers of what it
//! sends.
//!
//! The runtime (`app/src/client/runtime.rs`) is a thin driver: it hands every server message to
//! [`RoomView::on_message`] (which forwards what the engine needs), calls [`RoomView::observe`]
//! after each engine step, and carries out the [`Output`]: messages to send and
//! [`ViewEvent`]s for the page. No browser types here, so all of it is tested natively.

use crate::chat::{ChatLine, Reaction, ReactionTrack, MAX_PLAY_STEP};
use crate::health::{classify, Health, Observed, Reporter};
use crate::ids::{ConnId, VideoId};
use crate::notices::{describe, Author, Notice, What, Who};
use crate::playback::PlaybackState;
use crate::protocol::{Cause, ClientMsg, ErrorCode, ServerMsg};
use crate::queue::{Queue, QueueEdit};
use crate::rights::{Kid, Rights, RightsCommand};
use crate::roster::Roster;
use crate::sync::{Engine, PlayerState, RateControl, Reading, SyncStats};

#[cfg(test)]
mod tests;
pub mod together;

/// What the page shows, as the room view (and the runtime) tell it.
#[derive(Clone, Debug, PartialEq)]
pub enum ViewEvent {
    /// New numbers for the badge and the viewer count.
    Stats(SyncStats),
    /// Show or hide "Join playback".
    ShowJoin(bool),
    /// The player's error message (or none).
    PlayerError(Option<String>),
    /// The session no longer exists (expired, or lost by the store): show "This watch party
    /// has ended"; the runtime stopped reconnecting.
    Ended,
    /// [`ViewEvent::Ended`] because a host ended the room (the close said so).
    EndedByHost,
    /// The room's video changed, or its title became known: `(video id, title)`.
    Video(String, Option<String>),
    /// The room's queue changed.
    Queue(Queue),
    /// A room request (queue edit, play now) was refused, for this reason (the page words it;
    /// the server's English message is for logs).
    RoomError(ErrorCode),
    /// This viewer's playlist import landed: what it did ("Added 3 videos", see
    /// `crate::playlist::summary`).
    Imported(crate::playlist::ImportSummary),
    /// The notices to list, newest first (at most [`MAX_NOTICES`]), each with a key.
    Notices(Vec<(u64, Notice)>),
    /// Who is here changed (see `crate::roster`).
    Roster(Roster),
    /// This viewer's public id, as the server told in `hello`.
    Kid(Option<Kid>),
    /// The room's rights changed (hosts, "hosts control").
    Rights(Rights),
    /// A host removed this viewer (close 4403): show it; the runtime stopped reconnecting.
    Removed,
    /// This viewer changed playback in the player (or asked to) while only hosts control the
    /// room: the change was undone (or refused by the server).
    ControlRefused,
    /// A host request (lock, co-host, hand over, remove) was refused, for this reason.
    HostError(ErrorCode),
    /// The chat lines to list, oldest first (at most [`MAX_LINES`]).
    Chat(Vec<ChatLine>),
    /// A chat message or reaction was refused, for this reason.
    ChatError(ErrorCode),
    /// Reactions to float over the player now (this viewer's video reached their moment).
    Reactions(Vec<Reaction>),
    /// The room's settings, ready check or skip votes changed (see [`together`]).
    Together(crate::together::RoomSettings, crate::ready_skip::ReadySkip),
    /// The room's hold ("Waiting for Ana, Ben…", see `crate::hold`) began, changed or ended.
    Hold(Option<crate::hold::Hold>),
    /// The room became permanent, was renamed or became temporary (see `crate::permanent`).
    Permanent(Option<crate::permanent::Permanence>),
}

/// What to do after a step of the room view.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Output {
    /// Messages to send to the server, in order.
    pub send: Vec<ClientMsg>,
    /// What to tell the page, in order (after sending).
    pub events: Vec<ViewEvent>,
    /// The message, for the sync engine (after sending and telling).
    pub forward: Option<ServerMsg>,
    /// A reaction ahead of this viewer's video arrived: check the reactions due (with a fresh
    /// reading) to arm the timer for its moment.
    pub check_reactions: bool,
}

/// Chat lines kept on the page (older ones scroll away for good).
pub const MAX_LINES: usize = 200;
/// Notices kept on the page.
pub const MAX_NOTICES: usize = 4;
/// Reactions a viewer keeps for replays (the server keeps at most its own `reactions_kept`).
pub const REACTIONS_KEPT: usize = 500;

/// Sequence numbers: the top two bits tell what a `seq` (echoed in an error) was for. The sync
/// engine's commands count from 0; room requests (queue, play now, name) have the top bits
/// `01`, host requests `10`, chat lines and reactions `11`.
pub const ROOM_SEQ_BASE: u32 = 1 << 30;
/// Host requests' sequence numbers (see [`ROOM_SEQ_BASE`]).
pub const HOST_SEQ_BASE: u32 = 2 << 30;
/// Chat lines' and reactions' sequence numbers (see [`ROOM_SEQ_BASE`]).
pub const CHAT_SEQ_BASE: u32 = 3 << 30;

/// What a sequence number was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqKind {
    /// A sync engine command (playback).
    Sync,
    /// A room request: queue edit, play now, name.
    Room,
    /// A host request.
    Host,
    /// A chat line, a deletion or a reaction.
    Chat,
}

impl SeqKind {
    /// The kind of `seq`, by its top two bits.
    pub fn of(seq: u32) -> Self {
        match seq >> 30 {
            0 => SeqKind::Sync,
            1 => SeqKind::Room,
            2 => SeqKind::Host,
            _ => SeqKind::Chat,
        }
    }
}

/// The next sequence number of the kind `base` (see [`ROOM_SEQ_BASE`]): never 0 below the
/// kind's bits, wrapping within them.
fn next_seq(counter: &mut u32, base: u32) -> u32 {
    let n = (counter.wrapping_add(1) & 0x3FFF_FFFF).max(1);
    *counter = n;
    base | n
}

/// The reporter of this viewer's health: a new state at most once a second, a moved in-sync
/// figure at most every 5 s.
fn new_reporter() -> Reporter {
    Reporter::new(1_000.0, 5_000.0)
}

/// The browser's view of its room (see the module docs).
#[derive(Clone, Debug)]
pub struct RoomView {
    /// This viewer's public id (from `hello`).
    kid: Option<Kid>,
    /// This viewer's display name (sent after every `hello`).
    name: Option<String>,
    /// Who is here, as the server last told.
    roster: Roster,
    /// The rights, queue, video and stats last told to the page.
    told_rights: Option<Rights>,
    told_queue: Option<Queue>,
    told_video: Option<(String, Option<String>)>,
    told_stats: Option<SyncStats>,
    told_together: Option<(crate::together::RoomSettings, crate::ready_skip::ReadySkip)>,
    told_hold: Option<Option<crate::hold::Hold>>,
    told_permanent: Option<Option<crate::permanent::Permanence>>,
    /// Undone local changes already told to the page (see `Engine::refused`).
    refused_seen: u32,
    /// The video whose title this viewer reported to the queue (once per video).
    title_sent: Option<String>,
    /// The reactions known, shown as this viewer's video reaches them.
    track: ReactionTrack,
    /// Decides which changes of this viewer's health are reported (`status`).
    reporter: Reporter,
    /// "Join playback" is shown (for this viewer's reported health).
    needs_click: bool,
    /// The chat as the page lists it.
    chat: Vec<ChatLine>,
    /// The notices as the page lists them, newest first.
    notices: Vec<(u64, Notice)>,
    /// This viewer's imports awaiting their echo: `(seq, videos the browser cut)`.
    imports: Vec<(u32, u32)>,
    room_seq: u32,
    host_seq: u32,
    chat_seq: u32,
}

impl Default for RoomView {
    fn default() -> Self {
        Self::new()
    }
}

impl RoomView {
    /// An empty view (before `hello`).
    pub fn new() -> Self {
        Self {
            kid: None,
            name: None,
            roster: Roster::default(),
            told_rights: None,
            told_queue: None,
            told_video: None,
            told_stats: None,
            told_together: None,
            told_hold: None,
            told_permanent: None,
            refused_seen: 0,
            title_sent: None,
            track: ReactionTrack::new(REACTIONS_KEPT),
            reporter: new_reporter(),
            needs_click: false,
            chat: Vec::new(),
            notices: Vec::new(),
            imports: Vec::new(),
            room_seq: 0,
            host_seq: 0,
            chat_seq: 0,
        }
    }

    /// This viewer's public id (from `hello`).
    pub fn kid(&self) -> Option<&Kid> {
        self.kid.as_ref()
    }

    /// Who is here.
    pub fn roster(&self) -> &Roster {
        &self.roster
    }

    /// The chat as the page lists it, oldest first.
    pub fn chat(&self) -> &[ChatLine] {
        &self.chat
    }

    /// The notices as the page lists them, newest first.
    pub fn notices(&self) -> &[(u64, Notice)] {
        &self.notices
    }

    /// May this viewer control the room in `state`? (Before `hello`: unless it is locked.)
    pub fn may_control(&self, state: Option<&PlaybackState>) -> bool {
        let Some(s) = state else {
            return true;
        };
        match &self.kid {
            Some(k) => s.rights.may_control(k),
            None => !s.rights.locked,
        }
    }

    /// Sets this viewer's display name: the `name` message to send now (and after every
    /// `hello`).
    pub fn set_name(&mut self, name: String) -> ClientMsg {
        self.name = Some(name.clone());
        let seq = self.next_room_seq();
        ClientMsg::Name { seq, name }
    }

    /// The sequence number of the next room request (queue edit, play now, name).
    pub fn next_room_seq(&mut self) -> u32 {
        next_seq(&mut self.room_seq, ROOM_SEQ_BASE)
    }

    /// A playlist import of `video_ids` (see `crate::playlist::import_slice`; `cut`: the
    /// playlist's videos not sent). Its echo tells the page the counts ([`ViewEvent::Imported`]).
    pub fn import(&mut self, video_ids: Vec<VideoId>, cut: u32) -> ClientMsg {
        let seq = self.next_room_seq();
        // Awaiting echoes: a handful at most (a lost connection never answers its own).
        if self.imports.len() >= 8 {
            self.imports.remove(0);
        }
        self.imports.push((seq, cut));
        ClientMsg::Queue {
            seq,
            edit: QueueEdit::Import { video_ids },
        }
    }

    /// The echo of one of this viewer's imports, or its refusal: the sentence to show.
    fn import_answer(&mut self, seq: u32, state: Option<&PlaybackState>) -> Option<ViewEvent> {
        let at = self.imports.iter().position(|(s, _)| *s == seq)?;
        let (_, cut) = self.imports.remove(at);
        let done = state?.queue.imported?;
        Some(ViewEvent::Imported(crate::playlist::summary(done, cut)))
    }

    /// The next host request's sequence number (its refusal reaches the page as
    /// [`ViewEvent::HostError`]).
    pub fn next_host_seq(&mut self) -> u32 {
        next_seq(&mut self.host_seq, HOST_SEQ_BASE)
    }

    /// A host request (lock, co-host, hand over, remove).
    pub fn host(&mut self, cmd: RightsCommand) -> ClientMsg {
        let seq = next_seq(&mut self.host_seq, HOST_SEQ_BASE);
        ClientMsg::Host { seq, cmd }
    }

    /// A chat line.
    pub fn chat_line(&mut self, text: String) -> ClientMsg {
        let seq = next_seq(&mut self.chat_seq, CHAT_SEQ_BASE);
        ClientMsg::Chat { seq, text }
    }

    /// Deleting a chat line (hosts only).
    pub fn delete_chat(&mut self, id: u64) -> ClientMsg {
        let seq = next_seq(&mut self.chat_seq, CHAT_SEQ_BASE);
        ClientMsg::DeleteChat { seq, id }
    }

    /// A reaction at this viewer's video moment `at` (none when `at` is not a number).
    pub fn react(&mut self, emoji: &str, at: f64) -> Option<ClientMsg> {
        if !at.is_finite() {
            return None;
        }
        let seq = next_seq(&mut self.chat_seq, CHAT_SEQ_BASE);
        Some(ClientMsg::React {
            seq,
            emoji: emoji.to_owned(),
            at,
        })
    }

    /// "Join playback" shown or hidden (the engine's `ShowJoin`): what to tell the page.
    pub fn show_join(&mut self, show: bool) -> ViewEvent {
        self.needs_click = show;
        ViewEvent::ShowJoin(show)
    }

    /// One message from the server. `engine` is the sync engine before it sees the message
    /// (notices compare its state with the new one).
    pub fn on_message(&mut self, msg: ServerMsg, engine: &Engine) -> Output {
        let mut out = Output::default();
        match msg {
            ServerMsg::Roster {
                v,
                full,
                members,
                gone,
                counts,
            } => {
                let changes = self.roster.apply(v, full, members, &gone, counts);
                let me = engine.stats().conn_id;
                let named = |ms: Vec<crate::roster::Member>, what: What| {
                    ms.into_iter()
                        .filter(|m| m.id != me)
                        .filter_map(|m| m.name)
                        .map(|name| Notice::new(Who::Viewer(Some(name)), what.clone()))
                        .collect::<Vec<_>>()
                };
                let mut notices = named(changes.joined, What::Joined);
                notices.extend(named(changes.left, What::Left));
                for notice in notices {
                    self.push_notice(notice, &mut out);
                }
                out.events.push(ViewEvent::Roster(self.roster.clone()));
            }
            ServerMsg::History { chat, reactions } => {
                for r in reactions {
                    self.track.add(r);
                }
                self.chat.clear();
                for l in chat {
                    push_line(&mut self.chat, l);
                }
                out.events.push(ViewEvent::Chat(self.chat.clone()));
            }
            ServerMsg::Chat(line) => {
                push_line(&mut self.chat, line);
                out.events.push(ViewEvent::Chat(self.chat.clone()));
            }
            ServerMsg::ChatDeleted { id } => {
                self.chat.retain(|l| l.id != id);
                out.events.push(ViewEvent::Chat(self.chat.clone()));
            }
            ServerMsg::Reaction(r) => {
                let late = self.track.late_arrival(&r);
                self.track.add(r.clone());
                if late {
                    out.events.push(ViewEvent::Reactions(vec![r]));
                } else {
                    out.check_reactions = true;
                }
            }
            msg => self.for_engine(msg, engine, &mut out),
        }
        out
    }

    /// `hello`, `state`, `error` and the engine's own messages: what the page learns from
    /// them, then on to the engine.
    fn for_engine(&mut self, msg: ServerMsg, engine: &Engine, out: &mut Output) {
        match &msg {
            ServerMsg::Hello { kid, .. } => {
                // A new connection has no health on record: report it afresh.
                self.reporter = new_reporter();
                if let Some(name) = self.name.clone() {
                    out.send.push(self.set_name(name));
                }
                self.kid = kid.clone();
                out.events.push(ViewEvent::Kid(kid.clone()));
            }
            ServerMsg::State { state, cause } => {
                if let Some(n) = notice(engine, state, *cause) {
                    self.push_notice(n, out);
                }
                if let Some(c) = cause.filter(|c| c.conn_id == engine.stats().conn_id) {
                    out.events.extend(self.import_answer(c.seq, Some(state)));
                }
            }
            ServerMsg::Error { code, seq, .. } => {
                if let Some(seq) = seq {
                    self.import_answer(*seq, None);
                }
                out.events.extend(error_event(*code, *seq));
            }
            _ => {}
        }
        out.forward = Some(msg);
    }

    /// Adds a notice (newest first, at most [`MAX_NOTICES`]) and tells the page.
    fn push_notice(&mut self, notice: Notice, out: &mut Output) {
        let id = self.notices.first().map(|(i, _)| i + 1).unwrap_or(0);
        self.notices.insert(0, (id, notice));
        self.notices.truncate(MAX_NOTICES);
        out.events.push(ViewEvent::Notices(self.notices.clone()));
    }

    /// After an engine step: what changed for the page (video, queue, rights, an undone local
    /// change, the stats) and this viewer's health report. `player_video`: the video the player
    /// shows and its title, as the player tells; `hidden`: the page is in a background tab.
    pub fn observe(
        &mut self,
        engine: &Engine,
        player_video: Option<(String, String)>,
        hidden: bool,
        now: f64,
    ) -> Output {
        let mut out = Output::default();
        let state = engine.state();
        if let Some(s) = state {
            self.observe_video(s, player_video, &mut out);
            if self.told_queue.as_ref() != Some(&s.queue) {
                self.told_queue = Some(s.queue.clone());
                out.events.push(ViewEvent::Queue(s.queue.clone()));
            }
        }
        let refused = engine.refused();
        if std::mem::replace(&mut self.refused_seen, refused) != refused {
            out.events.push(ViewEvent::ControlRefused);
        }
        if let Some(s) = state {
            if self.told_rights.as_ref() != Some(&s.rights) {
                self.told_rights = Some(s.rights.clone());
                out.events.push(ViewEvent::Rights(s.rights.clone()));
            }
            self.observe_together(s, &mut out);
            if self.told_hold.as_ref() != Some(&s.hold.active) {
                self.told_hold = Some(s.hold.active.clone());
                out.events.push(ViewEvent::Hold(s.hold.active.clone()));
            }
            if self.told_permanent.as_ref() != Some(&s.permanent) {
                self.told_permanent = Some(s.permanent.clone());
                out.events.push(ViewEvent::Permanent(s.permanent.clone()));
            }
        }
        let stats = engine.stats();
        if let Some(status) = self.health_report(stats, hidden, now) {
            out.send.push(ClientMsg::Status { status });
        }
        if self.told_stats.as_ref() != Some(stats) {
            self.told_stats = Some(stats.clone());
            out.events.push(ViewEvent::Stats(stats.clone()));
        }
        out
    }

    /// The room's video (and its title once the player knows it), and the title reported to
    /// the queued items of that video when they have none.
    fn observe_video(
        &mut self,
        s: &PlaybackState,
        player_video: Option<(String, String)>,
        out: &mut Output,
    ) {
        let video = s.video_id.to_string();
        let title = player_video
            .filter(|(id, title)| *id == video && !title.is_empty())
            .map(|(_, title)| title);
        if let Some(t) = title.as_deref() {
            if let Some(msg) = self.title_report(s, &video, t) {
                out.send.push(msg);
            }
        }
        let now = (video, title);
        if self.told_video.as_ref() != Some(&now) {
            self.told_video = Some(now.clone());
            out.events.push(ViewEvent::Video(now.0, now.1));
        }
    }

    /// Stores a title the player learned on the queued items of that video (once per video).
    fn title_report(&mut self, s: &PlaybackState, video: &str, title: &str) -> Option<ClientMsg> {
        let video_id = VideoId::parse(video).ok()?;
        let wanted = s
            .queue
            .items
            .iter()
            .any(|i| i.video_id == video_id && i.title.is_none());
        // A queue edit: in a room only hosts control, a viewer who is none leaves it to them.
        let may = self.may_control(Some(s));
        if !wanted || !may || self.title_sent.as_deref() == Some(video) {
            return None;
        }
        self.title_sent = Some(video.to_owned());
        let seq = self.next_room_seq();
        Some(ClientMsg::Queue {
            seq,
            edit: QueueEdit::Title {
                video_id,
                title: title.to_owned(),
            },
        })
    }

    /// This viewer's health for the room's list when it changed (bounded rate).
    fn health_report(&mut self, stats: &SyncStats, hidden: bool, now: f64) -> Option<Health> {
        let live = stats.status == "live";
        let health = classify(&Observed {
            live,
            hidden,
            needs_click: self.needs_click,
            // YT.PlayerState.BUFFERING
            buffering: stats.player_state == 3,
            ad: stats.in_ad,
            error_ms: stats.error_ms,
            rate_locked: stats.rate_control == RateControl::Locked,
        });
        // Not live: nothing can be sent. Not measurable yet (the player is still starting):
        // loading, which a room that waits for everyone waits for (`crate::hold`).
        let starting =
            stats.error_ms.is_none() && health == Health::Buffering && stats.player_state != 3;
        if !live {
            return None;
        }
        let health = if starting { Health::Loading } else { health };
        self.reporter.observe(health, now)
    }

    /// The reactions whose moment this viewer's video just passed in play (reading `r` of the
    /// room's video in `state`), and when to look again (ms from now) so that the next one
    /// ahead floats on its moment rather than at the next sync step.
    pub fn reactions_due(
        &mut self,
        state: Option<&PlaybackState>,
        r: &Reading,
    ) -> (Option<ViewEvent>, Option<u32>) {
        let Some((video, rate)) = state.map(|s| (s.video_id, s.rate)) else {
            return (None, None);
        };
        let playing = r.state == PlayerState::Playing;
        let due = self.track.due(&video, r.position, playing);
        let next = self.track.next_after(&video, r.position);
        let event = (!due.is_empty()).then_some(ViewEvent::Reactions(due));
        let wake = match next {
            Some(at) if playing && rate > 0.0 => {
                let delay = ((at - r.position) / rate * 1000.0).ceil() + 1.0;
                (delay <= MAX_PLAY_STEP * 1000.0).then_some(delay.max(0.0) as u32)
            }
            _ => None,
        };
        (event, wake)
    }
}

/// Adds `line` to `lines` (ignoring a repeat), keeping the newest [`MAX_LINES`].
fn push_line(lines: &mut Vec<ChatLine>, line: ChatLine) {
    if lines.iter().any(|l| l.id == line.id) {
        return;
    }
    lines.push(line);
    if lines.len() > MAX_LINES {
        let extra = lines.len() - MAX_LINES;
        lines.drain(..extra);
    }
}

/// The notice for an authoritative change `next` (before the engine applies it).
fn notice(engine: &Engine, next: &PlaybackState, cause: Option<Cause>) -> Option<Notice> {
    let prev = engine.state()?;
    let me: ConnId = engine.stats().conn_id;
    let who = match cause? {
        c if c.conn_id == me => Author::You,
        c if c.conn_id == 0 => Author::Server,
        _ => Author::Viewer(next.changed_by.as_deref()),
    };
    together::notice(prev, next, who).or_else(|| describe(prev, next, who, None))
}

/// What the page shows for an error the server sent, by what the refused message was for.
fn error_event(code: ErrorCode, seq: Option<u32>) -> Option<ViewEvent> {
    Some(match SeqKind::of(seq?) {
        SeqKind::Sync if code == ErrorCode::Forbidden => ViewEvent::ControlRefused,
        SeqKind::Sync => return None,
        SeqKind::Room => ViewEvent::RoomError(code),
        SeqKind::Host => ViewEvent::HostError(code),
        SeqKind::Chat => ViewEvent::ChatError(code),
    })
}
