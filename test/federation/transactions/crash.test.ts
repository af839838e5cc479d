// kill -9 of the sender in the middle of a transaction: b applied it but a never heard the
// answer, and a's entries are still claimed by the dead process. Restarted, a sends them again
// once their lease has run out; b keeps one of each, in order. (a runs as `node dist/main.js`.)
// And an answer lost without a crash, for a message deleted before the retry.
import { afterEach, expect, it } from 'vitest';
import { TRANSACTIONS_PATH } from '../../../src/federation/transactions/protocol.js';
import { startBackends, type Backend } from '../../helpers/backends.js';
import { describeEachDatabase } from '../../helpers/databases.js';
import { call, registerUser, type RegisteredUser } from '../../helpers/http.js';
import { captureLog } from '../../helpers/log.js';
import { RecordingProxy } from '../../helpers/recording-proxy.js';
import { eventually } from '../peer-requests.js';

async function texts(backend: Backend, user: RegisteredUser, partner: string): Promise<{ message: string; status: string; deleted: boolean }[]> {
  const response = await call(backend.url, 'GET', `/accounts/messages/?with=${partner}&limit=200`, undefined, { token: user.token });
  return response.body.results.reverse();
}

describeEachDatabase('the sender killed with SIGKILL in the middle of a transaction', (database) => {
  let backends: Backend[] = [];
  let proxy: RecordingProxy | undefined;
  afterEach(async () => {
    await Promise.all(backends.map((backend) => backend.destroy()));
    await proxy?.close();
    backends = [];
  });

  /** a and b, a reaching b through the proxy; b started, a not yet. */
  async function behindProxy(): Promise<[Backend, Backend, RecordingProxy]> {
    const recording = (proxy = await new RecordingProxy().listen());
    // A short timeout keeps the lease the killed process leaves behind short.
    backends = await startBackends(database, ['a', 'b'], {
      start: false,
      env: { FEDERATION_TIMEOUT: '1s' },
      peers: (name, peers) => (name === 'a' ? peers.map((peer) => ({ ...peer, url: recording.url })) : peers),
    });
    const [a, b] = backends as [Backend, Backend];
    await b.start();
    recording.target = b.url;
    return [a, b, recording];
  }

  it('loses nothing and duplicates nothing once it is restarted', async () => {
    const [a, b, proxy] = await behindProxy();
    await a.spawn();
    const [alice, bob] = await Promise.all([registerUser(a.url, 'alice'), registerUser(b.url, 'bob')]);

    // b applies every transaction, and a never hears back.
    proxy.drop('after');
    const sent = Array.from({ length: 12 }, (_, n) => `mid-transaction ${n}`);
    const answers = await Promise.all(sent.map((text) => call(a.url, 'POST', '/accounts/send-message/', { message: text, receiver: 'bob@b' }, { token: alice.token })));
    expect(answers.map((answer) => answer.body.status)).toEqual(sent.map(() => 'queued'));
    // Sent at once: b must see them in the order a stored them (its ids).
    const stored = sent.map((text, n) => ({ text, id: answers[n]!.body.id as number })).sort((x, y) => x.id - y.id).map((message) => message.text);
    await eventually(async () => expect((await texts(b, bob, 'alice@a')).map((m) => m.message)).toEqual(stored));
    expect(proxy.count(TRANSACTIONS_PATH)).toBeGreaterThan(0);
    await a.stop();

    proxy.drop(undefined);
    proxy.resetCounts();
    await a.spawn();
    await eventually(async () => expect((await texts(a, alice, 'bob@b')).map((m) => m.status)).toEqual(sent.map(() => 'delivered')), 20_000);
    // Sent again, and kept once.
    expect(proxy.count(TRANSACTIONS_PATH)).toBeGreaterThan(0);
    expect((await texts(b, bob, 'alice@a')).map((m) => m.message)).toEqual(stored);
  });

  // A message b stored while its answer was lost, deleted before the retry: the retry sends no
  // text, but b holds it, so the delete must still go there. One b never got answers that
  // delete 404, which is no warning: nothing to change.
  it('deletes on the peer a message it stored while its answer was lost, and deleted before the retry', async () => {
    const [a, b, proxy] = await behindProxy();
    const log = captureLog('warn');
    await a.start({}, { outbox: { random: () => 0, pollIntervalMs: 50 }, logger: log.logger });
    const [alice, bob] = await Promise.all([registerUser(a.url, 'alice'), registerUser(b.url, 'bob')]);

    // b stores each message, and a never hears back: for a they are still queued.
    proxy.drop('after');
    const stored = await call(a.url, 'POST', '/accounts/send-message/', { message: 'stored there, deleted here', receiver: 'bob@b' }, { token: alice.token });
    expect(stored.body.status).toBe('queued');
    await eventually(async () => expect((await texts(b, bob, 'alice@a')).map((m) => m.message)).toEqual(['stored there, deleted here']));
    // And one that b never gets: deleted while b is cut off.
    proxy.drop('before');
    const never = await call(a.url, 'POST', '/accounts/send-message/', { message: 'never there', receiver: 'bob@b' }, { token: alice.token });
    expect(never.body.status).toBe('queued');
    for (const id of [stored.body.id, never.body.id]) expect((await call(a.url, 'DELETE', `/accounts/messages/${id}/`, undefined, { token: alice.token })).status).toBe(204);

    proxy.drop(undefined);
    await eventually(async () => {
      const metrics = await call(a.url, 'GET', '/metrics');
      expect(metrics.body).toMatch(/realchat_outbox_depth(?:\{[^}]*\})? 0\b/);
    }, 20_000);
    // The deleted text is gone from b too; the other never reached it.
    expect(await texts(b, bob, 'alice@a')).toEqual([expect.objectContaining({ message: '', deleted: true })]);
    expect(log.entries().filter((entry) => entry.msg === 'outbox: the peer refused an item')).toEqual([]);
  });
});
