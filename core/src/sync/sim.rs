//! A deterministic closed-loop simulation for the sync tests: a server applying the real
//! [`crate::playback::apply`] rules, a network with latency, and simulated YouTube players that
//! behave like the documented IFrame API (buffering after seeks, no event for a seek while
//! paused, snapped rates, autoplay blocking), each driven by a real [`Engine`].
//!
//! Harder players are configuration: `rates` (e.g. `[1.0]`: rate-locked), `latency_jitter_ms`
//! (variable buffering), `paused_seek_buffers` (BUFFERING→PAUSED on a paused seek), and on the
//! [`Client`] the readings: `noise` (symmetric), `stale_ms` (up to this late, varying) and
//! `step` (`getCurrentTime()` floored to coarse steps), and the network: `jitter_ms` (every
//! message late by up to this much more, varying, in order: the clock estimate wanders by a few
//! ms as in a busy browser).
//!
//! Compiled for the tests and, with the `sim` feature, for the figures example
//! (`core/examples/sim_figures.rs`); never part of the wasm bundle.

use super::{Action, Engine, PlayerState, Reading, TICK_MS};
use crate::ids::VideoId;
use crate::playback::{apply_scheduled, CommandError, PlaybackState};
use crate::protocol::{Cause, ClientMsg, ErrorCode, ServerMsg};

const EVENT_DELAY: f64 = 2.0;
const SERVER_EPOCH: f64 = 1.7e12;

#[derive(Clone, Copy, Debug)]
enum Ev {
    State(PlayerState),
    Rate(f64),
}

/// The next pseudo-random number in [0, 1) of the stream `state` (a 64-bit LCG, its top 53
/// bits): every random draw of the simulation, each from its own stream.
fn uniform(state: &mut u64) -> f64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

/// A simulated YouTube player (times in simulation ms).
pub struct Player {
    pub state: PlayerState,
    pub position: f64,
    pub rate: f64,
    pub skew: f64,
    pub duration: f64,
    pub latency_ms: f64,
    resume: Option<(f64, PlayerState)>,
    pub block_autoplay: bool,
    pub activated: bool,
    pub honour_rates: bool,
    events: Vec<(f64, Ev)>,
    /// `getAvailablePlaybackRates()`.
    pub rates: Vec<f64>,
    /// Buffering lasts `latency_ms` plus up to this much more (pseudo-random), ms.
    pub latency_jitter_ms: f64,
    /// A seek while paused goes BUFFERING, then PAUSED again (some players do).
    pub paused_seek_buffers: bool,
    /// A real decoder: a change to a rate further from 1 reaches the media clock this long
    /// after it was asked for (ms; the audio renderer's buffer turns over first), a change back
    /// towards 1 after `rate_back_lag_ms`; so a pulse moves the position by
    /// `±0.25 (d - rate_lag_ms + rate_back_lag_ms)`, plus two `rate_jump_ms` (sync/pulse_lag.rs).
    /// 0 = at once.
    pub rate_lag_ms: f64,
    /// See `rate_lag_ms`.
    pub rate_back_lag_ms: f64,
    /// Each rate change's lag varies by up to this much either way (ms, pseudo-random):
    /// Chromium's 1.25 pulses land 3.5 ms steps apart, lags of 55-90 ms. 0 = none.
    pub rate_lag_jitter_ms: f64,
    /// A real decoder: the position jumps by this much (ms) when a rate change reaches the
    /// clock (Chromium: about −10 ms each way, so a pulse, whichever its direction, moves the
    /// position about 20 ms back: a slow-down pulse further than its length says;
    /// sync/pulse_lag.rs). 0 = none.
    pub rate_jump_ms: f64,
    /// A real decoder's start: for the first 100 ms of PLAYING the clock runs slow and ends
    /// this many ms behind (Chromium: 62-64 ms, `end2end/media/decoder.mjs`). 0 = none.
    pub start_lag_ms: f64,
    slow_until: f64,
    /// The media clock's rate while the new rate is not in effect yet.
    clock_rate: f64,
    /// Rate changes asked for and not in effect yet (when, rate), in order; a later change
    /// that takes effect sooner supersedes them (the newest rate wins, as in Chromium).
    rate_due: Vec<(f64, f64)>,
    /// The next start shows a preroll of this length (s) first (issue 25's ad model).
    pub preroll_s: Option<f64>,
    /// `getCurrentTime()` during an ad is the ad's clock (true) or the frozen content
    /// position (false).
    pub ad_clock: bool,
    /// The ad playing: (when it ends, its length, when it started), simulation ms / s.
    ad: Option<(f64, f64, f64)>,
    rng: u64,
}

impl Player {
    fn new() -> Self {
        Self {
            state: PlayerState::Cued,
            position: 0.0,
            rate: 1.0,
            skew: 1.0,
            duration: 600.0,
            latency_ms: 150.0,
            resume: None,
            block_autoplay: false,
            activated: false,
            honour_rates: true,
            events: Vec::new(),
            rates: vec![0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0],
            latency_jitter_ms: 0.0,
            paused_seek_buffers: false,
            rate_lag_ms: 0.0,
            rate_back_lag_ms: 0.0,
            rate_lag_jitter_ms: 0.0,
            rate_jump_ms: 0.0,
            start_lag_ms: 0.0,
            slow_until: 0.0,
            clock_rate: 1.0,
            rate_due: Vec::new(),
            preroll_s: None,
            ad_clock: true,
            ad: None,
            rng: 0x2545_F491_4F6C_DD1D,
        }
    }

