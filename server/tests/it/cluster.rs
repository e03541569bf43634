//! Several server instances on one Redis (`$REDIS_URL`, default `redis://127.0.0.1:6379`;
//! these tests fail when Redis is absent), and a private Redis that goes away mid-session.

use crate::common;

use crate::common::redis::{cli as redis_cli, free_port, PrivateRedis};
use crate::common::{create, http_status, spawn, spawn_with, Client, Store};
use std::time::Duration;
use watchparty_core::playback::Command;
use watchparty_core::protocol::{close, Cause, ErrorCode, ServerMsg};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_on_one_instance_reaches_viewers_on_the_other() {
    let s1 = spawn(Store::Redis).await;
    let s2 = spawn(Store::Redis).await;
    let id = create(&s1, 0.0).await;
    let mut a = Client::connect(&s1, &id).await;
    let mut b = Client::connect(&s2, &id).await;
    let seq = a.command(Command::Play { position: 0.0 }).await;
    let (state, cause) = b.next_state().await;
    assert!(state.playing);
    assert_eq!(
        cause,
        Some(Cause {
            conn_id: a.conn_id,
            seq
        })
    );
    a.next_state().await;
    let seq = a.command(Command::Pause { position: 1.5 }).await;
    let (state, cause) = b.next_state().await;
    assert!(!state.playing);
    assert_eq!(state.position, 1.5);
    assert_eq!(state.revision, 3);
    assert_eq!(
        cause,
        Some(Cause {
            conn_id: a.conn_id,
            seq
        })
    );
    // And back: B's seek reaches A.
    assert_eq!(a.next_state().await.0.revision, 3);
    b.command(Command::Seek { position: 99.0 }).await;
    assert_eq!(a.next_state().await.0.position, 99.0);
    // Both instances read the same state.
    let one = s1.sessions.snapshot(&id).await.unwrap().unwrap().state;
    let two = s2.sessions.snapshot(&id).await.unwrap().unwrap().state;
    assert_eq!(one, two);
    assert_eq!(one.revision, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commands_on_both_instances_converge() {
    let s1 = spawn(Store::Redis).await;
    let s2 = spawn(Store::Redis).await;
    let id = create(&s1, 0.0).await;
    let mut tasks = Vec::new();
    for i in 0..6u32 {
        let server = if i % 2 == 0 { &s1 } else { &s2 };
        let mut c = Client::connect(server, &id).await;
        tasks.push(tokio::spawn(async move {
            let mut applied = 0;
            let mut revisions = Vec::new();
            for k in 0..10u32 {
                let position = f64::from(i * 100 + k + 1);
                let cmd = if k % 2 == 0 {
                    Command::Seek { position }
                } else {
                    Command::Pause { position }
                };
                let seq = c.command(cmd).await;
                loop {
                    let msg = match c.try_recv(common::WAIT).await {
                        Some(Ok(m)) => m,
                        other => panic!(
                            "client {i} cmd {k} seq {seq} base {}: {other:?}",
                            c.state.revision
                        ),
                    };
                    match msg {
                        ServerMsg::State { state, cause } => {
                            revisions.push(state.revision);
                            if cause
                                == Some(Cause {
                                    conn_id: c.conn_id,
                                    seq,
                                })
                            {
                                applied += 1;
                                break;
                            }
                        }
                        ServerMsg::Error {
                            code, seq: Some(s), ..
                        } if s == seq => {
                            assert_eq!(code, ErrorCode::Stale);
                            break;
                        }
                        _ => {}
                    }
                }
            }
            (c, applied, revisions)
        }));
    }
    let mut clients = Vec::new();
    let mut applied = 0;
    for t in tasks {
        let (c, n, revisions) = t.await.expect("client task");
        assert!(revisions.windows(2).all(|w| w[0] < w[1]), "{revisions:?}");
        applied += n;
        clients.push(c);
    }
    for c in &mut clients {
        c.drain(Duration::from_millis(500)).await;
    }
    let stored = s1.sessions.snapshot(&id).await.unwrap().unwrap().state;
    println!(
        "{applied} of 60 commands applied on two instances; final revision {}",
        stored.revision
    );
    assert_eq!(stored.revision, 1 + applied);
    for c in &clients {
        assert_eq!(c.state, stored);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_counts_viewers_on_every_instance() {
    let s1 = spawn(Store::Redis).await;
    let s2 = spawn(Store::Redis).await;
    let id = create(&s1, 0.0).await;
    let mut a = Client::connect(&s1, &id).await;
    let b1 = Client::connect(&s2, &id).await;
    let mut b2 = Client::connect(&s2, &id).await;
    a.presence(3).await;
    b2.presence(3).await;
    drop(b1);
    a.presence(2).await;
    // Stopping an instance withdraws its viewers at once.
    s2.stop().await;
    a.presence(1).await;
    assert_eq!(
        b2.closed(Duration::from_secs(5)).await,
        Some(close::GOING_AWAY)
    );
    assert_eq!(s1.sessions.snapshot(&id).await.unwrap().unwrap().viewers, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_is_reported_and_survived() {
    let port = free_port();
    let redis = PrivateRedis::start(port);
    let mut settings = common::settings(Store::Redis);
    settings.redis_url = Some(redis.url());
    let server = spawn_with(settings).await;
    let addr = server.addr;
    assert_eq!(
        tokio::task::spawn_blocking(move || http_status(addr, "/readyz"))
            .await
            .unwrap(),
        200
    );
    let id = create(&server, 0.0).await;
    let mut c = Client::connect(&server, &id).await;
    drop(redis);
    // Clock pings need no store and keep working.
    let (_, t1, _) = c.ping(1.0).await;
    assert!(t1 > 0.0);
    let seq = c.command(Command::Play { position: 0.0 }).await;
    assert_eq!(c.next_error().await, (ErrorCode::Unavailable, Some(seq)));
    assert_eq!(
        tokio::task::spawn_blocking(move || http_status(addr, "/readyz"))
            .await
            .unwrap(),
        503
    );
    // Redis comes back empty (no persistence): ready again.
    let _redis = PrivateRedis::start(port);
    let mut ready = false;
    for _ in 0..50 {
        if tokio::task::spawn_blocking(move || http_status(addr, "/readyz"))
            .await
            .unwrap()
            == 200
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ready, "/readyz did not recover");
    // Redis came back without the session (no persistence): the session has ended. The
    // instance notices by itself (its resubscription re-reads the state), tells its viewer
    // with the final close code, and a new viewer gets 404 like the page.
    assert_eq!(
        c.closed(Duration::from_secs(10)).await,
        Some(close::SESSION_ENDED)
    );
    match common::open(&server, id.as_str(), None).await {
        Err(common::ConnectError::Status(404)) => {}
        other => panic!("expected 404, got {:?}", other.map(|_| ())),
    }
    // A session that exists again (e.g. restored from a backup) works on the same instance.
    let id = create(&server, 0.0).await;
    let mut c = Client::connect(&server, &id).await;
    let seq = c.command(Command::Play { position: 0.0 }).await;
    let (state, cause) = c.next_state().await;
    assert!(state.playing);
    assert_eq!(cause.map(|c| c.seq), Some(seq));
    // Without the state the session is gone for good.
    let key = format!("wp:{{{id}}}:state");
    redis_cli(port, &["DEL", &key]);
    let seq = c.command(Command::Pause { position: 1.0 }).await;
    assert_eq!(c.next_error().await, (ErrorCode::UnknownSession, Some(seq)));
    let code = c.closed(Duration::from_secs(5)).await;
    assert!(
        matches!(code, Some(close::UNKNOWN_SESSION | close::SESSION_ENDED)),
        "{code:?}"
    );
}

/// Keeps `n` threads spinning until dropped (the machine is busy, as in CI).
struct Burners(
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    Vec<std::thread::JoinHandle<()>>,
);

impl Burners {
    fn start(n: usize) -> Burners {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = (0..n)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                })
            })
            .collect();
        Burners(stop, threads)
    }
}

impl Drop for Burners {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.1.drain(..) {
            let _ = t.join();
        }
    }
}

/// `p`-th percentile (0..=100) of sorted `v`.
fn percentile(v: &[Duration], p: usize) -> Duration {
    v[(v.len() - 1) * p / 100]
}

/// Sessions in the join-while-sending stress test.
const STRESS_SESSIONS: usize = 300;
/// Sessions in flight at once.
const STRESS_PARALLEL: usize = 12;
/// The command is sent this many µs after the join starts, at most.
const STRESS_SPREAD_US: u64 = 6_000;
/// A change that has not reached the joiner after this long was lost (the safety-net
/// reconcile is set to an hour, so nothing else would deliver it; on a busy 2-core machine
/// the slowest delivery seen was 2 s).
const STRESS_BOUND: Duration = Duration::from_secs(10);

/// For each of hundreds of fresh sessions, a viewer joins on instance B at the moment a viewer
/// on A sends a command, while two threads keep both cores busy. The joiner must get the
/// change (in its `hello` or as an event) within a small bound: with the safety-net reconcile
/// set to an hour, only a correct subscription barrier delivers it.
async fn join_while_sending(store: Store) {
    let mut settings = common::settings(store);
    settings.reconcile_secs = 3600.0;
    let a = std::sync::Arc::new(spawn_with(settings.clone()).await);
    // With the memory store both viewers use one instance (one process has one store).
    let b = if store == Store::Redis {
        std::sync::Arc::new(spawn_with(settings).await)
    } else {
        a.clone()
    };
    let burners = Burners::start(2);
    let started = tokio::time::Instant::now();
    let mut latencies = Vec::with_capacity(STRESS_SESSIONS);
    let mut lost = Vec::new();
    let mut next = 0;
    while next < STRESS_SESSIONS {
        let mut batch = Vec::new();
        for _ in 0..STRESS_PARALLEL.min(STRESS_SESSIONS - next) {
            next += 1;
            let (a, b) = (a.clone(), b.clone());
            batch.push(tokio::spawn(async move {
                let id = create(&a, 0.0).await;
                let mut sender = Client::connect(&a, &id).await;
                // The command leaves at a random moment within the join (which takes a few
                // ms), so over all sessions it lands in every phase of the join.
                let offset = Duration::from_micros(rand::random_range(0..STRESS_SPREAD_US));
                let begin = tokio::time::Instant::now();
                let (joiner, sent) = tokio::join!(Client::connect(&b, &id), async {
                    while begin.elapsed() < offset {
                        tokio::task::yield_now().await;
                    }
                    let sent = tokio::time::Instant::now();
                    sender.command(Command::Play { position: 0.0 }).await;
                    sent
                });
                let mut joiner = joiner;
                let deadline = sent + STRESS_BOUND;
                while joiner.state.revision < 2 {
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    match joiner.try_recv(left).await {
                        Some(Ok(_)) => {}
                        _ => return Err(id),
                    }
                }
                Ok(sent.elapsed())
            }));
        }
        for t in batch {
            match t.await.expect("stress task") {
                Ok(d) => latencies.push(d),
                Err(id) => lost.push(id),
            }
        }
    }
    drop(burners);
    latencies.sort();
    println!(
        "join-while-sending ({store:?}): {} sessions in {:.1} s, lost {}, delivery p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        STRESS_SESSIONS,
        started.elapsed().as_secs_f64(),
        lost.len(),
        percentile(&latencies, 50).as_secs_f64() * 1000.0,
        percentile(&latencies, 99).as_secs_f64() * 1000.0,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
    );
    assert!(lost.is_empty(), "changes lost for the joiners of {lost:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_joining_while_a_change_is_sent_gets_it_redis() {
    join_while_sending(Store::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_joining_while_a_change_is_sent_gets_it_memory() {
    join_while_sending(Store::Memory).await;
}
