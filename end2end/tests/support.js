// Shared fixtures and helpers of the app scenarios and the accuracy run.
//
// - `viewers` fixture: opens browser contexts (one per viewer, like separate people), each with
//   the YouTube stand-in installed and every page's uncaught errors and console errors collected;
//   the test fails on any of them (and on any request that tried to leave the machine) unless
//   the test allowed that console message explicitly.
// - Sync measurement: every viewer's true media position (from the stand-in) is read with its
//   performance.now() timestamp, put on one timeline with performance.timeOrigin (the pages share
//   the machine's clock) and extrapolated to one common instant.
import { test as base, expect } from '@playwright/test';
import { installStandIn, MEDIA_PATH } from '../stand-in/routes.js';

export { PHONE, DESKTOP } from './devices.js';

/** The generous "in sync" bound every scenario asserts (ms between viewers). */
export const IN_SYNC_MS = 150;

const SESSION_PATH = /\/s\/[0-9A-Za-z]{12}$/;

class Viewer {
  constructor(name, context, page, collector) {
    this.name = name;
    this.context = context;
    this.page = page;
    this.collector = collector;
  }

  /** Opens the session at `url` and waits until hydrated, live and the player is ready. */
  async open(url) {
    await this.page.goto(url);
    await this.waitReady();
    return this;
  }

  /** Waits until the page is hydrated, the sync badge is live and the stand-in player is ready. */
  async waitReady(timeout = 20_000) {
    await this.page.locator('html[data-hydrated="true"]').waitFor({ state: 'attached', timeout });
    await expect(this.page.getByTestId('sync-badge')).toHaveAttribute('data-status', 'live', { timeout });
    await this.page.waitForFunction(
      () => {
        const ps = (window.__ytTest && window.__ytTest.players) || [];
        const p = ps.filter((x) => !x.destroyed).pop();
        return !!(p && p.ready);
      },
      null,
      { timeout },
    );
  }

  /**
   * Opens the session page's tab `name` (`chat`, `queue`, `people` or `room`: the side panel
   * shows one at a time) and waits until its panel shows.
   */
  async tab(name) {
    const tab = this.page.getByTestId(`tab-${name}`);
    await tab.click();
    await expect(tab).toHaveAttribute('aria-selected', 'true');
    await expect(this.page.getByTestId(`tabpanel-${name}`)).toBeVisible();
  }

  /** Calls a test hook on this viewer's current player, e.g. `hook('userSeek', 120)`. */
  async hook(name, ...args) {
    return this.page.evaluate(
      ([name, args]) => {
        const p = window.__ytTest.players.filter((x) => !x.destroyed).pop();
        if (!p) throw new Error('no live player');
        return p[name](...args);
      },
      [name, args],
    );
  }

  /** The true position of this viewer's player on the shared timeline (ms since the epoch). */
  async reading() {
    return this.page.evaluate(() => {
      const p = window.__ytTest.players.filter((x) => !x.destroyed).pop();
      if (!p) return null;
      const r = p.truePosition();
      return { ...r, wall: performance.timeOrigin + r.at };
    });
  }

  /**
   * How far this page's timeline (performance.timeOrigin + performance.now()) is from the
   * system clock (Date.now()), in ms. Date.now() truncates to whole ms, so each reading
   * d1, w = Date.now(), d2 bounds the offset e to (w - d2, w + 1 - d1); intersecting ~8 ms of
   * such bounds pins it (a preempted reading only widens its own bound). Pages whose offsets
   * agree can be compared on one timeline.
   */
  async timelineOffset() {
    return this.page.evaluate(() => {
      let lo = -Infinity;
      let hi = Infinity;
      const end = performance.now() + 8;
      while (performance.now() < end) {
        const d1 = performance.timeOrigin + performance.now();
        const w = Date.now();
        const d2 = performance.timeOrigin + performance.now();
        lo = Math.max(lo, w - d2);
        hi = Math.min(hi, w + 1 - d1);
      }
      return (lo + hi) / 2;
    });
  }

  /** `window.__watchparty` (the sync client's published state). */
  async sync() {
    return this.page.evaluate(() => (window.__watchparty ? { ...window.__watchparty } : null));
  }

  /** The viewer count shown on the page. */
  async viewerCount() {
    const v = await this.page.getByTestId('viewer-count').getAttribute('data-count');
    return v === null ? null : Number(v);
  }

  /** Lets this test expect console errors matching `re` on this viewer. */
  allowConsoleError(re) {
    this.collector.allowed.push(re);
  }
}

/** Extrapolates readings to the latest of their instants; returns positions (s) and spread (ms). */
export function atOneInstant(readings) {
  const t = Math.max(...readings.map((r) => r.wall));
  const positions = readings.map((r) => r.position + (r.running ? ((t - r.wall) / 1000) * r.rate : 0));
  const spreadMs = (Math.max(...positions) - Math.min(...positions)) * 1000;
  return { at: t, positions, spreadMs, running: readings.map((r) => r.running), states: readings.map((r) => r.state) };
}

/** One sample of every viewer's true position at one instant. */
export async function sample(viewers) {
  const readings = await Promise.all(viewers.map((v) => v.reading()));
  if (readings.some((r) => r === null)) throw new Error('a viewer has no player');
  return atOneInstant(readings);
}

function describe(s) {
  return `positions ${s.positions.map((p) => p.toFixed(3)).join(', ')} s; spread ${s.spreadMs.toFixed(1)} ms; ` +
    `running ${s.running.join(', ')}; states ${s.states.join(', ')}`;
}

/**
 * Waits until every viewer is `playing` (media clock running or not; undefined: all the same,
 * either way) and within `boundMs` of each other for `stableSamples` consecutive samples.
 * Fails with the last sample otherwise.
 */
