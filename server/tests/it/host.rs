//! Hosts and control, chat and reactions (issue 13) over real WebSockets, on both stores and
//! across two instances: the server enforces every right inside the session's total order, a
//! removed viewer cannot rejoin, chat history reaches late joiners, and every limit refuses
//! with a typed error that changes nothing.

use crate::common;

use crate::common::{on_both_stores, spawn, spawn_with, Client, Store};
use server::startup::TestServer;
use std::time::Duration;
use watchparty_core::playback::Command;
use watchparty_core::protocol::{close, ClientMsg, ErrorCode, ServerMsg};
use watchparty_core::rights::{Kid, RightsCommand};

on_both_stores!(
    a_locked_room_refuses_viewers_and_rights_survive_a_reconnect,
    a_removed_viewer_is_closed_and_cannot_rejoin,
    chat_reaches_everyone_and_late_joiners_and_hosts_delete,
    chat_and_reactions_are_validated_and_rate_limited,
);

/// A browser's key (any 16..=64 characters of `[A-Za-z0-9_-]`).
fn key(i: u32) -> String {
    format!("viewer-key-{i:08}-abcdef")
}

/// Creates a hosted session; returns its id and the host secret.
async fn hosted(server: &TestServer) -> (watchparty_core::ids::SessionId, String) {
    server
        .sessions
        .create_hosted(common::video(), 0.0)
        .await
        .expect("session created")
}

async fn host_cmd(c: &mut Client, cmd: RightsCommand) -> u32 {
    let seq = c.next_seq();
    c.send(&ClientMsg::Host { seq, cmd }).await;
    seq
}

/// Reads until a state with `pred` arrives (skipping everything else).
async fn state_where(
    c: &mut Client,
    what: &str,
    pred: impl Fn(&watchparty_core::playback::PlaybackState) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while !pred(&c.state) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match c.try_recv(left).await {
            Some(Ok(ServerMsg::Error { code, message, .. })) => {
                panic!("waiting for {what}: error {code:?} {message}")
            }
            Some(Ok(_)) => {}
            other => panic!("waiting for {what}: {other:?}"),
        }
    }
}

/// Sends `cmd` and expects `forbidden` for it, and no state change meanwhile.
async fn refused(c: &mut Client, cmd: Command) {
    let before = c.state.revision;
    let seq = c.command(cmd).await;
    loop {
        match c.recv().await {
            ServerMsg::Error { code, seq: s, .. } if s == Some(seq) => {
                assert_eq!(code, ErrorCode::Forbidden, "{cmd:?}");
                break;
            }
            ServerMsg::State { state, cause } => {
                panic!("a refused command changed the state: {before} -> {state:?} {cause:?}")
            }
            _ => {}
        }
    }
    assert_eq!(c.state.revision, before);
}

