// Behind a real reverse proxy (issue 28, parts 4 and 5): two server instances on one Redis
// behind Debian's nginx, configured from the shipped deploy/nginx/ files (cluster.js), every
// viewer connecting through nginx's address as a deployment's viewers do.
//
// - The instance a permanent (kept) room's viewers are on is killed (SIGKILL): they reconnect
//   through the same address to the other instance and land in sync, and nothing of the room
//   is lost (kept, queue, chat, the host's rights and the lock, the name list). The reconnect
//   time is printed (docs/benchmarks.md).
// - Rolling restart (SIGTERM, start again, then the other) while three viewers play: watched
//   in each page every 20 ms against the room's timeline from its state in Redis, nobody is
//   out of sync (more than OFF_MS from the room, not playing, or not connected) for more than
//   MAX_OUT_MS in a row.
// - The shipped nginx configuration, TLS server included, passes `nginx -t`.
// - The per-address limits see the client's address, not nginx's: two loopback addresses
//   (127.0.0.2, 127.0.0.3) are counted apart, and a forged X-Forwarded-For does not let an
//   address over its limit dodge it (nginx appends the real one, the server takes the last).
//
// Two instances need Redis: the Redis pass of end2end/run.sh only (which sets E2E_SERVER_BIN).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test as base, expect, createSession, waitInSync, clients } from './support.js';
import { execFileSync } from 'node:child_process';
import { startCluster, checkShippedConf, REDIS_URL } from './cluster.js';

const BIN = process.env.E2E_SERVER_BIN;
const VIDEO = 'dQw4w9WgXcQ';
const QUEUED = 'aqz-KE-bpKQ';
/** A viewer farther than this from the room (ms), or not connected, is out of sync. */
const OFF_MS = 50;
/** The longest a viewer may stay out of sync during the rolling restart (issue 28). */
const MAX_OUT_MS = 1_000;
/** nginx's fail_timeout in the shipped upstream: how long it skips an instance that failed. */
const FAIL_TIMEOUT_MS = (() => {
  const conf = fs.readFileSync(
    path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../deploy/nginx/watchparty.conf'),
    'utf8',
  );
  const m = conf.match(/fail_timeout=(\d+)s/);
  return m ? Number(m[1]) * 1000 : 10_000;
})();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const test = base.extend({
  /** Starts clusters (cluster.js) and stops them after the test, on failure too. */
  // eslint-disable-next-line no-empty-pattern
  cluster: async ({}, use, testInfo) => {
    const made = [];
    await use(async (options) => {
      const c = await startCluster({ bin: BIN, ...options });
      made.push(c);
      return c;
    });
    for (const c of made) {
      const panics = c.instances.filter((i) => i.panicked()).map((i) => `${i.name}:\n${i.tail()}`);
      if (testInfo.status !== testInfo.expectedStatus || panics.length) {
        for (const i of c.instances) console.log(`--- ${i.name} log, last lines ---\n${i.tail(25)}`);
        console.log(`--- nginx upstream log, last lines ---\n${c.upstreamLog().split('\n').slice(-25).join('\n')}`);
      }
      await c.close();
      expect(panics, 'a server instance panicked').toEqual([]);
    }
  },
  // The pages close before the cluster stops (this fixture depends on `cluster`).
  viewers: async ({ viewers, cluster }, use) => {
    void cluster;
    await use(viewers);
  },
});

test.skip(process.env.E2E_STORE !== 'redis', 'two instances share a store: the Redis pass only');

/** What a viewer's page says now: its connection (window.__watchparty). */
function probe(v) {
  return v.page.evaluate(() => {
    const w = window.__watchparty || {};
    return { status: w.status, connId: w.connId };
  });
}

/**
 * The room's timeline while it plays, from its state in Redis (`wp:{id}:state`: position,
 * updated_at in server time, rate): `c` such that the room's position (s) at the wall-clock
 * instant `wall` (ms) is `wall / 1000 - c`. Server time is Redis' clock, the machine's, as the
 * pages' is. Waits until the room plays and the viewers are in sync with each other.
 */
