// Two backends on loopback, each serving its own web client: alice@a and bob@b chat in the
// browser both ways (and see each other's read receipts), and a message to a peer that is down
// shows "Will be delivered" until it is.
import { expect, it } from 'vitest';
import { call, registerUser } from '../helpers/http.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { backendsInBrowser, bubbles, openConversation, openPerson, registerInPage, write } from './browser.js';

describeEachDatabase('web client: two backends', (database) => {
  const suite = backendsInBrowser(database);

  it('alice@a and bob@b chat in the browser, both ways', async () => {
    const { a, b, browser } = suite;
    const alice = await openPerson(browser, a.url);
    const bob = await openPerson(browser, b.url);
    await registerInPage(alice.page, 'alice');
    await registerInPage(bob.page, 'bob');

    await openConversation(alice.page, 'bob@b');
    await write(alice.page, 'Hello from a! 🌍');
    await alice.page.locator('.message.mine .receipt', { hasText: /^Delivered$/ }).waitFor();

    const row = bob.page.locator('.conversation', { hasText: 'alice@a' });
    await row.locator('.badge', { hasText: '1' }).waitFor();
    await row.click();
    await bubbles(bob.page).filter({ hasText: 'Hello from a! 🌍' }).waitFor();

    await write(bob.page, 'Hello back from b! مرحبا');
    await bubbles(alice.page).filter({ hasText: 'Hello back from b! مرحبا' }).waitFor();
    // Alice has it in view, so she has read it: the read receipt crosses to b (a `read` item).
    await bob.page.locator('.message.mine .receipt', { hasText: /^Seen$/ }).waitFor();

    expect(await alice.page.locator('.conversation .partner').allTextContents()).toEqual(['bob@b']);
    expect(await bob.page.locator('.conversation .partner').allTextContents()).toEqual(['alice@a']);
    expect(await bubbles(alice.page).allTextContents()).toEqual(['Hello from a! 🌍', 'Hello back from b! مرحبا']);
    expect(await bubbles(bob.page).allTextContents()).toEqual(['Hello from a! 🌍', 'Hello back from b! مرحبا']);
    expect(alice.problems).toEqual([]);
    expect(bob.problems).toEqual([]);
    await alice.context.close();
    await bob.context.close();
  });

  it('shows "Will be delivered" while the peer is down, then "Delivered" once it took the message', async () => {
    const { a, b, browser } = suite;
    const dave = await registerUser(b.url, 'dave');
    const { context, page, problems } = await openPerson(browser, a.url);
    await registerInPage(page, 'carol');
    await b.stop();
    try {
      await openConversation(page, 'dave@b');
      await write(page, 'Are you there?');
      const receipt = page.locator('.message.mine .receipt');
      await receipt.filter({ hasText: 'Will be delivered' }).waitFor();
    } finally {
      await b.start();
    }
    await page.locator('.message.mine .receipt', { hasText: /^Delivered$/ }).waitFor({ timeout: 20_000 });
    const history = await call(b.url, 'GET', '/accounts/messages/?with=carol@a', undefined, { token: dave.token });
    expect(history.body.results.map((message: { message: string }) => message.message)).toEqual(['Are you there?']);
    expect(problems).toEqual([]);
    await context.close();
  });
});
