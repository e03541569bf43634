//! Permanent rooms and their short names (issue 28) over real WebSockets, on both stores: the
//! host keeps a room (with a name), the caps per host and overall, names unique whatever their
//! case (concurrent claims: exactly one wins), reserved and malformed names, no expiry on any
//! key of a kept room, ending deletes everything and closes every viewer, the empty room
//! pauses once, and a kept room outlives a server restart and a `kill -9` of a Redis with AOF.
//!
//! The Redis runs use a private `redis-server` each: the index of permanent rooms is global,
//! so the shared Redis would mix the caps of concurrent tests.

use crate::common::redis::{free_port, PrivateRedis};
use crate::common::{on_both_stores, settings, spawn_with, Client, Store};
use server::settings::Settings;
use server::startup::TestServer;
use std::time::Duration;
use watchparty_core::ids::SessionId;
use watchparty_core::playback::{Command, PlaybackState};
use watchparty_core::protocol::{close, ClientMsg, ErrorCode, ServerMsg};

on_both_stores!(
    a_host_keeps_a_room_under_a_name_that_reaches_it,
    caps_per_host_and_overall_refuse_clearly,
    names_are_unique_whatever_their_case_and_one_concurrent_claim_wins,
    a_kept_room_does_not_expire_and_a_temporary_one_does,
    ending_a_room_deletes_it_and_closes_every_viewer,
    an_empty_kept_room_pauses_once_where_it_was,
);

/// A server over `store` (Redis: a private one, returned to be kept alive) with `tweak`ed
/// settings.
struct Env {
    server: TestServer,
    redis: Option<PrivateRedis>,
}

async fn env(store: Store, tweak: impl FnOnce(&mut Settings)) -> Env {
    let mut s = settings(store);
    let redis = (store == Store::Redis).then(|| PrivateRedis::start(free_port()));
    if let Some(r) = &redis {
        s.redis_url = Some(r.url());
    }
    tweak(&mut s);
    Env {
        server: spawn_with(s).await,
        redis,
    }
}

fn key(i: u32) -> String {
    format!("viewer-key-{i:08}-abcdef")
}

async fn hosted(server: &TestServer) -> (SessionId, String) {
    server
        .sessions
        .create_hosted(crate::common::video(), 0.0)
        .await
        .expect("session created")
}

async fn keep(c: &mut Client, name: Option<&str>) -> u32 {
    let seq = c.next_seq();
    c.send(&ClientMsg::MakePermanent {
        seq,
        name: name.map(str::to_owned),
    })
    .await;
    seq
}

/// Reads until the answer to `seq`: `Ok(state)` (the change, with its cause) or the error.
async fn answer(c: &mut Client, seq: u32) -> Result<PlaybackState, ErrorCode> {
    loop {
        match c.recv().await {
            ServerMsg::Error { code, seq: s, .. } if s == Some(seq) => return Err(code),
            ServerMsg::State {
                state,
                cause: Some(cause),
            } if cause.seq == seq && cause.conn_id == c.conn_id => return Ok(state),
            _ => {}
        }
    }
}

/// Reads until a state with `pred` arrives.
async fn state_where(c: &mut Client, what: &str, pred: impl Fn(&PlaybackState) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while !pred(&c.state) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match c.try_recv(left).await {
            Some(Ok(_)) => {}
            other => panic!("waiting for {what}: {other:?}"),
        }
    }
}

/// `GET path` without following redirects: the status and the `Location`.
async fn get(server: &TestServer, path: &str) -> (u16, Option<String>) {
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(server.http_url(path))
        .send()
        .await
        .expect("response");
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (resp.status().as_u16(), location)
}

