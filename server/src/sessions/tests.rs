//! The service without sockets: creating, loading, joining, applying commands (order, staleness,
//! concurrency, two instances on one store) and coalesced presence.

use super::*;
use crate::hub::Frame;
use tokio::sync::broadcast;
use watchparty_core::playback::Command;
use watchparty_core::protocol::{Cause, ServerMsg};

fn vid() -> VideoId {
    VideoId::parse("dQw4w9WgXcQ").unwrap()
}

async fn memory() -> Arc<Sessions> {
    Sessions::open(Arc::new(Settings::default())).await.unwrap()
}

async fn next_state(rx: &mut broadcast::Receiver<Frame>) -> (PlaybackState, Option<Cause>) {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .expect("a frame in time")
            .expect("open channel");
        if let ServerMsg::State { state, cause } = serde_json::from_str(frame.text()).unwrap() {
            assert_eq!(frame.revision, state.revision);
            return (state, cause);
        }
    }
}

#[tokio::test]
async fn create_load_and_unknown() {
    let s = memory().await;
    let id = s.create(vid(), 42.0).await.unwrap();
    let snap = s.snapshot(&id).await.unwrap().unwrap();
    assert_eq!(snap.state.position, 42.0);
    assert_eq!(snap.state.revision, 1);
    assert!(!snap.state.playing);
    let unknown = SessionId::parse("000000000000").unwrap();
    assert!(s.snapshot(&unknown).await.unwrap().is_none());
    assert!(matches!(
        s.join(&unknown).await,
        Err(JoinError::UnknownSession)
    ));
    assert!(s.hubs().is_empty(), "a failed join leaves no hub behind");
}

#[tokio::test]
async fn applied_commands_reach_every_local_viewer_once_in_order() {
    let s = memory().await;
    let id = s.create(vid(), 0.0).await.unwrap();
    let a = s.join(&id).await.unwrap();
    let b = s.join(&id).await.unwrap();
    let mut rx_a = a.hub().frames();
    let mut rx_b = b.hub().frames();
    assert!(Arc::ptr_eq(a.hub(), b.hub()), "one hub per session");
    let cause = Cause { conn_id: 1, seq: 1 };
    let played = s
        .apply(a.hub(), cause, 1, Command::Play { position: 0.0 })
        .await
        .unwrap();
    let Outcome::Applied(played) = played else {
        panic!("not applied")
    };
    let paused = s
        .apply(
            a.hub(),
            Cause { conn_id: 1, seq: 2 },
            2,
            Command::Pause { position: 3.0 },
        )
        .await
        .unwrap();
    assert!(matches!(paused, Outcome::Applied(ref p) if p.revision == 3));
    for rx in [&mut rx_a, &mut rx_b] {
        let (s2, c2) = next_state(rx).await;
        assert_eq!((s2.revision, c2), (2, Some(cause)));
        assert_eq!(s2, played);
        let (s3, _) = next_state(rx).await;
        assert_eq!(s3.revision, 3);
        assert!(!s3.playing);
    }
}

#[tokio::test]
async fn stale_invalid_and_duplicate_commands_change_nothing() {
    let s = memory().await;
    let id = s.create(vid(), 5.0).await.unwrap();
    let m = s.join(&id).await.unwrap();
    let c = |seq| Cause { conn_id: 9, seq };
    s.apply(m.hub(), c(1), 1, Command::Seek { position: 10.0 })
        .await
        .unwrap();
    // Based on revision 1, but the session is at 2: first command per revision won.
    let stale = s
        .apply(m.hub(), c(2), 1, Command::Seek { position: 99.0 })
        .await
        .unwrap_err();
    assert!(
        matches!(stale, Rejection::Stale { base: 1, ref current } if current.revision == 2 && current.position == 10.0)
    );
    let invalid = s
        .apply(m.hub(), c(3), 2, Command::Seek { position: f64::NAN })
        .await
        .unwrap_err();
    assert!(matches!(invalid, Rejection::Invalid(_)));
    let dup = s
        .apply(m.hub(), c(4), 2, Command::Pause { position: 10.0 })
        .await
        .unwrap();
    assert!(matches!(dup, Outcome::Unchanged(ref st) if st.revision == 2));
    // A base from the future is stale too, after checking the store.
    let future = s
        .apply(m.hub(), c(5), 77, Command::Play { position: 1.0 })
        .await
        .unwrap_err();
    assert!(matches!(future, Rejection::Stale { base: 77, .. }));
    assert_eq!(s.snapshot(&id).await.unwrap().unwrap().state.revision, 2);
}

#[tokio::test]
async fn concurrent_commands_on_one_revision_have_one_winner() {
    let s = memory().await;
    let id = s.create(vid(), 0.0).await.unwrap();
    let m = s.join(&id).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..16u32 {
        let (s, hub) = (s.clone(), m.hub().clone());
        tasks.push(tokio::spawn(async move {
            s.apply(
                &hub,
                Cause {
                    conn_id: u64::from(i),
                    seq: 1,
                },
                1,
                Command::Seek {
                    position: f64::from(i) * 10.0 + 1.0,
                },
            )
            .await
        }));
    }
    let mut applied = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(Outcome::Applied(_)) => applied += 1,
            Err(Rejection::Stale { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(applied, 1);
    assert_eq!(s.snapshot(&id).await.unwrap().unwrap().state.revision, 2);
}

#[tokio::test]
async fn stale_cache_is_retried_when_base_is_current() {
    // Two service instances on one store: B's cache is behind after A's write, yet a
    // command based on the store's current revision succeeds through B.
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new(Duration::from_secs(60)));
    let settings = Arc::new(Settings::default());
    let a = Sessions::with_store(settings.clone(), store.clone())
        .await
        .unwrap();
    let b = Sessions::with_store(settings, store).await.unwrap();
    let id = a.create(vid(), 0.0).await.unwrap();
    let ma = a.join(&id).await.unwrap();
    let mb = b.join(&id).await.unwrap();
    a.apply(
        ma.hub(),
        Cause { conn_id: 1, seq: 1 },
        1,
        Command::Seek { position: 50.0 },
    )
    .await
    .unwrap();
    let r = b
        .apply(
            mb.hub(),
            Cause { conn_id: 2, seq: 1 },
            2,
            Command::Play { position: 50.0 },
        )
        .await
        .unwrap();
    assert!(matches!(r, Outcome::Applied(ref st) if st.revision == 3 && st.playing));
}

#[tokio::test]
async fn presence_is_coalesced_and_counts_every_viewer() {
    let s = memory().await;
    let id = s.create(vid(), 0.0).await.unwrap();
    let first = s.join(&id).await.unwrap();
    let mut rx = first.hub().frames();
    let mut others = Vec::new();
    for _ in 0..99 {
        others.push(s.join(&id).await.unwrap());
    }
    let mut presence = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while let Ok(Ok(frame)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        if let Ok(ServerMsg::Presence { viewers }) = serde_json::from_str(frame.text()) {
            presence.push(viewers);
            if viewers == 100 {
                break;
            }
        }
    }
    assert_eq!(presence.last(), Some(&100), "{presence:?}");
    assert!(
        presence.len() <= 4,
        "join storm was not coalesced: {presence:?}"
    );
    drop(others);
    drop(first);
    s.hubs().wait_idle(Duration::from_secs(2)).await;
    assert!(s.hubs().is_empty());
    assert_eq!(s.store.viewers(&id).await.unwrap(), 0);
}
