/**
 * bench:sip (parse part) — parsing and serializing a typical INVITE with SDP and its 200 OK, on one core,
 * voxgate's `src/sip` side by side with the npm package `sip` (0.0.6, a pure-JS parser) in the same run.
 * For each operation: messages per CPU second (median of rounds of a fixed duration) and bytes allocated per
 * message (heap growth over a batch run with a young generation large enough that no collection happens
 * during it; a batch during which a GC ran is reported as such, not as a number).
 * Usage: npm run bench:sip:parse [-- --seconds=1.5 --rounds=5 --only=parse]
 * (--only: the one operation of that name, e.g. `parse` for the parse rows alone).
 * Needs node --expose-gc --max-semi-space-size=256 (the npm scripts pass them).
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as sipjs from 'sip';
import {
  contactsOf,
  fromOf,
  parseMessage,
  serializeMessage,
  toOf,
  viaOf,
  type SipMessage,
} from '../src/sip/index.js';
import { fmt } from './support.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1.5' },
    rounds: { type: 'string', default: '5' },
    only: { type: 'string', default: '' },
  },
});
const roundMs = Number(values.seconds) * 1000;
const rounds = Number(values.rounds);

const SDP = [
  'v=0',
  'o=alice 2890844526 2890844526 IN IP4 198.51.100.17',
  's=-',
  'c=IN IP4 198.51.100.17',
  't=0 0',
  'm=audio 49170 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=ptime:20',
  'a=sendrecv',
  '',
].join('\r\n');

function message(startLine: string, headers: string[]): Buffer {
  return Buffer.from(
    [startLine, ...headers, `Content-Length: ${Buffer.byteLength(SDP)}`, '', SDP].join('\r\n'),
  );
}

const INVITE = message('INVITE sip:+442079460000@gw.example.com SIP/2.0', [
  'Via: SIP/2.0/UDP 198.51.100.17:5060;branch=z9hG4bK776asdhds;rport',
  'Max-Forwards: 70',
  'From: "Alice Example" <sip:alice@example.com>;tag=1928301774',
  'To: <sip:+442079460000@gw.example.com>',
  'Call-ID: a84b4c76e66710@pc33.example.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@198.51.100.17:5060;transport=udp>',
  'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, PRACK, REFER, NOTIFY',
  'Supported: replaces, timer, 100rel',
  'User-Agent: Example Softphone 5.1',
  'Content-Type: application/sdp',
]);
const OK = message('SIP/2.0 200 OK', [
  'Via: SIP/2.0/UDP 198.51.100.17:5060;branch=z9hG4bK776asdhds;rport=5060;received=198.51.100.17',
  'From: "Alice Example" <sip:alice@example.com>;tag=1928301774',
  'To: <sip:+442079460000@gw.example.com>;tag=a6c85cf',
  'Call-ID: a84b4c76e66710@pc33.example.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:gw@203.0.113.5:5060>',
  'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, PRACK',
  'Supported: timer',
  'Server: Example Gateway 2.0',
  'Content-Type: application/sdp',
]);

const NEW_VIA = 'SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bKnashds8;rport';

/** One operation of one library on one message; returns something so that the work is not optimized away. */
type Op = () => unknown;

const vParse = (b: Buffer) => parseMessage(b, { datagram: true });
/** What the gateway reads of every message it handles (eager fields plus these views). */
const vRead = (m: SipMessage) => [
  viaOf(m).length,
  fromOf(m)?.tag,
  toOf(m)?.tag,
  contactsOf(m),
  m.cseq.seq,
  m.callId,
];
const vAddVia = (m: SipMessage): SipMessage => ({
  ...m,
  headers: [{ name: 'Via', value: NEW_VIA }, ...m.headers],
});
const sParse = (b: Buffer) => {
  const m = sipjs.parse(b);
  if (!m) throw new Error('npm sip could not parse the message');
  return m;
};
const sAddVia = (m: ReturnType<typeof sParse>) => {
  m.headers.via = [
    {
      version: '2.0',
      protocol: 'UDP',
      host: '203.0.113.5',
      port: 5060,
      params: { branch: 'z9hG4bKnashds8', rport: null },
    },
    ...(m.headers.via ?? []),
  ];
  return m;
};

