//! "Wait for everyone" (issue 27): the hold over real WebSockets, on both stores and across two
//! instances. A start while a viewer is loading holds the room; it plays when that viewer is
//! ready, or at the deadline, exactly once; a pause cancels a hold, "Start now" ends it; a
//! stall holds a playing room once per deadline.

use crate::common::{on_both_stores, settings, spawn_with, Client, Store};
use server::startup::TestServer;
use std::time::{Duration, Instant};
use watchparty_core::health::Health;
use watchparty_core::playback::{Command, PlaybackState};
use watchparty_core::protocol::{Cause, ClientMsg, ServerMsg};
use watchparty_core::together::RoomSettings;

on_both_stores!(
    a_start_waits_for_a_loading_viewer_until_it_is_ready,
    the_deadline_releases_the_hold_once,
    a_pause_cancels_and_start_now_releases,
    a_stall_holds_once_per_deadline,
);

const SERVER: Cause = Cause { conn_id: 0, seq: 0 };

fn key(i: u32) -> String {
    format!("hold-test-key-{i:08}-abcdef")
}

async fn server_with(store: Store, deadline_ms: u64) -> TestServer {
    let mut s = settings(store);
    s.hold_deadline_ms = deadline_ms;
    s.advance_check_ms = 50;
    spawn_with(s).await
}

/// A hosted session with `wait` switched on by its host; returns (host, guest).
async fn room(a: &TestServer, b: &TestServer, wait: RoomSettings) -> (Client, Client) {
    let (id, secret) = a
        .sessions
        .create_hosted(crate::common::video(), 10.0)
        .await
        .expect("session created");
    let mut host = Client::connect_as(a, &id, &secret).await;
    let guest = Client::connect_as(b, &id, &key(1)).await;
    let seq = host.next_seq();
    host.send(&ClientMsg::Settings {
        seq,
        settings: wait,
    })
    .await;
    until_state(&mut host, "the settings", |s| s.settings == wait).await;
    (host, guest)
}

fn wait_for_all() -> RoomSettings {
    RoomSettings {
        wait_for_all: true,
        ..RoomSettings::default()
    }
}

/// Reads until `pred` holds for the client's state; returns the states seen meanwhile.
async fn until_state(
    c: &mut Client,
    what: &str,
    pred: impl Fn(&PlaybackState) -> bool,
) -> Vec<(PlaybackState, Option<Cause>)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(12);
    let mut seen = Vec::new();
    while !pred(&c.state) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match c.try_recv(left).await {
            Some(Ok(ServerMsg::State { state, cause })) => seen.push((state, cause)),
            Some(Ok(ServerMsg::Error { code, message, .. })) => {
                panic!("waiting for {what}: error {code:?} {message}")
            }
            Some(Ok(_)) => {}
            other => panic!("waiting for {what}: {other:?}"),
        }
    }
    seen
}

/// Reports `health` for `who` and waits until `watcher`'s room list shows it (so every
/// instance's merged list has it).
async fn report(who: &mut Client, watcher: &mut Client, health: Health) {
    who.send(&ClientMsg::Status { status: health }).await;
    let id = who.conn_id;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match watcher.try_recv(left).await {
            Some(Ok(ServerMsg::Roster { members, .. }))
                if members
                    .iter()
                    .any(|m| m.id == id && m.status == Some(health)) =>
            {
                return
            }
            Some(Ok(_)) => {}
            other => panic!("waiting for {health:?} in the list: {other:?}"),
        }
    }
}

/// Plays and expects the hold: paused, naming `guest`. Returns the hold's revision.
async fn play_into_hold(host: &mut Client, guest_id: u64) -> u64 {
    let seq = host.command(Command::Play { position: 10.0 }).await;
    let seen = until_state(host, "the hold", |s| s.hold.active.is_some()).await;
    let (state, cause) = seen.last().cloned().expect("a state");
    assert_eq!(
        cause,
        Some(Cause {
            conn_id: host.conn_id,
            seq
        })
    );
    assert!(!state.playing, "a held room stays paused");
    let h = state.hold.active.expect("hold");
    assert_eq!(h.position, 10.0);
    assert_eq!(h.revision, state.revision);
    assert_eq!(
        h.waiting.iter().map(|w| w.id).collect::<Vec<_>>(),
        vec![guest_id]
    );
    h.revision
}

