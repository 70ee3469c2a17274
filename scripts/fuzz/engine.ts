import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DialogBook, inDialogRequest, registerRequest } from './dialogs.js';
import { parseMessage, parseUri } from '../../src/sip/index.js';
import { NgGenerator } from './ng-generator.js';
import { Prng } from './prng.js';
import { sipMessage, type CorpusEntry, type FuzzMessage, type SipTargetInfo } from './sip-generator.js';
import { FUZZ_DID, FUZZ_DOMAIN, FUZZ_ROAMER_DID, VoxgateTarget, type Death } from './target.js';
import { openSender, VIA_TOKEN, type Sender, type TransportName } from './transports.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** The RFC 4475 and RFC 5118 torture messages of test/fixtures/sip. */
export function loadCorpus(): CorpusEntry[] {
  return ['rfc4475', 'rfc5118'].flatMap((d) => {
    const dir = join(ROOT, 'test', 'fixtures', 'sip', d);
    return readdirSync(dir)
      .filter((f) => f.endsWith('.dat'))
      .sort()
      .map((f) => ({ name: `${d}/${f}`, bytes: readFileSync(join(dir, f)) }));
  });
}

/**
 * A top Via on UDP with a port out of range (0, or over 65535) and no rport: the crash found on 2026-12-03
 * (dgram's ERR_SOCKET_BAD_PORT when the response is sent there), fixed since (sends are total).
 */
export function isBadViaPort(message: FuzzMessage, transport: TransportName): boolean {
  if (transport !== 'udp') return false;
  const via = /^(?:Via|v)[ \t]*:[ \t]*([^\r\n]*)/im.exec(message.bytes.toString('latin1'))?.[1];
  if (via === undefined || /;\s*rport\s*(?:[;,=]|$)/i.test(via)) return false;
  const port = /^\S+\s+(?:\[[^\]]*\]|[^;,\s:]*):(\d+)/.exec(via)?.[1];
  return port !== undefined && (Number(port) === 0 || Number(port) > 65535);
}

/**
 * A request that would set up a dialog (INVITE, UPDATE, SUBSCRIBE …) whose Contact or Record-Route holds a URI
 * the stack's own parser refuses (`*`, `sip::5060`, `sip:fe80::1%eth0:5060` …): the crash found on 2026-12-03
 * (the BYE built on that route set or remote target throws SipParseError out of B2buaCall.hangup), fixed since
 * (such dialogs are refused when they would be created).
 */
export function hasUnparseableTarget(message: FuzzMessage): boolean {
  let parsed;
  try {
    parsed = parseMessage(message.bytes, { datagram: true });
  } catch {
    return false;
  }
  if (parsed.kind !== 'request' || parsed.method === 'REGISTER') return false;
  for (const h of parsed.headers) {
    if (!/^(contact|m|record-route)$/i.test(h.name)) continue;
    const uris = [...h.value.matchAll(/<([^>]*)>/g)].map((m) => m[1]!);
    if (uris.length === 0) uris.push(h.value.split(/[;,]/)[0]!.trim());
    for (const uri of uris) {
      try {
        parseUri(uri);
      } catch {
        return true;
      }
    }
  }
  return false;
}

/**
 * Every crash found on 2026-12-03 (all fixed since): `--skip-known` leaves them out, to explore past them on a
 * build from before the fixes.
 */
export function isKnownCrash(message: FuzzMessage, transport: TransportName): boolean {
  return isBadViaPort(message, transport) || hasUnparseableTarget(message);
}

/** One message as sent, kept for the crash report. */
export interface SentMessage {
  index: number;
  transport: TransportName;
  kind: string;
  mode: string;
  bytes: Buffer;
}

export interface Crash {
  /** The error line and the first voxgate frame of the stack: crashes with the same one are the same bug. */
  signature: string;
  seed: number;
  /** Index of the last message sent before the process was seen dead. */
  index: number;
  transport: TransportName;
  death: Death;
  /** The messages sent last, oldest first; the culprit is usually among the last few. */
  lastMessages: SentMessage[];
  /** Where the report and the messages were written, when a crash folder was given. */
  savedTo?: string;
}

