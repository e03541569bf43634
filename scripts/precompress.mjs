#!/usr/bin/env node
// Writes the best-compressed copies of every file of the built site, which the release server
// embeds and serves by Accept-Encoding (server/src/assets.rs):
//
//   node scripts/precompress.mjs [SITE_DIR]        (default target/site)
//
// - FILE.gz: zopfli (@gfx/zopfli from tools/, 15 iterations): a valid gzip stream, about 5 %
//   smaller than `gzip -9` (cargo-leptos' own --precompress uses a faster, weaker level);
// - FILE.br: brotli quality 11 with a 16 MiB window (lgwin 24, the largest that browsers
//   decode; "large window" brotli is not accepted by browsers) and the file size as a hint.
//
// Every copy is decompressed again and compared with its file before it is written. Zopfli is
// slow (seconds for the wasm), so results are cached by content in target/precompress-cache:
// an unchanged file costs a copy. The Makefile runs this between the front-end build and the
// server build (`make build`).
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const site = resolve(process.argv[2] || join(root, 'target', 'site'));
const cacheDir = join(root, 'target', 'precompress-cache');
const ZOPFLI_ITERATIONS = 15;
const BROTLI_LGWIN = 24;

let zopfli;
try {
  zopfli = createRequire(join(root, 'tools', 'package.json'))('@gfx/zopfli');
} catch (e) {
  console.error(`precompress: @gfx/zopfli is missing from tools/node_modules (run scripts/setup.sh): ${e.message}`);
  process.exit(1);
}

function gzipBest(data) {
  return new Promise((ok, fail) =>
    zopfli.gzip(data, { numiterations: ZOPFLI_ITERATIONS }, (err, out) => (err ? fail(err) : ok(Buffer.from(out)))),
  );
}

function brotliBest(data) {
  const c = zlib.constants;
  return zlib.brotliCompressSync(data, {
    params: {
      [c.BROTLI_PARAM_QUALITY]: c.BROTLI_MAX_QUALITY,
      [c.BROTLI_PARAM_LGWIN]: BROTLI_LGWIN,
      [c.BROTLI_PARAM_SIZE_HINT]: data.length,
    },
  });
}

function* files(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (!name.endsWith('.gz') && !name.endsWith('.br')) yield p;
  }
}

if (!existsSync(site)) {
  console.error(`precompress: ${site} does not exist (build the front end first)`);
  process.exit(1);
}
mkdirSync(cacheDir, { recursive: true });
const version = `zopfli${ZOPFLI_ITERATIONS}-br11w${BROTLI_LGWIN}`;
const started = Date.now();
let fresh = 0;
const used = new Set();
for (const path of files(site)) {
  const data = readFileSync(path);
  const key = createHash('sha256').update(version).update(data).digest('hex');
  const cached = { gz: join(cacheDir, `${key}.gz`), br: join(cacheDir, `${key}.br`) };
  used.add(`${key}.gz`).add(`${key}.br`);
  let gz;
  let br;
  if (existsSync(cached.gz) && existsSync(cached.br)) {
    gz = readFileSync(cached.gz);
    br = readFileSync(cached.br);
  } else {
    gz = await gzipBest(data);
    br = brotliBest(data);
    fresh += 1;
  }
  if (!zlib.gunzipSync(gz).equals(data) || !zlib.brotliDecompressSync(br).equals(data)) {
    console.error(`precompress: a compressed copy of ${path} does not decompress to the file`);
    process.exit(1);
  }
  writeFileSync(cached.gz, gz);
  writeFileSync(cached.br, br);
  writeFileSync(`${path}.gz`, gz);
  writeFileSync(`${path}.br`, br);
  if (data.length > 4096) {
    console.log(
      `precompress: ${relative(site, path)}: ${data.length} B, gzip (zopfli) ${gz.length} B, brotli 11 ${br.length} B`,
    );
  }
}
// Only the current build's copies stay in the cache.
for (const name of readdirSync(cacheDir)) if (!used.has(name)) unlinkSync(join(cacheDir, name));
console.log(`precompress: done in ${((Date.now() - started) / 1000).toFixed(1)} s (${fresh} files compressed, the rest from the cache)`);
