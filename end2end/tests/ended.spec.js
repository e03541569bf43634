// A watch party that ends while people watch it (issue 11): its state disappears from the store
// (expired, or Redis lost its data). Every viewer must see "This watch party has ended" with a
// link home, and stop reconnecting: before issue 11 the browser saw only 1006 on each upgrade
// (the server answers 404) and retried forever.
//
// Two ways the client learns it:
// - connected: the server notices the state is gone (presence refresh every 10 s, a command,
//   the safety net) and closes with 4410;
// - reconnecting: the handshake fails (1006, whatever the HTTP status) and `get_session` finds
//   nothing.
//
// The state is removed with `redis-cli DEL wp:{<id>}:state` for this test's own session only
// (never a flush), so the file runs in the Redis pass only: the memory store loses a session
// only when its TTL (24 h by default, slid by every join) runs out; end2end/run.sh leaves it out
// of the memory pass.
import { execFileSync } from 'node:child_process';
import { test, expect, createSession } from './support.js';

const VIDEO = 'dQw4w9WgXcQ';
const REDIS_URL = process.env.E2E_REDIS_URL || 'redis://127.0.0.1:6379';
/** How long the pages are watched for reconnect attempts once they show the end. */
const QUIET_MS = 5_000;

/** Deletes this session's state (only its own key); returns how many keys were deleted. */
function deleteState(id) {
  const out = execFileSync('redis-cli', ['-u', REDIS_URL, 'DEL', `wp:{${id}}:state`], { encoding: 'utf8' });
  return Number(out.trim());
}

/** The session id of a session URL. */
function sessionId(url) {
  return new URL(url).pathname.split('/').pop();
}

/** Records every WebSocket the page opens (time and URL). */
function recordSockets(page) {
  const opened = [];
  page.on('websocket', (ws) => opened.push({ at: Date.now(), url: ws.url() }));
  return opened;
}

/** The ended notice, its link home, and no new socket for QUIET_MS. */
async function expectEndedAndQuiet(viewers, sockets, timeout) {
  const before = [];
  for (const v of viewers) {
    const ended = v.page.getByTestId('session-ended');
    await expect(ended).toBeVisible({ timeout });
    before.push(sockets.get(v).length);
    await expect(ended).toContainText('This watch party has ended');
    await expect(ended.getByRole('link')).toHaveAttribute('href', '/');
  }
  await viewers[0].page.waitForTimeout(QUIET_MS);
  for (const [i, v] of viewers.entries()) {
    const late = sockets.get(v).slice(before[i]);
    expect(late, `${v.name} opened WebSockets after the end: ${JSON.stringify(late)}`).toEqual([]);
    await expect(v.page.getByTestId('session-ended')).toBeVisible();
  }
}

test('connected viewers of a session whose state disappears see the end and stop reconnecting', async ({ viewers }) => {
  const a = await viewers('A');
  const b = await viewers('B');
  const sockets = new Map([
    [a, recordSockets(a.page)],
    [b, recordSockets(b.page)],
  ]);
  const url = await createSession(a, `https://www.youtube.com/watch?v=${VIDEO}`);
  await a.waitReady();
  await b.open(url);
  const id = sessionId(url);

  expect(deleteState(id), `wp:{${id}}:state existed`).toBe(1);
  // The instance notices at its next presence refresh (every 10 s) and closes with 4410.
  await expectEndedAndQuiet([a, b], sockets, 25_000);
  // The page itself is gone too, and the link leads home.
  const resp = await b.page.request.get(url);
  expect(resp.status()).toBe(404);
  b.allowConsoleError(/status of 404/);
  await b.page.getByTestId('session-ended').getByRole('link').click();
  await b.page.waitForURL((u) => new URL(u).pathname === '/');
  await expect(b.page.locator('form#create-form')).toBeVisible();
});

test('a viewer whose reconnect finds the session gone sees the end and stops reconnecting', async ({ viewers }) => {
  const a = await viewers('A');
  const opened = recordSockets(a.page);
  // Every socket of this page goes through a route, so the test can cut the live one; later
  // sockets reach the server only once the state is gone.
  const live = [];
  let stateGone;
  const gone = new Promise((resolve) => (stateGone = resolve));
  await a.page.routeWebSocket(/\/ws\//, async (ws) => {
    if (live.length > 0) await gone;
    live.push({ page: ws, server: ws.connectToServer() });
  });
  // The failed handshake may show up as a console error.
  a.allowConsoleError(/WebSocket/);
  const url = await createSession(a, `https://www.youtube.com/watch?v=${VIDEO}`);
  await a.waitReady();
  const id = sessionId(url);
  expect(live.length).toBe(1);
  const first = opened.length;

  // The connection is cut (a server restart, a network change) and the state goes meanwhile:
  // the reconnect's handshake is answered 404, which the page only sees as a failure.
  await live[0].server.close({ code: 1001, reason: 'going away' });
  await live[0].page.close({ code: 1001, reason: 'going away' });
  expect(deleteState(id), `wp:{${id}}:state existed`).toBe(1);
  stateGone();
  await expect.poll(() => opened.length, { timeout: 10_000 }).toBeGreaterThan(first);
  await expectEndedAndQuiet([a], new Map([[a, opened]]), 15_000);
});