/// Expects exactly one release of the hold made at `hold`: the next revision plays, made by
/// the server, and no other change follows within `quiet`.
async fn released_once(c: &mut Client, hold: u64, quiet: Duration) -> PlaybackState {
    let seen = until_state(c, "the release", |s| s.playing).await;
    let (state, cause) = seen.last().cloned().expect("a state");
    assert_eq!(state.revision, hold + 1, "the release is the next change");
    assert_eq!(cause, Some(SERVER));
    assert!(state.hold.active.is_none());
    assert_eq!(state.position, 10.0);
    for m in c.drain(quiet).await {
        assert!(
            !matches!(m, ServerMsg::State { .. }),
            "a second change: {m:?}"
        );
    }
    state
}

async fn a_start_waits_for_a_loading_viewer_until_it_is_ready(store: Store) {
    let server = server_with(store, 30_000).await;
    let (mut host, mut guest) = room(&server, &server, wait_for_all()).await;
    report(&mut guest, &mut host, Health::Loading).await;
    let hold = play_into_hold(&mut host, guest.conn_id).await;
    until_state(&mut guest, "the hold", |s| s.hold.active.is_some()).await;
    let t = Instant::now();
    guest
        .send(&ClientMsg::Status {
            status: Health::in_sync(0),
        })
        .await;
    released_once(&mut host, hold, Duration::from_millis(500)).await;
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "released when ready, not at the deadline"
    );
    until_state(&mut guest, "the release", |s| s.playing).await;
    // Everybody ready: the next start does not hold.
    host.command(Command::Pause { position: 20.0 }).await;
    until_state(&mut host, "the pause", |s| !s.playing).await;
    host.command(Command::Play { position: 20.0 }).await;
    let seen = until_state(&mut host, "the play", |s| s.playing).await;
    assert!(seen.iter().all(|(s, _)| s.hold.active.is_none()));
    // The sender's own player buffering (its person just pressed play) holds nothing.
    host.command(Command::Pause { position: 30.0 }).await;
    until_state(&mut host, "the pause", |s| !s.playing).await;
    let mut guest_view = guest;
    report(&mut host, &mut guest_view, Health::Buffering).await;
    host.command(Command::Play { position: 30.0 }).await;
    let seen = until_state(&mut host, "the play", |s| s.playing).await;
    assert!(seen.iter().all(|(s, _)| s.hold.active.is_none()));
}

async fn the_deadline_releases_the_hold_once(store: Store) {
    let server = server_with(store, 1_500).await;
    let (mut host, mut guest) = room(&server, &server, wait_for_all()).await;
    report(&mut guest, &mut host, Health::Ad).await;
    let t = Instant::now();
    let hold = play_into_hold(&mut host, guest.conn_id).await;
    released_once(&mut host, hold, Duration::from_millis(800)).await;
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(1_300),
        "held until the deadline: {waited:?}"
    );
    // The guest, still in its ad, follows as a late joiner: it got the same release.
    until_state(&mut guest, "the release", |s| s.playing).await;
    assert_eq!(guest.state.revision, hold + 1);
}

