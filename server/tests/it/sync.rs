//! End-to-end sync tests over real sockets: every body runs against the memory store and
//! against a real Redis (`$REDIS_URL`, default `redis://127.0.0.1:6379`; the Redis variants
//! fail when Redis is absent).

use crate::common;

use crate::common::{create, open, spawn, spawn_with, wall_ms, Client, ConnectError, Store};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use watchparty_core::playback::Command;
use watchparty_core::protocol::{close, Cause, ErrorCode, ServerMsg, MAX_CLIENT_FRAME};

use crate::common::on_both_stores;

on_both_stores!(
    join_gets_hello_with_state_and_clock,
    play_and_pause_reach_every_viewer,
    seek_while_playing_and_while_paused,
    late_join_while_playing,
    late_join_while_paused,
    concurrent_commands_converge,
    stale_and_duplicate_commands_are_harmless,
    bad_frames_are_rejected_while_others_carry_on,
    oversized_frame_closes_with_1009,
    floods_are_rate_limited_then_closed,
    origin_is_checked,
    unknown_session_is_404,
    silent_viewers_are_evicted,
    shutdown_closes_with_going_away,
    presence_counts_viewers,
    slow_viewers_are_disconnected,
    sessions_expire_after_the_sliding_ttl,
    full_sessions_refuse_more_viewers,
);

async fn join_gets_hello_with_state_and_clock(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 42.5).await;
    let before = wall_ms();
    let mut c = Client::connect(&server, &id).await;
    let after = wall_ms();
    assert!(c.conn_id < (1u64 << 53));
    assert_eq!(c.hello_state.revision, 1);
    assert!(!c.hello_state.playing);
    assert_eq!(c.hello_state.position, 42.5);
    assert_eq!(c.hello_state.video_id, common::video());
    assert!(c.hello_viewers >= 1);
    // Same machine: the server clock is the wall clock (Redis' clock for the redis store).
    assert!(
        c.hello_server_time > before - 50.0 && c.hello_server_time < after + 50.0,
        "server time {} outside [{before}, {after}]",
        c.hello_server_time
    );
    let t0 = wall_ms();
    let (echo, t1, t2) = c.ping(t0).await;
    let t3 = wall_ms();
    assert_eq!(echo, t0);
    assert!(t1 <= t2, "receive time after send time");
    let offset = ((t1 - t0) + (t2 - t3)) / 2.0;
    println!(
        "{store:?}: clock offset {offset:.3} ms, rtt {:.3} ms",
        t3 - t0 - (t2 - t1)
    );
    // One machine, one clock: the estimate is off by at most half the round trip.
    assert!(offset.abs() <= (t3 - t0) / 2.0 + 2.0, "offset {offset}");
    // The page's snapshot agrees.
    let snap = server.sessions.snapshot(&id).await.unwrap().unwrap();
    assert_eq!(snap.state, c.hello_state);
}

