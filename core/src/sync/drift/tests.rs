//! Unit tests of the drift controller.

use super::*;

/// The (rate, duration in ms) of a pulse; panics on any other correction.
fn pulse_of(c: Correction) -> (f64, f64) {
    match c {
        Correction::Pulse { rate, duration_ms } => (rate, duration_ms),
        c => panic!("{c:?}"),
    }
}

fn feed(d: &mut Drift, start: f64, n: usize, err: impl Fn(f64) -> f64) -> f64 {
    let mut t = start;
    for _ in 0..n {
        d.observe(t, err(t));
        t += 100.0;
    }
    t - 100.0
}

#[test]
fn inside_the_dead_band_nothing_happens() {
    let mut d = Drift::new();
    let t = feed(&mut d, 0.0, 20, |_| 0.9 * DEADBAND);
    assert_eq!(d.decide(t), Correction::None);
    let mut d = Drift::new();
    let t = feed(&mut d, 0.0, 20, |_| -0.9 * DEADBAND);
    assert_eq!(d.decide(t), Correction::None);
}

#[test]
fn the_band_widens_with_reading_noise() {
    // 15 ms off with ±8 ms reading noise: the band is 3 x 8 ms, nothing to chase.
    let noisy = |t: f64| {
        0.015
            + if (t / 100.0) as i64 % 2 == 0 {
                0.008
            } else {
                -0.008
            }
    };
    let mut d = Drift::new();
    let t = feed(&mut d, 0.0, 20, noisy);
    let fit = d.fit(t).unwrap();
    assert!((fit.noise - 0.008).abs() < 0.001, "{fit:?}");
    assert!((fit.band() - 0.024).abs() < 0.003);
    assert_eq!(d.decide(t), Correction::None);
    // The same 15 ms with clean readings is corrected.
    let mut d = Drift::new();
    let t = feed(&mut d, 0.0, 20, |_| 0.015);
    assert!(matches!(d.decide(t), Correction::Pulse { rate, .. } if rate == 0.75));
}

#[test]
fn beyond_the_band_a_pulse_of_exact_length_cancels_the_error() {
    let mut d = Drift::new();
    let t = feed(&mut d, 0.0, 6, |_| 0.040); // 40 ms ahead
    let (rate, duration_ms) = pulse_of(d.decide(t));
    assert_eq!(rate, 0.75);
    assert!((duration_ms - 160.0).abs() < 1.0, "{duration_ms}");
    let mut d = Drift::new();
    let t = feed(&mut d, 0.0, 6, |_| -0.5); // half a second behind
    let (rate, duration_ms) = pulse_of(d.decide(t));
    assert_eq!(rate, 1.25);
    assert!((duration_ms - 2_000.0).abs() < 1.0);
}

#[test]
fn large_errors_are_pulsed_after_two_agreeing_samples() {
    let mut d = Drift::new();
    let t = feed(&mut d, 0.0, 2, |_| -0.1);
    let (rate, duration_ms) = pulse_of(d.decide(t));
    assert_eq!(rate, 1.25);
    assert!((duration_ms - 400.0).abs() < 1.0, "{duration_ms}");
    // Two samples that disagree in sign are not trusted.
    let mut d = Drift::new();
    d.observe(0.0, 0.1);
    d.observe(100.0, -0.1);
    assert_eq!(d.decide(100.0), Correction::None);
}

#[test]
fn too_few_samples_wait_and_big_errors_seek_with_latency() {
    let mut d = Drift::new();
    let t = feed(&mut d, 0.0, 2, |_| 0.04);
    assert_eq!(d.decide(t), Correction::None);
    let mut d = Drift::new();
    let t = feed(&mut d, 0.0, 3, |_| -3.0);
    assert_eq!(
        d.decide(t),
        Correction::Seek {
            compensation: INITIAL_SEEK_LATENCY
        }
    );
}

