// Sync accuracy figures, in real Chromium against the running app.
//
// Samples every viewer's true media position (from the YouTube stand-in) at one instant, over
// and over, and prints p50/p95/max of the spread (largest minus smallest position, ms):
// - steady play (3 viewers),
// - right after a late join (4 viewers, from the joiner's first frame for WINDOW_S),
// - right after a 2 s stall of one viewer (from the moment it resumes, for WINDOW_S),
// - with one viewer's media clock 1 % fast (on the real-media player twice: by the element's rate,
//   and as a device clock, smooth),
// plus the time a joiner / a stalled viewer needs to come within 50 ms, and corrective seeks per
// minute (window.__watchparty.correctiveSeeks). It asserts only the generous in-sync bound.
// The figures are also written to test-results/accuracy-<store>.json, and the spread over time
// is drawn to test-results/accuracy-<store>.svg (see svg.js).
//
// Durations: ACCURACY_STEADY_S (default 60), ACCURACY_WINDOW_S (default 8),
// ACCURACY_SKEW_S (default 30).
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { test, expect, IN_SYNC_MS, waitInSync, createSession } from '../tests/support.js';
import { CLOSE_MS, collect, counters, fmt, settledAt, sleep, spreads, summary } from './lib.js';
import { spreadSvg } from './svg.js';

const STEADY_S = Number(process.env.ACCURACY_STEADY_S || 60);
const WINDOW_S = Number(process.env.ACCURACY_WINDOW_S || 8);
const SKEW_S = Number(process.env.ACCURACY_SKEW_S || 30);
const row = (name, s) =>
  `${name.padEnd(34)} ${String(s.n).padStart(5)} ${fmt(s.p50).padStart(8)} ${fmt(s.p95).padStart(8)} ${fmt(s.max).padStart(8)}`;

