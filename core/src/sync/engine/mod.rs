//! The sync engine: a state machine that turns observations into player actions and commands.
//!
//! Inputs are server messages, YouTube player events, a poll every [`super::TICK_MS`] and the
//! "Join playback" click, each with a fresh [`Reading`] of the player. Outputs are [`Action`]s
//! for the runtime to execute. The rules:
//!
//! * **Target**: the authoritative state evaluated at the estimated server time.
//! * **Applying a state** only touches what differs (play/pause, a seek when more than
//!   [`SEEK_THRESHOLD`] off, the rate); seeks while playing aim at `target + L` (learned
//!   seek latency). The engine then records an *expectation* (the player should report
//!   PLAYING, or PAUSED) and a *seek guard* (the position should land near the seek target).
//! * **Echo suppression**: player events that match an expectation, and readings inside a seek
//!   guard, are ours; only changes that differ from both the expectation and the authoritative
//!   state become commands. A remote command is therefore never bounced back.
//! * **Local commands** carry `base_revision` = the last revision seen and a growing `seq`. One
//!   command is in flight at a time; a later local change waits (coalesced) for its answer. A
//!   state caused by someone else, or a `stale` error, drops ours and re-applies the server's.
//! * **Seeks without events** are found by comparing each poll with the previous one
//!   (extrapolated at the player's rate): a jump beyond [`SEEK_JUMP_PLAYING`] (playing) or
//!   [`SEEK_JUMP_PAUSED`] (paused) is a user seek.
//! * **Drift and stalls**: see [`super::drift`]. A stalled (buffering) viewer is not waited for:
//!   when it plays again it is behind and catches up with a pulse or a compensated seek.
//! * **Autoplay**: a `playVideo` that does not reach PLAYING within [`AUTOPLAY_TIMEOUT_MS`], or
//!   falls back to -1/5/2 after buffering, shows the "Join playback" button.

use super::ads::{AdChange, AdWatch};
use super::clock::ClockEstimator;
use super::drift::{Correction, Drift, SEEK_THRESHOLD, SETTLE_MS};
use super::stats::SyncStats;
use super::{PlayerState, Reading};
use crate::ids::VideoId;
use crate::playback::{clamp_position, Command, PlaybackState};
use crate::protocol::{Cause, ClientMsg, ConnId, ErrorCode, ServerMsg};

/// A jump of the player's position beyond this, while playing, is a user seek (s). Well above
/// what a pulse changes between two polls (25 ms) and below YouTube's smallest UI seek (5 s).
pub const SEEK_JUMP_PLAYING: f64 = 0.6;
/// Any move beyond this while paused is a user seek (s): a paused player does not move.
pub const SEEK_JUMP_PAUSED: f64 = 0.25;
/// Two polls further apart than this (s) are not compared for seek detection.
pub const MAX_POLL_GAP_S: f64 = 1.0;
/// A paused player further than this from the paused position is moved there (s).
pub const PAUSED_SNAP: f64 = 0.02;
/// Time for the player to confirm play/pause we asked for (ms).
pub const EXPECT_GRACE_MS: f64 = 2_000.0;
/// Time for the player to land after one of our seeks (ms).
pub const SEEK_GUARD_MS: f64 = 2_500.0;
/// A `playVideo` that has not reached PLAYING by then was blocked by the browser (ms).
pub const AUTOPLAY_TIMEOUT_MS: f64 = 1_500.0;
/// An unanswered command is given up after this (ms); the state is re-applied.
pub const PENDING_TIMEOUT_MS: f64 = 3_000.0;
/// Ping/pong samples taken right after connecting.
pub const PING_BURST: u32 = 8;
/// Spacing of the initial burst (ms).
pub const PING_BURST_GAP_MS: f64 = 100.0;
/// Spacing of the periodic pings afterwards (ms).
pub const PING_INTERVAL_MS: f64 = 3_000.0;
/// Error samples start this long after the player was last seen not playing (ms): a real
/// decoder's start transient and one widget report interval (see `tick_player`).
pub const START_SETTLE_MS: f64 = 400.0;
/// The session counts as ended this close to the duration (s).
const END_EPSILON: f64 = 0.05;

/// Something the runtime must do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// `playVideo()`.
    Play,
    /// `pauseVideo()`.
    Pause,
    /// `seekTo(seconds, true)`.
    Seek(f64),
    /// `setPlaybackRate(rate)`.
    SetRate(f64),
    /// Send this message on the socket.
    Send(ClientMsg),
    /// Show or hide the "Join playback" button.
    ShowJoin(bool),
    /// Call `on_tick` again at this client time (ms), e.g. to end a rate pulse precisely.
    WakeAt(f64),
    /// `cueVideoById(video, start)`.
    Load {
        /// The video.
        video: VideoId,
        /// Start position (s).
        start: f64,
    },
}

/// The WebSocket connection as the badge shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnStatus {
    /// First connection attempt.
    Connecting,
    /// Connected and greeted.
    Live,
    /// Lost; trying again.
    Reconnecting,
    /// Given up (the session is gone).
    Offline,
}

impl ConnStatus {
    /// The `data-status` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Live => "live",
            Self::Reconnecting => "reconnecting",
            Self::Offline => "offline",
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    seq: u32,
    sent_at: f64,
}

#[derive(Clone, Copy, Debug)]
struct Expect {
    playing: bool,
    until: f64,
}

