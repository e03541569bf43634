// Installs the YouTube stand-in on a Playwright browser context by request interception, and
// keeps every test off the internet: requests that leave the app's origin are either answered
// by the stand-in (YouTube API script, embed frame, thumbnails) or aborted and recorded.
//
// Answers are fulfilled by Playwright itself, which bypasses Chromium's network emulation
// (Network.emulateNetworkConditions throttles only requests that reach the network stack).
// The first-load benchmark needs them throttled like the app's own files, so with `serveFrom`
// (the origin of ./server.js, a local HTTPS server) the requests are sent on to that server
// instead: they then cross the emulated network and share its bandwidth.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { answerRange } from '../media/server.js';

const here = dirname(fileURLToPath(import.meta.url));
export const API_JS = readFileSync(join(here, 'iframe_api.js'), 'utf8');
export const EMBED_HTML = readFileSync(join(here, 'embed.html'), 'utf8');
// A 1x1 transparent PNG for thumbnails (i.ytimg.com).
/** Where a page asks for the real-media player's clip (config.media): the page's own origin. */
export const MEDIA_PATH = '/__standin/media/clip.webm';
export const PIXEL = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
  'base64',
);

/**
 * Serves the stand-in on `context`.
 * @param {import('@playwright/test').BrowserContext} context
 * @param {{config?: object, localOrigins?: string[]}} [options]
 *   config: window.__ytTest.config for every page of the context (see iframe_api.js);
 *   localOrigins: origins allowed through to the network (the app under test);
 *   serveFrom: an origin of ./server.js: the stand-in's requests go there through the network
 *   (throttled like any other) instead of being fulfilled here.
 * @returns {{blocked: string[]}} URLs that were refused (anything not local and not YouTube).
 */
export async function installStandIn(context, options = {}) {
  const local = new Set(options.localOrigins || []);
  const blocked = [];
  const config = options.config || {};
  await context.addInitScript((cfg) => {
    if (window.top !== window) return;
    const t = (window.__ytTest = window.__ytTest || {});
    t.config = Object.assign({}, t.config || {}, cfg);
    // User activation as the autoplay policy sees it: a trusted click, tap or key press.
    // (navigator.userActivation cannot be used: Playwright's page.evaluate grants activation.)
    t.activated = false;
    const activate = (e) => {
      if (e.isTrusted && !(e.type === 'keydown' && e.key === 'Escape')) t.activated = true;
    };
    for (const type of ['mousedown', 'pointerdown', 'keydown', 'touchend']) {
      window.addEventListener(type, activate, { capture: true });
    }
  }, config);

  // Routes run in reverse order of registration: the catch-all first, the specific ones last.
  await context.route(
    (url) => !local.has(url.origin) && url.protocol !== 'data:' && url.protocol !== 'blob:',
    (route) => {
      blocked.push(route.request().url());
      return route.abort('blockedbyclient');
    },
  );
  if (options.serveFrom) {
    const to = options.serveFrom;
    const forward = (route) => {
      const u = new URL(route.request().url());
      return route.continue({ url: `${to}${u.pathname}${u.search}` });
    };
    await context.route(/^https:\/\/i\.ytimg\.com\//, forward);
    await context.route(/^https:\/\/www\.youtube(-nocookie)?\.com\/embed\//, forward);
    await context.route(/^https:\/\/www\.youtube\.com\/iframe_api(\?.*)?$/, forward);
    return { blocked };
  }
  if (config.media) {
    // The real-media player's clip: asked for on the page's own origin (its CSP admits it),
    // answered here with byte ranges (../media/server.js `answerRange`).
    await context.route(
      (url) => url.pathname.startsWith('/__standin/media/'),
      (route) => route.fulfill(answerRange(route.request().headers().range)),
    );
  }
  await context.route(/^https:\/\/i\.ytimg\.com\//, (route) =>
    route.fulfill({ status: 200, contentType: 'image/png', body: PIXEL }),
  );
  await context.route(/^https:\/\/www\.youtube(-nocookie)?\.com\/embed\//, (route) =>
    route.fulfill({
      status: 200,
      contentType: 'text/html; charset=utf-8',
      headers: { 'cache-control': 'no-store' },
      body: EMBED_HTML,
    }),
  );
  await context.route(/^https:\/\/www\.youtube\.com\/iframe_api(\?.*)?$/, (route) =>
    route.fulfill({
      status: 200,
      contentType: 'text/javascript; charset=utf-8',
      headers: { 'cache-control': 'no-store', 'access-control-allow-origin': '*' },
      body: API_JS,
    }),
  );
  return { blocked };
}
