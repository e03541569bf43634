// The first-frame measurement of scheduled starts (issue 27), shared by the functional test
// (tests/start.spec.js: a few starts, a generous bound) and the benchmark
// (accuracy/start.spec.js: enough starts for a true p95, the figures of docs/benchmarks.md).
//
// Three viewers; each cycle one viewer plays and the next pauses. Each start's first frame
// ({at, position} from the stand-in's `starts`) is put on one timeline (the system clock) and
// the three are compared at one instant. The first `warmup` starts teach each player its start
// latency and are not counted.
import { expect, party, atOneInstant, waitInSync } from './support.js';

/** The last start of each viewer's media clock, on the system clock's timeline. */
async function lastStarts(all) {
  return Promise.all(
    all.map((v) =>
      v.page.evaluate(() => {
        const p = window.__ytTest.players.filter((x) => !x.destroyed).pop();
        const s = p.starts[p.starts.length - 1];
        return s ? { position: s.position, wall: performance.timeOrigin + s.at, rate: s.rate, running: true, count: p.starts.length } : null;
      }),
    ),
  );
}

/** The q-quantile (nearest rank) of `xs`. */
export const pct = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))];
};

/**
 * Runs `cycles` plays and pauses in a party of three; returns the counted first-frame spreads
 * (ms) and prints the figures. Asserts that no player started early and was corrected.
 */
export async function measureStarts(viewers, player, { cycles, warmup }) {
  const { all } = await party(viewers, 3);
  await waitInSync(all, { playing: false, near: 0 });
  const spreads = [];
  for (let k = 0; k < cycles; k++) {
    const who = all[k % 3];
    const before = await lastStarts(all);
    await who.hook('userPlay');
    await waitInSync(all, { playing: true });
    // Let every player report its start, then read them.
    await expect
      .poll(async () => (await lastStarts(all)).every((s, i) => s && (!before[i] || s.count > before[i].count)), { timeout: 10_000 })
      .toBe(true);
    const starts = await lastStarts(all);
    const calls = await Promise.all(all.map((v) => v.sync().then((s) => s.lastAction)));
    const { spreadMs } = atOneInstant(starts);
    // START_DEBUG=1 prints each start: positions, wall times (ms mod 100 s), how late each call was.
    if (process.env.START_DEBUG || spreadMs > 30) console.log(k, JSON.stringify(starts.map((s) => [s.position.toFixed(4), (s.wall % 100000).toFixed(1)])), JSON.stringify(calls));
    spreads.push(spreadMs);
    // Nobody started early and was corrected: no player needed a seek of its own.
    const sync = await Promise.all(all.map((v) => v.sync()));
    expect(sync.map((s) => s.correctiveSeeks)).toEqual([0, 0, 0]);
    await new Promise((r) => setTimeout(r, 600));
    await all[(k + 1) % 3].hook('userPause');
    await waitInSync(all, { playing: false });
  }
  const counted = spreads.slice(warmup);
  const sync = await Promise.all(all.map((v) => v.sync()));
  console.log(
    `start together (${player}): first-frame spread over ${counted.length} starts after ${warmup} warm-up: ` +
      `p50 ${pct(counted, 0.5).toFixed(1)} ms, p95 ${pct(counted, 0.95).toFixed(1)} ms, max ${Math.max(...counted).toFixed(1)} ms; ` +
      `all: ${spreads.map((s) => s.toFixed(1)).join(', ')}; learned start latency ` +
      `${sync.map((s) => s.startLatencyMs.toFixed(0)).join('/')} ms, need ${sync.map((s) => s.startNeedMs.toFixed(0)).join('/')} ms`,
  );
  return counted;
}
