// A group's membership in the browser: adding a member, who gets the group live with its whole
// history; removing one, whose open view closes at once; renaming; leaving; and what changed while
// a page was reconnecting, which the change feed brings back.
import type { Page, WebSocket } from 'playwright-core';
import { expect, it } from 'vitest';
import { describeEachDatabase } from '../helpers/databases.js';
import { call, registerUser } from '../helpers/http.js';
import { bubbles, closePeople, conversationRow, registeredPerson, servedToBrowser, storedSession } from './browser.js';

/** A group made by the page's user through the API; the page shows it live. */
async function groupOf(url: string, page: Page, name: string, members: string[]): Promise<string> {
  const { token } = (await storedSession(page))!;
  const created = await call(url, 'POST', '/accounts/groups/', { name, members }, { token });
  expect(created.status).toBe(201);
  await conversationRow(page, name).waitFor();
  return created.body.id as string;
}

async function openGroup(page: Page, name: string): Promise<void> {
  await conversationRow(page, name).click();
  await page.getByRole('heading', { level: 2, name }).waitFor();
}

function details(page: Page) {
  return page.getByRole('complementary', { name: 'Group details' });
}

describeEachDatabase('web client: group membership', (database) => {
  const suite = servedToBrowser(database);

  it("adds a member, who gets the group and its history live, and removes them: the removed member's view closes", async () => {
    const [olga, mia] = await Promise.all([registeredPerson(suite.browser, suite.app.url, 'olga'), registeredPerson(suite.browser, suite.app.url, 'mia')]);
    const pat = await registerUser(suite.app.url, 'pat');
    const id = await groupOf(suite.app.url, olga.page, 'Book club', ['pat']);
    await call(suite.app.url, 'POST', '/accounts/send-message/', { message: 'Welcome! First book: Dune.', group: id }, { token: pat.token });
    await openGroup(olga.page, 'Book club');
    await olga.page.getByRole('button', { name: 'Members' }).click();

    await olga.page.getByLabel('Add a member').fill('mia');
    await olga.page.getByRole('button', { name: 'Add', exact: true }).click();
    await details(olga.page).locator('.member-name', { hasText: /^mia$/ }).waitFor();
    expect(await olga.page.getByLabel('Add a member').inputValue()).toBe('');
    expect(await olga.page.getByTestId('group-state').textContent()).toBe('3 members');
    // Mia's page is open: olga sees her online at once.
    await details(olga.page).locator('.member', { hasText: /^mia/ }).locator('.member-presence', { hasText: 'online' }).waitFor();

    // Mia's list has it at once, with its last message, as a reload would show it; she reads what was said before she joined.
    await conversationRow(mia.page, 'Book club').filter({ hasText: 'Welcome! First book: Dune.' }).waitFor();
    await openGroup(mia.page, 'Book club');
    await bubbles(mia.page).filter({ hasText: 'Welcome! First book: Dune.' }).waitFor();
    expect(await mia.page.locator('.message.theirs .sender').allTextContents()).toEqual(['pat']);

    // Someone unknown cannot be added: the server's reason shows beside the field, and nobody is added.
    await olga.page.getByLabel('Add a member').fill('nobody-by-that-name');
    await olga.page.getByRole('button', { name: 'Add', exact: true }).click();
    await olga.page.locator('#group-add[aria-invalid="true"]').waitFor();
    expect(await olga.page.locator('#group-add-errors').textContent()).toContain('nobody-by-that-name');
    expect(await details(olga.page).locator('.member-name').allTextContents()).toEqual(['olga (you)', 'pat', 'mia']);

    // Olga removes mia: mia's open view closes, the group leaves her list, and it is hers no more.
    await details(olga.page).getByRole('button', { name: 'Remove mia' }).click();
    await mia.page.getByRole('heading', { level: 2, name: 'Book club' }).waitFor({ state: 'detached' });
    await mia.page.getByRole('status').filter({ hasText: 'You are no longer a member of Book club.' }).waitFor();
    expect(new URL(mia.page.url()).pathname).toBe('/');
    expect(await conversationRow(mia.page, 'Book club').count()).toBe(0);
    await details(olga.page).locator('.member-name', { hasText: /^mia$/ }).waitFor({ state: 'detached' });
    const { token } = (await storedSession(mia.page))!;
    expect((await call(suite.app.url, 'GET', `/accounts/groups/${id}/`, undefined, { token })).status).toBe(404);

    await closePeople(olga, mia);
  });

  it('renames a group for everyone, and a member who leaves loses it while the owner sees them go', async () => {
    const [quinn, rita] = await Promise.all([registeredPerson(suite.browser, suite.app.url, 'quinn'), registeredPerson(suite.browser, suite.app.url, 'rita')]);
    await groupOf(suite.app.url, quinn.page, 'Trip', ['rita']);
    await openGroup(quinn.page, 'Trip');
    await openGroup(rita.page, 'Trip');

    // A plain member may not rename, add or remove: the controls are not offered.
    await rita.page.getByRole('button', { name: 'Members' }).click();
    await details(rita.page).locator('.member-name', { hasText: /^quinn$/ }).waitFor();
    expect(await details(rita.page).getByLabel('Group name').count()).toBe(0);
    expect(await details(rita.page).getByLabel('Add a member').count()).toBe(0);
    expect(await details(rita.page).getByRole('button', { name: /^Remove / }).count()).toBe(0);

    // The owner makes her an admin, and back: her controls follow, live.
    await quinn.page.getByRole('button', { name: 'Members' }).click();
    await details(quinn.page).getByRole('button', { name: 'Make rita an admin' }).click();
    await details(rita.page).getByLabel('Group name').waitFor();
    expect(await details(rita.page).locator('.role').allTextContents()).toEqual(['owner', 'admin']);
    await details(quinn.page).getByRole('button', { name: 'Make rita a member' }).click();
    await details(rita.page).getByLabel('Group name').waitFor({ state: 'detached' });

    await details(quinn.page).getByLabel('Group name').fill('Lake trip');
    await details(quinn.page).getByRole('button', { name: 'Rename' }).click();
    await quinn.page.getByRole('heading', { level: 2, name: 'Lake trip' }).waitFor();
    await rita.page.getByRole('heading', { level: 2, name: 'Lake trip' }).waitFor();
    await conversationRow(rita.page, 'Lake trip').waitFor();

    // Leaving asks first.
    await details(rita.page).getByRole('button', { name: 'Leave group' }).click();
    await details(rita.page).getByRole('button', { name: 'Stay' }).click();
    await details(rita.page).getByRole('button', { name: 'Leave group' }).click();
    await details(rita.page).getByRole('button', { name: 'Yes, leave' }).click();
    await rita.page.getByRole('status').filter({ hasText: 'You left Lake trip.' }).waitFor();
    expect(await conversationRow(rita.page, 'Lake trip').count()).toBe(0);
    await details(quinn.page).locator('.member-name', { hasText: /^rita$/ }).waitFor({ state: 'detached' });
    expect(await quinn.page.getByTestId('group-state').textContent()).toBe('1 member');

    await closePeople(quinn, rita);
  });

  it('brings back what changed in its groups while the page was reconnecting: a message, a rename and a removal', async () => {
    const sam = await registeredPerson(suite.browser, suite.app.url, 'sam');
    const { page } = sam;
    const tom = await registerUser(suite.app.url, 'tom');
    const group = async (name: string) => (await call(suite.app.url, 'POST', '/accounts/groups/', { name, members: ['sam'] }, { token: tom.token })).body.id as string;
    const chess = await group('Chess');
    const choir = await group('Choir');
    await openGroup(page, 'Chess');
    const sockets: WebSocket[] = [];
    page.on('websocket', (socket) => sockets.push(socket));

    await suite.app.close();
    await page.getByRole('status').filter({ hasText: 'Reconnecting…' }).waitFor();
    // Two failed attempts: the page now waits out a backoff of seconds, so what follows lands while it is away.
    await expect.poll(() => sockets.length >= 2 && sockets.at(-1)!.isClosed(), { timeout: 15_000 }).toBe(true);
    suite.app = await suite.app.restart();
    const authFrame = page
      .waitForEvent('websocket', { timeout: 20_000 })
      .then((socket) => socket.waitForEvent('framesent', { predicate: (frame) => String(frame.payload).includes('"auth"'), timeout: 20_000 }));
    const as = { token: tom.token };
    expect((await call(suite.app.url, 'POST', '/accounts/send-message/', { message: 'Your move.', group: chess }, as)).status).toBe(201);
    expect((await call(suite.app.url, 'PATCH', `/accounts/groups/${chess}/`, { name: 'Chess club' }, as)).status).toBe(200);
    expect((await call(suite.app.url, 'DELETE', `/accounts/groups/${choir}/members/sam/`, undefined, as)).status).toBe(204);

    expect(JSON.parse(String((await authFrame).payload))).toMatchObject({ type: 'auth', after: expect.any(Number) });
    await page.getByRole('heading', { level: 2, name: 'Chess club' }).waitFor({ timeout: 20_000 });
    const message = page.locator('.message.theirs', { hasText: 'Your move.' });
    await message.waitFor();
    expect(await message.locator('.sender').textContent()).toBe('tom');
    await conversationRow(page, 'Choir').waitFor({ state: 'detached' });
    expect(await page.locator('.conversation .partner').allTextContents()).toEqual(['Chess club']);
    await closePeople(sam);
    // Its own waits allow more than the default 30 s: on a loaded machine a third failed attempt
    // puts the page's next one up to 10 s away (a run timed out so, every step on its way).
  }, 60_000);
});
