// buildApp(config, deps): the one place that wires RealChat's parts together.
import { randomUUID } from 'node:crypto';
import formbody from '@fastify/formbody';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { AccountsRepository } from './accounts/repository.js';
import { accountsRoutes } from './accounts/routes.js';
import { AccountsService, type AbuseLimits } from './accounts/service.js';
import type { Config, TrustProxy } from './config.js';
import { AddressResolver } from './conversations/addresses.js';
import { DirectConversations } from './conversations/direct.js';
import { GroupQueries } from './conversations/group-queries.js';
import { MembershipDirectory } from './conversations/directory.js';
import { ConversationsRepository } from './conversations/repository.js';
import { sealAtRest, type KeyRing } from './crypto/aead.js';
import { decodeKey } from './crypto/keys.js';
import type { Database } from './db/database.js';
import { requireAuth } from './http/auth.js';
import { TokenCache } from './http/token-cache.js';
import { FederationClient } from './federation/client.js';
import { keepAliveHttp } from './federation/http.js';
import { InboundFederation } from './federation/inbound.js';
import { GroupRequestsOutbox } from './federation/outbox/group-requests.js';
import { OutboxRepository } from './federation/outbox/repository.js';
import { OutboxWorker, type OutboxTuning } from './federation/outbox/worker.js';
import { PeerDirectory, type Peer } from './federation/peers.js';
import { receiptPruning, RequestReceiptsRepository } from './federation/request-receipts.js';
import { federationRoutes } from './federation/routes.js';
import { InboundTransactions } from './federation/transactions/inbound.js';
import { FederatedTyping } from './federation/transactions/typing.js';
import { FeedPublisher } from './feed/publisher.js';
import { GroupHome } from './groups/home.js';
import { FeedRepository } from './feed/repository.js';
import { feedRoutes } from './feed/routes.js';
import { FeedService } from './feed/service.js';
import { groupsRoutes } from './groups/routes.js';
import { GroupAnnouncements } from './groups/announce.js';
import { GroupCopies } from './groups/copies.js';
import { CopyRequests } from './groups/copy-requests.js';
import { GroupsService } from './groups/service.js';
import { refuseControlCharacters } from './http/control-characters.js';
import { refuseBooleansForStrings } from './http/string-fields.js';
import { refuseLooseQueryIntegers } from './http/query-integers.js';
import { answerClientError, answerFrameworkError, answerMalformedRequests, registerErrorHandling, shedWhileClosing } from './http/error-handler.js';
import { installJsonBodyParser } from './http/json-body.js';
import { AppMetrics } from './http/metrics.js';
import { documentSecurityHeaders, installApiSecurityHeaders } from './http/security-headers.js';
import { operationsRoutes, type ReadinessCheck } from './http/operations.js';
import { MemoryRateLimitStore, RedisRateLimitStore } from './limits/rate-limiter.js';
import { MessageEdits } from './messages/edits.js';
import { MessageEvents } from './messages/events.js';
import type { Outbox } from './messages/ports.js';
import { MessageQueries } from './messages/queries.js';
import { ReadMarkers } from './messages/read-markers.js';
import { MessagesRepository } from './messages/repository.js';
import { messageChangeRoutes, messagesRoutes } from './messages/routes.js';
import { MessagesService } from './messages/service.js';
import { MessageViews } from './messages/view.js';
import { MessageWriter } from './messages/write.js';
import { InProcessEventBus, type EventBus } from './realtime/bus.js';
import { RealtimeGateway } from './realtime/gateway/plugin.js';
import type { GatewayLimits } from './realtime/gateway/protocol.js';
import { PresenceService } from './realtime/presence.js';
import { MemoryPresenceStore, RedisPresenceStore } from './realtime/presence-store.js';
import { RedisEventBus } from './realtime/redis-bus.js';
import { presenceRoutes } from './realtime/routes.js';
import { TypingRelay } from './realtime/typing.js';
import { LogVerifier } from './sms/log.js';
import type { SmsVerifier } from './sms/provider.js';
import { PhoneVerificationRepository } from './sms/repository.js';
import { phoneVerificationRoutes } from './sms/routes.js';
import { PhoneVerificationService } from './sms/service.js';
import { VonageVerifier } from './sms/vonage.js';
import { webClientRoutes } from './web/static.js';

