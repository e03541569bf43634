//! What a connected viewer makes of what arrives: receipts of the sender's broadcasts (with a
//! fast path for `State` and `presence`), pongs, server errors, roster traffic, and the ends
//! of the connection.

use super::{Counters, Outcome, Spec};
use std::sync::atomic::Ordering::Relaxed;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use watchparty_core::protocol::{Cause, ServerMsg};

/// Server error messages kept per connection.
const KEEP_ERRORS: usize = 4;

/// Handles what the socket yielded at `at` µs; `Err` says why the connection ended.
pub(super) fn receive(
    msg: Option<Result<Message, WsError>>,
    at: u64,
    spec: &Spec,
    out: &mut Outcome,
    counters: &Counters,
    next_base: &mut u64,
) -> Result<(), String> {
    match msg {
        Some(Ok(Message::Text(t))) => {
            handle_text(&t, at, spec, out, counters, next_base);
            Ok(())
        }
        Some(Ok(Message::Close(f))) => Err(match f {
            Some(f) => format!("closed by server: {} {}", u16::from(f.code), f.reason),
            None => "closed by server".into(),
        }),
        Some(Ok(_)) => Ok(()),
        Some(Err(e)) => Err(format!("read: {e}")),
        None => Err("connection ended".into()),
    }
}

/// Handles one text frame received at `at` µs.
fn handle_text(
    text: &str,
    at: u64,
    spec: &Spec,
    out: &mut Outcome,
    counters: &Counters,
    next_base: &mut u64,
) {
    // Presence updates can be frequent while thousands join: skip them without parsing.
    if text.starts_with(r#"{"type":"presence""#) {
        return;
    }
    // The hot path: a `State` broadcast. Only the revision and the cause matter here, so
    // skip building the full state (the serde tag buffering of `ServerMsg` costs the most).
    if text.starts_with(r#"{"type":"state""#) {
        if let Ok(s) = serde_json::from_str::<StateLite>(text) {
            on_state(
                s.state.revision,
                s.cause,
                at,
                spec,
                out,
                counters,
                next_base,
            );
            return;
        }
    }
    match serde_json::from_str::<ServerMsg>(text) {
        Ok(ServerMsg::State { state, cause }) => {
            on_state(state.revision, cause, at, spec, out, counters, next_base);
        }
        Ok(ServerMsg::Pong { t0, .. }) => {
            let sent = (t0 * 1000.0).round();
            if sent.is_finite() && sent >= 0.0 {
                out.pings_us.push(at.saturating_sub(sent as u64));
                counters.pongs.fetch_add(1, Relaxed);
            } else {
                out.bad_messages += 1;
            }
        }
        Ok(ServerMsg::Error { code, message, seq }) => {
            out.error_count += 1;
            counters.server_errors.fetch_add(1, Relaxed);
            if out.errors.len() < KEEP_ERRORS {
                out.errors
                    .push(format!("{code:?} (seq {seq:?}): {message}"));
            }
            // A rejected command did not move the revision: continue from the latest one
            // seen (the `State` that follows a stale rejection carries it).
            if spec.sender && seq.is_some() {
                *next_base = out.receipts.last_revision();
            }
        }
        // Chat and reactions are not part of the load profile; history comes once per join.
        Ok(
            ServerMsg::Presence { .. }
            | ServerMsg::History { .. }
            | ServerMsg::Chat(_)
            | ServerMsg::ChatDeleted { .. }
            | ServerMsg::Reaction(_),
        ) => {}
        Ok(ServerMsg::Roster { .. }) => {
            out.roster_msgs += 1;
            out.roster_bytes += text.len() as u64;
        }
        Ok(ServerMsg::Hello { .. }) => out.bad_messages += 1,
        Err(_) => out.bad_messages += 1,
    }
}

/// The parts of a `State` message the load generator needs (same wire format as
/// [`ServerMsg::State`]; the other fields are skipped, not buffered).
#[derive(serde::Deserialize)]
struct StateLite {
    state: RevisionOnly,
    cause: Option<Cause>,
}

#[derive(serde::Deserialize)]
struct RevisionOnly {
    revision: u64,
}

/// Records a `State` with `revision` and `cause` received at `at` µs.
fn on_state(
    revision: u64,
    cause: Option<Cause>,
    at: u64,
    spec: &Spec,
    out: &mut Outcome,
    counters: &Counters,
    next_base: &mut u64,
) {
    // Never base a command on less than a revision already seen.
    *next_base = (*next_base).max(revision);
    let sender = spec.session.sender_conn.load(Relaxed);
    match cause {
        Some(c) if sender != 0 && c.conn_id == sender => {
            if out.receipts.record(c.seq, revision, at) == crate::stats::Recorded::First {
                counters.received.fetch_add(1, Relaxed);
            }
        }
        _ => out.receipts.observe_revision(revision),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use watchparty_core::ids::VideoId;
    use watchparty_core::playback::PlaybackState;

    #[test]
    fn fast_paths_match_the_real_wire_format() {
        let state = PlaybackState {
            revision: 42,
            ..PlaybackState::new(VideoId::parse("dQw4w9WgXcQ").unwrap(), 3.0, 1.0)
        };
        let msg = ServerMsg::State {
            state,
            cause: Some(Cause { conn_id: 7, seq: 9 }),
        };
        let text = serde_json::to_string(&msg).unwrap();
        assert!(text.starts_with(r#"{"type":"state""#), "{text}");
        let lite: StateLite = serde_json::from_str(&text).unwrap();
        assert_eq!(lite.state.revision, 42);
        assert_eq!(lite.cause, Some(Cause { conn_id: 7, seq: 9 }));
        let presence = serde_json::to_string(&ServerMsg::Presence { viewers: 3 }).unwrap();
        assert!(presence.starts_with(r#"{"type":"presence""#), "{presence}");
    }
}
