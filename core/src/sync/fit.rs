//! The error estimate: a robust trend line through a viewer's error samples.
//!
//! Samples are `(client ms, player position − session target in s)`, one per poll. What the
//! page reads from a YouTube player is never *ahead* of the media: the real widget API reports
//! the time by `postMessage` from the player's frame (a busy page delivers it late, by a varying
//! amount), and some players report it in coarse steps (the reading floors to the last step).
//! Both make a reading late, never early. So the estimate is built to be robust to both:
//!
//! * the **slope** (a media clock running fast or slow) is the Theil–Sen estimate, the median
//!   of the slopes between all pairs of samples at least [`MIN_PAIR_MS`] apart: one late reading
//!   or a staircase does not tilt it, as it would a least-squares line;
//! * the **error now** is the line through the *upper envelope* of the samples (the
//!   second-largest residual once there are [`ENVELOPE_MIN`] samples): the freshest readings
//!   define it, the late ones fall below it. With clean readings every residual is the same and
//!   this is the ordinary line;
//! * the **noise** (RMS of the residuals about their mean, a lone outlier left out) sizes the dead band, and the slope's
//!   standard error decides whether a slope is real ([`ErrorFit::slope_significant`]).

/// Pairs of samples closer than this (ms) give no slope (quantisation would dominate it).
pub const MIN_PAIR_MS: f64 = 250.0;
/// From this many samples on, the envelope ignores the single highest residual.
pub const ENVELOPE_MIN: usize = 8;
/// A slope counts only when it is this many standard errors from zero.
pub const SLOPE_SIGMAS: f64 = 3.0;
/// … or this many, when the readings are noisy (beyond [`NOISY`]): late readings come in runs
/// (one report serves several polls), so the plain standard error is optimistic, and a false
/// slope, extrapolated, is what makes a filter chase noise.
pub const NOISY_SLOPE_SIGMAS: f64 = 6.0;
/// A lone residual this many times the others' RMS away from them is left out of the noise.
pub const OUTLIER_SIGMAS: f64 = 5.0;
/// Reading noise (s, RMS) from which on readings count as noisy.
pub const NOISY: f64 = 0.004;

/// Smallest dead band: no correction while the smoothed error stays within ± this (seconds).
/// Two viewers inside it are at most 3 ms apart (issue 25's steady-play bound on a real
/// decoder, whose readings are smooth to ~0.4 ms RMS: 3x that is the band).
pub const DEADBAND: f64 = 0.0015;
/// The dead band widens to this many times the measured reading noise, so noisy players are not
/// chased around by their own measurement noise.
pub const NOISE_FACTOR: f64 = 3.0;
/// Widest dead band (s).
pub const MAX_DEADBAND: f64 = 0.030;

/// A robust line through the error samples, evaluated at a given time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErrorFit {
    /// Error at the evaluation time (s, + = ahead).
    pub error: f64,
    /// Change of the error per second (s/s); 0 unless significant.
    pub slope: f64,
    /// The Theil–Sen slope before the significance test (s/s): one window's evidence, to be
    /// combined with other windows' ([`super::Drift`] learns a rate-locked player's drift).
    pub raw_slope: f64,
    /// Samples used.
    pub samples: usize,
    /// Time between the first and the last sample (ms).
    pub span_ms: f64,
    /// RMS distance of the samples from the line (s): the reading noise.
    pub noise: f64,
    /// Square root of the sum of squared sample-time deviations (s): the slope's standard
    /// error is the noise divided by this.
    pub time_spread: f64,
}

impl ErrorFit {
    /// The dead band for this fit: [`DEADBAND`], widened by the reading noise.
    pub fn band(&self) -> f64 {
        band_for(self.noise)
    }

    /// The slope is real (beyond [`SLOPE_SIGMAS`] standard errors for a reading noise of
    /// `noise`, s RMS — this fit's own or the player's known noise, whichever is larger), not
    /// the noise's.
    pub fn slope_significant(&self, noise: f64) -> bool {
        significant(self.slope, noise.max(self.noise), self.time_spread)
    }
}

