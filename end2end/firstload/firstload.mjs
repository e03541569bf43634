// First load on a phone (issue 15): from a tapped session link to watching in sync, in headless
// Chromium under emulated mobile conditions. Not part of `make test` (a measurement, not a
// check); run by ./run.sh (`make firstload`), which starts the release server.
//
//   node end2end/firstload/firstload.mjs BASE_URL [--runs N] [--json FILE]
//
// A host (a laptop context, not throttled) creates a session and plays it. Then N times a
// fresh browser context (empty cache, 390 × 844, touch, mobile viewport) opens the session
// link under Chrome DevTools Protocol emulation: Network.emulateNetworkConditions with
// FIRSTLOAD_RTT_MS (150) latency, FIRSTLOAD_DOWN_KBPS (1600) down and FIRSTLOAD_UP_KBPS (750)
// up (Lighthouse's "slow 4G" figures, applied per request as DevTools does), and
// Emulation.setCPUThrottlingRate FIRSTLOAD_CPU (4). The YouTube stand-in is served through the
// emulated network too (../stand-in/server.js: Playwright's route.fulfill would bypass the
// throttling), gzip-compressed like YouTube's.
//
// Times are ms from the navigation's start (the page's performance.timeOrigin, "the tap"):
// - FCP: first contentful paint (paint timing);
// - hydrated: html[data-hydrated] set (docs/test-hooks.md);
// - API requested: the request for https://www.youtube.com/iframe_api began (resource timing);
// - player ready: the stand-in player's onReady (hook readyAt);
// - first frame: its media clock first ran (hook runningAt);
// - in sync: from this moment on, the joiner's true position stayed within 50 ms of the
//   room's for the rest of the observation (WINDOW_MS after the first frame). The room's
//   position is the host's true position, read before and after (it plays at rate 1).
import { chromium } from 'playwright';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_ARGS } from '../playwright.config.js';
import { installStandIn } from '../stand-in/routes.js';
import { startStandInServer } from '../stand-in/server.js';
import { DESKTOP, PHONE } from '../tests/devices.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const BASE_URL = args.find((a) => /^https?:/.test(a)) || process.env.BASE_URL || 'http://127.0.0.1:3000';
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const RUNS = Number(opt('--runs', process.env.FIRSTLOAD_RUNS || 7));
const JSON_OUT = opt('--json', join(here, '..', 'test-results', 'firstload.json'));
const RTT_MS = Number(process.env.FIRSTLOAD_RTT_MS || 150);
const DOWN_KBPS = Number(process.env.FIRSTLOAD_DOWN_KBPS || 1600);
const UP_KBPS = Number(process.env.FIRSTLOAD_UP_KBPS || 750);
const CPU = Number(process.env.FIRSTLOAD_CPU || 4);
const WINDOW_MS = 3000;
const CLOSE_MS = 50;
const VIDEO = 'dQw4w9WgXcQ';

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: CHROMIUM_ARGS,
  headless: true,
});
const standIn = await startStandInServer();
const origin = new URL(BASE_URL).origin;

async function newContext(device) {
  const context = await browser.newContext({ ...device, baseURL: BASE_URL, ignoreHTTPSErrors: true });
  const { blocked } = await installStandIn(context, { localOrigins: [origin], serveFrom: standIn.origin });
  return { context, blocked };
}

// The host: creates the session and plays it.
const host = await newContext(DESKTOP);
const hostPage = await host.context.newPage();
await hostPage.goto('/');
await hostPage.locator('html[data-hydrated="true"]').waitFor({ state: 'attached' });
await hostPage.getByLabel('YouTube link or video id').fill(`https://www.youtube.com/watch?v=${VIDEO}`);
await hostPage.locator('#create-form button[type=submit]').click();
await hostPage.waitForURL(/\/s\/[0-9A-Za-z]{12}$/);
const url = hostPage.url();
await hostPage.locator('html[data-hydrated="true"]').waitFor({ state: 'attached', timeout: 60_000 });
await hostPage.waitForFunction(() => (window.__ytTest.players || []).some((p) => p.ready), null, { timeout: 60_000 });
await hostPage.evaluate(() => window.__ytTest.players.filter((p) => !p.destroyed).pop().userPlay());
await hostPage.waitForFunction(() => window.__ytTest.players.filter((p) => !p.destroyed).pop().truePosition().running);

