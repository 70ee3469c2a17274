/**
 * Reads a V8 heap snapshot (.heapsnapshot, written after a full GC, so it holds only what is reachable) and
 * sums it by constructor: node count and self bytes for each JS constructor (`Buffer`, `Map`, `Object`), and for
 * the other node types by type (`(string)`, `(code)`, `(closure)`, `(array)`). For the constructors named in
 * `retainersOf`, it also counts who holds them: the holder's constructor and the edge name (`Map.table`).
 */
import { readFileSync } from 'node:fs';

export interface HeapSummary {
  /** Sum of every node's self size: the heap a full GC keeps. */
  readonly totalBytes: number;
  /**
   * Backing stores of 16 MiB or more: WebAssembly memories (PGlite's database engine in the all-in-one), sized
   * by what the engine has touched, not by the JS objects alive. Counted in totalBytes.
   */
  readonly largeBufferBytes: number;
  readonly nodes: number;
  /** Constructor (or `(type)`) → count and self bytes. */
  readonly byConstructor: Map<string, { count: number; bytes: number }>;
  /** For each constructor asked for: `Holder.edge` → how many of its nodes are held that way. */
  readonly retainers: Map<string, Map<string, number>>;
}

interface RawSnapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export function summarizeHeapSnapshot(path: string, retainersOf: readonly string[] = []): HeapSummary {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as RawSnapshot;
  const { meta } = raw.snapshot;
  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const nType = meta.node_fields.indexOf('type');
  const nName = meta.node_fields.indexOf('name');
  const nSize = meta.node_fields.indexOf('self_size');
  const nEdges = meta.node_fields.indexOf('edge_count');
  const eType = meta.edge_fields.indexOf('type');
  const eName = meta.edge_fields.indexOf('name_or_index');
  const eTo = meta.edge_fields.indexOf('to_node');
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const { nodes, edges, strings } = raw;

  const keyOf = (i: number): string => {
    const type = nodeTypes[nodes[i + nType]!]!;
    return type === 'object' || type === 'native' ? strings[nodes[i + nName]!]! : `(${type})`;
  };
  const byConstructor = new Map<string, { count: number; bytes: number }>();
  let totalBytes = 0;
  let largeBufferBytes = 0;
  for (let i = 0; i < nodes.length; i += nf) {
    const key = keyOf(i);
    const size = nodes[i + nSize]!;
    totalBytes += size;
    if (key === 'system / JSArrayBufferData' && size >= 16 * 2 ** 20) largeBufferBytes += size;
    const entry = byConstructor.get(key);
    if (entry) {
      entry.count++;
      entry.bytes += size;
    } else byConstructor.set(key, { count: 1, bytes: size });
  }

  const wanted = new Set(retainersOf);
  const retainers = new Map<string, Map<string, number>>();
  if (wanted.size > 0) {
    let edge = 0;
    for (let i = 0; i < nodes.length; i += nf) {
      const holder = keyOf(i);
      const count = nodes[i + nEdges]!;
      for (let k = 0; k < count; k++, edge += ef) {
        const type = edgeTypes[edges[edge + eType]!]!;
        if (type === 'weak' || type === 'shortcut') continue;
        const target = keyOf(edges[edge + eTo]!);
        if (!wanted.has(target)) continue;
        const name =
          type === 'element' || type === 'hidden' ? `[${type}]` : String(strings[edges[edge + eName]!]);
        const by = retainers.get(target) ?? new Map<string, number>();
        const label = `${holder}.${name}`;
        by.set(label, (by.get(label) ?? 0) + 1);
        retainers.set(target, by);
      }
    }
  }
  return { totalBytes, largeBufferBytes, nodes: nodes.length / nf, byConstructor, retainers };
}

/** Constructors whose self bytes grew most from `before` to `after`, largest growth first. */
export function heapGrowth(
  before: HeapSummary,
  after: HeapSummary,
  top = 25,
): { name: string; countBefore: number; countAfter: number; bytesBefore: number; bytesAfter: number }[] {
  const names = new Set([...before.byConstructor.keys(), ...after.byConstructor.keys()]);
  return [...names]
    .map((name) => {
      const b = before.byConstructor.get(name) ?? { count: 0, bytes: 0 };
      const a = after.byConstructor.get(name) ?? { count: 0, bytes: 0 };
      return { name, countBefore: b.count, countAfter: a.count, bytesBefore: b.bytes, bytesAfter: a.bytes };
    })
    .sort((x, y) => y.bytesAfter - y.bytesBefore - (x.bytesAfter - x.bytesBefore))
    .slice(0, top);
}
