// Clients branch on an error's `code` (docs/api.md), so every code the server can answer with is
// documented: in docs/api.md's table, or in docs/federation.md for the codes only peers see.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
const DOCUMENTED = ['docs/api.md', 'docs/federation.md'].map((file) => readFileSync(join(ROOT, file), 'utf8')).join('\n');

/** The codes src/ gives its typed errors (`new Forbidden('forbidden', …)`, `super(408, 'request_timeout', …)`) and Fastify's mapped ones (`code: 'bad_request'`). */
function codesInSource(): Set<string> {
  const codes = new Set<string>();
  const files = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.ts'));
  for (const file of files) {
    const text = readFileSync(join(ROOT, 'src', file), 'utf8');
    for (const [, code] of text.matchAll(/new [A-Z][A-Za-z]*\('([a-z_]+)'/g)) codes.add(code!);
    for (const [, code] of text.matchAll(/(?:super|new HttpError)\(\d{3}, '([a-z_]+)'/g)) codes.add(code!);
    for (const [, code] of text.matchAll(/\bcode: '([a-z_]+)'/g)) codes.add(code!);
  }
  return codes;
}

describe('error codes', () => {
  it('are each documented for clients or peers', () => {
    const codes = codesInSource();
    expect(codes.size).toBeGreaterThan(20);
    expect([...codes].filter((code) => !DOCUMENTED.includes(`\`${code}\``))).toEqual([]);
  });
});
