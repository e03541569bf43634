// Permanent rooms and short names (issue 28), in the browser: the host keeps the room under a
// name (a reserved one is refused with a clear error first), the invite box shows the short
// link, a guest in another browser context opens /r/<Name> in another case and lands in the
// room in sync, and ending the room (after its confirmation) closes both pages with "A host
// ended this room".
//
// The name carries a per-run suffix: the Redis pass shares one Redis, whose index of names is
// global. The room is ended at the end, so nothing is left kept.
import { test, expect, party, waitInSync } from './support.js';

test('a kept room is reached by its short name and ended by its host', async ({ viewers }) => {
  const { url, all } = await party(viewers, 1);
  const [a] = all;
  const origin = new URL(url).origin;
  const name = `Friday-${Date.now().toString(36)}`;
  const lower = name.toLowerCase();

  await test.step('a reserved name is refused with a clear error; nothing changes', async () => {
    await a.tab('room');
    await expect(a.page.getByTestId('keep-room')).toHaveAttribute('data-permanent', 'false');
    await a.page.getByTestId('room-name').fill('API');
    await a.page.getByTestId('keep-room-button').click();
    await expect(a.page.getByTestId('host-error')).toContainText('reserved');
    await expect(a.page.getByTestId('keep-room')).toHaveAttribute('data-permanent', 'false');
  });

  await test.step('the host keeps the room under a name; the invite box shows the short link', async () => {
    await a.page.getByTestId('room-name').fill(name);
    await a.page.getByTestId('keep-room-button').click();
    await expect(a.page.getByTestId('keep-room')).toHaveAttribute('data-permanent', 'true');
    await expect(a.page.getByTestId('permanent-status')).toHaveText(`Permanent room · /r/${lower}`);
    await expect(a.page.getByTestId('share-link')).toHaveValue(`${origin}/r/${lower}`);
    // The host link still hosts it from any device.
    await expect(a.page.getByTestId('host-link')).toHaveValue(new RegExp(`^${url}#host=[0-9a-f]{32}$`));
  });

  const b = await viewers('B');
  await test.step('a guest opens /r/<NAME> and lands in the room, in sync', async () => {
    await b.open(`${origin}/r/${name.toUpperCase()}`);
    expect(b.page.url()).toBe(url);
    await expect(b.page.getByTestId('share-link')).toHaveValue(`${origin}/r/${lower}`);
    await a.hook('userPlay');
    await waitInSync([a, b], { playing: true });
    // The guest is no host: no keep controls.
    await b.tab('room');
    await expect(b.page.getByTestId('keep-room')).toBeHidden();
  });

  await test.step('an unknown name is a real 404 page', async () => {
    const res = await b.page.request.get(`${origin}/r/nobody-${Date.now().toString(36)}`, { maxRedirects: 0 });
    expect(res.status()).toBe(404);
  });

  await test.step('ending the room, after its confirmation, closes both pages', async () => {
    await a.page.getByTestId('end-room').click();
    await a.page.getByTestId('end-room-cancel').click();
    await expect(a.page.getByTestId('end-room')).toBeVisible();
    await a.page.getByTestId('end-room').click();
    await a.page.getByTestId('end-room-confirm').click();
    for (const v of [a, b]) {
      const ended = v.page.getByTestId('session-ended');
      await expect(ended).toBeVisible({ timeout: 10_000 });
      await expect(ended).toContainText('A host ended this room');
    }
    const res = await a.page.request.get(`${origin}/r/${lower}`, { maxRedirects: 0 });
    expect(res.status()).toBe(404);
  });
});
