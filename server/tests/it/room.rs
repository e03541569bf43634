//! The room over real sockets: changing the video (and, as they land, the queue, names and the
//! list of viewers). Every body runs against the memory store and a real Redis
//! (`$REDIS_URL`, default `redis://127.0.0.1:6379`; the Redis variants fail without it), and the
//! cluster tests run two instances on one Redis.

use crate::common;

use crate::common::{create, spawn, video, wall_ms, Client, Store};
use std::time::Duration;
use watchparty_core::ids::VideoId;
use watchparty_core::playback::Command;
use watchparty_core::protocol::{Cause, ClientMsg, ErrorCode, ServerMsg};
use watchparty_core::queue::{ItemId, QueueEdit};

use crate::common::on_both_stores;

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

// ---- the queue ------------------------------------------------------------------------------

mod queue_memory {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_adds_all_survive() {
        super::concurrent_adds_all_survive(Store::Memory).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queue_edits_do_not_make_playback_stale() {
        super::queue_edits_do_not_make_playback_stale(Store::Memory).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queue_errors_are_typed() {
        super::queue_errors_are_typed(Store::Memory).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn play_now_and_auto_advance_once() {
        super::play_now_and_auto_advance_once(Store::Memory).await
    }
}

mod queue_redis {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_adds_all_survive() {
        super::concurrent_adds_all_survive(Store::Redis).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queue_edits_do_not_make_playback_stale() {
        super::queue_edits_do_not_make_playback_stale(Store::Redis).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queue_errors_are_typed() {
        super::queue_errors_are_typed(Store::Redis).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn play_now_and_auto_advance_once() {
        super::play_now_and_auto_advance_once(Store::Redis).await
    }
}

fn add_msg(seq: u32, v: VideoId) -> ClientMsg {
    ClientMsg::Queue {
        seq,
        edit: QueueEdit::Add {
            video_id: v,
            start: 0.0,
        },
    }
}

/// The newest state among `msgs` (or `fallback`).
fn newest(
    msgs: &[ServerMsg],
    fallback: &watchparty_core::playback::PlaybackState,
) -> watchparty_core::playback::PlaybackState {
    msgs.iter()
        .filter_map(|m| match m {
            ServerMsg::State { state, .. } => Some(state.clone()),
            _ => None,
        })
        .chain(std::iter::once(fallback.clone()))
        .max_by_key(|s| s.revision)
        .expect("a state")
}

async fn concurrent_adds_all_survive(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 0.0).await;
    let mut a = Client::connect(&server, &id).await;
    let mut b = Client::connect(&server, &id).await;
    // Five adds from each viewer, sent without waiting: none is lost.
    for i in 0..5 {
        a.send(&add_msg(i + 1, other())).await;
        b.send(&add_msg(i + 1, video())).await;
    }
    let ma = a.drain(Duration::from_millis(600)).await;
    let mb = b.drain(Duration::from_millis(600)).await;
    assert!(
        ma.iter()
            .chain(mb.iter())
            .all(|m| !matches!(m, ServerMsg::Error { .. })),
        "no edit was refused: {ma:?} {mb:?}"
    );
    let (sa, sb) = (newest(&ma, &a.hello_state), newest(&mb, &b.hello_state));
    assert_eq!(sa, sb);
    assert_eq!(sa.queue.items.len(), 10);
    assert_eq!(sa.revision, 11);
    let mut ids: Vec<u64> = sa.queue.items.iter().map(|i| i.id.0).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..10).collect::<Vec<_>>());
    // Remove one and move another from both viewers at once: both land.
    let (first, last) = (sa.queue.items[0].id, sa.queue.items[9].id);
    a.send(&ClientMsg::Queue {
        seq: 10,
        edit: QueueEdit::Remove { item: first },
    })
    .await;
    b.send(&ClientMsg::Queue {
        seq: 10,
        edit: QueueEdit::PlayNext { item: last },
    })
    .await;
    let ma = a.drain(Duration::from_millis(500)).await;
    let s = newest(&ma, &sa);
    assert_eq!(s.queue.items.len(), 9);
    assert_eq!(s.queue.items[0].id, last);
    assert!(s.queue.get(first).is_none());
    let snap = server.sessions.snapshot(&id).await.unwrap().unwrap();
    assert_eq!(snap.state, s);
}

async fn queue_edits_do_not_make_playback_stale(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 0.0).await;
    let mut a = Client::connect(&server, &id).await;
    let mut b = Client::connect(&server, &id).await;
    a.command(Command::Play { position: 0.0 }).await;
    let (played, _) = a.next_state().await;
    b.next_state().await;
    b.send(&add_msg(1, other())).await;
    assert_eq!(a.next_state().await.0.queue.items.len(), 1);
    // A pause based on the play (sent before the add reached A) is accepted.
    let seq = a
        .command_on(played.revision, Command::Pause { position: 0.5 })
        .await;
    let (paused, cause) = a.next_state().await;
    assert!(!paused.playing);
    assert_eq!(cause.map(|c| c.seq), Some(seq));
    assert_eq!(paused.queue.items.len(), 1);
}

async fn queue_errors_are_typed(store: Store) {
    let mut settings = common::settings(store);
    settings.max_queue_len = 2;
    let server = common::spawn_with(settings).await;
    let id = create(&server, 0.0).await;
    let mut a = Client::connect(&server, &id).await;
    a.send(&add_msg(1, other())).await;
    a.next_state().await;
    a.send(&add_msg(2, other())).await;
    a.next_state().await;
    a.send(&add_msg(3, other())).await;
    assert_eq!(a.next_error().await, (ErrorCode::QueueFull, Some(3)));
    a.send(&ClientMsg::Queue {
        seq: 4,
        edit: QueueEdit::Remove { item: ItemId(77) },
    })
    .await;
    assert_eq!(a.next_error().await, (ErrorCode::UnknownItem, Some(4)));
    a.send(&ClientMsg::PlayNow {
        seq: 5,
        base_revision: 3,
        item: ItemId(77),
    })
    .await;
    assert_eq!(a.next_error().await, (ErrorCode::UnknownItem, Some(5)));
    a.send_raw(tokio_tungstenite::tungstenite::Message::text(
        r#"{"type":"queue","seq":6,"edit":{"op":"add","video_id":"x","start":0}}"#,
    ))
    .await;
    assert_eq!(a.next_error().await.0, ErrorCode::BadMessage);
    let snap = server.sessions.snapshot(&id).await.unwrap().unwrap();
    assert_eq!(snap.state.revision, 3);
    assert_eq!(snap.state.queue.items.len(), 2);
}

async fn play_now_and_auto_advance_once(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 0.0).await;
    let mut a = Client::connect(&server, &id).await;
    let third = VideoId::parse("jNQXAC9IVRw").unwrap();
    for (i, v) in [other(), third, video()].into_iter().enumerate() {
        a.send(&add_msg(i as u32 + 1, v)).await;
        a.next_state().await;
    }
    // Play now: the second item becomes the video (paused, as the room was).
    let item = a.state.queue.items[1].id;
    a.send(&ClientMsg::PlayNow {
        seq: 9,
        base_revision: a.state.revision,
        item,
    })
    .await;
    let (now, _) = a.next_state().await;
    assert_eq!(now.video_id, third);
    assert_eq!(now.queue.items.len(), 2);
    // A one-second video, playing: at its end the server plays the next item, once.
    a.send(&ClientMsg::Duration {
        seq: 10,
        seconds: 1.0,
        video_id: Some(third),
    })
    .await;
    a.next_state().await;
    a.command(Command::Play { position: 0.0 }).await;
    let (playing, _) = a.next_state().await;
    assert!(playing.playing);
    // The room's clock passes the reported length, but no player said ENDED (an ad reports
    // its own length as the duration and never ends): nothing happens (issue 25).
    a.send(&ClientMsg::Ended { video_id: other() }).await;
    let early = a.drain(Duration::from_millis(1_800)).await;
    assert!(
        early.iter().all(|m| !matches!(m, ServerMsg::State { .. })),
        "no end without a player's ENDED (one for another video does not count): {early:?}"
    );
    // A player reports the end: the server plays the next item, once.
    let ended_at = wall_ms();
    a.send(&ClientMsg::Ended { video_id: third }).await;
    let (next, cause) = a.next_state().await;
    assert_eq!(next.video_id, other());
    assert!(next.playing, "the next video plays");
    assert_eq!(next.revision, playing.revision + 1);
    assert_eq!(cause.map(|c| c.conn_id), Some(0), "caused by the server");
    let waited = wall_ms() - ended_at;
    assert!(
        waited < 1_500.0,
        "advanced {waited} ms after the end was reported"
    );
    assert_eq!(next.queue.items.len(), 1);
    // The new video's length is unknown: nothing more happens.
    let later = a.drain(Duration::from_millis(800)).await;
    assert!(
        later.iter().all(|m| !matches!(m, ServerMsg::State { .. })),
        "{later:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_queue_edits_on_both_instances_survive_and_advance_happens_once() {
    let s1 = spawn(Store::Redis).await;
    let s2 = spawn(Store::Redis).await;
    let id = create(&s1, 0.0).await;
    let mut a = Client::connect(&s1, &id).await;
    let mut b = Client::connect(&s2, &id).await;
    // Neither is the current video (replaying the current one keeps its known length).
    let third = VideoId::parse("jNQXAC9IVRw").unwrap();
    for i in 0..4 {
        a.send(&add_msg(i + 1, other())).await;
        b.send(&add_msg(i + 1, third)).await;
    }
    let ma = a.drain(Duration::from_millis(800)).await;
    let s = newest(&ma, &a.hello_state);
    assert_eq!(s.queue.items.len(), 8, "{ma:?}");
    b.drain(Duration::from_millis(100)).await;
    // A one-second video on both instances: both try to advance, it happens once.
    a.send(&ClientMsg::Duration {
        seq: 20,
        seconds: 1.0,
        video_id: None,
    })
    .await;
    a.next_state().await;
    a.command(Command::Play { position: 0.0 }).await;
    let (playing, _) = a.next_state().await;
    // Both players reach the end and say so, each to its own instance.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let ended = ClientMsg::Ended {
        video_id: playing.video_id,
    };
    a.send(&ended).await;
    b.send(&ended).await;
    let msgs = b.drain(Duration::from_millis(2_500)).await;
    let advanced: Vec<_> = msgs
        .iter()
        .filter_map(|m| match m {
            ServerMsg::State { state, .. } if state.revision > playing.revision => Some(state),
            _ => None,
        })
        .collect();
    assert_eq!(advanced.len(), 1, "{advanced:?}");
    assert_eq!(advanced[0].queue.items.len(), 7);
    assert_eq!(advanced[0].video_id, s.queue.items[0].video_id);
}

// ---- names ----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_validated() {
    let server = spawn(Store::Memory).await;
    let id = create(&server, 0.0).await;
    let mut a = Client::connect(&server, &id).await;
    a.send(&ClientMsg::Name {
        seq: 1,
        name: "  Ana  ".into(),
    })
    .await;
    for (seq, bad) in [
        (2, "x".repeat(33)),
        (3, "   ".to_string()),
        (4, "A\u{202E}na".to_string()),
        (5, "A\u{0}".to_string()),
    ] {
        a.send(&ClientMsg::Name { seq, name: bad }).await;
        assert_eq!(a.next_error().await, (ErrorCode::InvalidName, Some(seq)));
    }
    // The valid name was taken silently: nothing else arrived.
    let rest = a.drain(Duration::from_millis(200)).await;
    assert!(
        rest.iter().all(|m| !matches!(m, ServerMsg::Error { .. })),
        "{rest:?}"
    );
    // Changes record who made them (for notices), for every viewer.
    let mut b = Client::connect(&server, &id).await;
    a.command(Command::Pause { position: 751.0 }).await;
    let (state, _) = b.next_state().await;
    assert_eq!(state.changed_by.as_deref(), Some("Ana"));
    a.next_state().await; // A's own pause
    b.command(Command::Seek { position: 3.0 }).await;
    assert_eq!(a.next_state().await.0.changed_by, None, "B has no name");
}

