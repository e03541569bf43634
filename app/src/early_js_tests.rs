//! `early.js` (the page script that makes the embed and joins the room before the wasm loads)
//! against Rust: its config is the Rust constants ([`crate::early::config`]), it has no copies
//! of them, and its join math gives the engine's answers on the same inputs (run in Node by
//! `app/tests/early_math.mjs`).

use crate::early::{self, CONFIG_ID, HOST_FRAGMENT, HOST_STORAGE_PREFIX, KEY_BYTES, KEY_STORAGE};
use crate::ids::{SessionId, VideoId};
use crate::playback::PlaybackState;
use crate::protocol::ServerMsg;
use crate::sync::{Action, ClockEstimator, ClockSample, Engine, PlayerState, Reading};
use serde_json::{json, Value};

const SCRIPT: &str = include_str!("early.js");

fn session() -> SessionId {
    SessionId::parse("AbC123xYz789").expect("a session id")
}

fn config() -> Value {
    serde_json::from_str(&early::config(&session())).expect("the config is JSON")
}

#[test]
fn the_rendered_config_is_the_rust_constants() {
    use crate::sync as engine;
    use watchparty_core::rights::{is_valid_key, KEY_MAX_LEN, KEY_MIN_LEN};
    let c = config();
    let expected = json!({
        "session": "AbC123xYz789",
        "playerVars": [["enablejsapi", 1], ["controls", 1], ["playsinline", 1], ["rel", 0]],
        "wsPath": crate::protocol::WS_PATH,
        "subprotocol": crate::protocol::SUBPROTOCOL,
        "keyProtocolPrefix": crate::protocol::KEY_PROTOCOL_PREFIX,
        "keyPattern": format!("^[A-Za-z0-9_-]{{{KEY_MIN_LEN},{KEY_MAX_LEN}}}$"),
        "keyBytes": KEY_BYTES,
        "keyStorage": KEY_STORAGE,
        "hostStoragePrefix": HOST_STORAGE_PREFIX,
        "hostFragment": HOST_FRAGMENT,
        "pingBurst": engine::PING_BURST,
        "pingGapMs": engine::PING_BURST_GAP_MS,
        "clockWindow": engine::CLOCK_WINDOW,
        "clockBest": engine::CLOCK_BEST,
        "rttRoundingMs": engine::RTT_ROUNDING_MS,
        "seekLead": engine::INITIAL_SEEK_LATENCY,
        "endMargin": engine::END_EPSILON,
        "maxPosition": crate::video::MAX_POSITION,
    });
    assert_eq!(c, expected);
    // The player variables in `video::PLAYER_VARS`' order.
    let vars: Vec<(String, u64)> = serde_json::from_value(c["playerVars"].clone()).expect("pairs");
    let rust: Vec<(String, u64)> = crate::video::PLAYER_VARS
        .iter()
        .map(|(k, v)| ((*k).to_owned(), u64::from(*v)))
        .collect();
    assert_eq!(vars, rust);
    // The values the server and the app use, spelled as they use them.
    assert_eq!(c["subprotocol"], "wp1");
    assert_eq!(c["keyStorage"], "wp.key");
    // A key the script generates is one the server takes.
    assert!(is_valid_key(&"0f".repeat(KEY_BYTES)));
    // Nothing in it can end the `<script>` element it is rendered into.
    assert!(!early::config(&session()).contains('<'));
}

