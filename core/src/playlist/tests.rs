//! Playlist links, the import slice and sentences, and the queue's import rule.

use super::*;
use crate::queue::{ItemId, Queue, QueueEdit, QueueError};
use proptest::prelude::*;

const L: &str = "PLrAXtmErZgOeiKm4sgNOknGvNjby9efdf";
const X: &str = "dQw4w9WgXcQ";

fn vid(i: usize) -> VideoId {
    VideoId::parse(&format!("vid{i:08}")).unwrap()
}

fn playlist(input: &str) -> PlaylistRef {
    match parse_queue_input(input) {
        Ok(QueueInput::Playlist(p)) => p,
        other => panic!("{input:?}: {other:?}"),
    }
}

#[test]
fn playlist_links_of_every_form() {
    let x = VideoId::parse(X).unwrap();
    for input in [
        format!("https://www.youtube.com/playlist?list={L}"),
        format!("youtube.com/playlist?list={L}"),
        format!("https://m.youtube.com/playlist?list={L}&si=abc"),
        format!("https://music.youtube.com/playlist?list={L}#x"),
        format!("HTTPS://WWW.YOUTUBE.COM/playlist/?feature=share&list={L}"),
        format!("https://www.youtube.com/embed/videoseries?list={L}"),
        format!("  //www.youtube.com./playlist?list={L}\n"),
    ] {
        let p = playlist(&input);
        assert_eq!((p.list.as_str(), p.from), (L, None), "{input}");
    }
    for input in [
        format!("https://www.youtube.com/watch?v={X}&list={L}"),
        format!("https://www.youtube.com/watch?list={L}&v={X}&index=3&t=90"),
        format!("https://m.youtube.com/watch?v={X}&list={L}"),
        format!("https://music.youtube.com/watch?v={X}&list={L}"),
        format!("https://youtu.be/{X}?list={L}"),
        format!("youtu.be/{X}?si=q&list={L}"),
    ] {
        let p = playlist(&input);
        assert_eq!((p.list.as_str(), p.from), (L, Some(x)), "{input}");
    }
}

#[test]
fn videos_mixes_and_bad_lists() {
    // No list: a video, as before.
    assert!(matches!(
        parse_queue_input(X),
        Ok(QueueInput::Video(v)) if v.id.as_str() == X
    ));
    // A Mix on a watch link: the video alone; a Mix's own link: refused.
    let mix = format!("https://www.youtube.com/watch?v={X}&list=RD{X}&start_radio=1");
    assert!(matches!(parse_queue_input(&mix), Ok(QueueInput::Video(v)) if v.id.as_str() == X));
    assert_eq!(
        parse_queue_input("https://www.youtube.com/playlist?list=RDabcdefghijk"),
        Err(QueueInputError::Mix)
    );
    for bad in [
        "https://www.youtube.com/playlist?list=",
        "https://www.youtube.com/playlist?list=a",
        "https://www.youtube.com/playlist?list=PL%3Cscript",
        &format!("https://www.youtube.com/playlist?list={}", "P".repeat(65)),
        &format!("https://www.youtube.com/watch?v={X}&list=PL.bad"),
    ] {
        assert_eq!(
            parse_queue_input(bad),
            Err(QueueInputError::BadList),
            "{bad}"
        );
    }
    // Other sites and broken links are the video parser's errors.
    assert_eq!(
        parse_queue_input(&format!("https://evil.com/playlist?list={L}")),
        Err(QueueInputError::Video(VideoInputError::NotYouTube))
    );
    assert_eq!(
        parse_queue_input(&format!("https://youtube.com@evil.com/playlist?list={L}")),
        Err(QueueInputError::Video(VideoInputError::NotYouTube))
    );
    assert_eq!(
        parse_queue_input(&format!("https://www.youtube.com/watch?list={L}")),
        Err(QueueInputError::Video(VideoInputError::NoVideo))
    );
    assert_eq!(
        parse_queue_input(&format!("ftp://www.youtube.com/playlist?list={L}")),
        Err(QueueInputError::Video(VideoInputError::NotYouTube))
    );
    let long = format!(
        "https://www.youtube.com/playlist?list={L}&x={}",
        "a".repeat(3000)
    );
    assert_eq!(
        parse_queue_input(&long),
        Err(QueueInputError::Video(VideoInputError::TooLong))
    );
}

