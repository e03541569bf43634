// Helpers of the accuracy runs: sampling the spread between viewers and summarising it.
import { sample } from '../tests/support.js';

export const EVERY_MS = 100;
export const CLOSE_MS = 50;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The p-th percentile (nearest rank) of `values`. */
export function pct(values, p) {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i];
}

/** {n, p50, p95, max} of spreads (ms). */
export function summary(spreads) {
  return { n: spreads.length, p50: pct(spreads, 50), p95: pct(spreads, 95), max: Math.max(...spreads) };
}

/** Samples `viewers` every EVERY_MS for `seconds`: [{t (ms since `since`), spread (ms), running}]. */
export async function collect(viewers, seconds, since = Date.now()) {
  const samples = [];
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    const t0 = Date.now();
    const s = await sample(viewers);
    // ACCURACY_TRACE=1 prints every sample: each viewer's position against the first viewer's
    // (ms), then per viewer its reading noise, rate control, own error estimate, learned pulse
    // lags (speed-up/slow-down), the room's rate as it sees it, last action and its counts of
    // pulses and seeks.
    if (process.env.ACCURACY_TRACE) {
      const m = s.positions[0];
      const acts = await Promise.all(viewers.map((v) => v.sync().then((x) => `n${x.readingNoiseMs?.toFixed(2)} ${x.rateControl} e${x.errorMs?.toFixed(1)} L${x.pulseLagMs?.toFixed(0)}/${x.pulseLagSlowMs?.toFixed(0)} x${x.roomRate} ${x.lastAction}|r${x.rateNudges}s${x.correctiveSeeks}`)));
      console.log('T', t0 - since, s.positions.map((p) => ((p - m) * 1000).toFixed(1)).join(' '), acts.join(' ; '));
    }
    samples.push({ t: t0 - since, spread: s.spreadMs, running: s.running.every(Boolean) });
    await sleep(Math.max(0, EVERY_MS - (Date.now() - t0)));
  }
  return samples;
}

export const spreads = (samples) => samples.map((x) => x.spread);

/** Ms (since the phase start) from which every later sample is playing within CLOSE_MS. */
export function settledAt(samples) {
  let at = NaN;
  for (let i = samples.length - 1; i >= 0; i--) {
    if (!(samples[i].running && samples[i].spread <= CLOSE_MS)) break;
    at = samples[i].t;
  }
  return at;
}

/** Corrective seeks and rate nudges so far, per viewer (window.__watchparty). */
export async function counters(viewers) {
  const s = await Promise.all(viewers.map((v) => v.sync()));
  return s.map((x) => ({ seeks: x?.correctiveSeeks ?? NaN, nudges: x?.rateNudges ?? NaN }));
}

/** Per minute, summed over viewers: {seeks, nudges} between two `counters` snapshots. */
export function perMinute(before, after, minutes) {
  const sum = (k) => after.reduce((n, x, i) => n + x[k] - before[i][k], 0);
  return { seeks: sum('seeks') / minutes, nudges: sum('nudges') / minutes };
}

export const fmt = (x) => (Number.isFinite(x) ? x.toFixed(1) : String(x));
