//! Scheduled starts, the server's half: how far ahead a start is scheduled (see
//! [`crate::playback::apply_scheduled`] for the rule and `crate::sync::engine` for the
//! players' half).
//!
//! Each viewer's client reports what its player needs to start at a given moment
//! ([`crate::protocol::ClientMsg::StartNeed`]: half its round trip, for the state to reach it,
//! plus its player's learned start latency). Every instance keeps the largest need of its own
//! viewers in its part of the room's list ([`crate::roster::Counts::start_need_ms`]); parts
//! merge by taking the largest, so every instance knows the room's largest need. A start is
//! then scheduled [`lead_ms`] ahead: that need plus [`LEAD_MARGIN_MS`], never under
//! [`MIN_LEAD_MS`] and never over the `start_lead_max_ms` setting (a viewer further away than
//! that starts late and is pulled in, as a late joiner is: one slow viewer cannot slow down
//! everyone's starts beyond the cap).

/// Default cap of a start's lead (ms), the setting `start_lead_max_ms`.
pub const DEFAULT_MAX_LEAD_MS: u32 = 400;
/// The shortest lead (ms): the state must cross the network and a player must be told.
pub const MIN_LEAD_MS: u32 = 100;
/// Added to the largest need (ms): timer jitter and one frame.
pub const LEAD_MARGIN_MS: u32 = 25;
/// The need assumed while no viewer has reported one (ms).
pub const DEFAULT_NEED_MS: u32 = 250;
/// The largest need a client may report (ms); larger reports are refused.
pub const MAX_NEED_MS: f64 = 10_000.0;
/// A client reports its need again only when it moved by at least this much (ms).
pub const NEED_STEP_MS: f64 = 10.0;

/// The lead of a start (ms) given the room's largest reported need (`0` = none reported) and
/// the cap (`0` = starts are not scheduled).
pub fn lead_ms(largest_need_ms: u32, cap_ms: u32) -> u32 {
    if cap_ms == 0 {
        return 0;
    }
    let need = if largest_need_ms == 0 {
        DEFAULT_NEED_MS
    } else {
        largest_need_ms
    };
    need.saturating_add(LEAD_MARGIN_MS)
        .max(MIN_LEAD_MS)
        .min(cap_ms.max(MIN_LEAD_MS))
}

/// Whether a reported need is acceptable (finite, 0 ..= [`MAX_NEED_MS`]).
pub fn valid_need(ms: f64) -> bool {
    ms.is_finite() && (0.0..=MAX_NEED_MS).contains(&ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_lead_covers_the_largest_need_within_its_bounds() {
        assert_eq!(lead_ms(0, 400), DEFAULT_NEED_MS + LEAD_MARGIN_MS);
        assert_eq!(lead_ms(40, 400), MIN_LEAD_MS);
        assert_eq!(lead_ms(180, 400), 205);
        assert_eq!(lead_ms(5_000, 400), 400);
        assert_eq!(lead_ms(180, 0), 0);
        assert!(valid_need(0.0) && valid_need(250.5));
        assert!(!valid_need(f64::NAN) && !valid_need(-1.0) && !valid_need(1e9));
    }

    proptest! {
        #[test]
        fn the_lead_is_monotone_in_the_need_and_never_over_the_cap(
            a in 0u32..20_000, b in 0u32..20_000, cap in 1u32..5_000,
        ) {
            let (lo, hi) = (a.min(b).max(1), a.max(b).max(1));
            prop_assert!(lead_ms(lo, cap) <= lead_ms(hi, cap));
            prop_assert!(lead_ms(hi, cap) <= cap.max(MIN_LEAD_MS));
            prop_assert!(lead_ms(lo, cap) >= MIN_LEAD_MS);
        }
    }
}
