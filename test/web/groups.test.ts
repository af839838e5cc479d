// Group conversations in the browser: creating a group, which reaches every member's list live,
// its messages with their senders' names, unread badges, "Seen by", its members with their roles,
// its place among direct conversations by recency, and who is typing.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { describeEachDatabase } from '../helpers/databases.js';
import { call, registerUser } from '../helpers/http.js';
import { openSocket } from '../realtime/socket.js';
import { bubbles, closePeople, conversationRow, createGroupInPage, registeredPerson, servedToBrowser, submitNewGroup, write } from './browser.js';

const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url));

describeEachDatabase('web client: groups', (database) => {
  const suite = servedToBrowser(database);

  it("creates a group with two members: it reaches each one's list live, and each message carries its sender's name", async () => {
    const [alice, bob] = await Promise.all([registeredPerson(suite.browser, suite.app.url, 'alice'), registeredPerson(suite.browser, suite.app.url, 'bob')]);
    const carol = await registerUser(suite.app.url, 'carol');

    // The form takes the keyboard's focus where it starts, not on the link that opened it.
    await alice.page.getByRole('link', { name: 'New group' }).press('Enter');
    await alice.page.locator('#group-name:focus').waitFor();

    // A member who does not exist is named beside the members field, and nothing is created.
    await submitNewGroup(alice.page, 'Weekend trip', 'bob, nobody-here');
    await alice.page.locator('#group-members[aria-invalid="true"]').waitFor();
    expect(await alice.page.locator('#group-members-errors').textContent()).toContain('nobody-here');
    expect((await call(suite.app.url, 'GET', '/accounts/groups/', undefined, { token: carol.token })).body.results).toEqual([]);

    const id = await createGroupInPage(alice.page, 'Weekend trip', 'bob, carol');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(await alice.page.getByTestId('group-state').textContent()).toBe('3 members');

    // Bob's list shows it without a reload; carol's lists have it too.
    const bobsRow = conversationRow(bob.page, 'Weekend trip');
    await bobsRow.waitFor();
    expect(await bobsRow.locator('.preview').textContent()).toBe('No messages yet');
    const carols = await call(suite.app.url, 'GET', '/accounts/groups/', undefined, { token: carol.token });
    expect(carols.body.results).toEqual([expect.objectContaining({ id, name: 'Weekend trip', members_count: 3 })]);

    // The members, with their roles: the creator owns it, and may remove or promote the others.
    await alice.page.getByRole('button', { name: 'Members' }).click();
    const details = alice.page.getByRole('complementary', { name: 'Group details' });
    expect(await details.locator('.member-name').allTextContents()).toEqual(['alice (you)', 'bob', 'carol']);
    expect(await details.locator('.role').allTextContents()).toEqual(['owner', 'member', 'member']);
    expect(await details.getByRole('button', { name: 'Remove bob' }).count()).toBe(1);
    expect(await details.getByRole('button', { name: 'Make carol an admin' }).count()).toBe(1);

    // Alice writes: bob's row counts it, under her name.
    await write(alice.page, 'Who brings the tent?');
    await alice.page.locator('.message.mine .receipt', { hasText: /^Delivered$/ }).waitFor();
    await bobsRow.locator('.badge', { hasText: '1' }).waitFor();
    expect(await bobsRow.locator('.preview').textContent()).toBe('alice: Who brings the tent?');

    // Carol answers through the API: alice sees it live with carol's name, bob's count goes up.
    const sent = await call(suite.app.url, 'POST', '/accounts/send-message/', { message: 'I will, and the map.', group: id }, { token: carol.token });
    expect(sent.status).toBe(201);
    const carolsMessage = alice.page.locator('.message.theirs', { hasText: 'I will, and the map.' });
    await carolsMessage.waitFor();
    expect(await carolsMessage.locator('.sender').textContent()).toBe('carol');
    await bobsRow.locator('.badge', { hasText: '2' }).waitFor();

    // Bob opens it: every message with its sender, his badge gone, and alice learns he read hers.
    await bobsRow.click();
    await bubbles(bob.page).filter({ hasText: 'I will, and the map.' }).waitFor();
    expect(await bubbles(bob.page).allTextContents()).toEqual(['Who brings the tent?', 'I will, and the map.']);
    expect(await bob.page.locator('.message.theirs .sender').allTextContents()).toEqual(['alice', 'carol']);
    expect(await bobsRow.locator('.badge').count()).toBe(0);
    await alice.page.locator('.message.mine .receipt', { hasText: /^Seen by (.+, )?bob/ }).waitFor();

    // Bob answers; alice has the group open, so it shows at once with his name and counts as read.
    await write(bob.page, 'I bring the stove.');
    const bobsMessage = alice.page.locator('.message.theirs', { hasText: 'I bring the stove.' });
    await bobsMessage.waitFor();
    expect(await bobsMessage.locator('.sender').textContent()).toBe('bob');
    expect(await bob.page.locator('.message.mine .sender').count()).toBe(0);
    expect(await conversationRow(alice.page, 'Weekend trip').locator('.badge').count()).toBe(0);

    // Among direct conversations, most recent first.
    const dave = await registerUser(suite.app.url, 'dave');
    await call(suite.app.url, 'POST', '/accounts/send-message/', { message: 'Coffee?', receiver: 'bob' }, { token: dave.token });
    await conversationRow(bob.page, 'dave').waitFor();
    expect(await bob.page.locator('.conversation .partner').allTextContents()).toEqual(['dave', 'Weekend trip']);
    await call(suite.app.url, 'POST', '/accounts/send-message/', { message: 'Leaving at 8 on Saturday.', group: id }, { token: carol.token });
    await expect.poll(() => bob.page.locator('.conversation .partner').allTextContents()).toEqual(['Weekend trip', 'dave']);

    if (process.env.UPDATE_SCREENSHOTS && database === 'sqlite') {
      await alice.page.locator('.message.theirs', { hasText: 'Leaving at 8' }).waitFor();
      mkdirSync(DOCS, { recursive: true });
      await alice.page.screenshot({ path: `${DOCS}screenshot-group.png` });
    }
    await closePeople(alice, bob);
  });

  it("shows a member's edit and an owner's delete of someone else's message, live", async () => {
    const xena = await registeredPerson(suite.browser, suite.app.url, 'xena');
    const [yuri, zoe] = await Promise.all([registerUser(suite.app.url, 'yuri'), registerUser(suite.app.url, 'zoe')]);
    const created = await call(suite.app.url, 'POST', '/accounts/groups/', { name: 'Garden', members: ['xena', 'zoe'] }, { token: yuri.token });
    const id = created.body.id as string;
    const say = async (message: string, token: string) => (await call(suite.app.url, 'POST', '/accounts/send-message/', { message, group: id }, { token })).body.id as number;
    const tomatoes = await say('Tomatos are ripe', zoe.token);
    const spam = await say('Buy cheap seeds here', zoe.token);
    await conversationRow(xena.page, 'Garden').click();
    await bubbles(xena.page).filter({ hasText: 'Buy cheap seeds here' }).waitFor();

    expect((await call(suite.app.url, 'PATCH', `/accounts/messages/${tomatoes}/`, { message: 'Tomatoes are ripe' }, { token: zoe.token })).status).toBe(200);
    await xena.page.locator('.message', { hasText: 'Tomatoes are ripe' }).locator('.edited').waitFor();
    // The owner moderates: zoe's message becomes a tombstone for every member.
    expect((await call(suite.app.url, 'DELETE', `/accounts/messages/${spam}/`, undefined, { token: yuri.token })).status).toBe(204);
    await bubbles(xena.page).filter({ hasText: 'This message was deleted.' }).waitFor();
    expect(await bubbles(xena.page).allTextContents()).toEqual(['Tomatoes are ripe', 'This message was deleted.']);
    expect(await conversationRow(xena.page, 'Garden').locator('.preview').textContent()).toBe('zoe: Message deleted');
    await closePeople(xena);
  });

  it('says who is typing in a group, and tells the others when we type', async () => {
    const uma = await registeredPerson(suite.browser, suite.app.url, 'uma');
    const { page } = uma;
    const [vic, wes] = await Promise.all([registerUser(suite.app.url, 'vic'), registerUser(suite.app.url, 'wes')]);
    const created = await call(suite.app.url, 'POST', '/accounts/groups/', { name: 'Band', members: ['uma', 'wes'] }, { token: vic.token });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await conversationRow(page, 'Band').click();
    await page.getByRole('heading', { level: 2, name: 'Band' }).waitFor();

    const [vics, wess] = await Promise.all([openSocket(suite.app.url, vic.token), openSocket(suite.app.url, wes.token)]);
    try {
      const state = page.getByTestId('group-state');
      vics.send({ type: 'typing', group: id });
      await state.filter({ hasText: /^vic is typing…$/ }).waitFor();
      wess.send({ type: 'typing', group: id });
      await state.filter({ hasText: /^vic and wes are typing…$/ }).waitFor();
      // Wes's message is what he was typing: only vic is still at it.
      await call(suite.app.url, 'POST', '/accounts/send-message/', { message: 'New song tonight', group: id }, { token: wes.token });
      await state.filter({ hasText: /^vic is typing…$/ }).waitFor();

      // Uma types: the other members are told, in the group.
      await page.getByRole('textbox', { name: 'Message to Band' }).pressSequentially('ok', { delay: 20 });
      const typing = { type: 'typing', from: 'uma', group: id };
      const fromUma = (frame: Record<string, unknown>) => frame.type === 'typing' && frame.from === 'uma';
      expect(await vics.next(fromUma)).toEqual(typing);
      expect(await wess.next(fromUma)).toEqual(typing);
    } finally {
      await vics.close();
      await wess.close();
    }
    await closePeople(uma);
  });
});
