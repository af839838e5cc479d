// The process's pino logger. Secrets are removed by configuration, not by care at each call.
// Message text is never logged (no log call is given a body), so `message` is not among the
// paths: it would also blank every logged error's own message, which operators need.
import { pino, type Logger } from 'pino';

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-realchat-signature"]',
  'headers.authorization',
  '*.password',
  '*.current_password',
  '*.token',
  '*.key',
  '*.secret',
  '*.apiSecret',
  '*.api_secret',
  '*.encryptionKey',
  'password',
  'token',
];

export function createLogger(options: { level: string; format: 'json' | 'pretty' }, destination?: NodeJS.WritableStream): Logger {
  const base = {
    level: options.level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  if (destination) return pino(base, destination as pino.DestinationStream);
  if (options.format === 'pretty') {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
  }
  return pino(base);
}