async fn a_locked_room_refuses_viewers_and_rights_survive_a_reconnect(store: Store) {
    let server = spawn(store).await;
    let (id, secret) = hosted(&server).await;
    let mut host = Client::connect_as(&server, &id, &secret).await;
    let mut guest = Client::connect_as(&server, &id, &key(1)).await;
    let host_kid = host.kid.clone().expect("hello names the viewer");
    assert!(host.state.rights.is_owner(&host_kid));
    assert_ne!(guest.kid, host.kid);
    // Everyone controls by default.
    guest.command(Command::Pause { position: 3.0 }).await;
    state_where(&mut host, "the guest's pause", |s| s.position == 3.0).await;
    // A guest cannot lock; the host can.
    let seq = host_cmd(&mut guest, RightsCommand::Lock { locked: true }).await;
    assert_eq!(guest.next_error().await, (ErrorCode::Forbidden, Some(seq)));
    host_cmd(&mut host, RightsCommand::Lock { locked: true }).await;
    state_where(&mut guest, "the lock", |s| s.rights.locked).await;
    for cmd in [
        Command::Play { position: 3.0 },
        Command::Seek { position: 50.0 },
        Command::Rate { rate: 1.5 },
    ] {
        refused(&mut guest, cmd).await;
    }
    // Measurements are not control.
    let seq = guest.next_seq();
    guest
        .send(&ClientMsg::Duration {
            seq,
            seconds: 200.0,
            video_id: Some(common::video()),
        })
        .await;
    state_where(&mut host, "the guest's duration", |s| {
        s.duration == Some(200.0)
    })
    .await;
    // The host still controls; a reconnect with the same key keeps the rights.
    host.command(Command::Seek { position: 20.0 }).await;
    state_where(&mut guest, "the host's seek", |s| s.position == 20.0).await;
    drop(host);
    let mut host = Client::connect_as(&server, &id, &secret).await;
    assert_eq!(host.kid.as_ref(), Some(&host_kid));
    // Appoint the guest: it controls the locked room.
    let guest_kid = guest.kid.clone().expect("kid");
    host_cmd(
        &mut host,
        RightsCommand::Cohost {
            kid: guest_kid.clone(),
            on: true,
        },
    )
    .await;
    state_where(&mut guest, "the appointment", |s| {
        s.rights.cohosts.contains(&guest_kid)
    })
    .await;
    guest.command(Command::Seek { position: 30.0 }).await;
    state_where(&mut host, "the co-host's seek", |s| s.position == 30.0).await;
    // A co-host cannot appoint others nor take over.
    let seq = host_cmd(
        &mut guest,
        RightsCommand::HandOver {
            kid: guest_kid.clone(),
        },
    )
    .await;
    assert_eq!(guest.next_error().await, (ErrorCode::Forbidden, Some(seq)));
    // Hand over: the guest becomes the host, the old host a co-host.
    host_cmd(
        &mut host,
        RightsCommand::HandOver {
            kid: guest_kid.clone(),
        },
    )
    .await;
    state_where(&mut host, "the hand-over", |s| {
        s.rights.is_owner(&guest_kid)
    })
    .await;
    assert!(host.state.rights.cohosts.contains(&host_kid));
}

async fn a_removed_viewer_is_closed_and_cannot_rejoin(store: Store) {
    let server = spawn(store).await;
    let (id, secret) = hosted(&server).await;
    let mut host = Client::connect_as(&server, &id, &secret).await;
    let mut guest = Client::connect_as(&server, &id, &key(2)).await;
    let mut other = Client::connect_as(&server, &id, &key(3)).await;
    let guest_kid = guest.kid.clone().expect("kid");
    // A guest cannot remove anybody, and nobody removes the host.
    let other_kid = other.kid.clone().expect("kid");
    let seq = host_cmd(&mut guest, RightsCommand::Remove { kid: other_kid }).await;
    assert_eq!(guest.next_error().await, (ErrorCode::Forbidden, Some(seq)));
    let host_kid = host.kid.clone().expect("kid");
    let seq = host_cmd(&mut host, RightsCommand::Remove { kid: host_kid }).await;
    assert_eq!(host.next_error().await, (ErrorCode::Forbidden, Some(seq)));
    host_cmd(
        &mut host,
        RightsCommand::Remove {
            kid: guest_kid.clone(),
        },
    )
    .await;
    assert_eq!(
        guest.closed(Duration::from_secs(5)).await,
        Some(close::REMOVED)
    );
    // The same browser (key) is refused at once; another one is welcome.
    let ws = common::open_with_key(&server, id.as_str(), &key(2))
        .await
        .expect("upgrade");
    let mut again = RawClose(ws);
    assert_eq!(again.close_code().await, Some(close::REMOVED));
    let newcomer = Client::connect_as(&server, &id, &key(4)).await;
    assert!(newcomer
        .state
        .rights
        .is_removed(&guest_kid, common::wall_ms()));
    // The others stay.
    other.command(Command::Seek { position: 9.0 }).await;
    state_where(&mut host, "the other's seek", |s| s.position == 9.0).await;
}

/// A connection that must be closed before its `hello`.
struct RawClose(
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
);

impl RawClose {
    async fn close_code(&mut self) -> Option<u16> {
        use futures::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        loop {
            match tokio::time::timeout(Duration::from_secs(5), self.0.next()).await {
                Ok(Some(Ok(Message::Close(f)))) => return f.map(|f| u16::from(f.code)),
                Ok(Some(Ok(Message::Text(t)))) => panic!("a removed viewer got {t}"),
                Ok(Some(Ok(_))) => continue,
                other => panic!("no close: {other:?}"),
            }
        }
    }
}