#[derive(Clone, Copy, Debug)]
struct Guard {
    to: f64,
    at: f64,
    until: f64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Autoplay {
    play_at: Option<f64>,
    saw_buffering: bool,
    blocked: bool,
}

/// The client's sync state machine.
#[derive(Debug)]
pub struct Engine {
    clock: ClockEstimator,
    state: Option<PlaybackState>,
    conn_id: Option<ConnId>,
    status: ConnStatus,
    seq: u32,
    pending: Option<Pending>,
    queued: Option<Command>,
    expect: Option<Expect>,
    guard: Option<Guard>,
    baseline: Option<Reading>,
    drift: Drift,
    autoplay: Autoplay,
    join_shown: bool,
    ready: bool,
    needs_apply: bool,
    player_state: Option<PlayerState>,
    duration_sent: bool,
    burst_left: u32,
    last_ping: f64,
    loaded: Option<VideoId>,
    viewers: u32,
    stats: SyncStats,
    sample_at: f64,
    sample_k: u32,
    /// May this viewer control the room (see [`Engine::set_may_control`])?
    may_control: bool,
    /// Local changes turned back into a resync because this viewer may not control.
    refused: u32,
    /// Ads on this player (see [`super::ads`]).
    ads: AdWatch,
    /// A person's play started an ad: sent when the ad is over (the room starts with the
    /// content, not with the ad).
    deferred_play: bool,
    /// A BUFFERING nobody expected while the room is paused: the viewer's own play is starting
    /// (client ms); the room's pause is not forced on it until that play is decided.
    user_start: Option<f64>,
    /// The playback revision whose end this player has reported (`ended`).
    end_reported: Option<u64>,
}

impl Engine {
    /// An engine for a player created with `initial`'s video (the server-rendered state).
    pub fn new(initial: Option<PlaybackState>) -> Self {
        let loaded = initial.as_ref().map(|s| s.video_id);
        Self {
            clock: ClockEstimator::new(),
            state: initial,
            conn_id: None,
            status: ConnStatus::Connecting,
            seq: 0,
            pending: None,
            queued: None,
            expect: None,
            guard: None,
            baseline: None,
            drift: Drift::new(),
            autoplay: Autoplay::default(),
            join_shown: false,
            ready: false,
            needs_apply: false,
            player_state: None,
            duration_sent: false,
            burst_left: 0,
            last_ping: f64::NEG_INFINITY,
            loaded,
            viewers: 0,
            stats: SyncStats::default(),
            sample_at: f64::NEG_INFINITY,
            sample_k: 0,
            may_control: true,
            refused: 0,
            ads: AdWatch::new(),
            deferred_play: false,
            user_start: None,
            end_reported: None,
        }
    }

    /// Whether this player is showing an ad (see [`super::ads`]).
    pub fn in_ad(&self) -> bool {
        self.ads.in_ad()
    }

    /// The numbers for the badge and `window.__watchparty`.
    pub fn stats(&self) -> &SyncStats {
        &self.stats
    }

    /// Whether this viewer may control the room (a room in "hosts control" mode and this
    /// viewer no host: `false`). While it may not, a change the viewer makes in the player
    /// (play, pause, seek, rate) or asks for is not sent: the player is put back in sync at
    /// once instead, and [`Engine::refused`] counts it (the page explains why).
    pub fn set_may_control(&mut self, may: bool) {
        self.may_control = may;
    }

    /// How many local changes were undone because this viewer may not control the room.
    pub fn refused(&self) -> u32 {
        self.refused
    }

    /// The authoritative state last seen.
    pub fn state(&self) -> Option<&PlaybackState> {
        self.state.as_ref()
    }

    /// Connection status.
    pub fn status(&self) -> ConnStatus {
        self.status
    }

    /// The clock estimator (read-only).
    pub fn clock(&self) -> &ClockEstimator {
        &self.clock
    }

    /// The drift controller (read-only).
    pub fn drift(&self) -> &Drift {
        &self.drift
    }

    /// Where the session is at client time `client_ms` (s).
    pub fn target_at(&self, client_ms: f64) -> Option<f64> {
        let s = self.state.as_ref()?;
        Some(s.position_at(self.clock.server_time(client_ms)))
    }

    /// The socket is (re)connecting.
    pub fn on_connecting(&mut self) {
        if self.status != ConnStatus::Live && self.status != ConnStatus::Offline {
            return;
        }
        self.status = ConnStatus::Reconnecting;
        self.stats.status = self.status.as_str();
    }

    /// The socket closed. `final_` when no reconnect will follow.
    pub fn on_disconnect(&mut self, now: f64, final_: bool, r: Option<Reading>) -> Vec<Action> {
        self.status = if final_ {
            ConnStatus::Offline
        } else if self.status == ConnStatus::Connecting {
            ConnStatus::Connecting
        } else {
            ConnStatus::Reconnecting
        };
        // Our in-flight command may or may not have been applied; the next Hello tells.
        self.pending = None;
        self.queued = None;
        self.conn_id = None;
        let mut out = Vec::new();
        self.refresh(now, r, &mut out);
        out
    }

