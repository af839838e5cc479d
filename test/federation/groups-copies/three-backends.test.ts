// Copies on real backends: alice's group on a, with bob (and dave) of b and carol of c. Each
// member's backend keeps a copy made by the home's `group_state`, the messages in the home's
// order (a post queued on b while a is down included), and changes asked on b go to a.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startBackends, type Backend } from '../../helpers/backends.js';
import { describeEachDatabase } from '../../helpers/databases.js';
import { registerUser, type RegisteredUser } from '../../helpers/http.js';
import { groupsClient, type Group, type GroupMember, type GroupMessage } from '../../groups/client.js';
import { eventually } from '../peer-requests.js';

describeEachDatabase('copies of a group on three backends', (database) => {
  let a: Backend;
  let b: Backend;
  let c: Backend;
  let alice: RegisteredUser;
  let bob: RegisteredUser;
  let carol: RegisteredUser;
  let dave: RegisteredUser;
  let group: Group;
  const on = {
    a: groupsClient(() => a.url),
    b: groupsClient(() => b.url),
    c: groupsClient(() => c.url),
  };

  beforeAll(async () => {
    [a, b, c] = (await startBackends(database, ['a', 'b', 'c'])) as [Backend, Backend, Backend];
    [alice, bob, carol, dave] = await Promise.all([registerUser(a.url, 'alice'), registerUser(b.url, 'bob'), registerUser(c.url, 'carol'), registerUser(b.url, 'dave')]);
    const created = await on.a.create(alice, 'trip', ['bob@b', 'carol@c']);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    group = created.body as Group;
  }, 60_000);
  afterAll(() => Promise.all([a, b, c].map((backend) => backend.destroy())));

  const users = (members: GroupMember[]) => members.map((member) => [member.user, member.role]);

  async function texts(client: typeof on.a, user: RegisteredUser): Promise<string[]> {
    const history = await client.history(user, group.id, '&limit=100');
    expect(history.status).toBe(200);
    return (history.body.results as GroupMessage[]).map((message) => message.message).reverse();
  }

  it("gives every member's backend a copy homed on a, with the members as that backend shows them", async () => {
    const onB = await eventually(async () => {
      const shown = await on.b.show(bob, group.id);
      expect(shown.status).toBe(200);
      return shown.body as Group;
    });
    expect(onB.home).toBe('a');
    expect(users(onB.members)).toEqual([
      ['alice@a', 'owner'],
      ['bob', 'member'],
      ['carol@c', 'member'],
    ]);
    const onC = await eventually(async () => {
      const shown = await on.c.show(carol, group.id);
      expect(shown.status).toBe(200);
      return shown.body as Group;
    });
    expect(users(onC.members)).toEqual([
      ['alice@a', 'owner'],
      ['bob@b', 'member'],
      ['carol', 'member'],
    ]);
  });

  it('carries every message to every backend, in the order of the home', async () => {
    await on.a.sent(alice, group.id, 'one');
    const fromBob = await on.b.send(bob, group.id, 'two');
    expect(fromBob.body.status).toBe('delivered');
    const fromCarol = await on.c.send(carol, group.id, 'three');
    expect(fromCarol.body.status).toBe('delivered');
    for (const [client, user] of [
      [on.a, alice],
      [on.b, bob],
      [on.c, carol],
    ] as const) {
      await eventually(async () => expect(await texts(client, user)).toEqual(['one', 'two', 'three']));
    }
    const onB = ((await on.b.history(bob, group.id)).body.results as GroupMessage[]).map((message) => message.sender);
    expect(onB).toEqual(['carol@c', 'bob', 'alice@a']);
  });

  it("applies an edit made on b at once, and the home's echo of it changes nothing more there", async () => {
    const onB = ((await on.b.history(bob, group.id)).body.results as GroupMessage[]).find((message) => message.message === 'two')!;
    const edited = await on.b.as(bob, 'PATCH', `/accounts/messages/${onB.id}/`, { message: 'two, edited' });
    expect(edited.status, JSON.stringify(edited.body)).toBe(200);
    // c hears of it from the home, in the same round as b.
    await eventually(async () => expect(await texts(on.c, carol)).toEqual(['one', 'two, edited', 'three']));
    await eventually(async () => expect(await texts(on.a, alice)).toEqual(['one', 'two, edited', 'three']));
    const after = ((await on.b.history(bob, group.id)).body.results as GroupMessage[]).find((message) => message.id === onB.id)!;
    expect(after.edited_at).toBe(edited.body.edited_at);
  });

  it('sends changes asked on b to the home: refused at once by the local rules, applied there, answered once the copy has them', async () => {
    expect((await on.b.rename(bob, group.id, 'by bob')).status).toBe(403);
    expect((await on.a.role(alice, group.id, { username: 'bob@b' } as RegisteredUser, 'admin')).status).toBe(200);
    await eventually(async () => expect(users((await on.b.show(bob, group.id)).body.members)).toContainEqual(['bob', 'admin']));

    const renamed = await on.b.rename(bob, group.id, 'by bob');
    expect(renamed.status, JSON.stringify(renamed.body)).toBe(200);
    expect(renamed.body.name).toBe('by bob');
    expect((await on.a.show(alice, group.id)).body.name).toBe('by bob');

    const added = await on.b.add(bob, group.id, dave);
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    expect(users(added.body.members)).toContainEqual(['dave', 'member']);
    expect((await on.b.show(dave, group.id)).status).toBe(200);
    expect(users((await on.a.show(alice, group.id)).body.members)).toContainEqual(['dave@b', 'member']);

    const left = await on.b.remove(dave, group.id, dave);
    expect(left.status).toBe(204);
    expect((await on.b.show(dave, group.id)).status).toBe(404);

    // carol goes: c keeps no copy for nobody.
    const removed = await on.b.as(bob, 'DELETE', `/accounts/groups/${group.id}/members/carol@c/`);
    expect(removed.status, JSON.stringify(removed.body)).toBe(204);
    await eventually(async () => expect((await on.c.show(carol, group.id)).status).toBe(404));
    expect((await on.c.history(carol, group.id)).status).toBe(404);
  });

  it('queues what b asks while the home is down, and orders its post when the home is back, on both backends alike', async () => {
    await a.stop();
    const renamed = await on.b.rename(bob, group.id, 'while down');
    expect(renamed.status, JSON.stringify(renamed.body)).toBe(202);
    expect(renamed.body).toEqual({ status: 'queued' });
    const posted = await on.b.send(bob, group.id, 'posted while down');
    expect(posted.status).toBe(201);
    expect(posted.body.status).toBe('queued');
    await a.start();
    await on.a.sent(alice, group.id, 'after the restart');
    await eventually(async () => {
      const atHome = await texts(on.a, alice);
      expect(atHome).toContain('posted while down');
      expect(await texts(on.b, bob)).toEqual(atHome);
    }, 20_000);
    const mine = ((await on.b.history(bob, group.id)).body.results as (GroupMessage & { status: string })[]).find((message) => message.message === 'posted while down')!;
    expect(mine.status).toBe('delivered');
    await eventually(async () => expect((await on.b.show(bob, group.id)).body.name).toBe('while down'), 20_000);
  });
});
