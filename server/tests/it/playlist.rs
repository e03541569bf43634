//! Playlist import over real sockets (issue 28): the queue's `import` edit appends in order up
//! to `max_queue_len` and tells the importer the exact counts in the echo of its import;
//! concurrent imports and adds all survive (on Redis through two instances, so the store's
//! compare-and-set really conflicts); bad imports are refused with nothing changed. Every body
//! runs against the memory store and a real Redis.

use crate::common;

use crate::common::{create, spawn, Client, Store};
use std::time::Duration;
use watchparty_core::ids::VideoId;
use watchparty_core::playback::PlaybackState;
use watchparty_core::protocol::{close, ClientMsg, ErrorCode, ServerMsg};
use watchparty_core::queue::{Imported, QueueEdit};

use crate::common::on_both_stores;

on_both_stores!(
    an_import_fills_up_to_the_cap_and_reports_left_out,
    concurrent_imports_and_an_add_all_survive,
    bad_imports_are_refused_and_change_nothing,
);

/// Distinct test ids: `tag` (one letter) and a number.
fn vid(tag: char, i: usize) -> VideoId {
    VideoId::parse(&format!("{tag}{i:010}")).expect("valid id")
}

fn import(seq: u32, ids: Vec<VideoId>) -> ClientMsg {
    ClientMsg::Queue {
        seq,
        edit: QueueEdit::Import { video_ids: ids },
    }
}

fn videos(s: &PlaybackState) -> Vec<VideoId> {
    s.queue.items.iter().map(|i| i.video_id).collect()
}

