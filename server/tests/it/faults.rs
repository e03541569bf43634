//! Redis faults, survived with numbers. Every test runs its own private `redis-server` on a
//! free port (never the shared one) with two server instances on it, and measures the time
//! until every viewer on both instances has the newest state. The figures are printed
//! (`--nocapture`) and reported in docs/benchmarks.md ("Faults"); the asserted bounds are
//! generous so the tests stay deterministic on a busy machine. The last test is of the pages:
//! renders that wait on Redis, abandoned by their browsers.

use crate::common;

use crate::common::proxy::Proxy;
use crate::common::redis::{free_port, PrivateRedis};
use crate::common::{create, spawn_with, Client, Store};
use server::startup::TestServer;
use std::time::Duration;
use tokio::time::Instant;
use watchparty_core::ids::SessionId;
use watchparty_core::playback::Command;
use watchparty_core::protocol::{close, ErrorCode, ServerMsg};

/// Settings for an instance on `url`, with the safety-net reconcile out of the way (an hour),
/// so what the tests measure is the real recovery path.
fn settings(url: String) -> server::settings::Settings {
    let mut s = common::settings(Store::Redis);
    s.redis_url = Some(url);
    s.reconcile_secs = 3600.0;
    s
}

async fn instance(url: String) -> TestServer {
    spawn_with(settings(url)).await
}

/// Reads `c` until it has revision `revision` (or newer); the time it took from `since`.
async fn wait_revision(c: &mut Client, revision: u64, since: Instant, limit: Duration) -> Duration {
    let deadline = since + limit;
    while c.state.revision < revision {
        let left = deadline.saturating_duration_since(Instant::now());
        match c.try_recv(left).await {
            Some(Ok(_)) => {}
            other => panic!(
                "revision {revision} not reached within {limit:?} (at {}): {other:?}",
                c.state.revision
            ),
        }
    }
    since.elapsed()
}

