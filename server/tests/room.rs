//! The room over real sockets: changing the video (and, as they land, the queue, names and the
//! list of viewers). Every body runs against the memory store and a real Redis
//! (`$REDIS_URL`, default `redis://127.0.0.1:6379`; the Redis variants fail without it), and the
//! cluster tests run two instances on one Redis.

mod common;

use app::ids::VideoId;
use app::playback::Command;
use app::protocol::{Cause, ClientMsg, ErrorCode, ServerMsg};
use common::{create, spawn, video, wall_ms, Client, Store};
use std::time::Duration;

/// Runs each listed body as `memory::name` and `redis::name`.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Store::Memory).await
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Store::Redis).await
                }
            )*
        }
    };
}

on_both_stores!(
    video_change_while_playing_reaches_everyone_and_late_joiners,
    video_change_while_paused_stays_paused,
    concurrent_video_changes_have_one_winner,
    a_late_duration_of_the_old_video_is_ignored,
    bad_video_changes_are_rejected,
);

fn other() -> VideoId {
    VideoId::parse("9bZkp7q19f0").expect("valid id")
}

async fn video_change_while_playing_reaches_everyone_and_late_joiners(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 0.0).await;
    let mut a = Client::connect(&server, &id).await;
    let mut b = Client::connect(&server, &id).await;
    a.command(Command::Play { position: 0.0 }).await;
    a.next_state().await;
    b.next_state().await;
    a.command(Command::Duration { seconds: 212.0 }).await;
    assert_eq!(a.next_state().await.0.duration, Some(212.0));
    b.next_state().await;
    let seq = b
        .command(Command::Video {
            video_id: other(),
            position: 30.0,
        })
        .await;
    let sent_at = wall_ms();
    let b_conn = b.conn_id;
    for c in [&mut a, &mut b] {
        let (state, cause) = c.next_state().await;
        assert_eq!(state.video_id, other());
        assert!(state.playing, "a change while playing keeps playing");
        assert_eq!(
            state.duration, None,
            "the new video's length is not known yet"
        );
        assert_eq!(state.revision, 4);
        assert_eq!(state.position, 30.0);
        assert!((state.updated_at - sent_at).abs() < 2_000.0);
        assert_eq!(
            cause,
            Some(Cause {
                conn_id: b_conn,
                seq
            })
        );
    }
    // A late joiner gets the new video, and the page's snapshot too.
    let late = Client::connect(&server, &id).await;
    assert_eq!(late.hello_state.video_id, other());
    assert_eq!(late.hello_state.revision, 4);
    let snap = server.sessions.snapshot(&id).await.unwrap().unwrap();
    assert_eq!(snap.state.video_id, other());
}

async fn video_change_while_paused_stays_paused(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 5.0).await;
    let mut a = Client::connect(&server, &id).await;
    a.command(Command::Video {
        video_id: other(),
        position: 0.0,
    })
    .await;
    let (state, _) = a.next_state().await;
    assert!(!state.playing);
    assert_eq!(state.position, 0.0);
    assert_eq!(state.video_id, other());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(state.position_at(wall_ms()), 0.0);
}

async fn concurrent_video_changes_have_one_winner(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 0.0).await;
    let mut a = Client::connect(&server, &id).await;
    let mut b = Client::connect(&server, &id).await;
    // Both based on revision 1: the first wins, the other is stale and gets the winner.
    a.command(Command::Video {
        video_id: other(),
        position: 1.0,
    })
    .await;
    b.command(Command::Video {
        video_id: VideoId::parse("jNQXAC9IVRw").unwrap(),
        position: 2.0,
    })
    .await;
    let msgs_a = a.drain(Duration::from_millis(500)).await;
    let msgs_b = b.drain(Duration::from_millis(500)).await;
    let last = |msgs: &[ServerMsg]| {
        msgs.iter()
            .rev()
            .find_map(|m| match m {
                ServerMsg::State { state, .. } => Some(state.clone()),
                _ => None,
            })
            .expect("a state")
    };
    let (sa, sb) = (last(&msgs_a), last(&msgs_b));
    assert_eq!(sa, sb, "both viewers end on the same video");
    assert_eq!(sa.revision, 2, "exactly one change was applied");
    let stale = msgs_a.iter().chain(msgs_b.iter()).any(|m| {
        matches!(
            m,
            ServerMsg::Error {
                code: ErrorCode::Stale,
                ..
            }
        )
    });
    assert!(stale, "the loser was told");
}

async fn a_late_duration_of_the_old_video_is_ignored(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 0.0).await;
    let mut a = Client::connect(&server, &id).await;
    let mut b = Client::connect(&server, &id).await;
    a.command(Command::Video {
        video_id: other(),
        position: 0.0,
    })
    .await;
    assert_eq!(a.next_state().await.0.video_id, other());
    // B's player measured the old video before the change reached it.
    b.send(&ClientMsg::Duration {
        seq: 1,
        seconds: 30.0,
        video_id: Some(video()),
    })
    .await;
    b.next_state().await; // the video change
    assert!(
        b.drain(Duration::from_millis(300))
            .await
            .iter()
            .all(|m| !matches!(m, ServerMsg::Error { .. })),
        "ignored, not an error"
    );
    let snap = server.sessions.snapshot(&id).await.unwrap().unwrap();
    assert_eq!(snap.state.duration, None);
    assert_eq!(snap.state.revision, 2);
    // The right video's length is taken.
    b.send(&ClientMsg::Duration {
        seq: 2,
        seconds: 99.0,
        video_id: Some(other()),
    })
    .await;
    assert_eq!(a.next_state().await.0.duration, Some(99.0));
}

async fn bad_video_changes_are_rejected(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 0.0).await;
    let mut a = Client::connect(&server, &id).await;
    a.send_raw(tokio_tungstenite::tungstenite::Message::text(
        r#"{"type":"video","seq":1,"base_revision":1,"video_id":"<b>nope</b>","position":0}"#,
    ))
    .await;
    assert_eq!(a.next_error().await.0, ErrorCode::BadMessage);
    a.command(Command::Video {
        video_id: other(),
        position: -3.0,
    })
    .await;
    assert_eq!(a.next_error().await.0, ErrorCode::InvalidValue);
    let snap = server.sessions.snapshot(&id).await.unwrap().unwrap();
    assert_eq!(snap.state.revision, 1);
    assert_eq!(snap.state.video_id, video());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_video_change_on_one_instance_reaches_the_other() {
    let s1 = spawn(Store::Redis).await;
    let s2 = spawn(Store::Redis).await;
    let id = create(&s1, 0.0).await;
    let mut a = Client::connect(&s1, &id).await;
    let mut b = Client::connect(&s2, &id).await;
    a.command(Command::Play { position: 0.0 }).await;
    a.next_state().await;
    b.next_state().await;
    b.command(Command::Video {
        video_id: other(),
        position: 10.0,
    })
    .await;
    let (sa, _) = a.next_state().await;
    let (sb, _) = b.next_state().await;
    assert_eq!(sa, sb);
    assert_eq!(sa.video_id, other());
    assert!(sa.playing);
    let late = Client::connect(&s1, &id).await;
    assert_eq!(late.hello_state.video_id, other());
}
