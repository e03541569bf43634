//! Two server instances on a real, local Redis Cluster (3 primaries + 3 replicas started by the
//! test itself, see `common::redis_cluster`), sessions spread over every shard: changes cross
//! instances, concurrent commands converge, presence counts, joins during a change miss
//! nothing; a primary killed mid-session fails over to its replica while viewers converge; and
//! a live session's slot migrates to another primary while its viewers keep receiving changes.

use crate::common;

use crate::common::redis_cluster::LocalCluster;
use crate::common::{create, settings, spawn_with, Client, Store};
use server::startup::TestServer;
use server::store::state_key;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use watchparty_core::ids::SessionId;
use watchparty_core::playback::Command;
use watchparty_core::protocol::{Cause, ErrorCode, ServerMsg};

async fn instance(cluster: &LocalCluster) -> TestServer {
    let mut s = settings(Store::Memory);
    s.redis_url = Some(cluster.url());
    spawn_with(s).await
}

/// Sessions created until every primary serves at least `per_shard` of them.
async fn sessions_on_every_shard(
    cluster: &LocalCluster,
    server: &TestServer,
    per_shard: usize,
) -> HashMap<u16, Vec<SessionId>> {
    let mut by_primary: HashMap<u16, Vec<SessionId>> = HashMap::new();
    for _ in 0..200 {
        let id = create(server, 0.0).await;
        let primary = cluster.primary_of(&state_key(&id)).expect("a primary");
        by_primary.entry(primary).or_default().push(id);
        if by_primary.len() == 3 && by_primary.values().all(|v| v.len() >= per_shard) {
            return by_primary;
        }
    }
    panic!("sessions did not spread over the shards: {by_primary:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_a_redis_cluster() {
    let cluster = LocalCluster::start();
    let s1 = instance(&cluster).await;
    let s2 = instance(&cluster).await;
    let by_primary = sessions_on_every_shard(&cluster, &s1, 2).await;

    // A pause on A reaches B (and back), on every shard.
    for ids in by_primary.values() {
        let id = &ids[0];
        let mut a = Client::connect(&s1, id).await;
        let mut b = Client::connect(&s2, id).await;
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
        a.command(Command::Pause { position: 1.5 }).await;
        let (state, _) = b.next_state().await;
        assert!(!state.playing);
        assert_eq!(state.revision, 3);
        assert_eq!(a.next_state().await.0.revision, 3);
        b.command(Command::Seek { position: 99.0 }).await;
        assert_eq!(a.next_state().await.0.position, 99.0);
        // Presence over both instances.
        a.presence(2).await;
        b.presence(2).await;
    }

    // Concurrent commands from both instances converge (one session per shard).
    for ids in by_primary.values() {
        let id = ids[1].clone();
        let mut tasks = Vec::new();
        for i in 0..4u32 {
            let server = if i % 2 == 0 { &s1 } else { &s2 };
            let mut c = Client::connect(server, &id).await;
            tasks.push(tokio::spawn(async move {
                for k in 0..5u32 {
                    c.command(Command::Seek {
                        position: f64::from(i * 100 + k + 1),
                    })
                    .await;
                    // Applied (own echo) or refused as stale; both are fine.
                    loop {
                        match c.try_recv(common::WAIT).await {
                            Some(Ok(ServerMsg::State { cause: Some(_), .. }))
                            | Some(Ok(ServerMsg::Error {
                                code: ErrorCode::Stale,
                                ..
                            })) => break,
                            Some(Ok(_)) => continue,
                            other => panic!("client {i}: {other:?}"),
                        }
                    }
                }
                c.drain(Duration::from_millis(500)).await;
                c.state.clone()
            }));
        }
        let mut finals = HashSet::new();
        for t in tasks {
            finals.insert(serde_json::to_string(&t.await.unwrap()).unwrap());
        }
        let stored = s2.sessions.snapshot(&id).await.unwrap().unwrap().state;
        assert_eq!(finals.len(), 1, "viewers disagree: {finals:?}");
        assert!(finals.contains(&serde_json::to_string(&stored).unwrap()));
    }

    // Joins while a change is sent: the joiner always ends up with the change (30 fresh
    // sessions, spread over the shards).
    let mut worst = Duration::ZERO;
    for k in 0..30u32 {
        let id = create(&s1, 0.0).await;
        let mut sender = Client::connect(&s1, &id).await;
        let s2_url = s2.ws_url(&format!("/ws/{id}"));
        let join = tokio::spawn(async move {
            let (ws, _) = tokio_tungstenite::connect_async(s2_url).await.unwrap();
            Client::from_stream(ws).await
        });
        tokio::time::sleep(Duration::from_micros(u64::from(k % 10) * 300)).await;
        let started = Instant::now();
        sender.command(Command::Play { position: 0.0 }).await;
        let mut joiner = join.await.unwrap();
        while joiner.state.revision < 2 {
            match joiner.try_recv(Duration::from_secs(10)).await {
                Some(Ok(_)) => {}
                other => panic!("session {k}: the joiner never got the change: {other:?}"),
            }
        }
        worst = worst.max(started.elapsed());
    }
    println!("cluster: join-while-sending, 30 sessions, slowest delivery {worst:?}");
    s1.stop().await;
    s2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_fails_over_and_viewers_converge() {
    let mut cluster = LocalCluster::start();
    let s1 = instance(&cluster).await;
    let s2 = instance(&cluster).await;
    let by_primary = sessions_on_every_shard(&cluster, &s1, 1).await;
    let (&victim, ids) = by_primary.iter().next().expect("a shard");
    let id = ids[0].clone();
    let mut a = Client::connect(&s1, &id).await;
    let mut b = Client::connect(&s2, &id).await;
    a.command(Command::Play { position: 0.0 }).await;
    assert!(b.next_state().await.0.playing);
    a.next_state().await;

    cluster.wait_replicated(victim);
    let killed = Instant::now();
    cluster.kill(victim);
    let promoted = cluster.wait_failover(&state_key(&id), victim);
    let failed_over = killed.elapsed();

    // A's pause (retried while the shard is unavailable) reaches B.
    let mut position = 10.0;
    loop {
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "no command applied after the failover"
        );
        a.command(Command::Pause { position }).await;
        match a.try_recv(common::WAIT).await {
            Some(Ok(ServerMsg::State { cause: Some(c), .. })) if c.conn_id == a.conn_id => break,
            Some(Ok(_)) | None => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                position += 1.0;
            }
            Some(Err(code)) => panic!("closed: {code:?}"),
        }
    }
    let applied = killed.elapsed();
    loop {
        let (state, _) = b.next_state().await;
        if !state.playing && state.revision == a.state.revision {
            break;
        }
    }
    let converged = killed.elapsed();
    println!(
        "cluster failover: primary {victim} killed, replica {promoted} promoted after {failed_over:?}; \
         first command applied after {applied:?}; the other instance's viewer converged after {converged:?}"
    );
    // A session on another shard was never affected: still works both ways.
    let (_, other) = by_primary
        .iter()
        .find(|(p, _)| **p != victim)
        .expect("another shard");
    let mut c = Client::connect(&s1, &other[0]).await;
    let mut d = Client::connect(&s2, &other[0]).await;
    c.command(Command::Play { position: 0.0 }).await;
    assert!(d.next_state().await.0.playing);
    s1.stop().await;
    s2.stop().await;
}

