// The page's own sync before the app runs (app/src/early.js) and its handover to the app: what
// the page does to the player is never taken for the viewer's doing.
import { test, expect, party, waitInSync } from './support.js';

/** The stand-in's live player on `v`'s page: its true media rate (0 when stopped) and its
 * reported playback rate. */
const rates = (v) =>
  v.page.evaluate(() => {
    const p = window.__ytTest.players.filter((x) => !x.destroyed).pop();
    return { media: p.truePosition().rate, player: p.player.getPlaybackRate() };
  });

test("the page's first-frame pulse never becomes the room's speed, even when the app takes over inside it", async ({ viewers }) => {
  const { url, all } = await party(viewers, 1);
  const [a] = all;
  await a.hook('userPlay');
  await waitInSync([a], { playing: true });

  // B's first start loads for 1.5 s, so its first frame is ~1.4 s behind the room: the page's
  // own sync takes that out with a 2x pulse of ~1.4 s. Every rate event reaches B's page 2 s
  // late, so the pulse's echo comes after the app took over. The wasm is held until the pulse
  // runs.
  const b = await viewers('B', { config: { bufferMinMs: 1500, bufferMaxMs: 1500, rateEchoMs: 2000 } });
  let release;
  const released = new Promise((r) => {
    release = r;
  });
  await b.context.route(/\/pkg\/[^/]*\.wasm/, async (route) => {
    await released;
    await route.fallback();
  });
  await b.page.goto(url);
  await b.page.waitForFunction(
    () => (window.__ytTest?.players || []).some((p) => !p.destroyed && p.truePosition().rate === 2),
    null,
    { timeout: 15_000 },
  );
  // From here on B is an ordinary player (its later seeks buffer as usual, its later rate
  // events come at once): the echo of the pulse is already on its way, 2 s late.
  await b.page.evaluate(() => Object.assign(window.__ytTest.config, { bufferMinMs: 80, bufferMaxMs: 300, rateEchoMs: 0 }));
  release();
  await b.waitReady();
  const taken = Date.now();
  // The pulse ended when the app took the player: B is not left at 2x.
  expect((await rates(b)).media, "B's media rate after the takeover").toBeLessThan(1.5);

  // Both echoes (2x, then 1x) have come by now; neither reached the room.
  await new Promise((r) => setTimeout(r, Math.max(0, taken + 3000 - Date.now())));
  for (const v of [a, b]) {
    const s = await v.sync();
    expect(s.roomRate, `${v.name} sees the room at 1x (${s.recent})`).toBe(1);
    expect(s.recent, `${v.name} took no rate for the viewer's`).not.toContain("the viewer's");
  }
  expect((await rates(a)).player, "A's player stays at 1x").toBe(1);
  await waitInSync([a, b], { playing: true });
});
