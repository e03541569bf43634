// Full screen and theater mode (issue 29). The full-screen button puts the player's wrapper
// (not the iframe) in the browser's full screen, with the chat lines, the newest notice, the
// reactions and a chat field over the video; where the browser has no element full screen the
// wrapper fills the viewport with CSS (a phone's browser). Theater mode gives the player the full
// width. In every mode the viewers stay in sync, and the YouTube player's own controls stay
// clickable (the player's iframe is what is at its middle and along its bottom). Takes the
// README's screenshots of the overlay (shots.js).
import { test, expect, createSession, waitInSync, expectStaysInSync, PHONE, DESKTOP } from './support.js';
import { shot } from './shots.js';

const VIDEO = 'dQw4w9WgXcQ';

/** What is at the player's middle and along its bottom (the YouTube controls' row). */
async function atPlayer(page) {
  const box = await page.locator('.player-frame iframe').boundingBox();
  return page.evaluate(
    (b) => [[0.5, 0.5], [0.5, 0.96], [0.08, 0.96], [0.92, 0.96]].map(([fx, fy]) => document.elementFromPoint(b.x + b.width * fx, b.y + b.height * fy)?.tagName),
    box,
  );
}

async function party(viewers, hostOptions, guestOptions) {
  const a = await viewers('A', { contextOptions: hostOptions });
  const b = await viewers('B', { contextOptions: guestOptions });
  const url = await createSession(a, `https://www.youtube.com/watch?v=${VIDEO}`);
  await a.waitReady();
  await b.open(url);
  await a.hook('userPlay');
  await waitInSync([a, b], { playing: true });
  return [a, b];
}

test('full screen: the wrapper goes full screen with chat, notices, reactions and a chat field; sync unchanged', async ({ viewers }) => {
  const [a, b] = await party(viewers, DESKTOP, DESKTOP);
  const { page } = a;
  const frame = page.getByTestId('player-frame');
  await expect(page.getByTestId('video-overlay')).toBeHidden();

  await page.getByTestId('fullscreen').click();
  await expect(frame).toHaveAttribute('data-screen', 'full');
  expect(await page.evaluate(() => document.fullscreenElement?.getAttribute('data-testid'))).toBe('player-frame');
  await expect(page.getByTestId('video-overlay')).toBeVisible();
  expect(await atPlayer(page)).toEqual(['IFRAME', 'IFRAME', 'IFRAME', 'IFRAME']);

  // B's chat line, a notice and a reaction show over A's video.
  await b.page.getByTestId('chat-input').fill('Look at this');
  await b.page.getByTestId('chat-input').press('Enter');
  await expect(page.getByTestId('overlay-line').last()).toContainText('Look at this');
  await b.page.getByTestId('reaction-button').first().click();
  await expect(page.getByTestId('reaction-float').first()).toBeVisible();
  await b.hook('userSeek', 60);
  await expect(page.getByTestId('overlay-notice')).toContainText('skipped to');
  await waitInSync([a, b], { playing: true, near: undefined });

  // The C key opens the chat field; Enter sends.
  await page.keyboard.press('c');
  const field = page.getByTestId('overlay-chat-input');
  await expect(field).toBeVisible();
  await expect(field).toBeFocused();
  await field.fill('Sent from full screen');
  await field.press('Enter');
  await expect(b.page.getByTestId('chat-text').last()).toHaveText('Sent from full screen');
  await expect(page.getByTestId('overlay-line').last()).toContainText('Sent from full screen');
  await shot(page, 'fullscreen-desktop', { keepFocus: true, animations: 'allow' });

  // Sync is unchanged: a pause and a play from the other viewer, and steady play.
  await b.hook('userPause');
  await waitInSync([a, b], { playing: false });
  await b.hook('userPlay');
  await waitInSync([a, b], { playing: true });
  await expectStaysInSync([a, b], { durationMs: 2000 });
  expect(await atPlayer(page)).toEqual(['IFRAME', 'IFRAME', 'IFRAME', 'IFRAME']);

  await page.getByTestId('fullscreen-exit').click();
  await expect(frame).toHaveAttribute('data-screen', 'page');
  expect(await page.evaluate(() => document.fullscreenElement)).toBeNull();
  await expect(page.getByTestId('video-overlay')).toBeHidden();
  await waitInSync([a, b], { playing: true });
});

