// The live connection in the browser: the server goes away and comes back while bob's page is
// open; the page says it is reconnecting, then catches up through the change feed (its new socket
// asks for a replay after the last seq it handled) and shows each message once.
import type { Request, WebSocket } from 'playwright-core';
import { expect, it } from 'vitest';
import { call, registerUser } from '../helpers/http.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { bubbles, openPerson, registerInPage, servedToBrowser } from './browser.js';

describeEachDatabase('web client: reconnecting', (database) => {
  const suite = servedToBrowser(database);

  it('shows that it is reconnecting while the server restarts, then what was sent meanwhile, each once', async () => {
    const { context, page, problems } = await openPerson(suite.browser, suite.app.url);
    const sockets: WebSocket[] = [];
    page.on('websocket', (socket) => sockets.push(socket));
    await registerInPage(page, 'bob');
    const alice = await registerUser(suite.app.url, 'alice');
    const say = async (text: string) => {
      const sent = await call(suite.app.url, 'POST', '/accounts/send-message/', { message: text, receiver: 'bob' }, { token: alice.token });
      expect(sent.status).toBe(201);
    };

    // Bob's page is live before anything is sent: what follows counts its sockets from here.
    await page.locator('.connection.online').waitFor({ state: 'attached' });
    await say('before the restart');
    await page.locator('.conversation', { hasText: 'alice' }).click();
    await bubbles(page).filter({ hasText: 'before the restart' }).waitFor();
    const banner = page.getByRole('status').filter({ hasText: 'Reconnecting…' });
    expect(await banner.count()).toBe(0);

    await suite.app.close();
    await banner.waitFor();
    // Two attempts fail while the server is down, so the page is waiting out a backoff of about
    // 4 s when the server comes back, and the messages below are written before it reconnects.
    const attempts = sockets.length;
    await expect.poll(() => sockets.length >= attempts + 2 && sockets.at(-1)!.isClosed(), { timeout: 15_000 }).toBe(true);

    suite.app = await suite.app.restart();
    const httpCatchUps: string[] = [];
    page.on('request', (request: Request) => {
      if (/\/accounts\/messages\/\?after=/.test(request.url())) httpCatchUps.push(request.url());
    });
    const authFrame = page
      .waitForEvent('websocket', { timeout: 20_000 })
      .then((socket) => socket.waitForEvent('framesent', { predicate: (frame) => String(frame.payload).includes('"auth"'), timeout: 20_000 }));
    await say('while you were away 1');
    await say('while you were away 2');

    expect(JSON.parse(String((await authFrame).payload))).toEqual({ type: 'auth', token: expect.any(String), after: expect.any(Number) });
    await bubbles(page).filter({ hasText: 'while you were away 2' }).waitFor();
    expect(httpCatchUps).toEqual([]);
    await banner.waitFor({ state: 'detached' });
    expect(await bubbles(page).allTextContents()).toEqual(['before the restart', 'while you were away 1', 'while you were away 2']);
    expect(await page.locator('.conversation .preview').allTextContents()).toEqual(['while you were away 2']);

    // And the new connection is live: the next message arrives without any reload.
    await say('back to normal');
    await bubbles(page).filter({ hasText: 'back to normal' }).waitFor();
    expect(await bubbles(page).allTextContents()).toEqual(['before the restart', 'while you were away 1', 'while you were away 2', 'back to normal']);
    expect(problems).toEqual([]);
    await context.close();
  });
});