/** The process lived but a check after a batch failed (no answer, /healthz, memory). */
export interface CheckFailure {
  index: number;
  transport: TransportName;
  problem: string;
}

export interface FuzzOptions {
  seed: number;
  count: number;
  transports: readonly TransportName[];
  /** Messages per batch; the checks run after each. Default 500. */
  batchSize?: number;
  /** RSS bound checked after each batch. Default 1 GiB. */
  rssLimitBytes?: number;
  /** A folder where each crash's report and last messages are saved for replay. */
  crashDir?: string;
  /** After a crash: start a new process and go on (the CLI), or stop (the test). Default: stop. */
  restartAfterCrash?: boolean;
  /** Messages the run should not send (e.g. a known crash awaiting its fix). */
  skip?: (message: FuzzMessage, transport: TransportName) => boolean;
  /**
   * After the last batch, wait up to this long for the calls the fuzz left to end (ring timeout, media
   * timeout, maximum duration: a few seconds each on the target), then check once more: a crash on a timer
   * (a BYE built from a fuzzed route set …) shows only then. Default 15 s.
   */
  settleMs?: number;
  /**
   * No new batch starts after this long (the run is then a prefix of the seed's messages): keeps a test
   * inside its runner's timeout on a slow or busy machine. Default: none.
   */
  budgetMs?: number;
  /** Binary to run (default dist/src/bin/voxgate.js). */
  bin?: string;
  onProgress?: (progress: FuzzProgress) => void;
  onCrash?: (crash: Crash) => void;
}

export interface TransportStats {
  sent: number;
  ms: number;
}

export interface FuzzProgress {
  sent: number;
  count: number;
  elapsedMs: number;
  rssBytes?: number;
  crashes: number;
  perTransport: Partial<Record<TransportName, TransportStats>>;
}

export interface FuzzSummary extends FuzzProgress {
  seed: number;
  skipped: number;
  crashes: number;
  crashList: Crash[];
  /** Distinct crash signatures with how often each was seen. */
  distinctCrashes: Map<string, number>;
  checkFailures: CheckFailure[];
  maxRssBytes: number;
  /** Fuzzed INVITEs that got through the relay's offer to the registered callee. */
  invitesReachingCallee: number;
  /** Processes started (1 + restarts after crashes). */
  processes: number;
  /** Dialogs (18x/2xx with a To tag) the gateway set up for fuzzed INVITEs; in-dialog requests went there. */
  dialogs: number;
  /** REGISTERs with fuzzed Contacts the registrar accepted. */
  registrations: number;
  /** The run stopped at `budgetMs` before `count` messages. */
  budgetExhausted: boolean;
}

/**
 * `RangeError [ERR_SOCKET_BAD_PORT]: … @ sip/transport/udp-transport.js (UdpTransport.send)`: the error line
 * and the first voxgate frame of Node's uncaught-exception output on stderr or, failing that, of the stack in
 * the process's fatal JSON log line.
 */
