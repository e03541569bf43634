//! The room's values in the page's words: the core decides what happened (a [`Notice`], who a
//! hold waits for, an import's counts, why the server refused something) and these functions
//! say it in the page's language, from the `notices` namespace of `app/locales`.
//!
//! A sentence about this viewer's own action has its own wording ("You paused", "Du hast
//! pausiert"): languages conjugate for "you", so the name is not simply swapped in.

use crate::i18n::{t_string, I18n};
use crate::lang::{decimal, fill, number};
use watchparty_core::hold::WaitingFor;
use watchparty_core::notices::{Notice, What, Who};
use watchparty_core::playlist::{ImportSummary, LeftOut};
use watchparty_core::protocol::ErrorCode;
use watchparty_core::queue::MAX_IMPORT_IDS;
use watchparty_core::room_view::together::ReadyTally;
use watchparty_core::video::format_offset;

/// The notice in the page's language.
pub fn notice(i18n: I18n, n: &Notice) -> String {
    let who = match &n.who {
        Who::You => None,
        Who::Viewer(Some(name)) => Some(name.as_str()),
        Who::Viewer(None) => Some(t_string!(i18n, notices.someone)),
        Who::Room => Some(t_string!(i18n, notices.the_room)),
    };
    // The sentence for "you" or for someone else, with `who` filled in.
    macro_rules! by {
        ($key:ident $(, $name:literal => $value:expr)*) => {{
            let template = match who {
                None => t_string!(i18n, notices.$key.you),
                Some(_) => t_string!(i18n, notices.$key.other),
            };
            fill(template, &[("who", who.unwrap_or_default()) $(, ($name, &$value))*])
        }};
    }
    let someone = who.unwrap_or_default();
    match &n.what {
        What::VideoChanged { video } => by!(video_changed, "video" => video),
        What::UpNext { video } => fill(t_string!(i18n, notices.up_next), &[("video", video)]),
        What::Played { at } => by!(played, "at" => format_offset(*at)),
        What::Paused { at } => by!(paused, "at" => format_offset(*at)),
        What::Speed { rate } => by!(speed, "rate" => decimal(i18n, *rate, 2)),
        What::Skipped { to } => by!(skipped, "to" => format_offset(*to)),
        What::AddedMany { count } => by!(added_many, "count" => number(i18n, u64::from(*count))),
        What::Added { video } => by!(added, "video" => video),
        What::Removed => by!(removed),
        What::Joined => fill(t_string!(i18n, notices.joined), &[("who", someone)]),
        What::Left => fill(t_string!(i18n, notices.left), &[("who", someone)]),
        What::ReadyAsked => by!(ready_asked),
        What::ReadyCancelled => by!(ready_cancelled),
        What::SkippedByVote { video } => fill(
            t_string!(i18n, notices.skipped_by_vote),
            &[("video", video)],
        ),
    }
}

/// "Waiting for Ana, Ben, Guest and 3 others".
pub fn waiting(i18n: I18n, w: &WaitingFor) -> String {
    let mut parts: Vec<String> = w
        .names
        .iter()
        .map(|n| {
            n.clone()
                .unwrap_or_else(|| t_string!(i18n, notices.guest).to_owned())
        })
        .collect();
    if w.others > 0 {
        let count = number(i18n, u64::from(w.others));
        let template = match (parts.is_empty(), w.others == 1) {
            (true, true) => t_string!(i18n, notices.waiting.viewers.one),
            (true, false) => t_string!(i18n, notices.waiting.viewers.other),
            (false, true) => t_string!(i18n, notices.waiting.others.one),
            (false, false) => t_string!(i18n, notices.waiting.others.other),
        };
        parts.push(fill(template, &[("count", &count)]));
    }
    let list = match parts.split_last() {
        None => return t_string!(i18n, notices.waiting.everyone).to_owned(),
        Some((only, [])) => only.clone(),
        Some((last, rest)) => fill(
            t_string!(i18n, notices.waiting.last),
            &[
                (
                    "list",
                    &rest.join(t_string!(i18n, notices.waiting.separator)),
                ),
                ("last", last),
            ],
        ),
    };
    fill(
        t_string!(i18n, notices.waiting.sentence),
        &[("list", &list)],
    )
}

/// "2 of 3 ready".
pub fn ready_tally(i18n: I18n, t: &ReadyTally) -> String {
    fill(
        t_string!(i18n, notices.ready_tally),
        &[("ready", &t.ready.to_string()), ("of", &t.of.to_string())],
    )
}

