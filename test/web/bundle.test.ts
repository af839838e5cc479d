// The client stays small: everything index.html loads, gzip-compressed, is under 80 KB.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { expect, it } from 'vitest';
import { WEB_CLIENT_DIR } from '../../src/web/static.js';
import { assertWebClientBuilt } from './browser.js';

const BUDGET = 80 * 1024;

it('keeps the compressed bundle under 80 KB', () => {
  assertWebClientBuilt();
  const html = readFileSync(join(WEB_CLIENT_DIR, 'index.html'));
  const assets = [...html.toString('utf8').matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((match) => match[1]!);
  expect(assets.some((path) => path.endsWith('.js'))).toBe(true);
  const sizes = [html, ...assets.map((path) => readFileSync(join(WEB_CLIENT_DIR, path)))].map((content) => gzipSync(content, { level: 9 }).length);
  const total = sizes.reduce((sum, size) => sum + size, 0);
  console.log(`web client, gzip: ${(total / 1024).toFixed(1)} KB (index.html + ${assets.join(', ')})`);
  expect(total).toBeLessThan(BUDGET);
});