/// Sends `cmd` from `c` until it is applied (retrying on `unavailable`); returns the new
/// revision and how many attempts failed.
async fn command_until_applied(c: &mut Client, cmd: Command, limit: Duration) -> (u64, u32) {
    let deadline = Instant::now() + limit;
    let mut failed = 0;
    loop {
        assert!(
            Instant::now() < deadline,
            "command not applied within {limit:?}"
        );
        let seq = c.command(cmd).await;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match c.try_recv(left).await {
                Some(Ok(ServerMsg::State { state, cause }))
                    if cause.is_some_and(|k| k.seq == seq && k.conn_id == c.conn_id) =>
                {
                    return (state.revision, failed)
                }
                Some(Ok(ServerMsg::Error {
                    code, seq: Some(s), ..
                })) if s == seq => {
                    assert!(
                        matches!(code, ErrorCode::Unavailable | ErrorCode::Stale),
                        "{code:?}"
                    );
                    failed += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    break;
                }
                Some(Ok(_)) => {}
                other => panic!("while commanding: {other:?}"),
            }
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Two instances on `url_a` / `url_b`, one session, one viewer on each, playing (revision 2,
/// seen by both).
async fn room(url_a: String, url_b: String) -> (TestServer, TestServer, Client, Client, SessionId) {
    let a = instance(url_a).await;
    let b = instance(url_b).await;
    let id = create(&a, 0.0).await;
    let mut va = Client::connect(&a, &id).await;
    let mut vb = Client::connect(&b, &id).await;
    let (rev, _) = command_until_applied(
        &mut va,
        Command::Play { position: 0.0 },
        Duration::from_secs(5),
    )
    .await;
    wait_revision(&mut vb, rev, Instant::now(), Duration::from_secs(5)).await;
    (a, b, va, vb, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_kill_of_the_subscribers_loses_nothing() {
    let redis = PrivateRedis::start(free_port());
    let (_a, _b, mut va, mut vb, _) = room(redis.url(), redis.url()).await;
    let killed = Instant::now();
    let out = redis.cli(&["CLIENT", "KILL", "TYPE", "pubsub"]);
    assert_ne!(out, "0", "no subscriber connection was killed");
    // A change made right away (while the subscribers reconnect) still reaches both viewers.
    let (rev, failed) = command_until_applied(
        &mut va,
        Command::Seek { position: 30.0 },
        Duration::from_secs(5),
    )
    .await;
    let took = wait_revision(&mut vb, rev, killed, Duration::from_secs(10)).await;
    println!(
        "FAULT client-kill-pubsub: converged {:.0} ms after the kill, {failed} failed attempts, 0 lost",
        ms(took)
    );
    assert_eq!(vb.state, va.state);
    // And the renewed subscriptions carry the next change at once.
    let t = Instant::now();
    let (rev, _) = command_until_applied(
        &mut va,
        Command::Pause { position: 31.0 },
        Duration::from_secs(5),
    )
    .await;
    let next = wait_revision(&mut vb, rev, t, Duration::from_secs(2)).await;
    println!(
        "FAULT client-kill-pubsub: next change delivered in {:.1} ms",
        ms(next)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_subscriber_path_is_noticed_and_replaced() {
    let redis = PrivateRedis::start(free_port());
    let proxy = Proxy::start(redis.port).await;
    let (_a, _b, mut va, mut vb, _) = room(redis.url(), proxy.url()).await;
    let before = proxy.accepted();
    // B's subscriber connection goes silent: no data, no FIN, no RST (a half-open path).
    assert_eq!(proxy.freeze_subscribers(), 1);
    let frozen = Instant::now();
    let (rev, failed) = command_until_applied(
        &mut va,
        Command::Seek { position: 40.0 },
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(failed, 0);
    let took = wait_revision(&mut vb, rev, frozen, Duration::from_secs(12)).await;
    println!(
        "FAULT subscriber path frozen (half-open): B's viewer converged {:.0} ms after the freeze, 0 lost",
        ms(took)
    );
    assert!(
        proxy.accepted() > before,
        "the subscriber did not reconnect"
    );
    assert_eq!(vb.state, va.state);
    let t = Instant::now();
    let (rev, _) = command_until_applied(
        &mut va,
        Command::Pause { position: 41.0 },
        Duration::from_secs(5),
    )
    .await;
    wait_revision(&mut vb, rev, t, Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_subscriber_path_is_survived() {
    let redis = PrivateRedis::start(free_port());
    let proxy = Proxy::start(redis.port).await;
    let (_a, _b, mut va, mut vb, _) = room(redis.url(), proxy.url()).await;
    assert_eq!(proxy.cut_subscribers(), 1);
    let cut = Instant::now();
    let (rev, failed) = command_until_applied(
        &mut va,
        Command::Seek { position: 50.0 },
        Duration::from_secs(5),
    )
    .await;
    let took = wait_revision(&mut vb, rev, cut, Duration::from_secs(10)).await;
    println!(
        "FAULT subscriber path cut: converged {:.0} ms after the cut, {failed} failed attempts, 0 lost",
        ms(took)
    );
    assert_eq!(vb.state, va.state);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_with_its_data_keeps_the_room() {
    let mut redis = PrivateRedis::start_persistent(free_port());
    let (_a, _b, mut va, mut vb, _) = room(redis.url(), redis.url()).await;
    let before = va.state.clone();
    let restarted = Instant::now();
    redis.restart(); // kill -9, then start on the same port and append-only file
    let up = restarted.elapsed();
    // The first change after the restart (retried while the instances reconnect) reaches both.
    let (rev, failed) = command_until_applied(
        &mut va,
        Command::Seek { position: 60.0 },
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(rev, before.revision + 1, "the session kept its revisions");
    let took = wait_revision(&mut vb, rev, restarted, Duration::from_secs(12)).await;
    println!(
        "FAULT redis restart with AOF: redis up after {:.0} ms; both viewers converged {:.0} ms after the kill, {failed} failed attempts, 0 lost",
        ms(up),
        ms(took)
    );
    assert_eq!(vb.state, va.state);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_without_its_data_ends_the_session_everywhere() {
    let mut redis = PrivateRedis::start(free_port());
    let (a, b, mut va, mut vb, id) = room(redis.url(), redis.url()).await;
    let restarted = Instant::now();
    redis.restart(); // comes back empty
                     // Every instance notices on its own and closes its viewers with the final code.
    assert_eq!(
        va.closed(Duration::from_secs(10)).await,
        Some(close::SESSION_ENDED)
    );
    let ta = restarted.elapsed();
    assert_eq!(
        vb.closed(Duration::from_secs(10)).await,
        Some(close::SESSION_ENDED)
    );
    let tb = restarted.elapsed();
    println!(
        "FAULT redis restart without data: viewers told 'ended' (4410) after {:.0} ms (A) and {:.0} ms (B)",
        ms(ta),
        ms(tb)
    );
    // No zombie: neither instance serves the session any more; a newcomer gets 404.
    match common::open(&b, id.as_str(), None).await {
        Err(common::ConnectError::Status(404)) => {}
        other => panic!("expected 404, got {:?}", other.map(|_| ())),
    }
    for s in [&a, &b] {
        let deadline = Instant::now() + Duration::from_secs(3);
        while !s.sessions.hubs().is_empty() {
            assert!(Instant::now() < deadline, "a hub outlived its session");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_redis_fails_commands_cleanly_and_the_room_converges_after() {
    let redis = PrivateRedis::start(free_port());
    let (a, _b, mut va, mut vb, id) = room(redis.url(), redis.url()).await;
    let before = va.state.clone();
    redis.freeze(true);
    let frozen = Instant::now();
    // Clock pings need no store: pongs keep flowing.
    let t = Instant::now();
    va.ping(1.0).await;
    vb.ping(1.0).await;
    let pong = t.elapsed();
    assert!(pong < Duration::from_millis(1_500), "pong took {pong:?}");
    // A command during the freeze fails with `unavailable`...
    let t = Instant::now();
    let seq = va.command(Command::Seek { position: 99.0 }).await;
    assert_eq!(va.next_error().await, (ErrorCode::Unavailable, Some(seq)));
    let failed_after = t.elapsed();
    // ...and stays not applied when Redis resumes (its queued script refuses: past deadline).
    tokio::time::sleep(Duration::from_millis(3_000).saturating_sub(frozen.elapsed())).await;
    redis.freeze(false);
    let resumed = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stored = loop {
        match a.sessions.snapshot(&id).await {
            Ok(Some(s)) => break s.state,
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    assert_eq!(
        stored.revision, before.revision,
        "a failed command was applied later"
    );
    assert_eq!(stored.position, before.position);
    // The room converges at once on the next change.
    let t = Instant::now();
    let (rev, retries) = command_until_applied(
        &mut va,
        Command::Pause { position: 12.0 },
        Duration::from_secs(10),
    )
    .await;
    let took = wait_revision(&mut vb, rev, t, Duration::from_secs(10)).await;
    println!(
        "FAULT redis frozen 3 s (SIGSTOP): pong {:.1} ms during the freeze; command failed after {:.0} ms and was not applied; the next change (sent {:.0} ms after SIGCONT) reached both viewers in {:.1} ms ({retries} retries)",
        ms(pong),
        ms(failed_after),
        ms(t.duration_since(resumed)),
        ms(took)
    );
    assert_eq!(vb.state, va.state);
    assert_eq!(va.state.revision, before.revision + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_losing_the_data_while_running_ends_the_session_everywhere() {
    // As after an eviction or a FLUSHALL: no reconnect, the state is simply gone. Every
    // instance notices through its presence refresh (every 10 s) at the latest.
    let redis = PrivateRedis::start(free_port());
    let (_a, _b, mut va, mut vb, _) = room(redis.url(), redis.url()).await;
    let lost = Instant::now();
    assert_eq!(redis.cli(&["FLUSHALL"]), "OK");
    assert_eq!(
        va.closed(Duration::from_secs(15)).await,
        Some(close::SESSION_ENDED)
    );
    let ta = lost.elapsed();
    assert_eq!(
        vb.closed(Duration::from_secs(15)).await,
        Some(close::SESSION_ENDED)
    );
    let tb = lost.elapsed();
    println!(
        "FAULT redis data lost while running (FLUSHALL): viewers told 'ended' (4410) after {:.0} ms (A) and {:.0} ms (B)",
        ms(ta),
        ms(tb)
    );
}

/// The real server binary (`watchparty`) on `port` with Redis at `url`, so it can be killed
/// with SIGKILL like a crashed production instance.
struct Process(std::process::Child);

impl Process {
    fn start(port: u16, url: &str) -> Process {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_watchparty"))
            .env("WATCHPARTY_CONFIG", "/nonexistent/Leptos.toml")
            .env("WATCHPARTY_LISTEN", format!("127.0.0.1:{port}"))
            .env("REDIS_URL", url)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("server binary starts");
        // Owned at once, so the process is killed and reaped on every path (Drop).
        let p = Process(child);
        for _ in 0..500 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return p;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server binary did not listen");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A WebSocket client for a server given by address (the test client wants a `TestServer`).
async fn connect_addr(port: u16, id: &SessionId) -> Client {
    let url = format!("ws://127.0.0.1:{port}/ws/{id}");
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket connects");
    Client::from_stream(ws).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_restarts_and_its_viewers_land_on_the_same_position() {
    let redis = PrivateRedis::start(free_port());
    let a = instance(redis.url()).await;
    let port = free_port();
    let mut b = Process::start(port, &redis.url());
    let id = create(&a, 10.0).await;
    let mut va = Client::connect(&a, &id).await;
    let mut vb = connect_addr(port, &id).await;
    let (rev, _) = command_until_applied(
        &mut va,
        Command::Play { position: 10.0 },
        Duration::from_secs(5),
    )
    .await;
    wait_revision(&mut vb, rev, Instant::now(), Duration::from_secs(5)).await;
    let playing = va.state.clone();
    let first_hello = vb.hello_server_time;
    let first_wall = common::wall_ms();
    // kill -9 mid-session: B's viewer loses its socket at once.
    let killed = Instant::now();
    let _ = b.0.kill();
    let _ = b.0.wait();
    assert!(
        vb.closed(Duration::from_secs(5)).await.is_none(),
        "no close frame from a killed process"
    );
    b = Process::start(port, &redis.url());
    let mut vb = connect_addr(port, &id).await;
    let back = killed.elapsed();
    // The same state (nothing lost or re-ordered) and one continuous timebase: the restarted
    // instance's clock agrees with the elapsed wall time, so the position continues.
    assert_eq!(vb.hello_state, playing);
    let server_elapsed = vb.hello_server_time - first_hello;
    let wall_elapsed = common::wall_ms() - first_wall;
    let jump = (server_elapsed - wall_elapsed).abs();
    assert!(
        jump < 100.0,
        "server time jumped by {jump:.1} ms across the restart"
    );
    let pos = vb.hello_state.position_at(vb.hello_server_time);
    // The room keeps working across both instances.
    let (rev, _) = command_until_applied(
        &mut vb,
        Command::Pause { position: pos },
        Duration::from_secs(5),
    )
    .await;
    wait_revision(&mut va, rev, Instant::now(), Duration::from_secs(5)).await;
    println!(
        "FAULT instance kill -9 + restart: viewer back after {:.0} ms with the same state; the restarted clock (so the position) continues within {:.1} ms",
        ms(back),
        jump
    );
    drop(b);
}

/// Panics raised inside Leptos' reactive runtime (reactive_graph, tachys, leptos) in this test
/// binary since the hook was installed; the hook keeps printing them as before.
fn reactive_panics() -> &'static std::sync::atomic::AtomicUsize {
    use std::sync::atomic::AtomicUsize;
    use std::sync::OnceLock;
    static COUNT: OnceLock<&'static AtomicUsize> = OnceLock::new();
    COUNT.get_or_init(|| {
        let count: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let file = info.location().map(|l| l.file()).unwrap_or_default();
            if ["reactive_graph", "tachys", "leptos"]
                .iter()
                .any(|c| file.contains(c))
            {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            previous(info);
        }));
        count
    })
}

/// Session pages loaded on Redis, 16 at a time and then one at a time, most of them abandoned
/// by the browser at once or a few milliseconds in (a closed tab, a navigation elsewhere, a
/// reload), leave the server's reactive runtime intact. No page is read outside its own arena
/// (the title was read by Leptos' meta injection on whatever thread the request resumed on
/// after a store read: "no Arena is active", CI of stop 20; the first phase finds it), and no
/// abandoned render leaves a task behind that later walks its disposed page (the second phase
/// finds it). Every page that is read to the end is whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_pages_loaded_and_abandoned_concurrently_leave_the_runtime_intact() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let panics = reactive_panics();
    let before = panics.load(std::sync::atomic::Ordering::SeqCst);
    let redis = PrivateRedis::start(free_port());
    let server = instance(redis.url()).await;
    let id = create(&server, 0.0).await;
    let request = format!("GET /s/{id} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\n\r\n");
    let addr = server.addr;
    let mut tasks = Vec::new();
    for worker in 0..16u64 {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut whole = 0;
            for i in 0..25u64 {
                let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
                s.write_all(request.as_bytes()).await.expect("request");
                match (worker + i) % 4 {
                    // Read the page to its end (the last chunk of a chunked body).
                    0 => {
                        let mut page = Vec::new();
                        let mut buf = [0u8; 16 * 1024];
                        while !page.ends_with(b"0\r\n\r\n") {
                            let n = s.read(&mut buf).await.expect("read");
                            assert!(n > 0, "the page ended early");
                            page.extend_from_slice(&buf[..n]);
                        }
                        assert!(page.starts_with(b"HTTP/1.1 200"));
                        whole += 1;
                    }
                    // Abandoned at once, or 1-3 ms in; with a reset or a plain close.
                    k => {
                        tokio::time::sleep(Duration::from_micros((k - 1) * 1_000 + i * 50)).await;
                        if i % 2 == 0 {
                            let _ = s.set_zero_linger();
                        }
                        drop(s);
                    }
                }
            }
            whole
        }));
    }
    let mut whole = 0;
    for t in tasks {
        whole += t.await.expect("client task");
    }
    assert_eq!(whole, 100, "pages read to the end");
    // One browser at a time, each giving up 0 to 4.5 ms in, with a reset or a plain close.
    for i in 0..300u64 {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(request.as_bytes()).await.expect("request");
        tokio::time::sleep(Duration::from_micros(i % 10 * 500)).await;
        if i % 2 == 0 {
            let _ = s.set_zero_linger();
        }
        drop(s);
    }
    // Whatever the abandoned renders left waiting has had time to run.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        panics.load(std::sync::atomic::Ordering::SeqCst) - before,
        0,
        "the reactive runtime panicked (see the output above)"
    );
}