/** The host's true position on the machine's clock (its media clock runs at rate 1). */
const hostReading = () =>
  hostPage.evaluate(() => {
    const r = window.__ytTest.players.filter((p) => !p.destroyed).pop().truePosition();
    return { position: r.position, wall: performance.timeOrigin + r.at, rate: r.rate, running: r.running };
  });

// In the joiner's page, before anything else: when the document got hydrated, and, from the
// player's first frame on, its true position every 10 ms for WINDOW_MS; then reports.
function probe([windowMs]) {
  const t = (window.__firstload = { hydrated: null, samples: [] });
  new MutationObserver((_, obs) => {
    if (document.documentElement.getAttribute('data-hydrated') === 'true') {
      t.hydrated = performance.now();
      obs.disconnect();
    }
  }).observe(document, { attributes: true, subtree: true, attributeFilter: ['data-hydrated'] });
  const yt = (window.__ytTest = window.__ytTest || {});
  yt.onRunning = (hook) => {
    const started = performance.now();
    const timer = setInterval(() => {
      const r = hook.truePosition();
      t.samples.push({ wall: performance.timeOrigin + r.at, position: r.position, running: r.running });
      if (performance.now() - started >= windowMs) {
        clearInterval(timer);
        window.__firstloadDone();
      }
    }, 10);
  };
}

