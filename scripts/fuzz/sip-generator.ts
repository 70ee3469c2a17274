import type { Prng } from './prng.js';

/** One message the fuzzer sends: its bytes and a label saying how it was made (for statistics and replays). */
export interface FuzzMessage {
  bytes: Buffer;
  kind: string;
}

/** The SIP listener under test, as the generated messages address it. */
export interface SipTargetInfo {
  /** Transport token of our own Via (UDP, TCP, TLS, WS, WSS). */
  via: string;
  host: string;
  port: number;
  /** A number assigned to a registered user: INVITEs to it from a trunk address reach the media relay. */
  did: string;
  /** A number whose user the fuzz registers itself with fuzzed Contacts. */
  roamerDid?: string;
  /** The tenant's SIP domain. */
  domain: string;
}

/** A named sample from the RFC 4475/5118 corpus. */
export interface CorpusEntry {
  name: string;
  bytes: Buffer;
}

const CRLF = '\r\n';

const METHODS = ['INVITE', 'OPTIONS', 'REGISTER', 'BYE', 'CANCEL', 'ACK', 'PRACK', 'UPDATE', 'INFO'];
const OTHER_METHODS = ['SUBSCRIBE', 'NOTIFY', 'MESSAGE', 'REFER', 'PUBLISH', 'FOO', 'NEWMETHOD'];

/** Hosts a Via, Contact, Route or maddr/received may name: the unusual ones are the point. */
const HOSTS = [
  '127.0.0.1',
  '[::1]',
  '::1',
  '[fe80::1%eth0]',
  'fe80::1%eth0',
  '[fe80::1%25eth0]',
  '[fe80::1%lo]',
  '0.0.0.0',
  '[::]',
  '::',
  '255.255.255.255',
  '224.0.0.1',
  '239.255.255.250',
  '[ff02::1]',
  '127.255.255.255',
  'no-such-host.invalid',
  'a.b.c.d.e.f.invalid',
  'localhost',
  '999.999.999.999',
  '1.2.3',
  '01.02.03.004',
  '[::ffff:127.0.0.1]',
  '[2001:db8::1]',
  '[2001:db8::1',
  '2001:db8::1]',
  '[]',
  '[:::]',
  '-',
  '.',
  '',
  `${'a'.repeat(63)}.${'b'.repeat(63)}.invalid`,
  `${'x'.repeat(300)}.invalid`,
];

const PORTS = [
  '',
  ':0',
  ':1',
  ':5060',
  ':65535',
  ':65536',
  ':99999',
  ':-1',
  ':00005060',
  ':4294967296',
  ':abc',
  ':',
];

function host(rng: Prng, target: SipTargetInfo): string {
  return rng.chance(0.25) ? '127.0.0.1' : rng.chance(0.05) ? target.host : rng.pick(HOSTS);
}

function port(rng: Prng): string {
  return rng.chance(0.3) ? `:${rng.range(1024, 65535)}` : rng.pick(PORTS);
}

const branch = (rng: Prng) => `z9hG4bK${rng.token(12)}`;