    /// A pseudo-random number in [0, 1).
    fn uniform(&mut self) -> f64 {
        uniform(&mut self.rng)
    }

    /// Draws one number (tests: to vary the stream).
    pub fn uniform_for_test(&mut self) -> f64 {
        self.uniform()
    }

    /// This buffering's length (ms).
    fn latency(&mut self) -> f64 {
        let u = self.uniform();
        self.latency_ms + u * self.latency_jitter_ms
    }

    fn set_state(&mut self, now: f64, st: PlayerState) {
        if st != self.state {
            self.state = st;
            self.events.push((now + EVENT_DELAY, Ev::State(st)));
        }
    }

    fn advance(&mut self, now: f64, dt_ms: f64) {
        if let Some((end, _, _)) = self.ad {
            if now >= end {
                // After the ad: UNSTARTED, then the content from where it was.
                self.ad = None;
                self.set_state(now, PlayerState::Unstarted);
                self.play(now);
            }
            return;
        }
        if let Some((at, st)) = self.resume {
            if now >= at {
                self.resume = None;
                if st == PlayerState::Playing && self.preroll_s.is_some() {
                    let len = self.preroll_s.take().unwrap_or(0.0);
                    self.start_ad(now, len);
                    return;
                }
                if st == PlayerState::Playing {
                    self.slow_until = now + 100.0;
                }
                self.set_state(now, st);
            }
        }
        while let Some(&(at, r)) = self.rate_due.first() {
            if now < at {
                break;
            }
            if r != self.clock_rate && self.state == PlayerState::Playing {
                self.position += self.rate_jump_ms / 1000.0;
            }
            self.clock_rate = r;
            self.rate_due.remove(0);
        }
        if self.rate_due.is_empty() {
            self.clock_rate = self.rate;
        }
        if self.state == PlayerState::Playing {
            let ramp = if now <= self.slow_until {
                1.0 - self.start_lag_ms / 100.0
            } else {
                1.0
            };
            self.position += dt_ms / 1000.0 * self.clock_rate * self.skew * ramp;
            if self.position >= self.duration {
                self.position = self.duration;
                self.set_state(now, PlayerState::Ended);
            }
        }
    }

    /// An ad starts now for `len` s: PLAYING, the content frozen.
    pub fn start_ad(&mut self, now: f64, len: f64) {
        self.resume = None;
        self.ad = Some((now + len * 1000.0, len, now));
        self.set_state(now, PlayerState::Playing);
    }

    /// Whether an ad is playing.
    pub fn in_ad(&self) -> bool {
        self.ad.is_some()
    }

    /// `getCurrentTime()` and `getDuration()` as the page sees them now.
    fn shown(&self, now: f64) -> (f64, f64) {
        match self.ad {
            Some((_, len, at)) if self.ad_clock => ((now - at) / 1000.0, len),
            Some((_, len, _)) => (self.position, len),
            None => (self.position, self.duration),
        }
    }

    pub fn play(&mut self, now: f64) {
        if self.ad.is_some() {
            return;
        }
        if self.state == PlayerState::Playing
            || self.resume.is_some_and(|(_, s)| s == PlayerState::Playing)
        {
            return;
        }
        let back = self.state;
        self.set_state(now, PlayerState::Buffering);
        if self.block_autoplay && !self.activated {
            self.resume = Some((now + 200.0, back));
        } else {
            self.resume = Some((now + self.latency(), PlayerState::Playing));
        }
    }

    pub fn pause(&mut self, now: f64) {
        if self.ad.is_some() {
            return;
        }
        self.resume = None;
        self.set_state(now, PlayerState::Paused);
    }

    pub fn seek(&mut self, now: f64, to: f64) {
        if self.ad.is_some() {
            return;
        }
        self.position = to.clamp(0.0, self.duration);
        match self.state {
            PlayerState::Playing | PlayerState::Buffering
                if self.resume.is_none_or(|(_, s)| s == PlayerState::Playing) =>
            {
                self.set_state(now, PlayerState::Buffering);
                self.resume = Some((now + self.latency(), PlayerState::Playing));
            }
            PlayerState::Paused | PlayerState::Buffering => {
                if self.paused_seek_buffers {
                    self.set_state(now, PlayerState::Buffering);
                    self.resume = Some((now + self.latency(), PlayerState::Paused));
                }
            }
            _ => self.play(now),
        }
    }