/// The vote button's label, "Skip (2/5)", from [`watchparty_core::room_view::together::vote_share`].
pub fn skip_label(i18n: I18n, (votes, of): (usize, u32)) -> String {
    fill(
        t_string!(i18n, notices.skip_label),
        &[("votes", &votes.to_string()), ("of", &of.to_string())],
    )
}

/// The vote's notice, "2 of 5 voted to skip"; `None` before the first vote.
pub fn skip_notice(i18n: I18n, (votes, of): (usize, u32)) -> Option<String> {
    (votes > 0).then(|| {
        fill(
            t_string!(i18n, notices.skip_notice),
            &[("votes", &votes.to_string()), ("of", &of.to_string())],
        )
    })
}

/// "Added 3 videos", or "Added 97 videos, left out 23 (the queue is full)".
pub fn imported(i18n: I18n, s: ImportSummary) -> String {
    let template = if s.added == 1 {
        t_string!(i18n, notices.imported.added.one)
    } else {
        t_string!(i18n, notices.imported.added.other)
    };
    let added = fill(template, &[("count", &number(i18n, u64::from(s.added)))]);
    let Some((left, why)) = s.left_out else {
        return added;
    };
    let template = match why {
        LeftOut::QueueFull => t_string!(i18n, notices.imported.queue_full),
        LeftOut::ImportCap => t_string!(i18n, notices.imported.import_cap),
    };
    fill(
        template,
        &[
            ("added", &added),
            ("left", &number(i18n, u64::from(left))),
            ("max", &MAX_IMPORT_IDS.to_string()),
        ],
    )
}

/// The aggregate line of a big room: "9,812 of 10,000 in sync".
pub fn in_sync(i18n: I18n, in_sync: u64, total: u64) -> String {
    fill(
        t_string!(i18n, notices.in_sync),
        &[
            ("in_sync", &number(i18n, in_sync)),
            ("total", &number(i18n, total)),
        ],
    )
}