#[test]
fn pulses_need_a_confirmed_rate_else_seeks_take_over() {
    let mut d = Drift::new();
    d.start_pulse(0.0, 0.75, 100.0);
    assert!(matches!(d.support(), RateSupport::Probing { .. }));
    assert!(!d.check_probe(500.0));
    assert!(d.check_probe(1_001.0));
    assert_eq!(d.support(), RateSupport::Unavailable);
    assert_eq!(d.nudge_rates(), (None, None));
    d.end_pulse(1_001.0);
    let t = feed(&mut d, 2_000.0, 6, |_| 0.1);
    assert_eq!(
        d.decide(t),
        Correction::None,
        "100 ms is tolerated without rates"
    );
    let t = feed(&mut d, t + 100.0, 6, |_| 0.3);
    assert!(matches!(d.decide(t), Correction::Seek { .. }));

    let mut d = Drift::new();
    d.start_pulse(0.0, 1.25, 100.0);
    assert!(d.on_rate_event(1.25));
    assert_eq!(d.support(), RateSupport::Confirmed);
    assert!(!d.check_probe(5_000.0));
    assert!(
        !d.on_rate_event(2.0),
        "a rate nobody asked for is the viewer's"
    );
}

#[test]
fn nudge_rates_follow_the_base_and_the_available_list() {
    let mut d = Drift::new();
    assert_eq!(d.nudge_rates(), (Some(0.75), Some(1.25)));
    d.set_base_rate(2.0);
    assert_eq!(d.nudge_rates(), (Some(1.75), None));
    d.set_base_rate(1.0);
    d.set_available(&[1.0]);
    assert_eq!(d.nudge_rates(), (None, None));
}

#[test]
fn seek_latency_is_learned_from_the_residual_error() {
    let mut d = Drift::new();
    d.record_seek(0.0, 0.2);
    assert_eq!(d.corrective_seeks, 1);
    // The player came back 100 ms behind: the real latency was 0.3 s.
    feed(&mut d, 300.0, 3, |_| -0.1);
    let l = d.learn(500.0).unwrap();
    assert!(
        (l - 0.3).abs() < 1e-6,
        "the first measurement replaces the guess: {l}"
    );
    assert!(d.learn(600.0).is_none(), "one measurement per seek");
}

#[test]
fn skewed_clock_triggers_early_and_aims_past_zero() {
    let mut d = Drift::new();
    // 1 % fast: +10 ms per second, now at +3 ms: past half the band in the drift's direction.
    let t = feed(&mut d, 0.0, 10, |t| -0.006 + 0.010 * t / 1000.0);
    let (rate, duration_ms) = pulse_of(d.decide(t));
    assert_eq!(rate, 0.75);
    // Aim past zero by the drift over SKEW_AIM_S (3.5 ms): 6.5 ms to remove at
    // (0.25 - 0.01)/s.
    assert!((duration_ms - 27.1).abs() < 1.5, "{duration_ms}");
}

fn locked() -> Drift {
    let mut d = Drift::new();
    d.set_available(&[1.0]);
    d
}

#[test]
fn a_rate_locked_player_keeps_a_landing_inside_the_band() {
    let mut d = locked();
    let t = feed(&mut d, 0.0, 20, |_| 0.015);
    assert_eq!(d.decide(t), Correction::None);
    let mut d = locked();
    let t = feed(&mut d, 0.0, 20, |_| -0.025);
    assert_eq!(
        d.decide(t),
        Correction::LockedSeek {
            compensation: INITIAL_SEEK_LATENCY,
            aim: 0.0,
            miss_beyond: LOCKED_BAND,
        }
    );
}