async fn play_and_pause_reach_every_viewer(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 0.0).await;
    let mut a = Client::connect(&server, &id).await;
    let mut b = Client::connect(&server, &id).await;
    let a_id = a.conn_id;
    let seq = a.command(Command::Play { position: 0.0 }).await;
    for c in [&mut a, &mut b] {
        let (state, cause) = c.next_state().await;
        assert!(state.playing);
        assert_eq!(state.revision, 2);
        assert_eq!(state.position, 0.0);
        assert_eq!(cause, Some(Cause { conn_id: a_id, seq }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let seq = b.command(Command::Pause { position: 0.1 }).await;
    let b_id = b.conn_id;
    for c in [&mut a, &mut b] {
        let (state, cause) = c.next_state().await;
        assert!(!state.playing);
        assert_eq!(state.revision, 3);
        assert_eq!(state.position, 0.1);
        assert_eq!(cause, Some(Cause { conn_id: b_id, seq }));
    }
}

async fn seek_while_playing_and_while_paused(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 0.0).await;
    let mut a = Client::connect(&server, &id).await;
    let mut b = Client::connect(&server, &id).await;
    // While paused: the position moves, playback stays paused.
    a.command(Command::Seek { position: 120.0 }).await;
    for c in [&mut a, &mut b] {
        let (s, _) = c.next_state().await;
        assert!(!s.playing);
        assert_eq!(s.position, 120.0);
        assert_eq!(s.position_at(s.updated_at + 10_000.0), 120.0);
    }
    b.command(Command::Play { position: 120.0 }).await;
    a.next_state().await;
    b.next_state().await;
    // While playing: it keeps playing from the new position.
    a.command(Command::Seek { position: 300.0 }).await;
    for c in [&mut a, &mut b] {
        let (s, _) = c.next_state().await;
        assert!(s.playing);
        assert_eq!(s.position, 300.0);
        assert_eq!(s.revision, 4);
        assert!((s.position_at(s.updated_at + 2_000.0) - 302.0).abs() < 1e-9);
    }
}

async fn late_join_while_playing(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 10.0).await;
    let mut a = Client::connect(&server, &id).await;
    let sent = wall_ms();
    a.command(Command::Play { position: 10.0 }).await;
    let (played, _) = a.next_state().await;
    let echoed = wall_ms();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let c = Client::connect(&server, &id).await;
    let joined = wall_ms();
    assert_eq!(c.hello_state, played);
    assert!(c.hello_state.playing);
    // Where the late joiner computes playback to be when Hello arrived, versus the truth
    // measured on this machine's clock: the play was applied between `sent` and `echoed`, and
    // scheduled a lead after that (no viewer reported a start need: the default lead).
    let lead = f64::from(watchparty_core::start::lead_ms(
        0,
        watchparty_core::start::DEFAULT_MAX_LEAD_MS,
    ));
    let computed = c.hello_state.position_at(c.hello_server_time);
    let truth_lo = 10.0 + (joined - echoed - lead) / 1000.0;
    let truth_hi = 10.0 + (joined - sent - lead) / 1000.0;
    println!(
        "{store:?}: late joiner computes {computed:.4} s; truth in [{truth_lo:.4}, {truth_hi:.4}] s"
    );
    assert!(
        computed >= truth_lo - 0.005 && computed <= truth_hi + 0.005,
        "{computed} outside [{truth_lo}, {truth_hi}]"
    );
}

async fn late_join_while_paused(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 0.0).await;
    let mut a = Client::connect(&server, &id).await;
    a.command(Command::Play { position: 0.0 }).await;
    a.next_state().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    a.command(Command::Pause { position: 33.25 }).await;
    let (paused, _) = a.next_state().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let c = Client::connect(&server, &id).await;
    assert_eq!(c.hello_state, paused);
    assert_eq!(c.hello_state.position_at(c.hello_server_time), 33.25);
}

async fn concurrent_commands_converge(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 0.0).await;
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(Client::connect(&server, &id).await);
    }
    let mut tasks = Vec::new();
    for (i, mut c) in clients.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let mut applied = 0;
            for k in 0..8u32 {
                let cmd = match (i as u32 + k) % 3 {
                    0 => Command::Play {
                        position: f64::from(k) * 7.0 + i as f64,
                    },
                    1 => Command::Pause {
                        position: f64::from(k) * 5.0 + i as f64,
                    },
                    _ => Command::Seek {
                        position: f64::from(k) * 11.0 + i as f64,
                    },
                };
                let seq = c.command(cmd).await;
                // Wait for the verdict on this command: our echo, or an error.
                loop {
                    match c.recv().await {
                        ServerMsg::State {
                            cause: Some(cause), ..
                        } if cause.conn_id == c.conn_id && cause.seq == seq => {
                            applied += 1;
                            break;
                        }
                        ServerMsg::Error {
                            seq: Some(s), code, ..
                        } if s == seq => {
                            assert_eq!(code, ErrorCode::Stale);
                            break;
                        }
                        _ => {}
                    }
                }
            }
            (c, applied)
        }));
    }
    let mut clients = Vec::new();
    let mut applied = 0;
    for t in tasks {
        let (c, n) = t.await.expect("client task");
        applied += n;
        clients.push(c);
    }
    for c in &mut clients {
        c.drain(Duration::from_millis(500)).await;
    }
    let stored = server.sessions.snapshot(&id).await.unwrap().unwrap().state;
    println!(
        "{store:?}: {applied} of 40 concurrent commands applied; final revision {}",
        stored.revision
    );
    assert!(applied >= 1);
    for c in &clients {
        assert_eq!(c.state, stored, "every viewer ends on the stored state");
    }
}

