// The viewer's language (issue 29): the server renders the page in the browser's language,
// the switcher changes it in place, and the choice outlives a reload.
import { test, expect } from './support.js';

test('a German browser gets German, the switcher changes it in place and remembers it', async ({ viewers }) => {
  const v = await viewers('A', { contextOptions: { locale: 'de-DE' } });
  const page = v.page;
  await page.goto('/');
  await page.locator('html[data-hydrated="true"]').waitFor({ state: 'attached' });
  await expect(page.locator('html')).toHaveAttribute('lang', 'de');
  await expect(page.locator('h1')).toHaveText('YouTube gemeinsam ansehen');
  await expect(page.locator('label[for="video-input"]')).toHaveText('YouTube-Link oder Video-ID');
  // What the field found, in German (a sentence with values filled in).
  await page.fill('#video-input', 'https://youtu.be/dQw4w9WgXcQ?t=90');
  await expect(page.locator('#video-hint')).toHaveText('Video dQw4w9WgXcQ ab 1:30 gefunden.');
  // A bad link is refused in German, by the browser's own check.
  await page.fill('#video-input', 'https://vimeo.com/76979871');
  await page.locator('#create-form button[type="submit"]').click();
  await expect(page.getByTestId('create-error')).toContainText('Hier funktionieren nur YouTube-Links');

  // Switching changes the page at once, without a reload.
  const switcher = page.getByTestId('language');
  await expect(switcher).toHaveValue('de');
  await switcher.selectOption('en');
  await expect(page.locator('h1')).toHaveText('Watch YouTube together');
  await expect(page.getByTestId('create-error')).toContainText('Only YouTube links work here');
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');

  // The choice beats the browser's German on the next page load, from the server's HTML on.
  const html = await (await page.request.get('/', { headers: { 'Accept-Language': 'de-DE' } })).text();
  expect(html).toContain('Watch YouTube together');
  await page.reload();
  await page.locator('html[data-hydrated="true"]').waitFor({ state: 'attached' });
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await expect(page.locator('h1')).toHaveText('Watch YouTube together');
  await expect(switcher).toHaveValue('en');
});
