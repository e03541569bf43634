//! Sync health of one viewer as its own client sees it, and the rules for reporting it: the
//! input of "who is here": each client sends its own health (`status`), the server checks it
//! ([`is_valid`]) and the instances aggregate it (see [`crate::roster`]).
//!
//! * [`classify`]: in sync (± ms), catching up, buffering, needs a click (autoplay blocked),
//!   background tab, reconnecting.
//! * [`Reporter`]: reports *changes* only, at a bounded rate: a new kind of state at most once
//!   per `min_gap_ms` (the latest one wins when several happen in between), the ms figure of an
//!   in-sync viewer only when it moved to another [`MS_BUCKET`] and at most every
//!   `ms_gap_ms`. A steady room therefore sends nothing.
//!
//! A big room shows the aggregate instead of 10,000 rows (9,812 of 10,000 in sync: the counts
//! are [`crate::roster::Counts`], the words the page's).

use serde::{Deserialize, Serialize};

/// Within this distance (ms) of the session a viewer counts as in sync.
pub const IN_SYNC_MS: f64 = 50.0;
/// In-sync figures are reported in steps of this many ms.
pub const MS_BUCKET: i32 = 10;

/// One viewer's state as its own client sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "health", rename_all = "snake_case")]
pub enum Health {
    /// Playing (or paused) where the session is, within [`IN_SYNC_MS`]; `ms` = signed error,
    /// rounded to [`MS_BUCKET`].
    InSync {
        /// Signed distance from the session (ms, + = ahead).
        ms: i32,
        /// The viewer's player ignores playback-rate changes (see
        /// `crate::sync::RateControl::Locked`): sync holds it with rare small seeks, so it may
        /// stay a frame (up to ~20 ms) from the others. The list says so, so that people know
        /// why. Omitted when false.
        #[serde(default, skip_serializing_if = "is_false")]
        rate_locked: bool,
    },
    /// Further than [`IN_SYNC_MS`] away and correcting.
    CatchingUp,
    /// The player is waiting for data.
    Buffering,
    /// The player is not ready yet (loading: no reading of the room's video so far). A room
    /// that waits for everyone holds for it (see `crate::hold`).
    Loading,
    /// The player is showing an ad (see `crate::sync::ads`): the room goes on, and this
    /// viewer rejoins when the ad is over.
    Ad,
    /// The browser blocked playback: the viewer must click "Join playback".
    NeedsClick,
    /// The tab is in the background (timers throttled).
    Background,
    /// The connection is being re-established.
    Reconnecting,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Health {
    /// In sync at `ms` on a player with rate control.
    pub fn in_sync(ms: i32) -> Self {
        Health::InSync {
            ms,
            rate_locked: false,
        }
    }

    /// Whether the viewer reported a rate-locked player (in sync only).
    pub fn rate_locked(&self) -> bool {
        matches!(
            self,
            Health::InSync {
                rate_locked: true,
                ..
            }
        )
    }
    /// The `data-health` value for the page and tests.
    pub fn as_str(&self) -> &'static str {
        match self {
            Health::InSync { .. } => "in_sync",
            Health::CatchingUp => "catching_up",
            Health::Buffering => "buffering",
            Health::Loading => "loading",
            Health::Ad => "ad",
            Health::NeedsClick => "needs_click",
            Health::Background => "background",
            Health::Reconnecting => "reconnecting",
        }
    }

    fn same_kind(&self, other: &Health) -> bool {
        self.as_str() == other.as_str() && self.rate_locked() == other.rate_locked()
    }
}

/// Whether a reported health is one [`classify`] can produce (an in-sync figure within
/// ±[`IN_SYNC_MS`], a multiple of [`MS_BUCKET`]); the server refuses others.
pub fn is_valid(h: &Health) -> bool {
    match h {
        Health::InSync { ms, .. } => {
            f64::from(ms.unsigned_abs().min(1_000_000)) <= IN_SYNC_MS + f64::from(MS_BUCKET) / 2.0
                && ms % MS_BUCKET == 0
        }
        _ => true,
    }
}

