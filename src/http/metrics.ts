// Prometheus metrics at GET /metrics. Each app has its own registry, so several apps in one
// process (tests, benchmarks) keep separate counts. Only counts and timings: nothing secret.
import type { FastifyInstance } from 'fastify';
import type { AddressList } from './address-list.js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The outbox as the metrics see it: how many entries wait, and for how long the oldest has. */
export interface OutboxBacklog {
  depth: number;
  /** Milliseconds the oldest waiting entry has waited; 0 when none waits. */
  oldestAgeMs: number;
}

export interface MetricsSources {
  /** Authenticated WebSocket connections open on this instance. */
  openWebSockets(): number;
  outboxBacklog?(): Promise<OutboxBacklog>;
}

/** Counters the message and federation features bump as things happen. */
export interface MessageCounters {
  /** A message was sent by a local user (stored, and queued for a peer if remote). */
  sent(): void;
  /** A message arrived from a peer and was stored. */
  received(): void;
  /** An outbox entry was delivered to a peer. */
  federated(): void;
}

/** What the outbox reports of each transaction it sends to a peer. */
export interface TransactionMetrics {
  /** A transaction of `items` items went to `peer` and was answered (`outcome`) after `ms`. */
  sent(peer: string, items: number, ms: number, outcome: string): void;
}

export class AppMetrics {
  readonly registry = new Registry();
  readonly messages: MessageCounters;
  readonly transactions: TransactionMetrics;
  private readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by route pattern',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    const sent = new Counter({ name: 'realchat_messages_sent_total', help: 'Messages sent by local users', registers });
    const received = new Counter({ name: 'realchat_messages_received_total', help: 'Messages received from peers', registers });
    const federated = new Counter({ name: 'realchat_messages_federated_total', help: 'Outbox entries delivered to peers', registers });
    this.messages = { sent: () => sent.inc(), received: () => received.inc(), federated: () => federated.inc() };
    const transactions = new Counter({
      name: 'realchat_federation_transactions_total',
      help: 'Transactions sent to peers, by peer and outcome (results, retry, refused, unsupported)',
      labelNames: ['peer', 'outcome'],
      registers,
    });
    const items = new Histogram({
      name: 'realchat_federation_transaction_items',
      help: 'Items per transaction sent to a peer',
      labelNames: ['peer'],
      buckets: [1, 2, 5, 10, 25, 50, 100, 200, 400],
      registers,
    });
    const latency = new Histogram({
      name: 'realchat_federation_transaction_seconds',
      help: 'Time from sending a transaction to its answer, by peer',
      labelNames: ['peer'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.transactions = {
      sent: (peer, count, ms, outcome) => {
        transactions.inc({ peer, outcome });
        items.observe({ peer }, count);
        latency.observe({ peer }, ms / 1000);
      },
    };
    new Gauge({
      name: 'realchat_websocket_connections',
      help: 'Authenticated WebSocket connections open on this instance',
      registers,
      collect() {
        this.set(sources.openWebSockets());
      },
    });
    const { outboxBacklog } = sources;
    if (outboxBacklog) {
      // One read of the outbox per scrape, shared by both gauges.
      let pending: Promise<OutboxBacklog> | undefined;
      const backlog = () => (pending ??= outboxBacklog().finally(() => setImmediate(() => (pending = undefined))));
      new Gauge({
        name: 'realchat_outbox_depth',
        help: 'Federation outbox entries waiting for delivery',
        registers,
        async collect() {
          this.set((await backlog()).depth);
        },
      });
      new Gauge({
        name: 'realchat_outbox_oldest_age_seconds',
        help: 'Age of the oldest waiting outbox entry',
        registers,
        async collect() {
          this.set((await backlog()).oldestAgeMs / 1000);
        },
      });
    }
  }

  /**
   * Times every request by its route pattern (not the raw URL, which would explode the label set), and serves /metrics,
   * to the addresses of `allowFrom` only when it is given; others get the 404 of a route that does not exist.
   */
  install(app: FastifyInstance, allowFrom?: AddressList): void {
    app.addHook('onResponse', (request, reply, done) => {
      this.httpDuration.observe(
        { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
      done();
    });
    app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics' } }, async (request, reply) => {
      if (allowFrom && !allowFrom.includes(request.ip)) return reply.callNotFound();
      reply.type(this.registry.contentType);
      return this.registry.metrics();
    });
  }
}