async fn a_pause_cancels_and_start_now_releases(store: Store) {
    let server = server_with(store, 30_000).await;
    let (mut host, mut guest) = room(&server, &server, wait_for_all()).await;
    report(&mut guest, &mut host, Health::Buffering).await;
    play_into_hold(&mut host, guest.conn_id).await;
    // Another play keeps the hold (same position: nothing changes).
    let before = host.state.revision;
    host.command(Command::Play { position: 10.0 }).await;
    let (ack, _) = host.next_state().await;
    assert_eq!(ack.revision, before);
    assert!(ack.hold.active.is_some());
    // A pause cancels it.
    host.command(Command::Pause { position: 10.0 }).await;
    let seen = until_state(&mut host, "the cancel", |s| s.hold.active.is_none()).await;
    assert!(seen.iter().all(|(s, _)| !s.playing));
    // Play again: held again; "Start now" releases it at once.
    let hold = play_into_hold(&mut host, guest.conn_id).await;
    let seq = host.next_seq();
    host.send(&ClientMsg::StartNow { seq, hold }).await;
    let seen = until_state(&mut host, "the start", |s| s.playing).await;
    let (state, cause) = seen.last().cloned().expect("a state");
    assert_eq!(
        cause,
        Some(Cause {
            conn_id: host.conn_id,
            seq
        })
    );
    assert_eq!(state.revision, hold + 1);
    assert_eq!(state.position, 10.0);
    // A late "Start now" of the same hold changes nothing.
    until_state(&mut guest, "the start", |s| s.revision == hold + 1).await;
    let seq = guest.next_seq();
    guest.send(&ClientMsg::StartNow { seq, hold }).await;
    let (ack, cause) = guest.next_state().await;
    assert_eq!(ack.revision, hold + 1);
    assert_eq!(
        cause,
        Some(Cause {
            conn_id: guest.conn_id,
            seq
        })
    );
}

async fn a_stall_holds_once_per_deadline(store: Store) {
    let server = server_with(store, 1_200).await;
    let wait = RoomSettings {
        wait_on_buffer: true,
        ..wait_for_all()
    };
    let (mut host, mut guest) = room(&server, &server, wait).await;
    report(&mut guest, &mut host, Health::in_sync(0)).await;
    host.command(Command::Play { position: 10.0 }).await;
    until_state(&mut host, "the play", |s| s.playing).await;
    // The start's own buffering holds nothing (the grace).
    guest
        .send(&ClientMsg::Status {
            status: Health::Buffering,
        })
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(host.state.playing);
    // After the grace the stall holds the room where it is, naming the guest.
    let seen = until_state(&mut host, "the stall", |s| s.hold.active.is_some()).await;
    let (held, cause) = seen.last().cloned().expect("a state");
    assert_eq!(cause, Some(SERVER));
    assert!(!held.playing);
    let h = held.hold.active.expect("hold");
    assert_eq!(h.stalled, Some(guest.conn_id));
    // The guest keeps buffering: the deadline releases the room and it does not hold again
    // (the calm, then the guest's cool-down) while the guest stays stalled.
    let seen = until_state(&mut host, "the release", |s| s.playing).await;
    assert_eq!(seen.last().expect("a state").1, Some(SERVER));
    for m in host.drain(Duration::from_millis(3_000)).await {
        assert!(!matches!(m, ServerMsg::State { .. }), "held again: {m:?}");
    }
}

/// Two instances on one Redis, the loading guest on the second: the hold made on the first is
/// released by the deadline exactly once (both instances try).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_release_once() {
    let s1 = server_with(Store::Redis, 1_500).await;
    let s2 = server_with(Store::Redis, 1_500).await;
    let (mut host, mut guest) = room(&s1, &s2, wait_for_all()).await;
    report(&mut guest, &mut host, Health::Loading).await;
    let hold = play_into_hold(&mut host, guest.conn_id).await;
    released_once(&mut host, hold, Duration::from_millis(800)).await;
    until_state(&mut guest, "the release", |s| s.playing).await;
    assert_eq!(guest.state.revision, hold + 1);
}

/// Two instances: the guest on the second becomes ready; the release follows at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_release_when_ready() {
    let s1 = server_with(Store::Redis, 30_000).await;
    let s2 = server_with(Store::Redis, 30_000).await;
    let (mut host, mut guest) = room(&s1, &s2, wait_for_all()).await;
    report(&mut guest, &mut host, Health::Loading).await;
    let hold = play_into_hold(&mut host, guest.conn_id).await;
    guest
        .send(&ClientMsg::Status {
            status: Health::in_sync(0),
        })
        .await;
    released_once(&mut host, hold, Duration::from_millis(500)).await;
}
