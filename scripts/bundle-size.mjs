#!/usr/bin/env node
// The size of what a session page needs before its player can start: the JS glue and the wasm
// of the hydrate bundle (target/site/pkg: watchparty.js, watchparty.wasm and any wasm-bindgen
// snippets), raw, `gzip -9` and as served (the embedded .br / .gz copies).
//
//   node scripts/bundle-size.mjs            print the figures (make bundle-size)
//   node scripts/bundle-size.mjs --check    also fail when the gzip -9 total grew more than
//                                           LIMIT_PCT above the record (make test does this)
//   node scripts/bundle-size.mjs --record   write the current figures as the record
//                                           (docs/bundle-size.json; make bundle-record)
//
// The record is docs/bundle-size.json (machine-readable); the README's "Bundle size" table
// keeps one row per release, and --record prints the row to paste there.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = join(root, 'target', 'site', 'pkg');
const recordPath = join(root, 'docs', 'bundle-size.json');
const LIMIT_PCT = 10;
const mode = process.argv[2] || '';

function* files(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (/\.(js|wasm)$/.test(name)) yield p;
  }
}

if (!existsSync(pkg)) {
  console.error(`bundle-size: ${pkg} does not exist: build first (make build)`);
  process.exit(2);
}
const size = (p) => (existsSync(p) ? statSync(p).size : null);
const current = {};
for (const path of files(pkg)) {
  const name = relative(join(root, 'target', 'site'), path);
  current[name] = {
    raw: statSync(path).size,
    gzip9: execFileSync('gzip', ['-9', '-n', '-c', path], { maxBuffer: 1 << 30 }).length,
    servedGzip: size(`${path}.gz`),
    servedBrotli: size(`${path}.br`),
  };
}
const sum = (k) => Object.values(current).reduce((n, f) => n + (f[k] ?? 0), 0);
const total = { raw: sum('raw'), gzip9: sum('gzip9'), servedGzip: sum('servedGzip'), servedBrotli: sum('servedBrotli') };

const kb = (b) => (b === null ? 'n/a' : `${(b / 1000).toFixed(1)} KB`);
const pad = (s, n) => String(s).padStart(n);
console.log(`${'file'.padEnd(28)} ${pad('raw', 12)} ${pad('gzip -9', 12)} ${pad('served .gz', 12)} ${pad('served .br', 12)}`);
for (const [name, f] of [...Object.entries(current), ['total (JS + wasm)', total]]) {
  console.log(`${name.padEnd(28)} ${pad(kb(f.raw), 12)} ${pad(kb(f.gzip9), 12)} ${pad(kb(f.servedGzip), 12)} ${pad(kb(f.servedBrotli), 12)}`);
}

const readme = (date) =>
  `| JS + wasm, ${date} (<what changed>) | ${total.raw.toLocaleString('en')} B | ` +
  `${total.gzip9.toLocaleString('en')} B | ${total.servedBrotli.toLocaleString('en')} B | ${total.servedGzip.toLocaleString('en')} B |`;

if (mode === '--record') {
  const date = new Date().toISOString().slice(0, 10);
  const record = {
    about:
      'Recorded size of what the session page needs (JS glue + wasm, target/site/pkg). make test fails when the ' +
      `gzip -9 total grows more than limitPct above totalGzip9. Update with: make bundle-record`,
    recorded: date,
    limitPct: LIMIT_PCT,
    totalGzip9: total.gzip9,
    total,
    files: current,
  };
  writeFileSync(recordPath, `${JSON.stringify(record, null, 2)}\n`);
  console.log(`bundle-size: recorded ${total.gzip9} B gzip -9 in ${relative(root, recordPath)}; README row:\n${readme(date)}`);
} else if (mode === '--check') {
  if (!existsSync(recordPath)) {
    console.error(`bundle-size: no record (${relative(root, recordPath)}): run make bundle-record`);
    process.exit(1);
  }
  const record = JSON.parse(readFileSync(recordPath, 'utf8'));
  const limitPct = record.limitPct ?? LIMIT_PCT;
  const limit = Math.floor(record.totalGzip9 * (1 + limitPct / 100));
  const pct = (now, then) => `${now >= then ? '+' : ''}${(((now - then) / then) * 100).toFixed(1)} %`;
  const change = pct(total.gzip9, record.totalGzip9);
  if (total.gzip9 > limit) {
    const grew = Object.entries(current)
      .map(([name, f]) => {
        const then = record.files?.[name]?.gzip9;
        if (then === undefined) return `  ${name}: new, ${f.gzip9} B gzip -9`;
        return f.gzip9 > then ? `  ${name}: ${then} B -> ${f.gzip9} B gzip -9 (${pct(f.gzip9, then)})` : null;
      })
      .filter(Boolean);
    console.error(
      [
        `bundle-size: FAILED: the JS + wasm a session page needs is ${total.gzip9} B gzip -9, ` +
          `${change} against the record of ${record.recorded} (${record.totalGzip9} B); the limit is +${limitPct} % (${limit} B).`,
        'What grew:',
        ...grew,
        'If the growth is intended, record the new size: `make bundle-record` (rewrites docs/bundle-size.json; ' +
          "add the printed row to the README's Bundle size table), and commit both.",
      ].join('\n'),
    );
    process.exit(1);
  }
  const note =
    total.gzip9 < record.totalGzip9 * 0.95 ? ` (smaller than the record: \`make bundle-record\` locks the gain in)` : '';
  console.log(
    `bundle-size: ok: ${total.gzip9} B gzip -9, ${change} against the record of ${record.recorded} ` +
      `(${record.totalGzip9} B; limit +${limitPct} % = ${limit} B)${note}`,
  );
}