async function roomTimeline(all, link) {
  await waitInSync(all, { playing: true });
  const st = roomState(link);
  expect(st.playing, `the room plays: ${JSON.stringify(st)}`).toBe(true);
  expect(st.rate).toBe(1);
  return { c: st.updated_at / 1000 - st.position, revision: st.playback_revision };
}

/** The TTL (s) of the room's state in Redis: -1 for a kept (permanent) room. */
function stateTtl(link) {
  const id = new URL(link).pathname.split('/').pop();
  return Number(execFileSync('redis-cli', ['-u', REDIS_URL, 'TTL', `wp:{${id}}:state`], { encoding: 'utf8' }).trim());
}

/** The room's state as the store holds it (redis-cli, this session's own key only). */
function roomState(link) {
  const id = new URL(link).pathname.split('/').pop();
  return JSON.parse(execFileSync('redis-cli', ['-u', REDIS_URL, 'GET', `wp:{${id}}:state`], { encoding: 'utf8' }));
}

/**
 * Starts watching a viewer in its page, every 20 ms: its connection (window.__watchparty's
 * status and connId) and its player's true position against the room's timeline `c`. In
 * sync: live, playing, within OFF_MS of the room. Every change of (status, connection, in
 * sync) is logged with its Date.now() (the machine's clock, as the test's).
 */
async function startMonitor(v, c) {
  await v.page.evaluate(
    ([c, offMs]) => {
      clearInterval(window.__proxyTimer);
      const log = (window.__proxyLog = []);
      window.__proxyWorst = 0;
      let last = null;
      const tick = () => {
        const w = window.__watchparty || {};
        const p = ((window.__ytTest && window.__ytTest.players) || []).filter((x) => !x.destroyed).pop();
        const r = p ? p.truePosition() : null;
        const d = r ? (r.position - ((performance.timeOrigin + r.at) / 1000 - c)) * 1000 : null;
        const ok = w.status === 'live' && !!r && r.running && d !== null && Math.abs(d) <= offMs;
        if (w.status === 'live' && d !== null) window.__proxyWorst = Math.max(window.__proxyWorst, Math.abs(d));
        const key = `${w.status}/${w.connId}/${ok}`;
        if (key !== last) {
          last = key;
          log.push({ t: Date.now(), status: w.status, connId: w.connId, ok, d: d === null ? null : Math.round(d) });
        }
      };
      tick();
      window.__proxyTimer = setInterval(tick, 20);
    },
    [c, OFF_MS],
  );
}

/** The monitor's log so far and the worst distance while live (ms). */
function readMonitor(v) {
  return v.page.evaluate(() => ({ log: window.__proxyLog || [], worst: window.__proxyWorst || 0 }));
}

/** Waits until every viewer's monitor says in sync. */
async function waitMonitoredInSync(all, timeout = 15_000) {
  await expect
    .poll(async () => (await Promise.all(all.map(readMonitor))).every((m) => m.log.length > 0 && m.log.at(-1).ok), { timeout })
    .toBe(true);
}

/**
 * The runs out of sync in a monitor's log from `since` to `until` (ms each) and whether the
 * viewer is still out at `until`.
 */
function outRuns(log, since, until) {
  const runs = [];
  let out = null;
  for (const e of log) {
    if (e.t < since) {
      out = e.ok ? null : since;
      continue;
    }
    if (!e.ok && out === null) out = e.t;
    if (e.ok && out !== null) {
      runs.push(e.t - out);
      out = null;
    }
  }
  if (out !== null) runs.push(until - out);
  return { runs, longest: Math.max(0, ...runs), stillOut: out !== null };
}

