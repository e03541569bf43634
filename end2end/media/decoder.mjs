// What a real <video> decoder does with rate pulses and starts (issue 25): the measurement
// behind core/src/sync/pulse_lag.rs and the engine's START_SETTLE_MS. Headless Chromium plays
// the real-media clip (end2end/media/make-clip.sh) on a page of its own, and prints:
// - per pulse at 1.25 and at 0.75 of length d (ms): the shift planned ((rate - 1) d) and the
//   shift realized (currentTime - wall clock, averaged over 300 ms before and from 400 ms
//   after); both ways a pulse also moves the clock about 20 ms back (core/src/sync/pulse_lag.rs);
// - per start after a seek: when the clock first moved and where it stood against a clock
//   running from that moment (ms) 0-1450 ms later.
//
//   node end2end/media/decoder.mjs        (after scripts/setup.sh test)
//
// DECODER_PULSES picks the pulses, e.g. `1.25:40,60,80;0.75:16,30` (rate:lengths in ms;
// default both rates at 0, 16, 40, 100, 200 and 400 ms), DECODER_REPEAT how many of each
// (default 4), DECODER_STARTS=0 skips the starts.
import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS } from '../playwright.config.js';
import { installStandIn, MEDIA_PATH } from '../stand-in/routes.js';

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_ARGS });
const context = await browser.newContext();
await installStandIn(context, { config: { media: MEDIA_PATH }, localOrigins: ['http://decoder.test'] });
await context.route('http://decoder.test/**', (route) => {
  if (new URL(route.request().url()).pathname.startsWith('/__standin/media/')) return route.fallback();
  return route.fulfill({ contentType: 'text/html', body: `<video id=v src="${MEDIA_PATH}" preload=auto></video>` });
});
const page = await context.newPage();
await page.goto('http://decoder.test/');
await page.waitForFunction(() => document.getElementById('v').readyState >= 3);
const plan = (process.env.DECODER_PULSES || '1.25:0,16,40,100,200,400;0.75:0,16,40,100,200,400')
  .split(';')
  .flatMap((part) => {
    const [rate, lengths] = part.split(':');
    return lengths.split(',').map((d) => [Number(rate), Number(d)]);
  });
const repeat = Number(process.env.DECODER_REPEAT || 4);
const withStarts = process.env.DECODER_STARTS !== '0';
const { pulses, starts } = await page.evaluate(async ({ plan, repeat, withStarts }) => {
  const v = document.getElementById('v');
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  // Mean of (position - wall clock) over `ms`, and its RMS noise.
  async function offset(ms) {
    const ys = [];
    const end = performance.now() + ms;
    while (performance.now() < end) {
      ys.push(v.currentTime * 1000 - performance.now());
      await sleep(3);
    }
    const m = ys.reduce((a, b) => a + b, 0) / ys.length;
    return { m, rms: Math.sqrt(ys.reduce((a, b) => a + (b - m) ** 2, 0) / ys.length) };
  }
  await v.play();
  await sleep(1500);
  const pulses = [];
  for (const [rate, d] of plan) {
    for (let k = 0; k < repeat; k++) {
      const before = await offset(300);
      v.playbackRate = rate;
      const t0 = performance.now();
      await sleep(d);
      v.playbackRate = 1.0;
      const ran = performance.now() - t0;
      await sleep(400);
      const after = await offset(300);
      pulses.push({ d, ran: +ran.toFixed(1), rate, planned: +((rate - 1) * ran).toFixed(1), realized: +(after.m - before.m).toFixed(2), noiseRms: +before.rms.toFixed(3) });
    }
  }
  v.pause();
  const starts = [];
  for (const to of withStarts ? [100.3, 733.1, 1500.9] : []) {
    v.currentTime = to;
    await sleep(300);
    const t0 = performance.now();
    v.play();
    let first = null;
    const pts = [];
    while (performance.now() - t0 < 1600) {
      const t = performance.now();
      const p = v.currentTime;
      if (first === null && p !== to) first = t;
      if (first !== null) pts.push([t - first, (p - to) * 1000 - (t - first)]);
      await sleep(2);
    }
    const at = (ms) => +(pts.find((q) => q[0] >= ms) || [0, NaN])[1].toFixed(1);
    starts.push({ to, firstMoveMs: +(first - t0).toFixed(0), ...Object.fromEntries([0, 50, 100, 200, 500, 1000, 1450].map((ms) => [`at${ms}`, at(ms)])) });
    v.pause();
    await sleep(300);
  }
  return { pulses, starts };
}, { plan, repeat, withStarts });
console.log('pulses (ms): d, ran, rate, planned shift, realized shift, reading noise RMS');
for (const p of pulses) console.log(JSON.stringify(p));
console.log('starts: first move after play() (ms), then position minus a clock from that moment (ms) at 0..1450 ms');
for (const s of starts) console.log(JSON.stringify(s));
await browser.close();
