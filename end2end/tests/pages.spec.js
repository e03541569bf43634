// The home page's create form (every accepted link form, bad input, no JavaScript) and the 404.
import { test, expect, createSession } from './support.js';

const SESSION_PATH = /\/s\/[0-9A-Za-z]{12}$/;

// Every accepted form: [input, expected video id, expected start (s)].
const FORMS = [
  ['dQw4w9WgXcQ', 'dQw4w9WgXcQ', 0],
  ['https://www.youtube.com/watch?v=9bZkp7q19f0', '9bZkp7q19f0', 0],
  ['https://youtube.com/watch?v=kJQP7kiw5Fk&t=90', 'kJQP7kiw5Fk', 90],
  ['youtube.com/watch?feature=share&v=JGwWNGJdvx8', 'JGwWNGJdvx8', 0],
  ['https://m.youtube.com/watch?v=OPf0YbXqDm0&feature=share', 'OPf0YbXqDm0', 0],
  ['https://music.youtube.com/watch?v=fJ9rUzIMcZQ&list=RDAMVMfJ9rUzIMcZQ', 'fJ9rUzIMcZQ', 0],
  ['https://youtu.be/hT_nvWreIhg?t=1m30s', 'hT_nvWreIhg', 90],
  ['https://www.youtube.com/embed/ZZ5LpwO-An4?start=42', 'ZZ5LpwO-An4', 42],
  ['https://www.youtube.com/shorts/abcdefghijk', 'abcdefghijk', 0],
  ['https://www.youtube-nocookie.com/embed/0123456789a', '0123456789a', 0],
];

test('every accepted link form creates a session for the right video and start', async ({ viewers }) => {
  const v = await viewers('A');
  const seen = new Set();
  for (const [input, id, start] of FORMS) {
    await test.step(input, async () => {
      const url = await createSession(v, input);
      expect(seen.has(url), 'a new session each time').toBe(false);
      seen.add(url);
      await v.waitReady();
      const r = await v.reading();
      expect(r.videoId).toBe(id);
      expect(r.running).toBe(false);
      expect(Math.abs(r.position - start)).toBeLessThan(0.15);
      const sync = await v.sync();
      expect(Math.abs(sync.targetPosition - start)).toBeLessThan(0.15);
    });
  }
});

const BAD = [
  ['another site', 'https://vimeo.com/76979871'],
  ['a look-alike host', 'https://youtube.com.evil.example/watch?v=dQw4w9WgXcQ'],
  ['junk', 'hello world'],
  ['a script tag', '<script>alert(1)</script>'],
  ['a 5 KB string', 'x'.repeat(5000)],
  ['a short id', 'https://www.youtube.com/watch?v=short'],
  ['a channel', 'https://www.youtube.com/@somebody'],
  ['a live stream (no shared timeline; refused at creation)', 'https://www.youtube.com/live/A-b_C-d_E-f'],
  ['nothing', '   '],
];

