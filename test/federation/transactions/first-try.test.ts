// A send to a peer's user waits for its first try as long as the peer may take to answer
// (FEDERATION_TIMEOUT): `delivered` from a slow but reachable peer, `queued` only once the peer
// could not answer in time (federation.md, "Delivery"; api.md, the send's `status`).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startBackends, type Backend } from '../../helpers/backends.js';
import { describeEachDatabase } from '../../helpers/databases.js';
import { call, registerUser, type RegisteredUser } from '../../helpers/http.js';
import { RecordingProxy } from '../../helpers/recording-proxy.js';
import { eventually } from '../peer-requests.js';

describeEachDatabase('the first try of a send', (database) => {
  let proxy: RecordingProxy;
  let a: Backend;
  let b: Backend;
  let alice: RegisteredUser;
  let bob: RegisteredUser;

  beforeAll(async () => {
    proxy = await new RecordingProxy().listen();
    [a, b] = (await startBackends(database, ['a', 'b'], {
      peers: (name, peers) => (name === 'a' ? peers.map((peer) => ({ ...peer, url: proxy.url })) : peers),
      env: { FEDERATION_TIMEOUT: '2s' },
      // The wait a deployment has: the test helpers' longer one is left out.
      server: { outbox: { random: () => 0, firstTryWaitMs: undefined } },
    })) as [Backend, Backend];
    proxy.target = b.url;
    [alice, bob] = await Promise.all([registerUser(a.url, 'alice'), registerUser(b.url, 'bob')]);
  });
  afterAll(async () => {
    await Promise.all([a.destroy(), b.destroy()]);
    await proxy.close();
  });

  const send = (message: string) => call(a.url, 'POST', '/accounts/send-message/', { message, receiver: 'bob@b' }, { token: alice.token });

  it('answers delivered when the peer takes a while but answers within FEDERATION_TIMEOUT', async () => {
    proxy.delay(800);
    const started = Date.now();
    const sent = await send('slow but there');
    expect(sent.status).toBe(201);
    expect(sent.body.status).toBe('delivered');
    expect(Date.now() - started).toBeGreaterThanOrEqual(800);
  });

  it('answers queued once FEDERATION_TIMEOUT passed without an answer, and delivers later', async () => {
    proxy.delay(3000);
    const started = Date.now();
    const sent = await send('too slow this time');
    expect(sent.body.status).toBe('queued');
    expect(Date.now() - started).toBeLessThan(2900);
    proxy.delay(0);
    await eventually(async () => {
      const history = await call(a.url, 'GET', '/accounts/messages/?with=bob%40b', undefined, { token: alice.token });
      expect(history.body.results[0]).toMatchObject({ id: sent.body.id, status: 'delivered' });
    }, 15_000);
    const received = await call(b.url, 'GET', '/accounts/messages/?with=alice%40a', undefined, { token: bob.token });
    expect(received.body.results.filter((m: { message: string }) => m.message === 'too slow this time')).toHaveLength(1);
  }, 30_000);
});

