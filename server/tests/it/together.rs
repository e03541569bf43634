//! The room's settings, the ready check and vote to skip (issue 27) over real WebSockets, on
//! both stores and across two instances: hosts switch the settings, concurrent "ready"s all
//! survive, and the vote that crosses the quorum skips the video exactly once.

use crate::common::{on_both_stores, spawn, Client, Store};
use server::startup::TestServer;
use std::time::Duration;
use watchparty_core::ids::{SessionId, VideoId};
use watchparty_core::playback::{Command, PlaybackState};
use watchparty_core::protocol::{ClientMsg, ErrorCode, ServerMsg};
use watchparty_core::queue::QueueEdit;
use watchparty_core::together::RoomSettings;

on_both_stores!(
    settings_are_for_hosts_and_reach_everyone,
    concurrent_readies_all_survive_and_a_play_ends_the_check,
    the_crossing_vote_skips_once,
);

fn key(i: u32) -> String {
    format!("together-key-{i:08}-abcdef")
}

fn queued() -> VideoId {
    VideoId::parse("9bZkp7q19f0").unwrap()
}

async fn hosted(server: &TestServer) -> (SessionId, String) {
    server
        .sessions
        .create_hosted(crate::common::video(), 0.0)
        .await
        .expect("session created")
}

/// Reads until a state with `pred` arrives; errors and timeouts fail the test.
async fn state_where(c: &mut Client, what: &str, pred: impl Fn(&PlaybackState) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while !pred(&c.state) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match c.try_recv(left).await {
            Some(Ok(ServerMsg::Error { code, message, .. })) => {
                panic!("waiting for {what}: error {code:?} {message}")
            }
            Some(Ok(_)) => {}
            other => panic!("waiting for {what}: {other:?}"),
        }
    }
}

/// Sends `msg` (with `seq`) and expects error `code` for it.
async fn refused(c: &mut Client, msg: ClientMsg, seq: u32, code: ErrorCode) {
    c.send(&msg).await;
    assert_eq!(c.next_error().await, (code, Some(seq)), "{msg:?}");
}

async fn settings(c: &mut Client, settings: RoomSettings) -> u32 {
    let seq = c.next_seq();
    c.send(&ClientMsg::Settings { seq, settings }).await;
    seq
}

async fn settings_are_for_hosts_and_reach_everyone(store: Store) {
    let server = spawn(store).await;
    let (id, secret) = hosted(&server).await;
    let mut host = Client::connect_as(&server, &id, &secret).await;
    let mut guest = Client::connect_as(&server, &id, &key(1)).await;
    let on = RoomSettings {
        wait_for_all: true,
        wait_on_buffer: true,
        vote_skip: true,
    };
    let seq = guest.next_seq();
    let msg = ClientMsg::Settings { seq, settings: on };
    refused(&mut guest, msg, seq, ErrorCode::Forbidden).await;
    let before = host.state.clone();
    settings(&mut host, on).await;
    state_where(&mut guest, "the settings", |s| s.settings == on).await;
    assert_eq!(guest.state.revision, before.revision + 1);
    assert_eq!(guest.state.playback_base(), before.playback_base());
    // A joiner gets them with its hello.
    let late = Client::connect_as(&server, &id, &key(2)).await;
    assert_eq!(late.hello_state.settings, on);
}

