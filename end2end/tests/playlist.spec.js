// Playlist import (issue 28) with two viewers: a playlist link in the queue field is read by a
// hidden helper player (the stand-in's cuePlaylist/getPlaylist, docs/test-hooks.md) and its
// videos land in order on both pages; the importer is told "Added 3 videos"; a watch link with
// a list imports from its video on; an unreadable playlist is an error and adds nothing; an
// import past the cap (max_queue_len, 100 by default) says how many were left out. The room's
// player keeps playing its video throughout.
import { test, expect, party, waitInSync } from './support.js';

const VIDEO = 'dQw4w9WgXcQ';

/** The video ids in the queue as the page shows them. */
async function queueVideos(viewer) {
  return viewer.page.getByTestId('queue-item').evaluateAll((els) => els.map((e) => e.getAttribute('data-video-id')));
}

async function paste(viewer, input) {
  await viewer.page.getByTestId('queue-add-input').fill(input);
  await viewer.page.getByTestId('queue-add-submit').click();
}

/** Generated ids of the stand-in's playlist PLstandin<N>_<tag> (tag of 6 characters). */
function ids(tag, from, to) {
  const out = [];
  for (let i = from; i < to; i++) out.push(`${tag}_${String(i).padStart(4, '0')}`);
  return out;
}

/** The players alive in the page: [{videoId, state}] (the room's, and a helper while it reads). */
async function livePlayers(viewer) {
  return viewer.page.evaluate(() =>
    window.__ytTest.players.filter((p) => !p.destroyed).map((p) => ({ videoId: p.truePosition().videoId, state: p.trueState() })),
  );
}

test('playlist import: in order on both pages, from the link\'s video, unreadable lists, the cap', async ({ viewers }) => {
  const { all } = await party(viewers, 2, VIDEO);
  const [a, b] = all;
  for (const v of all) await v.tab('queue');
  await a.hook('userPlay');
  await waitInSync(all, { playing: true });

  await test.step('a playlist link: three videos in order on both pages, "Added 3 videos"', async () => {
    await paste(a, 'https://www.youtube.com/playlist?list=PLstandin3_pla');
    const want = ids('pla000', 0, 3);
    for (const v of all) {
      await expect(v.page.getByTestId('queue')).toHaveAttribute('data-count', '3');
      expect(await queueVideos(v)).toEqual(want);
    }
    await expect(a.page.getByTestId('queue-import-note')).toHaveText('Added 3 videos');
    await expect(b.page.getByTestId('queue-import-note')).toHaveCount(0);
    await expect(a.page.getByTestId('queue-import-reading')).toHaveCount(0);
    // The helper player is gone and the room's player still plays the room's video.
    await expect(a.page.getByTestId('playlist-reader')).toHaveCount(0);
    expect(await livePlayers(a)).toEqual([{ videoId: VIDEO, state: 1 }]);
  });

  await test.step('a watch link with a list imports from its video on', async () => {
    await paste(b, 'https://www.youtube.com/watch?v=wat000_0002&list=PLstandin5_wat&index=3');
    const want = [...ids('pla000', 0, 3), ...ids('wat000', 2, 5)];
    for (const v of all) {
      await expect(v.page.getByTestId('queue')).toHaveAttribute('data-count', '6');
      expect(await queueVideos(v)).toEqual(want);
    }
    await expect(b.page.getByTestId('queue-import-note')).toHaveText('Added 3 videos');
  });

  await test.step('an unreadable playlist: a clear error, nothing added', async () => {
    await paste(a, 'https://www.youtube.com/playlist?list=PLprivate1');
    await expect(a.page.getByTestId('queue-error')).toHaveText(
      'That playlist cannot be read: it is private, was deleted, or does not exist. Nothing was added.',
    );
    await expect(a.page.getByTestId('queue-import-note')).toHaveCount(0);
    await expect(a.page.getByTestId('queue-add-input')).toBeEnabled();
    await expect(a.page.getByTestId('playlist-reader')).toHaveCount(0);
    for (const v of all) expect(await v.page.getByTestId('queue').getAttribute('data-count')).toBe('6');
  });

  await test.step('past the cap: as many as fit, and how many were left out', async () => {
    await paste(a, 'https://www.youtube.com/playlist?list=PLstandin120_big');
    await expect(a.page.getByTestId('queue-import-note')).toHaveText('Added 94 videos, left out 26 (the queue is full)');
    await expect(a.page.getByTestId('queue-error')).toHaveCount(0);
    for (const v of all) {
      await expect(v.page.getByTestId('queue')).toHaveAttribute('data-count', '100');
      const q = await queueVideos(v);
      expect(q.slice(6)).toEqual(ids('big000', 0, 94));
    }
    expect(await livePlayers(a)).toEqual([{ videoId: VIDEO, state: 1 }]);
  });
});
