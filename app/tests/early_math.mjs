// Runs the page's early script (app/src/early.js) in a bare context with the config Rust renders
// (so it opens nothing: there is no player box) and answers with its join math
// (`window.__wpEarlyMath`) on the inputs given as JSON on stdin. Driven by
// app/src/early_js_tests.rs, which compares the answers with the sync engine's.
//
//   input:  { config: "<the rendered JSON>", keys: [string], samples: [[t0, t1, t2, t3]],
//             offsets: [[[t0, t1, t2, t3]]], positions: [[state, serverNow]],
//             joins: [{ state, pongs: [[t0, t1, t2, t3]], now }] }
//   output: { keys: [bool], samples: [{offset, rtt} | null], offsets: [number | null],
//             positions: [number], joins: [{ offset, join: {seek, play} | null }] }
// A timestamp given as null stands for a non-finite one.
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

const input = JSON.parse(readFileSync(0, 'utf8'));
const script = readFileSync(new URL('../src/early.js', import.meta.url), 'utf8');
const ctx = {
  document: {
    readyState: 'complete',
    getElementById: (id) => (id === 'wp-early' ? { textContent: input.config } : null),
  },
  location: { origin: 'http://127.0.0.1:3000', protocol: 'http:', host: '127.0.0.1:3000', pathname: '/', hash: '' },
  performance: { timeOrigin: 0, now: () => 0 },
  setTimeout: () => 0,
};
ctx.window = ctx;
vm.createContext(ctx);
vm.runInContext(script, ctx, { filename: 'early.js' });
const M = ctx.__wpEarlyMath;
if (!M) throw new Error('early.js did not expose window.__wpEarlyMath');

const fin = (t) => (t === null ? NaN : t);
const sample = (p) => M.sample(fin(p[0]), fin(p[1]), fin(p[2]), fin(p[3]));
const samplesOf = (pongs) => pongs.map(sample).filter((x) => x !== null);
const plain = (v) => (v === null || v === undefined ? null : JSON.parse(JSON.stringify(v)));

const out = {
  keys: input.keys.map((k) => M.validKey(k)),
  samples: input.samples.map((p) => plain(sample(p))),
  offsets: input.offsets.map((pongs) => M.offset(samplesOf(pongs))),
  positions: input.positions.map(([st, now]) => M.positionAt(st, now)),
  joins: input.joins.map(({ state, pongs, now }) => {
    const offset = M.offset(samplesOf(pongs));
    return { offset, join: offset === null ? null : plain(M.join(state, offset, now)) };
  }),
};
process.stdout.write(JSON.stringify(out));
