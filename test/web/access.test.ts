// For people: the whole path from a new account to a conversation and back with the keyboard
// alone, on a 360 px wide screen, with the focus visible at every stop and every control labelled.
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { call, registerUser } from '../helpers/http.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { bubbles, conversationRow, openPerson, PASSWORD, registerInPage, servedToBrowser } from './browser.js';

const FOCUS_RING = `(() => {
  const element = document.activeElement;
  if (!element || element === document.body) return false;
  const style = getComputedStyle(element);
  return style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
})()`;

// Inputs, text areas and buttons on screen without an accessible name.
const UNLABELLED = `[...document.querySelectorAll('input, textarea, select, button, a[href]')]
  .filter((element) => element.getClientRects().length > 0)
  .filter((element) => {
    if (element.getAttribute('aria-label') || element.getAttribute('aria-labelledby')) return false;
    if (element.labels && element.labels.length > 0) return false;
    return (element.textContent ?? '').trim() === '';
  })
  .map((element) => element.outerHTML)`;

const WIDTHS = '({ page: document.documentElement.scrollWidth, viewport: window.innerWidth })';

/** Presses Tab until the focus is on `selector`, and checks that the focus can be seen there. */
async function tabTo(page: Page, selector: string, backwards = false): Promise<void> {
  for (let press = 0; press < 40; press++) {
    await page.keyboard.press(backwards ? 'Shift+Tab' : 'Tab');
    if (await page.evaluate<boolean>(`document.activeElement?.matches(${JSON.stringify(selector)}) ?? false`)) {
      expect(await page.evaluate<boolean>(FOCUS_RING), `focus ring on ${selector}`).toBe(true);
      return;
    }
  }
  throw new Error(`Tab never reached ${selector}`);
}

async function checkLayout(page: Page): Promise<void> {
  expect(await page.evaluate<string[]>(UNLABELLED)).toEqual([]);
  const widths = await page.evaluate<{ page: number; viewport: number }>(WIDTHS);
  expect(widths.page).toBeLessThanOrEqual(widths.viewport);
}

describeEachDatabase('web client: keyboard and small screens', (database) => {
  const suite = servedToBrowser(database);

  it('works with the keyboard alone at 360 px wide', async () => {
    const kim = await registerUser(suite.app.url, 'kim');
    const { context, page, problems } = await openPerson(suite.browser, suite.app.url, { width: 360, height: 740 });
    await checkLayout(page);

    await tabTo(page, 'button.tab[aria-pressed="false"]');
    await page.keyboard.press('Enter');
    await tabTo(page, '#username');
    await page.keyboard.type('keys');
    await tabTo(page, '#email');
    await page.keyboard.type('keys@example.org');
    await tabTo(page, '#password');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');
    await page.getByTestId('me').filter({ hasText: /^keys$/ }).waitFor({ state: 'attached' });
    await checkLayout(page);

    await tabTo(page, '#new-partner');
    await page.keyboard.type('kim');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 2, name: 'kim' }).waitFor();
    // One view at a time on a narrow screen: the chat, with a way back, and the composer focused.
    expect(await page.locator('.sidebar').isVisible()).toBe(false);
    expect(await page.getByRole('link', { name: 'Conversations' }).isVisible()).toBe(true);
    expect(await page.evaluate<string | undefined>('document.activeElement?.id')).toBe('composer-input');
    await page.keyboard.type('Typed without a mouse');
    await page.keyboard.press('Enter');
    await bubbles(page).filter({ hasText: 'Typed without a mouse' }).waitFor();
    await call(suite.app.url, 'POST', '/accounts/send-message/', { message: 'Nicely done ⌨️', receiver: 'keys' }, { token: kim.token });
    await bubbles(page).filter({ hasText: 'Nicely done ⌨️' }).waitFor();
    await checkLayout(page);

    await tabTo(page, 'a.back', true);
    await page.keyboard.press('Enter');
    await page.locator('.conversation', { hasText: 'kim' }).waitFor();
    expect(await page.locator('.pane').isVisible()).toBe(false);

    await tabTo(page, 'a[href="/profile"]', true);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Profile' }).waitFor();
    await checkLayout(page);

    await tabTo(page, 'nav.account button');
    await page.keyboard.press('Enter');
    await page.getByRole('form', { name: 'Log in' }).waitFor();
    expect(problems).toEqual([]);
    await context.close();
  });

  it("shows a group at 360 px wide, its details in place of its messages, every control labelled", async () => {
    const gina = await registerUser(suite.app.url, 'gina');
    const { context, page, problems } = await openPerson(suite.browser, suite.app.url, { width: 360, height: 740 });
    await registerInPage(page, 'hal');
    await page.locator('.connection.online').waitFor({ state: 'attached' });
    const created = await call(suite.app.url, 'POST', '/accounts/groups/', { name: 'A group with a rather long name for a small screen', members: ['hal'] }, { token: gina.token });
    expect(created.status).toBe(201);
    await call(suite.app.url, 'POST', '/accounts/send-message/', { message: 'Hello, small screen', group: created.body.id }, { token: gina.token });

    await page.getByRole('link', { name: 'New group' }).click();
    await page.getByRole('button', { name: 'Create group' }).waitFor();
    await checkLayout(page);
    await page.getByRole('link', { name: 'Conversations' }).click();

    await conversationRow(page, 'A group with a rather long name for a small screen').click();
    await bubbles(page).filter({ hasText: 'Hello, small screen' }).waitFor();
    await checkLayout(page);
    const members = page.getByRole('button', { name: 'Members' });
    await members.click();
    await page.getByRole('complementary', { name: 'Group details' }).locator('.member-name', { hasText: /^gina$/ }).waitFor();
    expect(await page.locator('.messages').isVisible()).toBe(false);
    expect(await members.getAttribute('aria-expanded')).toBe('true');
    await checkLayout(page);
    await members.click();
    expect(await bubbles(page).filter({ hasText: 'Hello, small screen' }).isVisible()).toBe(true);
    expect(problems).toEqual([]);
    await context.close();
  });
});
