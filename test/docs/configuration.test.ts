// docs/configuration.md against src/config.ts: every variable the code reads is documented with
// a default, nothing documented is unread, and each written default is what the code does unset.
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig, type Environment } from '../../src/config.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCUMENT = readFileSync(`${ROOT}docs/configuration.md`, 'utf8');
const SOURCE = readFileSync(`${ROOT}src/config.ts`, 'utf8');
const KEY = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';

// Environments that take each branch of loadConfig that reads variables of its own.
const BRANCHES: Environment[] = [
  {},
  { VONAGE_API_KEY: 'k', VONAGE_API_SECRET: 's' },
  { PEER_NAME: 'b', PEER_URL: 'http://b.example:8000', ENCRYPTION_KEY: KEY },
  { PEERS: `[{"name":"b","url":"http://b.example:8000","key":"${KEY}"}]`, ENCRYPTION_KEY: KEY },
];

/** The variables loadConfig reads: those it looks up on each branch, and those its source names on env. */
function variablesRead(): Set<string> {
  const read = new Set<string>();
  for (const branch of BRANCHES) {
    const recording = new Proxy(branch, {
      get(target, name) {
        if (typeof name === 'string') read.add(name);
        return Reflect.get(target, name);
      },
    });
    loadConfig(recording, tmpdir());
  }
  for (const [, name] of SOURCE.matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b/g)) read.add(name!);
  for (const [, name] of SOURCE.matchAll(/\(env, '([A-Z][A-Z0-9_]*)'/g)) read.add(name!);
  return read;
}

interface DocumentedVariable {
  name: string;
  default: string;
  example: string;
}

/** Rows of the page's variable tables (`| variable | default | unit | example | meaning |`). */
function documentedVariables(): DocumentedVariable[] {
  const rows: DocumentedVariable[] = [];
  for (const table of DOCUMENT.split('\n| variable | default | unit | example | meaning |\n|---|---|---|---|---|\n').slice(1)) {
    for (const line of table.split('\n')) {
      if (!line.startsWith('|')) break;
      const [name, defaultValue, , example] = line.split(' | ').map((cell) => cell.replace(/^\| /, '').trim());
      rows.push({ name: /^`([A-Z][A-Z0-9_]*)`$/.exec(name!)?.[1] ?? name!, default: defaultValue!, example: example! });
    }
  }
  return rows;
}

describe('docs/configuration.md', () => {
  it('documents every variable src/config.ts reads, and only those', () => {
    const documented = documentedVariables().map((row) => row.name);
    expect(new Set(documented).size).toBe(documented.length);
    expect([...documented].sort()).toEqual([...variablesRead()].sort());
  });

  it('gives each variable a default and an example that sets it', () => {
    for (const row of documentedVariables()) {
      expect(row.default, row.name).not.toBe('');
      expect(row.example, row.name).toMatch(new RegExp(`^\`${row.name}=.+\`$`));
    }
  });

  it('writes defaults that are what the code does when the variable is unset', () => {
    const literal = documentedVariables().filter((row) => /^`[^`]+`$/.test(row.default));
    expect(literal.length).toBeGreaterThan(15);
    for (const branch of BRANCHES) {
      const unset = loadConfig(branch, tmpdir());
      for (const row of literal) {
        if (row.name in branch) continue;
        expect(loadConfig({ ...branch, [row.name]: row.default.slice(1, -1) }, tmpdir()), `${row.name}=${row.default}`).toEqual(unset);
      }
    }
  });
});