/// Why the server refused a request, in the page's words (every code has its sentence: the
/// server's own message is English and for logs).
pub fn refused(i18n: I18n, code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::BadMessage => t_string!(i18n, notices.refused.bad_message),
        ErrorCode::TooLarge => t_string!(i18n, notices.refused.too_large),
        ErrorCode::RateLimited => t_string!(i18n, notices.refused.rate_limited),
        ErrorCode::InvalidValue => t_string!(i18n, notices.refused.invalid_value),
        ErrorCode::Stale => t_string!(i18n, notices.refused.stale),
        ErrorCode::UnknownSession => t_string!(i18n, notices.refused.unknown_session),
        ErrorCode::Unavailable => t_string!(i18n, notices.refused.unavailable),
        ErrorCode::UnknownItem => t_string!(i18n, notices.refused.unknown_item),
        ErrorCode::QueueFull => t_string!(i18n, notices.refused.queue_full),
        ErrorCode::InvalidName => t_string!(i18n, notices.refused.invalid_name),
        ErrorCode::Forbidden => t_string!(i18n, notices.refused.forbidden),
        ErrorCode::InvalidText => t_string!(i18n, notices.refused.invalid_text),
        ErrorCode::RoomPlaying => t_string!(i18n, notices.refused.room_playing),
        ErrorCode::VoteSkipOff => t_string!(i18n, notices.refused.vote_skip_off),
        ErrorCode::NothingToSkip => t_string!(i18n, notices.refused.nothing_to_skip),
        ErrorCode::PermanentLimit => t_string!(i18n, notices.refused.permanent_limit),
        ErrorCode::NameTaken => t_string!(i18n, notices.refused.name_taken),
        ErrorCode::InvalidRoomName => t_string!(i18n, notices.refused.invalid_room_name),
        ErrorCode::ReservedRoomName => t_string!(i18n, notices.refused.reserved_room_name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{use_i18n, Locale};
    use leptos::prelude::Owner;

    /// Runs `f` with an English and then a German page.
    fn in_both(f: impl Fn(I18n) -> String) -> (String, String) {
        Owner::new().with(|| {
            let i18n = use_i18n();
            let en = f(i18n);
            i18n.set_locale(Locale::de);
            (en, f(i18n))
        })
    }

    fn said(who: Who, what: What) -> (String, String) {
        in_both(|i18n| {
            notice(
                i18n,
                &Notice {
                    who: who.clone(),
                    what: what.clone(),
                },
            )
        })
    }

    #[test]
    fn notices_name_who_and_conjugate_for_you() {
        let ana = || Who::Viewer(Some("Ana".into()));
        assert_eq!(
            said(ana(), What::Paused { at: 751.0 }),
            (
                "Ana paused at 12:31".into(),
                "Ana hat bei 12:31 pausiert".into()
            )
        );
        assert_eq!(
            said(Who::You, What::Played { at: 0.0 }),
            (
                "You played from 0:00".into(),
                "Du hast ab 0:00 abgespielt".into()
            )
        );
        assert_eq!(
            said(Who::Viewer(None), What::Skipped { to: 3730.0 }).0,
            "Someone skipped to 1:02:10"
        );
        assert_eq!(
            said(ana(), What::Speed { rate: 1.5 }),
            (
                "Ana changed the speed to 1.5×".into(),
                "Ana hat die Geschwindigkeit auf 1,5× gestellt".into()
            )
        );
        assert_eq!(
            said(
                Who::Room,
                What::UpNext {
                    video: "Gangnam Style".into()
                }
            )
            .0,
            "Up next: Gangnam Style"
        );
        assert_eq!(said(ana(), What::Joined).1, "Ana ist dazugekommen");
        assert_eq!(
            said(ana(), What::AddedMany { count: 1200 }).1,
            "Ana hat 1.200 Videos zur Warteschlange hinzugefügt"
        );
        // A name that looks like a placeholder stays a name.
        assert_eq!(
            said(
                Who::Viewer(Some("{video}".into())),
                What::Added { video: "X".into() }
            )
            .0,
            "{video} added X to the queue"
        );
    }

    #[test]
    fn who_the_room_waits_for_in_words() {
        let w = |names: &[Option<&str>], others| WaitingFor {
            names: names.iter().map(|n| n.map(str::to_owned)).collect(),
            others,
        };
        let say = |x: WaitingFor| in_both(move |i18n| waiting(i18n, &x));
        assert_eq!(say(w(&[Some("Ana")], 0)).0, "Waiting for Ana");
        assert_eq!(
            say(w(&[Some("Ana"), Some("Ben")], 0)),
            (
                "Waiting for Ana and Ben".into(),
                "Warten auf Ana und Ben".into()
            )
        );
        assert_eq!(
            say(w(&[Some("Ana"), None, Some("Cara")], 3)),
            (
                "Waiting for Ana, Guest, Cara and 3 others".into(),
                "Warten auf Ana, Gast, Cara und 3 weitere".into()
            )
        );
        assert_eq!(say(w(&[Some("Ana")], 1)).0, "Waiting for Ana and 1 other");
        assert_eq!(say(w(&[], 2)).0, "Waiting for 2 viewers");
        assert_eq!(say(w(&[], 0)).0, "Waiting for everyone to be ready");
    }

    #[test]
    fn counts_in_words() {
        let tally = ReadyTally {
            ready: 1,
            of: 2,
            complete: true,
        };
        assert_eq!(
            in_both(|i18n| ready_tally(i18n, &tally)),
            ("1 of 2 ready".into(), "1 von 2 bereit".into())
        );
        assert_eq!(in_both(|i18n| skip_label(i18n, (2, 5))).0, "Skip (2/5)");
        assert_eq!(
            in_both(|i18n| skip_notice(i18n, (0, 5)).unwrap_or_default()).0,
            ""
        );
        assert_eq!(
            in_both(|i18n| skip_notice(i18n, (1, 3)).unwrap_or_default()).0,
            "1 of 3 voted to skip"
        );
        assert_eq!(
            in_both(|i18n| in_sync(i18n, 9_812, 10_000)),
            (
                "9,812 of 10,000 in sync".into(),
                "9.812 von 10.000 synchron".into()
            )
        );
    }

    #[test]
    fn import_summaries_in_words() {
        let s = |added, left_out| {
            in_both(move |i18n| imported(i18n, ImportSummary { added, left_out })).0
        };
        assert_eq!(s(3, None), "Added 3 videos");
        assert_eq!(s(1, None), "Added 1 video");
        assert_eq!(
            s(97, Some((23, LeftOut::QueueFull))),
            "Added 97 videos, left out 23 (the queue is full)"
        );
        assert_eq!(
            s(200, Some((50, LeftOut::ImportCap))),
            "Added 200 videos, left out 50 (at most 200 videos per import)"
        );
    }

    #[test]
    fn every_refusal_has_its_sentence() {
        let (en, de) = in_both(|i18n| refused(i18n, ErrorCode::ReservedRoomName).to_owned());
        assert!(en.contains("reserved"), "{en}");
        assert!(de.contains("reserviert"), "{de}");
    }
}