/** Opens Ana (host, creates the room), Ben and Cara through `url`; names them. */
async function party(viewers, url) {
  const names = ['Ana', 'Ben', 'Cara'];
  const all = [];
  for (const n of names) all.push(await viewers(n, { baseURL: url }));
  const link = await createSession(all[0], `https://www.youtube.com/watch?v=${VIDEO}`);
  await all[0].waitReady();
  for (const v of all.slice(1)) await v.open(link);
  for (const [i, v] of all.entries()) {
    await v.tab('room');
    await v.page.getByTestId('name-input').fill(names[i]);
    await v.page.getByTestId('name-save').click();
  }
  for (const v of all) {
    await expect(v.page.getByTestId('roster-name')).toHaveText(names, { timeout: 10_000 });
  }
  return { link, all, names };
}

/**
 * Waits until `v`'s list names exactly `names` (in any order: a reconnected viewer joins
 * again, at the end). A dead instance's part lapses after 30 s: 45 s at most.
 */
async function expectNames(v, names) {
  await expect
    .poll(async () => (await v.page.getByTestId('roster-name').allTextContents()).sort(), { timeout: 45_000 })
    .toEqual([...names].sort());
}

/** POST /api/create through nginx from `from` (a loopback address), with `xff` if given. */
function postCreate(url, from, xff) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const body = `video=${VIDEO}`;
    const headers = { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) };
    if (xff) headers['x-forwarded-for'] = xff;
    const req = http.request(
      { host: u.hostname, port: u.port, path: '/api/create', method: 'POST', localAddress: from, headers, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    req.end(body);
  });
}

const created = (s) => s === 200 || (s >= 300 && s < 400);