async fn stale_and_duplicate_commands_are_harmless(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 5.0).await;
    let mut a = Client::connect(&server, &id).await;
    let mut b = Client::connect(&server, &id).await;
    a.command_on(1, Command::Seek { position: 50.0 }).await;
    let (s2, _) = a.next_state().await;
    // B's command is based on revision 1 too: stale, rejected, and B ends on revision 2.
    let seq = b.command_on(1, Command::Seek { position: 70.0 }).await;
    let mut got_error = false;
    while !(got_error && b.state.revision == 2) {
        match b.recv().await {
            ServerMsg::Error { code, seq: s, .. } => {
                assert_eq!((code, s), (ErrorCode::Stale, Some(seq)));
                got_error = true;
            }
            ServerMsg::State { state, .. } => assert_eq!(state, s2),
            _ => {}
        }
    }
    // Replaying an old command (same seq, same base) is stale again and changes nothing.
    b.command_on(1, Command::Seek { position: 70.0 }).await;
    assert_eq!(b.next_error().await.0, ErrorCode::Stale);
    // A duplicate pause at the current position is a no-op: no new revision, no error, and
    // only the sender gets an acknowledgement (the current state with its cause).
    let seq = a.command(Command::Pause { position: 50.0 }).await;
    let (ack, cause) = a.next_state().await;
    assert_eq!(ack, s2);
    assert_eq!(
        cause,
        Some(Cause {
            conn_id: a.conn_id,
            seq
        })
    );
    let quiet = b.drain(Duration::from_millis(300)).await;
    assert!(
        quiet.iter().all(|m| !matches!(m, ServerMsg::State { .. })),
        "other viewers got {quiet:?}"
    );
    let snap = server.sessions.snapshot(&id).await.unwrap().unwrap();
    assert_eq!(snap.state, s2);
    // Out-of-range values are typed errors with the seq.
    let seq = a.command(Command::Seek { position: -3.0 }).await;
    assert_eq!(a.next_error().await, (ErrorCode::InvalidValue, Some(seq)));
    let seq = a.command(Command::Rate { rate: 9.0 }).await;
    assert_eq!(a.next_error().await, (ErrorCode::InvalidValue, Some(seq)));
    assert_eq!(
        server.sessions.snapshot(&id).await.unwrap().unwrap().state,
        s2
    );
}

async fn bad_frames_are_rejected_while_others_carry_on(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 0.0).await;
    let mut bad = Client::connect(&server, &id).await;
    let mut good = Client::connect(&server, &id).await;
    for junk in [
        "not json",
        "{}",
        r#"{"type":"explode"}"#,
        r#"{"type":"seek","seq":1,"base_revision":1}"#,
        r#"{"type":"seek","seq":1,"base_revision":1,"position":1e999}"#,
        r#"{"type":"play","seq":-4,"base_revision":1,"position":1}"#,
        "\u{0}\u{1}\u{2}",
    ] {
        bad.send_raw(Message::text(junk)).await;
        assert_eq!(
            bad.next_error().await,
            (ErrorCode::BadMessage, None),
            "{junk}"
        );
    }
    bad.send_raw(Message::binary(vec![1u8, 2, 3])).await;
    assert_eq!(bad.next_error().await, (ErrorCode::BadMessage, None));
    // The bad viewer is still connected and the session is untouched.
    let (_, t1, _) = bad.ping(5.0).await;
    assert!(t1 > 0.0);
    assert_eq!(
        server
            .sessions
            .snapshot(&id)
            .await
            .unwrap()
            .unwrap()
            .state
            .revision,
        1
    );
    good.command(Command::Play { position: 0.0 }).await;
    assert!(good.next_state().await.0.playing);
    assert!(bad.next_state().await.0.playing);
}

async fn oversized_frame_closes_with_1009(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 0.0).await;
    let mut big = Client::connect(&server, &id).await;
    let mut other = Client::connect(&server, &id).await;
    let huge = format!(
        r#"{{"type":"ping","t0":1,"pad":"{}"}}"#,
        "x".repeat(MAX_CLIENT_FRAME + 100)
    );
    big.send_raw(Message::text(huge)).await;
    assert_eq!(
        big.closed(Duration::from_secs(5)).await,
        Some(close::TOO_BIG)
    );
    // A frame just under the cap is read (and rejected as unknown JSON), not closed.
    let fits = format!(r#"{{"pad":"{}"}}"#, "y".repeat(MAX_CLIENT_FRAME - 20));
    other.send_raw(Message::text(fits)).await;
    assert_eq!(other.next_error().await, (ErrorCode::BadMessage, None));
    other.command(Command::Seek { position: 9.0 }).await;
    assert_eq!(other.next_state().await.0.position, 9.0);
}