async fn concurrent_readies_all_survive_and_a_play_ends_the_check(store: Store) {
    let server = spawn(store).await;
    let (id, secret) = hosted(&server).await;
    let mut host = Client::connect_as(&server, &id, &secret).await;
    let mut guests = Vec::new();
    for i in 0..3 {
        guests.push(Client::connect_as(&server, &id, &key(10 + i)).await);
    }
    // Only hosts open a check.
    let seq = guests[0].next_seq();
    let open = ClientMsg::ReadyCheck { seq, open: true };
    refused(&mut guests[0], open, seq, ErrorCode::Forbidden).await;
    let seq = host.next_seq();
    host.send(&ClientMsg::ReadyCheck { seq, open: true }).await;
    state_where(&mut host, "the open check", |s| {
        s.ready_skip.check.is_some()
    })
    .await;
    // Every guest says "ready" at once (none has seen the others').
    for g in guests.iter_mut() {
        let seq = g.next_seq();
        g.send(&ClientMsg::Ready { seq, ready: true }).await;
    }
    let kids: Vec<_> = guests.iter().map(|g| g.kid.clone().expect("kid")).collect();
    state_where(&mut host, "three readies", |s| {
        kids.iter().all(|k| s.ready_skip.is_ready(k))
    })
    .await;
    // "Start" is a plain play: it ends the check.
    host.command(Command::Play { position: 0.0 }).await;
    state_where(&mut guests[2], "the start", |s| {
        s.playing && s.ready_skip.check.is_none()
    })
    .await;
    // No check while playing.
    let seq = host.next_seq();
    let open = ClientMsg::ReadyCheck { seq, open: true };
    refused(&mut host, open, seq, ErrorCode::RoomPlaying).await;
}

/// Five viewers (a host and four guests): votes with the setting off or an empty queue are
/// refused; the third vote skips; a fourth vote sent at the same time (for the same video)
/// changes nothing.
async fn the_crossing_vote_skips_once(store: Store) {
    let server = spawn(store).await;
    let (id, secret) = hosted(&server).await;
    let mut host = Client::connect_as(&server, &id, &secret).await;
    let mut guests = Vec::new();
    for i in 0..4 {
        guests.push(Client::connect_as(&server, &id, &key(20 + i)).await);
    }
    host.presence(5).await;
    let vote = |c: &mut Client| {
        let seq = c.next_seq();
        (
            seq,
            ClientMsg::VoteSkip {
                seq,
                round: 0,
                vote: true,
            },
        )
    };
    let (seq, msg) = vote(&mut guests[0]);
    refused(&mut guests[0], msg, seq, ErrorCode::VoteSkipOff).await;
    let on = RoomSettings {
        vote_skip: true,
        ..RoomSettings::default()
    };
    settings(&mut host, on).await;
    state_where(&mut guests[0], "vote skip on", |s| s.settings.vote_skip).await;
    let (seq, msg) = vote(&mut guests[0]);
    refused(&mut guests[0], msg, seq, ErrorCode::NothingToSkip).await;
    for _ in 0..2 {
        let seq = host.next_seq();
        let edit = QueueEdit::Add {
            video_id: queued(),
            start: 0.0,
        };
        host.send(&ClientMsg::Queue { seq, edit }).await;
    }
    state_where(&mut host, "two queued", |s| s.queue.items.len() == 2).await;
    for g in guests.iter_mut().take(2) {
        let (_, msg) = vote(g);
        g.send(&msg).await;
    }
    state_where(&mut host, "two votes", |s| s.ready_skip.votes.len() == 2).await;
    assert_eq!(host.state.video_id, crate::common::video());
    let before = host.state.revision;
    // The third and fourth votes race: one crosses, the other is for a video that is gone.
    let [.., g2, g3] = &mut guests[..] else {
        unreachable!("four guests")
    };
    let (_, m2) = vote(g2);
    let (_, m3) = vote(g3);
    tokio::join!(g2.send(&m2), g3.send(&m3));
    let msgs = host.drain(Duration::from_millis(1_000)).await;
    let changes: Vec<_> = msgs
        .iter()
        .filter_map(|m| match m {
            ServerMsg::State { state, .. } if state.revision > before => Some(state),
            _ => None,
        })
        .collect();
    assert_eq!(changes.len(), 1, "{changes:?}");
    let skipped = changes[0];
    assert_eq!(skipped.video_id, queued());
    assert_eq!(skipped.queue.items.len(), 1);
    assert_eq!(
        (skipped.ready_skip.round, skipped.ready_skip.votes.len()),
        (1, 0)
    );
}