async fn chat_line(c: &mut Client) -> watchparty_core::chat::ChatLine {
    loop {
        match c.recv().await {
            ServerMsg::Chat(line) => return line,
            ServerMsg::Error { code, message, .. } => panic!("error {code:?}: {message}"),
            _ => {}
        }
    }
}

async fn history(
    c: &mut Client,
) -> (
    Vec<watchparty_core::chat::ChatLine>,
    Vec<watchparty_core::chat::Reaction>,
) {
    loop {
        if let ServerMsg::History { chat, reactions } = c.recv().await {
            return (chat, reactions);
        }
    }
}

async fn chat_reaches_everyone_and_late_joiners_and_hosts_delete(store: Store) {
    let server = spawn(store).await;
    let (id, secret) = hosted(&server).await;
    let mut host = Client::connect_as(&server, &id, &secret).await;
    assert_eq!(history(&mut host).await, (vec![], vec![]));
    let mut ana = Client::connect_as(&server, &id, &key(5)).await;
    let seq = ana.next_seq();
    ana.send(&ClientMsg::Name {
        seq,
        name: "Ana".into(),
    })
    .await;
    host.command(Command::Seek { position: 42.0 }).await;
    state_where(&mut ana, "the seek", |s| s.position == 42.0).await;
    let seq = ana.next_seq();
    ana.send(&ClientMsg::Chat {
        seq,
        text: "  <b>hello</b>   there ".into(),
    })
    .await;
    let line = chat_line(&mut host).await;
    assert_eq!(line.name, "Ana");
    assert_eq!(line.text, "<b>hello</b> there");
    assert_eq!(line.at, 42.0);
    assert_eq!(Some(&line.kid), ana.kid.as_ref());
    assert_eq!(
        chat_line(&mut ana).await,
        line,
        "the sender gets its own line"
    );
    // A reaction at the sender's moment.
    let seq = ana.next_seq();
    ana.send(&ClientMsg::React {
        seq,
        emoji: "🔥".into(),
        at: 42.5,
    })
    .await;
    let reaction = loop {
        if let ServerMsg::Reaction(r) = host.recv().await {
            break r;
        }
    };
    assert_eq!((reaction.emoji.as_str(), reaction.at), ("🔥", 42.5));
    // A late joiner gets both.
    let mut late = Client::connect_as(&server, &id, &key(6)).await;
    assert_eq!(
        history(&mut late).await,
        (vec![line.clone()], vec![reaction])
    );
    // Only hosts delete.
    let seq = ana.next_seq();
    ana.send(&ClientMsg::DeleteChat { seq, id: line.id }).await;
    assert_eq!(ana.next_error().await, (ErrorCode::Forbidden, Some(seq)));
    let seq = host.next_seq();
    host.send(&ClientMsg::DeleteChat { seq, id: line.id }).await;
    for c in [&mut host, &mut ana, &mut late] {
        loop {
            match c.recv().await {
                ServerMsg::ChatDeleted { id } => {
                    assert_eq!(id, line.id);
                    break;
                }
                ServerMsg::Error { code, .. } => panic!("error {code:?}"),
                _ => {}
            }
        }
    }
    let seq = host.next_seq();
    host.send(&ClientMsg::DeleteChat { seq, id: line.id }).await;
    assert_eq!(host.next_error().await, (ErrorCode::UnknownItem, Some(seq)));
    let mut later = Client::connect_as(&server, &id, &key(7)).await;
    assert!(history(&mut later).await.0.is_empty());
}

