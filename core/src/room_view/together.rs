//! What the page shows of the room's settings, the ready check and vote to skip (see
//! [`crate::ready_skip`]): the [`ViewEvent::Together`] the room view emits when they change,
//! and the pure facts the page's components put into words (2 of 3 ready, skip 2/5).
//!
//! Decisions: hosts ask "Everyone ready?" and start, so a ready check waits for the listed
//! viewers who are not hosts; "everyone" is ready only when the room's list names every viewer
//! in the room (a room bigger than the list shows "Start anyway"). The vote shows the votes
//! against the viewers in the room (the server's count).

use super::{Output, RoomView, ViewEvent};
use crate::notices::{Author, Notice, What};
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

/// Where the vote to skip stands, as the button and its notice show it (skip 2/5, "2 of 5
/// voted to skip"): `votes` of `of` viewers, `of` at least 1 (a page may not have the count
/// yet).
pub fn vote_share(votes: usize, viewers: u32) -> (usize, u32) {
    (votes, viewers.max(1))
}

/// The notice for a change of the ready check or a skip by vote (Ana asked: everyone ready?,
/// Ana cancelled the ready check, skipped by vote: up next …); `None` for every other change
/// (then [`crate::notices::describe`] speaks). A skip by vote is the room's doing.
pub fn notice(prev: &PlaybackState, next: &PlaybackState, who: Author<'_>) -> Option<Notice> {
    if next.revision <= prev.revision {
        return None;
    }
    if next.ready_skip.by_vote {
        let video = next.video_id.to_string();
        return Some(Notice::new(Author::Server, What::SkippedByVote { video }));
    }
    match (&prev.ready_skip.check, &next.ready_skip.check) {
        (None, Some(_)) => Some(Notice::new(who, What::ReadyAsked)),
        // A check that ends without playback starting was cancelled.
        (Some(_), None) if !next.playing => Some(Notice::new(who, What::ReadyCancelled)),
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
        let who = Author::Viewer(Some("Ana"));
        assert_eq!(
            notice(&s, &open, who),
            Some(Notice::new(who, What::ReadyAsked))
        );
        let cancelled = PlaybackState {
            revision: 3,
            ..s.clone()
        };
        assert_eq!(
            notice(&open, &cancelled, Author::You),
            Some(Notice::new(Author::You, What::ReadyCancelled))
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
            notice(&open, &skipped, who),
            Some(Notice::new(
                Author::Server,
                What::SkippedByVote {
                    video: "dQw4w9WgXcQ".into()
                }
            ))
        );
        assert_eq!(notice(&skipped, &skipped, who), None);
    }

    #[test]
    fn the_vote_counts_at_least_one_viewer() {
        assert_eq!(vote_share(2, 5), (2, 5));
        assert_eq!(vote_share(0, 0), (0, 1));
    }
}
