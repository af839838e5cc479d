// Reads the environment (and ./.env) once into a typed, validated Config.
// This is the only module that looks at process.env; a bad value fails with the variable's name.
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { isKey } from './crypto/keys.js';
import type { DatabaseConfig } from './db/database.js';
import type { PeerConfig } from './federation/peers.js';
import { MAX_TRANSACTION_ITEMS } from './federation/transactions/protocol.js';
import { AddressList } from './http/address-list.js';
import type { RateBudget } from './limits/rate-limiter.js';

/** Fastify's `trustProxy`: no proxy, a number of proxy hops, or the proxies' addresses/CIDRs. */
export type TrustProxy = false | number | string[];

export interface VonageConfig {
  apiKey: string;
  apiSecret: string;
  brand: string;
  apiUrl?: string;
}

export interface Config {
  port: number;
  host: string;
  database: DatabaseConfig;
  redisUrl?: string;
  /** URL-safe base64 key; undefined means "generate or load encryption.key in keyDir". */
  encryptionKey?: string;
  encryptionKeysPrevious: string[];
  /** The key for messages at rest, which no peer has; undefined means "generate or load storage.key in keyDir". */
  storageKey?: string;
  serverName: string;
  peers: PeerConfig[];
  federationTimeoutMs: number;
  federationMaxAgeMs: number;
  federationGiveUpMs: number;
  /** The most items in one transaction to a peer. */
  federationBatch: number;
  /** The most bytes of serialized items in one transaction; the transactions route accepts bodies of twice that. */
  federationBatchBytes: number;
  vonage?: VonageConfig;
  tokenTtlMs: number;
  eventRetentionMs: number;
  presenceGraceMs: number;
  bodyLimit: number;
  logLevel: string;
  logFormat: 'json' | 'pretty';
  trustProxy: TrustProxy;
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** Messages one user may send; undefined when SEND_RATE=off. */
  sendRate?: RateBudget;
  /** The most members a group may have, its owner included. */
  groupMaxMembers: number;
  /** Who may read /metrics; undefined means anyone. */
  metricsAllowFrom?: AddressList;
  production: boolean;
  /** Folder of the generated key files: beside the SQLite database, else ./data. */
  keyDir: string;
}

export type Environment = Record<string, string | undefined>;

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
    example: string,
  ) {
    super(`${variable}: ${problem} (example: ${example})`);
    this.name = 'ConfigError';
  }
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024 };
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const PEER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/;

/** Environment from the process with ./.env underneath it (the process environment wins). */
export function readEnvironment(cwd = process.cwd()): Environment {
  const file = resolve(cwd, '.env');
  const fromFile = existsSync(file) ? parseEnvFile(readFileSync(file, 'utf8')) : {};
  return { ...fromFile, ...process.env };
}

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A .env file's variables. Node's parser silently takes a line without `=` as the start of the
 * next variable's name (so that variable is lost) or drops it; either way the start must stop,
 * naming the line (not its text, which may hold a secret).
 */
export function parseEnvFile(text: string): Environment {
  const parsed = parseEnv(text);
  const lines = text.split(/\r?\n/);
  const values = Object.values(parsed);
  const badKey = Object.keys(parsed).find((key) => !VARIABLE_NAME.test(key.replace(/^export\s+/, '')));
  const badLine = badKey !== undefined
    ? lines.findIndex((line) => line.trim() === badKey.split('\n')[0]!.trim())
    : lines.findIndex((line) => {
        // A line inside a quoted value spread over several lines is part of that value.
        const content = line.trim().replace(/^["'`]|["'`]$/g, '');
        return content !== '' && !content.startsWith('#') && !content.includes('=') && !values.some((value) => value?.includes(content));
      });
  if (badKey !== undefined || badLine >= 0) throw new ConfigError('.env', `line ${badLine + 1} is not NAME=value`, 'PORT=8000');
  return parsed;
}

export function parseDuration(text: string, variable: string, example: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new ConfigError(variable, `"${text}" is not a duration (units: ms, s, m, h, d)`, example);
  return Math.round(Number(match[1]) * DURATION_UNITS[match[2] ?? 's']!);
}

export function parseSize(text: string, variable: string, example: string): number {
  const match = /^(\d+)\s*(b|kb|mb)?$/i.exec(text.trim());
  if (!match) throw new ConfigError(variable, `"${text}" is not a size (units: b, kb, mb)`, example);
  return Number(match[1]) * SIZE_UNITS[(match[2] ?? 'b').toLowerCase()]!;
}

function parseBoolean(text: string, variable: string): boolean {
  const value = text.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(value)) return true;
  if (['false', '0', 'no', 'off', ''].includes(value)) return false;
  throw new ConfigError(variable, `"${text}" is not true or false`, `${variable}=true`);
}

// An address (IPv4, IPv6) or a host name to listen on: checked here, so that a typo is named rather than failing the listen later.
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function parseHost(text: string): string {
  const host = text.trim();
  if (isIP(host) === 0 && !HOST_NAME.test(host)) throw new ConfigError('HOST', `"${text}" is not an address or a host name to listen on`, 'HOST=0.0.0.0');
  return host;
}

function parsePort(text: string): number {
  // Digits only: Number() would also read "0x50" (port 80) or "1e3".
  const port = /^\s*\d{1,5}\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError('PORT', `"${text}" is not a port number between 0 and 65535`, 'PORT=8000');
  }
  return port;
}

