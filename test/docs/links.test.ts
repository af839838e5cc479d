// The project's documents point only inside the repository: every relative link of README.md,
// CHANGELOG.md, docs/ and bench/README.md resolves to a file here (and its #anchor to a heading
// of it), and nothing names a path outside the repository.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));

function markdownFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.md'))
    .map((name) => join('docs', name));
  return ['README.md', 'CHANGELOG.md', 'bench/README.md', ...docs];
}

/** The text without fenced code blocks and inline code, where brackets are not links. */
function prose(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

/** Inline links and images `[text](target)`, and reference definitions `[name]: target`. */
function linkTargets(text: string): string[] {
  const body = prose(text);
  const inline = [...body.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1]!);
  const references = [...body.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map((match) => match[1]!);
  return [...inline, ...references];
}

/** GitHub's anchors for a document's headings: lower case, punctuation dropped, spaces as dashes, repeats numbered. */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const [, heading] of text.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = heading!
      .replace(/`/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

function isInside(path: string): boolean {
  const fromRoot = relative(ROOT, path);
  return fromRoot !== '..' && !fromRoot.startsWith(`..${sep}`) && !fromRoot.startsWith(sep);
}

/** What is wrong with one link of `file`, or undefined. */
function problemOf(file: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined;
  const [path, anchor] = target.split('#') as [string, string | undefined];
  const resolved = path === '' ? join(ROOT, file) : resolve(ROOT, dirname(file), decodeURIComponent(path));
  if (!isInside(resolved)) return `${target} points outside the repository`;
  if (!existsSync(resolved)) return `${target} does not exist`;
  if (anchor !== undefined && statSync(resolved).isFile() && resolved.endsWith('.md')) {
    if (!anchorsOf(readFileSync(resolved, 'utf8')).has(anchor)) return `${target} names no heading of ${relative(ROOT, resolved)}`;
  }
  return undefined;
}

describe('the documents', () => {
  it('link only to files of the repository, and anchors that exist', () => {
    const problems: string[] = [];
    let links = 0;
    for (const file of markdownFiles()) {
      for (const target of linkTargets(readFileSync(join(ROOT, file), 'utf8'))) {
        links += 1;
        const problem = problemOf(file, target);
        if (problem) problems.push(`${file}: ${problem}`);
      }
    }
    expect(problems).toEqual([]);
    expect(links).toBeGreaterThan(20);
  });

  it('name no path outside the repository, in links or in text', () => {
    const problems: string[] = [];
    for (const file of markdownFiles()) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      if (/shared\/spec|shared\/vectors/.test(text)) problems.push(`${file} names the shared spec folder, which is not in the repository`);
      for (const [path] of text.matchAll(/(?<![\w./])(?:\.\.\/)+[\w./-]+/g)) {
        if (!isInside(resolve(ROOT, dirname(file), path))) problems.push(`${file}: ${path} is outside the repository`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('point the README at docs/', () => {
    const targets = linkTargets(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    for (const document of ['docs/federation.md', 'docs/api.md', 'docs/configuration.md', 'CHANGELOG.md']) {
      expect(targets.some((target) => target.split('#')[0] === document), document).toBe(true);
    }
  });
});