    /// Any message from the server.
    pub fn on_message(&mut self, now: f64, msg: ServerMsg, r: Option<Reading>) -> Vec<Action> {
        let mut out = Vec::new();
        match msg {
            ServerMsg::Hello {
                conn_id,
                state,
                server_time,
                viewers,
                ..
            } => self.hello(now, conn_id, state, server_time, viewers, r, &mut out),
            ServerMsg::Pong { t0, t1, t2 } => {
                self.clock.add(t0, t1, t2, now);
            }
            ServerMsg::State { state, cause } => self.on_state(now, state, cause, r, &mut out),
            ServerMsg::Presence { viewers } => self.viewers = viewers,
            // The room's list, chat and reactions are the page's business.
            ServerMsg::Roster { .. }
            | ServerMsg::History { .. }
            | ServerMsg::Chat(_)
            | ServerMsg::ChatDeleted { .. }
            | ServerMsg::Reaction(_) => {}
            ServerMsg::Error { code, seq, .. } => self.on_error(now, code, seq, r, &mut out),
        }
        self.refresh(now, r, &mut out);
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn hello(
        &mut self,
        now: f64,
        conn_id: ConnId,
        state: PlaybackState,
        server_time: f64,
        viewers: u32,
        r: Option<Reading>,
        out: &mut Vec<Action>,
    ) {
        self.conn_id = Some(conn_id);
        self.status = ConnStatus::Live;
        self.viewers = viewers;
        // Another server instance may answer after a reconnect: measure its clock afresh.
        self.clock.reset();
        self.clock.seed(server_time, now);
        self.pending = None;
        self.queued = None;
        self.duration_sent = false;
        self.burst_left = PING_BURST;
        self.send_ping(now, out);
        self.state = Some(state);
        self.drift.reset(now, 0.0);
        self.apply_state(now, r, out);
        if let (true, Some(r)) = (self.ready, r) {
            self.report_duration(r, out);
        }
    }

    fn send_ping(&mut self, now: f64, out: &mut Vec<Action>) {
        out.push(Action::Send(ClientMsg::Ping { t0: now }));
        self.last_ping = now;
        self.burst_left = self.burst_left.saturating_sub(1);
    }

    fn on_state(
        &mut self,
        now: f64,
        s: PlaybackState,
        cause: Option<Cause>,
        r: Option<Reading>,
        out: &mut Vec<Action>,
    ) {
        if self.state.as_ref().is_some_and(|c| s.revision < c.revision) {
            return;
        }
        let own = cause.filter(|c| Some(c.conn_id) == self.conn_id);
        // Queue edits bump the revision but change nothing the player shows.
        let changed = self
            .state
            .as_ref()
            .is_none_or(|c| c.revision != s.revision && c.playback_base() != s.playback_base());
        if let Some(p) = self.pending {
            if own.is_some_and(|c| c.seq == p.seq) {
                self.pending = None;
            } else if own.is_none() && changed {
                // Somebody else's change came first: ours will be rejected as stale.
                self.pending = None;
                self.queued = None;
            }
        }
        let queue_only = self
            .state
            .as_ref()
            .is_some_and(|c| c.revision != s.revision && c.playback_base() == s.playback_base());
        self.state = Some(s);
        if queue_only {
            // Nothing for the player; an in-flight command of ours is still valid.
            return;
        }
        if changed {
            self.drift.reset(now, 0.0);
        }
        if self.pending.is_none() && own.is_some() {
            if let Some(cmd) = self.queued.take() {
                // The player already shows a later local change: send it on top of our echo
                // instead of re-applying the echo (which would undo it).
                if !self.redundant(now, cmd) {
                    self.command(now, cmd, out);
                    return;
                }
            }
            if let Some(cmd) = self.unseen_seek(r) {
                // The viewer moved the player since the last poll (a seek fires no event): that
                // is their latest action, not something for the echo to undo.
                if !self.redundant(now, cmd) {
                    self.command(now, cmd, out);
                    return;
                }
            }
        }
        self.apply_state(now, r, out);
    }

    fn on_error(
        &mut self,
        now: f64,
        code: ErrorCode,
        seq: Option<u32>,
        r: Option<Reading>,
        out: &mut Vec<Action>,
    ) {
        if code == ErrorCode::UnknownSession {
            self.status = ConnStatus::Offline;
        }
        let ours = match (self.pending, seq) {
            (Some(p), Some(s)) => p.seq == s,
            _ => false,
        };
        if ours || code == ErrorCode::Stale {
            // Rejected: the session did not change, so put the player back where it is (for
            // `stale`, the newest state also follows and is applied the same way).
            self.pending = None;
            self.queued = None;
            self.stats.last_action = format!("rejected ({code:?}): resync");
            self.apply_state(now, r, out);
        }
    }

    /// The page opened this connection before the app ran (ssr.rs `EARLY_PLAYER`) and its
    /// messages so far were just replayed at the times they came, without player readings:
    /// applies the state to the player as it is now (the page may have joined the room
    /// already; then nothing moves).
    pub fn on_adopted(&mut self, now: f64, r: Option<Reading>) -> Vec<Action> {
        let mut out = Vec::new();
        self.apply_state(now, r, &mut out);
        self.refresh(now, r, &mut out);
        out
    }

    /// The player finished loading; `rates` = `getAvailablePlaybackRates()`.
    pub fn on_player_ready(&mut self, now: f64, rates: &[f64], r: Option<Reading>) -> Vec<Action> {
        self.ready = true;
        self.drift.set_available(rates);
        let mut out = Vec::new();
        self.apply_state(now, r, &mut out);
        if let Some(r) = r {
            self.report_duration(r, &mut out);
        }
        self.refresh(now, r, &mut out);
        out
    }

    /// `onPlaybackRateChange`.
    pub fn on_rate_change(&mut self, now: f64, rate: f64, r: Option<Reading>) -> Vec<Action> {
        let mut out = Vec::new();
        if !self.drift.on_rate_event(rate) && rate.is_finite() && !self.ads.in_ad() {
            self.command(now, Command::Rate { rate }, &mut out);
        }
        self.refresh(now, r, &mut out);
        out
    }

    /// `onStateChange`.
    pub fn on_player_state(
        &mut self,
        now: f64,
        st: PlayerState,
        r: Option<Reading>,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        let prev = self.player_state.replace(st);
        if let Some(r) = r {
            if self.watch_ads(now, Some(st), r, &mut out) {
                self.refresh(now, Some(r), &mut out);
                return out;
            }
            self.report_end(r, &mut out);
        }
        if st == PlayerState::Buffering && self.autoplay.play_at.is_some() {
            self.autoplay.saw_buffering = true;
        }
        self.user_start = match st {
            PlayerState::Buffering
                if self.expect.is_none()
                    && self.guard.is_none()
                    && self.state.as_ref().is_some_and(|s| !s.playing) =>
            {
                Some(now)
            }
            PlayerState::Buffering => self.user_start,
            _ => None,
        };
        let mut handled = false;
        if let Some(e) = self.expect {
            if now <= e.until {
                handled = true;
                if e.playing {
                    match st {
                        PlayerState::Playing => {
                            self.expect = None;
                            self.autoplay = Autoplay::default();
                        }
                        PlayerState::Unstarted | PlayerState::Cued | PlayerState::Paused
                            if self.autoplay.play_at.is_some() && self.autoplay.saw_buffering =>
                        {
                            self.blocked(&mut out);
                        }
                        _ => {}
                    }
                } else if matches!(
                    st,
                    PlayerState::Paused | PlayerState::Cued | PlayerState::Unstarted
                ) {
                    self.expect = None;
                }
            } else {
                self.expect = None;
            }
        }
        if !handled {
            if let Some(r) = r {
                self.local_change(now, prev, st, r, &mut out);
            }
        }
        self.refresh(now, r, &mut out);
        out
    }

    fn blocked(&mut self, out: &mut Vec<Action>) {
        self.autoplay = Autoplay {
            blocked: true,
            ..Autoplay::default()
        };
        self.expect = None;
        self.stats.last_action = "autoplay blocked".to_owned();
        self.sync_join(out);
    }

    /// A player change nobody expected: the viewer did it inside the player.
    fn local_change(
        &mut self,
        now: f64,
        prev: Option<PlayerState>,
        st: PlayerState,
        r: Reading,
        out: &mut Vec<Action>,
    ) {
        let Some(s) = self.state.clone() else {
            return;
        };
        match st {
            PlayerState::Playing => {
                if self.autoplay.blocked {
                    // Started from inside the player: that click was the user gesture.
                    self.autoplay = Autoplay::default();
                    self.sync_join(out);
                    if s.playing {
                        self.apply_state(now, Some(r), out);
                        return;
                    }
                }
                let target = s.position_at(self.clock.server_time(r.at));
                let session_ended = s.duration.is_some_and(|d| target >= d - END_EPSILON);
                if !s.playing
                    || (prev == Some(PlayerState::Ended) || session_ended)
                        && (r.position - target).abs() > SEEK_JUMP_PLAYING
                {
                    let position = r.position + self.one_way() * r.rate;
                    self.command(now, Command::Play { position }, out);
                }
            }
            PlayerState::Paused if s.playing && !self.autoplay.blocked => {
                self.command(
                    now,
                    Command::Pause {
                        position: r.position,
                    },
                    out,
                );
            }
            _ => {}
        }
    }

    /// A change asked for outside the player (e.g. the page's "change video" field): sent like
    /// a change made in the player, based on the last revision seen.
    pub fn on_request(&mut self, now: f64, cmd: Command, r: Option<Reading>) -> Vec<Action> {
        let mut out = Vec::new();
        self.command(now, cmd, &mut out);
        self.refresh(now, r, &mut out);
        out
    }

    /// The "Join playback" button was clicked (runs inside the click, with user activation).
    pub fn on_join_click(&mut self, now: f64, r: Option<Reading>) -> Vec<Action> {
        let mut out = Vec::new();
        self.autoplay = Autoplay::default();
        self.sync_join(&mut out);
        if let Some(s) = self.state.clone() {
            if s.playing {
                let comp = self.drift.seek_latency() * s.rate;
                let to = clamp_position(
                    s.position_at(self.clock.server_time(now)) + comp,
                    s.duration,
                );
                self.seek(now, to, &mut out);
                out.push(Action::Play);
                self.autoplay.play_at = Some(now);
                self.expect = Some(Expect {
                    playing: true,
                    until: now + EXPECT_GRACE_MS,
                });
                self.stats.last_action = format!("join at {to:.2}");
            }
        }
        self.refresh(now, r, &mut out);
        out
    }

    /// The poll (every `TICK_MS`, and at requested `WakeAt` times).
    pub fn on_tick(&mut self, now: f64, r: Option<Reading>) -> Vec<Action> {
        let mut out = Vec::new();
        if self.status == ConnStatus::Live
            && ((self.burst_left > 0 && now - self.last_ping >= PING_BURST_GAP_MS)
                || now - self.last_ping >= PING_INTERVAL_MS)
        {
            self.send_ping(now, &mut out);
        }
        if let Some(r) = r {
            self.tick_player(now, r, &mut out);
        }
        self.refresh(now, r, &mut out);
        out
    }

    fn tick_player(&mut self, now: f64, r: Reading, out: &mut Vec<Action>) {
        // Precise end of a pulse comes first.
        if self.drift.pulse_due(now) && self.drift.end_pulse(now) {
            out.push(Action::SetRate(self.drift.base_rate()));
        }
        if self.drift.check_probe(now) {
            if self.drift.end_pulse(now) {
                out.push(Action::SetRate(self.drift.base_rate()));
            }
            self.stats.last_action = "rate pulses unavailable: seeks only".to_owned();
        }
        let Some(s) = self.state.clone() else {
            return;
        };
        if !self.ready {
            return;
        }
        if self.watch_ads(now, None, r, out) {
            return;
        }
        self.report_end(r, out);
        if self
            .user_start
            .is_some_and(|t| now - t > EXPECT_GRACE_MS || r.state != PlayerState::Buffering)
        {
            self.user_start = None;
        }
        if self.needs_apply {
            self.needs_apply = false;
            self.apply_state(now, Some(r), out);
            return;
        }
        self.report_duration(r, out);
        if self
            .pending
            .is_some_and(|p| now - p.sent_at > PENDING_TIMEOUT_MS)
        {
            self.pending = None;
            self.queued = None;
            self.stats.last_action = "no answer: resync".to_owned();
            self.apply_state(now, Some(r), out);
            return;
        }
        if let Some(e) = self.expect {
            // Reached as seen by the poll (some transitions fire no event), or given up.
            let reached = if e.playing {
                r.state == PlayerState::Playing
            } else {
                r.state == PlayerState::Paused
            };
            if reached || now > e.until {
                self.expect = None;
            }
        }
        if let Some(t) = self.autoplay.play_at {
            if r.state == PlayerState::Playing {
                self.autoplay = Autoplay::default();
            } else if now - t > AUTOPLAY_TIMEOUT_MS && s.playing {
                self.blocked(out);
            }
        }
        if let Some(g) = self.guard {
            let elapsed = ((now - g.at) / 1000.0).max(0.0);
            let landed = r.position >= g.to - SEEK_JUMP_PAUSED
                && r.position <= g.to + elapsed * 2.0 + SEEK_JUMP_PLAYING;
            if landed || now > g.until {
                self.guard = None;
                self.baseline = Some(r);
                self.drift.reset(now, SETTLE_MS);
            }
            return;
        }
        if let Some(cmd) = self.unseen_seek(Some(r)) {
            self.drift.reset(now, SETTLE_MS);
            self.command(now, cmd, out);
            return;
        }
        self.baseline = Some(r);
        let steady = self.pending.is_none()
            && self.expect.is_none()
            && !self.autoplay.blocked
            && s.playing
            && r.state == PlayerState::Playing;
        let target = s.position_at(self.clock.server_time(r.at));
        let ended = s.duration.is_some_and(|d| target >= d - END_EPSILON);
        if !steady || ended {
            if self.drift.end_pulse(now) {
                out.push(Action::SetRate(self.drift.base_rate()));
            }
            // Once it plays, a real decoder's clock starts slow (it lags ~60 ms over its first
            // 100 ms) and the page extrapolates the start report until the next one (250 ms):
            // its first readings are not the error, and a pulse on them goes the wrong way. (A
            // rate-locked player is held by seeks within a wider band: it keeps the short
            // settle, so that a drifting one is not let run longer.)
            let settle = if self.drift.rate_control() == super::RateControl::Locked {
                SETTLE_MS
            } else {
                START_SETTLE_MS
            };
            self.drift.reset(now, settle);
            return;
        }
        if now >= self.sample_at - 0.5 {
            self.drift.observe(r.at, r.position - target);
            // The next sample at a varying phase of the poll (50–150 ms on), so a
            // `getCurrentTime()` that moves in steps is not always read at the same point of a
            // step (which would turn the step into a steady, chased bias).
            self.sample_k = self.sample_k.wrapping_add(1);
            let frac = (f64::from(self.sample_k) * 0.618_033_988_75).fract();
            self.sample_at = now + super::TICK_MS * (0.5 + frac);
            if self.drift.pulse().is_none() {
                out.push(Action::WakeAt(self.sample_at));
            }
        }
        self.drift.learn(now);
        match self.drift.decide(now) {
            Correction::None => {}
            Correction::Pulse { rate, duration_ms } => {
                out.push(Action::SetRate(rate));
                out.push(Action::WakeAt(now + duration_ms));
                self.drift.start_pulse(now, rate, duration_ms);
                self.stats.last_action = format!("pulse {rate}x {duration_ms:.0} ms");
            }
            Correction::Seek { compensation } => {
                let to = clamp_position(
                    s.position_at(self.clock.server_time(now)) + compensation,
                    s.duration,
                );
                self.seek(now, to, out);
                self.drift.record_seek(now, compensation);
                self.stats.last_action = format!("corrective seek to {to:.3}");
            }
            Correction::LockedSeek {
                compensation,
                miss_beyond,
                ..
            } => {
                let to = clamp_position(
                    s.position_at(self.clock.server_time(now)) + compensation,
                    s.duration,
                );
                self.seek(now, to, out);
                self.drift
                    .record_locked_seek(now, compensation, miss_beyond);
                self.stats.last_action = format!("rate-locked: seek to {to:.3}");
            }
        }
    }

    /// A seek the viewer made since the last poll (the reading jumped from the baseline; none
    /// of ours is landing): the seek command it stands for, with the baseline moved on. Used
    /// by the poll and by an own echo that arrives before the poll saw the jump.
    fn unseen_seek(&mut self, r: Option<Reading>) -> Option<Command> {
        let (r, prev) = (r?, self.baseline?);
        if self.guard.is_some() || self.autoplay.blocked || !is_jump(&prev, &r) {
            return None;
        }
        self.baseline = Some(r);
        let position = if r.state == PlayerState::Playing {
            r.position + self.one_way() * r.rate
        } else {
            r.position
        };
        Some(Command::Seek { position })
    }

    /// Reports the video's length once, if the session does not know it yet (or knows a
    /// shorter one: a poisoned report is repaired by the first honest player, issue 11).
    fn report_duration(&mut self, r: Reading, out: &mut Vec<Action>) {
        if self.ads.in_ad() {
            return;
        }
        let unknown = self.state.as_ref().is_some_and(|s| {
            s.duration
                .is_none_or(|d| r.duration > d + 2.0 * crate::playback::DURATION_EXTEND_MIN)
        });
        if unknown
            && !self.duration_sent
            && r.duration > 0.0
            && r.duration.is_finite()
            && self.status == ConnStatus::Live
        {
            self.seq = self.seq.wrapping_add(1);
            let video_id = self.state.as_ref().map(|s| s.video_id);
            out.push(Action::Send(ClientMsg::Duration {
                seq: self.seq,
                seconds: r.duration,
                video_id,
            }));
            self.duration_sent = true;
        }
    }

    /// Half the best round trip, in seconds: how long a command takes to reach the server.
    fn one_way(&self) -> f64 {
        self.clock.rtt() / 2000.0
    }

    fn seek(&mut self, now: f64, to: f64, out: &mut Vec<Action>) {
        out.push(Action::Seek(to));
        self.guard = Some(Guard {
            to,
            at: now,
            until: now + SEEK_GUARD_MS,
        });
        self.drift.reset(now, SETTLE_MS);
    }

    /// Sends a local change (or queues it behind the one in flight).
    fn command(&mut self, now: f64, cmd: Command, out: &mut Vec<Action>) {
        let Some(s) = self.state.as_ref() else {
            return;
        };
        if !self.may_control {
            // Not ours to change: re-apply the room's state at the next step (now).
            self.refused = self.refused.wrapping_add(1);
            self.needs_apply = true;
            out.push(Action::WakeAt(now));
            self.stats.last_action = format!("refused {cmd:?}: hosts control");
            return;
        }
        if self.status != ConnStatus::Live {
            return;
        }
        if self.pending.is_some() {
            self.queued = Some(merge_queued(self.queued, cmd));
            return;
        }
        self.seq = self.seq.wrapping_add(1);
        out.push(Action::Send(ClientMsg::from_command(
            self.seq, s.revision, cmd,
        )));
        self.pending = Some(Pending {
            seq: self.seq,
            sent_at: now,
        });
        self.drift.reset(now, SETTLE_MS);
        self.stats.last_action = format!("send {cmd:?}");
    }

    /// True when `cmd` would not change the current state (a coalesced duplicate).
    fn redundant(&self, now: f64, cmd: Command) -> bool {
        let Some(s) = self.state.as_ref() else {
            return true;
        };
        let target = s.position_at(self.clock.server_time(now));
        match cmd {
            Command::Play { position } => {
                s.playing && (position - target).abs() <= SEEK_JUMP_PLAYING
            }
            Command::Pause { position } => {
                !s.playing && (position - s.position).abs() <= PAUSED_SNAP
            }
            Command::Seek { position } => (position - target).abs() <= SEEK_JUMP_PAUSED,
            Command::Rate { rate } => (rate - s.rate).abs() < 1e-6,
            Command::Video { video_id, position } => {
                s.video_id == video_id && (position - target).abs() <= SEEK_JUMP_PAUSED
            }
            Command::Duration { .. } | Command::VideoDuration { .. } => true,
        }
    }

    /// Makes the player match the authoritative state, touching only what differs.
    fn apply_state(&mut self, now: f64, r: Option<Reading>, out: &mut Vec<Action>) {
        let Some(s) = self.state.clone() else {
            return;
        };
        // Without the server's clock (no `hello` yet) the room's position is unknown: the
        // server-rendered state alone would be read on this device's wall clock.
        if !self.ready || !self.clock.is_known() {
            return;
        }
        let Some(r) = r else {
            return;
        };
        if self.ads.in_ad() {
            // The player ignores seeks and rates until the ad is over; then it rejoins.
            return;
        }
        if self.loaded.as_ref() != Some(&s.video_id) {
            let start = s.position_at(self.clock.server_time(now));
            out.push(Action::Load {
                video: s.video_id,
                start,
            });
            self.loaded = Some(s.video_id);
            self.ads.reset();
            self.deferred_play = false;
            self.duration_sent = false;
            self.baseline = None;
            // Nothing expected of the previous video applies to the new one (a video change
            // is a late join into the new video).
            self.expect = None;
            self.guard = None;
            self.autoplay.play_at = None;
            self.needs_apply = true;
            return;
        }
        if (self.drift.base_rate() - s.rate).abs() > 1e-6 || (r.rate - s.rate).abs() > 1e-6 {
            self.drift.end_pulse(now);
            self.drift.set_base_rate(s.rate);
            out.push(Action::SetRate(s.rate));
        }
        let target = s.position_at(self.clock.server_time(now));
        if s.playing {
            let ended = s.duration.is_some_and(|d| target >= d - END_EPSILON);
            if ended {
                // Everyone ends together: the target is clamped at the end.
                if r.state != PlayerState::Ended && (r.position - target).abs() > SEEK_THRESHOLD {
                    self.seek(now, target, out);
                }
                self.expect = None;
                self.autoplay.play_at = None;
                self.stats.last_action = "ended".to_owned();
                self.sync_join(out);
                return;
            }
            let comp = self.drift.seek_latency() * s.rate;
            let err = r.position - target;
            let fresh = r.state.is_fresh() || r.state == PlayerState::Ended;
            let stopped = !r.state.is_playing_ish();
            // A stopped player is moved to where the session will be once it actually plays
            // (the learned start latency ahead), so resuming lands in sync instead of behind.
            if stopped || err.abs() > SEEK_THRESHOLD {
                let to = clamp_position(target + comp, s.duration);
                self.seek(now, to, out);
                if fresh {
                    // The first start loads the video: slower than later seeks, so only an
                    // upper bound of their latency (it lowers a guess that was too high).
                    self.drift.record_first_start(now, comp);
                } else {
                    self.drift.record_apply_seek(now, comp);
                }
                self.stats.last_action = format!("apply: seek {to:.3}");
            }
            if stopped {
                out.push(Action::Play);
                self.expect = Some(Expect {
                    playing: true,
                    until: now + EXPECT_GRACE_MS,
                });
                if !self.autoplay.blocked {
                    self.autoplay.play_at = Some(now);
                    self.autoplay.saw_buffering = false;
                }
                self.stats.last_action = "apply: play".to_owned();
            }
            self.drift.reset(now, SETTLE_MS);
        } else {
            self.autoplay.play_at = None;
            // Only a pause we issue produces state events to expect; a seek of an already
            // paused player produces none, and expecting one would swallow the viewer's next
            // real action.
            let mut paused = false;
            // A play of the viewer's own that is starting (BUFFERING) is not undone: it is
            // sent when the player confirms it (PLAYING).
            let starting = self.user_start.is_some() && r.state == PlayerState::Buffering;
            if r.state.is_playing_ish() && !starting {
                out.push(Action::Pause);
                paused = true;
            }
            if (r.position - s.position).abs() > PAUSED_SNAP {
                self.seek(now, s.position, out);
                if r.state.is_fresh() {
                    // seekTo on a fresh player starts playback: pause right after.
                    out.push(Action::Pause);
                    paused = true;
                }
                self.stats.last_action = format!("apply: seek paused to {:.3}", s.position);
            }
            if paused {
                self.expect = Some(Expect {
                    playing: false,
                    until: now + EXPECT_GRACE_MS,
                });
                self.stats.last_action = format!("apply: pause at {:.3}", s.position);
            }
            if self.drift.end_pulse(now) {
                out.push(Action::SetRate(s.rate));
            }
        }
        self.sync_join(out);
    }

    /// Feeds the ad watch with a reading (`event`: the state event it came with); true while an
    /// ad plays: the reading is then nobody's action and the player is left alone.
    fn watch_ads(
        &mut self,
        now: f64,
        event: Option<PlayerState>,
        r: Reading,
        out: &mut Vec<Action>,
    ) -> bool {
        let room = self
            .state
            .as_ref()
            .filter(|s| Some(s.video_id) == self.loaded);
        let room_duration = room.and_then(|s| s.duration);
        let room_paused = room.is_some_and(|s| !s.playing);
        match self.ads.observe(&r, room_duration) {
            AdChange::None => {}
            AdChange::Started => {
                // A person pressed play and got an ad: the room starts when the content does.
                if event == Some(PlayerState::Playing) && room_paused && self.expect.is_none() {
                    self.deferred_play = true;
                }
                self.expect = None;
                self.guard = None;
                self.baseline = None;
                self.user_start = None;
                self.autoplay.play_at = None;
                self.drift.reset(now, SETTLE_MS);
                self.stats.last_action = "ad: waiting for the content".to_owned();
            }
            AdChange::Ended => {
                self.guard = None;
                self.expect = None;
                self.baseline = None;
                self.drift.reset(now, SETTLE_MS);
                self.stats.last_action = "ad over: rejoin".to_owned();
                if std::mem::take(&mut self.deferred_play) && room_paused {
                    self.command(
                        now,
                        Command::Play {
                            position: r.position,
                        },
                        out,
                    );
                } else {
                    // Rejoins at the next step, as a late joiner does.
                    self.needs_apply = true;
                    out.push(Action::WakeAt(now));
                }
            }
        }
        self.ads.in_ad()
    }

    /// Tells the server, once per playback revision, that this player reached the end of the
    /// room's video (ENDED): the witness the server needs before the room's video ends (an ad
    /// never reports ENDED; see [`super::ads`]).
    fn report_end(&mut self, r: Reading, out: &mut Vec<Action>) {
        if r.state != PlayerState::Ended || self.status != ConnStatus::Live {
            return;
        }
        let Some(s) = self.state.as_ref() else {
            return;
        };
        if !s.playing
            || self.loaded != Some(s.video_id)
            || self.end_reported == Some(s.playback_base())
        {
            return;
        }
        self.end_reported = Some(s.playback_base());
        out.push(Action::Send(ClientMsg::Ended {
            video_id: s.video_id,
        }));
    }

    fn sync_join(&mut self, out: &mut Vec<Action>) {
        let want = self.autoplay.blocked
            && self.state.as_ref().is_some_and(|s| {
                s.playing && !s.duration.is_some_and(|d| s.position >= d - END_EPSILON)
            });
        if want != self.join_shown {
            self.join_shown = want;
            out.push(Action::ShowJoin(want));
        }
    }

    fn refresh(&mut self, now: f64, r: Option<Reading>, out: &mut Vec<Action>) {
        self.sync_join(out);
        let st = &mut self.stats;
        st.status = self.status.as_str();
        st.conn_id = self.conn_id.unwrap_or(0);
        st.offset_ms = self.clock.offset();
        st.rtt_ms = self.clock.rtt();
        st.corrective_seeks = self.drift.corrective_seeks;
        st.rate_nudges = self.drift.rate_nudges;
        st.seek_latency_ms = self.drift.seek_latency() * 1000.0;
        st.rate_control = self.drift.rate_control();
        st.reading_noise_ms = self.drift.noise_level() * 1000.0;
        st.viewers = self.viewers;
        st.in_ad = self.ads.in_ad();
        st.pulse_lag_ms = self.drift.pulse_lag() * 1000.0;
        if let Some(s) = self.state.as_ref() {
            st.revision = s.revision;
            st.target_position = s.position_at(self.clock.server_time(now));
        }
        if let Some(r) = r {
            st.player_state = r.state.code();
            st.error_ms = self.state.as_ref().filter(|_| self.ready).map(|s| {
                let expected = if s.playing {
                    s.position_at(self.clock.server_time(r.at))
                } else {
                    s.position
                };
                ((r.position - expected) * 1000.0 * 10.0).round() / 10.0
            });
        }
    }
}

/// Folds a local change into the one already waiting behind the command in flight, so that a
/// quick series of one viewer's own actions ends where the last one left the player: a seek
/// keeps a waiting play or pause (at the new position); anything else replaces it.
fn merge_queued(queued: Option<Command>, cmd: Command) -> Command {
    match (queued, cmd) {
        (Some(Command::Play { .. }), Command::Seek { position }) => Command::Play { position },
        (Some(Command::Pause { .. }), Command::Seek { position }) => Command::Pause { position },
        (_, cmd) => cmd,
    }
}

/// True when `cur` cannot be explained by playback since `prev`: somebody seeked.
fn is_jump(prev: &Reading, cur: &Reading) -> bool {
    use PlayerState::*;
    if prev.state.is_fresh() || cur.state.is_fresh() || cur.state == Ended {
        return false;
    }
    let elapsed = ((cur.at - prev.at) / 1000.0).max(0.0);
    if elapsed > MAX_POLL_GAP_S {
        // Timers were throttled (background tab): the player's cached time may be stale too,
        // so a difference proves nothing. Never turn that into a command for everybody.
        return false;
    }
    match (prev.state, cur.state) {
        (Playing, Playing) => {
            let rate = prev.rate.max(cur.rate);
            let lo = prev.position + elapsed * prev.rate.min(cur.rate);
            let hi = prev.position + elapsed * rate;
            cur.position < lo - SEEK_JUMP_PLAYING || cur.position > hi + SEEK_JUMP_PLAYING
        }
        (Paused, Paused) => (cur.position - prev.position).abs() > SEEK_JUMP_PAUSED,
        _ => {
            let rate = prev.rate.max(cur.rate).max(1.0);
            let hi = prev.position + elapsed * rate;
            cur.position < prev.position - SEEK_JUMP_PLAYING
                || cur.position > hi + SEEK_JUMP_PLAYING
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rd(at: f64, state: PlayerState, position: f64) -> Reading {
        Reading {
            at,
            state,
            position,
            rate: 1.0,
            duration: 600.0,
        }
    }

    fn hello(state: PlaybackState, server_time: f64) -> ServerMsg {
        ServerMsg::Hello {
            conn_id: 7,
            session_id: crate::ids::SessionId::parse("000000000000").unwrap(),
            server_time,
            state,
            viewers: 2,
            kid: None,
        }
    }

    /// A room playing from 10 s at server time 0, and this device's clock 5 s behind the
    /// server's.
    fn playing_room() -> PlaybackState {
        let v = crate::ids::VideoId::parse("dQw4w9WgXcQ").unwrap();
        let mut s = PlaybackState::new(v, 10.0, 0.0);
        s.playing = true;
        s
    }
    const SKEW: f64 = 5_000.0;

    fn moves_player(out: &[Action]) -> bool {
        out.iter()
            .any(|a| matches!(a, Action::Seek(_) | Action::Play | Action::Pause))
    }

    #[test]
    fn a_player_ready_before_hello_waits_for_the_server_clock() {
        // The server-rendered state alone, read on a clock 5 s off, would seek 5 s wrong.
        let s = playing_room();
        let mut e = Engine::new(Some(s.clone()));
        let out = e.on_player_ready(0.0, &[1.0], Some(rd(0.0, PlayerState::Cued, 10.0)));
        assert!(!moves_player(&out), "{out:?}");
        // `hello` brings the clock: now the player is sent where the room is.
        let out = e.on_message(
            1_000.0 - SKEW,
            hello(s, 1_000.0),
            Some(rd(1_000.0 - SKEW, PlayerState::Cued, 10.0)),
        );
        let to = out.iter().find_map(|a| match a {
            Action::Seek(to) => Some(*to),
            _ => None,
        });
        assert!(to.is_some_and(|to| (to - 11.2).abs() < 1e-6), "{out:?}");
        assert!(out.contains(&Action::Play), "{out:?}");
    }

    #[test]
    fn an_adopted_connection_leaves_a_player_the_page_synced_alone() {
        let s = playing_room();
        let mut e = Engine::new(Some(s.clone()));
        // What the page's socket received: hello at server time 500 (client 500 - SKEW), then
        // pongs of 2 ms round trips. Replayed without readings.
        let at = 500.0 - SKEW;
        let out = e.on_message(at, hello(s.clone(), 500.0), None);
        assert!(!moves_player(&out), "{out:?}");
        for k in 0..3 {
            let t0 = at + 100.0 * f64::from(k);
            e.on_message(
                t0 + 2.0,
                ServerMsg::Pong {
                    t0,
                    t1: t0 + SKEW + 1.0,
                    t2: t0 + SKEW + 1.0,
                },
                None,
            );
        }
        // The page had set the player playing in sync; the app adopts it at client 2000.
        let now = 2_000.0 - SKEW;
        let in_sync = 10.0 + 2.0 + 0.004;
        let ready = e.on_player_ready(now, &[1.0], Some(rd(now, PlayerState::Playing, in_sync)));
        let adopted = e.on_adopted(
            now + 1.0,
            Some(rd(now + 1.0, PlayerState::Playing, in_sync)),
        );
        assert!(
            !moves_player(&ready) && !moves_player(&adopted),
            "{ready:?} {adopted:?}"
        );
        assert_eq!(e.status(), ConnStatus::Live);
        // A player the page could not start (autoplay refused) is started by the app.
        let mut e2 = Engine::new(Some(s.clone()));
        e2.on_message(at, hello(s, 500.0), None);
        e2.on_player_ready(now, &[1.0], None);
        let out = e2.on_adopted(now, Some(rd(now, PlayerState::Cued, 10.0)));
        assert!(out.contains(&Action::Play), "{out:?}");
    }

    #[test]
    fn a_queue_edit_leaves_the_player_and_an_in_flight_command_alone() {
        use crate::ids::VideoId;
        use crate::queue::QueueEdit;
        let v = VideoId::parse("dQw4w9WgXcQ").unwrap();
        let s = PlaybackState::new(v, 10.0, 0.0);
        let mut e = Engine::new(Some(s.clone()));
        let r = rd(0.0, PlayerState::Paused, 10.0);
        e.on_message(
            0.0,
            ServerMsg::Hello {
                conn_id: 7,
                session_id: crate::ids::SessionId::parse("000000000000").unwrap(),
                server_time: 0.0,
                state: s.clone(),
                viewers: 1,
                kid: None,
            },
            Some(r),
        );
        e.on_player_ready(0.0, &[1.0], Some(r));
        // The viewer presses play: a command is in flight.
        let out = e.on_player_state(
            100.0,
            PlayerState::Playing,
            Some(rd(100.0, PlayerState::Playing, 10.0)),
        );
        assert!(
            out.iter()
                .any(|a| matches!(a, Action::Send(ClientMsg::Play { .. }))),
            "{out:?}"
        );
        // Somebody adds to the queue meanwhile: the player is not touched (no pause back).
        let mut queued = s.clone();
        queued
            .queue
            .apply(
                &QueueEdit::Add {
                    video_id: v,
                    start: 0.0,
                },
                10,
            )
            .unwrap();
        queued.revision += 1;
        queued.playback_revision = 1;
        let out = e.on_message(
            150.0,
            ServerMsg::State {
                state: queued,
                cause: Some(Cause { conn_id: 9, seq: 1 }),
            },
            Some(rd(150.0, PlayerState::Playing, 10.05)),
        );
        assert!(
            !out.iter()
                .any(|a| matches!(a, Action::Pause | Action::Seek(_))),
            "{out:?}"
        );
        assert_eq!(e.state().map(|s| s.queue.items.len()), Some(1));
    }

    #[test]
    fn a_viewer_without_control_is_put_back_instead_of_sending() {
        let v = crate::ids::VideoId::parse("dQw4w9WgXcQ").unwrap();
        let mut s = PlaybackState::new(v, 10.0, 0.0);
        s.playing = true;
        let mut e = Engine::new(Some(s.clone()));
        let r = rd(0.0, PlayerState::Playing, 10.0);
        e.on_message(
            0.0,
            ServerMsg::Hello {
                conn_id: 7,
                session_id: crate::ids::SessionId::parse("000000000000").unwrap(),
                server_time: 0.0,
                state: s,
                viewers: 2,
                kid: None,
            },
            Some(r),
        );
        e.on_player_ready(0.0, &[1.0], Some(r));
        e.on_tick(100.0, Some(rd(100.0, PlayerState::Playing, 10.1)));
        e.set_may_control(false);
        let sends = |out: &[Action]| {
            out.iter()
                .filter(|a| matches!(a, Action::Send(m) if m.command().is_some()))
                .count()
        };
        // The viewer pauses inside the player: nothing is sent, a step is asked for at once...
        let out = e.on_player_state(
            200.0,
            PlayerState::Paused,
            Some(rd(200.0, PlayerState::Paused, 10.2)),
        );
        assert_eq!(sends(&out), 0, "{out:?}");
        assert!(out.contains(&Action::WakeAt(200.0)), "{out:?}");
        assert_eq!(e.refused(), 1);
        // ...which plays the player again at the room's position.
        let out = e.on_tick(201.0, Some(rd(201.0, PlayerState::Paused, 10.2)));
        assert!(out.contains(&Action::Play), "{out:?}");
        assert_eq!(sends(&out), 0, "{out:?}");
        // A drag of the timeline while playing is undone the same way.
        e.on_player_state(
            400.0,
            PlayerState::Playing,
            Some(rd(400.0, PlayerState::Playing, 10.4)),
        );
        e.on_tick(3_000.0, Some(rd(3_000.0, PlayerState::Playing, 13.0)));
        let out = e.on_tick(3_100.0, Some(rd(3_100.0, PlayerState::Playing, 60.0)));
        assert_eq!(sends(&out), 0, "{out:?}");
        assert_eq!(e.refused(), 2);
        let out = e.on_tick(3_101.0, Some(rd(3_101.0, PlayerState::Playing, 60.0)));
        assert!(
            out.iter()
                .any(|a| matches!(a, Action::Seek(to) if (to - 13.1).abs() < 0.5)),
            "{out:?}"
        );
        // Once allowed again, a pause is a command.
        e.set_may_control(true);
        let out = e.on_player_state(
            5_000.0,
            PlayerState::Paused,
            Some(rd(5_000.0, PlayerState::Paused, 15.0)),
        );
        assert_eq!(sends(&out), 1, "{out:?}");
    }

    #[test]
    fn jumps_are_told_apart_from_playback_stalls_and_throttling() {
        use PlayerState::*;
        // Normal playback and small jitter: no jump.
        assert!(!is_jump(&rd(0.0, Playing, 10.0), &rd(100.0, Playing, 10.1)));
        assert!(!is_jump(&rd(0.0, Playing, 10.0), &rd(100.0, Playing, 10.5)));
        // Forward or backward beyond the threshold while playing.
        assert!(is_jump(&rd(0.0, Playing, 10.0), &rd(100.0, Playing, 11.0)));
        assert!(is_jump(&rd(0.0, Playing, 10.0), &rd(100.0, Playing, 9.0)));
        // Paused: any real move is a seek; no move is nothing.
        assert!(is_jump(&rd(0.0, Paused, 10.0), &rd(100.0, Paused, 10.3)));
        assert!(!is_jump(&rd(0.0, Paused, 10.0), &rd(100.0, Paused, 10.0)));
        // A stall (frozen while buffering) is not a seek, a seek during buffering is.
        assert!(!is_jump(
            &rd(0.0, Playing, 10.0),
            &rd(900.0, Buffering, 10.05)
        ));
        assert!(is_jump(
            &rd(0.0, Playing, 10.0),
            &rd(100.0, Buffering, 40.0)
        ));
        // Fresh players and the end are not compared; nor are throttled polls.
        assert!(!is_jump(&rd(0.0, Cued, 0.0), &rd(100.0, Paused, 30.0)));
        assert!(!is_jump(&rd(0.0, Playing, 599.9), &rd(100.0, Ended, 600.0)));
        assert!(!is_jump(
            &rd(0.0, Playing, 10.0),
            &rd(5_000.0, Playing, 11.0)
        ));
    }
}