/// A live slot migration (resharding): Redis drops the shard subscriptions of a moved slot
/// (and fred drops the `sunsubscribe` push). Each instance notices when its own event reaches
/// no subscriber (`SPUBLISH` returns 0), subscribes again on the new owner and catches up: at
/// the next change (the instance making it) or presence refresh (every other instance).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_session_survives_a_slot_migration() {
    let cluster = LocalCluster::start();
    let s1 = instance(&cluster).await;
    let s2 = instance(&cluster).await;
    let id = create(&s1, 0.0).await;
    let mut a = Client::connect(&s1, &id).await;
    let mut b = Client::connect(&s2, &id).await;
    a.command(Command::Play { position: 0.0 }).await;
    assert!(b.next_state().await.0.playing);
    a.next_state().await;

    let (from, to) = cluster.migrate_slot_of(&state_key(&id));
    let moved = Instant::now();
    // A's pause is applied on the new owner; B hears of it once s2 subscribed again.
    a.command(Command::Pause { position: 5.0 }).await;
    loop {
        match a.try_recv(common::WAIT).await {
            Some(Ok(ServerMsg::State { cause: Some(c), .. })) if c.conn_id == a.conn_id => break,
            Some(Ok(_)) => {}
            other => panic!("the pause after the migration was not applied: {other:?}"),
        }
    }
    let applied = moved.elapsed();
    loop {
        match b.try_recv(Duration::from_secs(20)).await {
            Some(Ok(ServerMsg::State { state, .. })) if !state.playing => break,
            Some(Ok(_)) => {}
            other => panic!("the other instance never caught up after the migration: {other:?}"),
        }
    }
    let caught_up = moved.elapsed();
    // Both subscriptions are healed: the next changes arrive at once, both ways.
    let sent = Instant::now();
    b.command(Command::Seek { position: 42.0 }).await;
    assert_eq!(a.next_state().await.0.position, 42.0);
    a.command(Command::Play { position: 42.0 }).await;
    loop {
        let (state, _) = b.next_state().await;
        if state.playing {
            break;
        }
    }
    let after = sent.elapsed();
    println!(
        "cluster slot migration {from} -> {to}: first change applied after {applied:?}, the other \
         instance's viewer caught up after {caught_up:?}; the next two changes crossed in {after:?}"
    );
    assert!(
        after < Duration::from_secs(2),
        "still deaf after healing: {after:?}"
    );
    s1.stop().await;
    s2.stop().await;
}