export interface AppDependencies {
  database: Database;
  logger: Logger;
  /** The resolved ENCRYPTION_KEY (configured or generated): peers' sealed requests. */
  encryptionKey: string;
  /** The keys of messages at rest (see atRestKeyRing). */
  atRest: KeyRing;
  redis?: Redis;
  clock?: () => number;
  abuseLimits?: AbuseLimits;
  /** Phone verification codes; by default Vonage when configured, else the log. */
  smsVerifier?: SmsVerifier;
  /** Closes what the caller opened for the app (database, Redis), once everything else has stopped. */
  release?: () => Promise<void>;
  /** Real-time events; over Redis when `redis` is given, else in process, unless the caller passes one. */
  bus?: EventBus;
  /** WebSocket limits (auth deadline, heartbeat, buffers, per-user cap); tests shorten them. */
  realtimeLimits?: Partial<GatewayLimits>;
  /** Federation delivery settings and the HTTP function that reaches peers. */
  outbox?: OutboxTuning;
  /** How often the change feed is pruned; by default a tenth of EVENT_RETENTION, between 1 s and 1 h. */
  feedPruneIntervalMs?: number;
  /** How often peers' old receipts are pruned; by default a tenth of their window, between 1 s and 1 h. */
  receiptPruneIntervalMs?: number;
  /** How often expired tokens are deleted; hourly by default. */
  tokenPruneIntervalMs?: number;
}