async fn a_host_keeps_a_room_under_a_name_that_reaches_it(store: Store) {
    let env = env(store, |_| {}).await;
    let server = &env.server;
    let (id, secret) = hosted(server).await;
    let mut host = Client::connect_as(server, &id, &secret).await;
    let mut guest = Client::connect_as(server, &id, &key(1)).await;
    // Only the host keeps a room.
    let seq = keep(&mut guest, Some("friday-movies")).await;
    assert_eq!(answer(&mut guest, seq).await, Err(ErrorCode::Forbidden));
    // Malformed and reserved names are refused with their own codes; nothing changed.
    let before = host.state.revision;
    for (name, code) in [
        ("ab", ErrorCode::InvalidRoomName),
        ("-friday", ErrorCode::InvalidRoomName),
        ("friday movies", ErrorCode::InvalidRoomName),
        ("API", ErrorCode::ReservedRoomName),
        ("metrics", ErrorCode::ReservedRoomName),
    ] {
        let seq = keep(&mut host, Some(name)).await;
        assert_eq!(answer(&mut host, seq).await, Err(code), "{name}");
    }
    assert_eq!(host.state.revision, before);
    // Kept under a name given in any case: one revision everybody gets.
    let seq = keep(&mut host, Some("Friday-Movies")).await;
    let kept = answer(&mut host, seq).await.expect("kept");
    assert_eq!(kept.revision, before + 1);
    let p = kept.permanent.clone().expect("permanent");
    assert_eq!(p.alias.as_ref().map(|a| a.as_str()), Some("friday-movies"));
    assert_eq!(Some(&p.by), host.kid.as_ref());
    state_where(&mut guest, "the kept room", |s| s.permanent.is_some()).await;
    // A late joiner sees it too.
    let late = Client::connect_as(server, &id, &key(2)).await;
    assert_eq!(late.state.permanent, kept.permanent);
    // The name reaches the room in any case; an unknown one is the 404 page.
    for path in ["/r/friday-movies", "/r/FRIDAY-Movies"] {
        assert_eq!(
            get(server, path).await,
            (303, Some(format!("/s/{id}"))),
            "{path}"
        );
    }
    assert_eq!(get(server, "/r/nobody-here").await.0, 404);
    assert_eq!(get(server, "/r/x").await.0, 404);
    // Keeping it again under the same name changes nothing; a new name renames it.
    let seq = keep(&mut host, Some("friday-movies")).await;
    assert_eq!(
        answer(&mut host, seq).await.map(|s| s.revision),
        Ok(kept.revision)
    );
    let seq = keep(&mut host, Some("saturday-movies")).await;
    answer(&mut host, seq).await.expect("renamed");
    assert_eq!(get(server, "/r/friday-movies").await.0, 404);
    assert_eq!(get(server, "/r/saturday-movies").await.0, 303);
    // Temporary again: the name is freed; a guest may not do it.
    let seq = guest.next_seq();
    guest.send(&ClientMsg::MakeTemporary { seq }).await;
    assert_eq!(answer(&mut guest, seq).await, Err(ErrorCode::Forbidden));
    let seq = host.next_seq();
    host.send(&ClientMsg::MakeTemporary { seq }).await;
    let back = answer(&mut host, seq).await.expect("temporary");
    assert_eq!(back.permanent, None);
    assert_eq!(get(server, "/r/saturday-movies").await.0, 404);
}

/// A room whose host is `host_key` (created, then handed over to that key's kid).
async fn room_of(server: &TestServer, host_key: &str) -> SessionId {
    let (id, secret) = hosted(server).await;
    let mut creator = Client::connect_as(server, &id, &secret).await;
    let seq = creator.next_seq();
    creator
        .send(&ClientMsg::Host {
            seq,
            cmd: watchparty_core::rights::RightsCommand::HandOver {
                kid: server::identity::kid_of(host_key),
            },
        })
        .await;
    answer(&mut creator, seq).await.expect("handed over");
    id
}

/// `host_key` keeps room `id` (named `name`): the answer.
async fn keep_as(
    server: &TestServer,
    id: &SessionId,
    host_key: &str,
    name: Option<&str>,
) -> Result<PlaybackState, ErrorCode> {
    let mut c = Client::connect_as(server, id, host_key).await;
    let seq = keep(&mut c, name).await;
    answer(&mut c, seq).await
}

