import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import {
  contactsOf,
  fromOf,
  maxForwardsOf,
  parseMessage,
  requestUriOf,
  serializeMessage,
  SipParseError,
  toOf,
  validateRequest,
  viaOf,
  type SipMessage,
} from '../../../src/sip/index.js';
import { policy } from '../../helpers/torture-uas.js';

/**
 * Runs in a worker so that the test can tell a parser that hangs (a loop, catastrophic regex backtracking)
 * from one that is merely slow: the test terminates the worker after a bound.
 */
const { runs, seed } = workerData as { runs: number; seed: number | undefined };

const dirs = ['rfc4475', 'rfc5118'].map((d) => join(import.meta.dirname, '..', '..', 'fixtures', 'sip', d));
const corpus = dirs.flatMap((d) => readdirSync(d).map((f) => readFileSync(join(d, f))));

/** Anything but a SipParseError escaping is a bug. */
function tolerate(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof SipParseError)) throw err;
  }
}

function exercise(bytes: Buffer): void {
  for (const datagram of [true, false]) {
    let message: SipMessage;
    try {
      message = parseMessage(bytes, { datagram });
    } catch (err) {
      if (err instanceof SipParseError) continue;
      throw err;
    }
    // Round trip: an unchanged parsed message serializes to exactly its bytes, and those parse again.
    const out = serializeMessage(message);
    if (!message.raw || !out.equals(message.raw)) throw new Error('serializeMessage lost the original bytes');
    parseMessage(out, { datagram });
    // The lazily parsed headers may be malformed, but may only say so with SipParseError.
    tolerate(() => viaOf(message));
    tolerate(() => contactsOf(message));
    tolerate(() => fromOf(message));
    tolerate(() => toOf(message));
    tolerate(() => maxForwardsOf(message));
    if (message.kind === 'request') {
      tolerate(() => requestUriOf(message));
      validateRequest(message, policy);
    }
  }
}

const byteEdit = fc.tuple(
  fc.constantFrom('set', 'insert', 'delete'),
  fc.nat(),
  fc.integer({ min: 0, max: 255 }),
);
/** Long runs of the characters the parsers scan for: the inputs that expose super-linear matching. */
const run = fc.tuple(
  fc.constantFrom(' ', ';', ',', '"', '\\', '<', '>', '%', ':', '[', '@', '=', '\r\n ', 'a'),
  fc.integer({ min: 1, max: 4000 }),
  fc.nat(),
);
const lineEdit = fc.tuple(fc.constantFrom('drop', 'dup', 'swap'), fc.nat(), fc.nat());

const mutation = fc.record({
  base: fc.nat(corpus.length - 1),
  bytes: fc.array(byteEdit, { maxLength: 8 }),
  runs: fc.array(run, { maxLength: 2 }),
  lines: fc.array(lineEdit, { maxLength: 3 }),
  truncate: fc.option(fc.nat()),
});

type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(m: Mutation): Buffer {
  let text = corpus[m.base]!.toString('latin1');
  const lines = text.split('\r\n');
  for (const [op, a, b] of m.lines) {
    const i = a % lines.length;
    const j = b % lines.length;
    if (op === 'drop') lines.splice(i, 1);
    else if (op === 'dup') lines.splice(i, 0, lines[i]!);
    else [lines[i], lines[j]] = [lines[j]!, lines[i]!];
  }
  text = lines.join('\r\n');
  for (const [chars, count, at] of m.runs) {
    const i = at % (text.length + 1);
    text = text.slice(0, i) + chars.repeat(count) + text.slice(i);
  }
  const bytes = [...Buffer.from(text, 'latin1')];
  for (const [op, at, value] of m.bytes) {
    const i = at % (bytes.length + 1);
    if (op === 'set' && i < bytes.length) bytes[i] = value;
    else if (op === 'insert') bytes.splice(i, 0, value);
    else bytes.splice(i, 1);
  }
  const buf = Buffer.from(bytes);
  return m.truncate === null ? buf : buf.subarray(0, m.truncate % (buf.length + 1));
}

let result: { ok: true; runs: number } | { ok: false; error: string };
try {
  // The unmutated corpus first: every message must go through exercise() as it is.
  for (const bytes of corpus) exercise(bytes);
  fc.assert(
    fc.property(mutation, (m) => exercise(mutate(m))),
    { numRuns: runs, ...(seed === undefined ? {} : { seed }) },
  );
  result = { ok: true, runs };
} catch (err) {
  result = { ok: false, error: err instanceof Error ? err.message : String(err) };
}
parentPort!.postMessage(result);