test('theater: the player takes the full width, its controls stay clickable, sync unchanged', async ({ viewers }) => {
  const [a, b] = await party(viewers, DESKTOP, DESKTOP);
  const { page } = a;
  const before = await page.getByTestId('player-frame').boundingBox();
  await page.getByTestId('theater').click();
  await expect(page.getByTestId('theater')).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByTestId('session')).toHaveClass(/theater/);
  await expect.poll(async () => (await page.getByTestId('player-frame').boundingBox()).width).toBeGreaterThan(before.width + 100);
  expect(await atPlayer(page)).toEqual(['IFRAME', 'IFRAME', 'IFRAME', 'IFRAME']);
  await a.hook('userPause');
  await waitInSync([a, b], { playing: false });
  await a.hook('userPlay');
  await waitInSync([a, b], { playing: true });
  await expectStaysInSync([a, b], { durationMs: 2000 });
  await page.getByTestId('theater').click();
  await expect.poll(async () => Math.round((await page.getByTestId('player-frame').boundingBox()).width)).toBe(Math.round(before.width));
});

test('without element full screen (a phone in landscape) the player fills the viewport with CSS', async ({ viewers }) => {
  const landscape = { ...PHONE, viewport: { width: 844, height: 390 } };
  const [a, b] = await party(viewers, DESKTOP, landscape);
  const { page } = b;
  // A browser without element full screen (iOS Safari on an iPhone).
  await page.evaluate(() => Object.defineProperty(Document.prototype, 'fullscreenEnabled', { configurable: true, get: () => false }));
  await page.getByTestId('fullscreen').click();
  const frame = page.getByTestId('player-frame');
  await expect(frame).toHaveAttribute('data-screen', 'fill');
  expect(await page.evaluate(() => document.fullscreenElement)).toBeNull();
  const box = await frame.boundingBox();
  expect(box).toEqual({ x: 0, y: 0, width: 844, height: 390 });
  expect(await atPlayer(page)).toEqual(['IFRAME', 'IFRAME', 'IFRAME', 'IFRAME']);
  await a.page.getByTestId('chat-input').fill('Hi phone');
  await a.page.getByTestId('chat-input').press('Enter');
  await expect(page.getByTestId('overlay-line').last()).toContainText('Hi phone');
  // A tap opens the chat field.
  await page.getByTestId('overlay-chat-open').tap();
  await expect(page.getByTestId('overlay-chat-input')).toBeVisible();
  await a.hook('userPause');
  await waitInSync([a, b], { playing: false });
  await a.hook('userPlay');
  await waitInSync([a, b], { playing: true });
  await page.getByTestId('fullscreen-exit').tap();
  await expect(frame).toHaveAttribute('data-screen', 'page');
  await waitInSync([a, b], { playing: true });
});

test('screenshot: the full-screen overlay on a phone (390 px)', async ({ viewers }) => {
  const [a, b] = await party(viewers, DESKTOP, PHONE);
  const { page } = b;
  await a.page.getByTestId('chat-input').fill('Ready for the chorus?');
  await a.page.getByTestId('chat-input').press('Enter');
  await page.getByTestId('chat-input').fill('Yes!');
  await page.getByTestId('chat-input').press('Enter');
  await page.getByTestId('fullscreen').click();
  await expect(page.getByTestId('player-frame')).not.toHaveAttribute('data-screen', 'page');
  await expect(page.getByTestId('overlay-line')).toHaveCount(2);
  await page.getByTestId('overlay-chat-open').click();
  await expect(page.getByTestId('overlay-chat-input')).toBeFocused();
  await shot(page, 'fullscreen-phone', { keepFocus: true, animations: 'allow' });
  await waitInSync([a, b], { playing: true });
});
