import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import {
  contactsOf,
  createSipEndpoint,
  header,
  isSipUri,
  toOf,
  validateRequest,
  type InboundContext,
  type SipEndpoint,
  type SipRequest,
  type UasPolicy,
} from '../../src/sip/index.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'sip');

export function loadFixture(corpus: 'rfc4475' | 'rfc5118', name: string): Buffer {
  return readFileSync(join(fixtures, corpus, `${name}.dat`));
}

/**
 * The UAS policy of the test element: a B2BUA-like UAS (it enforces Max-Forwards, RFC 3261 §16.3 step 3),
 * serving sip, sips and tel Request-URIs.
 */
export const policy: UasPolicy = {
  allowedMethods: [
    'INVITE',
    'ACK',
    'CANCEL',
    'BYE',
    'OPTIONS',
    'REGISTER',
    'MESSAGE',
    'INFO',
    'UPDATE',
    'PRACK',
  ],
  supportedExtensions: ['100rel', 'timer', 'replaces', 'path', 'outbound', 'gruu'],
  acceptedContentTypes: ['application/sdp', 'multipart/mixed', 'text/plain', 'application/dtmf-relay'],
  uriSchemes: ['sip', 'sips', 'tel'],
  responseContentType: 'application/sdp',
  enforceMaxForwards: true,
};

/** AORs whose registrations need credentials (everything else registers without). */
const protectedAors = new Set(['sip:j.user@example.com']);

/**
 * A registrar-ish REGISTER handler: the AOR must be a sip/sips URI (§10.3 step 3, RFC 4475 §3.3.2 unksm2 →
 * 400); a protected AOR needs Digest credentials, and an Authorization of a scheme it does not know is
 * ignored, so the request is challenged (RFC 4475 §3.3.7 regaut01 → 401); otherwise 200 echoing the
 * bindings as parsed, a contact's params outside <> and its URI's params inside (cparam01/02, regescrt).
 */
function register(request: SipRequest, ctx: InboundContext): void {
  const to = toOf(request)!;
  if (!isSipUri(to.uri))
    return ctx.reply(400, 'Bad Request', { Warning: '399 test "AOR must be sip or sips"' });
  const aor = `${to.uri.scheme}:${to.uri.user ?? ''}@${to.uri.host}`;
  const digest = /^Digest\s/i.test(header(request, 'Authorization') ?? '');
  if (protectedAors.has(aor) && !digest) {
    return ctx.reply(401, 'Unauthorized', {
      'WWW-Authenticate': 'Digest realm="example.com", nonce="torture", algorithm=MD5, qop="auth"',
    });
  }
  const contacts = contactsOf(request);
  const bindings =
    contacts === '*'
      ? []
      : contacts.map(
          (c) =>
            `<${c.uriText}>${c.params.map((p) => `;${p.name}${p.value === undefined ? '' : `=${p.value}`}`).join('')}`,
        );
  ctx.reply(200, 'OK', bindings.length > 0 ? { Contact: bindings } : {});
}

/** The minimal UAS of the conformance tests: §8.2 checks, then REGISTER to the registrar, the rest 200. */
export function tortureUas(request: SipRequest, ctx: InboundContext): void {
  const rejection = validateRequest(request, policy);
  if (rejection) return ctx.reply(rejection.status, rejection.reason, rejection.headers);
  if (request.method === 'ACK') return;
  if (request.method === 'REGISTER') return register(request, ctx);
  ctx.reply(200, 'OK', request.method === 'OPTIONS' ? { Allow: policy.allowedMethods.join(', ') } : {});
}

export function startTortureUas(options: { tcpIdleTimeoutMs?: number } = {}): Promise<SipEndpoint> {
  return createSipEndpoint({ host: '127.0.0.1', udpPort: 0, tcpPort: 0, onRequest: tortureUas, ...options });
}

/** The port a response without rport goes to: the top Via's sent-by port, or 5060 (§18.2.2). */
function viaPort(bytes: Buffer): number {
  const via = /\r\n(?:Via|v)[ \t]*:[ \t]*([^\r]*)/i.exec(bytes.toString('latin1'))?.[1] ?? '';
  return Number(/^SIP\s*\/\s*2\.0\s*\/\s*\S+\s+(?:\[[^\]]+\]|[^;:\s]+):(\d+)/i.exec(via)?.[1] ?? 5060);
}

/**
 * Sends one datagram from `fromAddress` (a loopback address of its own, so that two test files binding the
 * same Via port do not collide) at the message's Via port, and collects what comes back: until `waitMs` pass
 * without an answer, or a short grace after the first one (long enough to see a second, wrong, answer).
 */
export function udpExchange(
  bytes: Buffer,
  fromAddress: string,
  to: number,
  waitMs: number,
  graceMs = 100,
): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const got: string[] = [];
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      socket.close();
      resolve(got);
    };
    socket.on('message', (m) => {
      got.push(m.toString('latin1'));
      if (got.length === 1) {
        clearTimeout(timer);
        timer = setTimeout(finish, graceMs);
      }
    });
    socket.once('error', reject);
    socket.bind(viaPort(bytes), fromAddress, () => {
      socket.send(bytes, to, '127.0.0.1');
      timer = setTimeout(finish, waitMs);
    });
  });
}

/** Writes bytes on a new TCP connection and resolves with all it received once the server closes it. */
export function tcpUntilClosed(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
    socket.once('error', reject);
    socket.once('close', () => resolve(data));
    socket.once('connect', () => socket.write(bytes));
  });
}

/** A well-formed OPTIONS with rport, to check that the endpoint still answers. */
export async function stillAnswers(port: number): Promise<string> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const local = socket.address().port;
  const request = [
    `OPTIONS sip:uas@127.0.0.1:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bKalive${local};rport`,
    'Max-Forwards: 70',
    'From: <sip:probe@example.com>;tag=alive',
    `To: <sip:uas@127.0.0.1:${port}>`,
    `Call-ID: alive-${local}@probe`,
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('the endpoint did not answer an OPTIONS within 5 s'));
    }, 5000);
    socket.once('message', (m) => {
      clearTimeout(timer);
      socket.close();
      resolve(m.toString('latin1'));
    });
    socket.send(request, port, '127.0.0.1');
  });
}

export function statusOf(response: string | undefined): number | undefined {
  const m = /^SIP\/2\.0 (\d{3}) /.exec(response ?? '');
  return m ? Number(m[1]) : undefined;
}
