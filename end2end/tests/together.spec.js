// Moving as one (issue 27, parts 3 and 4), with separate browser contexts as separate people:
// - the ready check: the host asks "Everyone ready?", each viewer's row shows ready or not
//   ready, two viewers say "I'm ready" at the same moment and both count, the host's button
//   turns from "Start anyway" into "Start", and starting plays the room and ends the check;
//   a host can cancel a check;
// - vote to skip: a host turns it on, the vote button counts "Skip (n/4)" on every page, a
//   vote can be taken back, the two votes that cross "more than half" at the same moment skip
//   exactly one video, the votes reset with the new video, and a host's "Skip" plays the next
//   queued video whatever the votes.
import { test, expect, waitInSync, waitSameRevision, party } from './support.js';

/** The row of the room's list for `other` (by connection id) as `viewer` sees it. */
async function rowOf(viewer, other) {
  const id = (await other.sync()).connId;
  return viewer.page.locator(`[data-testid=roster-member][data-conn-id="${id}"]`);
}

async function addToQueue(viewer, input) {
  await viewer.tab('queue');
  await viewer.page.getByTestId('queue-add-input').fill(input);
  await viewer.page.getByTestId('queue-add-submit').click();
}

test('ready check: rows show ready, concurrent readies count, "Start" plays and ends it', async ({ viewers }) => {
  const { all } = await party(viewers, 3);
  const [a, b, c] = all;
  const guests = [b, c];

  await test.step('only the host asks; every page shows the check and every guest row is "not ready"', async () => {
    await a.tab('room');
    await b.tab('room');
    await expect(b.page.getByTestId('ready-check-start')).toBeHidden();
    await a.page.getByTestId('ready-check-start').click();
    await expect(a.page.getByTestId('notices')).toContainText('You asked: everyone ready?');
    await expect(b.page.getByTestId('notices')).toContainText('asked: everyone ready?');
    for (const v of all) await v.tab('people');
    for (const v of all) {
      await expect(v.page.getByTestId('ready-check')).toBeVisible();
      await expect(v.page.getByTestId('ready-check')).toHaveAttribute('data-of', '2');
      await expect(v.page.getByTestId('ready-check')).toHaveAttribute('data-ready', '0');
      for (const g of guests) {
        await expect((await rowOf(v, g)).getByTestId('roster-ready')).toHaveAttribute('data-ready', 'false');
      }
      // The host's own row carries no mark: hosts start the room.
      await expect((await rowOf(v, a)).getByTestId('roster-ready')).toBeHidden();
    }
    await expect(a.page.getByTestId('ready-toggle')).toBeHidden();
    await expect(b.page.getByTestId('ready-start')).toBeHidden();
    await expect(a.page.getByTestId('ready-start')).toHaveText('Start anyway');
    await expect(a.page.getByTestId('ready-start')).toHaveAttribute('data-everyone', 'false');
  });

  await test.step('two guests say "I\'m ready" at the same moment: both count on every page', async () => {
    await Promise.all(guests.map((g) => g.page.getByTestId('ready-toggle').click()));
    for (const v of all) {
      await expect(v.page.getByTestId('ready-check')).toHaveAttribute('data-ready', '2');
      for (const g of guests) {
        await expect((await rowOf(v, g)).getByTestId('roster-ready')).toHaveAttribute('data-ready', 'true');
      }
    }
    await expect(b.page.getByTestId('ready-toggle')).toHaveAttribute('aria-pressed', 'true');
    await expect(a.page.getByTestId('ready-start')).toHaveText('Start');
    await expect(a.page.getByTestId('ready-start')).toHaveAttribute('data-everyone', 'true');
  });

  await test.step('a guest takes it back, and says it again', async () => {
    await b.page.getByTestId('ready-toggle').click();
    await expect(a.page.getByTestId('ready-start')).toHaveText('Start anyway');
    await expect((await rowOf(c, b)).getByTestId('roster-ready')).toHaveAttribute('data-ready', 'false');
    await b.page.getByTestId('ready-toggle').click();
    await expect(a.page.getByTestId('ready-start')).toHaveText('Start');
  });

  await test.step('"Start" plays the room for everyone and ends the check', async () => {
    await a.page.getByTestId('ready-start').click();
    await waitInSync(all, { playing: true });
    for (const v of all) {
      await expect(v.page.getByTestId('ready-check')).toBeHidden();
      await expect((await rowOf(v, b)).getByTestId('roster-ready')).toBeHidden();
    }
  });

  await test.step('a host cancels a check', async () => {
    await a.hook('userPause');
    await waitInSync(all, { playing: false });
    await a.tab('room');
    await a.page.getByTestId('ready-check-start').click();
    await expect(c.page.getByTestId('ready-check')).toBeVisible();
    await a.page.getByTestId('ready-check-cancel').click();
    for (const v of all) await expect(v.page.getByTestId('ready-check')).toBeHidden();
    await expect(c.page.getByTestId('notices')).toContainText('cancelled the ready check');
    await expect(a.page.getByTestId('ready-check-start')).toBeVisible();
  });
});