#[test]
fn the_script_reads_every_shared_value_from_the_config_and_has_no_copy() {
    assert!(
        SCRIPT.contains(&format!("document.getElementById('{CONFIG_ID}')")),
        "early.js does not read its config from #{CONFIG_ID}"
    );
    // Every value of the config is read (`C.name`), and nothing else is read from it.
    let c = config();
    let keys: Vec<&String> = c.as_object().expect("an object").keys().collect();
    for key in &keys {
        assert!(
            SCRIPT.contains(&format!("C.{key}")),
            "early.js does not use the config's `{key}`"
        );
    }
    let mut rest = SCRIPT;
    while let Some(at) = rest.find("C.") {
        let before = SCRIPT.len() - rest.len() + at;
        rest = &rest[at + 2..];
        if before > 0 && SCRIPT.as_bytes()[before - 1].is_ascii_alphanumeric() {
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        assert!(
            keys.iter().any(|k| **k == name),
            "early.js reads `C.{name}`, which the config does not have"
        );
    }
    // The copies it used to hold (issue 26): the values now come from the config only.
    for literal in [
        "'wp1'",
        "'k.'",
        "'wp.key'",
        "'wp.host.'",
        "#host=",
        "'/ws/'",
        "{16,64}",
        "A-Za-z0-9",
        "enablejsapi",
        "playsinline",
        "rel: 0",
        "0.2 *",
        "0.05",
        ">= 8",
        "ping, 100",
        "slice(0, 3)",
        "Uint8Array(16)",
        ">= -1",
        "Infinity",
    ] {
        assert!(
            !SCRIPT.contains(literal),
            "early.js holds its own copy `{literal}`: take it from the config (app/src/early.rs)"
        );
    }
}

/// A small deterministic generator for the cases below.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// In `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + self.unit() * (hi - lo)
    }
    /// An integer in `[lo, hi]`, as f64.
    fn int(&mut self, lo: u64, hi: u64) -> f64 {
        (lo + self.next() % (hi - lo + 1)) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

type Pong = [f64; 4];

/// Pongs of a burst from client time `c0` with the server `skew` ahead; some made
/// inconsistent (out of order, a round trip far below zero) or just below zero (rounding).
fn pongs(rng: &mut Rng, c0: f64, skew: f64, n: usize) -> Vec<Pong> {
    // Whole milliseconds make equal round trips common (of which the older sample counts).
    let whole = rng.chance(0.5);
    let (c0, skew) = if whole {
        (c0.round(), skew.round())
    } else {
        (c0, skew)
    };
    (0..n)
        .map(|k| {
            let jitter = if whole {
                rng.int(0, 3)
            } else {
                rng.range(0.0, 3.0)
            };
            let t0 = c0 + 100.0 * k as f64 + jitter;
            let (up, down, proc_ms) = if whole {
                (rng.int(1, 4), rng.int(1, 4), rng.int(0, 2))
            } else {
                (
                    rng.range(0.5, 150.0),
                    rng.range(0.5, 150.0),
                    rng.range(0.0, 5.0),
                )
            };
            let t1 = t0 + up + skew;
            let t2 = t1 + proc_ms;
            let t3 = t2 - skew + down;
            match rng.next() % 12 {
                0 => [t0, t1, t2, t0 - rng.range(0.1, 50.0)], // received before sent
                1 => [t0, t2, t1 - 1.0, t3],                  // server sent before it received
                2 => [t0, t1, t1 + (t3 - t0) + rng.range(1.01, 20.0), t3], // rtt < -1
                3 => [t0, t1, t1 + (t3 - t0) + rng.range(0.0, 0.99), t3], // rounding: rtt 0
                4 if k == 0 => [f64::NAN, t1, t2, t3],
                _ => [t0, t1, t2, t3],
            }
        })
        .collect()
}

fn video() -> VideoId {
    VideoId::parse("dQw4w9WgXcQ").expect("a video id")
}

/// A room state around server time `server_now`: playing or paused, at various rates, with or
/// without a duration (some at or near their end, some far along a week-long stream).
fn room(rng: &mut Rng, server_now: f64) -> PlaybackState {
    let position = if rng.chance(0.05) {
        crate::video::MAX_POSITION - rng.range(0.0, 2.0)
    } else {
        rng.range(1.0, 3_000.0)
    };
    let mut s = PlaybackState::new(video(), position, server_now - rng.range(-500.0, 600_000.0));
    s.playing = rng.chance(0.8);
    s.rate = [0.25, 0.5, 1.0, 1.0, 1.25, 1.5, 2.0][(rng.next() % 7) as usize];
    s.revision = 1 + rng.next() % 50;
    s.duration = if rng.chance(0.3) {
        None
    } else if rng.chance(0.3) {
        // At or near the end now.
        let elapsed = if s.playing {
            ((server_now - s.updated_at) / 1000.0).max(0.0) * s.rate
        } else {
            0.0
        };
        Some((s.position + elapsed + rng.range(-1.0, 0.3)).max(0.0))
    } else {
        Some(s.position + rng.range(0.0, 30_000.0))
    };
    s
}

fn hello(state: PlaybackState, server_time: f64) -> ServerMsg {
    ServerMsg::Hello {
        conn_id: 1,
        session_id: session(),
        server_time,
        state,
        viewers: 1,
        kid: None,
    }
}

/// Non-finite timestamps go to Node as null.
fn pong_json(p: &Pong) -> Value {
    json!(p
        .iter()
        .map(|t| if t.is_finite() { json!(t) } else { Value::Null })
        .collect::<Vec<_>>())
}

/// Runs `app/tests/early_math.mjs` with `input` on stdin; its answers.
fn node(input: &Value) -> Value {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let harness = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/early_math.mjs");
    let mut child = match Command::new("node")
        .arg(harness)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => panic!(
            "cannot run `node` ({e}): this test runs early.js's join math in Node; install Node \
             (scripts/setup.sh does)"
        ),
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.to_string().as_bytes())
            .expect("write to node");
    }
    let out = child.wait_with_output().expect("node ran");
    assert!(
        out.status.success(),
        "{harness} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("node answers JSON")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

#[test]
fn the_scripts_join_math_gives_the_engines_answers() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Client clocks as the page has them (performance.timeOrigin + now: ms since the epoch).
    let epoch = 1_765_000_000_000.0;

    // Keys: rights::is_valid_key.
    let mut keys: Vec<String> = vec![
        String::new(),
        "short".into(),
        "a".repeat(15),
        "a".repeat(16),
        "Az09_-".repeat(5),
        "z".repeat(64),
        "z".repeat(65),
        format!("{}\n", "a".repeat(16)),
        format!("{} ", "a".repeat(16)),
        "abcdefABCDEF0123 <>".into(),
        "abcdefABCDEF0123.x".into(),
        "é".repeat(16),
        "0f".repeat(KEY_BYTES),
    ];
    keys.extend((0..40).map(|_| {
        let len = rng.next() % 70;
        (0..len)
            .map(|_| b"AZaz09_-.+/= "[(rng.next() % 13) as usize] as char)
            .collect()
    }));

    // Single samples and estimates over bursts (some longer than the estimator's window).
    let mut samples: Vec<Pong> = Vec::new();
    let mut bursts: Vec<Vec<Pong>> = vec![Vec::new()];
    for _ in 0..60 {
        let c0 = epoch + rng.range(0.0, 1e7);
        let skew = rng.range(-5_000.0, 5_000.0);
        let n = 1 + (rng.next() % 24) as usize;
        let burst = pongs(&mut rng, c0, skew, n);
        samples.extend(burst.iter().copied());
        bursts.push(burst);
    }

    // Positions: PlaybackState::position_at.
    let positions: Vec<(PlaybackState, f64)> = (0..200)
        .map(|_| {
            let now = epoch + rng.range(0.0, 1e7);
            (room(&mut rng, now), now + rng.range(-1_000.0, 1_000.0))
        })
        .collect();

    // Joins: a page that got `hello`, a burst of pongs, and a player ready at `now`.
    struct Join {
        state: PlaybackState,
        pongs: Vec<Pong>,
        now: f64,
    }
    let joins: Vec<Join> = (0..300)
        .map(|_| {
            let c0 = epoch + rng.range(0.0, 1e7);
            let skew = rng.range(-5_000.0, 5_000.0);
            let n = 1 + (rng.next() % 8) as usize;
            let pongs = pongs(&mut rng, c0, skew, n);
            let now = c0 + 100.0 * n as f64 + rng.range(0.0, 800.0);
            Join {
                state: room(&mut rng, now + skew),
                pongs,
                now,
            }
        })
        .collect();

    let input = json!({
        "config": early::config(&session()),
        "keys": keys,
        "samples": samples.iter().map(pong_json).collect::<Vec<_>>(),
        "offsets": bursts.iter().map(|b| b.iter().map(pong_json).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "positions": positions.iter().map(|(s, now)| json!([s, now])).collect::<Vec<_>>(),
        "joins": joins.iter().map(|j| json!({
            "state": j.state,
            "pongs": j.pongs.iter().map(pong_json).collect::<Vec<_>>(),
            "now": j.now,
        })).collect::<Vec<_>>(),
    });
    let out = node(&input);

    for (k, js) in keys.iter().zip(out["keys"].as_array().expect("keys")) {
        assert_eq!(
            js.as_bool(),
            Some(watchparty_core::rights::is_valid_key(k)),
            "key {k:?}"
        );
    }

    let mut rejected = 0;
    for (p, js) in samples
        .iter()
        .zip(out["samples"].as_array().expect("samples"))
    {
        match ClockSample::from_timestamps(p[0], p[1], p[2], p[3]) {
            None => {
                rejected += 1;
                assert!(
                    js.is_null(),
                    "{p:?}: early.js took {js}, the engine rejects it"
                );
            }
            Some(s) => {
                let (o, r) = (num(&js["offset"]), num(&js["rtt"]));
                assert!(
                    o.is_some_and(|o| close(o, s.offset)) && r.is_some_and(|r| close(r, s.rtt)),
                    "{p:?}: early.js {js}, the engine {s:?}"
                );
            }
        }
    }
    assert!(
        rejected > 20,
        "too few inconsistent samples tried: {rejected}"
    );

    for (burst, js) in bursts
        .iter()
        .zip(out["offsets"].as_array().expect("offsets"))
    {
        let mut clock = ClockEstimator::new();
        for p in burst {
            clock.add(p[0], p[1], p[2], p[3]);
        }
        match clock.estimate() {
            None => assert!(js.is_null(), "{burst:?}: early.js {js}, the engine none"),
            Some(e) => assert!(
                num(js).is_some_and(|o| close(o, e.offset)),
                "{burst:?}: early.js {js}, the engine {}",
                e.offset
            ),
        }
    }

    for ((s, now), js) in positions
        .iter()
        .zip(out["positions"].as_array().expect("positions"))
    {
        let rust = s.position_at(*now);
        assert!(
            num(js).is_some_and(|p| close(p, rust)),
            "{s:?} at {now}: early.js {js}, the engine {rust}"
        );
    }

    let (mut played, mut ended, mut paused) = (0, 0, 0);
    for (j, js) in joins.iter().zip(out["joins"].as_array().expect("joins")) {
        let mut e = Engine::new(Some(j.state.clone()));
        let first = j.pongs.first().map_or(j.now, |p| p[0]);
        let first = if first.is_finite() { first } else { j.now };
        e.on_message(first - 1.0, hello(j.state.clone(), first), None);
        for p in &j.pongs {
            e.on_message(
                p[3],
                ServerMsg::Pong {
                    t0: p[0],
                    t1: p[1],
                    t2: p[2],
                },
                None,
            );
        }
        let what = format!(
            "{:?} pongs {:?} at {}: early.js {js}",
            j.state, j.pongs, j.now
        );
        let Some(estimate) = e.clock().estimate() else {
            // No measured clock: the page waits (the engine would go by hello's coarse seed).
            assert!(js["offset"].is_null() && js["join"].is_null(), "{what}");
            continue;
        };
        assert!(
            num(&js["offset"]).is_some_and(|o| close(o, estimate.offset)),
            "{what}, the engine's offset {}",
            estimate.offset
        );
        // The player is ready and cued (the engine's `apply_state` for a player not playing).
        let cued = Reading {
            at: j.now,
            state: PlayerState::Cued,
            position: 0.0,
            rate: 1.0,
            duration: 0.0,
        };
        let actions = e.on_player_ready(j.now, &[0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0], Some(cued));
        let seek = actions.iter().find_map(|a| match a {
            Action::Seek(to) => Some(*to),
            _ => None,
        });
        let plays = actions.contains(&Action::Play);
        let join = &js["join"];
        if j.state.playing && join.is_null() {
            // The end of the video: the page leaves it to the app; the engine does not play.
            ended += 1;
            assert!(!plays, "{what}, the engine plays: {actions:?}");
            continue;
        }
        assert_eq!(
            join["play"].as_bool(),
            Some(plays),
            "{what}, the engine {actions:?}"
        );
        if plays {
            played += 1;
        } else {
            paused += 1;
        }
        assert!(
            num(&join["seek"]).is_some_and(|to| seek.is_some_and(|s| close(to, s))),
            "{what}, the engine {actions:?}"
        );
    }
    assert!(
        played > 100 && ended > 10 && paused > 20,
        "cases: {played} played, {ended} at the end, {paused} paused"
    );
}