function viaValue(rng: Prng, target: SipTargetInfo): { value: string; kind: string } {
  const transport = rng.weighted<string>([
    [8, target.via],
    [1, 'UDP'],
    [1, 'TCP'],
    [1, 'TLS'],
    [1, 'WS'],
    [1, 'SCTP'],
    [1, 'FOO'],
    [1, ''],
  ]);
  const version = rng.weighted<string>([
    [10, 'SIP/2.0'],
    [1, 'SIP/1.0'],
    [1, 'sip/2.0'],
    [1, 'SIP/2.0/SIP/2.0'],
  ]);
  let kind: string;
  let sentBy: string;
  const r = rng.int(10);
  if (r < 3) {
    sentBy = `127.0.0.1${port(rng)}`;
    kind = 'via-port';
  } else if (r < 8) {
    sentBy = `${host(rng, target)}${port(rng)}`;
    kind = 'via-host';
  } else {
    sentBy = `${host(rng, target)}${port(rng)}${port(rng)}`;
    kind = 'via-double-port';
  }
  const params: string[] = [];
  if (!rng.chance(0.05)) params.push(`branch=${rng.chance(0.9) ? branch(rng) : rng.pick(['', 'x', '1'])}`);
  const rport = rng.weighted<string | undefined>([
    [5, undefined],
    [3, 'rport'],
    [1, 'rport=0'],
    [1, 'rport=65536'],
    [1, 'rport=5060'],
    [1, 'rport=abc'],
    [1, 'rport='],
  ]);
  if (rport) params.push(rport);
  if (rng.chance(0.2)) params.push(`maddr=${host(rng, target)}`);
  if (rng.chance(0.2)) params.push(`received=${host(rng, target)}`);
  if (rng.chance(0.1)) params.push(`ttl=${rng.pick(['0', '1', '255', '256', '-1', 'x'])}`);
  if (rng.chance(0.05)) params.push(`${rng.token(3)}=${rng.token(5)}`, 'branch=z9hG4bKdup');
  if (rng.chance(0.1)) for (let i = rng.int(4); i > 0; i--) params.splice(rng.int(params.length + 1), 0, ';');
  const value = `${version}/${transport} ${sentBy}${params.map((p) => `;${p}`).join('')}`;
  return { value, kind: `${kind}${rport ? '+rport' : ''}` };
}

function uri(rng: Prng, target: SipTargetInfo, user?: string): string {
  const u = user ?? rng.pick([target.did, 'alice', '+15550000', '']);
  const scheme = rng.weighted<string>([
    [12, 'sip'],
    [2, 'sips'],
    [1, 'tel'],
    [1, 'foo'],
    [1, 'SIP'],
  ]);
  if (scheme === 'tel') return `tel:${u || '+1'}`;
  if (rng.chance(0.6)) return `${scheme}:${u ? `${u}@` : ''}${target.host}:${target.port}`;
  const params = rng.chance(0.3)
    ? rng.pick([';transport=tcp', ';transport=ws', ';lr', ';maddr=224.0.0.1', ';user=phone', ';;;', ';=x'])
    : '';
  return `${scheme}:${u ? `${u}@` : ''}${host(rng, target)}${port(rng)}${params}`;
}

