// The README's screenshots (phone.spec.js and screen.spec.js take them): into
// test-results/screenshots/ on every run, and into docs/screenshots/ with UPDATE_SCREENSHOTS=1.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The session page's tabs, in order (their hooks: `tab-<name>`, `tabpanel-<name>`). */
export const TABS = ['chat', 'queue', 'people', 'room'];

const here = dirname(fileURLToPath(import.meta.url));
const SHOT_DIR = process.env.UPDATE_SCREENSHOTS
  ? join(here, '..', '..', 'docs', 'screenshots')
  : join(here, '..', 'test-results', 'screenshots');

/**
 * Saves a screenshot of `page` as `<name>.png`, scrolled to the top, without caret or (unless
 * `keepFocus`) focus. Animations are stopped at their end unless `animations: 'allow'` (the
 * full-screen overlay's lines fade out by an animation).
 */
export async function shot(page, name, { fullPage = false, keepFocus = false, animations = 'disabled' } = {}) {
  mkdirSync(SHOT_DIR, { recursive: true });
  // No caret or focus ring in the picture; animations (the badge's dot, reactions) stopped.
  await page.evaluate((keepFocus) => {
    if (!keepFocus && document.activeElement && document.activeElement.blur) document.activeElement.blur();
    window.scrollTo(0, 0);
  }, keepFocus);
  await page.screenshot({ path: join(SHOT_DIR, `${name}.png`), fullPage, animations, caret: 'hide' });
}
