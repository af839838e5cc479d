// The gateway's reading of client frames, called directly: what each frame asks for, before
// and after authentication, and the close code and reason of each malformed one.
import { describe, expect, it } from 'vitest';
import { CloseCode, readFrame } from '../../src/realtime/gateway/protocol.js';

function read(frame: unknown, authenticated: boolean) {
  return readFrame(Buffer.from(typeof frame === 'string' ? frame : JSON.stringify(frame)), false, authenticated);
}

describe('readFrame', () => {
  it('refuses what is not a JSON object with a string "type", and binary frames', () => {
    const bad = { kind: 'close', code: CloseCode.badFrame, reason: 'frames are JSON objects with a "type"' };
    for (const frame of ['not json', '[]', 'null', '42', '{}', '{"type":3}']) {
      expect(read(frame, true), frame).toEqual(bad);
      expect(read(frame, false), frame).toEqual(bad);
    }
    expect(readFrame(Buffer.from('{"type":"ping"}'), true, true)).toEqual(bad);
  });

  it('reads text split in fragments and in an ArrayBuffer', () => {
    expect(readFrame([Buffer.from('{"type":'), Buffer.from('"ping"}')], false, true)).toEqual({ kind: 'ping' });
    expect(readFrame(new TextEncoder().encode('{"type":"ping"}').buffer, false, true)).toEqual({ kind: 'ping' });
  });

  describe('before authentication', () => {
    it('asks for authentication with the token and the optional `after`', () => {
      expect(read({ type: 'auth', token: 'abc' }, false)).toEqual({ kind: 'authenticate', token: 'abc', after: undefined });
      expect(read({ type: 'auth', token: 'abc', after: 0 }, false)).toEqual({ kind: 'authenticate', token: 'abc', after: 0 });
      expect(read({ type: 'auth', token: 'abc', after: 2 ** 53 - 1 }, false)).toEqual({ kind: 'authenticate', token: 'abc', after: 2 ** 53 - 1 });
    });

    it('closes with 4401 on any other frame, even a malformed typing frame', () => {
      for (const frame of [{ type: 'ping' }, { type: 'typing' }, { type: 'whatever' }]) {
        expect(read(frame, false)).toEqual({ kind: 'close', code: CloseCode.unauthenticated, reason: 'authenticate first' });
      }
    });

    it('refuses an auth frame without a token, or with an `after` that is not a seq', () => {
      for (const token of [undefined, '', 5]) {
        expect(read({ type: 'auth', token }, false)).toEqual({ kind: 'close', code: CloseCode.badFrame, reason: 'the auth frame needs a "token"' });
      }
      for (const after of [-1, 1.5, '3', null, 2 ** 53]) {
        expect(read({ type: 'auth', token: 'abc', after }, false)).toMatchObject({ kind: 'close', code: CloseCode.badFrame });
      }
    });
  });

  describe('once authenticated', () => {
    it('answers pings, passes typing on, and ignores a repeated auth frame without `after`, however it is formed', () => {
      expect(read({ type: 'ping' }, true)).toEqual({ kind: 'ping' });
      expect(read({ type: 'typing', to: 'bob@b' }, true)).toEqual({ kind: 'typing', to: 'bob@b' });
      expect(read({ type: 'auth' }, true)).toEqual({ kind: 'none' });
      expect(read({ type: 'auth', token: 'abc' }, true)).toEqual({ kind: 'none' });
    });

    it('closes the socket on an auth frame with `after` once the stream has started (a header-authenticated socket cannot resume so)', () => {
      expect(read({ type: 'auth', token: 'abc', after: 12 }, true)).toMatchObject({ kind: 'close', code: CloseCode.badFrame, reason: expect.stringMatching(/^already authenticated/) });
    });

    it('refuses a typing frame without a sensible "to"', () => {
      expect(read({ type: 'typing', to: 'x'.repeat(420) }, true)).toEqual({ kind: 'typing', to: 'x'.repeat(420) });
      for (const to of [undefined, '', 'x'.repeat(421), 7]) {
        expect(read({ type: 'typing', to }, true)).toEqual({ kind: 'close', code: CloseCode.badFrame, reason: 'the typing frame needs a "to"' });
      }
    });

    it('names an unknown frame type in the reason, cut to 32 characters', () => {
      expect(read({ type: 'y'.repeat(40) }, true)).toEqual({ kind: 'close', code: CloseCode.badFrame, reason: `unknown frame type "${'y'.repeat(32)}"` });
    });
  });
});