/** An SDP body: mostly plausible, with the c=/m= lines the relay reads made odd. */
export function sdpBody(rng: Prng, maxBytes = 60_000, wild = true): { body: string; kind: string } {
  if (!wild) return { body: plainSdp(rng), kind: 'sdp-plain' };
  const lines = ['v=0', `o=fuzz ${rng.int(1e9)} 1 IN IP4 127.0.0.1`, 's=-'];
  const connection = rng.weighted<string>([
    [6, 'c=IN IP4 127.0.0.1'],
    [1, 'c=IN IP4 0.0.0.0'],
    [1, 'c=IN IP4 224.0.0.1/127/3'],
    [1, 'c=IN IP4 999.1.1.1'],
    [1, 'c=IN IP6 ::1'],
    [1, 'c=IN IP6 fe80::1%eth0'],
    [1, 'c=IN IP4'],
    [1, 'c=IN FOO bar'],
    [1, 'c='],
    [1, `c=IN IP4 ${'9'.repeat(200)}`],
    [1, 'c=IN IP4 no-such-host.invalid'],
  ]);
  if (!rng.chance(0.1)) lines.push(connection);
  lines.push('t=0 0');
  let kind = 'sdp';
  const mediaPort = () =>
    rng.weighted<string>([
      [5, String(rng.range(1024, 65534))],
      [2, '0'],
      [1, '65536'],
      [1, '99999'],
      [1, '-1'],
      [1, 'abc'],
      [1, `${rng.range(1024, 60000)}/2`],
      [1, `${rng.range(1024, 60000)}/99999`],
      [1, '9/0'],
    ]);
  const mline = () =>
    `m=${rng.pick(['audio', 'video', 'image', 'application', 'text', 'x'])} ${mediaPort()} ${rng.pick([
      'RTP/AVP',
      'RTP/SAVP',
      'RTP/SAVPF',
      'UDP/TLS/RTP/SAVPF',
      'udptl t38',
      'TCP/MSRP',
      'FOO',
    ])} ${rng.pick(['0 8 101', '0', '', '96 97 98', 'abc', '0 '.repeat(300)])}`;
  const shape = rng.int(10);
  if (shape < 6) {
    for (let i = rng.range(1, 3); i > 0; i--) {
      lines.push(mline());
      if (rng.chance(0.3)) lines.push(connection);
      if (rng.chance(0.5)) lines.push('a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000');
      if (rng.chance(0.2)) lines.push(`a=rtcp:${mediaPort()}${rng.chance(0.5) ? ' IN IP4 127.0.0.1' : ''}`);
      if (rng.chance(0.2)) lines.push('a=rtcp-mux');
      if (rng.chance(0.1)) lines.push(rng.pick(['a=sendonly', 'a=recvonly', 'a=inactive', 'a=sendrecv']));
      if (rng.chance(0.1))
        lines.push('a=ice-ufrag:x', 'a=ice-pwd:y', 'a=candidate:1 1 UDP 1 127.0.0.1 0 typ host');
      if (rng.chance(0.05)) lines.push('a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:garbage');
    }
  } else if (shape < 8) {
    // Thousands of m-lines: every one wants a port pair.
    const count = rng.range(500, 5000);
    kind = 'sdp-many-m';
    for (let i = 0; i < count; i++) lines.push(`m=audio ${rng.chance(0.5) ? 0 : 10000 + 2 * i} RTP/AVP 0`);
  } else if (shape < 9) {
    kind = 'sdp-garbage-lines';
    for (let i = rng.range(1, 50); i > 0; i--)
      lines.push(
        rng.pick([
          'm=',
          'm=audio',
          'a=',
          '=',
          'x',
          '',
          'v=1',
          'o=',
          'b=AS:-1',
          'k=clear:x',
          'z=0 -1h',
          `a=${'x'.repeat(5000)}`,
          'm=audio 5000 RTP/AVP 0\0',
        ]),
      );
  } else {
    kind = 'sdp-no-m';
  }
  let body = lines.join(rng.chance(0.9) ? CRLF : '\n') + CRLF;
  if (body.length > maxBytes) body = body.slice(0, maxBytes);
  return { body, kind };
}