async fn floods_are_rate_limited_then_closed(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 0.0).await;
    let mut flooder = Client::connect(&server, &id).await;
    let mut calm = Client::connect(&server, &id).await;
    for _ in 0..300 {
        // Based on revision 0: always stale, so the flood never changes the session.
        flooder.command_on(0, Command::Seek { position: 1.0 }).await;
    }
    let mut limited = 0;
    let code = loop {
        match flooder.try_recv(Duration::from_secs(5)).await {
            Some(Ok(ServerMsg::Error {
                code: ErrorCode::RateLimited,
                ..
            })) => limited += 1,
            Some(Ok(_)) => {}
            Some(Err(code)) => break code,
            None => panic!("flood not closed"),
        }
    };
    assert!(limited >= 1, "no RateLimited error before the close");
    assert_eq!(code, Some(close::POLICY));
    // The calm viewer carries on.
    calm.command(Command::Play { position: 0.0 }).await;
    let (s, _) = calm.next_state().await;
    assert!(s.playing);
    assert_eq!(s.revision, 2);
}

async fn origin_is_checked(store: Store) {
    let mut settings = common::settings(store);
    let server = spawn_with(settings.clone()).await;
    let id = create(&server, 0.0).await;
    let evil = open(&server, id.as_str(), Some("https://evil.example")).await;
    assert!(
        matches!(evil, Err(ConnectError::Status(403))),
        "{:?}",
        evil.err()
    );
    let same = format!("http://{}", server.addr);
    let ok = open(&server, id.as_str(), Some(&same)).await;
    assert!(ok.is_ok(), "same-host origin rejected");
    settings.allowed_origins = vec!["https://party.example".into()];
    let strict = spawn_with(settings).await;
    let id = create(&strict, 0.0).await;
    assert!(open(&strict, id.as_str(), Some("https://party.example"))
        .await
        .is_ok());
    assert!(matches!(
        open(
            &strict,
            id.as_str(),
            Some(&format!("http://{}", strict.addr))
        )
        .await,
        Err(ConnectError::Status(403))
    ));
}

async fn unknown_session_is_404(store: Store) {
    let server = spawn(store).await;
    for id in [
        "000000000000",
        "short",
        "has%20space0",
        "aaaaaaaaaaaaaaaaaaaaaaaa",
    ] {
        let r = open(&server, id, None).await;
        assert!(
            matches!(r, Err(ConnectError::Status(404))),
            "{id}: {:?}",
            r.err()
        );
    }
    // A plain GET (no upgrade) of an unknown session is a 404 too; of a known one, not.
    let addr = server.addr;
    let plain = tokio::task::spawn_blocking(move || common::http_status(addr, "/ws/000000000000"));
    assert_eq!(plain.await.unwrap(), 404);
    let id = create(&server, 0.0).await;
    let path = format!("/ws/{id}");
    let plain = tokio::task::spawn_blocking(move || common::http_status(addr, &path));
    let status = plain.await.unwrap();
    assert!((400..500).contains(&status) && status != 404, "{status}");
}

async fn silent_viewers_are_evicted(store: Store) {
    let mut settings = common::settings(store);
    settings.heartbeat_secs = 1;
    settings.heartbeat_timeout_secs = 2;
    let server = spawn_with(settings).await;
    let id = create(&server, 0.0).await;
    let mut watcher = Client::connect(&server, &id).await;
    // This viewer never reads, so it never answers the server's pings.
    let mut silent = Client::connect(&server, &id).await;
    watcher.presence(2).await;
    let start = Instant::now();
    watcher.presence(1).await;
    let evicted_after = start.elapsed();
    println!("{store:?}: silent viewer evicted after {evicted_after:?}");
    assert!(evicted_after < Duration::from_secs(6));
    assert_eq!(
        silent.closed(Duration::from_secs(5)).await,
        Some(close::HEARTBEAT_TIMEOUT)
    );
    // The watcher itself answers pings (its client library does, while reading) and stays.
    watcher.drain(Duration::from_secs(3)).await;
    let (_, t1, _) = watcher.ping(1.0).await;
    assert!(t1 > 0.0);
}

async fn shutdown_closes_with_going_away(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 0.0).await;
    let mut a = Client::connect(&server, &id).await;
    let mut b = Client::connect(&server, &id).await;
    let stopping = tokio::spawn(server.stop());
    assert_eq!(
        a.closed(Duration::from_secs(5)).await,
        Some(close::GOING_AWAY)
    );
    assert_eq!(
        b.closed(Duration::from_secs(5)).await,
        Some(close::GOING_AWAY)
    );
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("shutdown finishes")
        .expect("shutdown task");
}