#[test]
fn the_slice_starts_at_the_links_video_and_is_bounded() {
    let ids: Vec<VideoId> = (0..5).map(vid).collect();
    assert_eq!(import_slice(&ids, None), (&ids[..], 0));
    assert_eq!(import_slice(&ids, Some(vid(2))), (&ids[2..], 0));
    assert_eq!(import_slice(&ids, Some(vid(9))), (&ids[..], 0));
    let many: Vec<VideoId> = (0..250).map(vid).collect();
    let (sent, cut) = import_slice(&many, Some(vid(10)));
    assert_eq!((sent.len(), cut), (MAX_IMPORT_IDS, 40));
    assert_eq!(sent[0], vid(10));
}

#[test]
fn summaries() {
    let s = |added, left_out, cut| summary(Imported { added, left_out }, cut);
    let said = |added, left_out| ImportSummary { added, left_out };
    assert_eq!(s(3, 0, 0), said(3, None));
    assert_eq!(s(97, 23, 0), said(97, Some((23, LeftOut::QueueFull))));
    assert_eq!(s(200, 0, 50), said(200, Some((50, LeftOut::ImportCap))));
    assert_eq!(s(100, 100, 50), said(100, Some((150, LeftOut::QueueFull))));
}

fn import(n: usize, from: usize) -> QueueEdit {
    QueueEdit::Import {
        video_ids: (from..from + n).map(vid).collect(),
    }
}

#[test]
fn import_appends_in_order_up_to_the_cap() {
    let mut q = Queue::default();
    q.apply(
        &QueueEdit::Add {
            video_id: vid(99),
            start: 5.0,
        },
        10,
    )
    .unwrap();
    assert_eq!(q.apply(&import(3, 0), 10), Ok(true));
    let videos: Vec<_> = q.items.iter().map(|i| i.video_id).collect();
    assert_eq!(videos, [vid(99), vid(0), vid(1), vid(2)]);
    assert_eq!(
        q.items.iter().map(|i| i.id).collect::<Vec<_>>(),
        [0, 1, 2, 3].map(ItemId)
    );
    assert_eq!(
        q.imported,
        Some(Imported {
            added: 3,
            left_out: 0
        })
    );
    assert_eq!(q.apply(&import(9, 10), 10), Ok(true));
    assert_eq!(q.items.len(), 10);
    assert_eq!(q.items[9].video_id, vid(15));
    assert_eq!(
        q.imported,
        Some(Imported {
            added: 6,
            left_out: 3
        })
    );
    // Full: an error, nothing changed.
    let before = q.clone();
    assert_eq!(q.apply(&import(1, 0), 10), Err(QueueError::Full(10)));
    assert_eq!(q, before);
    // Any other change of the queue forgets the counts.
    q.apply(&QueueEdit::Remove { item: ItemId(0) }, 10).unwrap();
    assert_eq!(q.imported, None);
    // Empty and oversized imports are refused.
    let before = q.clone();
    assert_eq!(q.apply(&import(0, 0), 100), Err(QueueError::BadImport));
    assert_eq!(
        q.apply(&import(MAX_IMPORT_IDS + 1, 0), 1000),
        Err(QueueError::BadImport)
    );
    assert_eq!(q, before);
}