test('vote to skip: "Skip (n/4)", the crossing votes skip once, votes reset, hosts always skip', async ({ viewers }) => {
  const { all } = await party(viewers, 4);
  const [a, b, c, d] = all;
  const guests = [b, c, d];
  const first = 'dQw4w9WgXcQ';
  const [second, third] = ['9bZkp7q19f0', 'jNQXAC9IVRw'];

  await test.step('off by default; the host turns it on; nothing queued: the vote is disabled', async () => {
    for (const v of all) await v.tab('room');
    await expect(b.page.getByTestId('vote-skip-row')).toBeHidden();
    await expect(b.page.getByTestId('setting-vote-skip')).toBeHidden();
    await expect(a.page.getByTestId('setting-vote-skip')).not.toBeChecked();
    await a.page.getByTestId('setting-vote-skip').check();
    for (const g of guests) {
      await expect(g.page.getByTestId('vote-skip')).toBeVisible();
      await expect(g.page.getByTestId('vote-skip')).toBeDisabled();
      await expect(g.page.getByTestId('vote-skip')).toHaveText('Skip (0/4)');
    }
    await expect(a.page.getByTestId('setting-vote-skip')).toBeChecked();
    // Hosts skip with their own button, not a vote.
    await expect(a.page.getByTestId('vote-skip')).toBeHidden();
    await expect(a.page.getByTestId('host-skip')).toBeDisabled();
  });

  await test.step('with two videos queued, a vote counts on every page and can be taken back', async () => {
    await addToQueue(a, second);
    await expect(a.page.getByTestId('queue-item')).toHaveCount(1);
    await addToQueue(a, third);
    for (const v of all) await expect(v.page.getByTestId('queue-item')).toHaveCount(2);
    await a.tab('room');
    await b.page.getByTestId('vote-skip').click();
    for (const v of all) await expect(v.page.getByTestId('vote-skip-notice')).toHaveText('1 of 4 voted to skip');
    await expect(c.page.getByTestId('vote-skip')).toHaveText('Skip (1/4)');
    await expect(b.page.getByTestId('vote-skip')).toHaveAttribute('aria-pressed', 'true');
    await b.page.getByTestId('vote-skip').click();
    await expect(c.page.getByTestId('vote-skip')).toHaveText('Skip (0/4)');
    await expect(c.page.getByTestId('vote-skip-notice')).toBeHidden();
    await b.page.getByTestId('vote-skip').click();
    for (const g of guests) await expect(g.page.getByTestId('vote-skip')).toHaveText('Skip (1/4)');
  });

  await test.step('the second and third votes at the same moment: more than half, one skip', async () => {
    for (const v of all) await expect(v.page.getByTestId('now-playing')).toHaveAttribute('data-video-id', first);
    await Promise.all([c, d].map((g) => g.page.getByTestId('vote-skip').click()));
    for (const v of all) {
      await expect(v.page.getByTestId('now-playing')).toHaveAttribute('data-video-id', second);
      await expect(v.page.getByTestId('queue-item')).toHaveCount(1);
      await expect(v.page.getByTestId('notices')).toContainText(`Skipped by vote: up next ${second}`);
    }
    await waitSameRevision(all);
    // Exactly one skip: the third video is still queued, and the votes start again.
    for (const v of all) {
      await expect(v.page.getByTestId('queue-item').first()).toHaveAttribute('data-video-id', third);
      await expect(v.page.getByTestId('vote-skip-notice')).toBeHidden();
    }
    for (const g of guests) {
      await expect(g.page.getByTestId('vote-skip')).toHaveText('Skip (0/4)');
      await expect(g.page.getByTestId('vote-skip')).toHaveAttribute('aria-pressed', 'false');
    }
  });

  await test.step('a host skips with one click, whatever the votes', async () => {
    await b.page.getByTestId('vote-skip').click();
    await expect(a.page.getByTestId('vote-skip-notice')).toHaveText('1 of 4 voted to skip');
    await a.page.getByTestId('host-skip').click();
    for (const v of all) {
      await expect(v.page.getByTestId('now-playing')).toHaveAttribute('data-video-id', third);
      await v.tab('queue');
      await expect(v.page.getByTestId('queue-empty')).toBeVisible();
      await expect(v.page.getByTestId('vote-skip-notice')).toBeHidden();
    }
    await expect(a.page.getByTestId('host-skip')).toBeDisabled();
    await b.tab('room');
    await expect(b.page.getByTestId('vote-skip')).toBeDisabled();
  });
});
