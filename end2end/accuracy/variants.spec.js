// Sync accuracy on hard players (issue 14): the same measurement as accuracy.spec.js, once per
// player variant. Viewers A and B have the well-behaved stand-in; viewer C's stand-in is
// configured as the variant (see stand-in/iframe_api.js). Per variant, three phases:
// - steady play, ACCURACY_VARIANT_STEADY_S (default 30);
// - the first ACCURACY_WINDOW_S (default 8) after A seeks while playing;
// - C's media clock 1 % fast, ACCURACY_VARIANT_SKEW_S (default 20);
// each reported as one row: spread p50/p95/max (ms) over all samples, p95/max over the samples
// where every viewer's media clock runs ("playing": a corrective seek's own buffering, ~150 ms
// of frozen picture during which the seeking viewer waits ahead of the others, is left out), and
// C's corrective seeks and rate changes per minute. It asserts only the generous in-sync bound
// of the scenarios (IN_SYNC_MS).
// end2end/run.sh runs it in the memory-store pass only (the variants measure the client, not the
// store); ACCURACY_VARIANTS (a comma-separated list of variant names) picks some; figures go to
// test-results/accuracy-variants-<store>.json.
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { test, expect, IN_SYNC_MS, waitInSync, createSession } from '../tests/support.js';
import { collect, counters, fmt, perMinute, settledAt, sleep, spreads, summary } from './lib.js';

const STEADY_S = Number(process.env.ACCURACY_VARIANT_STEADY_S || 30);
const WINDOW_S = Number(process.env.ACCURACY_WINDOW_S || 8);
const SKEW_S = Number(process.env.ACCURACY_VARIANT_SKEW_S || 20);

export const VARIANTS = [
  { name: 'well-behaved', config: {} },
  // Only rate 1: setPlaybackRate is ignored. Seeks buffer 120-160 ms (a seek inside the buffer).
  { name: 'rate-locked', config: { availableRates: [1], bufferMinMs: 120, bufferMaxMs: 160 } },
  // Reports reach the page 0-40 ms late, varying (a busy phone).
  { name: 'late readings (0-40 ms)', key: 'late-readings', config: { readingJitterMs: 40 } },
  // getCurrentTime() moves in 50 ms steps.
  { name: 'reading steps (50 ms)', key: 'reading-steps', config: { readingStepMs: 50 } },
  // Slow, variable buffering after play and seeks; BUFFERING then PAUSED on a paused seek.
  {
    name: 'slow buffering (200-900 ms)',
    key: 'slow-buffering',
    config: { bufferMinMs: 200, bufferMaxMs: 900, pausedSeekBuffers: true },
  },
];

const wanted = (process.env.ACCURACY_VARIANTS || '').split(',').filter(Boolean);
const store = process.env.E2E_STORE || 'unknown';
const picked = VARIANTS.filter(
  (v) => wanted.length === 0 || wanted.includes('all') || wanted.includes(v.key || v.name),
);

const row = (variant, phase, s, rates) =>
  `${variant.padEnd(28)} ${phase.padEnd(24)} ${String(s.n).padStart(4)} ${fmt(s.p50).padStart(7)} ` +
  `${fmt(s.p95).padStart(7)} ${fmt(s.max).padStart(8)} ${String(s.playing.n).padStart(5)} ${fmt(s.playing.p95).padStart(7)} ` +
  `${fmt(s.playing.max).padStart(8)} ${fmt(rates.seeks).padStart(7)} ${fmt(rates.nudges).padStart(7)}`;

/** Summary of all samples, and of those where every viewer plays. */
const both = (samples) => ({
  ...summary(spreads(samples)),
  playing: summary(spreads(samples.filter((x) => x.running))),
});