/** A Fernet-format key: URL-safe base64 of exactly 32 bytes; `where` names it inside a variable's value, `example` shows the whole value. */
function checkKey(text: string, variable: string, where?: { name: string; example: string }): string {
  const trimmed = text.trim();
  if (!isKey(trimmed)) {
    const what = where ? `${where.name} must be` : 'must be';
    throw new ConfigError(variable, `${what} 32 bytes in URL-safe base64 (run \`realchat keygen\`)`, where?.example ?? `${variable}=${EXAMPLE_KEY}`);
  }
  // Printed in every key error: everyone has it, so it protects nothing.
  if (trimmed.replace(/=+$/, '') === EXAMPLE_KEY.replace(/=+$/, '')) {
    throw new ConfigError(variable, `${where ? `${where.name} is` : 'is'} the documented example key: generate one (run \`realchat keygen\`)`, where?.example ?? `${variable}=${EXAMPLE_KEY}`);
  }
  return trimmed;
}

/** Shown in errors as what a key looks like; refused as a key. */
export const EXAMPLE_KEY = 'dGhpcy1pcy1vbmx5LWFuLWV4YW1wbGUta2V5LTMyYj0=';

function parseDatabase(text: string): DatabaseConfig {
  if (text.startsWith('sqlite:')) {
    const path = text.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (!path) throw new ConfigError('DATABASE_URL', 'the sqlite path is empty', 'DATABASE_URL=sqlite:./data/realchat.db');
    return { kind: 'sqlite', path };
  }
  if (/^postgres(ql)?:\/\//.test(text)) {
    try {
      new URL(text);
    } catch {
      throw new ConfigError('DATABASE_URL', 'is not a valid URL', 'DATABASE_URL=postgres://user:pass@127.0.0.1:5432/realchat');
    }
    return { kind: 'postgres', url: text };
  }
  throw new ConfigError('DATABASE_URL', 'must start with sqlite: or postgres://', 'DATABASE_URL=sqlite:./data/realchat.db');
}

/** `field` names the entry of a list variable the URL is in (`PEERS[1].url`). */
function parseHttpUrl(text: string, variable: string, example: string, field?: string): string {
  const subject = field ? `${field} ` : '';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(variable, `${subject}"${text}" is not a URL`, example);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(variable, `${subject}must be an http(s) URL`, example);
  return text.replace(/\/+$/, '');
}

function parseRedisUrl(text: string): string {
  const example = 'REDIS_URL=redis://127.0.0.1:6379/0';
  if (!/^rediss?:\/\/./.test(text)) throw new ConfigError('REDIS_URL', 'must start with redis:// or rediss://', example);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError('REDIS_URL', 'is not a valid URL', example);
  }
  // The client would send SELECT NaN for `/abc`, and fail the start with a stack trace.
  if (!/^\/?\d*$/.test(url.pathname)) throw new ConfigError('REDIS_URL', `the database after the host must be a number, not "${url.pathname.slice(1)}"`, example);
  return text;
}

const PEERS_EXAMPLE = `PEERS=[{"name":"b","url":"http://b.example:8000","key":"${EXAMPLE_KEY}"}]`;

