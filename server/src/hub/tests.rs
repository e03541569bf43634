//! Ordering of the hub's hand-over: own changes, gaps and late copies.

use super::{Frame, Hubs, HubsConfig, Membership};
use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::store::{state_event, MemoryStore, SessionStore};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use watchparty_core::ids::{SessionId, VideoId};
use watchparty_core::playback::PlaybackState;
use watchparty_core::protocol::{Cause, ServerMsg};

async fn next(frames: &mut broadcast::Receiver<Frame>) -> (u64, Option<Cause>) {
    let frame = tokio::time::timeout(Duration::from_secs(1), frames.recv())
        .await
        .expect("a frame without waiting for the safety net")
        .unwrap();
    let ServerMsg::State { state, cause } = serde_json::from_str(frame.text()).unwrap() else {
        panic!("not a state")
    };
    (state.revision, cause)
}

fn at(base: &PlaybackState, revision: u64) -> PlaybackState {
    let mut s = base.clone();
    s.revision = revision;
    s.position = revision as f64;
    s
}

/// Settings whose safety net is far away: only gap handling can hand changes over in time.
fn no_safety_net() -> Settings {
    Settings {
        reconcile_secs: 3600.0,
        ..Settings::default()
    }
}

/// The cause of this instance's own change at revision `r`.
fn own(r: u64) -> Cause {
    Cause {
        conn_id: 1,
        seq: r as u32,
    }
}

/// Hubs over a memory store with one new session, and a membership of its hub (keep both
/// alive).
async fn joined(settings: Settings) -> (Hubs, Membership) {
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new(Duration::from_secs(60)));
    let hubs = Hubs::new(
        store.clone(),
        "test".into(),
        &HubsConfig::from(&settings),
        Arc::new(Metrics::new(None)),
    );
    let id = SessionId::random();
    let state = PlaybackState::new(VideoId::parse("dQw4w9WgXcQ").unwrap(), 0.0, 0.0);
    assert!(store.create(&id, &state).await.unwrap());
    let m = hubs.join(&id).await.unwrap();
    (hubs, m)
}

#[tokio::test]
async fn own_changes_are_handed_over_in_order_and_never_wait_for_an_echo() {
    let (_s, m) = joined(no_safety_net()).await;
    let hub = m.hub();
    let mut frames = hub.frames();
    let base = hub.latest().unwrap();
    // Revision 3 made here while 2 is still on its way: 3 waits for 2, then both go out
    // in order, each with its cause.
    hub.forward_next(&at(&base, 3), state_event(&at(&base, 3), Some(own(3))));
    hub.forward_state(&at(&base, 2), state_event(&at(&base, 2), None));
    assert_eq!(next(&mut frames).await, (2, None));
    assert_eq!(next(&mut frames).await, (3, Some(own(3))));
    // Revision 5 made here while 4 was lost: the hub re-reads the store at once and hands
    // 5 over (with its cause) instead of waiting for an echo or the safety net.
    hub.forward_next(&at(&base, 5), state_event(&at(&base, 5), Some(own(5))));
    assert_eq!(next(&mut frames).await, (5, Some(own(5))));
    // The subscription skipping a revision (6 lost, 7 arrives): 7 is handed over at once.
    hub.forward_state(&at(&base, 7), state_event(&at(&base, 7), None));
    assert_eq!(next(&mut frames).await, (7, None));
    // Late copies of older revisions are dropped.
    hub.forward_state(&at(&base, 6), state_event(&at(&base, 6), None));
    hub.forward_next(&at(&base, 8), state_event(&at(&base, 8), Some(own(8))));
    assert_eq!(next(&mut frames).await, (8, Some(own(8))));
}

#[tokio::test]
async fn a_catch_up_never_skips_an_own_change_still_in_flight() {
    let (_s, m) = joined(no_safety_net()).await;
    let hub = m.hub();
    let mut frames = hub.frames();
    let base = hub.latest().unwrap();
    // Two changes of this instance: 2 is written but not yet handed over (its guard is
    // held) when 3 is handed over. The catch-up that 3's gap starts must not skip 2: its
    // sender would never see its verdict (the CI failure of `concurrent_commands_converge`).
    let guard = hub.change_guard();
    hub.forward_next(&at(&base, 3), state_event(&at(&base, 3), Some(own(3))));
    let early = tokio::time::timeout(Duration::from_millis(150), async {
        loop {
            let f = frames.recv().await.unwrap();
            if f.revision != 0 {
                return f.revision;
            }
        }
    })
    .await;
    assert_eq!(early.ok(), None, "a revision was handed over before 2");
    hub.forward_next(&at(&base, 2), state_event(&at(&base, 2), Some(own(2))));
    drop(guard);
    assert_eq!(next(&mut frames).await, (2, Some(own(2))));
    assert_eq!(next(&mut frames).await, (3, Some(own(3))));
}

#[tokio::test]
async fn joins_within_one_millisecond_are_listed_in_join_order() {
    let (_s, m) = joined(Settings::default()).await;
    let hub = m.hub();
    // Same millisecond, and the later joiner has the lower (random) connection id.
    hub.member_join(900, 5_000, None);
    hub.member_join(300, 5_000, None);
    hub.member_join(600, 4_000, None);
    let part: watchparty_core::roster::Part = serde_json::from_str(&hub.local_part()).unwrap();
    let order: Vec<_> = part.members.iter().map(|m| (m.id, m.since)).collect();
    assert_eq!(order, vec![(900, 5_000), (300, 5_001), (600, 5_002)]);
}
