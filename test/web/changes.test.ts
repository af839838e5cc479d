// Edits, deletes, typing and presence in the browser: bob's page shows alice's edit with
// "edited", her delete as a tombstone (also one made while his page was reconnecting, which the
// change feed brings back), "typing…" while she types, and whether she is online; bob's own
// typing reaches her.
import type { Browser, WebSocket } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { call, registerUser } from '../helpers/http.js';
import { openSocket, type TestSocket } from '../realtime/socket.js';
import { assertWebClientBuilt, bubbles, launchBrowser, openPerson, registerInPage, write } from './browser.js';

describeEachDatabase('web client: edits, deletes, typing and presence', (database) => {
  let app: TestApp;
  let browser: Browser;
  let alices: TestSocket | undefined;
  beforeAll(async () => {
    assertWebClientBuilt();
    [app, browser] = await Promise.all([startTestApp({ database, env: { PRESENCE_GRACE: '300ms' } }), launchBrowser()]);
  });
  afterAll(async () => {
    await alices?.close();
    await browser?.close();
    await app?.destroy();
  });

  it('shows the partner online once they have read the first message, without a reply or a reload', async () => {
    const { context, page, problems } = await openPerson(browser, app.url);
    await registerInPage(page, 'nora');
    const omar = await registerUser(app.url, 'omar');
    const omars = await openSocket(app.url, omar.token);
    await page.goto('/c/omar');
    await write(page, 'hi omar');
    const sent = await omars.next((frame) => frame.type === 'message');
    // Strangers see no presence of each other until omar reads nora's message.
    expect(await page.getByTestId('partner-state').textContent()).toBe('');
    expect((await call(app.url, 'POST', `/accounts/messages/${(sent.message as { id: number }).id}/read/`, undefined, { token: omar.token })).status).toBe(200);
    await page.getByTestId('partner-state').filter({ hasText: /^online$/ }).waitFor();
    await omars.close();
    expect(problems).toEqual([]);
    await context.close();
  });

  it('takes a deleted message out of the unread badge of a conversation that is not open', async () => {
    const { context, page, problems } = await openPerson(browser, app.url);
    await registerInPage(page, 'erin');
    const dan = await registerUser(app.url, 'dan');
    const ids: number[] = [];
    for (const text of ['one', 'two']) {
      const sent = await call(app.url, 'POST', '/accounts/send-message/', { message: text, receiver: 'erin' }, { token: dan.token });
      ids.push(sent.body.id as number);
    }
    const badge = page.locator('.conversation', { hasText: 'dan' }).locator('.badge');
    await badge.filter({ hasText: /^2/ }).waitFor();
    expect((await call(app.url, 'DELETE', `/accounts/messages/${ids[0]}/`, undefined, { token: dan.token })).status).toBe(204);
    await badge.filter({ hasText: /^1/ }).waitFor();
    expect(problems).toEqual([]);
    await context.close();
  });

  it('shows an edit, a delete, typing and online state as they happen, and a delete made while away', async () => {
    const { context, page, problems } = await openPerson(browser, app.url);
    await registerInPage(page, 'bob');
    const alice = await registerUser(app.url, 'alice');
    const send = async (text: string) => {
      const sent = await call(app.url, 'POST', '/accounts/send-message/', { message: text, receiver: 'bob' }, { token: alice.token });
      expect(sent.status).toBe(201);
      return sent.body.id as number;
    };
    const first = await send('helo bob');
    const second = await send('take this back');
    await page.locator('.conversation', { hasText: 'alice' }).click();
    await bubbles(page).filter({ hasText: 'take this back' }).waitFor();
    const state = page.getByTestId('partner-state');

    alices = await openSocket(app.url, alice.token);
    await state.filter({ hasText: /^online$/ }).waitFor();

    expect((await call(app.url, 'PATCH', `/accounts/messages/${first}/`, { message: 'hello bob' }, { token: alice.token })).status).toBe(200);
    const edited = page.locator('.message', { hasText: 'hello bob' });
    await edited.locator('.edited', { hasText: 'edited' }).waitFor();
    expect(await bubbles(page).allTextContents()).toEqual(['hello bob', 'take this back']);

    alices.send({ type: 'typing', to: 'bob' });
    await state.filter({ hasText: 'typing…' }).waitFor();

    expect((await call(app.url, 'DELETE', `/accounts/messages/${second}/`, undefined, { token: alice.token })).status).toBe(204);
    await bubbles(page).filter({ hasText: 'This message was deleted.' }).waitFor();
    expect(await bubbles(page).allTextContents()).toEqual(['hello bob', 'This message was deleted.']);
    expect(await page.locator('.conversation .preview').allTextContents()).toEqual(['Message deleted']);

    // Bob types: alice is told.
    await page.getByRole('textbox', { name: /^Message to / }).pressSequentially('hi', { delay: 20 });
    expect(await alices.next((frame) => frame.type === 'typing')).toEqual({ type: 'typing', from: 'bob' });
    await write(page, 'hi');
    await bubbles(page).filter({ hasText: /^hi$/ }).waitFor();

    // Alice leaves: a grace later she is offline, with the time she was last seen.
    await alices.close();
    alices = undefined;
    await state.filter({ hasText: /^last seen / }).waitFor();

    // A delete while bob's page is away comes back through the change feed when it reconnects.
    // (The page marks it read: that request must be over before the server stops, or closing
    // waits for its keep-alive connection.)
    const markedRead = page.waitForResponse((response) => response.url().includes('/read/'));
    const third = await send('gone while you were away');
    await bubbles(page).filter({ hasText: 'gone while you were away' }).waitFor();
    await markedRead;
    const sockets: WebSocket[] = [];
    page.on('websocket', (socket) => sockets.push(socket));
    await app.close();
    await page.getByRole('status').filter({ hasText: 'Reconnecting…' }).waitFor();
    // Two failed attempts: the page now waits out a backoff of seconds, so the delete below lands while it is away.
    await expect.poll(() => sockets.length >= 2 && sockets.at(-1)!.isClosed(), { timeout: 15_000 }).toBe(true);
    app = await app.restart();
    expect((await call(app.url, 'DELETE', `/accounts/messages/${third}/`, undefined, { token: alice.token })).status).toBe(204);
    await expect.poll(() => bubbles(page).allTextContents(), { timeout: 20_000 }).toEqual(['hello bob', 'This message was deleted.', 'hi', 'This message was deleted.']);
    expect(problems).toEqual([]);
    await context.close();
  });
});
