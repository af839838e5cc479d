// GET /metrics: Prometheus text with latency by route pattern, WebSocket connections, and
// nothing secret; each app counts on its own even when several share a process.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { newKey, startTestApp, type TestApp } from '../helpers/app.js';
import { peerRequest, postAsPeer } from '../federation/peer-requests.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { call, registerUser } from '../helpers/http.js';
import { openSocket } from '../realtime/socket.js';

async function scrape(app: TestApp): Promise<string> {
  const response = await fetch(`${app.url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  return response.text();
}

function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((row) => row.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describeEachDatabase('metrics', (database) => {
  let app: TestApp;
  let other: TestApp;

  beforeEach(async () => {
    [app, other] = await Promise.all([startTestApp({ database }), startTestApp({ database })]);
  });

  afterEach(async () => {
    await Promise.all([app.destroy(), other.destroy()]);
  });

  it('times requests by route pattern, not by raw URL', async () => {
    const user = await registerUser(app.url);
    await call(app.url, 'GET', '/accounts/me/?x=secret-looking-query', undefined, { token: user.token });
    await call(app.url, 'GET', '/no/such/route/12345');
    const text = await scrape(app);
    expect(text).toMatch(/http_request_duration_seconds_count\{method="POST",route="\/accounts\/register\/",status_code="201"\} 1/);
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/accounts\/me\/",status_code="200"\} 1/);
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="unmatched",status_code="404"\} 1/);
    expect(text).not.toContain('secret-looking-query');
    expect(text).not.toContain('12345');
    expect(text).not.toContain(user.token);
    expect(text).not.toContain(app.env.ENCRYPTION_KEY!);
    for (const name of ['realchat_messages_sent_total', 'realchat_messages_received_total', 'realchat_messages_federated_total']) {
      expect(sample(text, name)).toBe(0);
    }
  });

  it('counts open WebSocket connections', async () => {
    const user = await registerUser(app.url);
    expect(sample(await scrape(app), 'realchat_websocket_connections')).toBe(0);
    const socket = await openSocket(app.url, user.token);
    await socket.roundTrip();
    expect(sample(await scrape(app), 'realchat_websocket_connections')).toBe(1);
    expect(sample(await scrape(other), 'realchat_websocket_connections')).toBe(0);
    await socket.close();
    await expect.poll(async () => sample(await scrape(app), 'realchat_websocket_connections')).toBe(0);
  });

  it('counts messages sent and received from peers, and shows the outbox backlog', async () => {
    const key = newKey();
    const peered = await startTestApp({ database, env: { PEERS: JSON.stringify([{ name: 'b', url: 'http://127.0.0.1:9', key }]) } });
    try {
      const alice = await registerUser(peered.url);
      const bob = await registerUser(peered.url);
      expect((await call(peered.url, 'POST', '/accounts/send-message/', { message: 'hi', receiver: bob.username }, { token: alice.token })).status).toBe(201);
      expect((await postAsPeer(peered.url, peerRequest({ key, origin: 'b', destination: 'localhost', sender: 'carol', receiver: bob.username }))).status).toBe(200);
      const text = await scrape(peered);
      expect(sample(text, 'realchat_messages_sent_total')).toBe(1);
      expect(sample(text, 'realchat_messages_received_total')).toBe(1);
      expect(sample(text, 'realchat_outbox_depth')).toBe(0);
      expect(sample(text, 'realchat_outbox_oldest_age_seconds')).toBe(0);
      expect(text).not.toContain(key);
    } finally {
      await peered.destroy();
    }
  });

  it('keeps each app’s counts apart in one process', async () => {
    await registerUser(app.url);
    expect(await scrape(other)).not.toContain('route="/accounts/register/"');
  });
});
