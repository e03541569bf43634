//! [`account`] on made-up outcomes: every kind of failure, and the printed table's text
//! pinned byte for byte.

use super::*;
use crate::stats::Receipts;
use watchparty_core::ids::SessionId;

/// The configuration of `loadtest ARGS`.
fn config(args: &str) -> Config {
    let args = std::iter::once("loadtest").chain(args.split_whitespace());
    crate::cli::parse(args.map(String::from)).unwrap()
}

/// Session `index` whose sender sent at these µs (`None`: not sent).
fn session(index: usize, sent: &[Option<u64>]) -> Arc<SessionShared> {
    let id = SessionId::parse("abcDEF012345").unwrap();
    let s = SessionShared::new(id, index, sent.len() as u32);
    for (slot, t) in s.sent.iter().zip(sent) {
        if let Some(t) = t {
            slot.store(t + 1, Relaxed);
        }
    }
    Arc::new(s)
}

/// A viewer of server `url` and session `session` that received these
/// (seq, revision, at µs), in order.
fn viewer(url: usize, session: usize, connect_us: Option<u64>, got: &[(u32, u64, u64)]) -> Outcome {
    let mut receipts = Receipts::new(3);
    for &(seq, revision, at) in got {
        receipts.record(seq, revision, at);
    }
    Outcome {
        url,
        session,
        connect_us,
        receipts,
        ..Outcome::default()
    }
}

/// A viewer that failed to connect (and, to test the sample limits, also names a drop).
fn refused(why: &str, dropped: Option<String>) -> Outcome {
    Outcome {
        connect_error: Some(why.into()),
        disconnect: dropped,
        ..viewer(0, 0, None, &[])
    }
}

/// Two servers, two sessions, with every kind of trouble.
fn troubled_outcomes() -> Vec<Outcome> {
    let mut sender0 = viewer(0, 0, Some(100), &[(1, 1, 1500), (2, 2, 2600), (3, 3, 3100)]);
    (sender0.sender, sender0.pings_us, sender0.send_lag_max_us) = (true, vec![10, 20], 50);
    (
        sender0.roster_msgs,
        sender0.roster_bytes,
        sender0.statuses_sent,
    ) = (3, 300, 2);
    // Misses command 2, receives command 1 twice, an error, then drops.
    let mut dropped = viewer(1, 0, Some(200), &[(1, 1, 1700), (3, 3, 3900), (1, 1, 1800)]);
    (dropped.errors, dropped.error_count) = (vec!["e1".into()], 1);
    dropped.disconnect = Some("read: x".into());
    // Receives a command never sent.
    let mut sender1 = viewer(0, 1, Some(150), &[(1, 5, 5200), (2, 6, 6300), (9, 7, 7000)]);
    (sender1.sender, sender1.pings_us, sender1.send_lag_max_us) = (true, vec![5], 80);
    let mut noisy = viewer(1, 1, Some(300), &[(1, 5, 5400), (2, 6, 6100)]);
    noisy.bad_messages = 2;
    (noisy.roster_msgs, noisy.roster_bytes, noisy.statuses_sent) = (5, 500, 3);
    (noisy.errors, noisy.error_count) = (vec!["e2".into(), "e3".into()], 7);
    let mut outcomes = vec![
        sender0,
        dropped,
        sender1,
        noisy,
        refused("tcp: refused", None),
        // Misses command 1.
        viewer(0, 1, Some(120), &[(2, 6, 6050)]),
        // Of no session: connected, counted per server, not in the fan-out.
        viewer(1, 5, Some(130), &[(1, 1, 1)]),
    ];
    // More errors and drops than the report keeps.
    outcomes.extend((0..6).map(|i| refused(&format!("err {i}"), Some(format!("d{i}")))));
    outcomes
}

/// Whole-run measurements with these CPU seconds of the servers and the load generator.
fn measured(rss: [Vec<Option<u64>>; 2], servers_s: Vec<Option<f64>>, own: Option<f64>) -> Measured {
    let [rss_before, rss_after] = rss;
    Measured {
        connect_wall: Duration::from_millis(1500),
        rss_before,
        rss_after,
        cpu: CpuReport {
            window_s: 3.25,
            cores: 2,
            servers_s,
            loadtest_s: own,
            machine_busy_s: Some(1.5),
            others_s: Some(0.75),
        },
        elapsed: Duration::from_millis(12250),
    }
}