test('sync accuracy figures', async ({ viewers, player }, testInfo) => {
  const store = process.env.E2E_STORE || 'unknown';
  const tag = player === 'real' ? `${store}-real` : store;
  const loadBefore = loadavg()[0];
  const [a, b, c] = [await viewers('A'), await viewers('B'), await viewers('C')];
  const url = await createSession(a, 'https://www.youtube.com/watch?v=dQw4w9WgXcQ');
  await a.waitReady();
  await b.open(url);
  await c.open(url);
  await a.hook('userPlay');
  await waitInSync([a, b, c], { playing: true, timeout: 20_000 });
  await sleep(3000); // let every client settle

  // Steady play.
  const s0 = await counters([a, b, c]);
  const t0 = Date.now();
  const steadySamples = await collect([a, b, c], STEADY_S);
  const steady = spreads(steadySamples);
  const minutes = (Date.now() - t0) / 60_000;
  const s1 = await counters([a, b, c]);
  const steadySeeks = s1.reduce((n, x, i) => n + x.seeks - s0[i].seeks, 0);
  const steadyNudges = s1.reduce((n, x, i) => n + x.nudges - s0[i].nudges, 0);

  // Late join while playing: the window starts at the joiner's first frame.
  const d = await viewers('D');
  const joinStart = Date.now();
  await d.open(url);
  await d.page.waitForFunction(() => window.__ytTest.players.some((p) => p.truePosition().running), null, {
    timeout: 20_000,
    polling: 5,
  });
  const firstFrame = Date.now() - joinStart;
  if (process.env.ACCURACY_TRACE) console.log('timelines', JSON.stringify(await Promise.all([a, b, c, d].map((v) => v.timelineOffset()))));
  const join = await collect([a, b, c, d], WINDOW_S);
  const joinSettled = settledAt(join);

  // A 2 s stall of B: the window starts when B resumes (2 s behind).
  await waitInSync([a, b, c, d], { playing: true });
  const bSeeks0 = (await b.sync()).correctiveSeeks;
  await b.hook('stall', 2000);
  await sleep(500);
  await b.page.waitForFunction(
    () => window.__ytTest.players.filter((p) => !p.destroyed).pop().truePosition().running,
    null,
    { timeout: 10_000, polling: 5 },
  );
  const stall = await collect([a, b, c, d], WINDOW_S);
  const stallSettled = settledAt(stall);
  const stallSeeks = (await b.sync()).correctiveSeeks - bSeeks0;

  // Real media: a device clock 1 % fast (B's), smooth, where the rate 1.01 below makes Chromium
  // advance C's clock in ~9 ms steps (end2end/stand-in/iframe_api.js setDeviceClockSkew). It
  // comes first: a viewer remembers how noisy its readings were (its dead band stays wide for
  // a while), so after C's stepped readings C would start this phase tens of ms off.
  let device = null;
  let deviceSamples = [];
  if (player === 'real') {
    await waitInSync([a, b, c, d], { playing: true });
    const kb0 = await counters([b]);
    await b.hook('setDeviceClockSkew', 1.01);
    const t = Date.now();
    deviceSamples = await collect([a, b, c, d], SKEW_S);
    const m = (Date.now() - t) / 60_000;
    const kb1 = await counters([b]);
    device = {
      ...summary(spreads(deviceSamples)),
      correctiveSeeksPerMin: (kb1[0].seeks - kb0[0].seeks) / m,
      rateNudgesPerMin: (kb1[0].nudges - kb0[0].nudges) / m,
    };
    await b.hook('setDeviceClockSkew', 1);
  }

  // One viewer's media clock 1 % fast.
  await waitInSync([a, b, c, d], { playing: true });
  const k0 = await counters([c]);
  await c.hook('setClockSkew', 1.01);
  const skewStart = Date.now();
  const skewSamples = await collect([a, b, c, d], SKEW_S);
  const skew = spreads(skewSamples);
  const skewMinutes = (Date.now() - skewStart) / 60_000;
  const k1 = await counters([c]);

  // How well the pages' timelines agree (the measurement's own error).
  const offsets = await Promise.all([a, b, c, d].map((v) => v.timelineOffset()));
  const timelineMs = Math.max(...offsets) - Math.min(...offsets);

  const result = {
    store,
    player,
    date: new Date().toISOString(),
    steadySeconds: STEADY_S,
    windowSeconds: WINDOW_S,
    steady: summary(steady),
    lateJoin: { ...summary(spreads(join)), firstFrameMs: firstFrame, settledWithin50msMs: joinSettled },
    // Issue 25's bound: p95 within 5 ms from 2 s after the joiner's first frame.
    lateJoinAfter2s: summary(spreads(join.filter((x) => x.t >= 2000))),
    afterStall: { ...summary(spreads(stall)), settledWithin50msMs: stallSettled, correctiveSeeks: stallSeeks },
    skew1pct: {
      ...summary(skew),
      correctiveSeeksPerMin: (k1[0].seeks - k0[0].seeks) / skewMinutes,
      rateNudgesPerMin: (k1[0].nudges - k0[0].nudges) / skewMinutes,
    },
    // Real media only: the same skew as a device clock (smooth), null on the modelled player.
    skew1pctDevice: device,
    steadyCorrectiveSeeksPerMin: steadySeeks / minutes,
    steadyCorrectiveSeeksPerViewerMin: steadySeeks / minutes / 3,
    steadyRateNudgesPerMin: steadyNudges / minutes,
    // Issue 25's bound: at most one rate change or seek per 30 s per viewer in steady play.
    steadyCorrectionsPer30sPerViewer: (steadySeeks + steadyNudges) / minutes / 3 / 2,
    timelineDisagreementMs: timelineMs,
    machine: { cpus: cpus().length, model: cpus()[0]?.model, load1Before: loadBefore, load1After: loadavg()[0] },
  };

  const lines = [
    `sync accuracy (${store} store, ${player === 'real' ? 'real-media' : 'modelled'} player): spread between viewers' true positions at one instant, ms`,
    `${'phase'.padEnd(34)} ${'n'.padStart(5)} ${'p50'.padStart(8)} ${'p95'.padStart(8)} ${'max'.padStart(8)}`,
    row(`steady play, 3 viewers, ${STEADY_S} s`, result.steady),
    row(`after a late join (first ${WINDOW_S} s)`, result.lateJoin),
    row(`  the same from 2 s after its first frame`, result.lateJoinAfter2s),
    row(`after a 2 s stall (first ${WINDOW_S} s)`, result.afterStall),
    row(`one clock 1 % fast, ${SKEW_S} s`, result.skew1pct),
    ...(device ? [row(`one device clock 1 % fast, ${SKEW_S} s`, device)] : []),
    `late joiner: first frame ${firstFrame} ms after navigation; all within ${CLOSE_MS} ms from ` +
      `${fmt(joinSettled)} ms after that frame on`,
    `stalled viewer: all within ${CLOSE_MS} ms from ${fmt(stallSettled)} ms after it resumed on ` +
      `(${stallSeeks} corrective seeks)`,
    `corrective seeks in steady play: ${fmt(result.steadyCorrectiveSeeksPerMin)} per minute (all 3 viewers), ` +
      `rate nudges ${fmt(result.steadyRateNudgesPerMin)} per minute ` +
      `(${fmt(result.steadyCorrectionsPer30sPerViewer)} corrections per 30 s per viewer)`,
    `1 % fast clock: ${fmt(result.skew1pct.correctiveSeeksPerMin)} corrective seeks/min, ` +
      `${fmt(result.skew1pct.rateNudgesPerMin)} rate nudges/min` +
      (device ? `; device clock: ${fmt(device.correctiveSeeksPerMin)} seeks/min, ${fmt(device.rateNudgesPerMin)} nudges/min` : ''),
    `measurement: the 4 pages' timelines agree within ${timelineMs.toFixed(2)} ms; ` +
      `${result.machine.cpus} CPUs, load average ${loadBefore.toFixed(2)} before, ${result.machine.load1After.toFixed(2)} after`,
  ];
  console.log(lines.join('\n'));
  mkdirSync('test-results', { recursive: true });
  writeFileSync(`test-results/accuracy-${tag}.json`, JSON.stringify(result, null, 2));
  // The picture: the spread over time in each phase.
  const svg = spreadSvg(
    [
      { name: 'steady play, 3 viewers', samples: steadySamples },
      { name: 'after a late join', samples: join },
      { name: 'after a 2 s stall', samples: stall },
      { name: 'one clock 1 % fast', samples: skewSamples },
      ...(device ? [{ name: 'one device clock 1 % fast', samples: deviceSamples }] : []),
    ],
    `Spread between viewers over time (${store} store, ${player} player, ${new Date().toISOString().slice(0, 16)}Z)`,
  );
  writeFileSync(`test-results/accuracy-${tag}.svg`, svg);
  await testInfo.attach('accuracy', { body: JSON.stringify(result, null, 2), contentType: 'application/json' });

  // Only the generous bound is asserted.
  expect(result.steady.max).toBeLessThanOrEqual(IN_SYNC_MS);
  expect(result.skew1pct.p95).toBeLessThanOrEqual(IN_SYNC_MS);
  if (device) expect(device.p95).toBeLessThanOrEqual(IN_SYNC_MS);
  expect(join.at(-1).spread, 'the late joiner is in sync at the end of its window').toBeLessThanOrEqual(IN_SYNC_MS);
  expect(stall.at(-1).spread, 'the stalled viewer is in sync at the end of its window').toBeLessThanOrEqual(IN_SYNC_MS);
});