    fn set_rate(&mut self, now: f64, r: f64) {
        if !self.honour_rates || self.ad.is_some() {
            return;
        }
        let snapped = self
            .rates
            .iter()
            .copied()
            .min_by(|a: &f64, b: &f64| (a - r).abs().total_cmp(&(b - r).abs()))
            .unwrap_or(1.0);
        if snapped != self.rate {
            let mut lag = if (snapped - 1.0).abs() < (self.rate - 1.0).abs() {
                self.rate_back_lag_ms
            } else {
                self.rate_lag_ms
            };
            if self.rate_lag_jitter_ms > 0.0 && lag > 0.0 {
                lag += (self.uniform() * 2.0 - 1.0) * self.rate_lag_jitter_ms;
            }
            if lag > 0.0 || !self.rate_due.is_empty() {
                if self.rate_due.is_empty() {
                    self.clock_rate = self.rate;
                }
                let at = now + lag;
                self.rate_due.retain(|(t, _)| *t < at);
                self.rate_due.push((at, snapped));
            }
            self.rate = snapped;
            self.events.push((now + EVENT_DELAY, Ev::Rate(snapped)));
        }
    }

    /// Freezes the media clock in BUFFERING for `ms`.
    pub fn stall(&mut self, now: f64, ms: f64) {
        self.set_state(now, PlayerState::Buffering);
        self.resume = Some((now + ms, PlayerState::Playing));
    }
}

/// One viewer: engine, player, network path and client clock.
pub struct Client {
    pub engine: Engine,
    pub player: Player,
    pub clock_offset: f64,
    pub up_ms: f64,
    pub down_ms: f64,
    tick_phase: f64,
    wakes: Vec<f64>,
    pub join_shown: bool,
    pub sent: Vec<ClientMsg>,
    pub ready_at: f64,
    ready: bool,
    pub conn_id: u64,
    pub connected: bool,
    /// Amplitude of reading noise (s), pseudo-random.
    pub noise: f64,
    /// Readings are late by up to this (ms), varying (a busy page delivers the time late): the
    /// player reports every 250 ms, each report late by a new random amount, and readings
    /// extrapolate the last report.
    pub stale_ms: f64,
    stale: (f64, f64),
    /// `getCurrentTime()` moves in steps of this (s, floored); 0 = exact.
    pub step: f64,
    /// The widget's reports (ms): readings are the last report (every this many ms and at each
    /// state change) extrapolated at the reported rate, as the real widget API's are. 0 = the
    /// true position.
    pub report_ms: f64,
    report: (f64, f64, PlayerState),
    /// The widget's reports as the stand-in sends them (`end2end/stand-in/iframe_api.js`): on
    /// their own interval timer, whatever the page's polls, plus one at every state or rate
    /// change, each extrapolated at the rate it reported. Off: a report is taken at the poll
    /// that finds the last one `report_ms` old, extrapolated at the rate asked for now.
    pub free_reports: bool,
    /// Each interval report comes up to this much later (ms, pseudo-random): a busy page's
    /// timers slip.
    pub report_jitter_ms: f64,
    /// The rate the last report carried and when the next interval report is due (ms).
    report_rate: f64,
    next_report: f64,
    report_rng: u64,
    /// Every message to and from this viewer is late by up to this much more (ms), varying,
    /// still in order.
    pub jitter_ms: f64,
    last_up: f64,
    last_down: f64,
    net_rng: u64,
    rng: u64,
}

#[allow(clippy::large_enum_variant)] // test traffic; boxing would only add noise
enum Packet {
    ToServer(usize, ClientMsg),
    ToClient(usize, ServerMsg),
}

/// Server, network and viewers.
pub struct World {
    pub now: f64,
    pub state: PlaybackState,
    pub clients: Vec<Client>,
    net: Vec<(f64, Packet)>,
    pub applied: u32,
    /// Each client's reported start need (ms), as the server's roster keeps it.
    needs: Vec<u32>,
    /// The cap of a start's lead (ms; 0: starts are not scheduled), the server's setting.
    pub start_lead_max_ms: u32,
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl World {
    /// A session paused at 0 with a known duration.
    pub fn new() -> Self {
        let mut state =
            PlaybackState::new(VideoId::parse("dQw4w9WgXcQ").unwrap(), 0.0, SERVER_EPOCH);
        state.duration = Some(600.0);
        Self {
            now: 0.0,
            state,
            clients: Vec::new(),
            net: Vec::new(),
            applied: 0,
            needs: Vec::new(),
            start_lead_max_ms: crate::start::DEFAULT_MAX_LEAD_MS,
        }
    }

    /// Adds a viewer that connects now; returns its index.
    pub fn join(&mut self, clock_offset: f64, up_ms: f64, down_ms: f64) -> usize {
        let i = self.clients.len();
        let client = Client {
            engine: Engine::new(Some(self.state.clone())),
            player: Player::new(),
            clock_offset,
            up_ms,
            down_ms,
            tick_phase: (i as f64 * 37.0) % TICK_MS,
            wakes: Vec::new(),
            join_shown: false,
            sent: Vec::new(),
            ready_at: self.now + 300.0,
            ready: false,
            conn_id: 1000 + i as u64,
            connected: true,
            noise: 0.0,
            stale_ms: 0.0,
            stale: (0.0, 0.0),
            step: 0.0,
            report_ms: 0.0,
            report: (f64::NEG_INFINITY, 0.0, PlayerState::Unstarted),
            free_reports: false,
            report_jitter_ms: 0.0,
            report_rate: 1.0,
            next_report: 0.0,
            report_rng: 0x6A09_E667_F3BC_C908 ^ (i as u64 + 1),
            jitter_ms: 0.0,
            last_up: 0.0,
            last_down: 0.0,
            net_rng: 0xD1B5_4A32_D192_ED03 ^ (i as u64 + 1),
            rng: 0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1),
        };
        self.clients.push(client);
        self.send_hello(i);
        i
    }

