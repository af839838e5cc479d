// Dependencies point one way: no import cycle between the folders of src/ (type imports
// included, since a type import couples two features as much as a value import), nor between files.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** Folder edges that may close a cycle, each with the reason it must; none is needed today. */
const ALLOWED_FOLDER_EDGES: ReadonlySet<string> = new Set<string>();

/** Every import, export … from, side-effect import and dynamic import() specifier in a module's text. */
export function importSpecifiers(source: string): string[] {
  const text = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const patterns = [/\b(?:import|export)\s[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];
  return patterns.flatMap((pattern) => [...text.matchAll(pattern)].map((match) => match[1]!));
}

/** The folder a file of src/ belongs to: its first path segment, or "(root)" for files directly in src/. */
export function folderOf(file: string): string {
  const parts = file.split('/');
  return parts.length === 1 ? '(root)' : parts[0]!;
}

/** The strongly connected components of more than one node (Tarjan), each sorted, in a stable order. */
export function cyclesOf(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || graph.get(node)?.has(node)) components.push(component.sort());
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return components.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** file → files it imports, both relative to src/, for the relative imports only. */
function fileGraph(): Map<string, Set<string>> {
  const files = sourceFiles(SRC).map((path) => relative(SRC, path).split('\\').join('/'));
  const known = new Set(files);
  const graph = new Map<string, Set<string>>();
  for (const file of files) {
    const targets = new Set<string>();
    for (const specifier of importSpecifiers(readFileSync(join(SRC, file), 'utf8'))) {
      if (!specifier.startsWith('.')) continue;
      const target = relative(SRC, resolve(SRC, dirname(file), specifier)).split('\\').join('/').replace(/\.js$/, '.ts');
      const resolved = [target, `${target}.ts`, `${target}/index.ts`].find((candidate) => known.has(candidate));
      if (!resolved) throw new Error(`${file} imports ${specifier}, which is no file of src/`);
      targets.add(resolved);
    }
    graph.set(file, targets);
  }
  return graph;
}

/** The folder graph, with for each folder edge the file imports that make it. */
function folderGraph(files: ReadonlyMap<string, ReadonlySet<string>>) {
  const graph = new Map<string, Set<string>>();
  const because = new Map<string, string[]>();
  for (const [file, targets] of files) {
    const from = folderOf(file);
    if (!graph.has(from)) graph.set(from, new Set());
    for (const target of targets) {
      const to = folderOf(target);
      if (to === from || ALLOWED_FOLDER_EDGES.has(`${from} -> ${to}`)) continue;
      graph.get(from)!.add(to);
      because.set(`${from} -> ${to}`, [...(because.get(`${from} -> ${to}`) ?? []), `${file} imports ${target}`]);
    }
  }
  return { graph, because };
}

describe('the import graph of src/', () => {
  const files = fileGraph();

  it('has no cycle between folders', () => {
    const { graph, because } = folderGraph(files);
    const report = cyclesOf(graph).map((component) => {
      const members = new Set(component);
      const edges = component.flatMap((from) =>
        [...graph.get(from)!].filter((to) => members.has(to)).sort().map((to) => `  ${from} -> ${to}:\n${because.get(`${from} -> ${to}`)!.map((line) => `      ${line}`).join('\n')}`),
      );
      return `cycle between ${component.join(', ')}:\n${edges.join('\n')}`;
    });
    expect(report.join('\n\n'), 'folders that import each other, directly or around a loop').toBe('');
  });

  it('has no cycle between files', () => {
    const report = cyclesOf(files).map((component) => `cycle between ${component.join(', ')}`);
    expect(report.join('\n'), 'files that import each other, directly or around a loop').toBe('');
  });
});

describe('the import check itself', () => {
  it('reads every form of import, type imports and multi-line ones included', () => {
    const source = [
      "import type { A } from './a.js';",
      "import {\n  B,\n  type C,\n} from '../b/c.js';",
      "export { D } from './d.js';",
      "export * from './e.js';",
      "import './side-effect.js';",
      "const f = await import('./f.js');",
      "// import { G } from './commented.js';",
      "/* import { H } from './block.js'; */",
      "const text = 'not an import from here';",
    ].join('\n');
    expect(importSpecifiers(source)).toEqual(['./a.js', '../b/c.js', './d.js', './e.js', './side-effect.js', './f.js']);
  });

  it('puts a file directly in src/ in the root folder and others in their first segment', () => {
    expect(folderOf('app.ts')).toBe('(root)');
    expect(folderOf('db/migrations/0001_accounts.ts')).toBe('db');
  });

  it('finds a loop of three, a pair and a self-import, and nothing in a chain', () => {
    const graph = new Map<string, Set<string>>([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a', 'd'])],
      ['d', new Set(['e'])],
      ['e', new Set(['d'])],
      ['f', new Set(['f'])],
      ['g', new Set(['a'])],
    ]);
    expect(cyclesOf(graph)).toEqual([['a', 'b', 'c'], ['d', 'e'], ['f']]);
    expect(cyclesOf(new Map([['x', new Set(['y'])], ['y', new Set<string>()]]))).toEqual([]);
  });
});