/**
 * ENCRYPTION_KEY and ENCRYPTION_KEYS_PREVIOUS, the key of a peer that names none of its own: that
 * peer's key rotates with ENCRYPTION_KEY, so its earlier keys are accepted from it too.
 */
interface DefaultPeerKey {
  key: string | undefined;
  previous: string[];
}

function parsePeerList(text: string, defaultKey: DefaultPeerKey, cwd: string): PeerConfig[] {
  let json = text.trim();
  if (json.startsWith('@')) {
    const file = resolve(cwd, json.slice(1));
    try {
      json = readFileSync(file, 'utf8');
    } catch {
      throw new ConfigError('PEERS', `cannot read the file ${file}`, 'PEERS=@peers.json');
    }
  }
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new ConfigError('PEERS', 'is not valid JSON', PEERS_EXAMPLE);
  }
  if (!Array.isArray(raw)) throw new ConfigError('PEERS', 'must be a JSON array of peers', PEERS_EXAMPLE);
  const peers = raw.map((entry, index) => parsePeerEntry(entry, index, defaultKey));
  const names = new Set<string>();
  // Peers are found by name ignoring case (X-RealChat-Origin, addresses): `x` and `X` would be one.
  for (const peer of peers) {
    const name = peer.name.toLowerCase();
    if (names.has(name)) throw new ConfigError('PEERS', `the peer name "${peer.name}" appears twice (names ignore case)`, PEERS_EXAMPLE);
    names.add(name);
  }
  return peers;
}

function parsePeerEntry(entry: unknown, index: number, defaultKey: DefaultPeerKey): PeerConfig {
  const where = `PEERS[${index}]`;
  if (typeof entry !== 'object' || entry === null) throw new ConfigError('PEERS', `${where} is not an object`, PEERS_EXAMPLE);
  const peer = entry as Record<string, unknown>;
  if (typeof peer.name !== 'string' || !PEER_NAME_PATTERN.test(peer.name)) {
    throw new ConfigError('PEERS', `${where}.name must be letters, digits, dots and dashes`, PEERS_EXAMPLE);
  }
  if (typeof peer.url !== 'string') throw new ConfigError('PEERS', `${where}.url is missing`, PEERS_EXAMPLE);
  const key = peer.key === undefined ? defaultKey.key : peer.key;
  if (typeof key !== 'string') throw new ConfigError('PEERS', `${where}.key is missing and ENCRYPTION_KEY is not set`, PEERS_EXAMPLE);
  const previous = peer.previous_keys ?? (peer.key === undefined ? defaultKey.previous : []);
  if (!Array.isArray(previous) || previous.some((k) => typeof k !== 'string')) {
    throw new ConfigError('PEERS', `${where}.previous_keys must be a list of keys`, PEERS_EXAMPLE);
  }
  if (peer.compat !== undefined && typeof peer.compat !== 'boolean') throw new ConfigError('PEERS', `${where}.compat must be true or false`, PEERS_EXAMPLE);
  if (peer.token !== undefined && typeof peer.token !== 'string') throw new ConfigError('PEERS', `${where}.token must be a string`, PEERS_EXAMPLE);
  const allowFrom = parsePeerAllowFrom(peer.allow_from, where, peer.compat === true);
  return {
    name: peer.name,
    url: parseHttpUrl(peer.url, 'PEERS', PEERS_EXAMPLE, `${where}.url`),
    key: checkKey(key, 'PEERS', { name: `${where}.key`, example: PEERS_EXAMPLE }),
    previousKeys: (previous as string[]).map((k, n) => checkKey(k, 'PEERS', { name: `${where}.previous_keys[${n}]`, example: PEERS_EXAMPLE })),
    compat: peer.compat === true,
    ...(typeof peer.token === 'string' ? { token: peer.token } : {}),
    ...(allowFrom ? { allowFrom } : {}),
  };
}

