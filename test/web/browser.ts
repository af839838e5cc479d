// Helpers of the browser tests: the built web client, and Debian's chromium driven by
// playwright-core (no browser download).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
import { WEB_CLIENT_DIR } from '../../src/web/static.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { startBackends, type Backend } from '../helpers/backends.js';
import type { DatabaseKind } from '../helpers/databases.js';

const WEB_SOURCE = fileURLToPath(new URL('../../web/', import.meta.url));
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function newestSourceTime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newestSourceTime(join(path, name))));
}

/** The tests drive what `npm run build:web` made; a missing or stale build is a clear failure, not a puzzle. */
export function assertWebClientBuilt(): void {
  const index = join(WEB_CLIENT_DIR, 'index.html');
  const sources = Math.max(newestSourceTime(join(WEB_SOURCE, 'src')), newestSourceTime(join(WEB_SOURCE, 'index.html')), newestSourceTime(join(WEB_SOURCE, 'vite.config.ts')));
  if (!existsSync(index) || statSync(index).mtimeMs < sources) {
    throw new Error('web/dist is missing or older than web/src: run `npm run build:web` first (`npm test` does)');
  }
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A suite's app and browser: both started before its tests, closed after them. */
export function servedToBrowser(database: DatabaseKind): { app: TestApp; browser: Browser } {
  const suite = {} as { app: TestApp; browser: Browser };
  beforeAll(async () => {
    assertWebClientBuilt();
    [suite.app, suite.browser] = await Promise.all([startTestApp({ database }), launchBrowser()]);
  });
  afterAll(async () => {
    await suite.browser?.close();
    await suite.app?.destroy();
  });
  return suite;
}

/** A suite's backends `a` and `b` (peers, each serving its web client) and a browser, around its tests. */
export function backendsInBrowser(database: DatabaseKind): { a: Backend; b: Backend; browser: Browser } {
  const suite = {} as { a: Backend; b: Backend; browser: Browser };
  beforeAll(async () => {
    assertWebClientBuilt();
    // random: 0 takes the jitter out of the outbox's retry delays.
    const [backends, browser] = await Promise.all([startBackends(database, ['a', 'b'], { server: { outbox: { random: () => 0 } } }), launchBrowser()]);
    [suite.a, suite.b] = backends as [Backend, Backend];
    suite.browser = browser;
  });
  afterAll(async () => {
    await suite.browser?.close();
    await Promise.all([suite.a?.destroy(), suite.b?.destroy()]);
  });
  return suite;
}

export interface Person {
  context: BrowserContext;
  page: Page;
  /** Script errors and CSP violations seen by the page: a test expects none. */
  problems: string[];
}

export async function openPerson(browser: Browser, baseUrl: string, viewport = { width: 1100, height: 720 }): Promise<Person> {
  const context = await browser.newContext({ baseURL: baseUrl, viewport, locale: 'en-GB', timezoneId: 'Europe/London' });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/Failed to load resource|WebSocket connection/.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  await page.goto('/');
  return { context, page, problems };
}

/**
 * A person with a page of their own, registered through it, and live: its socket is subscribed,
 * so whatever happens from here on reaches the page as an event (with its feed seq).
 */
export async function registeredPerson(browser: Browser, baseUrl: string, username: string): Promise<Person> {
  const person = await openPerson(browser, baseUrl);
  await registerInPage(person.page, username);
  await person.page.locator('.connection.online').waitFor({ state: 'attached' });
  return person;
}

/** Closes each person's page, which saw no script error nor CSP violation. */
export async function closePeople(...people: Person[]): Promise<void> {
  for (const person of people) {
    expect(person.problems).toEqual([]);
    await person.context.close();
  }
}

export const PASSWORD = 'a long and quiet river';

/** Registers through the page's own form, as a person would. */
export async function registerInPage(page: Page, username: string): Promise<void> {
  await page.getByRole('button', { name: 'Create account' }).first().click();
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Email', { exact: true }).fill(`${username}@example.org`);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('form', { name: 'Create account' }).getByRole('button', { name: 'Create account' }).click();
  await page.getByTestId('me').filter({ hasText: new RegExp(`^${username}$`) }).waitFor({ state: 'attached' });
}

export async function openConversation(page: Page, address: string): Promise<void> {
  await page.getByLabel('Start a conversation').fill(address);
  await page.getByRole('button', { name: 'Open' }).click();
  await page.getByRole('heading', { level: 2, name: address }).waitFor();
}

export async function write(page: Page, text: string): Promise<void> {
  const box = page.getByRole('textbox', { name: /^Message to / });
  await box.fill(text);
  await box.press('Enter');
}

/** A row of the conversations list, by its partner's address or its group's name. */
export function conversationRow(page: Page, title: string) {
  return page.locator('.conversation').filter({ has: page.locator('.partner', { hasText: new RegExp(`^${title}$`) }) });
}

/** Fills in the page's new group form, as a person would, and sends it. */
export async function submitNewGroup(page: Page, name: string, members: string): Promise<void> {
  if (new URL(page.url()).pathname !== '/groups/new') await page.getByRole('link', { name: 'New group' }).click();
  await page.getByLabel('Group name').fill(name);
  await page.getByLabel('Members').fill(members);
  await page.getByRole('button', { name: 'Create group' }).click();
}

/** Creates a group through the page's own form and returns its id. */
export async function createGroupInPage(page: Page, name: string, members: string): Promise<string> {
  await submitNewGroup(page, name, members);
  await page.getByRole('heading', { level: 2, name }).waitFor();
  return decodeURIComponent(new URL(page.url()).pathname.replace(/^\/g\//, ''));
}

/** The message bubbles of the open conversation, as the reader sees their text. */
export function bubbles(page: Page) {
  return page.locator('.message-list .text');
}

// Page-side expressions are strings: the test project is type-checked without the DOM library.
export function focusedId(page: Page): Promise<string | undefined> {
  return page.evaluate<string | undefined>('document.activeElement?.id');
}

export function storedSession(page: Page): Promise<{ token: string } | null> {
  return page.evaluate<{ token: string } | null>("JSON.parse(localStorage.getItem('realchat.session') ?? 'null')");
}
