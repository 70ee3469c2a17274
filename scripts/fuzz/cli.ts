import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isBadViaPort, isKnownCrash, replay, runFuzz, type Crash, type FuzzProgress } from './engine.js';
import { TRANSPORTS, type TransportName } from './transports.js';

const USAGE = `Usage: npm run fuzz:sip -- [--count N] [--seed S] [--transports udp,tcp,tls,ws,wss,ng]
                          [--batch N] [--crash-dir DIR] [--rss-limit-mb N] [--skip-bad-via-port | --skip-known]
       npm run fuzz:sip -- --replay CRASH_DIR [--minimize] [--settle-ms MS]

Sends N fuzzed messages (default 100000) to an all-in-one voxgate started from dist/ (run \`npm run build\`
first), checking after each batch that it is alive, answers OPTIONS and /healthz, and stays under the RSS
bound. A crash is saved to CRASH_DIR (default ${join(tmpdir(), 'voxgate-fuzz-crashes')}) with the seed, the
child's stderr and the last messages sent; the run then goes on with a new process. --replay sends a saved
crash's messages to a fresh process and waits (up to --settle-ms, default 20 s) for the calls they set up to
end; --minimize then looks for the shortest tail of them that still kills it.
--skip-bad-via-port / --skip-known leave out the messages that triggered the crashes found (and fixed) on
2026-12-03: only useful against a build from before the fixes.`;

function rate(sent: number, ms: number): string {
  return ms > 0 ? `${Math.round((sent * 1000) / ms)}/s` : '-';
}

function perTransport(p: FuzzProgress): string {
  return Object.entries(p.perTransport)
    .map(([t, s]) => `${t} ${s.sent} (${rate(s.sent, s.ms)})`)
    .join(', ');
}

async function replayCommand(dir: string, minimize: boolean, settleMs: number): Promise<number> {
  const report = JSON.parse(await readFile(join(dir, 'crash.json'), 'utf8')) as {
    signature: string;
    messages: { file: string; transport: TransportName }[];
  };
  const messages = await Promise.all(
    report.messages.map(async (m) => ({ transport: m.transport, bytes: await readFile(join(dir, m.file)) })),
  );
  console.log(`replaying ${messages.length} messages of ${dir} (recorded: ${report.signature})`);
  const all = await replay(messages, { settleMs });
  console.log(all.survived ? 'survived: not reproduced' : `died: ${all.signature}`);
  if (all.survived || !minimize) return all.survived ? 0 : 1;
  // The message after which it died, alone on a fresh process; else the tail that ends with it.
  const last = all.culprit ?? messages.length - 1;
  for (const from of [last, ...Array.from({ length: last }, (_, i) => last - 1 - i)]) {
    const tail = messages.slice(from, last + 1);
    const outcome = await replay(tail, { settleMs });
    if (!outcome.survived) {
      console.log(`reproduced with ${tail.length} message(s): ${outcome.signature}`);
      for (const m of tail) console.log(`--- ${m.transport}\n${m.bytes.toString('latin1')}`);
      console.log(`--- stderr\n${outcome.death?.stderr ?? ''}`);
      return 1;
    }
    if (tail.length >= 8) break;
  }
  console.log('no short tail reproduces it alone');
  return 1;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '100000' },
      seed: { type: 'string' },
      transports: { type: 'string', default: TRANSPORTS.join(',') },
      batch: { type: 'string', default: '500' },
      'crash-dir': { type: 'string', default: join(tmpdir(), 'voxgate-fuzz-crashes') },
      'rss-limit-mb': { type: 'string', default: '1024' },
      'skip-bad-via-port': { type: 'boolean', default: false },
      'skip-known': { type: 'boolean', default: false },
      replay: { type: 'string' },
      minimize: { type: 'boolean', default: false },
      'settle-ms': { type: 'string', default: '20000' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.replay) return replayCommand(values.replay, values.minimize, Number(values['settle-ms']));
  const transports = values.transports.split(',').map((t) => t.trim()) as TransportName[];
  const unknown = transports.filter((t) => !TRANSPORTS.includes(t));
  const count = Number(values.count);
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
  if (unknown.length > 0 || !Number.isInteger(count) || count < 1 || !Number.isInteger(seed)) {
    console.error(`${unknown.length ? `unknown transport ${unknown.join(', ')}\n` : ''}${USAGE}`);
    return 2;
  }
  console.log(
    `seed ${seed}, ${count} messages over ${transports.join(', ')}; crashes go to ${values['crash-dir']}`,
  );
  let lastPrint = 0;
  const summary = await runFuzz({
    seed,
    count,
    transports,
    batchSize: Number(values.batch),
    rssLimitBytes: Number(values['rss-limit-mb']) * 2 ** 20,
    crashDir: values['crash-dir'],
    restartAfterCrash: true,
    ...(values['skip-bad-via-port'] ? { skip: isBadViaPort } : {}),
    ...(values['skip-known'] ? { skip: isKnownCrash } : {}),
    onProgress(p) {
      if (p.elapsedMs - lastPrint < 5000 && p.sent < p.count) return;
      lastPrint = p.elapsedMs;
      const rss = p.rssBytes ? `, max RSS ${Math.round(p.rssBytes / 2 ** 20)} MiB` : '';
      console.log(
        `${p.sent}/${p.count} sent in ${(p.elapsedMs / 1000).toFixed(0)} s (${rate(p.sent, p.elapsedMs)}), ` +
          `${p.crashes} crash(es)${rss} — ${perTransport(p)}`,
      );
    },
    onCrash(c: Crash) {
      console.log(`CRASH after message ${c.index} (${c.transport}): ${c.signature}\n  saved to ${c.savedTo}`);
      console.log(`  last message: ${c.lastMessages.at(-1)?.kind ?? '-'}`);
    },
  });
  console.log('\nsummary');
  console.log(
    `  seed ${summary.seed}: ${summary.sent} messages sent, ${summary.skipped} skipped, in ${(summary.elapsedMs / 1000).toFixed(1)} s (${rate(summary.sent, summary.elapsedMs)})`,
  );
  console.log(`  per transport: ${perTransport(summary)}`);
  console.log(
    `  processes started: ${summary.processes}; max RSS ${Math.round(summary.maxRssBytes / 2 ** 20)} MiB`,
  );
  console.log(`  fuzzed INVITEs that reached the callee through the relay: ${summary.invitesReachingCallee}`);
  console.log(
    `  dialogs the gateway set up for fuzzed INVITEs (in-dialog requests went there): ${summary.dialogs}`,
  );
  console.log(`  REGISTERs with fuzzed Contacts the registrar accepted: ${summary.registrations}`);
  console.log(`  crashes: ${summary.crashes}`);
  for (const [signature, n] of summary.distinctCrashes) console.log(`    ${n}× ${signature}`);
  for (const c of summary.crashList) console.log(`    ${c.savedTo ?? ''}`);
  console.log(`  check failures: ${summary.checkFailures.length}`);
  for (const f of summary.checkFailures)
    console.log(`    after message ${f.index} (${f.transport}): ${f.problem}`);
  return summary.crashes > 0 || summary.checkFailures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(2);
  },
);