function parsePeerAllowFrom(value: unknown, where: string, compat: boolean): AddressList | undefined {
  if (value === undefined) return undefined;
  const example = `PEERS=[{"name":"orig","url":"http://10.0.0.5:8000","compat":true,"allow_from":["10.0.0.5","10.1.0.0/16"]}]`;
  if (!compat) throw new ConfigError('PEERS', `${where}.allow_from is for compat peers (RealChat peers sign their requests)`, example);
  if (!Array.isArray(value) || value.length === 0 || value.some((entry) => typeof entry !== 'string')) {
    throw new ConfigError('PEERS', `${where}.allow_from must be a non-empty list of addresses or CIDR ranges`, example);
  }
  return addressList(value as string[], 'PEERS', example);
}

function addressList(entries: string[], variable: string, example: string): AddressList {
  try {
    return new AddressList(entries.map((entry) => entry.trim()));
  } catch (error) {
    throw new ConfigError(variable, (error as Error).message, example);
  }
}

function parseTrustProxy(text: string | undefined): TrustProxy {
  const value = (text ?? 'false').trim();
  const example = 'TRUST_PROXY=1 (one reverse proxy) or TRUST_PROXY=10.0.0.0/8,127.0.0.1';
  if (/^\d+$/.test(value)) return Number(value) === 0 ? false : Number(value);
  if (['true', 'yes', 'on'].includes(value.toLowerCase())) return 1;
  if (['false', 'no', 'off', ''].includes(value.toLowerCase())) return false;
  const entries = value.split(',').map((entry) => entry.trim());
  addressList(entries, 'TRUST_PROXY', example);
  return entries;
}

const RATE_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };

function parseSendRate(text: string | undefined): RateBudget | undefined {
  const value = (text ?? '20/s').trim().toLowerCase();
  if (value === 'off') return undefined;
  const match = /^(\d+)\s*\/\s*(s|m|h)$/.exec(value);
  const count = match ? Number(match[1]) : 0;
  if (!match || count <= 0) throw new ConfigError('SEND_RATE', `"${text}" is not a rate like 20/s (units: s, m, h) or off`, 'SEND_RATE=20/s');
  return { count, perMs: RATE_UNITS[match[2]!]!, burst: count * 5 };
}

// A group's fan-out is one statement and one bus message, but its member list is one Group event
// each change: past this the events alone would pass a socket's buffer.
const GROUP_MAX_MEMBERS_LIMIT = 10_000;

function parseGroupMaxMembers(text: string | undefined): number {
  const value = (text ?? '1000').trim();
  const count = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(count >= 2 && count <= GROUP_MAX_MEMBERS_LIMIT)) {
    throw new ConfigError('GROUP_MAX_MEMBERS', `"${text}" is not a whole number from 2 to ${GROUP_MAX_MEMBERS_LIMIT}`, 'GROUP_MAX_MEMBERS=1000');
  }
  return count;
}

function parseBatch(text: string): number {
  const count = /^\d+$/.test(text.trim()) ? Number(text) : 0;
  if (count < 1 || count > MAX_TRANSACTION_ITEMS) {
    throw new ConfigError('FEDERATION_BATCH', `"${text}" is not a whole number from 1 to ${MAX_TRANSACTION_ITEMS}`, 'FEDERATION_BATCH=100');
  }
  return count;
}

// The largest item (10,000 characters of text, JSON-escaped) fits in a transaction of its own, and
// its sealed body in twice this size, what a receiver with the same setting accepts.
const MIN_BATCH_BYTES = 64 * 1024;

function parseBatchBytes(text: string): number {
  const bytes = parseSize(text, 'FEDERATION_BATCH_BYTES', 'FEDERATION_BATCH_BYTES=1mb');
  if (bytes < MIN_BATCH_BYTES) throw new ConfigError('FEDERATION_BATCH_BYTES', 'must be at least 64kb', 'FEDERATION_BATCH_BYTES=1mb');
  return bytes;
}

function keyDirFor(database: DatabaseConfig, cwd: string): string {
  if (database.kind === 'sqlite' && database.path !== ':memory:') return dirname(resolve(cwd, database.path));
  return resolve(cwd, 'data');
}

