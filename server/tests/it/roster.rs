//! Who is here (issue 12): the room's list of viewers with the health their own clients
//! report, over real WebSockets, on both stores and across two instances; a big room stays
//! O(changes) (names capped, counts aggregated, deltas coalesced).

use crate::common;

use crate::common::{create, on_both_stores, spawn, spawn_with, Client, Store};
use std::time::Duration;
use watchparty_core::health::Health;
use watchparty_core::protocol::{ClientMsg, ErrorCode, ServerMsg};
use watchparty_core::roster::Roster;

on_both_stores!(
    names_and_health_reach_everyone_and_late_joiners_get_the_list,
    a_bad_status_is_refused,
);

/// Reads messages into `roster` until `done` holds (8 s at most); returns the roster messages
/// seen and the names that joined.
async fn until(
    c: &mut Client,
    roster: &mut Roster,
    what: &str,
    done: impl Fn(&Roster) -> bool,
) -> (usize, Vec<String>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    let mut seen = 0;
    let mut joined = Vec::new();
    while !done(roster) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match c.try_recv(left).await {
            Some(Ok(ServerMsg::Roster {
                v,
                full,
                members,
                gone,
                counts,
            })) => {
                seen += 1;
                let changes = roster.apply(v, full, members, &gone, counts);
                joined.extend(changes.joined.into_iter().filter_map(|m| m.name));
            }
            Some(Ok(_)) => {}
            other => panic!("waiting for {what}: {other:?}; list {roster:?}"),
        }
    }
    (seen, joined)
}

fn health_of(r: &Roster, name: &str) -> Option<Health> {
    r.members
        .iter()
        .find(|m| m.name.as_deref() == Some(name))
        .and_then(|m| m.status)
}

async fn name(c: &mut Client, name: &str) {
    c.send(&ClientMsg::Name {
        seq: 1,
        name: name.into(),
    })
    .await;
}

async fn status(c: &mut Client, status: Health) {
    c.send(&ClientMsg::Status { status }).await;
}

async fn names_and_health_reach_everyone_and_late_joiners_get_the_list(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 0.0).await;
    let mut ana = Client::connect(&server, &id).await;
    let mut ana_list = Roster::default();
    name(&mut ana, "Ana").await;
    status(&mut ana, Health::in_sync(0)).await;
    let mut ben = Client::connect(&server, &id).await;
    name(&mut ben, "Ben").await;
    status(&mut ben, Health::Buffering).await;
    // Ana sees Ben join, buffering; "Ben joined" is derived from the delta.
    let (_, joined) = until(&mut ana, &mut ana_list, "Ben buffering", |r| {
        health_of(r, "Ben") == Some(Health::Buffering)
    })
    .await;
    assert!(joined.contains(&"Ben".to_owned()), "{joined:?}");
    // Ben catches up: Ana sees him in sync.
    status(&mut ben, Health::in_sync(10)).await;
    until(&mut ana, &mut ana_list, "Ben in sync", |r| {
        health_of(r, "Ben") == Some(Health::in_sync(10)) && r.counts.in_sync == 2
    })
    .await;
    assert_eq!(ana_list.counts.buffering, 0);
    // Ben's player turns out to be rate-locked: the list says so (issue 14).
    let locked = Health::InSync {
        ms: 10,
        rate_locked: true,
    };
    status(&mut ben, locked).await;
    until(&mut ana, &mut ana_list, "Ben rate-locked", |r| {
        health_of(r, "Ben") == Some(locked) && r.counts.in_sync == 2
    })
    .await;
    // A late joiner gets the whole list first, in join order.
    let mut cara = Client::connect(&server, &id).await;
    let mut cara_list = Roster::default();
    until(&mut cara, &mut cara_list, "the full list", |r| {
        r.members.len() >= 2
    })
    .await;
    let names: Vec<_> = cara_list
        .members
        .iter()
        .filter_map(|m| m.name.clone())
        .collect();
    assert_eq!(names[..2], ["Ana".to_owned(), "Ben".to_owned()]);
    assert_eq!(cara_list.members[0].id, ana.conn_id);
    // Ben leaves: he is gone from everyone's list.
    drop(ben);
    until(&mut cara, &mut cara_list, "Ben gone", |r| {
        r.members.iter().all(|m| m.name.as_deref() != Some("Ben"))
    })
    .await;
    until(&mut ana, &mut ana_list, "Ben gone", |r| {
        r.members.len() == 2 && r.counts.in_sync == 1
    })
    .await;
}