/// The state `c` caused with `seq` (its own echo) among `msgs`.
fn echo(c: &Client, msgs: &[ServerMsg], seq: u32) -> PlaybackState {
    msgs.iter()
        .find_map(|m| match m {
            ServerMsg::State {
                state,
                cause: Some(cause),
            } if cause.conn_id == c.conn_id && cause.seq == seq => Some(state.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no echo of {seq}: {msgs:?}"))
}

async fn an_import_fills_up_to_the_cap_and_reports_left_out(store: Store) {
    let mut settings = common::settings(store);
    settings.max_queue_len = 6;
    let server = common::spawn_with(settings).await;
    let id = create(&server, 0.0).await;
    let mut a = Client::connect(&server, &id).await;
    let mut b = Client::connect(&server, &id).await;
    a.send(&ClientMsg::Queue {
        seq: 1,
        edit: QueueEdit::Add {
            video_id: vid('z', 0),
            start: 0.0,
        },
    })
    .await;
    a.next_state().await;
    let first: Vec<_> = (0..3).map(|i| vid('a', i)).collect();
    a.send(&import(2, first.clone())).await;
    let (s, cause) = a.next_state().await;
    assert_eq!(cause.map(|c| c.seq), Some(2));
    assert_eq!(videos(&s)[1..], first[..]);
    assert_eq!(
        s.queue.imported,
        Some(Imported {
            added: 3,
            left_out: 0
        })
    );
    // Five more into two free places: the first two, in order; three left out.
    let second: Vec<_> = (0..5).map(|i| vid('b', i)).collect();
    a.send(&import(3, second.clone())).await;
    let (s, _) = a.next_state().await;
    assert_eq!(videos(&s).len(), 6);
    assert_eq!(videos(&s)[4..], second[..2]);
    assert_eq!(
        s.queue.imported,
        Some(Imported {
            added: 2,
            left_out: 3
        })
    );
    // The other viewer sees the same queue.
    let mb = b.drain(Duration::from_millis(300)).await;
    let last = mb
        .iter()
        .rev()
        .find_map(|m| match m {
            ServerMsg::State { state, .. } => Some(state.clone()),
            _ => None,
        })
        .expect("states");
    assert_eq!(last, s);
    // Full: refused, nothing changed.
    a.send(&import(4, vec![vid('c', 0)])).await;
    assert_eq!(a.next_error().await, (ErrorCode::QueueFull, Some(4)));
    let snap = server.sessions.snapshot(&id).await.unwrap().unwrap();
    assert_eq!(snap.state, s);
}

async fn concurrent_imports_and_an_add_all_survive(store: Store) {
    let server = spawn(store).await;
    // On Redis a second instance: the imports race through two hubs and the store's CAS.
    let second = match store {
        Store::Redis => Some(spawn(store).await),
        Store::Memory => None,
    };
    let id = create(&server, 0.0).await;
    let mut a = Client::connect(&server, &id).await;
    let mut b = Client::connect(second.as_ref().unwrap_or(&server), &id).await;
    let mut c = Client::connect(&server, &id).await;
    let xs: Vec<_> = (0..40).map(|i| vid('x', i)).collect();
    let ys: Vec<_> = (0..40).map(|i| vid('y', i)).collect();
    let z = vid('z', 1);
    let add = ClientMsg::Queue {
        seq: 7,
        edit: QueueEdit::Add {
            video_id: z,
            start: 0.0,
        },
    };
    let (ia, ib) = (import(5, xs.clone()), import(6, ys.clone()));
    tokio::join!(a.send(&ia), b.send(&ib), c.send(&add));
    let (ma, mb, mc) = tokio::join!(
        a.drain(Duration::from_millis(800)),
        b.drain(Duration::from_millis(800)),
        c.drain(Duration::from_millis(800))
    );
    for m in ma.iter().chain(&mb).chain(&mc) {
        assert!(!matches!(m, ServerMsg::Error { .. }), "refused: {m:?}");
    }
    // Each importer's echo says all 40 were added.
    for (client, msgs, seq) in [(&a, &ma, 5), (&b, &mb, 6)] {
        let s = echo(client, msgs, seq);
        assert_eq!(
            s.queue.imported,
            Some(Imported {
                added: 40,
                left_out: 0
            })
        );
    }
    let snap = server.sessions.snapshot(&id).await.unwrap().unwrap().state;
    let got = videos(&snap);
    assert_eq!(got.len(), 81);
    // Some total order of the three edits: each import whole and in order.
    let at = |v: VideoId| got.iter().position(|g| *g == v).expect("queued");
    let (x0, y0) = (at(xs[0]), at(ys[0]));
    assert_eq!(got[x0..x0 + 40], xs[..]);
    assert_eq!(got[y0..y0 + 40], ys[..]);
    at(z);
    // Everyone converged on it.
    for msgs in [&ma, &mb, &mc] {
        let newest = msgs
            .iter()
            .filter_map(|m| match m {
                ServerMsg::State { state, .. } => Some(state),
                _ => None,
            })
            .max_by_key(|s| s.revision)
            .expect("states");
        assert_eq!(newest, &snap);
    }
}

async fn bad_imports_are_refused_and_change_nothing(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 0.0).await;
    let mut a = Client::connect(&server, &id).await;
    let before = server.sessions.snapshot(&id).await.unwrap().unwrap().state;
    a.send(&import(1, vec![])).await;
    assert_eq!(a.next_error().await, (ErrorCode::InvalidValue, Some(1)));
    let many: Vec<_> = (0..201).map(|i| vid('m', i)).collect();
    a.send(&import(2, many)).await;
    assert_eq!(a.next_error().await, (ErrorCode::InvalidValue, Some(2)));
    a.send_raw(tokio_tungstenite::tungstenite::Message::text(
        r#"{"type":"queue","seq":3,"edit":{"op":"import","video_ids":["dQw4w9WgXcQ","<script>"]}}"#,
    ))
    .await;
    assert_eq!(a.next_error().await.0, ErrorCode::BadMessage);
    let after = server.sessions.snapshot(&id).await.unwrap().unwrap().state;
    assert_eq!(after, before);
    // Beyond the frame limit: the connection is closed (as for any frame too large).
    let huge: Vec<_> = (0..400).map(|i| vid('h', i)).collect();
    a.send(&import(4, huge)).await;
    assert_eq!(a.closed(Duration::from_secs(5)).await, Some(close::TOO_BIG));
    let after = server.sessions.snapshot(&id).await.unwrap().unwrap().state;
    assert_eq!(after, before);
}