function parsePeers(env: Environment, encryptionKey: DefaultPeerKey, cwd: string): PeerConfig[] {
  // Checked even when unused: a bad value stops the start.
  const compat = parseBoolean(env.PEER_COMPAT ?? 'false', 'PEER_COMPAT');
  if (env.PEERS?.trim()) {
    if (env.PEER_NAME || env.PEER_URL) throw new ConfigError('PEERS', 'set either PEERS or PEER_NAME/PEER_URL, not both', PEERS_EXAMPLE);
    return parsePeerList(env.PEERS, encryptionKey, cwd);
  }
  if (!env.PEER_NAME && !env.PEER_URL) return [];
  if (!env.PEER_NAME || !PEER_NAME_PATTERN.test(env.PEER_NAME)) {
    throw new ConfigError('PEER_NAME', 'must be set with PEER_URL, as letters, digits, dots and dashes', 'PEER_NAME=b');
  }
  if (!env.PEER_URL) throw new ConfigError('PEER_URL', 'must be set with PEER_NAME', 'PEER_URL=http://b.example:8000');
  if (!encryptionKey.key) throw new ConfigError('ENCRYPTION_KEY', 'must be set when PEER_NAME is (the peer shares this key)', `ENCRYPTION_KEY=${EXAMPLE_KEY}`);
  return [
    {
      name: env.PEER_NAME,
      url: parseHttpUrl(env.PEER_URL, 'PEER_URL', 'PEER_URL=http://b.example:8000'),
      key: encryptionKey.key,
      previousKeys: encryptionKey.previous,
      compat,
      ...(env.PEER_TOKEN ? { token: env.PEER_TOKEN } : {}),
    },
  ];
}

function parseVonage(env: Environment): VonageConfig | undefined {
  const { VONAGE_API_KEY: apiKey, VONAGE_API_SECRET: apiSecret } = env;
  // Checked even without credentials: a bad value stops the start.
  const brand = env.VONAGE_BRAND_NAME?.trim() || 'RealChat';
  if (brand.length > 16) throw new ConfigError('VONAGE_BRAND_NAME', 'must be at most 16 characters (Vonage limit)', 'VONAGE_BRAND_NAME=RealChat');
  const apiUrl = env.VONAGE_API_URL ? parseHttpUrl(env.VONAGE_API_URL, 'VONAGE_API_URL', 'VONAGE_API_URL=https://api.nexmo.com') : undefined;
  if (!apiKey && !apiSecret) return undefined;
  if (!apiKey) throw new ConfigError('VONAGE_API_KEY', 'must be set with VONAGE_API_SECRET', 'VONAGE_API_KEY=a1b2c3d4');
  if (!apiSecret) throw new ConfigError('VONAGE_API_SECRET', 'must be set with VONAGE_API_KEY', 'VONAGE_API_SECRET=s3cr3tValue');
  return { apiKey, apiSecret, brand, ...(apiUrl ? { apiUrl } : {}) };
}

function optional(env: Environment, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value;
}

