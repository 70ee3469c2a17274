import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { createSipEndpoint, type SipEndpoint } from '../../src/sip/index.js';
import { sipRequest } from '../helpers/udp.js';

/** A throwaway self-signed certificate for 127.0.0.1, made with the openssl CLI. */
function selfSigned(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'voxgate-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('SIP over TLS (RFC 3261 §26.2, sips)', () => {
  let endpoint: SipEndpoint;
  let cert: Buffer;
  const transports: string[] = [];
  before(async () => {
    const pair = selfSigned();
    cert = pair.cert;
    endpoint = await createSipEndpoint({
      host: '127.0.0.1',
      tls: { port: 0, key: pair.key, cert: pair.cert },
      onRequest(request, ctx) {
        transports.push(ctx.transport);
        ctx.reply(200, 'OK');
      },
    });
  });
  after(() => endpoint.close());

  test('an OPTIONS over a verified TLS connection is answered on it; pipelined messages too', async () => {
    const port = endpoint.address().tls!.port;
    const socket = connect({ host: '127.0.0.1', port, ca: cert, servername: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    assert.equal(socket.authorized, true);
    let data = '';
    const two = new Promise<void>((resolve) =>
      socket.on('data', (d: Buffer) => {
        data += d.toString('latin1');
        if ((data.match(/SIP\/2\.0 200 OK/g) ?? []).length === 2) resolve();
      }),
    );
    const tls = (m: string) => sipRequest(m, port).replace('SIP/2.0/UDP', 'SIP/2.0/TLS');
    socket.write(tls('OPTIONS') + tls('OPTIONS'));
    await two;
    socket.destroy();
    assert.deepEqual(transports, ['tls', 'tls']);
  });
});
