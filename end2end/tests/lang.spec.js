// The viewer's language (issue 29): the server renders the page in the browser's language,
// the switcher changes it in place, and the choice outlives a reload.
import { test, expect, createSession } from './support.js';

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

test('a session page in German: tabs, buttons and the title, switched to English in place', async ({ viewers }) => {
  const v = await viewers('A', { contextOptions: { locale: 'de-DE' } });
  const page = v.page;
  await createSession(v, 'https://www.youtube.com/watch?v=dQw4w9WgXcQ');
  await v.waitReady();
  await expect(page.locator('html')).toHaveAttribute('lang', 'de');

  // The tabs (their names without the hidden count of new items), in German.
  const names = { chat: 'Chat', queue: 'Playlist', people: 'Leute', room: 'Raum' };
  for (const [key, name] of Object.entries(names)) {
    await expect(page.getByTestId(`tab-${key}`)).toHaveAccessibleName(name);
  }
  await expect(page.getByTestId('tabs')).toHaveAttribute('aria-label', 'Party');
  // The buttons under the player, a panel's heading, the page's title.
  await expect(page.getByTestId('fullscreen')).toHaveText('Vollbild');
  await expect(page.getByTestId('theater')).toHaveText('Kinomodus');
  await v.tab('queue');
  await expect(page.locator('.queue-heading')).toHaveText('Als Nächstes');
  await expect(page.getByTestId('queue-empty')).toHaveText('Die Warteschlange ist leer: Wenn dieses Video endet, endet auch die Party.');
  await expect(page).toHaveTitle(/^Watch-Party · /);

  // Switching changes the tabs and the rest in place, without a reload.
  await page.getByTestId('language').selectOption('en');
  await expect(page.getByTestId('tab-queue')).toHaveAccessibleName('Queue');
  await expect(page.getByTestId('tab-people')).toHaveAccessibleName('People');
  await expect(page.getByTestId('fullscreen')).toHaveText('Full screen');
  await expect(page.locator('.queue-heading')).toHaveText('Up next');
  await expect(page).toHaveTitle(/^Watch party · /);
  await expect(page.getByTestId('tab-queue')).toHaveAttribute('aria-selected', 'true');
});

test('a German host gets the chat, the people list and the host controls in German, and the switch changes them in place', async ({ viewers }) => {
  const v = await viewers('A', { contextOptions: { locale: 'de-DE' } });
  const page = v.page;
  await createSession(v, 'https://www.youtube.com/watch?v=dQw4w9WgXcQ');
  await v.waitReady();
  await expect(page.locator('html')).toHaveAttribute('lang', 'de');

  await v.tab('chat');
  const input = page.getByTestId('chat-input');
  await expect(input).toHaveAttribute('placeholder', 'Nachricht an alle');
  await expect(page.getByTestId('chat-send')).toHaveText('Senden');
  await expect(page.getByTestId('chat-empty')).toHaveText('Noch keine Nachrichten. Sag Hallo!');
  await input.fill('Hallo zusammen');
  await page.getByTestId('chat-send').click();
  await expect(page.getByTestId('chat-text')).toHaveText('Hallo zusammen');
  await expect(page.getByTestId('chat-time')).toHaveAttribute('title', 'Zu diesem Moment springen');

  await v.tab('people');
  await expect(page.locator('.roster-heading')).toHaveText('Wer ist da');
  await expect(page.getByTestId('member-role')).toHaveText('Host');

  await v.tab('room');
  await expect(page.getByTestId('host-panel').locator('label.switch')).toHaveText('Nur Hosts steuern die Wiedergabe');
  await expect(page.getByTestId('keep-room-button')).toHaveText('Behalten');
  await expect(page.getByTestId('end-room')).toHaveText('Raum beenden');
  await expect(page.getByTestId('copy-host-link')).toHaveText('Kopieren');

  // The switcher changes them at once.
  await page.getByTestId('language').selectOption('en');
  await expect(page.getByTestId('keep-room-button')).toHaveText('Keep');
  await expect(page.getByTestId('end-room')).toHaveText('End room');
  await v.tab('chat');
  await expect(page.getByTestId('chat-send')).toHaveText('Send');
  await expect(input).toHaveAttribute('placeholder', 'Message everyone');
});
