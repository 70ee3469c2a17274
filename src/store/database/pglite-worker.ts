/**
 * The worker thread that owns the embedded PGlite (started by pglite-thread-database.ts): it opens PGlite in
 * the folder it is given and runs the statements it is sent, one at a time, in the order they came. A
 * transaction is held open between `begin` and `end` while statements of other callers wait (PGlite has one
 * connection). After `close` it closes PGlite, answers and lets its thread end.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Queryable } from './database.js';
import {
  serializeError,
  type PgliteOpened,
  type PgliteReply,
  type PgliteRequest,
  type PgliteWorkerData,
} from './pglite-messages.js';
import { openPglite } from './pglite-database.js';

const port = parentPort;
if (!port) throw new Error('pglite-worker.ts runs in a worker thread (new Worker), not as a program');
const { dataDir, templateFile } = workerData as PgliteWorkerData;

interface OpenTransaction {
  queryable: Queryable;
  finish: (commit: boolean, replyId: number) => void;
}
/** Rejects the transaction's function so that PGlite rolls back; not an error of anyone's. */
const ROLLBACK = Symbol('rollback');

const reply = (message: PgliteReply) => port.postMessage(message);
const answer = (id: number, work: Promise<unknown>) =>
  work.then(
    (value) => reply({ id, ok: true, value }),
    (err: unknown) => reply({ id, ok: false, error: serializeError(err) }),
  );

try {
  const db = await openPglite(dataDir, templateFile);
  const open = new Map<number, OpenTransaction>();
  const target = (tx: number | undefined): Queryable => {
    if (tx === undefined) return db;
    const found = open.get(tx);
    if (!found) throw new Error(`PGlite worker: transaction ${tx} is not open`);
    return found.queryable;
  };
  const begin = (id: number, tx: number) => {
    let endId = -1;
    const done = db.transaction(
      (queryable) =>
        new Promise<void>((resolve, reject) => {
          open.set(tx, {
            queryable,
            finish: (commit, replyId) => {
              endId = replyId;
              if (commit) resolve();
              else reject(ROLLBACK);
            },
          });
          reply({ id, ok: true });
        }),
    );
    done.then(
      () => {
        open.delete(tx);
        reply({ id: endId, ok: true });
      },
      (err: unknown) => {
        // Failed before the transaction began: the `begin` is what is answered.
        if (!open.delete(tx)) return reply({ id, ok: false, error: serializeError(err) });
        reply(
          err === ROLLBACK ? { id: endId, ok: true } : { id: endId, ok: false, error: serializeError(err) },
        );
      },
    );
  };
  const handle = (req: PgliteRequest) => {
    switch (req.op) {
      case 'query':
        return void answer(
          req.id,
          Promise.resolve().then(() => target(req.tx).query(req.sql, req.params)),
        );
      case 'exec':
        return void answer(
          req.id,
          Promise.resolve().then(() => target(req.tx).exec(req.sql)),
        );
      case 'begin':
        return begin(req.id, req.tx);
      case 'end': {
        const found = open.get(req.tx);
        if (!found) {
          const error = serializeError(new Error(`PGlite worker: transaction ${req.tx} is not open`));
          return reply({ id: req.id, ok: false, error });
        }
        return found.finish(req.commit, req.id);
      }
      case 'ping':
        return void answer(req.id, db.ping());
      case 'close':
        return void answer(req.id, db.close()).then(() => port.close());
    }
  };
  port.on('message', handle);
  port.postMessage({ opened: true } satisfies PgliteOpened);
} catch (err) {
  port.postMessage({ opened: false, error: serializeError(err) } satisfies PgliteOpened);
  port.close();
}