test('the instance a permanent room’s viewers are on is killed: they reconnect to the other in sync, nothing of the room is lost', async ({ viewers, cluster }) => {
  // The second instance is nginx's backup, so every viewer is on the first.
  const c = await cluster({ backup: true });
  const { link, all, names } = await party(viewers, c.url);
  const [a, b, cara] = all;

  await test.step('the room: kept (permanent), a queued video, chat, the host’s lock, playing', async () => {
    await a.tab('room');
    await a.page.getByTestId('keep-room-button').click();
    await expect(a.page.getByTestId('keep-room')).toHaveAttribute('data-permanent', 'true');
    expect(stateTtl(link), 'a kept room’s state never expires').toBe(-1);
    await a.tab('queue');
    await a.page.getByTestId('queue-add-input').fill(QUEUED);
    await a.page.getByTestId('queue-add-submit').click();
    await a.tab('chat');
    await a.page.getByTestId('chat-input').fill('hello from Ana');
    await a.page.getByTestId('chat-send').click();
    await b.tab('chat');
    await b.page.getByTestId('chat-input').fill('hi Ana, Ben here');
    await b.page.getByTestId('chat-send').click();
    await a.tab('room');
    await a.page.getByTestId('lock-control').click();
    await a.hook('userPlay');
    for (const v of all) {
      await expect(v.page.getByTestId('queue-item')).toHaveCount(1);
      await expect(v.page.getByTestId('chat-text')).toHaveText(['hello from Ana', 'hi Ana, Ben here']);
    }
    await b.tab('room');
    await expect(b.page.getByTestId('control-hint')).toBeVisible();
    await expect(a.page.getByTestId('lock-control')).toBeChecked();
  });

  const { c: c0, revision } = await roomTimeline(all, link);
  for (const v of all) await startMonitor(v, c0);
  await waitMonitoredInSync(all);
  const before = await Promise.all(all.map(probe));
  expect(before.map((r) => r.status)).toEqual(['live', 'live', 'live']);
  // Every socket is on the first instance.
  await expect.poll(() => c.instances[0].connections()).toBe(3);
  expect(await c.instances[1].connections()).toBe(0);

  await test.step('SIGKILL the first instance; every viewer is back, live and in sync', async () => {
    const t0 = Date.now();
    c.instances[0].proc.kill('SIGKILL');
    // Back: live on a new connection (liveMs), and in sync there (syncMs), from the kill.
    const back = async () =>
      (await Promise.all(all.map(readMonitor))).map((m, i) => {
        const moved = m.log.filter((e) => e.t >= t0 && e.status === 'live' && e.connId !== before[i].connId);
        const live = moved[0];
        const sync = moved.find((e) => e.ok);
        return { liveMs: live ? live.t - t0 : null, syncMs: sync ? sync.t - t0 : null, worst: m.worst };
      });
    await expect.poll(async () => (await back()).every((x) => x.syncMs !== null), { timeout: 15_000 }).toBe(true);
    const got = await back();
    console.log(
      `proxy kill: back live after ${got.map((x, i) => `${names[i]} ${x.liveMs} ms`).join(', ')}; ` +
        `in sync (within ${OFF_MS} ms of the room) after ${got.map((x, i) => `${names[i]} ${x.syncMs} ms`).join(', ')}`,
    );
    // On the second instance now; the room's playback is the one measured against.
    await expect.poll(() => c.instances[1].connections()).toBe(3);
    expect(roomState(link).playback_revision).toBe(revision);
    await waitInSync(all, { playing: true });
  });

  await test.step('nothing of the room is lost: queue, chat, rights and lock, the name list', async () => {
    for (const v of all) {
      await expect(v.page.getByTestId('queue-item')).toHaveCount(1);
      await expect(v.page.getByTestId('queue-item')).toHaveAttribute('data-video-id', QUEUED);
      await expect(v.page.getByTestId('chat-text')).toHaveText(['hello from Ana', 'hi Ana, Ben here']);
      await expect(v.page.getByTestId('now-playing')).toHaveAttribute('data-video-id', VIDEO);
    }
    await expect(a.page.getByTestId('host-panel')).toBeVisible();
    await expect(a.page.getByTestId('lock-control')).toBeChecked();
    await expect(a.page.getByTestId('keep-room')).toHaveAttribute('data-permanent', 'true');
    expect(stateTtl(link)).toBe(-1);
    await expect(b.page.getByTestId('host-panel')).toBeHidden();
    await expect(b.page.getByTestId('control-hint')).toBeVisible();
    // The dead instance's part of the list lapses (presence older than 30 s is not counted).
    const t = Date.now();
    for (const v of all) {
      await expectNames(v, names);
      await expect(v.page.getByTestId('viewer-count')).toHaveAttribute('data-count', '3', { timeout: 45_000 });
    }
    console.log(`proxy kill: the name list is exactly ${names.join(', ')} again ${Date.now() - t} ms after the viewers were back`);
    // Ana's is the host's row (once the dead instance's rows are gone).
    const hostRow = b.page
      .getByTestId('roster-member')
      .filter({ has: b.page.getByTestId('roster-name').getByText('Ana', { exact: true }) });
    await expect(hostRow.getByTestId('member-role')).toHaveAttribute('data-role', 'host');
  });

  await test.step('the room works on the second instance: the host pauses, a viewer chats', async () => {
    await a.hook('userPause');
    await waitInSync(all, { playing: false });
    await cara.tab('chat');
    await cara.page.getByTestId('chat-input').fill('still here');
    await cara.page.getByTestId('chat-send').click();
    for (const v of all) await expect(v.page.getByTestId('chat-text')).toHaveText(['hello from Ana', 'hi Ana, Ben here', 'still here']);
  });
});

