import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS } from './playwright.config.js';
import { installStandIn, MEDIA_PATH } from './stand-in/routes.js';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
const context = await browser.newContext();
await installStandIn(context, { config: { media: MEDIA_PATH }, localOrigins: ['http://standin.test'] });
await context.route('http://standin.test/**', (route) => {
  const url = new URL(route.request().url());
  if (url.pathname.startsWith('/__standin/media/')) return route.fallback();
  return route.fulfill({ contentType: 'text/html', body: '<video id=v src="/__standin/media/clip.webm" preload=auto></video>' });
});
const page = await context.newPage();
await page.goto('http://standin.test/');
await page.waitForFunction(() => document.getElementById('v').readyState >= 3);
const res = await page.evaluate(async () => {
  const v = document.getElementById('v');
  await v.play();
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  await sleep(1500);
  // Line fit of (t, pos - t) over ms.
  async function offset(ms) {
    const xs = []; const ys = [];
    const end = performance.now() + ms;
    while (performance.now() < end) { const t = performance.now(); xs.push(t); ys.push(v.currentTime * 1000 - t); await sleep(3); }
    const n = ys.length; const m = ys.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(ys.reduce((a, b) => a + (b - m) ** 2, 0) / n);
    return { m, sd, n };
  }
  const out = [];
  for (const d of [0, 16, 40, 100, 200, 400]) {
    for (let k = 0; k < 4; k++) {
      const before = await offset(300);
      v.playbackRate = 1.25;
      const t0 = performance.now();
      await sleep(d);
      v.playbackRate = 1.0;
      const actual = performance.now() - t0;
      await sleep(400);
      const after = await offset(300);
      out.push({ d, actual: +actual.toFixed(1), planned: +(0.25 * actual).toFixed(1), realized: +(after.m - before.m).toFixed(2), sd: +before.sd.toFixed(3) });
    }
  }
  return out;
});
for (const r of res) console.log(JSON.stringify(r));
await browser.close();