#[test]
fn an_import_message_of_the_largest_size_fits_a_frame() {
    use crate::protocol::{ClientMsg, MAX_CLIENT_FRAME};
    let msg = ClientMsg::Queue {
        seq: u32::MAX,
        edit: import(MAX_IMPORT_IDS, 0),
    };
    let text = serde_json::to_string(&msg).unwrap();
    assert!(text.len() < MAX_CLIENT_FRAME, "{}", text.len());
    assert_eq!(serde_json::from_str::<ClientMsg>(&text).unwrap(), msg);
    assert!(text.contains(r#""edit":{"op":"import","video_ids":["vid00000000","#));
}

proptest! {
    /// The parser never panics, and what it accepts as a playlist has a valid id.
    #[test]
    fn never_panics(input in ".{0,300}", tail in "[A-Za-z0-9_=&?/.:-]{0,80}") {
        for s in [input.clone(), format!("https://www.youtube.com/playlist?list={tail}"), format!("youtu.be/{input}?list={tail}")] {
            if let Ok(QueueInput::Playlist(p)) = parse_queue_input(&s) {
                prop_assert!(PlaylistId::parse(p.list.as_str()).is_ok());
                prop_assert!(!p.list.is_mix());
            }
        }
    }

    /// Imports racing each other and single adds, applied in any order the store picks: every
    /// accepted edit lands whole-or-capped, counts are exact, each import's videos stay
    /// together and in order, and the cap holds.
    #[test]
    fn concurrent_imports_and_adds_all_survive(
        sizes in proptest::collection::vec(0usize..6, 1..5),
        start in 0usize..4,
        cap in 1usize..20,
    ) {
        let mut q = Queue::default();
        for i in 0..start.min(cap) {
            q.apply(&QueueEdit::Add { video_id: vid(1000 + i), start: 0.0 }, cap).unwrap();
        }
        for (k, n) in sizes.iter().enumerate() {
            let before = q.clone();
            let edit = if *n == 0 {
                QueueEdit::Add { video_id: vid(500 + k), start: 0.0 }
            } else {
                import(*n, k * 10)
            };
            match q.apply(&edit, cap) {
                Ok(changed) => {
                    prop_assert!(changed);
                    let added = q.items.len() - before.items.len();
                    prop_assert!(added >= 1);
                    prop_assert_eq!(&q.items[..before.items.len()], &before.items[..]);
                    if *n > 0 {
                        prop_assert_eq!(added, (*n).min(cap - before.items.len()));
                        prop_assert_eq!(q.imported, Some(Imported { added: added as u32, left_out: (*n - added) as u32 }));
                        let got: Vec<_> = q.items[before.items.len()..].iter().map(|i| i.video_id).collect();
                        let want: Vec<_> = (k * 10..k * 10 + added).map(vid).collect();
                        prop_assert_eq!(got, want);
                    } else {
                        prop_assert_eq!(q.imported, None);
                    }
                }
                Err(e) => {
                    prop_assert_eq!(e, QueueError::Full(cap));
                    prop_assert_eq!(before.items.len(), cap);
                    prop_assert_eq!(&q, &before);
                }
            }
            prop_assert!(q.items.len() <= cap);
        }
    }
}

/// The importing page learns the counts from the echo of its own import (matched by seq),
/// not from another viewer's import or a later echo; a refusal forgets the import.
#[test]
fn the_page_learns_the_counts_from_its_own_echo() {
    use crate::playback::PlaybackState;
    use crate::protocol::{Cause, ServerMsg};
    use crate::room_view::{RoomView, ViewEvent};
    use crate::sync::Engine;
    let s = PlaybackState::new(vid(0), 10.0, 1_000.0);
    let mut engine = Engine::new(Some(s.clone()));
    let hello = ServerMsg::Hello {
        conn_id: 7,
        session_id: crate::ids::SessionId::parse("abcDEF012345").unwrap(),
        server_time: 1_000.0,
        state: s.clone(),
        viewers: 1,
        kid: None,
    };
    engine.on_message(1_000.0, hello, None);
    let mut view = RoomView::new();
    let msg = view.import((0..3).map(vid).collect(), 5);
    let crate::protocol::ClientMsg::Queue { seq, edit } = msg else {
        panic!("{msg:?}")
    };
    let mut next = s.clone();
    next.queue.apply(&edit, 2).unwrap();
    next.revision += 1;
    let echo = |conn_id, seq| ServerMsg::State {
        state: next.clone(),
        cause: Some(Cause { conn_id, seq }),
    };
    let imported = |out: crate::room_view::Output| {
        out.events
            .into_iter()
            .filter(|e| matches!(e, ViewEvent::Imported(_)))
            .collect::<Vec<_>>()
    };
    // Someone else's change with the same seq: not ours.
    assert!(imported(view.on_message(echo(8, seq), &engine)).is_empty());
    assert_eq!(
        imported(view.on_message(echo(7, seq), &engine)),
        [ViewEvent::Imported(ImportSummary {
            added: 2,
            left_out: Some((6, LeftOut::QueueFull))
        })]
    );
    // Told once.
    assert!(imported(view.on_message(echo(7, seq), &engine)).is_empty());
    // A refused import is forgotten (its error is the queue's error).
    let msg = view.import(vec![vid(0)], 0);
    let crate::protocol::ClientMsg::Queue { seq, .. } = msg else {
        panic!()
    };
    let refused = ServerMsg::Error {
        code: crate::protocol::ErrorCode::QueueFull,
        message: "the queue is full (2 items)".into(),
        seq: Some(seq),
    };
    let out = view.on_message(refused, &engine);
    assert_eq!(
        out.events,
        [ViewEvent::RoomError(crate::protocol::ErrorCode::QueueFull)]
    );
    assert!(imported(view.on_message(echo(7, seq), &engine)).is_empty());
}