    /// Sends a fresh `Hello` to viewer `i` (a (re)connect).
    pub fn send_hello(&mut self, i: usize) {
        let down_ms = self.clients[i].down_ms;
        self.clients[i].connected = true;
        let hello = ServerMsg::Hello {
            conn_id: self.clients[i].conn_id,
            session_id: crate::ids::SessionId::parse("abcdefABCDEF").unwrap(),
            server_time: self.server_now(),
            state: self.state.clone(),
            viewers: self.clients.len() as u32,
            kid: None,
        };
        let at = self.due(i, false, down_ms);
        self.net.push((at, Packet::ToClient(i, hello)));
    }

    /// When a message sent now to (`up` = from) viewer `i` arrives: `base_ms` plus the
    /// viewer's jitter, never before the previous one on the same path.
    fn due(&mut self, i: usize, up: bool, base_ms: f64) -> f64 {
        let c = &mut self.clients[i];
        let mut at = self.now + base_ms;
        if c.jitter_ms > 0.0 {
            at += uniform(&mut c.net_rng) * c.jitter_ms;
        }
        let last = if up { &mut c.last_up } else { &mut c.last_down };
        at = at.max(*last);
        *last = at;
        at
    }

    /// A widget report of viewer `i` now, if one is due ([`Client::free_reports`]): its
    /// interval timer fired, or the state or the rate changed.
    fn free_report(&mut self, i: usize) {
        let now = self.now;
        let c = &mut self.clients[i];
        if !c.free_reports || c.report_ms <= 0.0 || c.player.in_ad() {
            return;
        }
        let timer = now >= c.next_report;
        if timer {
            c.next_report = now + c.report_ms + uniform(&mut c.report_rng) * c.report_jitter_ms;
        }
        if timer || c.report.2 != c.player.state || c.report_rate != c.player.rate {
            c.report = (now, c.player.position, c.player.state);
            c.report_rate = c.player.rate;
        }
    }

    pub fn server_now(&self) -> f64 {
        SERVER_EPOCH + self.now
    }

    fn reading(&mut self, i: usize) -> Option<Reading> {
        let c = &mut self.clients[i];
        let u = uniform(&mut c.rng);
        let noise = (u * 2.0 - 1.0) * c.noise;
        let (mut position, duration) = c.player.shown(self.now);
        if c.free_reports && c.report_ms > 0.0 && !c.player.in_ad() {
            position = if c.report.2 == PlayerState::Playing {
                c.report.1 + (self.now - c.report.0) / 1000.0 * c.report_rate
            } else {
                c.report.1
            };
        } else if c.report_ms > 0.0 && !c.player.in_ad() {
            if self.now >= c.report.0 + c.report_ms || c.report.2 != c.player.state {
                c.report = (self.now, position, c.player.state);
            }
            if c.player.state == PlayerState::Playing {
                position = c.report.1 + (self.now - c.report.0) / 1000.0 * c.player.rate;
            } else {
                position = c.report.1;
            }
        }
        if self.now >= c.stale.1 {
            // The same draw, another bit range: how late the next report is.
            c.stale = (
                (c.rng & 0x7FF) as f64 / 2048.0 * c.stale_ms,
                self.now + 250.0,
            );
        }
        if c.player.state == PlayerState::Playing && !c.player.in_ad() {
            position -= c.stale.0 / 1000.0 * c.player.rate * c.player.skew;
        }
        if c.step > 0.0 {
            position = (position / c.step).floor() * c.step;
        }
        c.ready.then_some(Reading {
            at: self.now + c.clock_offset,
            state: c.player.state,
            position: position + noise,
            rate: c.player.rate,
            duration,
        })
    }

    fn exec(&mut self, i: usize, actions: Vec<Action>) {
        let now = self.now;
        for a in actions {
            let c = &mut self.clients[i];
            match a {
                Action::Play => c.player.play(now),
                Action::Pause => c.player.pause(now),
                Action::Seek(to) => c.player.seek(now, to),
                Action::SetRate(r) => c.player.set_rate(now, r),
                Action::Send(m) => {
                    c.sent.push(m.clone());
                    let up = c.up_ms;
                    let at = self.due(i, true, up);
                    self.net.push((at, Packet::ToServer(i, m)));
                }
                Action::ShowJoin(b) => c.join_shown = b,
                Action::WakeAt(t) | Action::StartAt(t) => c.wakes.push(t - c.clock_offset),
                Action::Load { .. } => {}
            }
        }
    }

