//! What the page shows of the room's settings, the ready check and vote to skip (see
//! [`crate::ready_skip`]): the [`ViewEvent::Together`] the room view emits when they change,
//! and the pure facts and words the page's components show ("2 of 3 ready", "Skip (2/5)").
//!
//! Decisions: hosts ask "Everyone ready?" and start, so a ready check waits for the listed
//! viewers who are not hosts; "everyone" is ready only when the room's list names every viewer
//! in the room (a room bigger than the list shows "Start anyway"). The vote shows the votes
//! against the viewers in the room (the server's count).

use super::{Output, RoomView, ViewEvent};
use crate::notices::Author;
use crate::playback::PlaybackState;
use crate::ready_skip::ReadySkip;
use crate::rights::{Kid, Rights};
use crate::roster::Member;

/// Where a ready check stands: `ready` of the `of` viewers it waits for said they are ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadyTally {
    /// Viewers who said they are ready.
    pub ready: usize,
    /// Viewers the check waits for (listed, not hosts).
    pub of: usize,
    /// Every viewer in the room is listed (else "everyone" cannot be known).
    pub complete: bool,
}

impl ReadyTally {
    /// The open check's tally over the listed `members` (`viewers` in the room); `None`
    /// without an open check.
    pub fn of(rs: &ReadySkip, rights: &Rights, members: &[Member], viewers: u32) -> Option<Self> {
        rs.check.as_ref()?;
        let waited: Vec<&Member> = members
            .iter()
            .filter(|m| !m.kid.as_ref().is_some_and(|k| rights.is_host(k)))
            .collect();
        let ready = waited
            .iter()
            .filter(|m| m.kid.as_ref().is_some_and(|k| rs.is_ready(k)))
            .count();
        Some(Self {
            ready,
            of: waited.len(),
            complete: members.len() >= viewers as usize,
        })
    }

    /// Everyone the check waits for is ready (the host's button says "Start").
    pub fn everyone(&self) -> bool {
        self.complete && self.ready == self.of
    }

    /// "2 of 3 ready".
    pub fn text(&self) -> String {
        format!("{} of {} ready", self.ready, self.of)
    }
}

/// Should a row show a ready mark, and which: `None` without a check or for a host's row.
pub fn row_ready(rs: &ReadySkip, rights: &Rights, kid: Option<&Kid>) -> Option<bool> {
    rs.check.as_ref()?;
    match kid {
        Some(k) if rights.is_host(k) => None,
        Some(k) => Some(rs.is_ready(k)),
        None => Some(false),
    }
}

/// The vote button's label: "Skip (2/5)".
pub fn skip_label(votes: usize, viewers: u32) -> String {
    format!("Skip ({votes}/{})", viewers.max(1))
}

/// The vote's notice: "2 of 5 voted to skip" (`None` before the first vote).
pub fn skip_notice(votes: usize, viewers: u32) -> Option<String> {
    (votes > 0).then(|| format!("{votes} of {} voted to skip", viewers.max(1)))
}

/// The notice for a change of the ready check or a skip by vote ("Ana asked: everyone
/// ready?", "Ana cancelled the ready check", "Skipped by vote: up next …"); `None` for every
/// other change (then [`crate::notices::describe`] speaks).
pub fn notice(prev: &PlaybackState, next: &PlaybackState, who: Author<'_>) -> Option<String> {
    if next.revision <= prev.revision {
        return None;
    }
    let w = match who {
        Author::You => "You",
        Author::Viewer(n) => n,
        Author::Server => "The room",
    };
    if next.ready_skip.by_vote {
        return Some(format!("Skipped by vote: up next {}", next.video_id));
    }
    match (&prev.ready_skip.check, &next.ready_skip.check) {
        (None, Some(_)) => Some(format!("{w} asked: everyone ready?")),
        // A check that ends without playback starting was cancelled.
        (Some(_), None) if !next.playing => Some(format!("{w} cancelled the ready check")),
        _ => None,
    }
}