/// Two instances on one Redis, viewers on both: votes from both instances at once skip
/// exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_skip_once() {
    let a = spawn(Store::Redis).await;
    let b = spawn(Store::Redis).await;
    let (id, secret) = hosted(&a).await;
    let mut host = Client::connect_as(&a, &id, &secret).await;
    let mut on_a = Vec::new();
    let mut on_b = Vec::new();
    for i in 0..2 {
        on_a.push(Client::connect_as(&a, &id, &key(30 + i)).await);
        on_b.push(Client::connect_as(&b, &id, &key(40 + i)).await);
    }
    host.presence(5).await;
    for c in on_a.iter_mut().chain(on_b.iter_mut()) {
        c.presence(5).await;
    }
    let on = RoomSettings {
        vote_skip: true,
        ..RoomSettings::default()
    };
    settings(&mut host, on).await;
    let seq = host.next_seq();
    let edit = QueueEdit::Add {
        video_id: queued(),
        start: 0.0,
    };
    host.send(&ClientMsg::Queue { seq, edit }).await;
    state_where(&mut host, "vote skip and a queue", |s| {
        s.settings.vote_skip && s.queue.items.len() == 1
    })
    .await;
    for c in on_b.iter_mut() {
        state_where(c, "the queue on b", |s| s.queue.items.len() == 1).await;
    }
    let before = host.state.revision;
    // All four guests vote at once, two per instance: three are needed.
    let sends = on_a.iter_mut().chain(on_b.iter_mut()).map(|c| {
        let seq = c.next_seq();
        let msg = ClientMsg::VoteSkip {
            seq,
            round: 0,
            vote: true,
        };
        async move { c.send(&msg).await }
    });
    futures::future::join_all(sends).await;
    let msgs = on_b[0].drain(Duration::from_millis(1_500)).await;
    // Revisions that skipped (a vote that lost to the skip is acknowledged to its sender with
    // the current state: the same revision again).
    let mut skips: Vec<u64> = msgs
        .iter()
        .filter_map(|m| match m {
            ServerMsg::State { state, .. }
                if state.revision > before && state.video_id == queued() =>
            {
                Some(state.revision)
            }
            _ => None,
        })
        .collect();
    skips.dedup();
    assert_eq!(skips.len(), 1, "{msgs:?}");
    assert_eq!(on_b[0].state.queue.items.len(), 0);
    assert_eq!(on_b[0].state.ready_skip.round, 1);
}

/// Two instances on one Redis: readies sent at the same moment through both instances all
/// survive, and a setting switched on one reaches viewers of the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_keep_every_ready() {
    let a = spawn(Store::Redis).await;
    let b = spawn(Store::Redis).await;
    let (id, secret) = hosted(&a).await;
    let mut host = Client::connect_as(&a, &id, &secret).await;
    let mut guests = Vec::new();
    for i in 0..4 {
        let server = if i % 2 == 0 { &a } else { &b };
        guests.push(Client::connect_as(server, &id, &key(50 + i)).await);
    }
    let on = RoomSettings {
        wait_for_all: true,
        ..RoomSettings::default()
    };
    settings(&mut host, on).await;
    let seq = host.next_seq();
    host.send(&ClientMsg::ReadyCheck { seq, open: true }).await;
    for g in guests.iter_mut() {
        state_where(g, "the settings and the check", |s| {
            s.settings == on && s.ready_skip.check.is_some()
        })
        .await;
    }
    let sends = guests.iter_mut().map(|c| {
        let seq = c.next_seq();
        let msg = ClientMsg::Ready { seq, ready: true };
        async move { c.send(&msg).await }
    });
    futures::future::join_all(sends).await;
    let kids: Vec<_> = guests.iter().map(|g| g.kid.clone().expect("kid")).collect();
    state_where(&mut host, "four readies", |s| {
        kids.iter().all(|k| s.ready_skip.is_ready(k))
    })
    .await;
    state_where(&mut guests[1], "four readies on b", |s| {
        kids.iter().all(|k| s.ready_skip.is_ready(k))
    })
    .await;
}
