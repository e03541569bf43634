// "Wait for everyone" (issue 27, part 2), with separate browser contexts as separate people:
// the host turns the setting on; a guest whose player is still loading (the stand-in's
// readyDelayMs) makes the host's play a hold: the room stays paused and every page says
// "Waiting for <name>"; the room starts as soon as that player is ready, or at the server's
// deadline (hold_deadline_ms, 8 s by default: the suite's server runs with the defaults), or
// at once on "Start now". With "Also wait when someone buffers", a guest's stall in the middle
// of playback holds the room until it recovers, and not again right after.
import { test, expect, waitInSync, sample, createSession, party } from './support.js';

const VIDEO = 'https://www.youtube.com/watch?v=dQw4w9WgXcQ';
/** The server's default hold deadline (docs/configuration.md, hold_deadline_ms). */
const DEADLINE_MS = 8_000;

/**
 * A host A with "Wait for everyone" on and a guest B whose player becomes ready only
 * `readyDelayMs` after the page made it. Returns once A's list shows B loading.
 */
async function loadingGuest(viewers, readyDelayMs) {
  const a = await viewers('A');
  const b = await viewers('B', { config: { readyDelayMs } });
  const url = await createSession(a, VIDEO);
  await a.waitReady();
  await a.tab('room');
  const wait = a.page.getByTestId('setting-wait-for-all');
  await wait.check();
  await expect(wait).toBeChecked();
  await b.page.goto(url);
  await b.page.locator('html[data-hydrated="true"]').waitFor({ state: 'attached' });
  await expect.poll(async () => (await b.sync())?.connId ?? 0).toBeGreaterThan(0);
  const id = (await b.sync()).connId;
  const row = a.page.locator(`[data-testid=roster-member][data-conn-id="${id}"]`);
  await expect(row).toHaveAttribute('data-health', 'loading');
  const name = (await b.page.getByTestId('my-name').textContent()).trim();
  expect(name.length).toBeGreaterThan(0);
  return { a, b, name };
}

/** A presses play in its player; every page shows the hold naming `name`; returns when. */
async function playIntoHold(a, pages, name) {
  await a.hook('userPlay');
  for (const p of pages) {
    await expect(p.getByTestId('hold')).toBeVisible({ timeout: 5_000 });
    await expect(p.getByTestId('hold-text')).toHaveText(`Waiting for ${name}`);
  }
  return Date.now();
}

/** While held, A's player is paused (its engine put its own play back), not playing ahead. */
async function heldPaused(a) {
  await expect.poll(async () => (await sample([a])).running[0], { timeout: 5_000 }).toBe(false);
}

test('a start waits for a loading player and plays as soon as it is ready', async ({ viewers }) => {
  const { a, b, name } = await loadingGuest(viewers, 6_000);
  const heldAt = await playIntoHold(a, [a.page, b.page], name);
  await heldPaused(a);
  await test.step('the guest becomes ready: the room starts, before the deadline', async () => {
    // Polled every 50 ms (expect's own polling backs off to 1 s), so the time is exact enough
    // to tell a release on readiness from the deadline's (8 s after the hold).
    await a.page.waitForFunction(() => document.querySelector('[data-testid=hold]').hidden, null, {
      polling: 50,
      timeout: DEADLINE_MS + 2_000,
    });
    const waited = Date.now() - heldAt;
    expect(waited).toBeLessThan(DEADLINE_MS - 700);
    const readyAt = await b.page.evaluate(() => window.__ytTest.players.at(-1).readyAt);
    expect(readyAt).not.toBeNull();
    await waitInSync([a, b], { playing: true });
    await expect(b.page.getByTestId('hold')).toBeHidden();
  });
});

test('the deadline starts the room without a player that is still loading', async ({ viewers }) => {
  const { a, b, name } = await loadingGuest(viewers, 120_000);
  const heldAt = await playIntoHold(a, [a.page, b.page], name);
  await heldPaused(a);
  await test.step('still held well into the wait', async () => {
    await a.page.waitForTimeout(DEADLINE_MS / 2);
    await expect(a.page.getByTestId('hold')).toBeVisible();
  });
  await test.step('the deadline releases it: the host plays, the guest still loads', async () => {
    await expect(a.page.getByTestId('hold')).toBeHidden({ timeout: DEADLINE_MS + 4_000 });
    const waited = Date.now() - heldAt;
    expect(waited).toBeGreaterThan(DEADLINE_MS - 1_500);
    await expect.poll(async () => (await sample([a])).running[0], { timeout: 5_000 }).toBe(true);
    await expect(b.page.getByTestId('hold')).toBeHidden();
  });
});

test('"Start now" ends the hold at once', async ({ viewers }) => {
  const { a, b, name } = await loadingGuest(viewers, 120_000);
  await playIntoHold(a, [a.page, b.page], name);
  // Everyone controls this room: the guest sees "Start now" too.
  await expect(b.page.getByTestId('hold-start-now')).toBeVisible();
  const clicked = Date.now();
  await a.page.getByTestId('hold-start-now').click();
  await expect(a.page.getByTestId('hold')).toBeHidden({ timeout: 3_000 });
  expect(Date.now() - clicked).toBeLessThan(3_000);
  await expect.poll(async () => (await sample([a])).running[0], { timeout: 5_000 }).toBe(true);
  await expect(b.page.getByTestId('hold')).toBeHidden();
});

test('a stall holds the room until the player recovers, and not again right after', async ({ viewers }) => {
  const { all } = await party(viewers, 2);
  const [a, b] = all;
  await a.tab('room');
  for (const id of ['setting-wait-for-all', 'setting-wait-on-buffer']) {
    await a.page.getByTestId(id).check();
    await expect(a.page.getByTestId(id)).toBeChecked();
  }
  const name = (await b.page.getByTestId('my-name').textContent()).trim();
  // The guest is ready, so the start does not hold (a hold would be followed by a calm of one
  // deadline in which no stall holds).
  const id = (await b.sync()).connId;
  const row = a.page.locator(`[data-testid=roster-member][data-conn-id="${id}"]`);
  await expect(row).toHaveAttribute('data-health', 'in_sync');
  await a.hook('userPlay');
  await waitInSync(all, { playing: true });
  await expect(a.page.getByTestId('hold')).toBeHidden();
  // Past the start's grace (2 s of play).
  await a.page.waitForTimeout(2_500);
  await test.step("the guest's player stalls: the room holds, naming it", async () => {
    await b.hook('stall', 3_000);
    for (const v of all) {
      await expect(v.page.getByTestId('hold')).toBeVisible({ timeout: 5_000 });
      await expect(v.page.getByTestId('hold-text')).toHaveText(`Waiting for ${name}`);
    }
    await expect.poll(async () => (await sample([a])).running[0], { timeout: 5_000 }).toBe(false);
  });
  await test.step('the player recovers: the room plays on, together', async () => {
    await expect(a.page.getByTestId('hold')).toBeHidden({ timeout: 7_000 });
    await waitInSync(all, { playing: true });
  });
  await test.step('the same guest stalls again at once: no new hold (the calm after a hold)', async () => {
    await b.hook('stall', 2_000);
    const end = Date.now() + 3_500;
    while (Date.now() < end) {
      await expect(a.page.getByTestId('hold')).toBeHidden();
      expect((await sample([a])).running[0]).toBe(true);
      await a.page.waitForTimeout(250);
    }
  });
});
