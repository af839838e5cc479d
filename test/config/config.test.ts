import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const KEY = 'q0xk8bAeN0Bn2H1Bq3Z1mWbRrjhd0qA6kVh3cFZp8cE=';

function failure(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env, tmpdir());
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({}, '/srv/realchat');
    expect(config).toMatchObject({
      port: 8000,
      host: '0.0.0.0',
      database: { kind: 'sqlite', path: './data/realchat.db' },
      serverName: 'localhost',
      peers: [],
      federationTimeoutMs: 5000,
      federationMaxAgeMs: 300_000,
      federationGiveUpMs: 86_400_000,
      federationBatch: 100,
      federationBatchBytes: 1024 * 1024,
      tokenTtlMs: 30 * 86_400_000,
      eventRetentionMs: 30 * 86_400_000,
      presenceGraceMs: 15_000,
      bodyLimit: 64 * 1024,
      logLevel: 'info',
      logFormat: 'json',
      trustProxy: false,
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 10_000,
      keepAliveTimeoutMs: 5_000,
      sendRate: { count: 20, perMs: 1000, burst: 100 },
      production: false,
      keyDir: '/srv/realchat/data',
    });
    expect(config.storageKey).toBeUndefined();
    expect(config.metricsAllowFrom).toBeUndefined();
    expect(config.encryptionKey).toBeUndefined();
    expect(config.redisUrl).toBeUndefined();
    expect(config.vonage).toBeUndefined();
  });

  it('reads durations, sizes, PostgreSQL and Redis URLs', () => {
    const config = loadConfig(
      { TOKEN_TTL: '2h', FEDERATION_TIMEOUT: '1500ms', BODY_LIMIT: '1mb', DATABASE_URL: 'postgres://u@h/db', REDIS_URL: 'redis://127.0.0.1:6379', TRUST_PROXY: 'true' },
      tmpdir(),
    );
    expect(config.tokenTtlMs).toBe(7_200_000);
    expect(config.federationTimeoutMs).toBe(1500);
    expect(config.bodyLimit).toBe(1024 * 1024);
    expect(config.database).toEqual({ kind: 'postgres', url: 'postgres://u@h/db' });
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(config.trustProxy).toBe(1);
  });

  it('reads TRUST_PROXY as hops or as the proxies\' addresses, never as "trust anything"', () => {
    const at = (value: string) => loadConfig({ TRUST_PROXY: value }, tmpdir()).trustProxy;
    expect(at('false')).toBe(false);
    expect(at('0')).toBe(false);
    expect(at('2')).toBe(2);
    expect(at('10.0.0.0/8, 127.0.0.1,::1')).toEqual(['10.0.0.0/8', '127.0.0.1', '::1']);
  });

  it('keeps generated keys beside the SQLite database, wherever it is started from', () => {
    expect(loadConfig({ DATABASE_URL: 'sqlite:/var/lib/realchat/chat.db' }, '/home/x').keyDir).toBe('/var/lib/realchat');
    expect(loadConfig({ DATABASE_URL: 'sqlite:db/chat.db' }, '/srv/app').keyDir).toBe('/srv/app/db');
  });

  it('reads the storage key, timeouts, the send rate and the metrics allow list', () => {
    const config = loadConfig(
      { STORAGE_KEY: KEY, REQUEST_TIMEOUT: '2s', HEADERS_TIMEOUT: '1500ms', KEEP_ALIVE_TIMEOUT: '1s', SEND_RATE: '3/m', METRICS_ALLOW_FROM: '127.0.0.1,10.0.0.0/8' },
      tmpdir(),
    );
    expect(config).toMatchObject({ storageKey: KEY, requestTimeoutMs: 2000, headersTimeoutMs: 1500, keepAliveTimeoutMs: 1000 });
    expect(config.sendRate).toEqual({ count: 3, perMs: 60_000, burst: 15 });
    expect(config.metricsAllowFrom?.includes('10.2.3.4')).toBe(true);
    expect(config.metricsAllowFrom?.includes('::ffff:127.0.0.1')).toBe(true);
    expect(config.metricsAllowFrom?.includes('192.168.1.1')).toBe(false);
    expect(loadConfig({ SEND_RATE: 'off' }, tmpdir()).sendRate).toBeUndefined();
  });

  it('reads the transaction limits, up to what a peer\'s answer can hold', () => {
    expect(loadConfig({ FEDERATION_BATCH: '1', FEDERATION_BATCH_BYTES: '64kb' }, tmpdir())).toMatchObject({ federationBatch: 1, federationBatchBytes: 65_536 });
    expect(loadConfig({ FEDERATION_BATCH: ' 400 ', FEDERATION_BATCH_BYTES: '2MB' }, tmpdir())).toMatchObject({ federationBatch: 400, federationBatchBytes: 2 * 1024 * 1024 });
  });

  it('limits a compat peer to the addresses of allow_from', () => {
    const peers = JSON.stringify([{ name: 'orig', url: 'http://o', key: KEY, compat: true, allow_from: ['192.0.2.7', '2001:db8::/32'] }]);
    const [peer] = loadConfig({ PEERS: peers }, tmpdir()).peers;
    expect(peer?.allowFrom?.includes('192.0.2.7')).toBe(true);
    expect(peer?.allowFrom?.includes('2001:db8::1')).toBe(true);
    expect(peer?.allowFrom?.includes('192.0.2.8')).toBe(false);
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT', 'PORT=8000'],
    // Number() would read it as port 80.
    [{ PORT: '0x50' }, 'PORT', 'PORT=8000'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL', 'DATABASE_URL=sqlite:'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL', 'REDIS_URL=redis://'],
    [{ ENCRYPTION_KEY: 'too-short' }, 'ENCRYPTION_KEY', 'ENCRYPTION_KEY='],
    [{ ENCRYPTION_KEYS_PREVIOUS: `${KEY},nope` }, 'ENCRYPTION_KEYS_PREVIOUS', 'ENCRYPTION_KEYS_PREVIOUS='],
    [{ TOKEN_TTL: 'forever' }, 'TOKEN_TTL', 'TOKEN_TTL=30d'],
    [{ FEDERATION_GIVE_UP: '0s' }, 'FEDERATION_GIVE_UP', 'FEDERATION_GIVE_UP=24h'],
    [{ BODY_LIMIT: 'huge' }, 'BODY_LIMIT', 'BODY_LIMIT=64kb'],
    [{ FEDERATION_BATCH: '0' }, 'FEDERATION_BATCH', 'FEDERATION_BATCH=100'],
    [{ FEDERATION_BATCH: '401' }, 'FEDERATION_BATCH', 'FEDERATION_BATCH=100'],
    [{ FEDERATION_BATCH: '2.5' }, 'FEDERATION_BATCH', 'FEDERATION_BATCH=100'],
    [{ FEDERATION_BATCH: 'many' }, 'FEDERATION_BATCH', 'FEDERATION_BATCH=100'],
    [{ FEDERATION_BATCH_BYTES: 'big' }, 'FEDERATION_BATCH_BYTES', 'FEDERATION_BATCH_BYTES=1mb'],
    [{ FEDERATION_BATCH_BYTES: '63kb' }, 'FEDERATION_BATCH_BYTES', 'FEDERATION_BATCH_BYTES=1mb'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL', 'LOG_LEVEL=info'],
    [{ TRUST_PROXY: 'maybe' }, 'TRUST_PROXY', 'TRUST_PROXY=1'],
    [{ TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY', 'TRUST_PROXY=1'],
    [{ STORAGE_KEY: 'short' }, 'STORAGE_KEY', 'STORAGE_KEY='],
    [{ REQUEST_TIMEOUT: 'soon' }, 'REQUEST_TIMEOUT', 'REQUEST_TIMEOUT=30s'],
    [{ SEND_RATE: 'fast' }, 'SEND_RATE', 'SEND_RATE=20/s'],
    [{ SEND_RATE: '0/s' }, 'SEND_RATE', 'SEND_RATE=20/s'],
    [{ METRICS_ALLOW_FROM: 'intranet' }, 'METRICS_ALLOW_FROM', 'METRICS_ALLOW_FROM=127.0.0.1'],
    [{ SERVER_NAME: 'b', ENCRYPTION_KEY: KEY, PEER_NAME: 'B', PEER_URL: 'http://b:8000' }, 'PEER_NAME', 'PEER_NAME=b'],
    [{ SERVER_NAME: 'a', PEERS: '[{"name":"a","url":"http://x","key":"' + KEY + '"}]' }, 'PEERS', 'PEER_NAME=b'],
    [{ PEERS: '[{"name":"b","url":"http://x","key":"' + KEY + '","allow_from":["1.2.3.4"]}]' }, 'PEERS', 'PEERS=['],
    [{ PEERS: '[{"name":"x","url":"http://x","key":"' + KEY + '"},{"name":"X","url":"http://y","key":"' + KEY + '"}]' }, 'PEERS', 'PEERS=['],
    [{ PEERS: '[{"name":"b","url":"http://x","key":"' + KEY + '","compat":true,"allow_from":["nope"]}]' }, 'PEERS', 'PEERS=['],
    [{ PEER_NAME: 'b' }, 'PEER_URL', 'PEER_URL=http'],
    [{ PEER_NAME: 'b', PEER_URL: 'http://b:8000' }, 'ENCRYPTION_KEY', 'ENCRYPTION_KEY='],
    [{ PEERS: 'not json' }, 'PEERS', 'PEERS=['],
    [{ PEERS: '[{"name":"b"}]', ENCRYPTION_KEY: KEY }, 'PEERS', 'PEERS=['],
    [{ PEERS: '[{"name":"b","url":"ftp://b","key":"' + KEY + '"}]' }, 'PEERS', 'PEERS=['],
    [{ VONAGE_API_KEY: 'abc' }, 'VONAGE_API_SECRET', 'VONAGE_API_SECRET='],
    // Checked even while unused (no Vonage credentials, no PEER_NAME): a bad value stops the start.
    [{ VONAGE_BRAND_NAME: 'x'.repeat(17) }, 'VONAGE_BRAND_NAME', 'VONAGE_BRAND_NAME=RealChat'],
    [{ VONAGE_API_URL: 'not a url' }, 'VONAGE_API_URL', 'VONAGE_API_URL=https://'],
    [{ PEER_COMPAT: 'maybe' }, 'PEER_COMPAT', 'PEER_COMPAT=true'],
    [{ HOST: 'not a host!' }, 'HOST', 'HOST=0.0.0.0'],
    [{ PEERS: '[{"name":"b","url":"http://x","key":"short"}]' }, 'PEERS', 'PEERS=[{"name":"b"'],
    [{ NODE_ENV: 'production' }, 'ENCRYPTION_KEY', 'ENCRYPTION_KEY='],
    [{ NODE_ENV: 'production', ENCRYPTION_KEY: KEY, DATABASE_URL: 'postgres://u@h/db' }, 'STORAGE_KEY', 'STORAGE_KEY='],
  ])('names the bad variable in %o', (env, variable, example) => {
    const error = failure(env as Record<string, string>);
    expect(error.variable).toBe(variable);
    expect(error.message.startsWith(`${variable}: `)).toBe(true);
    expect(error.message).toContain(`example: ${example}`);
    expect(error.message).not.toContain('\n');
  });

  it('names the entry of PEERS whose url is bad', () => {
    const peers = JSON.stringify([
      { name: 'b', url: 'http://b.example', key: KEY },
      { name: 'c', url: 'ftp://c.example', key: KEY },
    ]);
    expect(failure({ PEERS: peers }).message).toMatch(/^PEERS: PEERS\[1\]\.url must be an http\(s\) URL/);
    expect(failure({ PEERS: '[{"name":"b","url":"not a url","key":"' + KEY + '"}]' }).message).toMatch(/^PEERS: PEERS\[0\]\.url "not a url" is not a URL/);
  });

  it('configures one peer the original way, keyed by ENCRYPTION_KEY', () => {
    const config = loadConfig({ ENCRYPTION_KEY: KEY, PEER_NAME: 'b', PEER_URL: 'http://b.example:8000/', PEER_COMPAT: 'true', PEER_TOKEN: 'abc' }, tmpdir());
    expect(config.peers).toEqual([{ name: 'b', url: 'http://b.example:8000', key: KEY, previousKeys: [], compat: true, token: 'abc' }]);
  });

  it('accepts from a peer keyed by ENCRYPTION_KEY the keys it had before (ENCRYPTION_KEYS_PREVIOUS): they rotate together', () => {
    const old = randomBytes(32).toString('base64url') + '=';
    const single = loadConfig({ ENCRYPTION_KEY: KEY, ENCRYPTION_KEYS_PREVIOUS: old, PEER_NAME: 'b', PEER_URL: 'http://b.example:8000' }, tmpdir());
    expect(single.peers[0]?.previousKeys).toEqual([old]);
    const peers = JSON.stringify([
      { name: 'b', url: 'http://b.example' },
      { name: 'c', url: 'http://c.example', key: old },
      { name: 'd', url: 'http://d.example', previous_keys: [] },
    ]);
    const listed = loadConfig({ ENCRYPTION_KEY: KEY, ENCRYPTION_KEYS_PREVIOUS: old, PEERS: peers }, tmpdir());
    // A peer with its own key keeps its own previous keys; one that lists them keeps its list.
    expect(listed.peers.map((peer) => peer.previousKeys)).toEqual([[old], [], []]);
  });

  it('reads PEERS from a file with @', () => {
    const dir = mkdtempSync(join(tmpdir(), 'realchat-config-'));
    writeFileSync(join(dir, 'peers.json'), JSON.stringify([{ name: 'c', url: 'https://c.example', key: KEY, previous_keys: [KEY] }]));
    const config = loadConfig({ PEERS: '@peers.json' }, dir);
    expect(config.peers).toEqual([{ name: 'c', url: 'https://c.example', key: KEY, previousKeys: [KEY], compat: false }]);
  });

  it('reads ./.env under the process environment', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'realchat-config-'));
    writeFileSync(join(dir, '.env'), 'PORT=9001\nSERVER_NAME=from-file\n');
    const { readEnvironment } = await import('../../src/config.js');
    const env = readEnvironment(dir);
    expect(env.PORT).toBe(process.env.PORT ?? '9001');
    expect(loadConfig({ ...env, SERVER_NAME: 'from-env' }, dir).serverName).toBe('from-env');
  });

  it('stops at a .env line that is not NAME=value, naming the line and not its text, instead of losing the next variable', async () => {
    const { parseEnvFile } = await import('../../src/config.js');
    expect(() => parseEnvFile('PORT=9001\ngarbage line without equals\nBODY_LIMIT=huge\n')).toThrow(new ConfigError('.env', 'line 2 is not NAME=value', 'PORT=8000'));
    expect(() => parseEnvFile('PORT=9001\nsecret-without-a-name\n')).toThrow('.env: line 2 is not NAME=value');
    // Comments, blank lines, `export` and a quoted value over several lines are all fine.
    expect(parseEnvFile('# a comment\n\nexport PORT=9001\nGREETING="two\nlines"\n')).toEqual({ PORT: '9001', GREETING: 'two\nlines' });
  });
});
