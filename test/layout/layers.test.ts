/**
 * The tree shows the architecture: the core's layers (shm < xfrm < config, esp) and the
 * packages (native < core < workers < cli) import only downwards, and nothing imports in a
 * cycle. In the core, esp/ reaches the native addon for its crypto backend and shm/ to give
 * freed heap pages back (madvise); workers use its packet I/O.
 * The table below is the one in docs/ARCHITECTURE.md and the layers' READMEs.
 */
import { describe, expect, it } from 'vitest';
import { importCycles, layerOf, layerViolations, readImportGraph, repoRoot, type ImportGraph } from './import-graph.js';

/** Layer -> the layers it may import (besides itself). `core` is the core's index.ts, which re-exports every layer. */
const ALLOWED: Record<string, readonly string[]> = {
  native: [],
  'core/shm': ['native'], // the heap gives freed pages back through the addon where it is loaded
  'core/xfrm': ['core/shm'],
  'core/config': ['core/shm', 'core/xfrm'],
  'core/esp': ['core/shm', 'core/xfrm', 'native'],
  core: ['core/shm', 'core/xfrm', 'core/config', 'core/esp'],
  workers: ['core', 'native'],
  cli: ['core', 'workers'],
};

describe('layout', () => {
  const graph = readImportGraph(repoRoot());

  it('reads the whole tree (every layer has files, every file is in a known layer)', () => {
    const layers = new Set([...graph.keys()].map(layerOf));
    expect([...layers].sort()).toEqual(Object.keys(ALLOWED).sort());
    expect(graph.size).toBeGreaterThan(50);
  });

  it('has no import cycle', () => {
    expect(importCycles(graph)).toEqual([]);
  });

  it('imports only downwards', () => {
    expect(layerViolations(graph, ALLOWED)).toEqual([]);
  });

  it('the checks catch a cycle and an upward import (negative control)', () => {
    const bad: ImportGraph = new Map([
      ['packages/core/src/shm/a.ts', ['packages/core/src/xfrm/b.ts']],
      ['packages/core/src/xfrm/b.ts', ['packages/core/src/shm/a.ts']],
      ['packages/core/src/esp/c.ts', ['packages/core/src/esp/c.ts']],
    ]);
    expect(importCycles(bad)).toHaveLength(2);
    expect(layerViolations(bad, ALLOWED)).toEqual([
      'packages/core/src/shm/a.ts -> packages/core/src/xfrm/b.ts (core/shm may not import core/xfrm)',
    ]);
  });
});
