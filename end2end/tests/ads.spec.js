// YouTube ads (issue 25): the IFrame API does not announce them; the stand-in models what
// developers report (PLAYING, the ad's length as getDuration(), the ad's clock or the frozen
// content position, seeks and rates ignored, then UNSTARTED and the content). An ad on one
// player never moves the room; that viewer is listed as watching an ad and rejoins within
// 1.5 s; a preroll at the room's first play starts the room with the content.
// Runs on the modelled player (project app) and on the real-media player (project real).
import { test, expect, sample, waitInSync, waitSameRevision, createSession, IN_SYNC_MS } from './support.js';

const VIDEO = 'dQw4w9WgXcQ';
const AD_S = 4;

/** A (host), B and C on a new session; `config(name)` is each viewer's stand-in config. */
async function party(viewers, config) {
  const all = [];
  for (const name of ['A', 'B', 'C']) all.push(await viewers(name, { config: config(name) }));
  const url = await createSession(all[0], `https://www.youtube.com/watch?v=${VIDEO}`);
  await all[0].waitReady();
  for (const v of all.slice(1)) await v.open(url);
  return all;
}

/** Ms from now until every viewer plays within `boundMs` (sampled every 25 ms). */
async function msUntilInSync(viewers, boundMs, timeout) {
  const start = Date.now();
  while (Date.now() - start < timeout) {
    const s = await sample(viewers);
    if (s.running.every(Boolean) && s.spreadMs <= boundMs) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 25));
  }
  return Infinity;
}

const rowOf = (page, name) =>
  page.getByTestId('roster-member').filter({ has: page.getByTestId('roster-name').getByText(name, { exact: true }) });

for (const adClock of ['ad', 'content']) {
  test(`a mid-roll on one viewer (getCurrentTime: ${adClock} clock) moves nobody; it rejoins within 1.5 s`, async ({ viewers }) => {
    const [a, b, c] = await party(viewers, () => ({ adLengthS: AD_S, adClock }));
    for (const [v, n] of [[a, 'Ana'], [b, 'Ben'], [c, 'Cy']]) {
      await v.tab('room');
      await v.page.getByTestId('name-input').fill(n);
      await v.page.getByTestId('name-save').click();
    }
    await a.hook('userPlay');
    await waitInSync([a, b, c], { playing: true, timeout: 20_000 });
    const rev = await waitSameRevision([a, b, c]);

    await b.hook('startAd', AD_S);
    await expect(rowOf(a.page, 'Ben')).toHaveAttribute('data-health', 'ad', { timeout: 5000 });
    await expect(rowOf(a.page, 'Ben')).toContainText('watching an ad');
    expect((await b.sync()).inAd).toBe(true);
    // The others play on together; nothing reached the room.
    const started = Date.now();
    while (await b.hook('inAd')) {
      const s = await sample([a, c]);
      expect(s.running).toEqual([true, true]);
      expect(s.spreadMs).toBeLessThanOrEqual(IN_SYNC_MS);
      for (const v of [a, c]) expect((await v.sync()).revision).toBe(rev);
      await new Promise((r) => setTimeout(r, 200));
      expect(Date.now() - started).toBeLessThan(AD_S * 1000 + 5000);
    }
    const back = await msUntilInSync([a, b, c], 50, 5000);
    expect(back, 'within 50 ms of the room after the ad').toBeLessThanOrEqual(1500);
    await waitInSync([a, b, c], { playing: true, boundMs: 50 });
    for (const v of [a, b, c]) expect((await v.sync()).revision).toBe(rev);
    await expect(rowOf(a.page, 'Ben')).toHaveAttribute('data-health', 'in_sync', { timeout: 5000 });
    console.log(`mid-roll (${adClock} clock, ${test.info().project.name}): back within 50 ms ${back} ms after the ad`);
  });
}

test('a preroll for everyone at the first play: the room starts with the host\'s content', async ({ viewers }) => {
  const [a, b, c] = await party(viewers, () => ({ adPreroll: true, adLengthS: AD_S }));
  const rev = await waitSameRevision([a, b, c]);
  await a.hook('userPlay');
  // The host's player shows the preroll: the room stays paused at 0 meanwhile.
  await a.page.waitForFunction(() => window.__ytTest.players.filter((p) => !p.destroyed).pop().inAd());
  await new Promise((r) => setTimeout(r, 1000));
  for (const v of [a, b, c]) expect((await v.sync()).revision).toBe(rev);
  expect((await sample([b, c])).running).toEqual([false, false]);
  await a.page.waitForFunction(() => !window.__ytTest.players.filter((p) => !p.destroyed).pop().inAd(), null, {
    timeout: AD_S * 1000 + 5000,
  });
  const adOver = Date.now();
  // Then the room plays from the start; B and C get their own prerolls and follow.
  const s = await waitInSync([a, b, c], { playing: true, boundMs: 50, timeout: AD_S * 1000 + 15_000 });
  const elapsed = (Date.now() - adOver) / 1000;
  // The room's clock started with the host's content, not with the click.
  expect(s.positions[0]).toBeGreaterThan(elapsed - 1.5);
  expect(s.positions[0]).toBeLessThan(elapsed + 0.5);
  const revs = await Promise.all([a, b, c].map(async (v) => (await v.sync()).revision));
  expect(revs.every((r) => r === rev + 1), `one change, the play: ${revs}`).toBe(true);
});