// ---- the server-rendered page ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_page_renders_the_room() {
    let server = spawn(Store::Memory).await;
    let id = create(&server, 0.0).await;
    let mut a = Client::connect(&server, &id).await;
    a.command(Command::Video {
        video_id: other(),
        position: 0.0,
    })
    .await;
    a.next_state().await;
    for (i, v) in [video(), VideoId::parse("jNQXAC9IVRw").unwrap()]
        .into_iter()
        .enumerate()
    {
        a.send(&add_msg(i as u32 + 1, v)).await;
        a.next_state().await;
    }
    let html = reqwest::Client::new()
        .get(server.http_url(&format!("/s/{id}")))
        .header("accept", "text/html")
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    for hook in [
        "data-testid=\"video-change-input\"",
        "data-testid=\"now-playing\"",
        "data-video-id=\"9bZkp7q19f0\"",
        "data-testid=\"queue\"",
        "data-count=\"2\"",
        "data-testid=\"queue-item\"",
        "https://i.ytimg.com/vi/dQw4w9WgXcQ/mqdefault.jpg",
        "data-testid=\"name-input\"",
        "data-testid=\"notices\"",
        "<title>Watch party · 9bZkp7q19f0</title>",
    ] {
        assert!(html.contains(hook), "missing {hook}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_with_long_titles_reaches_viewers_on_both_stores() {
    for store in [Store::Memory, Store::Redis] {
        // Fill the queue faster than a person would (the command rate limit is not the point).
        let mut settings = common::settings(store);
        settings.commands_per_sec = 1_000.0;
        settings.command_burst = 1_000;
        let server = common::spawn_with(settings).await;
        let id = create(&server, 0.0).await;
        let mut a = Client::connect(&server, &id).await;
        let max = server.sessions.settings().max_queue_len;
        for i in 0..max {
            a.send(&add_msg(i as u32 + 1, other())).await;
            a.next_state().await;
        }
        a.send(&ClientMsg::Queue {
            seq: 999,
            edit: QueueEdit::Title {
                video_id: other(),
                title: "T\u{e9}".repeat(300),
            },
        })
        .await;
        let (state, _) = a.next_state().await;
        assert_eq!(state.queue.items.len(), max);
        assert!(state.queue.items.iter().all(|i| i
            .title
            .as_deref()
            .is_some_and(|t| t.chars().count() == watchparty_core::queue::MAX_TITLE_CHARS)));
        // A late joiner gets all of it in its hello.
        let late = Client::connect(&server, &id).await;
        assert_eq!(late.hello_state.queue, state.queue);
        a.send(&add_msg(1000, other())).await;
        assert_eq!(a.next_error().await.0, ErrorCode::QueueFull);
    }
}
