// Scheduled starts (issue 27): a play or a resume starts every player, the sender's included, at
// the moment the server picked. Measured on the players' true media clocks (tests/starts.js).
// Runs on the modelled player (project app) and on the real-media player (project real) with a
// few starts and a generous bound; the figures of docs/benchmarks.md "Start together" come from
// the benchmark (accuracy/start.spec.js), which counts enough starts for a true p95.
import { test, expect } from './support.js';
import { measureStarts, pct } from './starts.js';

test('plays and resumes start every player on the same frame', async ({ viewers, player }) => {
  test.setTimeout(180_000);
  const counted = await measureStarts(viewers, player, { cycles: 10, warmup: 2 });
  // The generous functional bound; the figures are in docs/benchmarks.md.
  expect(pct(counted, 0.5)).toBeLessThan(player === 'real' ? 60 : 40);
});
