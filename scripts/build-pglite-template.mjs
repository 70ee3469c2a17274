#!/usr/bin/env node
// Builds dist/pglite-template.tar.gz: an empty PGlite (PostgreSQL-in-WASM) cluster, as initdb leaves it.
// Creating a cluster takes ~3.5 s; loading this template into a new data directory takes ~1 s, so the
// embedded store's first start stays fast. It holds no schema: migrations still run at start.
import { mkdirSync, writeFileSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';

const db = await PGlite.create();
const dump = await db.dumpDataDir('gzip');
await db.close();
mkdirSync('dist', { recursive: true });
writeFileSync('dist/pglite-template.tar.gz', Buffer.from(await dump.arrayBuffer()));
console.log(`dist/pglite-template.tar.gz: ${dump.size} bytes`);