export async function buildApp(config: Config, deps: AppDependencies): Promise<FastifyInstance> {
  const clock = deps.clock ?? Date.now;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: config.bodyLimit,
    trustProxy: proxyTrust(config.trustProxy),
    routerOptions: { ignoreTrailingSlash: true },
    // Slow clients (slowloris) must not hold connections: the whole request within REQUEST_TIMEOUT,
    // its headers within HEADERS_TIMEOUT (Node wants them no longer than the request), no
    // connection silent for longer than a request may take, idle keep-alive closed after
    // KEEP_ALIVE_TIMEOUT. Node checks the first two every connectionsCheckingInterval (30 s by
    // default, longer than the timeouts themselves). Upgraded WebSockets leave all of these behind.
    requestTimeout: config.requestTimeoutMs,
    // A little longer than a request may take: a body that stalls is answered 408 by Node's check
    // before the silent connection is cut without an answer.
    connectionTimeout: config.requestTimeoutMs + 2 * timeoutCheckInterval(config),
    keepAliveTimeout: config.keepAliveTimeoutMs,
    http: {
      headersTimeout: Math.min(config.headersTimeoutMs, config.requestTimeoutMs),
      connectionsCheckingInterval: timeoutCheckInterval(config),
      // Node's own answer to a missing Host is an empty 400: answerMalformedRequests gives the API's.
      requireHostHeader: false,
    },
    clientErrorHandler: answerClientError,
    frameworkErrors: answerFrameworkError,
    // The id is echoed and logged: a client's own id is kept only when short and plain.
    requestIdHeader: false,
    // While closing, shedding requests is ours to do, in the API's error shape (shedWhileClosing).
    return503OnClosing: false,
    genReqId: (request) => clientRequestId(request.headers['x-request-id']) ?? randomUUID(),
    // coerceTypes true, not 'array': a list is never taken for a string (DRF's CharField refuses
    // ["alice"]), while numbers still become strings as DRF's do.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: true } },
  });
  // Fastify runs onClose hooks last-registered first: this one, registered first, runs after
  // every feature has stopped (outbox batch finished, writes committed).
  const { release } = deps;
  if (release) app.addHook('onClose', () => release());
  registerErrorHandling(app);
  answerMalformedRequests(app);
  shedWhileClosing(app);
  // The API speaks JSON (and forms, for the original's clients); plain text is a 415.
  app.removeContentTypeParser('text/plain');
  installJsonBodyParser(app);
  refuseControlCharacters(app);
  refuseBooleansForStrings(app);
  refuseLooseQueryIntegers(app);
  // Set as the request starts, on the raw response: no onSend stage for every answer.
  app.addHook('onRequest', (request, reply, done) => {
    reply.raw.setHeader('x-request-id', request.id);
    done();
  });

  // The API's set on every response; the documents (/docs, the web client's page) get helmet's over it.
  installApiSecurityHeaders(app);
  await app.register(formbody, { bodyLimit: config.bodyLimit });
  await app.register(swagger, {
    openapi: {
      info: { title: 'RealChat API', version: '1.0.0', description: 'Accounts, messages, federation and real time. See the README.' },
      components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization', description: '`Token <key>` or `Bearer <key>`' } } },
    },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiHooks: { onRequest: documentSecurityHeaders() },
    staticCSP: true,
    // Served over plain HTTP on a LAN, "upgrade" would fetch the page's scripts over https and leave it blank.
    transformStaticCSP: (header) => header.replace(/\s*upgrade-insecure-requests;?/, ''),
  });

  // Counts are keyed by user ids, which every backend numbers from 1: deployments sharing one Redis count apart.
  const limits = deps.redis
    ? new RedisRateLimitStore(deps.redis, new MemoryRateLimitStore(clock), deps.logger, `realchat:${config.serverName}:ratelimit:`)
    : new MemoryRateLimitStore(clock);
  // The channel is per backend: deployments sharing one Redis must not see each other's users.
  const channel = `realchat:${config.serverName}:events`;
  const bus = deps.bus ?? (deps.redis ? new RedisEventBus({ publisher: deps.redis, logger: deps.logger, channel }) : new InProcessEventBus());
  if (!deps.bus) app.addHook('onClose', () => bus.close());
  const accounts = new AccountsService({
    repository: new AccountsRepository(deps.database.db),
    limits,
    tokenTtlMs: config.tokenTtlMs,
    // Every instance's sockets of the user close, not only this one's.
    onTokensRevoked: (userId, revocation) => void bus.publishRevocation(userId, revocation),
    logger: deps.logger,
    clock,
    ...(deps.abuseLimits ? { abuseLimits: deps.abuseLimits } : {}),
    ...(deps.tokenPruneIntervalMs ? { tokenPruneIntervalMs: deps.tokenPruneIntervalMs } : {}),
  });
  const authenticate = requireAuth(accounts);
  const phoneVerification = new PhoneVerificationService({
    repository: new PhoneVerificationRepository(deps.database.db),
    accounts,
    sms: deps.smsVerifier ?? defaultSmsVerifier(config, deps.logger, clock),
    limits,
    logger: deps.logger,
    clock,
  });
  // Stores, each the one owner of its tables.
  const { db, kind } = deps.database;
  const ring = deps.atRest;
  const peers = new PeerDirectory(config.peers);
  const conversations = new ConversationsRepository(db, kind);
  const messageRecords = new MessagesRepository(db, kind);
  const feedLog = new FeedRepository(db, kind);
  const requestReceipts = new RequestReceiptsRepository(db, kind);
  const outboxRepository = new OutboxRepository(db, kind, feedLog);
  const resolver = new AddressResolver(accounts, peers, config.serverName);
  const groupQueries = new GroupQueries(db);
  const membership = new MembershipDirectory(conversations, groupQueries, resolver);
  const views = new MessageViews(ring);
  // What follows a committed message change subscribes here: the feed publisher first, so that
  // events go out in commit order, then the outbox's first try and the metrics.
  const events = new MessageEvents(deps.logger);
  new FeedPublisher(bus, deps.logger).follow(events);
  const { http, ...outboxTuning } = deps.outbox ?? {};
  const peerHttp = keepAliveHttp();
  const outbox = new OutboxWorker({
    repository: outboxRepository,
    client: new FederationClient({ serverName: config.serverName, timeoutMs: config.federationTimeoutMs, clock, http: http ?? peerHttp.post }),
    peers,
    ring,
    logger: deps.logger,
    timeoutMs: config.federationTimeoutMs,
    giveUpMs: config.federationGiveUpMs,
    batch: { items: config.federationBatch, bytes: config.federationBatchBytes },
    onFinished: (messageId, status, recorded) => void events.emit('message.delivery', { messageId, status, recorded }),
    onTransaction: (peer, items, ms, outcome) => metrics.transactions.sent(peer, items, ms, outcome),
    clock,
    ...outboxTuning,
  });
  // Messages and groups queue their entries in their own transaction; the lease lets this process try them at once.
  const outboxQueue: Outbox = { enqueue: (requests, now, trx) => outboxRepository.enqueue(requests, now, outbox.lease(now), trx) };
  const groupSite = { serverName: config.serverName, newId: () => randomUUID() };
  // Changes of groups homed elsewhere go to their home through the outbox (asked only once the app serves).
  const groupRequests = new GroupRequestsOutbox(outboxQueue, outbox, config.federationTimeoutMs, groupSite.newId);
  const groupAnnouncements = new GroupAnnouncements(groupQueries, conversations, events, config.serverName);
  const groupStores = { db, kind, conversations, groups: groupQueries, messages: messageRecords, feed: feedLog, outbox: outboxQueue };
  const copyRequests = new CopyRequests(groupStores, groupRequests, config.federationTimeoutMs, clock);
  const groups = new GroupsService(
    groupStores,
    resolver,
    groupAnnouncements,
    copyRequests,
    { serverName: config.serverName, maxMembers: config.groupMaxMembers, newId: groupSite.newId },
    clock,
  );

  const feed = new FeedService(
    db,
    feedLog,
    messageRecords,
    views,
    groups,
    { retentionMs: config.eventRetentionMs, ...(deps.feedPruneIntervalMs ? { pruneIntervalMs: deps.feedPruneIntervalMs } : {}) },
    deps.logger,
    clock,
  );
  const presence = new PresenceService({
    store: deps.redis ? new RedisPresenceStore(deps.redis, `realchat:${config.serverName}`, randomUUID()) : new MemoryPresenceStore(),
    directory: {
      partnersOf: (userId) => membership.partnersOf(userId),
      partnersAmong: (userId, names) => membership.partnersAmong(userId, names),
      usernameOf: async (userId) => (await accounts.getUser(userId))?.username,
    },
    bus,
    graceMs: config.presenceGraceMs,
    logger: deps.logger,
    clock,
  });
  const direct = new DirectConversations(conversations);
  // Typing to a peer's user travels in the outbox's next transaction to that peer (never stored).
  const federatedTyping = new FederatedTyping({
    resolver,
    direct,
    limits,
    bus,
    sender: { sendTyping: (peer, item) => outbox.sendTyping(peer, item) },
    logger: deps.logger,
    groups: groupQueries,
    conversations,
    serverName: config.serverName,
  });
  const typing = new TypingRelay({
    directory: membership,
    limits,
    bus,
    logger: deps.logger,
    remote: (from, to) => federatedTyping.forward(from, to),
    remoteGroup: (from, group) => federatedTyping.forwardToGroup(from, group),
  });
  const gateway = new RealtimeGateway({
    accounts,
    bus,
    logger: deps.logger,
    feed,
    activity: { opened: (user) => presence.opened(user), closed: (user) => presence.closed(user), typing: (user, target) => typing.relay(user, target) },
    clock,
    ...(deps.realtimeLimits ? { limits: deps.realtimeLimits } : {}),
  });
  events.on('message.stored', ({ outbound, queuedForPeers }) => {
    if (outbound) return outbound.claimed ? outbox.firstTry(outbound.message, outbound.receiverKey) : outbox.firstTryBehind(outbound.message, outbound.receiverKey);
    // A group's message at its home, for the other backends with members.
    if (queuedForPeers) outbox.wake();
    return undefined;
  });
  events.on('message.changed', ({ queued }) => {
    if (queued) outbox.wake();
  });
  events.on('message.read', ({ peer, queued }) => {
    if (peer) outbox.wake(peer);
    else if (queued) outbox.wake();
  });
  events.on('group.changed', ({ queued }) => {
    if (queued) outbox.wake();
  });
  const metrics = new AppMetrics({ openWebSockets: () => gateway.openConnections, outboxBacklog: () => outbox.backlog() });
  metrics.install(app, config.metricsAllowFrom);
  events.on('message.delivery', ({ status }) => {
    if (status === 'delivered') metrics.messages.federated();
  });

  const stores = { db, kind, messages: messageRecords, conversations, receipts: requestReceipts, outbox: outboxQueue, feed: feedLog };
  const writer = new MessageWriter({ ...stores, direct }, (text, id) => sealAtRest(ring, text, String(id)), clock, groupSite);
  const sendBudget = config.sendRate ? { rate: config.sendRate, limits } : undefined;
  const messages = new MessagesService(writer, resolver, groupQueries, views, events, metrics.messages, clock, sendBudget);
  const queries = new MessageQueries(messageRecords, conversations, direct, groupQueries, resolver, views);
  const readMarkers = new ReadMarkers(db, kind, messageRecords, conversations, groupQueries, feedLog, views, events, clock, { outbox: outboxQueue, receipts: requestReceipts, peers, site: groupSite });
  const edits = new MessageEdits(stores, ring, peers, groupQueries, views, events, clock, groupSite);
  const receiptPruner = receiptPruning({
    repository: requestReceipts,
    windowMs: config.federationGiveUpMs + config.federationMaxAgeMs,
    logger: deps.logger,
    clock,
    ...(deps.receiptPruneIntervalMs ? { intervalMs: deps.receiptPruneIntervalMs } : {}),
  });
  const sealedKeys = [deps.encryptionKey, ...config.encryptionKeysPrevious].map(decodeKey);
  const inboundOptions = { peers, serverName: config.serverName, maxAgeMs: config.federationMaxAgeMs, clock, heardFrom: (peer: Peer) => outbox.heardFrom(peer.name) };
  const groupHome = new GroupHome(groupQueries, groups, messages, messageRecords, edits, readMarkers, requestReceipts, clock);
  const copies = new GroupCopies(
    { ...groupStores, deliveries: outboxRepository },
    { writer, edits, reads: readMarkers, views },
    resolver,
    groupAnnouncements,
    copyRequests,
    groupRequests,
    events,
    clock,
  );
  const inboundTransactions = new InboundTransactions(messages, edits, readMarkers, federatedTyping, groupHome, copies, requestReceipts, { maxAgeMs: config.federationMaxAgeMs, clock, logger: deps.logger });
  outbox.start();
  feed.startPruning();
  receiptPruner.start();
  accounts.startTokenPruning();
  presence.start();
  app.addHook('onClose', async () => {
    await Promise.all([feed.stopPruning(), receiptPruner.stop(), accounts.stopTokenPruning(), presence.stop()]);
  });
  // Stop delivering first (finishing what is in hand), then let accepted writes commit.
  app.addHook('onClose', async () => {
    await outbox.stop();
    peerHttp.close();
    await messages.drain();
  });
  app.decorateRequest('auth', null);

  const readiness: ReadinessCheck[] = [{ name: 'database', check: () => deps.database.ping() }];
  if (deps.redis) readiness.push({ name: 'redis', check: () => bus.check() });

  await app.register(operationsRoutes(readiness));
  await app.register(accountsRoutes(accounts, authenticate));
  await app.register(phoneVerificationRoutes(phoneVerification, authenticate));
  // Messages read only the user's id and name, so their token check may be a second old (revocations are not).
  const tokenCache = new TokenCache({ accounts, bus, clock });
  app.addHook('onClose', async () => tokenCache.close());
  await app.register(messagesRoutes(messages, queries, readMarkers, requireAuth(tokenCache), { keys: sealedKeys, maxAgeMs: config.federationMaxAgeMs, clock }));
  await app.register(messageChangeRoutes(edits, authenticate));
  await app.register(groupsRoutes(groups, authenticate));
  await app.register(feedRoutes(feed, authenticate));
  await app.register(presenceRoutes(presence, authenticate));
  await app.register(
    federationRoutes(new InboundFederation(messages, edits, inboundOptions), inboundTransactions, { ...inboundOptions, bodyLimit: 2 * config.federationBatchBytes, clientBodyLimit: config.bodyLimit }),
  );
  await app.register(gateway.plugin());
  // Last: the web client's page fallback answers only what no API route claimed.
  await app.register(webClientRoutes());
  return app;
}