/** A plausible offer: one or two audio streams on loopback. */
function plainSdp(rng: Prng): string {
  const lines = ['v=0', `o=fuzz ${rng.int(1e9)} 1 IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0'];
  for (let i = rng.range(1, 2); i > 0; i--) {
    lines.push(
      `m=audio ${2 * rng.range(5000, 30000)} RTP/AVP 0 8 101`,
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:8 PCMA/8000',
    );
    if (rng.chance(0.3)) lines.push('a=rtcp-mux');
  }
  return lines.join(CRLF) + CRLF;
}

function contentLength(rng: Prng, actual: number): { value?: string; kind?: string } {
  const r = rng.int(20);
  if (r < 13) return { value: String(actual) };
  const wrong = rng.pick([
    String(Math.max(0, actual - rng.range(1, 50))),
    String(actual + rng.range(1, 50)),
    String(actual + 100_000),
    '-1',
    '-99999',
    '99999999999999999999',
    '4294967296',
    '1e3',
    '0x10',
    ' ',
    `${actual}, ${actual}`,
  ]);
  if (r === 19) return { kind: 'cl-missing' };
  return { value: wrong, kind: 'cl-wrong' };
}

const FIELDS = ['start', 'via', 'headers', 'contact', 'route', 'length', 'sdp'] as const;
type Field = (typeof FIELDS)[number];

/**
 * A whole request built from parts: one or two of them (the focus) odd, the others sane, so that most
 * requests get past the parser to the transaction layer, the router, the B2BUA and the relay.
 */
export function structuredRequest(rng: Prng, target: SipTargetInfo): FuzzMessage {
  const focus = new Set<Field>([rng.pick(FIELDS), ...(rng.chance(0.3) ? [rng.pick(FIELDS)] : [])]);
  const wild = (f: Field) => focus.has(f);
  const method = wild('start')
    ? rng.weighted<string>([
        [4, 'INVITE'],
        [4, rng.pick(METHODS)],
        [1, rng.pick(OTHER_METHODS)],
        [2, rng.pick(['invite', 'INV ITE', 'INVITE\0', 'X'.repeat(rng.range(1, 2000)), '', 'I-N-V'])],
      ])
    : rng.weighted<string>([
        [8, 'INVITE'],
        [6, rng.pick(METHODS)],
        [1, rng.pick(OTHER_METHODS)],
      ]);
  const version =
    wild('start') && rng.chance(0.3)
      ? rng.pick(['SIP/2.1', 'SIP/1.0', 'sip/2.0', 'SIP/2.0.0', 'SIP/20', 'HTTP/1.1', '', 'SIP/2.0 extra'])
      : 'SIP/2.0';
  const dialled = target.roamerDid && rng.chance(0.2) ? target.roamerDid : target.did;
  const ruri = !wild('start')
    ? `sip:${dialled}@${target.host}:${target.port}`
    : rng.weighted<string>([
        [4, uri(rng, target, target.did)],
        [3, uri(rng, target)],
        [
          2,
          rng.pick([
            '*',
            '',
            `<sip:${target.did}@${target.host}>`,
            `sip:${target.did} @${target.host}`,
            'sip:%00@x',
            `sip:${'9'.repeat(5000)}@${target.host}`,
            'sip:[fe80::1%eth0]:5060',
            'sip:user@[::1]:0',
            'sip:user@host:99999',
          ]),
        ],
      ]);
  const known = METHODS.includes(method) || OTHER_METHODS.includes(method);
  const kinds: string[] = [`req:${known ? method : 'odd-method'}`, `focus=${[...focus].join('+')}`];
  const headers: string[] = [];
  if (wild('via')) {
    const via = viaValue(rng, target);
    kinds.push(via.kind);
    headers.push(`${rng.chance(0.05) ? 'v' : 'Via'}: ${via.value}`);
    for (let i = rng.chance(0.3) ? rng.range(1, 5) : 0; i > 0; i--)
      headers.push(`Via: ${viaValue(rng, target).value}`);
  } else {
    const rport = rng.chance(0.8) ? ';rport' : '';
    headers.push(
      `Via: SIP/2.0/${target.via} 127.0.0.1:${rng.range(1024, 65535)};branch=${branch(rng)}${rport}`,
    );
  }
  const odd = (p: number) => wild('headers') && rng.chance(p);
  headers.push(
    `Max-Forwards: ${odd(0.2) ? rng.pick(['0', '1', '-1', '256', '99999999999', 'abc', '']) : '70'}`,
  );
  const domain = odd(0.2) ? host(rng, target) : target.domain;
  headers.push(`From: ${odd(0.1) ? '"\\"x' : '"Fuzz"'} <sip:fuzz@${domain}>;tag=${rng.token(8)}`);
  headers.push(`To: <sip:${target.did}@${target.domain}>${rng.chance(0.1) ? `;tag=${rng.token(8)}` : ''}`);
  headers.push(
    `Call-ID: ${odd(0.1) ? rng.pick(['', 'x'.repeat(10_000), '@', ' ']) : `${rng.token(16)}@fuzz`}`,
  );
  const cseqMethod = odd(0.2) ? rng.pick(METHODS) : method;
  const cseq = odd(0.2)
    ? rng.pick(['0', '-1', '4294967296', '99999999999999999999', 'x', ''])
    : rng.range(1, 1000);
  headers.push(`CSeq: ${cseq} ${cseqMethod}`);
  if (wild('contact')) {
    headers.push(
      `Contact: ${rng.weighted<string>([
        [3, `<sip:fuzz@${host(rng, target)}${port(rng)}>`],
        [1, '*'],
        [
          1,
          `<sip:fuzz@127.0.0.1${port(rng)};transport=${rng.pick(['ws', 'tcp', 'tls', 'udp', 'sctp', 'x'])}>`,
        ],
        [1, `<sip:fuzz@127.0.0.1:5060>;expires=${rng.pick(['0', '-1', '99999999999', 'x'])}`],
        [1, Array.from({ length: rng.range(2, 200) }, (_, i) => `<sip:c${i}@127.0.0.1:${i + 1}>`).join(', ')],
        [
          1,
          rng.pick([
            '<',
            '<sip:>',
            '"unterminated <sip:x@y>',
            '<sip:x@y>;ob;reg-id=-1;+sip.instance="<urn:x>"',
          ]),
        ],
      ])}`,
    );
  } else if (rng.chance(0.8)) {
    headers.push(`Contact: <sip:fuzz@127.0.0.1:${rng.range(1024, 65535)}>`);
  }
  if (wild('route')) {
    const routes = Array.from(
      { length: rng.chance(0.9) ? rng.range(1, 4) : rng.range(50, 500) },
      () => `<sip:${host(rng, target)}${port(rng)}${rng.chance(0.7) ? ';lr' : ''}>`,
    );
    headers.push(`${rng.pick(['Route', 'Record-Route'])}: ${routes.join(', ')}`);
    if (rng.chance(0.3)) headers.push(`Route: <sip:${target.host}:${target.port};lr>`);
  }
  if (odd(0.2)) headers.push(rng.pick(['Require: 100rel', 'Supported: 100rel, timer', 'Require: foo']));
  if (odd(0.1)) headers.push(`X-${rng.token(4)}: ${'y'.repeat(rng.range(100, 30_000))}`);
  if (odd(0.1)) headers.push(rng.pick(['NoColonHeader', ': empty name', ' folded continuation']));

  let body = '';
  if (['INVITE', 'UPDATE', 'PRACK', 'ACK'].includes(method) ? rng.chance(0.85) : rng.chance(0.05)) {
    const sdp = sdpBody(rng, target.via === 'UDP' ? 50_000 : 400_000, wild('sdp'));
    body = sdp.body;
    kinds.push(sdp.kind);
    headers.push(
      `Content-Type: ${odd(0.1) ? rng.pick(['text/plain', 'application/sdp;x', '']) : 'application/sdp'}`,
    );
  }
  const cl = wild('length')
    ? contentLength(rng, Buffer.byteLength(body, 'latin1'))
    : { value: String(body.length) };
  if (cl.value !== undefined) headers.push(`${rng.chance(0.05) ? 'l' : 'Content-Length'}: ${cl.value}`);
  if ('kind' in cl && cl.kind) kinds.push(cl.kind);
  if (odd(0.1)) {
    // Shuffled: the stack may rely on an order nothing promises.
    for (let i = headers.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [headers[i], headers[j]] = [headers[j]!, headers[i]!];
    }
    kinds.push('shuffled');
  }
  const text = `${method} ${ruri} ${version}${CRLF}${headers.join(CRLF)}${CRLF}${CRLF}${body}`;
  return { bytes: Buffer.from(text, 'latin1'), kind: kinds.join(',') };
}

/** A response nobody asked for (no transaction matches), or one aimed at our own transactions' branches. */
export function strayResponse(rng: Prng, target: SipTargetInfo): FuzzMessage {
  const status = rng.pick([
    '100',
    '180',
    '183',
    '200',
    '302',
    '401',
    '407',
    '486',
    '503',
    '699',
    '0',
    '1000',
    'abc',
  ]);
  const via = viaValue(rng, target);
  const body = rng.chance(0.3) ? sdpBody(rng, 20_000).body : '';
  const text = [
    `SIP/2.0 ${status} ${rng.pick(['OK', '', 'Reason With Spaces', '\u00e9'])}`,
    `Via: ${via.value}`,
    `From: <sip:fuzz@${target.domain}>;tag=${rng.token(8)}`,
    `To: <sip:${target.did}@${target.domain}>;tag=${rng.token(8)}`,
    `Call-ID: ${rng.token(16)}@fuzz`,
    `CSeq: ${rng.range(1, 9)} ${rng.pick(METHODS)}`,
    ...(rng.chance(0.3) ? [`Contact: <sip:x@${host(rng, target)}${port(rng)}>`] : []),
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body, 'latin1')}`,
    '',
    body,
  ].join(CRLF);
  return { bytes: Buffer.from(text, 'latin1'), kind: `resp,${via.kind}` };
}

