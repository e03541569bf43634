// The real-media player's clip with HTTP byte ranges (issue 25), as a media server serves it:
// `206 Partial Content` for `Range: bytes=a-b` / `bytes=a-` / `bytes=-n`, `Accept-Ranges: bytes`,
// at most CHUNK bytes per answer (an open range gets the next CHUNK; the media pipeline asks on
// from there, as it does of any server that answers in parts), 416 for a range outside the file.
// ../stand-in/routes.js answers a page's requests for `/__standin/media/clip.webm` (the page's
// own origin, which its CSP `default-src 'self'` admits) with it, by request interception: no
// socket, so Chromium's private-network rules do not apply and nothing leaves the browser.
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The clip (end2end/media/make-clip.sh makes it there; E2E_CLIP overrides). */
export const CLIP =
  process.env.E2E_CLIP || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'watchparty', 'clip-3600.webm');
/** Most bytes in one answer. */
export const CHUNK = 1 << 20;

let fd = null;
let size = 0;

function open() {
  if (fd !== null) return;
  if (!existsSync(CLIP)) {
    throw new Error(`no clip at ${CLIP}: run end2end/media/make-clip.sh (scripts/setup.sh test does)`);
  }
  fd = openSync(CLIP, 'r');
  size = fstatSync(fd).size;
  process.once('exit', () => closeSync(fd));
}

/** Parses one `bytes=` range against `size`: [start, end] inclusive, or null (416). */
export function parseRange(header, size) {
  const m = /^bytes=(\d*)-(\d*)$/.exec(String(header).trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start;
  let end;
  if (m[1] === '') {
    const n = Number(m[2]); // a suffix: the last n bytes
    if (n === 0) return null;
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (!(start <= end) || start >= size) return null;
  return [start, end];
}

/** The answer to a request for the clip with this `Range` header (or none): route.fulfill options. */
export function answerRange(range) {
  open();
  const headers = { 'content-type': 'video/webm', 'accept-ranges': 'bytes', 'cache-control': 'no-store' };
  const r = range === undefined ? [0, size - 1] : parseRange(range, size);
  if (!r) return { status: 416, headers: { ...headers, 'content-range': `bytes */${size}` }, body: '' };
  const [start, last] = r;
  const end = Math.min(last, start + CHUNK - 1);
  const body = Buffer.alloc(end - start + 1);
  readSync(fd, body, 0, body.length, start);
  return { status: 206, headers: { ...headers, 'content-range': `bytes ${start}-${end}/${size}` }, body };
}