/// What the client knows about itself.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Observed {
    /// The socket is live.
    pub live: bool,
    /// `document.hidden`.
    pub hidden: bool,
    /// "Join playback" is shown.
    pub needs_click: bool,
    /// The player reports BUFFERING.
    pub buffering: bool,
    /// The player is showing an ad.
    pub ad: bool,
    /// This viewer's signed distance from the session (ms), when known.
    pub error_ms: Option<f64>,
    /// The player ignores playback-rate changes.
    pub rate_locked: bool,
}

/// Classifies what the client sees, most pressing first.
pub fn classify(o: &Observed) -> Health {
    if !o.live {
        Health::Reconnecting
    } else if o.needs_click {
        Health::NeedsClick
    } else if o.ad {
        Health::Ad
    } else if o.hidden {
        Health::Background
    } else if o.buffering {
        Health::Buffering
    } else {
        match o.error_ms {
            Some(e) if e.is_finite() && e.abs() <= IN_SYNC_MS => Health::InSync {
                ms: ((e / f64::from(MS_BUCKET)).round() as i32) * MS_BUCKET,
                rate_locked: o.rate_locked,
            },
            Some(_) => Health::CatchingUp,
            None => Health::Buffering,
        }
    }
}

/// Decides which health changes are sent, at a bounded rate.
#[derive(Clone, Debug)]
pub struct Reporter {
    min_gap_ms: f64,
    ms_gap_ms: f64,
    sent: Option<(Health, f64)>,
}

impl Reporter {
    /// At most one report per `min_gap_ms`; in-sync figure updates at most every `ms_gap_ms`.
    pub fn new(min_gap_ms: f64, ms_gap_ms: f64) -> Self {
        Self {
            min_gap_ms,
            ms_gap_ms,
            sent: None,
        }
    }

