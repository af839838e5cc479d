// The message events: handlers run at once, in the order they subscribed (so feed events go out
// in commit order), their answers come back, and a failing handler fails neither the others nor
// the emitter.
import { describe, expect, it } from 'vitest';
import { MessageEvents } from '../../src/messages/events.js';
import { captureLog } from '../helpers/log.js';

const read = { marker: { with: 'bob', up_to: 3, read_at: '2026-01-01T00:00:00.000Z' }, recorded: [] };

describe('MessageEvents', () => {
  it('runs every handler synchronously at emit, in subscription order', () => {
    const events = new MessageEvents(captureLog().logger);
    const seen: string[] = [];
    events.on('message.read', () => void seen.push('first'));
    events.on('message.read', () => void seen.push('second'));
    void events.emit('message.read', read);
    seen.push('after emit');
    expect(seen).toEqual(['first', 'second', 'after emit']);
  });

  it('resolves with the handlers\' answers, a slow one included', async () => {
    const events = new MessageEvents(captureLog().logger);
    const message = { id: 1, sender: 'alice', receiver: 'bob@b', group: null, message: 'hi', timestamp: '', status: 'queued' as const, read_at: null, edited_at: null, deleted: false };
    events.on('message.stored', () => undefined);
    events.on('message.stored', async () => new Promise((resolve) => setTimeout(() => resolve('delivered' as const), 5)));
    expect(await events.emit('message.stored', { message, recorded: [], queuedForPeers: false })).toEqual([undefined, 'delivered']);
  });

  it('logs a failing handler, answers undefined for it, and still runs the others', async () => {
    const { logger, entries } = captureLog();
    const events = new MessageEvents(logger);
    let ran = false;
    events.on('message.read', () => {
      throw new Error('boom');
    });
    events.on('message.read', () => {
      ran = true;
    });
    expect(await events.emit('message.read', read)).toEqual([undefined, undefined]);
    expect(ran).toBe(true);
    expect(entries().some((entry) => entry.msg === 'a message event handler failed' && entry.event === 'message.read')).toBe(true);
  });

  it('answers an event nobody follows with no answers', async () => {
    expect(await new MessageEvents(captureLog().logger).emit('message.delivery', { messageId: 1, status: 'delivered', recorded: undefined })).toEqual([]);
  });
});