export function crashSignature(stderr: string, logTail: readonly string[] = []): string {
  const fromStack = (text: string): string | undefined => {
    const lines = text.split('\n');
    const errorAt = lines.findIndex(
      (l) => /^(\w*Error|Error)\b|^\w+ \[ERR_/.test(l) || /^Uncaught\b/.test(l),
    );
    if (errorAt < 0) return undefined;
    const error = lines[errorAt]!.replace(/"[^"]*"/g, '"…"')
      .replace(/\d+/g, 'N')
      .slice(0, 160);
    const frames = lines
      .slice(errorAt + 1)
      .map((l) => /^\s+at (?:(\S+) )?\(?(?:file:\/\/)?\S*?\/(?:dist\/)?src\/([^:)]+)/.exec(l))
      .filter((m) => m !== null)
      .map((m) => `${m[2]}${m[1] ? ` (${m[1]})` : ''}`);
    if (frames.length === 0) return error;
    // Where it was thrown, the first frame above the parsers and the outermost frame shown: the same parser
    // error reached from two places is two bugs.
    const caller = frames.find((f) => !/^sip\/(uri|message|headers)\//.test(f));
    const path = [...new Set([frames[0]!, ...(caller ? [caller] : []), frames.at(-1)!])];
    return `${error} @ ${path.join(' ← ')}`;
  };
  const fromStderr = fromStack(stderr);
  if (fromStderr) return fromStderr;
  for (const line of [...logTail].reverse()) {
    try {
      const entry = JSON.parse(line) as { level?: number; err?: { stack?: string } };
      const stack = entry.level === 60 ? entry.err?.stack : undefined;
      const signature = stack ? fromStack(stack) : undefined;
      if (signature) return signature;
    } catch {
      // not JSON
    }
  }
  const last = stderr
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-3)
    .join(' | ');
  return `no stack: ${last.slice(0, 200) || '(empty stderr)'}`;
}

/** Writes a crash's report and its last messages (one file each, replayable with `--replay`). */
async function saveCrash(dir: string, crash: Crash): Promise<string> {
  const folder = join(dir, `crash-seed${crash.seed}-msg${crash.index}`);
  await mkdir(folder, { recursive: true });
  const files: { file: string; transport: TransportName; kind: string; mode: string; index: number }[] = [];
  for (const [i, m] of crash.lastMessages.entries()) {
    const file = `${String(i).padStart(3, '0')}-${m.transport}.msg`;
    await writeFile(join(folder, file), m.bytes);
    files.push({ file, transport: m.transport, kind: m.kind, mode: m.mode, index: m.index });
  }
  await writeFile(join(folder, 'stderr.txt'), crash.death.stderr);
  await writeFile(
    join(folder, 'crash.json'),
    JSON.stringify(
      {
        signature: crash.signature,
        seed: crash.seed,
        index: crash.index,
        transport: crash.transport,
        exit: { code: crash.death.code, signal: crash.death.signal },
        logTail: crash.death.logTail,
        messages: files,
      },
      null,
      2,
    ),
  );
  return folder;
}

/**
 * Sends `count` fuzzed messages to a running all-in-one voxgate, in batches that rotate over the transports,
 * and after each batch checks that the process is alive, answers an OPTIONS, serves `/healthz` 200 and stays
 * under the RSS bound. The messages depend only on the seed, the count, the transports and the batch size.
 */
export async function runFuzz(options: FuzzOptions): Promise<FuzzSummary> {
  const batchSize = options.batchSize ?? 500;
  const rssLimit = options.rssLimitBytes ?? 1024 ** 3;
  const corpus = loadCorpus();
  const master = new Prng(options.seed);
  const ng = new NgGenerator(master.fork());
  const began = performance.now();
  const summary: FuzzSummary = {
    seed: options.seed,
    count: options.count,
    sent: 0,
    skipped: 0,
    elapsedMs: 0,
    crashes: 0,
    crashList: [],
    distinctCrashes: new Map(),
    checkFailures: [],
    maxRssBytes: 0,
    invitesReachingCallee: 0,
    processes: 0,
    dialogs: 0,
    registrations: 0,
    budgetExhausted: false,
    perTransport: {},
  };
  const recent: SentMessage[] = [];
  let target: VoxgateTarget | undefined;
  let book = new DialogBook();
  const senders = new Map<TransportName, Sender>();
  const closeSenders = async () => {
    await Promise.all([...senders.values()].map((s) => s.close().catch(() => undefined)));
    senders.clear();
  };
  const startTarget = async () => {
    target = await VoxgateTarget.start(options.bin ? { bin: options.bin } : {});
    summary.dialogs += book.recorded;
    summary.registrations += book.registered;
    book = new DialogBook();
    summary.processes++;
  };
  const recordCrash = async (t: VoxgateTarget, transport: TransportName) => {
    const death = t.death()!;
    const crash: Crash = {
      signature: crashSignature(death.stderr, death.logTail),
      seed: options.seed,
      index: recent.at(-1)?.index ?? -1,
      transport,
      death,
      lastMessages: [...recent],
    };
    if (options.crashDir) crash.savedTo = await saveCrash(options.crashDir, crash);
    summary.crashes++;
    summary.crashList.push(crash);
    summary.distinctCrashes.set(crash.signature, (summary.distinctCrashes.get(crash.signature) ?? 0) + 1);
    options.onCrash?.(crash);
  };

  try {
    await startTarget();
    let batch = 0;
    while (summary.sent + summary.skipped < options.count) {
      if (options.budgetMs !== undefined && performance.now() - began > options.budgetMs) {
        summary.budgetExhausted = true;
        break;
      }
      const t = target!;
      const transport = options.transports[batch % options.transports.length]!;
      batch++;
      let sender = senders.get(transport);
      if (!sender) {
        sender = await openSender(transport, t.ports, book);
        senders.set(transport, sender);
      }
      const info: SipTargetInfo | undefined =
        transport === 'ng'
          ? undefined
          : {
              via: VIA_TOKEN[transport],
              host: '127.0.0.1',
              port: t.ports[transport],
              did: FUZZ_DID,
              roamerDid: FUZZ_ROAMER_DID,
              domain: FUZZ_DOMAIN,
            };
      const n = Math.min(batchSize, options.count - summary.sent - summary.skipped);
      const stats = (summary.perTransport[transport] ??= { sent: 0, ms: 0 });
      const batchBegan = performance.now();
      // Each batch draws its own generator, so a restart after a crash does not shift later batches.
      const rng = master.fork();
      // In-dialog requests depend on the dialogs the target set up (timing): they draw from their own
      // generator so that the rest of the run stays the same for a seed.
      const dialogRng = master.fork();
      const stateful = transport === 'udp' || transport === 'ws' || transport === 'wss';
      let died = false;
      for (let i = 0; i < n; i++) {
        let message: FuzzMessage;
        if (!info) message = ng.next();
        else if (rng.chance(0.2) && stateful) {
          const dialog = dialogRng.chance(0.7) ? book.pick(dialogRng) : undefined;
          message = dialog
            ? inDialogRequest(dialogRng, info, dialog)
            : registerRequest(dialogRng, info, book);
        } else message = sipMessage(rng, info, corpus);
        if (options.skip?.(message, transport)) {
          summary.skipped++;
          continue;
        }
        const index = summary.sent + summary.skipped;
        const mode = await sender.send(message, rng);
        summary.sent++;
        stats.sent++;
        recent.push({ index, transport, kind: message.kind, mode, bytes: message.bytes });
        if (recent.length > 100) recent.shift();
        if (i % 50 === 49) await sender.flush();
        if (!t.alive) {
          died = true;
          break;
        }
      }
      if (!died) {
        await sender.flush();
        // A crash may need a moment to show after the last datagram.
        await Promise.race([t.whenExited(), new Promise((r) => setTimeout(r, 20))]);
      }
      stats.ms += performance.now() - batchBegan;
      const index = summary.sent + summary.skipped - 1;
      if (t.alive) {
        const problems: string[] = [];
        const answer = await t.options();
        if (answer === undefined) problems.push('no final response to an OPTIONS over UDP');
        const health = await t.healthz();
        if (health !== 200) problems.push(`GET /healthz: ${health || 'no answer'}`);
        const rss = await t.rssBytes();
        if (rss !== undefined) {
          summary.maxRssBytes = Math.max(summary.maxRssBytes, rss);
          if (rss > rssLimit) problems.push(`RSS ${Math.round(rss / 2 ** 20)} MiB over the bound`);
        }
        // A process that died during the checks is a crash, not a failed check.
        if (t.alive)
          for (const problem of problems) summary.checkFailures.push({ index, transport, problem });
        else died = true;
      } else {
        died = true;
      }
      if (died || !t.alive) {
        await t.whenExited();
        await recordCrash(t, transport);
        summary.invitesReachingCallee += t.invitesReachingCallee;
        await closeSenders();
        await t.stop();
        target = undefined;
        recent.length = 0;
        if (!options.restartAfterCrash) break;
        await startTarget();
      } else if (summary.checkFailures.length > 0 && summary.checkFailures.at(-1)!.index === index) {
        // A process that lives but no longer answers: the run stops rather than pile on.
        if (!options.restartAfterCrash) break;
        summary.invitesReachingCallee += t.invitesReachingCallee;
        await closeSenders();
        await t.stop();
        target = undefined;
        await startTarget();
      }
      summary.elapsedMs = performance.now() - began;
      options.onProgress?.({
        sent: summary.sent,
        count: options.count,
        elapsedMs: summary.elapsedMs,
        crashes: summary.crashes,
        perTransport: summary.perTransport,
        ...(summary.maxRssBytes ? { rssBytes: summary.maxRssBytes } : {}),
      });
    }
    const t = target as VoxgateTarget | undefined;
    if (t?.alive && (options.settleMs ?? 15_000) > 0) {
      const until = performance.now() + (options.settleMs ?? 15_000);
      while (t.alive && performance.now() < until && (await t.activeCalls()) !== 0) {
        await Promise.race([t.whenExited(), new Promise((r) => setTimeout(r, 500))]);
      }
      const transport = recent.at(-1)?.transport ?? options.transports[0]!;
      const index = summary.sent + summary.skipped - 1;
      if (t.alive) {
        if ((await t.options()) === undefined)
          summary.checkFailures.push({
            index,
            transport,
            problem: 'no answer to an OPTIONS after the settle',
          });
        const health = await t.healthz();
        if (health !== 200)
          summary.checkFailures.push({
            index,
            transport,
            problem: `GET /healthz after the settle: ${health}`,
          });
      }
      if (!t.alive) {
        await recordCrash(t, transport);
      }
    }
  } finally {
    await closeSenders();
    if (target) {
      summary.invitesReachingCallee += target.invitesReachingCallee;
      await target.stop();
    }
    summary.dialogs += book.recorded;
    summary.registrations += book.registered;
    summary.elapsedMs = performance.now() - began;
  }
  return summary;
}

/**
 * Sends saved messages (a crash folder's, in order) to a fresh process, one at a time, each followed by a
 * probe the target must answer first: the message after which it died is the culprit.
 */
export async function replay(
  messages: { transport: TransportName; bytes: Buffer }[],
  options: { bin?: string; settleMs?: number } = {},
): Promise<{ survived: boolean; culprit?: number; death?: Death; signature?: string }> {
  const target = await VoxgateTarget.start(options.bin ? { bin: options.bin } : {});
  const senders = new Map<TransportName, Sender>();
  let culprit: number | undefined;
  try {
    for (const [i, m] of messages.entries()) {
      let sender = senders.get(m.transport);
      if (!sender) {
        sender = await openSender(m.transport, target.ports);
        senders.set(m.transport, sender);
      }
      await sender.send({ bytes: m.bytes, kind: 'replay' });
      await sender.flush();
      await Promise.race([target.whenExited(), new Promise((r) => setTimeout(r, 20))]);
      if (!target.alive) {
        culprit = i;
        break;
      }
    }
    // Then until the calls they set up have ended (their BYEs, timers), up to settleMs.
    const until = performance.now() + (options.settleMs ?? 1000);
    do {
      await Promise.race([target.whenExited(), new Promise((r) => setTimeout(r, 250))]);
    } while (target.alive && performance.now() < until && (await target.activeCalls()) !== 0);
    await Promise.race([target.whenExited(), new Promise((r) => setTimeout(r, 250))]);
    if (target.alive) return { survived: true };
    const death = target.death()!;
    return {
      survived: false,
      ...(culprit === undefined ? {} : { culprit }),
      death,
      signature: crashSignature(death.stderr, death.logTail),
    };
  } finally {
    await Promise.all([...senders.values()].map((s) => s.close().catch(() => undefined)));
    await target.stop();
  }
}
