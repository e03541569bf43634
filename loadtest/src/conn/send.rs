//! What a connected viewer sends, and when: the sender's paced, open-loop commands, the
//! periodic `status` reports and pings ([`Schedule`]).

use super::{Counters, Outcome, Spec, Ws};
use crate::clock;
use futures::SinkExt;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::tungstenite::Message;
use watchparty_core::protocol::ClientMsg;

/// One viewer's sends: when each is due, and (sender) the next command.
pub(super) struct Schedule {
    /// Start of the command phase (`None`: not yet started; nothing is due).
    pub(super) start: Option<Instant>,
    /// Commands of the session.
    commands: u32,
    /// Commands sent so far (the last `seq`).
    seq: u32,
    /// The revision the next command is based on. The sender predicts it (it is the only
    /// writer), so its schedule never waits for a response: open loop.
    pub(super) next_base: u64,
    /// Pings sent so far.
    pub(super) pings_sent: u32,
    /// Offset of the ping schedule (spreads the viewers' pings over the period).
    ping_offset: Option<Duration>,
    /// Offset of the `status` schedule (likewise).
    status_offset: Option<Duration>,
}

impl Schedule {
    /// The schedule of `spec`'s viewer, whose `Hello` carried `revision`.
    pub(super) fn new(spec: &Spec, revision: u64) -> Self {
        Self {
            start: None,
            commands: spec.session.sent.len() as u32,
            seq: 0,
            next_base: revision,
            pings_sent: 0,
            ping_offset: spec.ping.map(|p| spread(spec.index, p)),
            status_offset: spec.status.map(|p| spread(spec.index, p)),
        }
    }

    /// When the next command is due (senders only, until all are sent).
    pub(super) fn next_command(&self, spec: &Spec) -> Option<Instant> {
        match self.start {
            Some(s) if spec.sender && self.seq < self.commands => {
                Some(s + spec.offset + spec.interval * self.seq)
            }
            _ => None,
        }
    }

    /// When the next `status` is due, after `sent` of them.
    pub(super) fn next_status(&self, spec: &Spec, sent: u64) -> Option<Instant> {
        match (self.start, spec.status, self.status_offset) {
            (Some(s), Some(p), Some(o)) => Some(s + o + p * sent as u32),
            _ => None,
        }
    }

    /// When the next ping is due.
    pub(super) fn next_ping(&self, spec: &Spec) -> Option<Instant> {
        match (self.start, spec.ping, self.ping_offset) {
            (Some(s), Some(p), Some(o)) => Some(s + o + p * self.pings_sent),
            _ => None,
        }
    }
}

/// Viewer `index`'s offset inside a `period`, so that the viewers' periodic sends spread out.
fn spread(index: usize, period: Duration) -> Duration {
    let ms = period.as_millis().max(1) as u64;
    Duration::from_millis((index as u64).wrapping_mul(7919) % ms)
}

/// Sends the sender's next command (a `Seek` to a distinct position) scheduled at
/// `scheduled`: records its send time for the session and the lag behind the schedule.
pub(super) async fn send_command(
    ws: &mut Ws,
    spec: &Spec,
    counters: &Counters,
    out: &mut Outcome,
    sched: &mut Schedule,
    scheduled: Instant,
) -> Result<(), String> {
    sched.seq += 1;
    let seq = sched.seq;
    let msg = ClientMsg::Seek {
        seq,
        base_revision: sched.next_base,
        // Distinct positions, so no seek is a duplicate of the state.
        position: f64::from(seq) * 1.25,
    };
    sched.next_base += 1;
    let text = serde_json::to_string(&msg).unwrap_or_default();
    let now = Instant::now();
    out.send_lag_max_us = out
        .send_lag_max_us
        .max(now.saturating_duration_since(scheduled).as_micros() as u64);
    if let Some(slot) = spec.session.sent.get(seq as usize - 1) {
        slot.store(clock::micros_at(now.into_std()) + 1, Relaxed);
    }
    counters.sent.fetch_add(1, Relaxed);
    send(ws, text).await
}

/// Sends the next health report, alternating in sync and buffering.
pub(super) async fn send_status(ws: &mut Ws, out: &mut Outcome) -> Result<(), String> {
    out.statuses_sent += 1;
    let status = if out.statuses_sent % 2 == 1 {
        watchparty_core::health::Health::in_sync(0)
    } else {
        watchparty_core::health::Health::Buffering
    };
    let text = serde_json::to_string(&ClientMsg::Status { status }).unwrap_or_default();
    send(ws, text).await
}

/// Sends a `Ping` stamped with the process clock, ms.
pub(super) async fn send_ping(ws: &mut Ws) -> Result<(), String> {
    let t0 = clock::now_us() as f64 / 1000.0;
    let text = serde_json::to_string(&ClientMsg::Ping { t0 }).unwrap_or_default();
    send(ws, text).await
}

/// Sends one text frame; `Err` says why the connection is lost.
async fn send(ws: &mut Ws, text: String) -> Result<(), String> {
    ws.send(Message::text(text))
        .await
        .map_err(|e| format!("send: {e}"))
}

/// Sleeps until `at`, or forever when `None`.
pub(super) async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}