#[test]
fn a_rate_locked_skewed_clock_is_sent_past_zero_before_it_leaves_the_band() {
    // 1 % fast: inside the skew band (even 30 ms ahead) nothing happens.
    let mut d = locked();
    let t = feed(&mut d, 0.0, 20, |t| 0.011 + 0.010 * t / 1000.0);
    assert_eq!(d.decide(t), Correction::None);
    // One poll from crossing 35 ms: a seek landing 35 ms less the landing spread (20 ms
    // until measured) behind.
    let mut d = locked();
    let t = feed(&mut d, 0.0, 20, |t| 0.0155 + 0.010 * t / 1000.0);
    match d.decide(t) {
        Correction::LockedSeek {
            compensation,
            aim,
            miss_beyond,
        } => {
            assert!((aim + 0.015).abs() < 1e-9, "{aim}");
            assert!((compensation - (INITIAL_SEEK_LATENCY - 0.015)).abs() < 1e-9);
            assert_eq!(miss_beyond, LOCKED_SKEW_BAND);
        }
        c => panic!("{c:?}"),
    }
    // Drifting back towards zero after such a landing is left alone.
    let mut d = locked();
    let t = feed(&mut d, 0.0, 20, |t| -0.045 + 0.010 * t / 1000.0);
    assert_eq!(d.decide(t), Correction::None);
}

#[test]
fn a_drift_no_window_shows_is_learned_over_many() {
    // 1 % fast read with ±12 ms of noise: one 2 s window cannot tell the slope from noise.
    let noisy = |t: f64| {
        let k = (t / 100.0).round() as i64;
        0.010 * (t % 2_000.0) / 1000.0 + if k % 2 == 0 { 0.012 } else { -0.012 }
    };
    let mut d = locked();
    let mut t = 0.0;
    t = feed(&mut d, t, 20, noisy);
    assert_eq!(d.fit(t).map(|f| f.slope), Some(0.0));
    assert_eq!(d.learned_drift(), None);
    for _ in 0..10 {
        d.reset(t, 0.0);
        t = feed(&mut d, t + 100.0, 20, noisy);
    }
    let rate = d.learned_drift().expect("learned");
    assert!((rate - 0.010).abs() < 0.003, "{rate}");
    // A steady noisy player teaches no drift.
    let mut d = locked();
    let mut t = 0.0;
    for _ in 0..10 {
        t = feed(&mut d, t + 100.0, 20, |t| {
            noisy(t) - 0.010 * (t % 2_000.0) / 1000.0
        });
        d.reset(t, 0.0);
    }
    assert_eq!(d.learned_drift(), None);
}

#[test]
fn the_first_start_only_lowers_the_latency_guess() {
    let mut d = Drift::new();
    d.record_first_start(0.0, 0.2);
    // Landed 60 ms ahead: the start took 140 ms, less than the 200 ms guess.
    feed(&mut d, 300.0, 3, |_| 0.06);
    let l = d.learn(500.0).unwrap();
    assert!((l - 0.14).abs() < 1e-9, "{l}");
    // A slow first start (it loads the video) does not raise it.
    let mut d = Drift::new();
    d.record_first_start(0.0, 0.2);
    feed(&mut d, 300.0, 3, |_| -0.5);
    assert_eq!(d.learn(500.0), None);
    assert_eq!(d.seek_latency(), INITIAL_SEEK_LATENCY);
}

#[test]
fn a_first_long_slow_down_pulse_is_planned_short_of_zero() {
    // 100 ms ahead, nothing known of this player's pulses: 80 % of the 400 ms pulse.
    let mut d = Drift::new();
    let t = feed(&mut d, 0.0, 6, |_| 0.100);
    let (rate, duration_ms) = pulse_of(d.decide(t));
    assert_eq!(rate, 0.75);
    assert!((duration_ms - 320.0).abs() < 1.0, "{duration_ms}");
    // A speed-up pulse, or a short one, is planned in full.
    let mut d = Drift::new();
    let t = feed(&mut d, 0.0, 6, |_| -0.100);
    let (rate, duration_ms) = pulse_of(d.decide(t));
    assert_eq!(rate, 1.25);
    assert!((duration_ms - 400.0).abs() < 1.0, "{duration_ms}");
    let mut d = Drift::new();
    let t = feed(&mut d, 0.0, 6, |_| 0.050);
    let (rate, duration_ms) = pulse_of(d.decide(t));
    assert_eq!(rate, 0.75);
    assert!((duration_ms - 200.0).abs() < 1.0, "{duration_ms}");
}