fn significant(slope: f64, noise: f64, time_spread: f64) -> bool {
    let sigmas = if noise > NOISY {
        NOISY_SLOPE_SIGMAS
    } else {
        SLOPE_SIGMAS
    };
    time_spread > 0.0 && slope.abs() > sigmas * noise / time_spread
}

/// The dead band for a reading noise of `noise` (s).
pub fn band_for(noise: f64) -> f64 {
    (NOISE_FACTOR * noise).clamp(DEADBAND, MAX_DEADBAND)
}

/// The median of `v` (sorted in place); 0 when empty.
pub(super) fn median(v: &mut [f64]) -> f64 {
    v.sort_unstable_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The reading noise of `resid` (s): their RMS about their mean. Once there are
/// [`ENVELOPE_MIN`], a single residual far outside the others' spread ([`OUTLIER_SIGMAS`] times
/// their RMS, and beyond [`DEADBAND`]) when those are quiet (within half of [`NOISY`]) is left
/// out: one stale reading (a real widget's report
/// taken before a pulse's jump reached the clock, read in the window after the pulse) then
/// does not make a quiet player noisy. It did: 20 ms off in ten samples reads as 6 ms RMS,
/// which blurred that player's pulse measurements and widened its band for seconds. Readings
/// that are all noisy (late by varying amounts) have no such lone outlier and keep their RMS.
fn noise_of(resid: &[f64]) -> f64 {
    let rms = |v: &[f64]| {
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        (
            mean,
            (v.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt(),
        )
    };
    let all = rms(resid).1;
    if resid.len() < ENVELOPE_MIN {
        return all;
    }
    let mid = median(&mut resid.to_vec());
    let Some(far) =
        (0..resid.len()).max_by(|&a, &b| (resid[a] - mid).abs().total_cmp(&(resid[b] - mid).abs()))
    else {
        return all;
    };
    let mut rest = resid.to_vec();
    let outlier = rest.swap_remove(far);
    let (mean, spread) = rms(&rest);
    let off = (outlier - mean).abs();
    if spread <= NOISY / 2.0 && off > DEADBAND && off > OUTLIER_SIGMAS * spread {
        spread
    } else {
        all
    }
}

/// Least step (s) between two levels of readings that is a level shift ([`level_shift`]).
pub const SHIFT_MIN: f64 = 0.005;
/// A level shift's step is at least this many times the readings' RMS about their two levels.
pub const SHIFT_SIGMAS: f64 = 8.0;
/// Readings a level shift needs at its old level: a window's first few after a reset can hold
/// one step of a drifting clock's staircase (a report every 250 ms), which is no shift.
pub const SHIFT_OLD_MIN: usize = 5;
/// Readings a level shift needs at its new level: two that agree.
pub const SHIFT_NEW_MIN: usize = 2;

/// Where `samples` (client ms, error s) shift from one level to another: the index of the first
/// reading at the new level. Each side sits on its own level ([`SHIFT_OLD_MIN`] and
/// [`SHIFT_NEW_MIN`] readings at least; one reading between them may be in transit), and the
/// step is at least [`SHIFT_MIN`] and [`SHIFT_SIGMAS`] times their RMS about their levels.
///
/// A stall of the whole machine (another page loading) moves every player tens of ms at once.
/// Read as one window, that step is tens of ms of "reading noise" (a 30 ms dead band, kept for
/// seconds), and the upper envelope keeps reading the old level until most of the window is
/// new (two seconds). Neither is true: the readings before the step are the past. A steady
/// clock's readings have no such step (a real decoder's are smooth to ~0.4 ms), a drifting
/// clock's ramp splits into two ramps, not two levels, and noisy readings (late by varying
/// amounts) are not quiet on either side.
pub fn level_shift(samples: &[(f64, f64)]) -> Option<usize> {
    let n = samples.len();
    if n < SHIFT_OLD_MIN + SHIFT_NEW_MIN {
        return None;
    }
    let e: Vec<f64> = samples.iter().map(|s| s.1).collect();
    // Sum and sum of squares about the mean of a run.
    let spread = |v: &[f64]| {
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        (mean, v.iter().map(|x| (x - mean).powi(2)).sum::<f64>())
    };
    let mut best: Option<(f64, usize)> = None;
    for k in SHIFT_OLD_MIN..=n - SHIFT_NEW_MIN {
        let (new_mean, new_ss) = spread(&e[k..]);
        // The old level ends at k, or at k - 1 with the reading at k - 1 in transit.
        for old_end in [k, k - 1] {
            if old_end < SHIFT_OLD_MIN {
                continue;
            }
            let (old_mean, old_ss) = spread(&e[..old_end]);
            let used = (old_end + n - k) as f64;
            let rms = ((old_ss + new_ss) / used).sqrt();
            let step = (new_mean - old_mean).abs();
            // A reading in transit lies between the levels, a quarter step from each at least.
            let between = |x: f64| {
                (x - old_mean).abs().min((x - new_mean).abs()) >= step / 4.0
                    && (x - old_mean).abs() < step
                    && (x - new_mean).abs() < step
            };
            if old_end < k && !between(e[old_end]) {
                continue;
            }
            if step >= SHIFT_MIN && step >= SHIFT_SIGMAS * rms && best.is_none_or(|(r, _)| rms < r)
            {
                best = Some((rms, k));
            }
        }
    }
    best.map(|(_, k)| k)
}

/// The upper envelope of residuals: the second-largest once there are [`ENVELOPE_MIN`].
fn envelope(mut resid: Vec<f64>) -> f64 {
    resid.sort_unstable_by(f64::total_cmp);
    let n = resid.len();
    if n >= ENVELOPE_MIN {
        resid[n - 2]
    } else {
        resid[n - 1]
    }
}

/// The error at `at` (s) of the line with the given `slope` (s/s) through the upper envelope of
/// `samples` (a slope known from elsewhere, e.g. learned over many windows); `None` without
/// samples.
pub fn error_with_slope(samples: &[(f64, f64)], at: f64, slope: f64) -> Option<f64> {
    let t_ref = samples.last()?.0;
    let resid = samples
        .iter()
        .map(|&(t, e)| e - slope * (t - t_ref) / 1000.0)
        .collect();
    Some(envelope(resid) + slope * (at - t_ref) / 1000.0)
}

/// Fits the error trend through `(client ms, error s)` samples and evaluates it at `at`.
/// With one sample (or all within [`MIN_PAIR_MS`]) the slope is 0 and the error is the envelope
/// of the samples.
pub fn fit_error(samples: &[(f64, f64)], at: f64) -> Option<ErrorFit> {
    fit_error_with(samples, at, 0.0)
}

/// [`fit_error`] for a player known to read with `noise_floor` (s, RMS) of noise: a slope is
/// only used when it stands out of that noise too.
pub fn fit_error_with(samples: &[(f64, f64)], at: f64, noise_floor: f64) -> Option<ErrorFit> {
    let n = samples.len();
    if n == 0 {
        return None;
    }
    let t_ref = samples[n - 1].0;
    let secs = |t: f64| (t - t_ref) / 1000.0;
    let mut slopes = Vec::with_capacity(n * (n - 1) / 2);
    for (i, a) in samples.iter().enumerate() {
        for b in &samples[i + 1..] {
            let dt = b.0 - a.0;
            if dt.abs() >= MIN_PAIR_MS {
                slopes.push((b.1 - a.1) / (dt / 1000.0));
            }
        }
    }
    let raw_slope = if slopes.is_empty() {
        0.0
    } else {
        median(&mut slopes)
    };
    let slope = raw_slope;
    let resid_for =
        |slope: f64| -> Vec<f64> { samples.iter().map(|&(t, e)| e - slope * secs(t)).collect() };
    let resid = resid_for(slope);
    let noise = noise_of(&resid);
    let nf = n as f64;
    let mean_t = samples.iter().map(|s| secs(s.0)).sum::<f64>() / nf;
    let sxx: f64 = samples.iter().map(|s| (secs(s.0) - mean_t).powi(2)).sum();
    // A slope the noise could have made is not extrapolated: the level alone is steadier.
    let real = significant(slope, noise.max(noise_floor), sxx.sqrt());
    let slope = if real { slope } else { 0.0 };
    let resid = if real { resid } else { resid_for(0.0) };
    Some(ErrorFit {
        error: envelope(resid) + slope * secs(at),
        slope,
        raw_slope,
        samples: n,
        span_ms: samples[n - 1].0 - samples[0].0,
        noise,
        time_spread: sxx.sqrt(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn line(n: usize, e0: f64, slope: f64) -> Vec<(f64, f64)> {
        (0..n)
            .map(|i| {
                let t = i as f64 * 100.0;
                (t, e0 + slope * t / 1000.0)
            })
            .collect()
    }

    #[test]
    fn a_level_shift_needs_quiet_levels_and_allows_one_reading_in_transit() {
        let flat = |n: usize, e: f64| (0..n).map(move |_| e);
        let at = |v: Vec<f64>| -> Vec<(f64, f64)> {
            v.into_iter()
                .enumerate()
                .map(|(i, e)| (i as f64 * 100.0, e))
                .collect()
        };
        // A stall: ten readings at 0, one on the way, three 70 ms back.
        let stall = at(flat(10, 0.0).chain([-0.03]).chain(flat(3, -0.07)).collect());
        assert_eq!(level_shift(&stall), Some(11));
        // Too few readings at either level: one new reading is a lone outlier, not a level.
        assert_eq!(
            level_shift(&at(flat(10, 0.0).chain([-0.07]).collect())),
            None
        );
        assert_eq!(
            level_shift(&at(flat(4, 0.0).chain(flat(6, -0.07)).collect())),
            None
        );
        // A step under 5 ms (a drifting clock's report staircase) is no shift.
        assert_eq!(
            level_shift(&at(flat(8, 0.0).chain(flat(4, 0.003)).collect())),
            None
        );
        // Readings late by 0-40 ms in turn are not quiet at either level.
        let late = [
            0.0, -0.03, -0.01, -0.04, 0.0, -0.02, -0.035, -0.035, -0.005, -0.025,
        ];
        assert_eq!(level_shift(&at(late.to_vec())), None);
    }

    #[test]
    fn one_stale_reading_does_not_make_quiet_readings_noisy() {
        // Ten readings 20 ms behind, the first one still from before a 20 ms jump back.
        let mut s = line(10, -0.020, 0.0);
        s[0].1 = 0.0;
        let f = fit_error(&s, 900.0).unwrap();
        assert!(f.noise < 1e-6, "{f:?}");
        assert!((f.error + 0.020).abs() < 1e-9, "{f:?}");
        // Two such readings are no lone outlier: they count.
        s[1].1 = 0.0;
        assert!(fit_error(&s, 900.0).unwrap().noise > NOISY);
        // Noisy readings keep their noise, outlier and all.
        let noisy: Vec<(f64, f64)> = (0..10)
            .map(|i| (i as f64 * 100.0, -0.001 * ((i * 7) % 10) as f64 * 4.0))
            .collect();
        let all = fit_error(&noisy, 900.0).unwrap().noise;
        assert!(all > NOISY, "{all}");
    }

    #[test]
    fn clean_readings_give_the_line() {
        let s = line(10, 0.010, 0.005);
        let f = fit_error(&s, 900.0).unwrap();
        assert!((f.slope - 0.005).abs() < 1e-9, "{f:?}");
        assert!((f.error - 0.0145).abs() < 1e-9, "{f:?}");
        assert!(f.noise < 1e-9);
        assert!(f.slope_significant(0.0));
        assert!(!f.slope_significant(0.010), "not against 10 ms of noise");
        assert_eq!(fit_error(&[(5.0, 0.3)], 100.0).unwrap().error, 0.3);
        assert!(fit_error(&[], 0.0).is_none());
    }

    #[test]
    fn late_readings_fall_below_the_envelope() {
        // Every other reading 30 ms late: the estimate follows the fresh ones.
        let s: Vec<(f64, f64)> = (0..20)
            .map(|i| {
                let t = i as f64 * 100.0;
                (t, 0.012 - if i % 2 == 0 { 0.030 } else { 0.0 })
            })
            .collect();
        let f = fit_error(&s, 1_900.0).unwrap();
        assert!((f.error - 0.012).abs() < 0.001, "{f:?}");
        assert!(f.slope.abs() < 1e-9, "{f:?}");
        assert!(f.noise > 0.010);
    }

    #[test]
    fn a_staircase_keeps_its_trend() {
        // A 1 % fast clock read through 50 ms steps (floored): slope and level survive.
        let s: Vec<(f64, f64)> = (0..20)
            .map(|i| {
                let t = i as f64 * 100.0 + 7.0;
                let pos = 100.0 + t / 1000.0 * 1.01;
                let read = (pos / 0.05).floor() * 0.05;
                (t, read - (100.0 + t / 1000.0))
            })
            .collect();
        // Sampled every 100 ms, a 50 ms staircase hides up to a step: the estimate stays within
        // one step below the truth and the slope is not thrown off.
        let f = fit_error(&s, s[19].0).unwrap();
        assert!((f.slope - 0.010).abs() < 0.015, "{f:?}");
        let truth = 0.01 * s[19].0 / 1000.0;
        assert!(
            f.error <= truth + 0.001 && f.error > truth - 0.052,
            "{f:?} vs {truth}"
        );
    }

    proptest! {
        /// Readings late by up to 40 ms (any pattern) never move the estimate above the truth
        /// or more than 40 ms below it, and a flat trend is not mistaken for a skewed clock.
        #[test]
        fn late_readings_bound_the_estimate(
            e0 in -0.2f64..0.2,
            lags in proptest::collection::vec(0.0f64..0.040, 20),
        ) {
            let s: Vec<(f64, f64)> = lags
                .iter()
                .enumerate()
                .map(|(i, lag)| (i as f64 * 100.0, e0 - lag))
                .collect();
            let f = fit_error(&s, 1_900.0).unwrap();
            prop_assert!(f.error <= e0 + 0.040 && f.error >= e0 - 0.080, "{f:?} {e0}");
        }

        /// A ramp (a drifting clock, up to 2 %) is never taken for a level shift, and a step
        /// of at least 5 ms between two quiet levels (0.2 ms of noise) always is, where it is.
        #[test]
        fn level_shifts_are_steps_not_ramps(
            e0 in -0.2f64..0.2,
            slope in -0.02f64..0.02,
            n in 7usize..21,
            step in prop_oneof![-0.1f64..-0.0055, 0.0055f64..0.1],
            at in 5usize..19,
            noise in proptest::collection::vec(-0.0002f64..0.0002, 20),
        ) {
            prop_assert_eq!(level_shift(&line(n, e0, slope)), None);
            let at = at.min(n - 2);
            let s: Vec<(f64, f64)> = (0..n)
                .map(|i| (i as f64 * 100.0, e0 + noise[i] + if i >= at { step } else { 0.0 }))
                .collect();
            prop_assert_eq!(level_shift(&s), Some(at));
        }

        /// Clean lines are recovered exactly, whatever their level and slope.
        #[test]
        fn clean_lines_are_exact(e0 in -1.0f64..1.0, slope in -0.05f64..0.05, n in 4usize..30) {
            let s = line(n, e0, slope);
            let at = s[n - 1].0;
            let f = fit_error(&s, at).unwrap();
            let want = e0 + slope * at / 1000.0;
            prop_assert!((f.error - want).abs() < 1e-9);
            prop_assert!((f.slope - slope).abs() < 1e-9);
        }
    }
}