    fn server(&mut self, from: usize, msg: ClientMsg) {
        let ts = self.server_now();
        let down = self.clients[from].down_ms;
        let to_sender = |w: &mut World, m: ServerMsg| {
            let at = w.due(from, false, down);
            w.net.push((at, Packet::ToClient(from, m)));
        };
        if let ClientMsg::Ping { t0 } = msg {
            to_sender(
                self,
                ServerMsg::Pong {
                    t0,
                    t1: ts,
                    t2: ts + 0.05,
                },
            );
            return;
        }
        if let ClientMsg::StartNeed { ms } = msg {
            if self.needs.len() <= from {
                self.needs.resize(from + 1, 0);
            }
            self.needs[from] = ms as u32;
            return;
        }
        let Some((seq, base, cmd)) = msg.command() else {
            return;
        };
        let largest = self.needs.iter().copied().max().unwrap_or(0);
        let lead = crate::start::lead_ms(largest, self.start_lead_max_ms);
        match apply_scheduled(&self.state, cmd, base, ts, f64::from(lead)) {
            Ok(Some(next)) => {
                self.state = next;
                self.applied += 1;
                let cause = Some(Cause {
                    conn_id: self.clients[from].conn_id,
                    seq,
                });
                for j in 0..self.clients.len() {
                    if self.clients[j].connected {
                        let m = ServerMsg::State {
                            state: self.state.clone(),
                            cause,
                        };
                        let down = self.clients[j].down_ms;
                        let at = self.due(j, false, down);
                        self.net.push((at, Packet::ToClient(j, m)));
                    }
                }
            }
            Ok(None) => {}
            Err(CommandError::Stale { .. }) => {
                to_sender(
                    self,
                    ServerMsg::Error {
                        code: ErrorCode::Stale,
                        message: "stale".into(),
                        seq: Some(seq),
                    },
                );
                let st = self.state.clone();
                to_sender(
                    self,
                    ServerMsg::State {
                        state: st,
                        cause: None,
                    },
                );
            }
            Err(CommandError::InvalidValue(_)) => to_sender(
                self,
                ServerMsg::Error {
                    code: ErrorCode::InvalidValue,
                    message: "invalid".into(),
                    seq: Some(seq),
                },
            ),
        }
    }

