// The room (issue 12) with three viewers: changing the video while playing and while paused,
// late joiners on the new video, the page at phone width. Asserts the generous in-sync bound
// (IN_SYNC_MS) on the players' true positions and prints the spread right after the change.
import { test, expect, sample, waitInSync, expectStaysInSync, waitSameRevision, createSession } from './support.js';

const VIDEO = 'dQw4w9WgXcQ';
const OTHER = '9bZkp7q19f0';
const THIRD = 'jNQXAC9IVRw';

/** Opens `n` viewers on a new session created by the first; all ready, paused at 0. */
async function party(viewers, n) {
  const names = ['A', 'B', 'C', 'D'];
  const all = [];
  for (let i = 0; i < n; i++) all.push(await viewers(names[i]));
  const url = await createSession(all[0], `https://www.youtube.com/watch?v=${VIDEO}`);
  await all[0].waitReady();
  for (const v of all.slice(1)) await v.open(url);
  return { url, all };
}

/** Pastes `input` into a viewer's "change the video" field and submits it. */
async function changeVideo(viewer, input) {
  await viewer.page.getByTestId('video-change-input').fill(input);
  await viewer.page.getByTestId('video-change-submit').click();
}

/** Waits until every viewer's player has `videoId` loaded. */
async function waitVideo(vs, videoId) {
  for (const v of vs) {
    await expect.poll(async () => (await v.reading())?.videoId, { timeout: 10_000 }).toBe(videoId);
    await expect(v.page.getByTestId('now-playing')).toHaveAttribute('data-video-id', videoId);
  }
}

test('change the video while playing and while paused; late joiners get the new video', async ({ viewers }) => {
  const { url, all } = await party(viewers, 3);
  const [a, b, c] = all;

  await test.step('while playing (B pastes a youtu.be link with t=)', async () => {
    await a.hook('userPlay');
    await waitInSync(all, { playing: true });
    await changeVideo(b, `https://youtu.be/${OTHER}?t=60`);
    await waitVideo(all, OTHER);
    const s = await waitInSync(all, { playing: true, timeout: 10_000 });
    console.log(`video change while playing: spread ${s.spreadMs.toFixed(1)} ms at ${s.positions[0].toFixed(2)} s`);
    for (const p of s.positions) {
      expect(p).toBeGreaterThanOrEqual(60);
      expect(p).toBeLessThan(70);
    }
    await expectStaysInSync(all, { durationMs: 1500 });
    await expect(a.page).toHaveTitle(new RegExp(`Stand-in video ${OTHER}`));
    await waitSameRevision(all);
  });

  await test.step('a late joiner lands on the new video, in sync', async () => {
    const d = await viewers('D');
    await d.open(url);
    expect((await d.reading()).videoId).toBe(OTHER);
    await waitInSync([...all, d], { playing: true });
    await d.context.close();
  });

  await test.step('while paused (C pastes a bare id): everyone stays paused at 0', async () => {
    await c.hook('userPause');
    await waitInSync(all, { playing: false });
    await changeVideo(c, THIRD);
    await waitVideo(all, THIRD);
    await waitInSync(all, { playing: false, near: 0 });
    await new Promise((r) => setTimeout(r, 800));
    const later = await sample(all);
    expect(later.running).toEqual([false, false, false]);
  });

  await test.step('bad input is refused on the page and changes nothing', async () => {
    await changeVideo(a, 'https://vimeo.com/123');
    await expect(a.page.getByTestId('video-change-error')).toContainText('Only YouTube links');
    await new Promise((r) => setTimeout(r, 300));
    expect((await b.reading()).videoId).toBe(THIRD);
  });

  await test.step('play after the change plays the new video for everyone', async () => {
    await b.hook('userPlay');
    await waitInSync(all, { playing: true });
    const share = await a.page.getByTestId('share-link').inputValue();
    expect(share).toBe(url);
  });
});

test('the session page at phone width (390 px): player full width, room below', async ({ viewers }) => {
  const { all } = await party(viewers, 1);
  const [a] = all;
  await a.page.setViewportSize({ width: 390, height: 844 });
  const player = await a.page.locator('.player-frame').boundingBox();
  expect(player.width).toBeGreaterThan(370);
  const field = await a.page.getByTestId('video-change-input').boundingBox();
  expect(field.y).toBeGreaterThan(player.y + player.height - 1);
  expect(field.x + field.width).toBeLessThanOrEqual(390);
  const hasHScroll = await a.page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  expect(hasHScroll).toBe(false);
  await a.page.screenshot({ path: test.info().outputPath('session-390.png'), fullPage: true });
  await a.page.screenshot({ path: 'test-results/session-390.png', fullPage: true });
});
