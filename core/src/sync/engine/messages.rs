//! The server's messages: `hello` (the clock burst starts, the room's state is adopted), pongs
//! (clock samples), a new state (someone else's change is applied; the echo of our own settles
//! the command in flight), presence, and errors (a stale command drops ours and re-applies the
//! room's). The room's list, chat and reactions are the page's, not the engine's.

use super::*;

impl Engine {
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
    pub(super) fn hello(
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
        self.need_sent = None;
        self.burst_left = PING_BURST;
        self.send_ping(now, out);
        self.state = Some(state);
        self.drift.reset(now, 0.0);
        self.apply_state(now, r, out);
        if let (true, Some(r)) = (self.ready, r) {
            self.report_duration(r, out);
        }
    }

    pub(super) fn send_ping(&mut self, now: f64, out: &mut Vec<Action>) {
        out.push(Action::Send(ClientMsg::Ping { t0: now }));
        self.last_ping = now;
        self.burst_left = self.burst_left.saturating_sub(1);
    }

    pub(super) fn on_state(
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
                    if let (Some(r), true) = (r, self.state.as_ref().is_some_and(|s| s.playing)) {
                        self.hold_own_start(now, r, out);
                    }
                    return;
                }
            }
        }
        self.apply_state(now, r, out);
    }

    pub(super) fn on_error(
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
}
