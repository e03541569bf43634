//! Telling a YouTube ad from the content, from the player's readings alone (issue 25).
//!
//! The IFrame API never announces an ad. What developers report of the real embed, and what the
//! stand-in models (docs/test-hooks.md): while an ad plays the player says PLAYING,
//! `getDuration()` is the **ad's** length, `getCurrentTime()` is the ad's clock or the frozen
//! content position, and seeks and rate changes do nothing; afterwards the player goes through
//! UNSTARTED and the content starts where it was.
//!
//! The one reading an ad cannot hide is the duration: a video's length does not change while it
//! plays (live streams are refused at creation). So:
//!
//! * the **content duration** is learned from a reading taken while the player is fresh
//!   (UNSTARTED/CUED: no ad can be playing yet), else taken from the room (the longest
//!   duration any viewer reported, which an ad cannot shorten), else from the first reading
//!   while playing outside an ad;
//! * a reading while the player is started (PLAYING, PAUSED, BUFFERING) whose duration differs
//!   from it by more than [`AD_DURATION_TOLERANCE`] is **an ad**;
//! * the ad is **over** when the player is fresh again (the UNSTARTED after it) or reports the
//!   content duration again.
//!
//! While an ad plays, nothing the player does is a person's action on the room: the engine
//! sends no command and no duration, makes no correction and does not drive the player (it
//! would ignore it anyway); afterwards the viewer rejoins as a late joiner does. When nothing is
//! known of the content before an ad (a preroll on a player that says 0 until it starts, in a
//! room that does not know the length yet), the ad cannot be told from a short video: that is
//! why the room's end needs a player's ENDED ([`crate::protocol::ClientMsg::Ended`]), which an
//! ad never reports, and not only its clock reaching a reported duration.

use super::{PlayerState, Reading};

/// A duration this far (s) from the content's is an ad's.
pub const AD_DURATION_TOLERANCE: f64 = 1.0;

/// What a reading changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdChange {
    /// Nothing.
    None,
    /// An ad started.
    Started,
    /// The ad is over: the content is back.
    Ended,
}

/// Watches one video's readings for ads.
#[derive(Clone, Debug, Default)]
pub struct AdWatch {
    content: Option<f64>,
    in_ad: bool,
    ads: u32,
}

impl AdWatch {
    /// A watch for a newly loaded video.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the video (another one was loaded).
    pub fn reset(&mut self) {
        self.content = None;
        self.in_ad = false;
    }

    /// Whether an ad is playing (or paused) now.
    pub fn in_ad(&self) -> bool {
        self.in_ad
    }

    /// Ads seen so far.
    pub fn ads(&self) -> u32 {
        self.ads
    }

    /// The content's duration as this watch knows it (s).
    pub fn content_duration(&self) -> Option<f64> {
        self.content
    }

    /// Takes one reading; `room_duration` is the room's known duration of this video.
    pub fn observe(&mut self, r: &Reading, room_duration: Option<f64>) -> AdChange {
        let d = r.duration;
        let known = d.is_finite() && d > 0.0;
        if r.state.is_fresh() {
            if known && !self.in_ad {
                self.content = Some(d);
            }
            return self.end();
        }
        if !known || r.state == PlayerState::Ended {
            return AdChange::None;
        }
        let Some(content) = self
            .content
            .or(room_duration.filter(|d| d.is_finite() && *d > 0.0))
        else {
            // Nothing to compare with: the first duration seen while playing is taken as the
            // content's (a short video, or an undetectable ad: see the module docs).
            self.content = Some(d);
            return AdChange::None;
        };
        let differs = (d - content).abs() > AD_DURATION_TOLERANCE;
        if differs && !self.in_ad {
            self.in_ad = true;
            self.ads = self.ads.saturating_add(1);
            AdChange::Started
        } else if !differs {
            if self.content.is_none() {
                self.content = Some(d);
            }
            self.end()
        } else {
            AdChange::None
        }
    }