export async function waitInSync(viewers, { playing, boundMs = IN_SYNC_MS, timeout = 15_000, stableSamples = 3, near } = {}) {
  const deadline = Date.now() + timeout;
  let last = null;
  let streak = 0;
  for (;;) {
    last = await sample(viewers);
    const want = playing === undefined ? last.running[0] : playing;
    const ok =
      last.running.every((r) => r === want) &&
      last.spreadMs <= boundMs &&
      (near === undefined || last.positions.every((p) => Math.abs(p - near) <= boundMs / 1000));
    streak = ok ? streak + 1 : 0;
    if (streak >= stableSamples) return last;
    if (Date.now() > deadline) {
      throw new Error(
        `viewers not in sync (${playing === undefined ? 'same state' : playing ? 'playing' : 'paused'}${near !== undefined ? ` near ${near} s` : ''}, ` +
          `bound ${boundMs} ms) after ${timeout} ms: ${describe(last)}\n${await clients(viewers)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What each viewer's sync client says (window.__watchparty), for failure messages. */
export async function clients(viewers) {
  const lines = await Promise.all(
    viewers.map(async (v) => `  ${v.name}: ${JSON.stringify(await v.sync().catch((e) => String(e)))}`),
  );
  return `sync clients:\n${lines.join('\n')}`;
}

/** Samples every `everyMs` for `durationMs`; fails at the first sample beyond `boundMs`. */
export async function expectStaysInSync(viewers, { durationMs, everyMs = 250, boundMs = IN_SYNC_MS, playing = true }) {
  const end = Date.now() + durationMs;
  const spreads = [];
  while (Date.now() < end) {
    const s = await sample(viewers);
    spreads.push(s.spreadMs);
    if (s.spreadMs > boundMs || s.running.some((r) => r !== playing)) {
      throw new Error(`viewers drifted apart: ${describe(s)}\n${await clients(viewers)}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return spreads;
}

/** Waits until every viewer's sync client has seen the same revision; returns it. */
export async function waitSameRevision(viewers, timeout = 10_000) {
  let revs = [];
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    revs = await Promise.all(viewers.map(async (v) => (await v.sync())?.revision));
    if (revs.every((r) => typeof r === 'number' && r === revs[0])) return revs[0];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`revisions differ: ${revs.join(', ')}`);
}

/** Creates a session from the home page form and returns its URL. */
export async function createSession(viewer, input) {
  const { page } = viewer;
  await page.goto('/');
  await page.locator('html[data-hydrated="true"]').waitFor({ state: 'attached' });
  await page.locator('#video-input').fill(input); // by id: the label is in the page's language
  await page.locator('#create-form button[type=submit]').click();
  await page.waitForURL(SESSION_PATH);
  return page.url();
}

/**
 * Opens `n` viewers (A, B, C, D) on a new session of `video` created by the first (its host);
 * all ready, paused at 0. (room.spec.js and host-chat.spec.js.)
 */
export async function party(viewers, n, video = 'dQw4w9WgXcQ') {
  const names = ['A', 'B', 'C', 'D'];
  const all = [];
  for (let i = 0; i < n; i++) all.push(await viewers(names[i]));
  const url = await createSession(all[0], `https://www.youtube.com/watch?v=${video}`);
  await all[0].waitReady();
  for (const v of all.slice(1)) await v.open(url);
  return { url, all };
}

export const test = base.extend({
  /**
   * Which player the stand-in is: `model` (its media clock is a formula) or `real` (a <video>
   * decoding a real clip, issue 25). Set per project (playwright.config.js) or by E2E_PLAYER.
   */
  player: [process.env.E2E_PLAYER || 'model', { option: true }],
  // eslint-disable-next-line no-empty-pattern
  viewers: async ({ browser, player }, use, testInfo) => {
    const opened = [];
    const baseURL = testInfo.project.use.baseURL;
    /**
     * Opens a new viewer (its own browser context). `config` goes to the stand-in
     * (e.g. {blockAutoplay: true}); `javaScriptEnabled: false` for a no-JS visitor;
     * `contextOptions` go to browser.newContext (e.g. PHONE: a phone-sized touch screen);
     * `baseURL`: another server than the suite's (proxy.spec.js: a proxy in front of two).
     */
    const open = async (name, { config = {}, javaScriptEnabled = true, contextOptions = {}, baseURL: at = baseURL } = {}) => {
      const context = await browser.newContext({ ...contextOptions, baseURL: at, javaScriptEnabled });
      if (player === 'real' && config.media === undefined) config = { media: MEDIA_PATH, ...config };
      const { blocked } = await installStandIn(context, { config, localOrigins: [new URL(at).origin] });
      const collector = { errors: [], allowed: [], blocked };
      const page = await context.newPage();
      const watch = (p) => {
        p.on('pageerror', (e) => collector.errors.push(`${name}: uncaught ${e.name}: ${e.message}`));
        p.on('console', (m) => {
          if (m.type() !== 'error') return;
          const text = m.text();
          if (collector.allowed.some((re) => re.test(text))) return;
          collector.errors.push(`${name}: console error: ${text}`);
        });
      };
      watch(page);
      context.on('page', watch);
      const v = new Viewer(name, context, page, collector);
      opened.push(v);
      return v;
    };
    await use(open);
    const problems = [];
    for (const v of opened) {
      problems.push(...v.collector.errors);
      problems.push(...v.collector.blocked.map((u) => `${v.name}: request left the machine: ${u}`));
    }
    for (const v of opened) await v.context.close().catch(() => {});
    expect(problems, 'uncaught page errors, console errors or external requests').toEqual([]);
  },
});

export { expect };