test('bad input shows an error and creates nothing', async ({ viewers }) => {
  const v = await viewers('A');
  const { page } = v;
  const sessionResponses = [];
  page.on('response', (r) => {
    const loc = r.headers()['location'] || '';
    if (SESSION_PATH.test(new URL(r.url()).pathname) || /\/s\//.test(loc)) sessionResponses.push(r.url());
  });
  page.on('dialog', (d) => {
    sessionResponses.push(`dialog: ${d.message()}`);
    return d.dismiss();
  });
  await page.goto('/');
  await page.locator('html[data-hydrated="true"]').waitFor({ state: 'attached' });
  const input = page.getByLabel('YouTube link or video id');
  const error = page.getByTestId('create-error');
  await expect(error).toHaveCount(0);
  for (const [what, text] of BAD) {
    await test.step(what, async () => {
      await input.fill(text);
      await page.locator('#create-form button[type=submit]').click();
      await expect(error, what).toBeVisible();
      await expect(error).toHaveAttribute('role', 'alert');
      expect((await error.textContent()).trim().length).toBeGreaterThan(10);
      expect(new URL(page.url()).pathname).toBe('/');
      // Correcting the input clears the way: the next bad one shows its own error again.
      await input.fill('');
    });
  }
  await page.waitForTimeout(300);
  expect(sessionResponses).toEqual([]);
  expect(await page.evaluate(() => (window.__ytTest?.players || []).length)).toBe(0);
});

test('with JavaScript the form is posted by the page, which routes to the session or shows why not', async ({ viewers }) => {
  const v = await viewers('A');
  const { page } = v;
  v.allowConsoleError(/status of (400|429|503)/);
  await page.goto('/');
  await page.locator('html[data-hydrated="true"]').waitFor({ state: 'attached' });
  // Set on this document only: it survives a route in the page, not a reload.
  await page.evaluate(() => { window.__samePage = true; });
  const input = page.getByLabel('YouTube link or video id');
  const submit = page.locator('#create-form button[type=submit]');
  const error = page.getByTestId('create-error');

  // Refusals the page cannot foresee: each shows its sentence, the page stays, nothing reloads.
  const refusals = [
    [503, {}, 'ServerError|The watch party could not be created right now. Please try again in a moment.',
      'The watch party could not be created right now. Please try again in a moment.'],
    [429, { 'Retry-After': '17' }, '<p>slow down</p>',
      'Too many watch parties were created from your address. Please try again in 17 s.'],
    // Text the server never sends is not shown.
    [400, {}, 'ServerError|Your account is locked, call 555-0100',
      'Something went wrong while creating the watch party. Please try again.'],
  ];
  for (const [status, headers, body, shown] of refusals) {
    await test.step(`${status}`, async () => {
      await page.route('**/api/create', (route) => route.fulfill({ status, headers, body }));
      await input.fill('dQw4w9WgXcQ');
      await submit.click();
      await expect(error).toHaveText(shown);
      expect(new URL(page.url()).pathname).toBe('/');
      await page.unroute('**/api/create');
      // Editing the input hides the server's error.
      await input.fill('dQw4w9WgXc');
      await expect(error).toHaveCount(0);
    });
  }
  // A real create: one JSON post, then the page routes to the session (no reload) and keeps
  // the host secret.
  const posts = [];
  page.on('request', (r) => {
    if (r.url().endsWith('/api/create')) posts.push(r.headers()['accept']);
  });
  await input.fill('https://youtu.be/dQw4w9WgXcQ?t=30');
  await submit.click();
  await page.waitForURL(SESSION_PATH);
  expect(posts).toEqual(['application/json']);
  expect(await page.evaluate(() => window.__samePage)).toBe(true);
  const id = new URL(page.url()).pathname.split('/')[2];
  expect(await page.evaluate((id) => localStorage.getItem(`wp.host.${id}`), id)).toMatch(/^[0-9a-f]{32}$/);
  await v.waitReady();
  expect(Math.abs((await v.reading()).position - 30)).toBeLessThan(0.15);
});

test('the create form works without JavaScript (and refuses bad input there too)', async ({ viewers }) => {
  const v = await viewers('no-JS', { javaScriptEnabled: false });
  const { page } = v;
  await page.goto('/');
  await page.getByLabel('YouTube link or video id').fill('https://x.example/watch?v=dQw4w9WgXcQ');
  await page.locator('#create-form button[type=submit]').click();
  await page.waitForLoadState();
  expect(new URL(page.url()).pathname).not.toMatch(SESSION_PATH);
  await expect(page.getByTestId('create-error')).toBeVisible();
  v.allowConsoleError(/status of 4\d\d/);

  await page.goto('/');
  await page.getByLabel('YouTube link or video id').fill('https://youtu.be/dQw4w9WgXcQ?t=30');
  await page.locator('#create-form button[type=submit]').click();
  // Without JavaScript nothing takes the host secret out of the address: the redirect's
  // fragment stays (browsers never send it to a server), but the share link never carries it.
  await page.waitForURL((u) => SESSION_PATH.test(u.pathname) && /^#host=[0-9a-f]{32}$/.test(u.hash));
  const plain = page.url().split('#')[0];
  const resp = await page.request.get(plain);
  expect(resp.status()).toBe(200);
  const html = await resp.text();
  expect(html).toContain('dQw4w9WgXcQ');
  await expect(page.getByTestId('share-link')).toHaveValue(plain);
});

test('an unknown session shows a 404 page with status 404', async ({ viewers }) => {
  const v = await viewers('A');
  v.allowConsoleError(/status of 404/);
  for (const path of ['/s/AAAAAAAAAAAA', '/s/not-a-session', '/s/', '/no/such/page']) {
    await test.step(path, async () => {
      const resp = await v.page.goto(path);
      expect(resp.status()).toBe(404);
      await expect(v.page.locator('h1')).toHaveText('Not found');
      await v.page.locator('html[data-hydrated="true"]').waitFor({ state: 'attached' });
      await expect(v.page.locator('h1')).toHaveText('Not found');
    });
  }
  expect(await v.page.evaluate(() => (window.__ytTest?.players || []).length)).toBe(0);
});

test("a video that cannot be played shows the player's error", async ({ viewers }) => {
  // 150: the owner does not allow embedding (what YouTube reports for such videos).
  const v = await viewers('A', { config: { errors: { Xy0123456_9: 150 } } });
  await createSession(v, 'https://www.youtube.com/watch?v=Xy0123456_9');
  await v.page.locator('html[data-hydrated="true"]').waitFor({ state: 'attached' });
  const error = v.page.getByTestId('player-error');
  await expect(error).toBeVisible();
  expect((await error.textContent()).trim().length).toBeGreaterThan(10);
});

test('when the IFrame API never comes, the page\'s embed goes and the error shows', async ({ viewers }) => {
  test.setTimeout(60_000);
  const v = await viewers('A');
  const url = (await createSession(v, 'https://www.youtube.com/watch?v=dQw4w9WgXcQ')).split('#')[0];
  const b = await viewers('B');
  b.allowConsoleError(/iframe_api|ERR_FAILED|blocked/i);
  await b.context.route('https://www.youtube.com/iframe_api', (route) => route.abort('failed'));
  await b.page.goto(url);
  // The page put the embed in the box at once; nothing can control it without the API.
  await expect(b.page.locator('#player iframe')).toHaveCount(1);
  // The app gives up on the API after 20 s: the unsynced embed is removed, the error shown.
  await expect(b.page.getByTestId('player-error')).toBeVisible({ timeout: 30_000 });
  await expect(b.page.locator('#player iframe')).toHaveCount(0);
});
