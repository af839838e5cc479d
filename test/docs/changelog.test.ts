// CHANGELOG.md in Keep a Changelog form, its newest release the package's version, and that
// version what `realchat --version` prints.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHANGELOG = readFileSync(`${ROOT}CHANGELOG.md`, 'utf8');
const PACKAGE_VERSION = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string }).version;
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

/** `## [x.y.z] - YYYY-MM-DD` headings, newest first as the file lists them. */
function releases(): { version: string; date: string }[] {
  return [...CHANGELOG.matchAll(/^## \[([^\]]+)\] - (\d{4}-\d{2}-\d{2})$/gm)].map(([, version, date]) => ({ version: version!, date: date! }));
}

function compare(a: string, b: string): number {
  const [x, y] = [a, b].map((version) => version.split('.').map(Number)) as [number[], number[]];
  return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!;
}

describe('CHANGELOG.md', () => {
  it('lists semver releases, newest first, with their dates', () => {
    const list = releases();
    expect(list.length).toBeGreaterThan(1);
    for (const release of list) expect(release.version).toMatch(SEMVER);
    for (let i = 1; i < list.length; i += 1) {
      expect(compare(list[i - 1]!.version, list[i]!.version), `${list[i - 1]!.version} before ${list[i]!.version}`).toBeGreaterThan(0);
      expect(list[i - 1]!.date >= list[i]!.date).toBe(true);
    }
  });

  it("names the package's version as its newest release, with what an operator does to upgrade", () => {
    expect(releases()[0]!.version).toBe(PACKAGE_VERSION);
    const newest = CHANGELOG.slice(CHANGELOG.indexOf(`## [${PACKAGE_VERSION}]`)).split(/^## \[/m)[1]!;
    expect(newest).toMatch(/^### Upgrading$/m);
  });

  it('is the version realchat --version prints', async () => {
    const result = await runCli(['--version'], { cwd: mkdtempSync(join(tmpdir(), 'realchat-version-')) });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${PACKAGE_VERSION}\n`);
  });
});