/**
 * Fastify's option for TRUST_PROXY. A hop count becomes the function Fastify itself makes of
 * one (its types leave numbers out): the client address is then the entry that many hops from
 * the right of X-Forwarded-For, never the leftmost one, which the client writes.
 */
function proxyTrust(trust: TrustProxy): boolean | string[] | ((address: string, hop: number) => boolean) {
  return typeof trust === 'number' ? (_address, hop) => hop < trust : trust;
}

/** Often enough that a timeout is enforced within a quarter of itself, at most every second. */
function timeoutCheckInterval(config: Config): number {
  return Math.max(10, Math.min(1000, Math.floor(Math.min(config.headersTimeoutMs, config.requestTimeoutMs) / 4)));
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

function clientRequestId(header: string | string[] | undefined): string | undefined {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : undefined;
}

// Vonage answers in a second or two; past this the user is told to try again rather than kept waiting.
const SMS_TIMEOUT_MS = 5_000;

function defaultSmsVerifier(config: Config, logger: Logger, clock: () => number): SmsVerifier {
  if (config.vonage) return new VonageVerifier({ ...config.vonage, timeoutMs: SMS_TIMEOUT_MS, logger });
  logger.warn('VONAGE_API_KEY and VONAGE_API_SECRET are not set: phone verification codes are written to this log, not sent by SMS');
  return new LogVerifier({ logger, clock });
}