const median = (xs) => {
  const s = xs.filter((x) => x !== null).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const worst = (xs) => (xs.some((x) => x === null) ? null : Math.max(...xs));

const runs = [];
let encoding = null;
for (let i = 0; i < RUNS; i++) {
  const { context, blocked } = await newContext(PHONE);
  const page = await context.newPage();
  let done;
  const finished = new Promise((ok) => (done = ok));
  await page.exposeFunction('__firstloadDone', () => done());
  await page.addInitScript(probe, [WINDOW_MS]);
  page.on('response', (r) => {
    if (/\.wasm(\?|$)/.test(r.url())) encoding = r.headers()['content-encoding'] || 'identity';
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: RTT_MS,
    downloadThroughput: (DOWN_KBPS * 1000) / 8,
    uploadThroughput: (UP_KBPS * 1000) / 8,
  });
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: CPU });
  const before = await hostReading();
  const log = [];
  page.on('console', (msg) => log.push(`console.${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (e) => log.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => log.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  await page.goto(url, { waitUntil: 'commit' });
  const timedOut = await Promise.race([finished.then(() => false), new Promise((ok) => setTimeout(() => ok(true), 60_000))]);
  if (timedOut) {
    const state = await page
      .evaluate(() => ({
        hydrated: document.documentElement.getAttribute('data-hydrated'),
        players: (window.__ytTest?.players || []).map((p) => ({ ready: p.ready, runningAt: p.runningAt, ...p.truePosition() })),
        resources: performance.getEntriesByType('resource').map((e) => `${e.name} ${Math.round(e.startTime)}-${Math.round(e.responseEnd)}`),
      }))
      .catch((e) => String(e));
    throw new Error(`run ${i + 1}: no first frame within 60 s\n${JSON.stringify(state, null, 2)}\n${log.join('\n')}`);
  }
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
  const after = await hostReading();
  const m = await page.evaluate(() => {
    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
    const api = performance.getEntriesByType('resource').find((e) => /youtube\.com\/iframe_api/.test(e.name));
    const wasm = performance.getEntriesByType('resource').find((e) => /\.wasm(\?|$)/.test(e.name));
    const p = window.__ytTest.players.filter((x) => !x.destroyed).pop();
    return {
      timeOrigin: performance.timeOrigin,
      fcp: fcp ? fcp.startTime : null,
      hydrated: window.__firstload.hydrated,
      apiRequested: api ? api.startTime : null,
      playerCreated: p ? p.createdAt : null,
      playerReady: p ? p.readyAt : null,
      firstFrame: p ? p.runningAt : null,
      wasm: wasm ? { start: wasm.startTime, end: wasm.responseEnd, bytes: wasm.encodedBodySize } : null,
      // Where the time went: the document and every resource (start-end, ms; bytes as sent).
      timeline: [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')].map((e) => ({
        name: e.name.replace(location.origin, '').slice(0, 80),
        start: Math.round(e.startTime),
        firstByte: Math.round(e.responseStart),
        end: Math.round(e.responseEnd),
        bytes: e.encodedBodySize,
      })),
      samples: window.__firstload.samples,
    };
  });
  await context.close();
  if (blocked.length) throw new Error(`requests left the machine: ${blocked.join(', ')}`);

  // The room's position at `wall`, from the host's readings around the run (rate 1).
  const drift = after.position - before.position - (after.wall - before.wall) / 1000;
  const room = (wall) => before.position + (wall - before.wall) / 1000;
  // In sync from the first sample after which every sample is within CLOSE_MS.
  let inSync = null;
  for (let k = m.samples.length - 1; k >= 0; k--) {
    const s = m.samples[k];
    if (!s.running || Math.abs(s.position - room(s.wall)) * 1000 > CLOSE_MS) break;
    inSync = s.wall - m.timeOrigin;
  }
  const firstError = m.samples.length ? (m.samples[0].position - room(m.samples[0].wall)) * 1000 : null;
  const row = {
    run: i + 1,
    fcp: m.fcp,
    hydrated: m.hydrated,
    apiRequested: m.apiRequested,
    playerReady: m.playerReady,
    firstFrame: m.firstFrame,
    inSync,
    firstFrameErrorMs: firstError,
    hostDriftMs: drift * 1000,
    wasm: m.wasm,
    playerCreated: m.playerCreated,
    timeline: m.timeline,
  };
  runs.push(row);
  const f = (x) => (x === null || x === undefined ? '–' : Math.round(x));
  console.error(
    `run ${i + 1}/${RUNS}: FCP ${f(row.fcp)}, hydrated ${f(row.hydrated)}, API requested ${f(row.apiRequested)}, ` +
      `player ready ${f(row.playerReady)}, first frame ${f(row.firstFrame)} (${f(firstError)} ms off), in sync ${f(inSync)} ms`,
  );
}
await host.context.close();
await browser.close();
await standIn.close();

const COLS = [
  ['fcp', 'FCP'],
  ['hydrated', 'hydrated'],
  ['apiRequested', 'YouTube API requested'],
  ['playerReady', 'player ready'],
  ['firstFrame', 'first frame'],
  ['inSync', `within ${CLOSE_MS} ms of the room`],
];
const cell = (x) => (x === null || x === undefined ? '–' : `${(x / 1000).toFixed(2)} s`);
const lines = [
  `| run | ${COLS.map(([, h]) => h).join(' | ')} |`,
  `|---|${COLS.map(() => '---:').join('|')}|`,
  ...runs.map((r) => `| ${r.run} | ${COLS.map(([k]) => cell(r[k])).join(' | ')} |`),
  `| **median** | ${COLS.map(([k]) => `**${cell(median(runs.map((r) => r[k])))}**`).join(' | ')} |`,
  `| worst | ${COLS.map(([k]) => cell(worst(runs.map((r) => r[k])))).join(' | ')} |`,
];
const wasm = runs[0].wasm;
const summary =
  `First load of a session link on an emulated phone (390 × 844, ${CPU}× CPU slowdown, ` +
  `${DOWN_KBPS / 1000} Mbit/s down / ${UP_KBPS / 1000} Mbit/s up, ${RTT_MS} ms RTT), ${RUNS} fresh contexts; ` +
  `ms since the navigation started. wasm served as ${encoding}` +
  (wasm ? `, ${wasm.bytes} B, downloaded ${Math.round(wasm.start)}–${Math.round(wasm.end)} ms (run 1)` : '') +
  '.';
console.log(`${summary}\n\n${lines.join('\n')}`);
mkdirSync(dirname(JSON_OUT), { recursive: true });
writeFileSync(
  JSON_OUT,
  JSON.stringify(
    { date: new Date().toISOString(), baseUrl: BASE_URL, rttMs: RTT_MS, downKbps: DOWN_KBPS, upKbps: UP_KBPS, cpu: CPU, encoding, runs },
    null,
    2,
  ),
);