    /// Call with the current health (e.g. on every poll); returns what to send now, if
    /// anything.
    pub fn observe(&mut self, h: Health, now: f64) -> Option<Health> {
        let send = match self.sent {
            None => true,
            Some((last, _)) if last == h => false,
            Some((last, at)) if last.same_kind(&h) => now - at >= self.ms_gap_ms,
            Some((_, at)) => now - at >= self.min_gap_ms,
        };
        if send {
            self.sent = Some((h, now));
            Some(h)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seen(error_ms: Option<f64>) -> Observed {
        Observed {
            live: true,
            hidden: false,
            needs_click: false,
            buffering: false,
            ad: false,
            error_ms,
            rate_locked: false,
        }
    }

    #[test]
    fn classification() {
        assert_eq!(classify(&seen(Some(3.0))), Health::in_sync(0));
        assert_eq!(classify(&seen(Some(-27.0))), Health::in_sync(-30));
        assert_eq!(classify(&seen(Some(400.0))), Health::CatchingUp);
        assert_eq!(
            classify(&Observed {
                buffering: true,
                ..seen(Some(400.0))
            }),
            Health::Buffering
        );
        assert_eq!(
            classify(&Observed {
                hidden: true,
                needs_click: true,
                ..seen(Some(0.0))
            }),
            Health::NeedsClick
        );
        assert_eq!(
            classify(&Observed {
                live: false,
                ..seen(Some(0.0))
            }),
            Health::Reconnecting
        );
        // An ad says so before anything but a click or a lost connection (issue 25).
        let ad = Observed {
            ad: true,
            hidden: true,
            buffering: true,
            ..seen(Some(9_000.0))
        };
        assert_eq!(classify(&ad), Health::Ad);
        assert_eq!(Health::Ad.as_str(), "ad");
        assert_eq!(
            serde_json::to_string(&Health::Ad).unwrap(),
            r#"{"health":"ad"}"#
        );
        assert_eq!(
            classify(&Observed {
                needs_click: true,
                ..ad
            }),
            Health::NeedsClick
        );
        assert_eq!(
            serde_json::to_string(&Health::in_sync(-10)).unwrap(),
            r#"{"health":"in_sync","ms":-10}"#
        );
        // A rate-locked player says so, and only when in sync; older clients omit the field.
        let locked = Observed {
            rate_locked: true,
            ..seen(Some(16.0))
        };
        assert_eq!(
            classify(&locked),
            Health::InSync {
                ms: 20,
                rate_locked: true
            }
        );
        assert_eq!(
            serde_json::to_string(&classify(&locked)).unwrap(),
            r#"{"health":"in_sync","ms":20,"rate_locked":true}"#
        );
        assert_eq!(
            serde_json::from_str::<Health>(r#"{"health":"in_sync","ms":20}"#).unwrap(),
            Health::in_sync(20)
        );
        assert_eq!(
            classify(&Observed {
                error_ms: Some(400.0),
                ..locked
            }),
            Health::CatchingUp
        );
    }

    #[test]
    fn a_rate_lock_change_is_reported_like_a_new_state() {
        let mut r = Reporter::new(1_000.0, 5_000.0);
        assert_eq!(r.observe(Health::in_sync(0), 0.0), Some(Health::in_sync(0)));
        let locked = Health::InSync {
            ms: 0,
            rate_locked: true,
        };
        // Not held back for the 5 s of a moved figure: the next second.
        assert_eq!(r.observe(locked, 500.0), None);
        assert_eq!(r.observe(locked, 1_000.0), Some(locked));
    }

    #[test]
    fn reports_changes_only_at_a_bounded_rate() {
        let mut r = Reporter::new(1_000.0, 5_000.0);
        assert_eq!(r.observe(Health::in_sync(0), 0.0), Some(Health::in_sync(0)));
        assert_eq!(r.observe(Health::in_sync(0), 100.0), None);
        // A stall right away waits for the gap; then the latest state goes out.
        assert_eq!(r.observe(Health::Buffering, 200.0), None);
        assert_eq!(
            r.observe(Health::Buffering, 1_000.0),
            Some(Health::Buffering)
        );
        assert_eq!(
            r.observe(Health::in_sync(10), 2_100.0),
            Some(Health::in_sync(10))
        );
        // The ms figure moves: reported only every 5 s.
        assert_eq!(r.observe(Health::in_sync(20), 3_000.0), None);
        assert_eq!(
            r.observe(Health::in_sync(20), 7_100.0),
            Some(Health::in_sync(20))
        );
        assert!(is_valid(&Health::in_sync(-50)));
        assert!(is_valid(&Health::Buffering));
        assert!(!is_valid(&Health::in_sync(60)));
        assert!(!is_valid(&Health::in_sync(7)));
        assert!(!is_valid(&Health::in_sync(i32::MIN)));
    }

    proptest! {
        /// Whatever the client sees, it never sends more than one report per `min_gap_ms`
        /// (plus the first).
        #[test]
        fn rate_is_bounded(seq in proptest::collection::vec((0u8..6, -100i32..100), 1..300)) {
            let mut r = Reporter::new(1_000.0, 5_000.0);
            let mut sent = Vec::new();
            for (i, (k, ms)) in seq.iter().enumerate() {
                let h = match k {
                    0 => Health::in_sync(ms / 10 * 10),
                    1 => Health::CatchingUp,
                    2 => Health::Buffering,
                    3 => Health::NeedsClick,
                    4 => Health::Background,
                    _ => Health::Reconnecting,
                };
                let now = i as f64 * 100.0;
                if r.observe(h, now).is_some() {
                    sent.push(now);
                }
            }
            for w in sent.windows(2) {
                prop_assert!(w[1] - w[0] >= 1_000.0);
            }
        }
    }
}