/** Parses and validates every variable; throws ConfigError naming the first bad one. */
export function loadConfig(env: Environment, cwd = process.cwd()): Config {
  const production = env.NODE_ENV === 'production';
  const encryptionKey = optional(env, 'ENCRYPTION_KEY') && checkKey(env.ENCRYPTION_KEY!, 'ENCRYPTION_KEY');
  if (production && !encryptionKey) {
    throw new ConfigError('ENCRYPTION_KEY', 'is required when NODE_ENV=production (a generated key file is for development)', `ENCRYPTION_KEY=${EXAMPLE_KEY}`);
  }
  const previous = optional(env, 'ENCRYPTION_KEYS_PREVIOUS');
  const encryptionKeysPrevious = previous ? previous.split(',').map((k) => checkKey(k, 'ENCRYPTION_KEYS_PREVIOUS')) : [];
  const serverName = optional(env, 'SERVER_NAME') ?? 'localhost';
  if (!PEER_NAME_PATTERN.test(serverName)) throw new ConfigError('SERVER_NAME', 'must be letters, digits, dots and dashes', 'SERVER_NAME=chat.example.org');
  const logLevel = (optional(env, 'LOG_LEVEL') ?? 'info').toLowerCase();
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`, 'LOG_LEVEL=info');
  const logFormat = (optional(env, 'LOG_FORMAT') ?? 'json').toLowerCase();
  if (logFormat !== 'json' && logFormat !== 'pretty') throw new ConfigError('LOG_FORMAT', 'must be json or pretty', 'LOG_FORMAT=pretty');
  const bodyLimit = parseSize(optional(env, 'BODY_LIMIT') ?? '64kb', 'BODY_LIMIT', 'BODY_LIMIT=64kb');
  if (bodyLimit < 1024) throw new ConfigError('BODY_LIMIT', 'must be at least 1kb', 'BODY_LIMIT=64kb');
  const vonage = parseVonage(env);
  const database = parseDatabase(optional(env, 'DATABASE_URL') ?? 'sqlite:./data/realchat.db');
  const storageKey = optional(env, 'STORAGE_KEY') && checkKey(env.STORAGE_KEY!, 'STORAGE_KEY');
  // Instances sharing one PostgreSQL database would each generate a key of their own in their working directory.
  if (production && !storageKey && database.kind === 'postgres') {
    throw new ConfigError('STORAGE_KEY', 'is required when NODE_ENV=production with PostgreSQL (every instance must seal with the same key)', `STORAGE_KEY=${EXAMPLE_KEY}`);
  }
  const peers = parsePeers(env, { key: encryptionKey || undefined, previous: encryptionKeysPrevious }, cwd);
  const namesake = peers.find((peer) => peer.name.toLowerCase() === serverName.toLowerCase());
  if (namesake) throw new ConfigError(env.PEERS?.trim() ? 'PEERS' : 'PEER_NAME', `the peer "${namesake.name}" has this backend's own SERVER_NAME`, 'PEER_NAME=b with SERVER_NAME=a');
  const metricsAllowFrom = optional(env, 'METRICS_ALLOW_FROM');

  return {
    port: parsePort(optional(env, 'PORT') ?? '8000'),
    host: parseHost(optional(env, 'HOST') ?? '0.0.0.0'),
    database,
    ...(optional(env, 'REDIS_URL') ? { redisUrl: parseRedisUrl(env.REDIS_URL!) } : {}),
    ...(encryptionKey ? { encryptionKey } : {}),
    encryptionKeysPrevious,
    ...(storageKey ? { storageKey } : {}),
    serverName,
    peers,
    federationTimeoutMs: positiveDuration(env, 'FEDERATION_TIMEOUT', '5s'),
    federationMaxAgeMs: positiveDuration(env, 'FEDERATION_MAX_AGE', '300s'),
    federationGiveUpMs: positiveDuration(env, 'FEDERATION_GIVE_UP', '24h'),
    federationBatch: parseBatch(optional(env, 'FEDERATION_BATCH') ?? '100'),
    federationBatchBytes: parseBatchBytes(optional(env, 'FEDERATION_BATCH_BYTES') ?? '1mb'),
    ...(vonage ? { vonage } : {}),
    tokenTtlMs: positiveDuration(env, 'TOKEN_TTL', '30d'),
    eventRetentionMs: positiveDuration(env, 'EVENT_RETENTION', '30d'),
    presenceGraceMs: positiveDuration(env, 'PRESENCE_GRACE', '15s'),
    bodyLimit,
    logLevel,
    logFormat,
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    requestTimeoutMs: positiveDuration(env, 'REQUEST_TIMEOUT', '30s'),
    headersTimeoutMs: positiveDuration(env, 'HEADERS_TIMEOUT', '10s'),
    keepAliveTimeoutMs: positiveDuration(env, 'KEEP_ALIVE_TIMEOUT', '5s'),
    ...optionalEntry('sendRate', parseSendRate(optional(env, 'SEND_RATE'))),
    groupMaxMembers: parseGroupMaxMembers(optional(env, 'GROUP_MAX_MEMBERS')),
    ...optionalEntry('metricsAllowFrom', metricsAllowFrom && addressList(metricsAllowFrom.split(','), 'METRICS_ALLOW_FROM', 'METRICS_ALLOW_FROM=127.0.0.1,10.0.0.0/8')),
    production,
    keyDir: keyDirFor(database, cwd),
  };
}

function optionalEntry<K extends string, V>(key: K, value: V | undefined | ''): Partial<Record<K, V>> {
  return value ? ({ [key]: value } as Record<K, V>) : {};
}

function positiveDuration(env: Environment, name: string, fallback: string): number {
  const ms = parseDuration(optional(env, name) ?? fallback, name, `${name}=${fallback}`);
  if (ms <= 0) throw new ConfigError(name, 'must be greater than zero', `${name}=${fallback}`);
  return ms;
}
