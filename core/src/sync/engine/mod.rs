//! The sync engine: a state machine that turns observations into player actions and commands.
//!
//! Inputs are server messages, YouTube player events, a poll every [`super::TICK_MS`] and the
//! "Join playback" click, each with a fresh [`Reading`] of the player. Outputs are [`Action`]s
//! for the runtime to execute. The rules:
//!
//! * **Target**: the authoritative state evaluated at the estimated server time.
//! * **Applying a state** only touches what differs (play/pause, a seek when more than
//!   [`SEEK_THRESHOLD`](super::drift::SEEK_THRESHOLD) off, the rate); seeks while playing aim at `target + L` (learned
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
use super::drift::{Drift, SETTLE_MS};
use super::stats::SyncStats;
use super::{PlayerState, Reading};
use crate::ids::VideoId;
use crate::playback::{clamp_position, Command, PlaybackState};
use crate::protocol::{Cause, ClientMsg, ConnId, ErrorCode, ServerMsg};

mod apply;
mod local;
mod messages;
mod reports;
mod schedule;
mod stuck;
mod tick;

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
/// After we cue a new video, the room's state is applied once the player shows it (a fresh
/// state, -1 or 5), or after this long (ms). The page's readings come from the player's messages:
/// until the cue's arrive they describe the previous video, and a paused room's snap to its
/// position, taken on one, would seek the cued video — which starts it (a `seekTo` from CUED
/// plays) and reads as the viewer's own play.
pub const CUE_GRACE_MS: f64 = 1_500.0;
/// Error samples start this long after the player was last seen not playing (ms): a real
/// decoder's start transient and one widget report interval (see `tick_player`).
pub const START_SETTLE_MS: f64 = 400.0;
/// The session counts as ended this close to the duration (s).
pub const END_EPSILON: f64 = 0.05;

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
    /// Call `on_tick` again at this client time (ms), e.g. to end a rate pulse precisely. A
    /// later one replaces it.
    WakeAt(f64),
    /// Call `on_tick` at this client time (ms) as exactly as the page can: the call of a
    /// scheduled start (`playVideo()` on the planned millisecond). Kept apart from
    /// [`Action::WakeAt`]: no other wake replaces it.
    StartAt(f64),
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
    /// When we loaded (cued) a new video, until the player shows it (a fresh state): readings
    /// before that are the previous video's (see [`CUE_GRACE_MS`]).
    cueing: Option<f64>,
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
    /// A scheduled start this player is held for (see `schedule`).
    scheduled: Option<schedule::Scheduled>,
    /// This player's learned start latency.
    start_latency: super::start_latency::StartLatency,
    /// The last scheduled start, until measured.
    start_probe: Option<super::start_latency::StartProbe>,
    /// Corrections counted when the probe began (a correction since voids the measurement).
    probe_counts: (u32, u32),
    /// The start need last reported, and when (client ms).
    need_sent: Option<(f64, f64)>,
    /// A player left off the room's state, playing or paused (see `stuck`).
    stuck: stuck::Stuck,
    /// The `last_action` last put in `stats.recent`.
    noted_action: String,
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
            cueing: None,
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
            scheduled: None,
            start_latency: Default::default(),
            start_probe: None,
            probe_counts: (0, 0),
            need_sent: None,
            stuck: Default::default(),
            noted_action: String::new(),
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
            self.stats
                .note(now, format_args!("rate event {rate}: the viewer's"));
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
        self.stats.note(
            now,
            format_args!("state {st:?}{}", if handled { " (expected)" } else { "" }),
        );
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
                // The autoplay state was just reset: this watches the play for a block.
                self.play_expected(now, &mut out);
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
        if self.status == ConnStatus::Live {
            self.report_need(now, &mut out);
        }
        if let Some(r) = r {
            self.tick_player(now, r, &mut out);
        }
        self.refresh(now, r, &mut out);
        out
    }

    /// Expects the player to report playing (`true`) or paused within [`EXPECT_GRACE_MS`]:
    /// that event is ours, not the viewer's.
    fn expect_state(&mut self, now: f64, playing: bool) {
        self.expect = Some(Expect {
            playing,
            until: now + EXPECT_GRACE_MS,
        });
    }

    /// `playVideo()`, expected to reach PLAYING; unless the browser already blocked this
    /// player, [`AUTOPLAY_TIMEOUT_MS`] then tells whether it did.
    fn play_expected(&mut self, now: f64, out: &mut Vec<Action>) {
        out.push(Action::Play);
        self.expect_state(now, true);
        if !self.autoplay.blocked {
            self.autoplay.play_at = Some(now);
            self.autoplay.saw_buffering = false;
        }
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
        if self.stats.last_action != self.noted_action {
            self.noted_action.clone_from(&self.stats.last_action);
            self.stats.note(now, &self.noted_action);
        }
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
        st.pulse_lag_slow_ms = self.drift.pulse_lag_slow() * 1000.0;
        if let Some(s) = self.state.as_ref() {
            st.revision = s.revision;
            st.room_rate = s.rate;
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

#[cfg(test)]
use local::is_jump;

#[cfg(test)]
mod tests;