async fn a_bad_status_is_refused(store: Store) {
    let server = spawn(store).await;
    let id = create(&server, 0.0).await;
    let mut watcher = Client::connect(&server, &id).await;
    let mut c = Client::connect(&server, &id).await;
    c.send_raw(tokio_tungstenite::tungstenite::Message::text(
        r#"{"type":"status","status":{"health":"in_sync","ms":900}}"#,
    ))
    .await;
    assert_eq!(c.next_error().await.0, ErrorCode::InvalidValue);
    c.send_raw(tokio_tungstenite::tungstenite::Message::text(
        r#"{"type":"status","status":{"health":"asleep"}}"#,
    ))
    .await;
    assert_eq!(c.next_error().await.0, ErrorCode::BadMessage);
    // The refused reports changed nothing: the viewer is listed (once named) without health.
    name(&mut c, "Cara").await;
    let mut list = Roster::default();
    until(&mut watcher, &mut list, "Cara listed", |r| {
        r.members.iter().any(|m| m.name.as_deref() == Some("Cara"))
    })
    .await;
    assert_eq!(health_of(&list, "Cara"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_on_two_instances_see_each_other() {
    let s1 = spawn(Store::Redis).await;
    let s2 = spawn(Store::Redis).await;
    let id = create(&s1, 0.0).await;
    let mut a = Client::connect(&s1, &id).await;
    name(&mut a, "Ana").await;
    status(&mut a, Health::NeedsClick).await;
    let mut b = Client::connect(&s2, &id).await;
    name(&mut b, "Ben").await;
    status(&mut b, Health::Background).await;
    let mut a_list = Roster::default();
    let mut b_list = Roster::default();
    until(&mut a, &mut a_list, "Ben from the other instance", |r| {
        health_of(r, "Ben") == Some(Health::Background)
            && health_of(r, "Ana") == Some(Health::NeedsClick)
    })
    .await;
    until(&mut b, &mut b_list, "Ana from the other instance", |r| {
        health_of(r, "Ana") == Some(Health::NeedsClick)
            && health_of(r, "Ben") == Some(Health::Background)
    })
    .await;
    assert_eq!(
        a_list.members, b_list.members,
        "both instances list the same"
    );
    assert_eq!(a_list.counts.needs_click, 1);
    assert_eq!(a_list.counts.background, 1);
}

/// A big room lists only `roster_len` names but counts everyone, and a storm of health changes
/// reaches each viewer as a few coalesced deltas, not one message per change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_room_is_capped_and_coalesced() {
    let mut settings = common::settings(Store::Memory);
    settings.roster_len = 5;
    let server = spawn_with(settings).await;
    let id = create(&server, 0.0).await;
    let mut watcher = Client::connect(&server, &id).await;
    let mut viewers = Vec::new();
    for _ in 0..40 {
        viewers.push(Client::connect(&server, &id).await);
    }
    let mut list = Roster::default();
    until(&mut watcher, &mut list, "41 listed", |r| {
        r.members.len() == 5
    })
    .await;
    // Every viewer reports in sync within about 100 ms.
    for c in &mut viewers {
        status(c, Health::in_sync(0)).await;
    }
    let started = tokio::time::Instant::now();
    let (messages, _) = until(&mut watcher, &mut list, "40 in sync", |r| {
        r.counts.in_sync == 40
    })
    .await;
    println!(
        "40 health changes reached a viewer as {messages} roster message(s) in {:?}",
        started.elapsed()
    );
    assert_eq!(list.members.len(), 5, "names are capped at roster_len");
    assert!(
        messages <= 4,
        "{messages} roster messages for 40 changes: not coalesced"
    );
}