test('sync accuracy on hard players', async ({ viewers }, testInfo) => {
  test.setTimeout(picked.length * (STEADY_S + WINDOW_S + SKEW_S + 60) * 1000);
  const loadBefore = loadavg()[0];
  const results = [];
  const lines = [
    `sync accuracy on hard players (${store} store): spread between 3 viewers (C = the variant), ms; C's corrections per minute`,
    `${'variant'.padEnd(28)} ${'phase'.padEnd(24)} ${'n'.padStart(4)} ${'p50'.padStart(7)} ${'p95'.padStart(7)} ${'max'.padStart(8)} ` +
      `${'n pl.'.padStart(5)} ${'p95 pl.'.padStart(7)} ${'max pl.'.padStart(8)} ${'seeks'.padStart(7)} ${'rates'.padStart(7)}`,
  ];
  for (const variant of picked) {
    const [a, b] = [await viewers(`A ${variant.name}`), await viewers(`B ${variant.name}`)];
    const c = await viewers(`C ${variant.name}`, { config: variant.config });
    const url = await createSession(a, 'https://www.youtube.com/watch?v=dQw4w9WgXcQ');
    await a.waitReady();
    await b.open(url);
    await c.open(url);
    await a.hook('userPlay');
    await waitInSync([a, b, c], { playing: true, timeout: 30_000 });
    await sleep(3000);

    // Steady play.
    let k0 = await counters([c]);
    let t0 = Date.now();
    const steady = both(await collect([a, b, c], STEADY_S));
    const steadyRates = perMinute(k0, await counters([c]), (Date.now() - t0) / 60_000);

    // A seeks while playing.
    k0 = await counters([c]);
    t0 = Date.now();
    const pos = (await a.reading()).position;
    await a.hook('userSeek', pos + 30);
    const seekSamples = await collect([a, b, c], WINDOW_S);
    const seek = { ...both(seekSamples), settledWithin50msMs: settledAt(seekSamples) };
    const seekRates = perMinute(k0, await counters([c]), (Date.now() - t0) / 60_000);

    // C's media clock 1 % fast.
    await waitInSync([a, b, c], { playing: true, timeout: 20_000 });
    k0 = await counters([c]);
    await c.hook('setClockSkew', 1.01);
    t0 = Date.now();
    const skew = both(await collect([a, b, c], SKEW_S));
    const skewRates = perMinute(k0, await counters([c]), (Date.now() - t0) / 60_000);
    const cs = await c.sync();

    results.push({
      variant: variant.name,
      config: variant.config,
      rateControl: cs?.rateControl,
      readingNoiseMs: cs?.readingNoiseMs,
      steady: { ...steady, ...steadyRates },
      afterSeek: { ...seek, ...seekRates },
      skew1pct: { ...skew, ...skewRates },
    });
    lines.push(row(variant.name, `steady, ${STEADY_S} s`, steady, steadyRates));
    lines.push(row('', `after a seek, ${WINDOW_S} s`, seek, seekRates));
    lines.push(row('', `C 1 % fast, ${SKEW_S} s`, skew, skewRates));
    lines.push(
      `${''.padEnd(28)} C: drift control ${cs?.rateControl}, reading noise ${fmt(cs?.readingNoiseMs)} ms; ` +
        `after the seek all within 50 ms from ${fmt(seek.settledWithin50msMs)} ms on`,
    );
    for (const v of [a, b, c]) await v.context.close().catch(() => {});

    // Only the generous bound of the scenarios is asserted.
    expect.soft(steady.p95, `${variant.name}: steady p95`).toBeLessThanOrEqual(IN_SYNC_MS);
    expect.soft(seekSamples.at(-1).spread, `${variant.name}: in sync at the end of the seek window`).toBeLessThanOrEqual(IN_SYNC_MS);
    expect.soft(skew.p95, `${variant.name}: 1 % fast p95`).toBeLessThanOrEqual(IN_SYNC_MS);
  }
  lines.push(`machine: ${cpus().length} CPUs, load average ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after`);
  console.log(lines.join('\n'));
  const out = { store, date: new Date().toISOString(), machine: { cpus: cpus().length, load1Before: loadBefore, load1After: loadavg()[0] }, results };
  mkdirSync('test-results', { recursive: true });
  writeFileSync(`test-results/accuracy-variants-${store}.json`, JSON.stringify(out, null, 2));
  await testInfo.attach('accuracy-variants', { body: JSON.stringify(out, null, 2), contentType: 'application/json' });
});
