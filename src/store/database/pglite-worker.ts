/**
 * The worker thread that runs the process's embedded PGlite databases (started by pglite-thread-database.ts):
 * it opens each in the folder it is given and runs the statements it is sent, for each database one at a time
 * in the order they came. A transaction is held open between `begin` and `end` while that database's other
 * statements wait (PGlite has one connection). `close` closes a database once what was sent before it is done.
 * One thread for all of them: PGlite's module and WebAssembly are loaded and compiled once per process.
 */
import { parentPort } from 'node:worker_threads';
import type { Database, Queryable } from './database.js';
import { serializeError, type PgliteReply, type PgliteRequest } from './pglite-messages.js';
import { openPglite } from './pglite-database.js';

const port = parentPort;
if (!port) throw new Error('pglite-worker.ts runs in a worker thread (new Worker), not as a program');

interface OpenTransaction {
  queryable: Queryable;
  finish: (commit: boolean, replyId: number) => void;
}
interface Instance {
  db: Promise<Database>;
  transactions: Map<number, OpenTransaction>;
}
/** Rejects the transaction's function so that PGlite rolls back; not an error of anyone's. */
const ROLLBACK = Symbol('rollback');

const instances = new Map<number, Instance>();
const reply = (message: PgliteReply) => port.postMessage(message);
const answer = (id: number, work: () => Promise<unknown>) =>
  Promise.resolve()
    .then(work)
    .then(
      (value) => reply({ id, ok: true, value }),
      (err: unknown) => reply({ id, ok: false, error: serializeError(err) }),
    );

function instance(db: number): Instance {
  const found = instances.get(db);
  if (!found) throw new Error('PGlite is closed');
  return found;
}

async function target(db: number, tx: number | undefined): Promise<Queryable> {
  const found = instance(db);
  if (tx === undefined) return found.db;
  const open = found.transactions.get(tx);
  if (!open) throw new Error(`PGlite worker: transaction ${tx} is not open`);
  return open.queryable;
}

function begin(id: number, db: number, tx: number): void {
  let found: Instance;
  try {
    found = instance(db);
  } catch (err) {
    return reply({ id, ok: false, error: serializeError(err) });
  }
  const { transactions } = found;
  let endId = -1;
  const done = found.db.then((d) =>
    d.transaction(
      (queryable) =>
        new Promise<void>((resolve, reject) => {
          transactions.set(tx, {
            queryable,
            finish: (commit, replyId) => {
              endId = replyId;
              if (commit) resolve();
              else reject(ROLLBACK);
            },
          });
          reply({ id, ok: true });
        }),
    ),
  );
  done.then(
    () => {
      transactions.delete(tx);
      reply({ id: endId, ok: true });
    },
    (err: unknown) => {
      // Failed before the transaction began: the `begin` is what is answered.
      if (!transactions.delete(tx)) return reply({ id, ok: false, error: serializeError(err) });
      reply(
        err === ROLLBACK ? { id: endId, ok: true } : { id: endId, ok: false, error: serializeError(err) },
      );
    },
  );
}

port.on('message', (req: PgliteRequest) => {
  switch (req.op) {
    case 'open': {
      const db = openPglite(req.dataDir, req.templateFile);
      instances.set(req.db, { db, transactions: new Map() });
      // A database that did not open is forgotten; its error is the opening's answer.
      db.catch(() => instances.delete(req.db));
      return void answer(req.id, async () => void (await db));
    }
    case 'query':
      return void answer(req.id, async () => (await target(req.db, req.tx)).query(req.sql, req.params));
    case 'exec':
      return void answer(req.id, async () => (await target(req.db, req.tx)).exec(req.sql));
    case 'begin':
      return begin(req.id, req.db, req.tx);
    case 'end': {
      const open = instances.get(req.db)?.transactions.get(req.tx);
      if (open) return open.finish(req.commit, req.id);
      const error = serializeError(new Error(`PGlite worker: transaction ${req.tx} is not open`));
      return reply({ id: req.id, ok: false, error });
    }
    case 'ping':
      return void answer(req.id, async () => (await instance(req.db).db).ping());
    case 'close':
      return void answer(req.id, async () => {
        const found = instances.get(req.db);
        if (!found) return;
        await (await found.db).close();
        instances.delete(req.db);
      });
  }
});
