// Installs the YouTube stand-in on a Playwright browser context by request interception, and
// keeps every test off the internet: requests that leave the app's origin are either answered
// by the stand-in (YouTube API script, embed frame, thumbnails) or aborted and recorded.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const API_JS = readFileSync(join(here, 'iframe_api.js'), 'utf8');
const EMBED_HTML = readFileSync(join(here, 'embed.html'), 'utf8');
// A 1x1 transparent PNG for thumbnails (i.ytimg.com).
const PIXEL = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
  'base64',
);

/**
 * Serves the stand-in on `context`.
 * @param {import('@playwright/test').BrowserContext} context
 * @param {{config?: object, localOrigins?: string[]}} [options]
 *   config: window.__ytTest.config for every page of the context (see iframe_api.js);
 *   localOrigins: origins allowed through to the network (the app under test).
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
