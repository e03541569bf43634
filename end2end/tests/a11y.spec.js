// Accessibility (issue 29). axe-core (WCAG 2.0, 2.1 and 2.2, levels A and AA) on the home page
// and on the session page, as the host and as a guest, at 390 and 1280 px, with each tab open:
// any serious or critical violation fails. The session page has one h1; the tabs follow the
// ARIA tabs pattern by keyboard; every control reached with Tab shows a focus ring; notices and
// this viewer's sync state are announced politely; reactions do not rise under reduced motion.
import { createRequire } from 'node:module';
import { test, expect, createSession, waitInSync, PHONE, DESKTOP } from './support.js';
import { TABS } from './shots.js';

const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const VIDEO = 'dQw4w9WgXcQ';
// axe is put in the page as a script tag: the page's CSP would refuse it.
const PHONE_AXE = { ...PHONE, bypassCSP: true };
const DESKTOP_AXE = { ...DESKTOP, bypassCSP: true };

/** axe's serious and critical violations on `page` (the YouTube player's frame left out). */
async function violations(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'], iframes: false }),
    TAGS,
  );
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.slice(0, 4).map((n) => n.target.join(' ')).join(', ')}`);
}

test('axe: the home page at 390 and 1280 px', async ({ viewers }) => {
  const v = await viewers('visitor', { contextOptions: PHONE_AXE });
  await v.page.goto('/');
  await v.page.locator('html[data-hydrated="true"]').waitFor({ state: 'attached' });
  const problems = [];
  for (const size of [PHONE.viewport, DESKTOP.viewport]) {
    await v.page.setViewportSize(size);
    for (const p of await violations(v.page)) problems.push(`${size.width} px: ${p}`);
  }
  await expect(v.page.locator('h1')).toHaveCount(1);
  expect(problems).toEqual([]);
});

test('axe: the session page as host and guest, at 390 and 1280 px, with each tab open', async ({ viewers }) => {
  const host = await viewers('host', { contextOptions: DESKTOP_AXE });
  const guest = await viewers('guest', { contextOptions: PHONE_AXE });
  const url = await createSession(host, `https://www.youtube.com/watch?v=${VIDEO}`);
  await host.waitReady();
  await guest.open(url);
  // Something in every panel: a queued video, a chat line, a notice, two rows.
  await host.tab('queue');
  await host.page.getByTestId('queue-add-input').fill('9bZkp7q19f0');
  await host.page.getByTestId('queue-add-submit').click();
  await guest.page.getByTestId('chat-input').fill('Hello');
  await guest.page.getByTestId('chat-input').press('Enter');
  await expect(host.page.getByTestId('chat-message')).toHaveCount(1);
  await expect(guest.page.getByTestId('queue-item')).toHaveCount(1);
  await expect(host.page.getByTestId('roster-member')).toHaveCount(2);

  const problems = [];
  for (const [v, sizes] of [[host, [DESKTOP.viewport, PHONE.viewport]], [guest, [PHONE.viewport, DESKTOP.viewport]]]) {
    await expect(v.page.locator('h1')).toHaveCount(1);
    for (const size of sizes) {
      await v.page.setViewportSize(size);
      for (const t of TABS) {
        await v.tab(t);
        for (const p of await violations(v.page)) problems.push(`${v.name}, ${size.width} px, ${t} tab: ${p}`);
      }
    }
  }
  expect(problems).toEqual([]);
});

test('keyboard: the tabs by arrow keys, a focus ring on every control Tab reaches', async ({ viewers }) => {
  const v = await viewers('A', { contextOptions: DESKTOP });
  await createSession(v, `https://www.youtube.com/watch?v=${VIDEO}`);
  await v.waitReady();
  const { page } = v;

  // The tabs: one in the tab order; arrows, Home and End move and open.
  const tab = (t) => page.getByTestId(`tab-${t}`);
  await expect(page.getByRole('tablist')).toHaveCount(1);
  await expect(page.getByRole('tab')).toHaveCount(4);
  await tab('chat').focus();
  for (const [key, want] of [['ArrowRight', 'queue'], ['ArrowRight', 'people'], ['End', 'room'], ['ArrowRight', 'chat'], ['ArrowLeft', 'room'], ['Home', 'chat']]) {
    await page.keyboard.press(key);
    await expect(tab(want)).toBeFocused();
    await expect(tab(want)).toHaveAttribute('aria-selected', 'true');
    await expect(tab(want)).toHaveAttribute('tabindex', '0');
    await expect(page.getByTestId(`tabpanel-${want}`)).toBeVisible();
    await expect(page.locator('[role=tabpanel]:visible')).toHaveCount(1);
  }
  await expect(page.locator('[role=tab][tabindex="0"]')).toHaveCount(1);

  // Tab through the page (room tab open: the most controls): every control shows a ring.
  await tab('room').click();
  await page.locator('.brand').focus();
  const seen = new Set();
  const missing = [];
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press('Tab');
    const f = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      const s = getComputedStyle(el);
      const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none';
      const id = el.getAttribute('data-testid') || el.id || el.className || el.tagName;
      return { tag: el.tagName, id: String(id), ring, visible: !!(el.offsetWidth || el.offsetHeight) };
    });
    if (!f || f.tag === 'IFRAME') continue;
    if (seen.has(f.id) && f.id === 'name-save') break;
    seen.add(f.id);
    if (f.visible && !f.ring) missing.push(`${f.tag} ${f.id}`);
  }
  expect(missing, 'controls without a visible focus ring').toEqual([]);
  for (const id of ['tab-room', 'fullscreen', 'video-change-input', 'copy-link', 'name-input', 'lock-control']) {
    expect(seen.has(id), `Tab reaches ${id}`).toBe(true);
  }
});

test('announcements: notices and the sync state through polite live regions; reactions under reduced motion', async ({ viewers }) => {
  const a = await viewers('A', { contextOptions: DESKTOP });
  const b = await viewers('B', { contextOptions: DESKTOP });
  const url = await createSession(a, `https://www.youtube.com/watch?v=${VIDEO}`);
  await a.waitReady();
  await b.open(url);
  const sync = a.page.getByTestId('announce-sync');
  const notice = a.page.getByTestId('announce-notice');
  for (const region of [sync, notice]) await expect(region).toHaveAttribute('aria-live', 'polite');
  await expect(sync).toHaveText('Sync: in sync', { timeout: 15_000 });
  await b.hook('userPlay');
  await expect(notice).toContainText('played');
  // A figure that changes every moment is never in a live region.
  await waitInSync([a, b], { playing: true });
  await expect(sync).toHaveText(/^Sync: [a-z ]+$/);

  await a.page.emulateMedia({ reducedMotion: 'reduce' });
  await a.page.getByTestId('reaction-button').first().click();
  const float = a.page.getByTestId('reaction-float').first();
  await expect(float).toBeAttached();
  expect(await float.evaluate((el) => getComputedStyle(el).animationName)).toBe('float-fade');
  await a.page.emulateMedia({ reducedMotion: 'no-preference' });
});