impl RoomView {
    /// Tells the page when the settings, the ready check or the votes changed.
    pub(super) fn observe_together(&mut self, s: &PlaybackState, out: &mut Output) {
        let now = (s.settings, s.ready_skip.clone());
        if self.told_together.as_ref() != Some(&now) {
            self.told_together = Some(now.clone());
            out.events.push(ViewEvent::Together(now.0, now.1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ready_skip::ReadyCheck;

    fn kid(i: usize) -> Kid {
        Kid::parse(&format!("{i:032x}")).unwrap()
    }

    fn member(i: usize) -> Member {
        Member {
            id: i as u64,
            name: None,
            status: None,
            since: i as u64,
            kid: Some(kid(i)),
        }
    }

    #[test]
    fn the_check_waits_for_the_listed_viewers_who_are_not_hosts() {
        let rights = Rights::owned_by(kid(0));
        let members: Vec<_> = (0..3).map(member).collect();
        let mut rs = ReadySkip::default();
        assert_eq!(ReadyTally::of(&rs, &rights, &members, 3), None);
        assert_eq!(row_ready(&rs, &rights, Some(&kid(1))), None);
        rs.check = Some(ReadyCheck {
            ready: vec![kid(1)],
        });
        let t = ReadyTally::of(&rs, &rights, &members, 3).unwrap();
        assert_eq!((t.ready, t.of, t.everyone()), (1, 2, false));
        assert_eq!(t.text(), "1 of 2 ready");
        assert_eq!(row_ready(&rs, &rights, Some(&kid(0))), None);
        assert_eq!(row_ready(&rs, &rights, Some(&kid(1))), Some(true));
        assert_eq!(row_ready(&rs, &rights, Some(&kid(2))), Some(false));
        rs.check = Some(ReadyCheck {
            ready: vec![kid(2), kid(1)],
        });
        assert!(ReadyTally::of(&rs, &rights, &members, 3)
            .unwrap()
            .everyone());
        // A room bigger than its list: "everyone" cannot be known.
        assert!(!ReadyTally::of(&rs, &rights, &members, 4)
            .unwrap()
            .everyone());
    }

    #[test]
    fn notices_for_the_check_and_a_skip_by_vote() {
        let s = PlaybackState::new(crate::ids::VideoId::parse("dQw4w9WgXcQ").unwrap(), 0.0, 0.0);
        let mut open = PlaybackState {
            revision: 2,
            ..s.clone()
        };
        open.ready_skip.check = Some(ReadyCheck::default());
        let who = Author::Viewer("Ana");
        assert_eq!(
            notice(&s, &open, who).as_deref(),
            Some("Ana asked: everyone ready?")
        );
        let cancelled = PlaybackState {
            revision: 3,
            ..s.clone()
        };
        assert_eq!(
            notice(&open, &cancelled, Author::You).as_deref(),
            Some("You cancelled the ready check")
        );
        // Ended by a play: the play's own notice speaks.
        let played = PlaybackState {
            revision: 3,
            playing: true,
            ..s.clone()
        };
        assert_eq!(notice(&open, &played, who), None);
        let mut skipped = PlaybackState {
            revision: 3,
            ..open.clone()
        };
        skipped.ready_skip.by_vote = true;
        assert_eq!(
            notice(&open, &skipped, who).as_deref(),
            Some("Skipped by vote: up next dQw4w9WgXcQ")
        );
        assert_eq!(notice(&skipped, &skipped, who), None);
    }

    #[test]
    fn skip_words() {
        assert_eq!(skip_label(2, 5), "Skip (2/5)");
        assert_eq!(skip_label(0, 0), "Skip (0/1)");
        assert_eq!(skip_notice(0, 5), None);
        assert_eq!(skip_notice(1, 3).as_deref(), Some("1 of 3 voted to skip"));
    }
}
