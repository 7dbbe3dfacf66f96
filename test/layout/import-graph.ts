/**
 * The import graph of the packages' sources, read from their text (no build needed): every
 * relative import and every `@xfrm/<package>` import of every `.ts` file under
 * `packages/<p>/src`. Used by the layering test; small enough that a dependency (madge,
 * dependency-cruiser) would carry more than it checks.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';

/** Files by repository-relative path ('packages/core/src/shm/epoch.ts'), each with what it imports. */
export type ImportGraph = Map<string, string[]>;

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s*'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Read the graph of every package under `root/packages`. Imports of other workspace packages resolve to their `src/index.ts`. */
export function readImportGraph(root: string): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const pkg of readdirSync(join(root, 'packages'))) {
    for (const file of sources(join(root, 'packages', pkg, 'src'))) {
      const from = relative(root, file).split('\\').join('/');
      const targets: string[] = [];
      for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
        const spec = m[1] ?? m[2];
        if (spec.startsWith('.')) targets.push(posix.normalize(posix.join(posix.dirname(from), spec)).replace(/\.js$/, '.ts'));
        else if (spec.startsWith('@xfrm/')) targets.push(`packages/${spec.slice('@xfrm/'.length)}/src/index.ts`);
      }
      graph.set(from, targets);
    }
  }
  return graph;
}

/** Every import cycle, each as the files on it (strongly connected components of two or more, or a self-import). */
export function importCycles(graph: ImportGraph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

/**
 * The layer a file belongs to: `core/shm`, `core/xfrm`, ... for a file in a layer folder,
 * the package name (`core`, `workers`, `cli`) for the files at a package's top.
 */
export function layerOf(file: string): string {
  const [, pkg, , ...rest] = file.split('/');
  return rest.length > 1 ? `${pkg}/${rest[0]}` : pkg;
}

/** Imports that cross layers against `allowed` (layer -> the layers it may import besides itself), as "from -> to" lines. */
export function layerViolations(graph: ImportGraph, allowed: Record<string, readonly string[]>): string[] {
  const bad: string[] = [];
  for (const [from, targets] of graph) {
    const a = layerOf(from);
    for (const to of targets) {
      const b = layerOf(to);
      if (a !== b && !(allowed[a] ?? []).includes(b)) bad.push(`${from} -> ${to} (${a} may not import ${b})`);
    }
  }
  return bad;
}

export const repoRoot = (): string => dirname(dirname(dirname(new URL(import.meta.url).pathname)));