/** Byte-level mutations over a sample of the RFC 4475/5118 corpus. */
export function corpusMutation(rng: Prng, corpus: readonly CorpusEntry[]): FuzzMessage {
  const entry = rng.pick(corpus);
  let bytes = Buffer.from(entry.bytes);
  const ops: string[] = [];
  for (let n = rng.range(1, 4); n > 0; n--) {
    const op = rng.int(9);
    const at = rng.int(bytes.length + 1);
    switch (op) {
      case 0: {
        ops.push('bitflip');
        for (let i = rng.range(1, 8); i > 0 && bytes.length > 0; i--) {
          const k = rng.int(bytes.length);
          bytes[k] = bytes[k]! ^ (1 << rng.int(8));
        }
        break;
      }
      case 1:
        ops.push('truncate');
        bytes = bytes.subarray(0, at);
        break;
      case 2: {
        ops.push('duplicate');
        const end = Math.min(bytes.length, at + rng.range(1, 200));
        const chunk = bytes.subarray(at, end);
        const times = rng.chance(0.9) ? 1 : rng.range(2, 200);
        bytes = Buffer.concat([
          bytes.subarray(0, end),
          ...Array.from({ length: times }, () => chunk),
          bytes.subarray(end),
        ]);
        break;
      }
      case 3:
        ops.push('crlf');
        bytes = Buffer.concat([
          bytes.subarray(0, at),
          Buffer.from(rng.pick(['\r\n', '\r\n\r\n', '\r', '\n'])),
          bytes.subarray(at),
        ]);
        break;
      case 4:
        ops.push('nul');
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.alloc(rng.range(1, 4)), bytes.subarray(at)]);
        break;
      case 5:
        ops.push('delete');
        bytes = Buffer.concat([
          bytes.subarray(0, at),
          bytes.subarray(Math.min(bytes.length, at + rng.range(1, 40))),
        ]);
        break;
      case 6:
        ops.push('random');
        bytes = Buffer.concat([bytes.subarray(0, at), rng.bytes(rng.range(1, 16)), bytes.subarray(at)]);
        break;
      case 7: {
        ops.push('delimiters');
        const run = rng
          .pick([';', ',', ':', '<', '>', '"', '\\', ' ', '%', '@', '=', '[', ']'])
          .repeat(rng.range(10, 5000));
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(run), bytes.subarray(at)]);
        break;
      }
      default: {
        ops.push('splice');
        const other = rng.pick(corpus).bytes;
        bytes = Buffer.concat([bytes.subarray(0, at), other.subarray(rng.int(other.length))]);
      }
    }
  }
  return { bytes, kind: `corpus:${entry.name}:${ops.join('+')}` };
}