    fn end(&mut self) -> AdChange {
        if std::mem::take(&mut self.in_ad) {
            AdChange::Ended
        } else {
            AdChange::None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PlayerState::*;

    fn rd(state: PlayerState, position: f64, duration: f64) -> Reading {
        Reading {
            at: 0.0,
            state,
            position,
            rate: 1.0,
            duration,
        }
    }

    #[test]
    fn a_preroll_is_told_by_its_duration_against_the_cued_one() {
        let mut w = AdWatch::new();
        assert_eq!(w.observe(&rd(Cued, 0.0, 600.0), None), AdChange::None);
        assert_eq!(w.content_duration(), Some(600.0));
        assert_eq!(w.observe(&rd(Buffering, 0.0, 600.0), None), AdChange::None);
        assert_eq!(w.observe(&rd(Playing, 0.1, 15.0), None), AdChange::Started);
        assert!(w.in_ad());
        // Either clock, paused or not: still the ad.
        assert_eq!(w.observe(&rd(Playing, 3.0, 15.0), None), AdChange::None);
        assert_eq!(w.observe(&rd(Paused, 3.0, 15.0), None), AdChange::None);
        assert!(w.in_ad());
        // UNSTARTED after it, then the content.
        assert_eq!(w.observe(&rd(Unstarted, 0.0, 15.0), None), AdChange::Ended);
        assert_eq!(
            w.content_duration(),
            Some(600.0),
            "the ad's length is not learned"
        );
        assert_eq!(w.observe(&rd(Playing, 0.2, 600.0), None), AdChange::None);
        assert_eq!(w.ads(), 1);
    }

    #[test]
    fn a_mid_roll_is_told_against_the_room_and_ends_with_the_content_duration() {
        let mut w = AdWatch::new();
        // The player said 0 while cued (as the real one may): the room knows the length.
        assert_eq!(w.observe(&rd(Cued, 0.0, 0.0), Some(212.0)), AdChange::None);
        assert_eq!(
            w.observe(&rd(Playing, 50.0, 212.0), Some(212.0)),
            AdChange::None
        );
        assert_eq!(
            w.observe(&rd(Playing, 50.0, 30.0), Some(212.0)),
            AdChange::Started
        );
        // The frozen content position with the ad's length: still the ad.
        assert_eq!(
            w.observe(&rd(Playing, 50.0, 30.0), Some(212.0)),
            AdChange::None
        );
        // Back to the content's length while playing (no UNSTARTED seen): over.
        assert_eq!(
            w.observe(&rd(Playing, 50.1, 212.0), Some(212.0)),
            AdChange::Ended
        );
        assert!(!w.in_ad());
    }

    #[test]
    fn without_any_knowledge_the_first_length_while_playing_is_the_contents() {
        let mut w = AdWatch::new();
        assert_eq!(w.observe(&rd(Playing, 1.0, 95.0), None), AdChange::None);
        assert_eq!(w.content_duration(), Some(95.0));
        // Small differences (rounding, a report of 95.02) are not ads.
        assert_eq!(w.observe(&rd(Playing, 2.0, 95.4), None), AdChange::None);
        // A mid-roll later is told against it.
        assert_eq!(w.observe(&rd(Playing, 0.0, 20.0), None), AdChange::Started);
        w.reset();
        assert!(!w.in_ad());
        assert_eq!(w.content_duration(), None);
    }

    #[test]
    fn ended_and_unknown_lengths_are_not_ads() {
        let mut w = AdWatch::new();
        w.observe(&rd(Cued, 0.0, 600.0), None);
        assert_eq!(w.observe(&rd(Playing, 1.0, 0.0), None), AdChange::None);
        assert_eq!(w.observe(&rd(Playing, 1.0, f64::NAN), None), AdChange::None);
        assert_eq!(w.observe(&rd(Ended, 600.0, 600.0), None), AdChange::None);
        assert!(!w.in_ad());
    }
}