    /// Advances the world by one millisecond.
    pub fn step(&mut self) {
        self.now += 1.0;
        let now = self.now;
        for i in 0..self.clients.len() {
            self.clients[i].player.advance(now, 1.0);
            self.free_report(i);
            let cnow = now + self.clients[i].clock_offset;
            if !self.clients[i].ready && now >= self.clients[i].ready_at {
                self.clients[i].ready = true;
                let r = self.reading(i);
                let rates = self.clients[i].player.rates.clone();
                let a = self.clients[i].engine.on_player_ready(cnow, &rates, r);
                self.exec(i, a);
            }
            let due: Vec<Ev> = {
                let evs = &mut self.clients[i].player.events;
                let (due, keep): (Vec<_>, Vec<_>) = evs.drain(..).partition(|(t, _)| *t <= now);
                *evs = keep;
                due.into_iter().map(|(_, e)| e).collect()
            };
            if self.clients[i].ready {
                for e in due {
                    let r = self.reading(i);
                    let a = match e {
                        Ev::State(st) => self.clients[i].engine.on_player_state(cnow, st, r),
                        Ev::Rate(x) => self.clients[i].engine.on_rate_change(cnow, x, r),
                    };
                    self.exec(i, a);
                }
            }
            let c = &mut self.clients[i];
            let wake_due = c.wakes.iter().any(|w| *w <= now);
            c.wakes.retain(|w| *w > now);
            let tick_due = ((now - c.tick_phase) % TICK_MS).abs() < 0.5;
            if tick_due || wake_due {
                let r = self.reading(i);
                let a = self.clients[i].engine.on_tick(cnow, r);
                self.exec(i, a);
            }
        }
        let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.net)
            .into_iter()
            .partition(|(t, _)| *t <= now);
        self.net = keep;
        for (_, p) in due {
            match p {
                Packet::ToServer(i, m) => self.server(i, m),
                Packet::ToClient(i, m) => {
                    let cnow = now + self.clients[i].clock_offset;
                    let r = self.reading(i);
                    let a = self.clients[i].engine.on_message(cnow, m, r);
                    self.exec(i, a);
                }
            }
        }
    }

    /// Runs for `ms` milliseconds.
    pub fn run(&mut self, ms: f64) {
        let end = self.now + ms;
        while self.now < end {
            self.step();
        }
    }

    /// Runs for `ms`, returning the largest |position(a) - position(b)| seen (s), sampled
    /// every 10 ms while both play.
    pub fn run_max_gap(&mut self, ms: f64, a: usize, b: usize) -> f64 {
        let end = self.now + ms;
        let mut worst: f64 = 0.0;
        while self.now < end {
            self.step();
            if self.now as i64 % 10 == 0 {
                let (pa, pb) = (&self.clients[a].player, &self.clients[b].player);
                if pa.state == PlayerState::Playing && pb.state == PlayerState::Playing {
                    worst = worst.max((pa.position - pb.position).abs());
                }
            }
        }
        worst
    }

    /// The viewer presses play inside the player (a person's action).
    pub fn user_play(&mut self, i: usize) {
        let now = self.now;
        self.clients[i].player.activated = true;
        self.clients[i].player.play(now);
    }

    /// A viewer's error against the true session position now (s, + = ahead).
    pub fn error(&self, i: usize) -> f64 {
        self.clients[i].player.position - self.state.position_at(self.server_now())
    }

    /// Commands (not pings) a viewer sent.
    pub fn commands(&self, i: usize) -> usize {
        self.clients[i]
            .sent
            .iter()
            .filter(|m| m.command().is_some())
            .count()
    }

    /// The viewer clicks the "Join playback" button.
    pub fn click_join(&mut self, i: usize) {
        self.clients[i].player.activated = true;
        let cnow = self.now + self.clients[i].clock_offset;
        let r = self.reading(i);
        let a = self.clients[i].engine.on_join_click(cnow, r);
        self.exec(i, a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::drift::RateSupport;
    use crate::sync::ConnStatus;

    const A_CLOCK: f64 = -SERVER_EPOCH + 12_345.0;
    const B_CLOCK: f64 = -SERVER_EPOCH - 777_000.0;

    /// A plays from 0; B joins 10 s later and settles for 5 s.
    fn two_playing() -> World {
        let mut w = World::new();
        w.join(A_CLOCK, 15.0, 15.0);
        w.run(1_000.0);
        let now = w.now;
        w.clients[0].player.activated = true;
        w.clients[0].player.play(now);
        w.run(9_000.0);
        w.join(B_CLOCK, 30.0, 30.0);
        w.run(5_000.0);
        w
    }

    #[test]
    fn sync_first_play_becomes_one_command() {
        let mut w = World::new();
        w.join(A_CLOCK, 15.0, 15.0);
        w.run(1_000.0);
        assert_eq!(w.commands(0), 0, "applying the initial state sends nothing");
        let now = w.now;
        w.clients[0].player.activated = true;
        w.clients[0].player.play(now);
        w.run(2_000.0);
        assert_eq!(w.commands(0), 1);
        assert!(w.state.playing);
        assert!(w.error(0).abs() < 0.010, "{}", w.error(0));
    }

    #[test]
    fn sync_late_joiner_lands_in_sync_and_stays_without_seeks() {
        let mut w = two_playing();
        assert_eq!(w.commands(1), 0, "the joiner never sends a command");
        assert!(w.error(1).abs() < 0.012, "after settling: {}", w.error(1));
        let seeks = w.clients[1].engine.stats().corrective_seeks;
        let nudges = w.clients[1].engine.stats().rate_nudges;
        let gap = w.run_max_gap(30_000.0, 0, 1);
        assert!(gap < 0.005, "gap between viewers {gap}");
        assert_eq!(w.clients[1].engine.stats().corrective_seeks, seeks);
        assert_eq!(
            w.clients[1].engine.stats().rate_nudges,
            nudges,
            "steady: no pulses"
        );
        assert_eq!(w.clients[0].engine.stats().corrective_seeks, 0);
        assert_eq!(w.clients[1].engine.stats().status, "live");
    }

    #[test]
    fn sync_clock_offset_is_estimated_through_the_engine() {
        let w = two_playing();
        // Server = sim + EPOCH, client = sim + B_CLOCK: offset = EPOCH - B_CLOCK.
        let expected = SERVER_EPOCH - B_CLOCK;
        let st = w.clients[1].engine.stats();
        assert!(
            (st.offset_ms - expected).abs() < 1.0,
            "{} vs {expected}",
            st.offset_ms
        );
        assert!((st.rtt_ms - 60.0).abs() < 2.0, "{}", st.rtt_ms);
    }

    #[test]
    fn sync_remote_pause_and_play_are_not_echoed() {
        let mut w = two_playing();
        let applied = w.applied;
        let now = w.now;
        w.clients[0].player.pause(now);
        w.run(1_500.0);
        assert_eq!(w.applied, applied + 1, "exactly one change");
        assert!(!w.state.playing);
        assert_eq!(w.clients[1].player.state, PlayerState::Paused);
        let (pa, pb) = (w.clients[0].player.position, w.clients[1].player.position);
        assert!(
            (pa - pb).abs() < 0.001,
            "both paused at the same frame: {pa} {pb}"
        );
        assert_eq!(w.commands(1), 0);
        let now = w.now;
        w.clients[0].player.play(now);
        w.run(3_000.0);
        assert_eq!(w.applied, applied + 2);
        assert_eq!(w.commands(1), 0, "B applied both without bouncing them");
        assert_eq!(w.clients[1].player.state, PlayerState::Playing);
        let gap = w.run_max_gap(5_000.0, 0, 1);
        assert!(gap < 0.010, "{gap}");
    }

    #[test]
    fn sync_silent_seek_while_paused_is_detected_and_followed() {
        let mut w = two_playing();
        let now = w.now;
        w.clients[0].player.pause(now);
        w.run(1_500.0);
        let applied = w.applied;
        let now = w.now;
        // Seek inside the paused player: YouTube fires no event at all.
        w.clients[0].player.seek(now, 120.0);
        assert!(w.clients[0].player.events.is_empty());
        w.run(1_000.0);
        assert_eq!(w.applied, applied + 1);
        assert!(!w.state.playing);
        assert!((w.state.position - 120.0).abs() < 1e-9);
        assert!((w.clients[1].player.position - 120.0).abs() < 1e-9);
        assert_eq!(w.commands(1), 0);
    }

    #[test]
    fn sync_a_play_right_after_a_remote_paused_seek_is_not_swallowed() {
        let mut w = two_playing();
        let now = w.now;
        w.clients[1].player.pause(now);
        w.run(1_500.0);
        let now = w.now;
        w.clients[1].player.seek(now, 120.0);
        w.run(150.0);
        assert!((w.clients[0].player.position - 120.0).abs() < 1e-9);
        // A presses play right away: the remote seek fired no event, so nothing may be
        // waiting for one.
        let now = w.now;
        w.clients[0].player.play(now);
        w.run(2_000.0);
        assert!(w.state.playing, "A's play reached the server");
        assert_eq!(w.clients[1].player.state, PlayerState::Playing);
        let gap = w.run_max_gap(3_000.0, 0, 1);
        assert!(gap < 0.010, "{gap}");
    }

    #[test]
    fn sync_seek_while_playing_is_followed_by_everyone() {
        let mut w = two_playing();
        let applied = w.applied;
        let now = w.now;
        w.clients[0].player.seek(now, 200.0);
        w.run(4_000.0);
        assert_eq!(w.applied, applied + 1);
        assert!((w.clients[1].player.position - w.clients[0].player.position).abs() < 0.010);
        assert_eq!(w.commands(1), 0);
        assert_eq!(w.clients[1].engine.stats().corrective_seeks, 0);
        assert!(w.error(1).abs() < 0.012, "{}", w.error(1));
    }

    #[test]
    fn sync_resume_latency_is_learned_so_remote_plays_land_in_sync() {
        let mut w = two_playing();
        w.clients[1].player.latency_ms = 260.0;
        let mut errors = Vec::new();
        for _ in 0..5 {
            let now = w.now;
            w.clients[0].player.pause(now);
            w.run(2_000.0);
            let now = w.now;
            w.clients[0].player.play(now);
            // B hears of it after A's echo path and starts after its 260 ms start latency;
            // look before any correction could have run.
            w.run(30.0 + 260.0 + 400.0);
            assert_eq!(w.clients[1].player.state, PlayerState::Playing);
            errors.push(w.error(1));
            w.run(3_000.0);
        }
        assert_eq!(w.commands(1), 0);
        let (first, last) = (errors[0].abs(), errors[errors.len() - 1].abs());
        assert!(first > 0.04, "{errors:?}");
        assert!(last < 0.015, "{errors:?}");
        assert_eq!(w.clients[1].engine.stats().corrective_seeks, 0);
    }

    #[test]
    fn sync_skewed_media_clock_is_held_by_pulses_without_seeks() {
        let mut w = two_playing();
        w.clients[1].player.skew = 1.01; // 10 ms per second fast
        let mut worst: f64 = 0.0;
        w.run(3_000.0);
        let nudges = w.clients[1].engine.stats().rate_nudges;
        let others = w.clients[0].engine.stats().rate_nudges;
        for _ in 0..600 {
            w.run(100.0);
            worst = worst.max(w.error(1).abs());
        }
        let st = w.clients[1].engine.stats();
        assert_eq!(st.corrective_seeks, 0);
        let pulses = st.rate_nudges - nudges;
        assert!(pulses > 10 && pulses < 150, "{pulses} pulses in 60 s");
        assert!(
            worst < 0.008,
            "worst error {worst}, lag {}",
            w.clients[1].engine.stats().pulse_lag_ms
        );
        assert_eq!(
            w.clients[0].engine.stats().rate_nudges,
            others,
            "the other viewer is left alone"
        );
    }

    #[test]
    fn sync_reading_noise_inside_the_band_causes_no_corrections() {
        let mut w = two_playing();
        w.clients[1].noise = 0.004;
        w.run(3_000.0);
        let before = w.clients[1].engine.stats().rate_nudges;
        w.run(30_000.0);
        let st = w.clients[1].engine.stats();
        assert_eq!(st.rate_nudges, before, "no oscillation on noise");
        assert_eq!(st.corrective_seeks, 0);
    }

    #[test]
    fn sync_short_stall_catches_up_by_pulse_and_others_keep_playing() {
        let mut w = two_playing();
        let a_before = w.clients[0].player.position;
        let now = w.now;
        w.clients[1].player.stall(now, 500.0);
        w.run(600.0);
        assert!(w.error(1) < -0.4, "B fell behind: {}", w.error(1));
        assert!(
            (w.clients[0].player.position - a_before - 0.6).abs() < 0.01,
            "A kept playing"
        );
        w.run(3_500.0);
        assert!(w.error(1).abs() < 0.012, "caught up: {}", w.error(1));
        assert_eq!(w.clients[1].engine.stats().corrective_seeks, 0);
        assert_eq!(w.commands(1), 0, "a stall is not a seek");
        assert_eq!(w.commands(0), 1);
    }

    #[test]
    fn sync_long_stall_catches_up_by_one_compensated_seek() {
        let mut w = two_playing();
        w.clients[1].player.latency_ms = 300.0;
        let now = w.now;
        w.clients[1].player.stall(now, 3_000.0);
        w.run(6_000.0);
        let st = w.clients[1].engine.stats();
        assert_eq!(st.corrective_seeks, 1);
        assert!(w.error(1).abs() < 0.012, "{}", w.error(1));
        assert_eq!(w.commands(1), 0);
        // Learned from the seek: the latency estimate moved from 200 ms toward 300 ms.
        let l = w.clients[1].engine.drift().seek_latency();
        assert!(l > 0.22 && l <= 0.31, "{l}");
    }

    #[test]
    fn sync_blocked_autoplay_shows_join_and_the_click_lands_in_sync() {
        let mut w = World::new();
        w.join(A_CLOCK, 15.0, 15.0);
        w.run(500.0);
        let now = w.now;
        w.clients[0].player.activated = true;
        w.clients[0].player.play(now);
        w.run(5_000.0);
        let b = w.join(B_CLOCK, 20.0, 20.0);
        w.clients[b].player.block_autoplay = true;
        w.run(2_500.0);
        assert!(w.clients[b].join_shown, "join button shown");
        assert_eq!(w.clients[b].engine.stats().last_action, "autoplay blocked");
        assert_eq!(
            w.commands(b),
            0,
            "the fallback to paused is not a pause command"
        );
        assert!(w.state.playing);
        w.click_join(b);
        assert!(!w.clients[b].join_shown);
        w.run(3_000.0);
        assert_eq!(w.clients[b].player.state, PlayerState::Playing);
        assert!(w.error(b).abs() < 0.012, "{}", w.error(b));
        assert_eq!(w.commands(b), 0);
    }

    #[test]
    fn sync_concurrent_commands_resolve_to_one_outcome() {
        let mut w = two_playing();
        w.clients[1].up_ms = 40.0;
        let applied = w.applied;
        let now = w.now;
        w.clients[0].player.pause(now);
        w.clients[1].player.seek(now, 300.0);
        w.run(3_000.0);
        assert_eq!(w.applied, applied + 1, "A's pause won, B's seek was stale");
        assert!(!w.state.playing);
        for i in 0..2 {
            assert_eq!(w.clients[i].player.state, PlayerState::Paused, "viewer {i}");
            assert!((w.clients[i].player.position - w.state.position).abs() < 0.001);
        }
        assert_eq!(w.commands(1), 1, "B's seek was sent once and not retried");
    }

    #[test]
    fn sync_without_rate_support_falls_back_to_seeks() {
        let mut w = World::new();
        w.join(A_CLOCK, 15.0, 15.0);
        w.run(500.0);
        let now = w.now;
        w.clients[0].player.activated = true;
        w.clients[0].player.play(now);
        w.run(3_000.0);
        let b = w.join(B_CLOCK, 20.0, 20.0);
        w.clients[b].player.honour_rates = false;
        w.clients[b].player.latency_ms = 550.0; // joins ~350 ms behind
        w.run(8_000.0);
        assert_eq!(
            w.clients[b].engine.drift().support(),
            RateSupport::Unavailable
        );
        assert!(w.clients[b].engine.stats().corrective_seeks >= 1);
        assert!(w.error(b).abs() < 0.25, "{}", w.error(b));
        assert_eq!(w.commands(b), 0);
    }

    #[test]
    fn sync_everyone_ends_together_without_commands() {
        let mut w = two_playing();
        let now = w.now;
        w.clients[0].player.seek(now, 595.0);
        w.run(8_000.0);
        for i in 0..2 {
            assert_eq!(w.clients[i].player.state, PlayerState::Ended, "viewer {i}");
        }
        assert_eq!(w.commands(1), 0);
        assert_eq!(w.commands(0), 2, "play + the seek, nothing at the end");
        let st = w.clients[1].engine.stats();
        assert!((st.target_position - 600.0).abs() < 1e-9);
    }

    #[test]
    fn sync_reconnect_resyncs_from_the_new_hello() {
        let mut w = two_playing();
        let cnow = w.now + B_CLOCK;
        w.clients[1].connected = false;
        let _ = w.clients[1].engine.on_disconnect(cnow, false, None);
        assert_eq!(w.clients[1].engine.status(), ConnStatus::Reconnecting);
        // Meanwhile A seeks; B misses the broadcast.
        let now = w.now;
        w.clients[0].player.seek(now, 100.0);
        w.run(2_000.0);
        assert!(w.error(1).abs() > 1.0);
        w.send_hello(1);
        w.run(4_000.0);
        assert_eq!(w.clients[1].engine.status(), ConnStatus::Live);
        assert!(w.error(1).abs() < 0.012, "{}", w.error(1));
        assert_eq!(w.commands(1), 0);
    }

    #[test]
    fn sync_duration_is_reported_once() {
        let mut w = World::new();
        w.state.duration = None;
        w.join(A_CLOCK, 10.0, 10.0);
        w.join(B_CLOCK, 10.0, 10.0);
        w.run(2_000.0);
        let sent: usize = (0..2)
            .map(|i| {
                w.clients[i]
                    .sent
                    .iter()
                    .filter(|m| matches!(m, ClientMsg::Duration { .. }))
                    .count()
            })
            .sum();
        assert!((1..=2).contains(&sent), "{sent}");
        assert_eq!(w.state.duration, Some(600.0));
        w.run(2_000.0);
        let again: usize = (0..2)
            .map(|i| {
                w.clients[i]
                    .sent
                    .iter()
                    .filter(|m| matches!(m, ClientMsg::Duration { .. }))
                    .count()
            })
            .sum();
        assert_eq!(again, sent);
    }
}
