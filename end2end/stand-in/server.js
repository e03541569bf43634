// The YouTube stand-in served over the network (for the first-load benchmark, see routes.js):
// a local HTTPS server with a throwaway self-signed certificate (openssl), answering the paths
// the stand-in's routes forward: /iframe_api, /embed/*, /vi/* (thumbnails). Text is sent
// gzip-compressed when the browser accepts it, as YouTube does. The browser context must be
// created with `ignoreHTTPSErrors: true`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { API_JS, EMBED_HTML, PIXEL } from './routes.js';

/** Starts the server on a free loopback port; returns {origin, close()}. */
export async function startStandInServer() {
  const dir = mkdtempSync(join(tmpdir(), 'standin-'));
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      '-days', '2', '-subj', '/CN=127.0.0.1'],
    { stdio: 'ignore' },
  );
  const key = readFileSync(join(dir, 'key.pem'));
  const cert = readFileSync(join(dir, 'cert.pem'));
  rmSync(dir, { recursive: true, force: true });
  const bodies = {
    api: { type: 'text/javascript; charset=utf-8', raw: Buffer.from(API_JS), gz: gzipSync(API_JS, { level: 9 }) },
    embed: { type: 'text/html; charset=utf-8', raw: Buffer.from(EMBED_HTML), gz: gzipSync(EMBED_HTML, { level: 9 }) },
    pixel: { type: 'image/png', raw: PIXEL, gz: null },
  };
  const server = createServer({ key, cert }, (req, res) => {
    const path = new URL(req.url, 'https://x').pathname;
    const b = path === '/iframe_api' ? bodies.api : path.startsWith('/embed/') ? bodies.embed : path.startsWith('/vi/') ? bodies.pixel : null;
    if (!b) {
      res.writeHead(404).end();
      return;
    }
    const headers = { 'content-type': b.type, 'cache-control': 'no-store', 'access-control-allow-origin': '*' };
    const gzip = b.gz && /\bgzip\b/.test(req.headers['accept-encoding'] || '');
    if (gzip) headers['content-encoding'] = 'gzip';
    res.writeHead(200, headers).end(gzip ? b.gz : b.raw);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    origin: `https://127.0.0.1:${server.address().port}`,
    close: () => new Promise((ok) => server.close(ok)),
  };
}