async fn presence_counts_viewers(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 0.0).await;
    let mut a = Client::connect(&server, &id).await;
    assert_eq!(a.hello_viewers, 1);
    // Only changes are announced: the first report (1 viewer) repeats what Hello said. (The
    // room's list, `roster`, does arrive: the whole list, then this viewer's own entry; and
    // the chat history, once.)
    let quiet = a.drain(Duration::from_millis(800)).await;
    assert!(
        quiet
            .iter()
            .all(|m| matches!(m, ServerMsg::Roster { .. } | ServerMsg::History { .. })),
        "unexpected {quiet:?}"
    );
    let mut others = Vec::new();
    for _ in 0..4 {
        others.push(Client::connect(&server, &id).await);
    }
    a.presence(5).await;
    assert_eq!(
        server
            .sessions
            .snapshot(&id)
            .await
            .unwrap()
            .unwrap()
            .viewers,
        5
    );
    others.truncate(1);
    a.presence(2).await;
    let late = Client::connect(&server, &id).await;
    assert_eq!(late.hello_viewers, 3);
}

async fn slow_viewers_are_disconnected(store: Store) {
    slow_viewers_are_disconnected_with(store, true).await;
}

/// The fan-out without io_uring (`fanout_io_uring = false`: one `send` per socket, the path
/// every instance takes where the kernel refuses a ring) cuts slow viewers the same way and
/// carries on for the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_viewers_are_disconnected_without_io_uring() {
    slow_viewers_are_disconnected_with(Store::Memory, false).await;
}

async fn slow_viewers_are_disconnected_with(store: Store, io_uring: bool) {
    let mut settings = common::settings(store);
    settings.fanout_io_uring = io_uring;
    settings.commands_per_sec = 1e6;
    settings.command_burst = 1_000_000;
    settings.send_queue = 64;
    let server = spawn_with(settings).await;
    let id = create(&server, 0.0).await;
    // A viewer with a tiny TCP receive window that never reads.
    let _slow = common::never_reading_viewer(&server, &id).await;
    let mut driver = Client::connect(&server, &id).await;
    assert_eq!(server.sessions.connections(), 2);
    // Drive changes until the server gives up on the slow viewer: once the kernel buffers
    // toward it are full (several MB on loopback), its send stalls and it is disconnected.
    let start = Instant::now();
    let mut k = 0u32;
    while server.sessions.connections() > 1 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "slow viewer still connected after {k} commands"
        );
        k += 1;
        let seq = driver
            .command(Command::Seek {
                position: f64::from(k % 100_000) + 1.0,
            })
            .await;
        let (_, cause) = driver.next_state().await;
        assert_eq!(
            cause.map(|c| c.seq),
            Some(seq),
            "the driver is never held back"
        );
    }
    println!(
        "{store:?} (io_uring {io_uring}): slow viewer dropped after {k} broadcasts, {:?}",
        start.elapsed()
    );
    // The driver carries on.
    driver.command(Command::Play { position: 1.0 }).await;
    assert!(driver.next_state().await.0.playing);
}

async fn sessions_expire_after_the_sliding_ttl(store: Store) {
    let mut settings = common::settings(store);
    settings.session_ttl_secs = 2;
    let server = spawn_with(settings).await;
    let id = create(&server, 0.0).await;
    let mut viewer = Client::connect(&server, &id).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    // A change slides the TTL...
    viewer.command(Command::Seek { position: 5.0 }).await;
    viewer.next_state().await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert!(
        server.sessions.snapshot(&id).await.unwrap().is_some(),
        "expired despite the change"
    );
    drop(viewer);
    // ...and without activity the session goes.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(server.sessions.snapshot(&id).await.unwrap().is_none());
    assert!(matches!(
        open(&server, id.as_str(), None).await,
        Err(ConnectError::Status(404))
    ));
}

async fn full_sessions_refuse_more_viewers(store: Store) {
    let mut settings = common::settings(store);
    settings.max_viewers_per_session = 2;
    let server = spawn_with(settings).await;
    let id = create(&server, 0.0).await;
    let _a = Client::connect(&server, &id).await;
    let b = Client::connect(&server, &id).await;
    assert!(matches!(
        open(&server, id.as_str(), None).await,
        Err(ConnectError::Status(503))
    ));
    drop(b);
    // A seat frees up when a viewer leaves.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match open(&server, id.as_str(), None).await {
            Ok(ws) => {
                Client::from_stream(ws).await;
                break;
            }
            Err(e) => {
                assert!(Instant::now() < deadline, "no seat after a leave: {e:?}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
