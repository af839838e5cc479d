// A group whose home is another backend, in the browser of a member's backend: bob@b makes a
// group on b with alice@a, and alice, on a, reads and writes in it; while b (the home) is down,
// her rename is sent and the page says it waits for b; once b is back, the new name shows.
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { call, registerUser } from '../helpers/http.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { backendsInBrowser, bubbles, closePeople, conversationRow, registeredPerson, write } from './browser.js';

function details(page: Page) {
  return page.getByRole('complementary', { name: 'Group details' });
}

describeEachDatabase('web client: a group homed on another backend', (database) => {
  const suite = backendsInBrowser(database);

  it('shows the group from its home, carries messages both ways, and says a change waits while the home is down', async () => {
    const { a, b, browser } = suite;
    const alice = await registeredPerson(browser, a.url, 'alice');
    const bob = await registerUser(b.url, 'bob');
    const created = await call(b.url, 'POST', '/accounts/groups/', { name: 'Across', members: ['alice@a'] }, { token: bob.token });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect((await call(b.url, 'PATCH', `/accounts/groups/${id}/members/alice@a/`, { role: 'admin' }, { token: bob.token })).status).toBe(200);
    expect((await call(b.url, 'POST', '/accounts/send-message/', { message: 'Hello from the home', group: id }, { token: bob.token })).status).toBe(201);

    await conversationRow(alice.page, 'Across').click();
    await bubbles(alice.page).filter({ hasText: 'Hello from the home' }).waitFor();
    expect(await alice.page.locator('.message.theirs .sender').allTextContents()).toEqual(['bob@b']);
    await write(alice.page, 'Hello from a member');
    await alice.page.locator('.message.mine .receipt', { hasText: /^Delivered$/ }).waitFor();
    await expect
      .poll(async () => (await call(b.url, 'GET', `/accounts/messages/?group=${id}`, undefined, { token: bob.token })).body.results?.map((m: { message: string }) => m.message))
      .toEqual(['Hello from a member', 'Hello from the home']);

    // The home is down: the rename is sent, the page says so and keeps the old name until b applies it.
    await b.stop();
    await alice.page.getByRole('button', { name: 'Members' }).click();
    await details(alice.page).getByLabel('Group name').fill('Across the wire');
    await details(alice.page).getByRole('button', { name: 'Rename' }).click();
    await details(alice.page).getByRole('status').filter({ hasText: 'Sent to b' }).waitFor({ timeout: 20_000 });
    expect(await alice.page.getByRole('heading', { level: 2, name: 'Across', exact: true }).count()).toBe(1);

    await b.start();
    await alice.page.getByRole('heading', { level: 2, name: 'Across the wire' }).waitFor({ timeout: 30_000 });
    expect(alice.problems).toEqual([]);
    await closePeople(alice);
  });
});