async fn chat_and_reactions_are_validated_and_rate_limited(store: Store) {
    let mut settings = common::settings(store);
    settings.chat_burst = 3;
    settings.chat_per_sec = 0.1;
    settings.session_chat_burst = 4;
    settings.session_chat_per_sec = 0.1;
    settings.max_chat_chars = 20;
    let server = spawn_with(settings).await;
    let (id, _) = hosted(&server).await;
    let mut a = Client::connect_as(&server, &id, &key(8)).await;
    let mut b = Client::connect_as(&server, &id, &key(9)).await;
    for bad in ["", "   ", "x\u{0}y", "a\u{202E}b", &"x".repeat(21)] {
        let seq = a.next_seq();
        a.send(&ClientMsg::Chat {
            seq,
            text: bad.into(),
        })
        .await;
        assert_eq!(
            a.next_error().await,
            (ErrorCode::InvalidText, Some(seq)),
            "{bad:?}"
        );
    }
    for (emoji, at) in [("<script>", 0.0), ("🔥", 500.0), ("🔥", -1.0)] {
        let seq = a.next_seq();
        a.send(&ClientMsg::React {
            seq,
            emoji: emoji.into(),
            at,
        })
        .await;
        assert_eq!(
            a.next_error().await,
            (ErrorCode::InvalidText, Some(seq)),
            "{emoji} {at}"
        );
    }
    // Per connection: the burst (3), then rate_limited.
    for i in 0..3 {
        let seq = a.next_seq();
        a.send(&ClientMsg::Chat {
            seq,
            text: format!("a{i}"),
        })
        .await;
        assert_eq!(chat_line(&mut a).await.text, format!("a{i}"));
    }
    let seq = a.next_seq();
    a.send(&ClientMsg::Chat {
        seq,
        text: "a3".into(),
    })
    .await;
    assert_eq!(a.next_error().await, (ErrorCode::RateLimited, Some(seq)));
    // Per session (over all connections): 4 in all, so b gets one more, then rate_limited.
    let seq = b.next_seq();
    b.send(&ClientMsg::Chat {
        seq,
        text: "b0".into(),
    })
    .await;
    loop {
        if let ServerMsg::Chat(l) = b.recv().await {
            if l.text == "b0" {
                break;
            }
        }
    }
    let seq = b.next_seq();
    b.send(&ClientMsg::Chat {
        seq,
        text: "b1".into(),
    })
    .await;
    assert_eq!(b.next_error().await, (ErrorCode::RateLimited, Some(seq)));
    // Nothing refused was kept.
    let mut c = Client::connect_as(&server, &id, &key(10)).await;
    let texts: Vec<String> = history(&mut c)
        .await
        .0
        .into_iter()
        .map(|l| l.text)
        .collect();
    assert_eq!(texts, ["a0", "a1", "a2", "b0"]);
}

/// Two instances on one Redis: the lock set on one is enforced on the other, a removal on one
/// closes the viewer on the other, and chat crosses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_rights_removals_and_chat() {
    let a = spawn(Store::Redis).await;
    let b = spawn(Store::Redis).await;
    let (id, secret) = hosted(&a).await;
    let mut host = Client::connect_as(&a, &id, &secret).await;
    let mut guest = Client::connect_as(&b, &id, &key(11)).await;
    let mut third = Client::connect_as(&b, &id, &key(12)).await;
    host_cmd(&mut host, RightsCommand::Lock { locked: true }).await;
    state_where(&mut guest, "the lock on the other instance", |s| {
        s.rights.locked
    })
    .await;
    refused(&mut guest, Command::Play { position: 0.0 }).await;
    let seq = guest.next_seq();
    let sent = std::time::Instant::now();
    guest
        .send(&ClientMsg::Chat {
            seq,
            text: "from b".into(),
        })
        .await;
    assert_eq!(chat_line(&mut host).await.text, "from b");
    let chat_ms = sent.elapsed().as_secs_f64() * 1000.0;
    let kid: Kid = guest.kid.clone().expect("kid");
    let sent = std::time::Instant::now();
    host_cmd(&mut host, RightsCommand::Remove { kid }).await;
    assert_eq!(
        guest.closed(Duration::from_secs(5)).await,
        Some(close::REMOVED)
    );
    let removal_ms = sent.elapsed().as_secs_f64() * 1000.0;
    println!(
        "two instances: chat B -> A in {chat_ms:.1} ms; a removal on A closed the viewer on B after {removal_ms:.1} ms"
    );
    // The third viewer (same instance as the removed one) stays and is still refused control.
    state_where(&mut third, "the removal", |s| !s.rights.removed.is_empty()).await;
    refused(&mut third, Command::Pause { position: 1.0 }).await;
}