test('rolling restart behind nginx: nobody is out of sync for more than 1 s', async ({ viewers, cluster }) => {
  const c = await cluster({});
  const { link, all, names } = await party(viewers, c.url);
  await all[0].hook('userPlay');
  const { c: c0, revision } = await roomTimeline(all, link);
  for (const v of all) await startMonitor(v, c0);
  await waitMonitoredInSync(all);
  const t0 = Date.now();
  const events = [];
  const note = (what) => events.push(`${Date.now() - t0}: ${what}`);
  for (const inst of c.instances) {
    await test.step(`restart ${inst.name} (SIGTERM, start again)`, async () => {
      note(`${inst.name} SIGTERM (${await inst.connections()} sockets)`);
      await inst.stop('SIGTERM');
      note(`${inst.name} exited`);
      await inst.start();
      note(`${inst.name} ready`);
      // nginx skips an instance that failed for fail_timeout: the procedure of the README
      // ("Deploying behind a proxy") waits that long before the next instance goes down.
      await sleep(FAIL_TIMEOUT_MS + 500);
    });
  }
  const t1 = Date.now();
  // Nobody changed the room's playback: the timeline measured against held throughout.
  expect(roomState(link).playback_revision).toBe(revision);
  const per = (await Promise.all(all.map(readMonitor))).map((m, i) => ({
    name: names[i],
    ...outRuns(m.log, t0, t1),
    moves: new Set(m.log.filter((e) => e.t >= t0 && e.status === 'live').map((e) => e.connId)).size,
    worst: m.worst,
    log: m.log,
  }));
  const line = per
    .map((s) => `${s.name} longest ${s.longest} ms out (runs ${s.runs.join(', ') || 'none'}; ${s.moves} reconnections; worst ${s.worst.toFixed(0)} ms while live)`)
    .join('; ');
  console.log(`proxy rolling restart: ${line}`);
  for (const s of per) {
    if (s.stillOut || s.longest > MAX_OUT_MS || process.env.PROXY_TRACE) {
      const log = s.log.map((e) => `${e.t - t0}:${e.status}/${String(e.connId).slice(-3)}/${e.ok ? 'in' : 'out'}/${e.d}`).join(' ');
      console.log(`${s.name}'s changes (ms since the first SIGTERM: status/connection/in sync/distance ms):\n${log}\n${events.join('\n')}`);
    }
  }
  for (const s of per) {
    expect(s.stillOut, `${s.name} still out of sync at the end: ${line}`).toBe(false);
    expect(s.longest, `${s.name} out of sync too long: ${line}\n${await clients(all)}`).toBeLessThanOrEqual(MAX_OUT_MS);
  }
  // Every viewer was on an instance that went down, and moved.
  for (const s of per) expect(s.moves, `${s.name} reconnected`).toBeGreaterThanOrEqual(1);
  await waitInSync(all, { playing: true });
  for (const v of all) await expectNames(v, names);
});

test('behind nginx the per-address limits count the client’s address; a forged X-Forwarded-For does not dodge them', async ({ cluster }) => {
  // One instance takes everything (the other is the backup): creations are counted per instance.
  const c = await cluster({ backup: true, env: { WATCHPARTY_CREATES_PER_MIN: '3' } });
  for (let i = 0; i < 3; i++) expect(created(await postCreate(c.url, '127.0.0.2')), `creation ${i + 1} from 127.0.0.2`).toBe(true);
  expect(await postCreate(c.url, '127.0.0.2')).toBe(429);
  // A forged header is appended to by nginx: still counted as 127.0.0.2.
  expect(await postCreate(c.url, '127.0.0.2', '203.0.113.7')).toBe(429);
  expect(await postCreate(c.url, '127.0.0.2', '127.0.0.3')).toBe(429);
  expect(await postCreate(c.url, '127.0.0.2', '127.0.0.9, 127.0.0.10')).toBe(429);
  // Another address has its own allowance, whatever it claims.
  expect(created(await postCreate(c.url, '127.0.0.3', '127.0.0.2'))).toBe(true);
  expect(created(await postCreate(c.url, '127.0.0.3'))).toBe(true);
  // nginx saw the real addresses.
  const log = c.upstreamLog();
  expect(log).toMatch(/^127\.0\.0\.2 "POST \/api\/create/m);
  expect(log).toMatch(/^127\.0\.0\.3 "POST \/api\/create/m);
});

test('the shipped nginx configuration, TLS server included, passes nginx -t', () => {
  expect(() => checkShippedConf()).not.toThrow();
});
