import type { Prng } from './prng.js';
import { sdpBody, type FuzzMessage } from './sip-generator.js';

type Ben = string | number | Buffer | Ben[] | { dict: [string, Ben][] };

/** Bencode with dictionaries as entry lists, so that unsorted and duplicate keys can be written too. */
function encode(value: Ben): Buffer {
  if (typeof value === 'number') return Buffer.from(`i${value}e`);
  if (typeof value === 'string') value = Buffer.from(value, 'latin1');
  if (Buffer.isBuffer(value)) return Buffer.concat([Buffer.from(`${value.length}:`), value]);
  if (Array.isArray(value)) return Buffer.concat([Buffer.from('l'), ...value.map(encode), Buffer.from('e')]);
  return Buffer.concat([
    Buffer.from('d'),
    ...value.dict.flatMap(([k, v]) => [encode(k), encode(v)]),
    Buffer.from('e'),
  ]);
}

const dict = (entries: [string, Ben][]): Ben => ({ dict: entries });

const COMMANDS = [
  'offer',
  'answer',
  'delete',
  'query',
  'list',
  'statistics',
  'ping',
  'start recording',
  'stop recording',
  'block media',
  '__proto__',
  'constructor',
  'toString',
  '',
];

const ADDRESSES = ['127.0.0.1', '0.0.0.0', '::1', 'fe80::1%eth0', '255.255.255.255', '224.0.0.1', 'x', ''];

/** Generates ng datagrams: valid-looking commands with odd arguments and SDP, and broken bencode. */
export class NgGenerator {
  /** Call-IDs offered before, so that answer/delete/query hit existing sessions too. */
  private readonly callIds: string[] = [];

  constructor(private readonly rng: Prng) {}

  private callId(): string {
    const rng = this.rng;
    if (this.callIds.length > 0 && rng.chance(0.5)) return rng.pick(this.callIds);
    const id = rng.chance(0.95) ? `${rng.token(10)}@fuzz` : rng.pick(['', '__proto__', 'x'.repeat(5000)]);
    this.callIds.push(id);
    if (this.callIds.length > 200) this.callIds.shift();
    return id;
  }

  private command(): { body: Ben; kind: string } {
    const rng = this.rng;
    const command = rng.weighted<string>([
      [6, 'offer'],
      [3, 'answer'],
      [2, 'delete'],
      [1, rng.pick(COMMANDS)],
    ]);
    const entries: [string, Ben][] = [
      ['call-id', this.callId()],
      ['command', command],
      ['from-tag', rng.chance(0.9) ? rng.pick(['a', 'b', rng.token(6)]) : ''],
    ];
    if (command !== 'offer' || rng.chance(0.5)) entries.push(['to-tag', rng.pick(['a', 'b', rng.token(6)])]);
    let kind = `ng:${command || 'empty'}`;
    if (command === 'offer' || command === 'answer' || rng.chance(0.1)) {
      const sdp = sdpBody(rng, 60_000);
      entries.push(['sdp', rng.chance(0.95) ? sdp.body : rng.int(100)]);
      kind += `,${sdp.kind}`;
    }
    if (rng.chance(0.3))
      entries.push([
        'flags',
        rng.chance(0.8)
          ? [rng.pick(['SIP-source-address', 'strict-source', 'trust-address', 'x'])]
          : 'notalist',
      ]);
    if (rng.chance(0.2)) entries.push(['replace', [rng.pick(['origin', 'session-connection', 'x'])]]);
    if (rng.chance(0.2)) entries.push(['ICE', rng.pick(['remove', 'force', 'x', ''])]);
    if (rng.chance(0.2))
      entries.push(['rtcp-mux', [rng.pick(['offer', 'require', 'demux', 'reject', 'accept', 'x'])]]);
    if (rng.chance(0.2)) entries.push(['direction', [rng.pick(ADDRESSES), rng.pick(ADDRESSES)]]);
    if (rng.chance(0.2))
      entries.push([
        'received-from',
        rng.chance(0.8) ? [rng.pick(['IP4', 'IP6', 'x']), rng.pick(ADDRESSES)] : 'x',
      ]);
    if (rng.chance(0.05)) entries.push(['record call', rng.pick(['yes', 'no', 'x'])]);
    if (rng.chance(0.1)) entries.push(['via-branch', rng.token(8)]);
    if (rng.chance(0.05)) entries.push(['__proto__', dict([['polluted', 'yes']])]);
    if (rng.chance(0.1)) {
      // Unsorted keys and a duplicate key.
      entries.reverse();
      entries.push(['command', rng.pick(COMMANDS)]);
      kind += ',unsorted';
    }
    return { body: dict(entries), kind };
  }

  next(): FuzzMessage {
    const rng = this.rng;
    const cookie = () =>
      rng.chance(0.95) ? `${rng.token(8)}_${rng.int(1e6)}` : rng.pick(['', 'x'.repeat(2000), ' ', '\0']);
    const r = rng.int(20);
    if (r < 9) {
      const { body, kind } = this.command();
      return { bytes: Buffer.concat([Buffer.from(`${cookie()} `), encode(body)]), kind };
    }
    if (r < 11) {
      // A valid command, truncated or with bytes flipped.
      const { body, kind } = this.command();
      const bytes = Buffer.concat([Buffer.from(`${cookie()} `), encode(body)]);
      if (rng.chance(0.5))
        return { bytes: bytes.subarray(0, rng.int(bytes.length)), kind: `${kind},truncated` };
      for (let i = rng.range(1, 6); i > 0; i--) {
        const k = rng.int(bytes.length);
        bytes[k] = bytes[k]! ^ (1 << rng.int(8));
      }
      return { bytes, kind: `${kind},bitflip` };
    }
    const depth = rng.range(100, 200_000);
    const garbage = rng.pick<() => [string, Buffer]>([
      () => ['nested-lists', Buffer.from(`${'l'.repeat(depth)}${rng.chance(0.5) ? 'e'.repeat(depth) : ''}`)],
      () => [
        'nested-dicts',
        Buffer.from(`${'d1:a'.repeat(depth)}i1e${'e'.repeat(rng.chance(0.5) ? depth : 0)}`),
      ],
      () => [
        'huge-length',
        Buffer.from(rng.pick(['99999999999999999999:abc', '4294967296:x', '65536:x', '-1:', '1e5:x', ':x'])),
      ],
      () => [
        'huge-int',
        Buffer.from(rng.pick([`i${'9'.repeat(5000)}e`, 'i-0e', 'i03e', 'ie', 'i--1e', 'i1.5e'])),
      ],
      () => [
        'dict-odd-keys',
        Buffer.from(
          rng.pick(['di1ei2ee', 'd1:ae', 'd7:command4:ping7:command4:pinge', 'd0:0:e', 'de', 'le', 'e']),
        ),
      ],
      () => ['top-level-not-dict', encode(rng.pick<Ben>(['offer', 42, ['command', 'offer']]))],
      () => ['random', rng.bytes(rng.range(1, 4000))],
      () => ['huge-string', Buffer.from(`d7:command4:ping3:sdp60000:${'x'.repeat(60_000)}e`)],
    ])();
    const [name, body] = garbage;
    const framed = rng.chance(0.15) ? body : Buffer.concat([Buffer.from(`${cookie()} `), body]);
    return { bytes: framed.subarray(0, 65_507), kind: `ng-garbage:${name}` };
  }
}
