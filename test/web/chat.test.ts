// Chatting in the browser, on one backend: two people in two browser contexts, live delivery,
// "Seen", text that is never HTML, history pages, an unknown receiver, and a retried send.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { call, registerUser } from '../helpers/http.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { bubbles, conversationRow, openConversation, openPerson, PASSWORD, registerInPage, write, servedToBrowser } from './browser.js';

const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url));

async function logInInPage(page: Page, username: string): Promise<void> {
  await page.getByLabel('Username or email').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('form', { name: 'Log in' }).getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('me').filter({ hasText: new RegExp(`^${username}$`) }).waitFor();
}

describeEachDatabase('web client: chatting', (database) => {
  const suite = servedToBrowser(database);

  it('alice writes, bob sees it without a reload and answers, alice sees "Seen"', async () => {
    const alice = await openPerson(suite.browser, suite.app.url);
    const bob = await openPerson(suite.browser, suite.app.url);
    await registerInPage(alice.page, 'alice');
    await registerInPage(bob.page, 'bob');

    await openConversation(alice.page, 'bob');
    await write(alice.page, 'Hi Bob! 👋 Are we still on for Friday?');
    const mine = alice.page.locator('.message.mine').last();
    await mine.locator('.receipt', { hasText: /^Delivered$/ }).waitFor();

    // Bob's list shows it live, with an unread badge, and opening it marks it read.
    const row = conversationRow(bob.page, 'alice');
    await row.locator('.badge', { hasText: '1' }).waitFor();
    expect(await row.locator('.preview').textContent()).toBe('Hi Bob! 👋 Are we still on for Friday?');
    await row.click();
    await bubbles(bob.page).filter({ hasText: 'Are we still on for Friday?' }).waitFor();
    await mine.locator('.receipt', { hasText: /^Seen$/ }).waitFor();
    expect(await row.locator('.badge').count()).toBe(0);

    // Shift+Enter is a new line inside the message; Enter sends it.
    const box = bob.page.getByRole('textbox', { name: 'Message to alice' });
    await box.pressSequentially('Yes! 7 pm at the usual place.');
    await box.press('Shift+Enter');
    await box.pressSequentially('מחכה לך 🙂');
    await box.press('Enter');
    const answer = bubbles(alice.page).filter({ hasText: 'Yes! 7 pm' });
    await answer.waitFor();
    expect(await answer.textContent()).toBe('Yes! 7 pm at the usual place.\nמחכה לך 🙂');
    expect(await box.inputValue()).toBe('');
    // Alice has the conversation open and visible, so bob's answer is read at once.
    await bob.page.locator('.message.mine').last().locator('.receipt', { hasText: /^Seen$/ }).waitFor();

    // A third person writes to alice: her list gets a second row, most recent first, live.
    const dave = await registerUser(suite.app.url, 'dave');
    await call(suite.app.url, 'POST', '/accounts/send-message/', { message: 'Lunch tomorrow? 🥗', receiver: 'alice' }, { token: dave.token });
    await conversationRow(alice.page, 'dave').locator('.badge', { hasText: '1' }).waitFor();
    expect(await alice.page.locator('.conversation .partner').allTextContents()).toEqual(['dave', 'bob']);
    await write(alice.page, 'See you then, Bob.');
    await bubbles(bob.page).filter({ hasText: 'See you then, Bob.' }).waitFor();
    await expect.poll(() => alice.page.locator('.conversation .partner').allTextContents()).toEqual(['bob', 'dave']);

    if (process.env.UPDATE_SCREENSHOTS && database === 'sqlite') {
      mkdirSync(DOCS, { recursive: true });
      await alice.page.screenshot({ path: `${DOCS}screenshot-chat.png` });
    }

    // A long word wraps inside its bubble instead of widening the page.
    const long = `${'Ünïcödé-without-spaces-'.repeat(40)}end`;
    await write(alice.page, long);
    await bubbles(bob.page).filter({ hasText: long }).waitFor();
    const widths = await bob.page.evaluate<{ page: number; viewport: number }>('({ page: document.documentElement.scrollWidth, viewport: window.innerWidth })');
    expect(widths.page).toBeLessThanOrEqual(widths.viewport);
    expect(alice.problems).toEqual([]);
    expect(bob.problems).toEqual([]);
    await alice.context.close();
    await bob.context.close();
  });

  it("shows a tab coming back to the front what the user's other tab read meanwhile", async () => {
    const erin = await openPerson(suite.browser, suite.app.url);
    await registerInPage(erin.page, 'erin');
    const frank = await registerUser(suite.app.url, 'frank');
    await call(suite.app.url, 'POST', '/accounts/send-message/', { message: 'Are you coming?', receiver: 'erin' }, { token: frank.token });
    await conversationRow(erin.page, 'frank').locator('.badge', { hasText: '1' }).waitFor();

    // A second tab of the same session reads it; the first one is in the background meanwhile.
    const setVisibility = (page: Page, state: 'hidden' | 'visible') =>
      page.evaluate(`Object.defineProperty(document, 'visibilityState', { value: '${state}', configurable: true }); document.dispatchEvent(new Event('visibilitychange'));`);
    await setVisibility(erin.page, 'hidden');
    const other = await erin.context.newPage();
    await other.goto(suite.app.url);
    await conversationRow(other, 'frank').click();
    await bubbles(other).filter({ hasText: 'Are you coming?' }).waitFor();
    await expect.poll(async () => (await call(suite.app.url, 'GET', '/accounts/conversations/', undefined, { token: frank.token })).body.results[0]?.last_message?.read_at).not.toBeNull();

    await setVisibility(erin.page, 'visible');
    await conversationRow(erin.page, 'frank').locator('.badge').waitFor({ state: 'detached' });
    await other.close();
  });

  it('shows <script> and <img onerror> as text and runs nothing', async () => {
    const mallory = await registerUser(suite.app.url, 'mallory');
    const victim = await registerUser(suite.app.url, 'victim');
    const payload = `<script>window.pwned = 'script'</script><img src=x onerror="window.pwned = 'img'"><b>bold?</b>`;
    const sent = await call(suite.app.url, 'POST', '/accounts/send-message/', { message: payload, receiver: victim.username }, { token: mallory.token });
    expect(sent.status).toBe(201);

    const { context, page, problems } = await openPerson(suite.browser, suite.app.url);
    await logInInPage(page, victim.username);
    const row = conversationRow(page, mallory.username);
    expect(await row.locator('.preview').textContent()).toBe(payload);
    await row.click();
    const bubble = bubbles(page).filter({ hasText: 'bold?' });
    await bubble.waitFor();
    expect(await bubble.textContent()).toBe(payload);
    expect(await page.locator('.message-list script, .message-list img, .message-list b, .conversations img').count()).toBe(0);
    expect(await page.evaluate<unknown>('window.pwned')).toBeUndefined();
    expect(problems).toEqual([]);
    await context.close();
  });

  it('loads older messages when scrolling up, each once', async () => {
    const reader = await registerUser(suite.app.url, 'reader');
    const writer = await registerUser(suite.app.url, 'writer');
    for (let n = 1; n <= 75; n++) {
      await call(suite.app.url, 'POST', '/accounts/send-message/', { message: `note ${n}`, receiver: reader.username }, { token: writer.token });
    }
    const { context, page, problems } = await openPerson(suite.browser, suite.app.url, { width: 800, height: 600 });
    await logInInPage(page, reader.username);
    await conversationRow(page, writer.username).locator('.badge', { hasText: '75' }).waitFor();
    await conversationRow(page, writer.username).click();
    await bubbles(page).filter({ hasText: /^note 75$/ }).waitFor();
    expect(await bubbles(page).count()).toBe(50);

    // Scrolling up with the wheel, as a person would, fetches the older page.
    await page.locator('.messages').hover();
    await page.mouse.wheel(0, -50_000);
    await bubbles(page).filter({ hasText: /^note 1$/ }).waitFor();
    const texts = await bubbles(page).allTextContents();
    expect(texts).toEqual(Array.from({ length: 75 }, (_, index) => `note ${index + 1}`));
    expect(await page.getByRole('button', { name: 'Load older messages' }).count()).toBe(0);
    expect(problems).toEqual([]);
    await context.close();
  });

  it("shows the API's error when the receiver is unknown", async () => {
    const { context, page, problems } = await openPerson(suite.browser, suite.app.url);
    await registerInPage(page, 'lonely');
    await openConversation(page, 'nobody-at-all');
    await write(page, 'Is anyone there?');
    const error = page.locator('.send-error');
    await error.waitFor();
    expect(await error.textContent()).toBe('Not sent: The receiver does not exist.');
    // Not a passing failure: trying again cannot help, so no Retry is offered.
    expect(await error.getByRole('button', { name: 'Retry' }).count()).toBe(0);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('retries a send whose answer was lost with the same client_id, so it arrives once', async () => {
    const sender = await registerUser(suite.app.url, 'sender');
    const receiver = await registerUser(suite.app.url, 'receiver');
    const { context, page } = await openPerson(suite.browser, suite.app.url);
    // No socket for this page: the send's own answer is the only way it learns the outcome.
    await page.routeWebSocket('**/ws', () => {});
    await logInInPage(page, sender.username);
    let attempts = 0;
    await page.route('**/accounts/send-message/', async (route) => {
      attempts += 1;
      if (attempts > 1) return route.continue();
      // The server stores the message, then the connection drops before the answer arrives.
      const response = await route.fetch();
      expect(response.status()).toBe(201);
      await route.abort('connectionreset');
    });
    await openConversation(page, receiver.username);
    await write(page, 'Only once, please.');
    const retry = page.locator('.send-error').getByRole('button', { name: 'Retry' });
    await retry.waitFor();
    await retry.click();
    await page.locator('.message.mine .receipt', { hasText: /^Delivered$/ }).waitFor();
    expect(attempts).toBe(2);

    const history = await call(suite.app.url, 'GET', `/accounts/messages/?with=${sender.username}`, undefined, { token: receiver.token });
    expect(history.body.results.map((message: { message: string }) => message.message)).toEqual(['Only once, please.']);
    expect(await bubbles(page).allTextContents()).toEqual(['Only once, please.']);
    await context.close();
  });
});
