// The profile view in the browser: set the phone number, then verify it with the SMS code
// (sent through a local stand-in for Vonage), with the API's errors beside their fields.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { startFakeVonage, type FakeVonage } from '../helpers/fake-vonage.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { otherCode, uniquePhoneNumber, vonageEnvironment } from '../sms/phone-client.js';
import { assertWebClientBuilt, launchBrowser, openPerson, registerInPage } from './browser.js';

describeEachDatabase('web client: profile and phone', (database) => {
  let app: TestApp;
  let fake: FakeVonage;
  let browser: Browser;
  beforeAll(async () => {
    assertWebClientBuilt();
    fake = await startFakeVonage();
    [app, browser] = await Promise.all([startTestApp({ database, env: vonageEnvironment(fake) }), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await app?.destroy();
    await fake?.close();
  });

  it('sets the phone number and verifies it with the code sent by SMS', async () => {
    const { context, page, problems } = await openPerson(browser, app.url);
    await registerInPage(page, 'phoebe');
    await page.getByRole('link', { name: 'Profile' }).click();
    await page.getByRole('heading', { name: 'Profile' }).waitFor();
    const state = page.getByTestId('phone-state');
    expect(await state.textContent()).toBe('not set');

    const phone = page.getByLabel('Phone number', { exact: true });
    await phone.fill('call me maybe');
    await page.getByRole('button', { name: 'Save number' }).click();
    await page.locator('#phone_number[aria-invalid="true"]').waitFor();
    expect(await page.locator('#phone_number-errors').textContent()).not.toBe('');

    const number = uniquePhoneNumber();
    await phone.fill(number);
    await page.getByRole('button', { name: 'Save number' }).click();
    await state.filter({ hasText: `${number} · not verified` }).waitFor();
    expect(await page.locator('#phone_number[aria-invalid="true"]').count()).toBe(0);

    await page.getByRole('button', { name: 'Send code' }).click();
    await page.getByRole('status').filter({ hasText: `Code sent to ${number}.` }).waitFor();
    const code = fake.lastCode(number)!;
    expect(code).toMatch(/^\d+$/);

    const codeField = page.getByLabel('Code from the SMS');
    await codeField.fill(otherCode(code));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.locator('#code[aria-invalid="true"]').waitFor();
    expect(await page.locator('#code-errors').textContent()).toMatch(/not correct/);

    await codeField.fill(code);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('status').filter({ hasText: 'Phone number verified.' }).waitFor();
    expect(await state.textContent()).toBe(`${number} · verified`);
    expect(await page.getByRole('button', { name: 'Send code' }).count()).toBe(0);

    // The stored session follows: a reload still shows the number verified.
    await page.reload();
    await state.filter({ hasText: `${number} · verified` }).waitFor();
    expect(problems).toEqual([]);
    await context.close();
  });
});