/** Not SIP at all, or only just. */
export function garbage(rng: Prng): FuzzMessage {
  const r = rng.int(6);
  if (r === 0) return { bytes: rng.bytes(rng.range(1, 2000)), kind: 'garbage:random' };
  if (r === 1) return { bytes: Buffer.from('\r\n'.repeat(rng.range(1, 4))), kind: 'garbage:crlf' };
  if (r === 2) return { bytes: Buffer.alloc(rng.range(1, 100)), kind: 'garbage:nul' };
  if (r === 3) return { bytes: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), kind: 'garbage:http' };
  if (r === 4)
    return { bytes: Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]), kind: 'garbage:tls-hello' };
  return {
    bytes: Buffer.from(
      `INVITE sip:x SIP/2.0\r\n${'Via: SIP/2.0/UDP x\r\n'.repeat(rng.range(100, 2000))}\r\n`,
    ),
    kind: 'garbage:many-via',
  };
}

/** The mix the fuzzer sends over a SIP transport. */
export function sipMessage(rng: Prng, target: SipTargetInfo, corpus: readonly CorpusEntry[]): FuzzMessage {
  return rng.weighted<() => FuzzMessage>([
    [60, () => structuredRequest(rng, target)],
    [8, () => strayResponse(rng, target)],
    [28, () => corpusMutation(rng, corpus)],
    [4, () => garbage(rng)],
  ])();
}