function operations(bytes: Buffer): { name: string; voxgate: Op; sip: Op }[] {
  const vParsed = vParse(bytes);
  const sParsed = sParse(bytes);
  return [
    { name: 'parse', voxgate: () => vParse(bytes), sip: () => sParse(bytes) },
    {
      name: 'parse + read Via, From/To tags, Contact, CSeq, Call-ID',
      voxgate: () => vRead(vParse(bytes)),
      sip: () => {
        const m = sParse(bytes);
        return [
          m.headers.via?.length,
          m.headers.from,
          m.headers.to,
          m.headers.contact,
          m.headers.cseq?.seq,
          m.headers['call-id'],
        ];
      },
    },
    {
      name: 'serialize, unchanged',
      voxgate: () => serializeMessage(vParsed),
      sip: () => sipjs.stringify(sParsed),
    },
    {
      name: 'parse + add a Via + serialize',
      voxgate: () => serializeMessage(vAddVia(vParse(bytes))),
      sip: () => sipjs.stringify(sAddVia(sParse(bytes))),
    },
  ];
}

let gcs = 0;
new PerformanceObserver((list) => (gcs += list.getEntries().length)).observe({ entryTypes: ['gc'] });
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc)
  throw new Error('run with node --expose-gc --max-semi-space-size=256 (npm run bench:sip:parse does)');

/**
 * Median operations per CPU second (this process's user + system time, process.cpuUsage) over `rounds` rounds of
 * `roundMs` of wall time: on a shared machine the time the process waits for a core is not counted.
 */
function rate(op: Op): number {
  const results: number[] = [];
  let sink: unknown;
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const start = performance.now();
    const cpu = process.cpuUsage();
    while (performance.now() - start < roundMs) {
      for (let i = 0; i < 200; i++) sink = op();
      n += 200;
    }
    const used = process.cpuUsage(cpu);
    results.push((n / (used.user + used.system)) * 1e6);
  }
  if (sink === undefined) throw new Error('no result');
  return results.sort((a, b) => a - b)[Math.floor(results.length / 2)]!;
}

/**
 * Bytes allocated per operation, or undefined when a collection ran during each of 5 batches (the young
 * generation grows to its maximum only after collections, so a first batch may see one).
 */
async function allocated(op: Op): Promise<number | undefined> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const bytes = await allocatedOnce(op);
    if (bytes !== undefined) return bytes;
  }
  return undefined;
}

async function allocatedOnce(op: Op): Promise<number | undefined> {
  const n = 2000;
  const keep: unknown[] = new Array(n);
  gc!();
  // GC entries reach the observer asynchronously: let that collection be counted before starting.
  await new Promise((r) => setTimeout(r, 50));
  const before = gcs;
  const heap = process.memoryUsage().heapUsed;
  for (let i = 0; i < n; i++) keep[i] = op();
  const grew = process.memoryUsage().heapUsed - heap;
  await new Promise((r) => setTimeout(r, 50));
  return gcs === before ? grew / n : undefined;
}

// Both libraries must read the same message the same way, or the comparison means nothing.
for (const bytes of [INVITE, OK]) {
  const v = vParse(bytes);
  const s = sParse(bytes);
  if (v.callId !== s.headers['call-id'] || v.cseq.seq !== s.headers.cseq?.seq)
    throw new Error('the two parsers disagree on Call-ID or CSeq');
  if (v.body.toString('latin1') !== s.content) throw new Error('the two parsers disagree on the body');
}

const rows: string[] = [];
for (const [label, bytes] of [
  ['INVITE with SDP', INVITE],
  ['200 OK with SDP', OK],
] as const) {
  for (const { name, voxgate, sip } of operations(bytes)) {
    if (values.only !== '' && name !== values.only) continue;
    // Warm both up so that neither is measured before the JIT has compiled it.
    rate.call(null, voxgate);
    const vRate = rate(voxgate);
    const sRate = rate(sip);
    const vBytes = await allocated(voxgate);
    const sBytes = await allocated(sip);
    const b = (x: number | undefined) => (x === undefined ? 'GC ran' : fmt(x, 0));
    rows.push(
      `| ${label} (${bytes.length} B) | ${name} | ${fmt(vRate / 1000, 0)}k | ${fmt(sRate / 1000, 0)}k | ${fmt(vRate / sRate, 1)}× | ${b(vBytes)} | ${b(sBytes)} |`,
    );
    console.error(rows.at(-1));
  }
}
console.log(
  '| message | operation | voxgate msg/s | npm sip msg/s | voxgate / sip | voxgate B/msg | npm sip B/msg |',
);
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
