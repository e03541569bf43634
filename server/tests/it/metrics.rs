//! `GET /metrics`: after real traffic (page views, viewers, commands of every outcome, health
//! reports, a 4008 close) the Prometheus series move; labels stay bounded (route templates,
//! never raw URLs or session ids). Runs on the memory store and on Redis (`$REDIS_URL`).

use crate::common;

use crate::common::{create, settings, spawn, spawn_with, Client, Store};
use std::time::Duration;
use watchparty_core::playback::Command;
use watchparty_core::protocol::{ClientMsg, ErrorCode};

async fn scrape(url: String) -> String {
    let resp = reqwest::get(url).await.expect("GET /metrics");
    assert_eq!(resp.status().as_u16(), 200);
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    resp.text().await.expect("body")
}

/// The value of the sample line starting with `series ` (0 when absent).
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

async fn series_move_after_traffic(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 10.0).await;
    let before = scrape(server.http_url("/metrics")).await;
    assert_eq!(value(&before, "watchparty_connections"), 0.0);

    // Page views: one matched route, one unknown path.
    let page = reqwest::get(server.http_url(&format!("/s/{id}")))
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let missing = reqwest::get(server.http_url("/no/such/page/123"))
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);

    let mut a = Client::connect(&server, &id).await;
    let mut b = Client::connect(&server, &id).await;
    // Applied, then stale (b's base is old), then invalid.
    a.command(Command::Play { position: 10.0 }).await;
    a.next_state().await;
    b.next_state().await;
    b.command_on(1, Command::Pause { position: 11.0 }).await;
    assert_eq!(b.next_error().await.0, ErrorCode::Stale);
    a.command(Command::Rate { rate: 99.0 }).await;
    assert_eq!(a.next_error().await.0, ErrorCode::InvalidValue);
    // Health: the first report counts, the second within 5 s is dropped.
    a.send(&ClientMsg::Health { error_ms: 12.5 }).await;
    a.send(&ClientMsg::Health { error_ms: 9.0 }).await;
    b.send(&ClientMsg::Health { error_ms: -250.0 }).await;
    // A round trip makes sure the reports were read.
    a.ping(0.0).await;
    b.ping(0.0).await;

    let text = scrape(server.http_url("/metrics")).await;
    assert_eq!(value(&text, "watchparty_connections"), 2.0, "{text}");
    assert_eq!(value(&text, "watchparty_hubs"), 1.0);
    let cmd = |kind: &str, outcome: &str| {
        value(
            &text,
            &format!("watchparty_commands_total{{kind=\"{kind}\",outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(cmd("play", "applied"), 1.0, "{text}");
    assert_eq!(cmd("pause", "stale"), 1.0);
    assert_eq!(cmd("rate", "invalid"), 1.0);
    assert_eq!(
        value(&text, "watchparty_client_sync_error_seconds_count"),
        2.0
    );
    assert_eq!(value(&text, "watchparty_client_reports_dropped_total"), 1.0);
    // Sum of |12.5 ms| and |-250 ms|.
    let sum = value(&text, "watchparty_client_sync_error_seconds_sum");
    assert!((sum - 0.2625).abs() < 1e-9, "{sum}");
    assert!(
        text.contains(
            "watchparty_http_requests_total{route=\"/s/:id\",method=\"GET\",status=\"200\"} 1"
        ) || text.contains(
            "watchparty_http_requests_total{route=\"/s/{id}\",method=\"GET\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "watchparty_http_requests_total{route=\"fallback\",method=\"GET\",status=\"404\"} 1"
        ),
        "{text}"
    );
    // Never a raw URL or a session id in a label.
    assert!(!text.contains(id.as_str()));
    assert!(!text.contains("/no/such/page"));
    assert!(value(&text, "watchparty_fanout_seconds_count") >= 0.0);
    assert!(text.contains("watchparty_clock_offset_seconds"));
    if store == Store::Redis {
        assert!(
            value(&text, "watchparty_redis_seconds_count{op=\"cas\"}") >= 1.0,
            "{text}"
        );
        assert!(value(&text, "watchparty_redis_seconds_count{op=\"load\"}") >= 1.0);
    }
    drop(a);
    drop(b);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_series_move_after_traffic() {
    series_move_after_traffic(Store::Memory).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_series_move_after_traffic() {
    series_move_after_traffic(Store::Redis).await
}

/// A viewer that reads nothing (tiny receive window) stalls: its 4008 close is counted, and
/// the fan-out histogram has the other viewer's deliveries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_viewer_close_4008_is_counted() {
    let mut s = settings(Store::Memory);
    s.commands_per_sec = 1e6;
    s.command_burst = 1_000_000;
    let server = spawn_with(s).await;
    let id = create(&server, 0.0).await;
    let _slow = common::never_reading_viewer(&server, &id).await;
    // Sampled viewers (conn id divisible by the sample) observe the fan-out; open enough.
    let mut driver = Client::connect(&server, &id).await;
    let start = std::time::Instant::now();
    let mut k = 0u32;
    while server.sessions.connections() > 1 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "slow viewer kept"
        );
        k += 1;
        driver
            .command(Command::Seek {
                position: f64::from(k % 100_000) + 1.0,
            })
            .await;
        driver.next_state().await;
    }
    let text = scrape(server.http_url("/metrics")).await;
    let closes = value(&text, "watchparty_ws_closes_total{code=\"4008\"}");
    let overflows = value(&text, "watchparty_send_queue_overflows_total");
    assert_eq!(closes, 1.0, "{text}");
    assert!(overflows <= closes);
    assert_eq!(value(&text, "watchparty_connections"), 1.0);
    server.stop().await;
}

/// A viewer whose socket takes nothing for 5 s is closed with 4008 even while its queue has
/// room: the connection's stall timer (which shares one timer with the heartbeat), not the
/// queue's limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_viewer_is_closed_by_its_stall_timer() {
    let mut s = settings(Store::Memory);
    s.commands_per_sec = 1e6;
    s.command_burst = 1_000_000;
    // The queue never overflows, and the heartbeat cannot close it first.
    s.send_queue = 1_000_000;
    s.heartbeat_secs = 60;
    s.heartbeat_timeout_secs = 120;
    let server = spawn_with(s).await;
    let id = create(&server, 0.0).await;
    let _slow = common::never_reading_viewer(&server, &id).await;
    let mut driver = Client::connect(&server, &id).await;
    // A burst more than its socket takes, then nothing: the rest waits in its queue, and the
    // socket takes none of it. The kernel's send buffer grows up to `tcp_wmem`'s maximum (4 MB
    // by default) before it refuses; each frame here is about 290 bytes.
    let wmem_max: u64 = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|t| t.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(4 << 20);
    let burst = u32::try_from(wmem_max * 3 / 2 / 250).unwrap_or(u32::MAX);
    let start = std::time::Instant::now();
    for k in 0..burst {
        driver
            .command(Command::Seek {
                position: f64::from(k) + 1.0,
            })
            .await;
        driver.next_state().await;
    }
    let burst_end = std::time::Instant::now();
    while server.sessions.connections() > 1 {
        assert!(
            burst_end.elapsed() < Duration::from_secs(20),
            "stalled viewer kept"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // 5 s without progress closed it (a 4008 with no overflow: not the queue's limit).
    let after = start.elapsed();
    assert!(after >= Duration::from_secs(5), "closed after {after:?}");
    let text = scrape(server.http_url("/metrics")).await;
    assert_eq!(
        value(&text, "watchparty_ws_closes_total{code=\"4008\"}"),
        1.0,
        "{text}"
    );
    assert!(
        text.contains("\nwatchparty_send_queue_overflows_total 0"),
        "{text}"
    );
    server.stop().await;
}

/// With `metrics_listen` the metrics move to their own address and leave the main one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_have_their_own_listener() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut s = settings(Store::Memory);
    s.metrics_listen = Some(format!("127.0.0.1:{port}").parse().unwrap());
    let server = spawn_with(s).await;
    let text = scrape(format!("http://127.0.0.1:{port}/metrics")).await;
    assert!(text.contains("watchparty_connections"));
    let main = reqwest::get(server.http_url("/metrics")).await.unwrap();
    assert_eq!(main.status().as_u16(), 404);
    server.stop().await;
}