async fn caps_per_host_and_overall_refuse_clearly(store: Store) {
    let env = env(store, |s| {
        s.max_permanent_rooms_per_host = 2;
        s.max_permanent_rooms = 3;
    })
    .await;
    let server = &env.server;
    let (a, b) = (key(10), key(11));
    let mut rooms = Vec::new();
    for host in [&a, &a, &a, &b, &b] {
        rooms.push((room_of(server, host).await, host.clone()));
    }
    // Host A keeps two rooms; the third passes A's cap.
    assert!(keep_as(server, &rooms[0].0, &a, None).await.is_ok());
    assert!(keep_as(server, &rooms[1].0, &a, Some("a-second"))
        .await
        .is_ok());
    let refused = keep_as(server, &rooms[2].0, &a, Some("a-third")).await;
    assert_eq!(refused.map(|_| ()), Err(ErrorCode::PermanentLimit));
    // The refusal changed nothing: the name is free, the room is not kept.
    assert_eq!(get(server, "/r/a-third").await.0, 404);
    let snap = server
        .sessions
        .snapshot(&rooms[2].0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(snap.state.permanent, None);
    // Renaming a kept room does not count twice.
    assert!(keep_as(server, &rooms[1].0, &a, Some("a-renamed"))
        .await
        .is_ok());
    // Host B keeps one (three overall, the global cap); B's second passes the global cap.
    assert!(keep_as(server, &rooms[3].0, &b, None).await.is_ok());
    let refused = keep_as(server, &rooms[4].0, &b, None).await;
    assert_eq!(refused.map(|_| ()), Err(ErrorCode::PermanentLimit));
    // A room made temporary again frees its place.
    let mut c = Client::connect_as(server, &rooms[0].0, &a).await;
    let seq = c.next_seq();
    c.send(&ClientMsg::MakeTemporary { seq }).await;
    answer(&mut c, seq).await.expect("temporary");
    assert!(keep_as(server, &rooms[4].0, &b, None).await.is_ok());
}

async fn names_are_unique_whatever_their_case_and_one_concurrent_claim_wins(store: Store) {
    let env = env(store, |_| {}).await;
    let server = &env.server;
    let host = key(20);
    let first = room_of(server, &host).await;
    let second = room_of(server, &host).await;
    assert!(keep_as(server, &first, &host, Some("Same-Name"))
        .await
        .is_ok());
    let taken = keep_as(server, &second, &host, Some("same-NAME")).await;
    assert_eq!(taken.map(|_| ()), Err(ErrorCode::NameTaken));
    // Four rooms of four hosts claim one name at the same moment: exactly one wins.
    let mut contenders = Vec::new();
    for i in 0..4 {
        let k = key(30 + i);
        let id = room_of(server, &k).await;
        let c = Client::connect_as(server, &id, &k).await;
        contenders.push(c);
    }
    let claims = contenders.into_iter().map(|mut c| {
        tokio::spawn(async move {
            let seq = keep(&mut c, Some("Race-Name")).await;
            answer(&mut c, seq).await.map(|s| s.permanent)
        })
    });
    let results = futures::future::join_all(claims).await;
    let wins = results
        .iter()
        .filter(|r| matches!(r, Ok(Ok(Some(_)))))
        .count();
    let taken = results
        .iter()
        .filter(|r| matches!(r, Ok(Err(ErrorCode::NameTaken))))
        .count();
    assert_eq!((wins, taken), (1, 3), "{results:?}");
    assert_eq!(get(server, "/r/race-name").await.0, 303);
}

async fn a_kept_room_does_not_expire_and_a_temporary_one_does(store: Store) {
    let env = env(store, |s| s.session_ttl_secs = 2).await;
    let server = &env.server;
    let host = key(40);
    let kept = room_of(server, &host).await;
    let temp = room_of(server, &host).await;
    let mut c = Client::connect_as(server, &kept, &host).await;
    let seq = keep(&mut c, Some("kept-room")).await;
    answer(&mut c, seq).await.expect("kept");
    // Chat and a reaction, so the logs exist too.
    let seq = c.next_seq();
    c.send(&ClientMsg::Chat {
        seq,
        text: "hello".into(),
    })
    .await;
    let seq = c.next_seq();
    c.send(&ClientMsg::React {
        seq,
        emoji: watchparty_core::chat::REACTIONS[0].into(),
        at: 0.0,
    })
    .await;
    c.drain(Duration::from_millis(300)).await;
    if let Some(redis) = &env.redis {
        let keys = redis.cli(&["KEYS", &format!("wp:{{{kept}}}:*")]);
        for k in ["state", "chat", "react", "presence"] {
            let name = format!("wp:{{{kept}}}:{k}");
            assert!(keys.contains(&name), "{name} missing from {keys}");
        }
        for k in keys.split(' ') {
            assert_eq!(
                redis.cli(&["TTL", k]),
                "-1",
                "{k} of a kept room has an expiry"
            );
        }
        let t: i64 = redis
            .cli(&["TTL", &format!("wp:{{{temp}}}:state")])
            .parse()
            .expect("ttl");
        assert!(t > 0, "a temporary room keeps its expiry ({t})");
    }
    drop(c);
    // Past the TTL: the temporary room is gone, the kept one is there.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while server.sessions.snapshot(&temp).await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the temporary room did not expire"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let snap = server
        .sessions
        .snapshot(&kept)
        .await
        .unwrap()
        .expect("kept room");
    assert!(snap.state.permanent.is_some());
    assert_eq!(get(server, "/r/kept-room").await.0, 303);
    // Temporary again: the expiry is back on every key.
    let mut c = Client::connect_as(server, &kept, &host).await;
    let seq = c.next_seq();
    c.send(&ClientMsg::MakeTemporary { seq }).await;
    answer(&mut c, seq).await.expect("temporary");
    if let Some(redis) = &env.redis {
        for k in ["state", "chat", "react"] {
            let t: i64 = redis
                .cli(&["TTL", &format!("wp:{{{kept}}}:{k}")])
                .parse()
                .expect("ttl");
            assert!(
                t > 0,
                "{k} has no expiry after the room was made temporary ({t})"
            );
        }
    }
}

async fn ending_a_room_deletes_it_and_closes_every_viewer(store: Store) {
    let env = env(store, |_| {}).await;
    let server = &env.server;
    let host = key(50);
    let id = room_of(server, &host).await;
    let mut h = Client::connect_as(server, &id, &host).await;
    let mut guest = Client::connect_as(server, &id, &key(51)).await;
    let seq = keep(&mut h, Some("to-be-ended")).await;
    answer(&mut h, seq).await.expect("kept");
    // A guest may not end it.
    let seq = guest.next_seq();
    guest.send(&ClientMsg::EndRoom { seq }).await;
    assert_eq!(answer(&mut guest, seq).await, Err(ErrorCode::Forbidden));
    let seq = h.next_seq();
    h.send(&ClientMsg::EndRoom { seq }).await;
    assert_eq!(
        h.closed(Duration::from_secs(5)).await,
        Some(close::SESSION_ENDED)
    );
    assert_eq!(
        guest.closed(Duration::from_secs(5)).await,
        Some(close::SESSION_ENDED)
    );
    assert!(server.sessions.snapshot(&id).await.unwrap().is_none());
    assert_eq!(get(server, "/r/to-be-ended").await.0, 404);
    if let Some(redis) = &env.redis {
        assert_eq!(redis.cli(&["KEYS", &format!("wp:{{{id}}}:*")]), "");
        assert_eq!(redis.cli(&["HLEN", "wp:{wp-perm}:rooms"]), "0");
        assert_eq!(redis.cli(&["HLEN", "wp:{wp-perm}:names"]), "0");
    }
    // The name is free for another room.
    let other = room_of(server, &host).await;
    assert!(keep_as(server, &other, &host, Some("to-be-ended"))
        .await
        .is_ok());
}

async fn an_empty_kept_room_pauses_once_where_it_was(store: Store) {
    let env = env(store, |_| {}).await;
    let server = &env.server;
    let host = key(60);
    let id = room_of(server, &host).await;
    let mut h = Client::connect_as(server, &id, &host).await;
    let seq = keep(&mut h, None).await;
    answer(&mut h, seq).await.expect("kept");
    h.command(Command::Play { position: 10.0 }).await;
    state_where(&mut h, "playing", |s| s.playing).await;
    let playing = h.state.clone();
    let left_at = crate::common::wall_ms();
    drop(h);
    // Paused by the server after the grace, at the position it had when it emptied.
    let deadline = tokio::time::Instant::now() + server::sessions::EMPTY_GRACE * 4;
    let paused = loop {
        let s = server
            .sessions
            .snapshot(&id)
            .await
            .unwrap()
            .expect("room")
            .state;
        if !s.playing {
            break s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the empty room still plays"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        paused.revision,
        playing.revision + 1,
        "one server-made revision"
    );
    assert_eq!(paused.changed_by, None);
    let expected = playing.position_at(left_at);
    assert!(
        (paused.position - expected).abs() < 1.0,
        "paused at {} (left at {expected})",
        paused.position
    );
    // Nothing more happens.
    tokio::time::sleep(server::sessions::EMPTY_GRACE + Duration::from_millis(500)).await;
    let later = server
        .sessions
        .snapshot(&id)
        .await
        .unwrap()
        .expect("room")
        .state;
    assert_eq!(later.revision, paused.revision);
}

/// A kept room (queue, rights, chat, settings, name) outlives a server restart, a `SHUTDOWN`
/// of a Redis with AOF (`appendonly yes`) and a `kill -9` of it (`appendfsync always`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_room_outlives_server_and_redis_restarts_with_aof() {
    use watchparty_core::queue::QueueEdit;
    use watchparty_core::rights::RightsCommand;
    let mut redis = PrivateRedis::start_persistent(free_port());
    let mut s = settings(Store::Redis);
    s.redis_url = Some(redis.url());
    let server = spawn_with(s.clone()).await;
    let host = key(70);
    let cohost = key(71);
    let id = room_of(&server, &host).await;
    let mut h = Client::connect_as(&server, &id, &host).await;
    let mut c = Client::connect_as(&server, &id, &cohost).await;
    let cohost_kid = c.kid.clone().expect("kid");
    // The room's state: a queued video, a co-host, a setting, a chat line, a name.
    let seq = h.next_seq();
    let queued = watchparty_core::ids::VideoId::parse("9bZkp7q19f0").expect("id");
    h.send(&ClientMsg::Queue {
        seq,
        edit: QueueEdit::Add {
            video_id: queued,
            start: 5.0,
        },
    })
    .await;
    answer(&mut h, seq).await.expect("queued");
    let seq = h.next_seq();
    h.send(&ClientMsg::Host {
        seq,
        cmd: RightsCommand::Cohost {
            kid: cohost_kid.clone(),
            on: true,
        },
    })
    .await;
    answer(&mut h, seq).await.expect("co-host");
    let seq = h.next_seq();
    let settings = watchparty_core::together::RoomSettings {
        vote_skip: true,
        ..Default::default()
    };
    h.send(&ClientMsg::Settings { seq, settings }).await;
    answer(&mut h, seq).await.expect("settings");
    let seq = c.next_seq();
    c.send(&ClientMsg::Chat {
        seq,
        text: "see you next week".into(),
    })
    .await;
    let seq = keep(&mut h, Some("weekly-night")).await;
    let kept = answer(&mut h, seq).await.expect("kept");
    c.drain(Duration::from_millis(300)).await;
    drop((h, c));
    server.stop().await;

    let check = |state: &PlaybackState| {
        assert_eq!(state.permanent, kept.permanent);
        assert_eq!(state.queue.items.len(), 1);
        assert_eq!(state.queue.items[0].video_id, queued);
        assert!(state.rights.is_owner(&server::identity::kid_of(&host)));
        assert!(state.rights.cohosts.contains(&cohost_kid));
        assert_eq!(state.settings, settings);
    };
    for how in ["shutdown", "kill -9"] {
        if how == "shutdown" {
            redis.cli(&["SHUTDOWN"]);
        }
        // `restart` kills what is left (nothing after SHUTDOWN) and starts it again on the
        // same data directory.
        redis.restart();
        let server = spawn_with(s.clone()).await;
        let snap = server
            .sessions
            .snapshot(&id)
            .await
            .expect("store answers")
            .unwrap_or_else(|| panic!("the kept room is gone after {how}"));
        check(&snap.state);
        assert_eq!(
            get(&server, "/r/Weekly-Night").await,
            (303, Some(format!("/s/{id}")))
        );
        // The host's link still hosts it; the chat is there.
        let mut h = Client::connect_as(&server, &id, &host).await;
        assert!(h.state.rights.is_owner(h.kid.as_ref().expect("kid")));
        let chat = loop {
            if let ServerMsg::History { chat, .. } = h.recv().await {
                break chat;
            }
        };
        assert_eq!(chat.len(), 1, "{how}");
        assert_eq!(chat[0].text, "see you next week");
        for k in redis.cli(&["KEYS", &format!("wp:{{{id}}}:*")]).split(' ') {
            assert_eq!(redis.cli(&["TTL", k]), "-1", "{k} after {how}");
        }
        drop(h);
        server.stop().await;
    }
}

/// On a Redis Cluster (the session's keys and the index in different slots) and across two
/// instances: keeping, the name on the other instance, no expiry, and ending closes the other
/// instance's viewers too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_rooms_work_on_a_redis_cluster_across_instances() {
    use crate::common::redis::cli;
    use crate::common::redis_cluster::LocalCluster;
    let cluster = LocalCluster::start();
    let mut s = settings(Store::Memory);
    s.redis_url = Some(cluster.url());
    let one = spawn_with(s.clone()).await;
    let two = spawn_with(s).await;
    let host = key(80);
    let id = room_of(&one, &host).await;
    let state = server::store::state_key(&id);
    let room_slot = cluster.primary_of(&state).expect("a primary");
    let index_slot = cluster
        .primary_of(server::store::permanent::ROOMS_KEY)
        .expect("a primary");
    let mut h = Client::connect_as(&one, &id, &host).await;
    let mut guest = Client::connect_as(&two, &id, &key(81)).await;
    let seq = keep(&mut h, Some("Cluster-Night")).await;
    answer(&mut h, seq).await.expect("kept");
    state_where(&mut guest, "the kept room on the other instance", |s| {
        s.permanent.is_some()
    })
    .await;
    assert_eq!(
        get(&two, "/r/cluster-night").await,
        (303, Some(format!("/s/{id}")))
    );
    assert_eq!(cli(room_slot, &["TTL", &state]), "-1");
    assert_ne!(
        cli(index_slot, &["HGET", "wp:{wp-perm}:names", "cluster-night"]),
        ""
    );
    let seq = h.next_seq();
    h.send(&ClientMsg::EndRoom { seq }).await;
    assert_eq!(
        guest.closed(Duration::from_secs(5)).await,
        Some(close::SESSION_ENDED)
    );
    assert_eq!(cli(room_slot, &["EXISTS", &state]), "0");
    assert_eq!(get(&two, "/r/cluster-night").await.0, 404);
}
