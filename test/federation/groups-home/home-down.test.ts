// A member's posts and requests wait in its outbox while the group's home is down, and the home
// applies them, in order, when it is back (groups.md: "nothing is lost, and it is ordered at the
// home when it arrives"): two real backends, the home a and the member's backend b.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startBackends, type Backend } from '../../helpers/backends.js';
import { describeEachDatabase } from '../../helpers/databases.js';
import { registerUser, type RegisteredUser } from '../../helpers/http.js';
import { groupsClient, type GroupMessage } from '../../groups/client.js';

describeEachDatabase('a group’s home that is down', (database) => {
  let a: Backend;
  let b: Backend;
  let alice: RegisteredUser;
  let bob: RegisteredUser;
  const onA = groupsClient(() => a.url);
  const onB = groupsClient(() => b.url);

  beforeAll(async () => {
    [a, b] = await startBackends(database, ['a', 'b'], { server: { outbox: { random: () => 0 } } });
    [alice, bob] = await Promise.all([registerUser(a.url, 'alice'), registerUser(b.url, 'bob')]);
  });
  afterAll(async () => {
    await Promise.all([a?.destroy(), b?.destroy()]);
  });

  async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`never: ${what} (last: ${JSON.stringify(value)})`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('answers a post delivered once the home took it; keeps a post and a request queued while the home is down, and the home orders and applies them once back', async () => {
    const created = await onA.create(alice, 'trip', ['bob@b']);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const group = created.body.id as string;
    await onA.sent(alice, group, 'before');
    expect((await onA.as(alice, 'PATCH', `/accounts/groups/${group}/members/bob@b/`, { role: 'admin' })).status).toBe(200);
    // b's copy, made from the home's state, with the home's message and bob an admin.
    await eventually(() => onB.show(bob, group), (shown) => shown.status === 200 && shown.body.members.some((member: { user: string; role: string }) => member.role === 'admin'), 'b’s copy');

    // With the home up, the poster's answer waits for the home's: delivered.
    const taken = await onB.send(bob, group, 'while a is up');
    expect(taken.status, JSON.stringify(taken.body)).toBe(201);
    expect(taken.body.status).toBe('delivered');

    await a.stop();
    const sent = await onB.send(bob, group, 'while a is down');
    expect(sent.status, JSON.stringify(sent.body)).toBe(201);
    expect(sent.body.status).toBe('queued');
    const renamed = await onB.as(bob, 'PATCH', `/accounts/groups/${group}/`, { name: 'renamed on b' });
    expect(renamed.status).toBe(202);
    expect(renamed.body).toEqual({ status: 'queued' });

    await a.start();
    const history = await eventually(
      () => onA.history(alice, group),
      (answer) => answer.status === 200 && answer.body.results.length === 3,
      'the post at the home',
    );
    expect((history.body.results as GroupMessage[]).map((message) => [message.sender, message.message])).toEqual([
      ['bob@b', 'while a is down'],
      ['bob@b', 'while a is up'],
      ['alice', 'before'],
    ]);
    // The rename, behind the post on the group's line, applied at the home and back on b.
    await eventually(() => onA.show(alice, group), (answer) => answer.body.name === 'renamed on b', 'the rename at the home');
    await eventually(() => onB.show(bob, group), (answer) => answer.body.name === 'renamed on b', 'the rename on b');
    const onBob = await eventually(
      () => onB.history(bob, group),
      (answer) => (answer.body.results as (GroupMessage & { status: string })[]).every((message) => message.status === 'delivered'),
      'the post delivered on b',
    );
    expect((onBob.body.results as GroupMessage[]).map((message) => message.message)).toEqual(['while a is down', 'while a is up', 'before']);
  });
});