#[test]
fn accounts_every_failure_and_pins_the_table() {
    let cfg = config(
        "--url http://127.0.0.1:1 --url http://127.0.0.1:2 --scenario split --viewers 7 \
         --sessions 2 --commands 3 --interval-ms 100 --server-pid 11 --server-pid 22",
    );
    let sessions = [
        session(0, &[Some(1000), Some(2000), Some(3000)]),
        session(1, &[Some(5000), Some(6000), None]),
    ];
    let counters = Counters::default();
    counters.received.store(9, Relaxed);
    let rss = [vec![Some(1000), None], vec![Some(3000), Some(10)]];
    let m = measured(rss, vec![Some(0.5), None], Some(0.25));
    let r = account(&cfg, &sessions, troubled_outcomes(), &counters, m);
    assert_eq!(
        r.failures,
        [
            "7 connections failed",
            "7 connections dropped",
            "2 broadcasts lost",
            "1 broadcasts duplicated",
            "1 unexpected or out-of-order broadcasts",
            "8 server errors",
            "2 messages not understood",
            "only 5 of 6 commands were sent",
        ]
    );
    assert!(!r.passed);
    assert_eq!((r.connected, r.received, r.echo.count), (6, 9, 5));
    let per_connection = r.memory[0].per_connection_bytes;
    assert_eq!(per_connection, Some(2000.0 * 1024.0 / 3.0));
    assert_eq!(r.table(), TABLE_A);
}

#[test]
fn a_clean_run_passes() {
    let cfg = config("--url http://127.0.0.1:1 --viewers 2 --commands 2 --interval-ms 100");
    let sessions = [session(0, &[Some(1000), Some(2000)])];
    let mut sender = viewer(0, 0, Some(40), &[(1, 1, 1100), (2, 2, 2100)]);
    sender.sender = true;
    let outcomes = vec![
        sender,
        viewer(0, 0, Some(60), &[(1, 1, 1300), (2, 2, 2050)]),
    ];
    let counters = Counters::default();
    counters.received.store(4, Relaxed);
    let r = account(
        &cfg,
        &sessions,
        outcomes,
        &counters,
        measured(Default::default(), vec![], None),
    );
    assert!(r.passed, "{:?}", r.failures);
    assert_eq!(r.table(), TABLE_B);
}

const TABLE_A: &str = r#"scenario Split: 7 viewers in 2 session(s) on 2 server(s), 3 commands/session every 100 ms
  connected 6/7 (failed 7) in 1.5 s at 1000/s; run took 12.2 s
  latency (ms)                           count       p50       p99       max
  connect (tcp -> hello)                     6      0.13      0.30      0.30
  fan-out: last viewer per command           3      0.70      0.90      0.90
  fan-out: every delivery                   10      0.30      0.90      0.90
  command -> own echo (sender)               5      0.30      0.60      0.60
who is here: 5 status reports sent; 8 roster messages received (1.3 per viewer, at most 5), 800 bytes (133 per viewer)
  ping -> pong                               3      0.01      0.02      0.02
  last viewer on http://127.0.0.1:1          4      0.30      0.60      0.60
  last viewer on http://127.0.0.1:2          4      0.40      0.90      0.90
  commands sent 5, deliveries 10, lost 2, duplicated 1, unexpected 1, dropped 7, server errors 8
  http://127.0.0.1:1: 3 viewers, 6 deliveries, 1 lost
  http://127.0.0.1:2: 3 viewers, 4 deliveries, 1 lost
  server pid 11 (http://127.0.0.1:1): VmRSS 1000 -> 3000 KiB over 3 connections = 682.7 KB per connection
  server pid 22 (http://127.0.0.1:2): VmRSS - -> 10 KiB over 3 connections = - per connection
  cpu over the 3.2 s command phase (2 cores): server(s) 0.50 + - s, load generator 0.25 s, other processes 0.75 s
  cpu per delivery: server 50000.0 us, load generator 25000.0 us
  load generator send lag max 0.08 ms
  ! tcp: refused
  ! err 0
  ! err 1
  ! err 2
  ! err 3
  ! read: x
  ! d0
  ! d1
  ! d2
  ! d3
  ! e1
  ! e2
  ! e3
RESULT: FAIL (7 connections failed; 7 connections dropped; 2 broadcasts lost; 1 broadcasts duplicated; 1 unexpected or out-of-order broadcasts; 8 server errors; 2 messages not understood; only 5 of 6 commands were sent)
"#;

const TABLE_B: &str = r#"scenario OneSession: 2 viewers in 1 session(s) on 1 server(s), 2 commands/session every 100 ms
  connected 2/2 (failed 0) in 1.5 s at 1000/s; run took 12.2 s
  latency (ms)                           count       p50       p99       max
  connect (tcp -> hello)                     2      0.04      0.06      0.06
  fan-out: last viewer per command           2      0.10      0.30      0.30
  fan-out: every delivery                    4      0.10      0.30      0.30
  command -> own echo (sender)               2      0.10      0.10      0.10
  commands sent 2, deliveries 4, lost 0, duplicated 0, unexpected 0, dropped 0, server errors 0
  cpu over the 3.2 s command phase (2 cores): server(s) - s, load generator - s, other processes 0.75 s
  load generator send lag max 0.00 ms
RESULT: PASS
"#;
