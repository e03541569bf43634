//! Scheduled starts (issue 27) over real sockets, on both stores: a play takes effect a lead
//! ahead of the moment it was applied; the lead follows the largest start need the viewers
//! reported (through the room's list, so across instances), within its floor and cap; a bad
//! report is refused.

use crate::common::{create, on_both_stores, spawn, wall_ms, Client, Store};
use std::time::Duration;
use watchparty_core::playback::Command;
use watchparty_core::protocol::{ClientMsg, ErrorCode};
use watchparty_core::start::{lead_ms, DEFAULT_MAX_LEAD_MS};

on_both_stores!(the_lead_follows_the_largest_reported_need);

/// Plays (from paused) and returns how far ahead of its application the start was scheduled:
/// the bounds (ms) given by the send and echo times on this machine's clock.
async fn play_lead(a: &mut Client, b: &mut Client, position: f64) -> (f64, f64) {
    let sent = wall_ms();
    a.command(Command::Play { position }).await;
    let (s, _) = a.next_state().await;
    let echoed = wall_ms();
    let (seen, _) = b.next_state().await;
    assert_eq!(seen, s);
    assert!(s.playing);
    assert_eq!(s.position, position);
    assert_eq!(
        s.position_at(s.updated_at - 1.0),
        position,
        "held until the start"
    );
    a.command(Command::Pause { position }).await;
    a.next_state().await;
    b.next_state().await;
    (s.updated_at - echoed, s.updated_at - sent)
}

fn assert_lead((lo, hi): (f64, f64), lead: u32) {
    let lead = f64::from(lead);
    assert!(
        lo - 15.0 <= lead && lead <= hi + 15.0,
        "lead {lead} ms outside [{lo:.1}, {hi:.1}]"
    );
}

async fn the_lead_follows_the_largest_reported_need(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 10.0).await;
    let mut a = Client::connect(&server, &id).await;
    let mut b = Client::connect(&server, &id).await;
    // Nobody reported: the default need.
    assert_lead(
        play_lead(&mut a, &mut b, 10.0).await,
        lead_ms(0, DEFAULT_MAX_LEAD_MS),
    );
    // The largest of the reports counts.
    a.send(&ClientMsg::StartNeed { ms: 150.0 }).await;
    b.send(&ClientMsg::StartNeed { ms: 60.0 }).await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_lead(play_lead(&mut a, &mut b, 10.0).await, 175);
    // A need beyond the cap is capped: one far viewer cannot slow every start down.
    b.send(&ClientMsg::StartNeed { ms: 5_000.0 }).await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_lead(play_lead(&mut b, &mut a, 10.0).await, DEFAULT_MAX_LEAD_MS);
    // The far viewer leaves: the lead comes back.
    drop(b);
    let mut c = Client::connect(&server, &id).await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_lead(play_lead(&mut a, &mut c, 10.0).await, 175);
    // A report that is no need is refused, and changes nothing.
    a.send(&ClientMsg::StartNeed { ms: -1.0 }).await;
    assert_eq!(a.next_error().await.0, ErrorCode::InvalidValue);
    a.send(&ClientMsg::StartNeed { ms: f64::MAX }).await;
    assert_eq!(a.next_error().await.0, ErrorCode::InvalidValue);
    assert_lead(play_lead(&mut a, &mut c, 10.0).await, 175);
}
