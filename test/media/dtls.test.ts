// DTLS 1.2 for DTLS-SRTP (src/media/dtls, RFC 6347, RFC 5764): the relay's two roles against each other and
// against OpenSSL's s_client and s_server over real UDP sockets (the SRTP keys both ends export must be equal),
// fragmented and reordered handshakes (RFC 6347 §4.2.3), and hostile input: a wrong fingerprint, garbage
// records, a tampered Finished — each a clean failure or a discard with a reason, never an exception.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DtlsConnection,
  DtlsError,
  certificateFingerprint,
  matchesFingerprint,
  newDtlsIdentity,
  parseFingerprint,
  type DtlsIdentity,
  type SrtpKeying,
} from '../../src/media/dtls/index.js';
import {
  parseRecords,
  parseHandshakeFragments,
  recordHeader,
  handshakeMessage,
} from '../../src/media/dtls/dtls-wire.js';

const fingerprintOf = (id: DtlsIdentity) => [parseFingerprint(id.fingerprint)!];

interface End {
  connection: DtlsConnection;
  keys: Promise<SrtpKeying>;
  sent: Buffer[];
}

/** One end whose datagrams go through `deliver` (which may drop, split or reorder them). */
function end(
  role: 'server' | 'client',
  identity: DtlsIdentity,
  peer: DtlsIdentity,
  deliver: (datagram: Buffer) => void,
): End {
  const sent: Buffer[] = [];
  let connection!: DtlsConnection;
  const keys = new Promise<SrtpKeying>((resolve, reject) => {
    connection = new DtlsConnection({
      role,
      identity,
      verifyPeer: (c) => matchesFingerprint(c, fingerprintOf(peer)),
      send: (d) => {
        sent.push(d);
        setImmediate(() => deliver(d));
      },
      onConnected: resolve,
      onFailed: reject,
      timeoutMs: 5000,
    });
  });
  return { connection, keys, sent };
}

function pair(transform: (from: 'client' | 'server', d: Buffer) => Buffer[] = (_, d) => [d]) {
  const serverId = newDtlsIdentity();
  const clientId = newDtlsIdentity();
  const server: End = end('server', serverId, clientId, (d) => {
    for (const piece of transform('server', d)) client.connection.receive(piece);
  });
  const client: End = end('client', clientId, serverId, (d) => {
    for (const piece of transform('client', d)) server.connection.receive(piece);
  });
  return { server, client };
}

function assertMirrored(server: SrtpKeying, client: SrtpKeying) {
  assert.equal(server.suite.name, 'AES_CM_128_HMAC_SHA1_80');
  assert.deepEqual(server.localKey, client.remoteKey);
  assert.deepEqual(server.localSalt, client.remoteSalt);
  assert.deepEqual(server.remoteKey, client.localKey);
  assert.deepEqual(server.remoteSalt, client.localSalt);
  assert.notDeepEqual(server.localKey, server.remoteKey);
  assert.equal(server.localKey.length, 16);
  assert.equal(server.localSalt.length, 14);
}

/** Cuts every handshake message of a datagram into `size`-byte fragments, each in its own record. */
function fragmentHandshakes(datagram: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (const record of parseRecords(datagram)) {
    if (record.type !== 22 || record.epoch !== 0) {
      out.push(
        Buffer.concat([
          recordHeader(record.type, record.version, record.epoch, record.sequence, record.fragment.length),
          record.fragment,
        ]),
      );
      continue;
    }
    for (const f of parseHandshakeFragments(record.fragment)) {
      // An empty message (ServerHelloDone) is one empty fragment.
      for (let offset = 0; offset === 0 || offset < f.body.length; offset += size) {
        const piece = handshakeMessage(
          f.msgType,
          f.messageSeq,
          f.body.subarray(offset, offset + size),
          offset,
          f.length,
        );
        out.push(Buffer.concat([recordHeader(22, record.version, 0, record.sequence, piece.length), piece]));
      }
    }
  }
  return out;
}

describe('DTLS-SRTP handshake (RFC 5764)', () => {
  // The connection's timers are unref'd (a relay's sockets keep it alive); here nothing else would.
  const alive = setInterval(() => undefined, 1000);
  after(() => clearInterval(alive));

  test('§4.2: the relay as client and as server export the same SRTP keys, mirrored', async () => {
    const { server, client } = pair();
    client.connection.start();
    const [s, c] = await Promise.all([server.keys, client.keys]);
    assertMirrored(s, c);
    assert.ok(server.connection.connected && client.connection.connected);
  });

  test('RFC 6347 §4.2.3: fragments sent out of order and repeated are reassembled (Chrome splits its ClientHello)', async () => {
    const { server, client } = pair((from, d) => {
      const pieces = fragmentHandshakes(d, 100);
      // Last fragment first, then all of them: overlaps and repeats must be harmless.
      return from === 'client' ? [pieces[pieces.length - 1]!, ...pieces] : pieces;
    });
    client.connection.start();
    const [s, c] = await Promise.all([server.keys, client.keys]);
    assertMirrored(s, c);
  });

  test('§4.2.4: a lost flight is sent again; the handshake completes', async () => {
    let dropped = false;
    const { server, client } = pair((from, d) => {
      if (from === 'server' && !dropped) {
        dropped = true;
        return [];
      }
      return [d];
    });
    client.connection.start();
    const [s, c] = await Promise.all([server.keys, client.keys]);
    assertMirrored(s, c);
    assert.ok(dropped);
  });

  test('a client sent a ClientHello by its server (roles racing the SDP answer) ignores it and still connects', async () => {
    const { server, client } = pair();
    const stray = new DtlsConnection({
      role: 'client',
      identity: newDtlsIdentity(),
      verifyPeer: () => true,
      send: (d) => client.connection.receive(d),
      onConnected: () => assert.fail('the stray client connected'),
      onFailed: () => undefined,
    });
    stray.start();
    stray.close();
    assert.ok(!client.connection.finished, 'the client did not fail on the stray ClientHello');
    client.connection.start();
    const [s, c] = await Promise.all([server.keys, client.keys]);
    assertMirrored(s, c);
  });

  test('RFC 8122 §5: a certificate that does not match the SDP fingerprint fails with a reason and an alert', async () => {
    const serverId = newDtlsIdentity();
    const clientId = newDtlsIdentity();
    const stranger = newDtlsIdentity();
    const ends: { client?: End } = {};
    const serverEnd = end('server', serverId, stranger, (d) => ends.client?.connection.receive(d));
    const clientEnd = (ends.client = end('client', clientId, serverId, (d) =>
      serverEnd.connection.receive(d),
    ));
    clientEnd.keys.catch(() => undefined);
    clientEnd.connection.start();
    await assert.rejects(
      serverEnd.keys,
      (err: unknown) => err instanceof DtlsError && err.code === 'fingerprint',
    );
    // The last datagram the server sent is a fatal bad_certificate alert (42).
    const alert = parseRecords(serverEnd.sent.at(-1)!)[0]!;
    assert.equal(alert.type, 21);
    assert.deepEqual([...alert.fragment], [2, 42]);
    assert.ok(serverEnd.connection.finished);
  });

  test('hostile datagrams: garbage, truncated records, oversized fragments — failures with reasons, no throw', () => {
    const id = newDtlsIdentity();
    const inputs = [
      Buffer.alloc(0),
      Buffer.from([22]),
      Buffer.concat([
        recordHeader(22, 0xfefd, 0, 0, 12),
        handshakeMessage(1, 0, Buffer.alloc(0)).subarray(0, 12),
      ]),
      // A ClientHello claiming to be 16 MiB long, in a small fragment.
      Buffer.concat([
        recordHeader(22, 0xfefd, 0, 0, 22),
        Buffer.from('01ffffff000000000000000a', 'hex'),
        randomBytes(10),
      ]),
      // A fragment running past its message.
      Buffer.concat([
        recordHeader(22, 0xfefd, 0, 0, 22),
        Buffer.from('0100000a00000000050000' + '0a', 'hex'),
        randomBytes(10),
      ]),
      ...Array.from({ length: 200 }, () => Buffer.concat([Buffer.from([22, 0xfe, 0xfd]), randomBytes(60)])),
    ];
    const reasons = new Set<string>();
    for (const input of inputs) {
      const connection = new DtlsConnection({
        role: 'server',
        identity: id,
        verifyPeer: () => true,
        send: () => undefined,
        onConnected: () => assert.fail('connected on garbage'),
        onFailed: (err) => reasons.add(err.code),
      });
      assert.doesNotThrow(() => connection.receive(input));
      connection.close();
    }
    assert.ok(
      [...reasons].every((r) => r === 'malformed'),
      [...reasons].join(),
    );
    assert.ok(reasons.size > 0);
  });

  test('§4.1.2.7: a tampered Finished record is discarded unanswered; the one sent again completes the handshake', async () => {
    let tampered = false;
    const { server, client } = pair((from, d) => {
      if (from !== 'client') return [d];
      const records = parseRecords(d);
      // The client's epoch-1 record is its Finished: flip a bit of the ciphertext — it no longer authenticates
      // and is discarded (RFC 6347 §4.1.2.7), so the server never connects and the client times out.
      const out = records.map((r) => {
        const fragment = Buffer.from(r.fragment);
        if (r.epoch === 1 && !tampered) {
          tampered = true;
          fragment[fragment.length - 1]! ^= 1;
        }
        return Buffer.concat([
          recordHeader(r.type, r.version, r.epoch, r.sequence, fragment.length),
          fragment,
        ]);
      });
      return [Buffer.concat(out)];
    });
    client.connection.start();
    // The client sends its last flight again on its timer; the untampered copy completes the handshake.
    const [s, c] = await Promise.all([server.keys, client.keys]);
    assertMirrored(s, c);
    assert.ok(tampered);
  });
});

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

/** SRTP keying material in RFC 5764 §4.2 order (client key, server key, client salt, server salt), as hex. */
function material(keys: SrtpKeying, role: 'server' | 'client'): string {
  const [client, server] =
    role === 'client' ? (['local', 'remote'] as const) : (['remote', 'local'] as const);
  return Buffer.concat([
    keys[`${client}Key`],
    keys[`${server}Key`],
    keys[`${client}Salt`],
    keys[`${server}Salt`],
  ])
    .toString('hex')
    .toUpperCase();
}

/**
 * The relay's end in `role` on a UDP socket, OpenSSL in the other role, both with certificates (the server
 * requires the client's, as RFC 5763 §5 asks): the keying material each exports.
 */
async function againstOpenssl(
  role: 'server' | 'client',
  dir: string,
): Promise<{ ours: string; theirs: string }> {
  const key = join(dir, 'peer.key');
  const cert = join(dir, 'peer.pem');
  const made = spawnSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '2',
    '-subj',
    '/CN=peer',
  ]);
  assert.equal(made.status, 0, made.stderr.toString());
  const peer = new X509Certificate(readFileSync(cert)).raw;
  const identity = newDtlsIdentity();
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const opensslSocket = createSocket('udp4');
  await new Promise<void>((resolve) => opensslSocket.bind(0, '127.0.0.1', resolve));
  const opensslPort = opensslSocket.address().port;
  opensslSocket.close();
  let peerPort = role === 'client' ? opensslPort : 0;
  let connection!: DtlsConnection;
  const keys = new Promise<SrtpKeying>((resolve, reject) => {
    connection = new DtlsConnection({
      role,
      identity,
      verifyPeer: (c) => matchesFingerprint(c, [{ hash: 'sha-256', value: certificateFingerprint(peer) }]),
      send: (d) => socket.send(d, peerPort, '127.0.0.1'),
      onConnected: resolve,
      onFailed: reject,
      timeoutMs: 10_000,
    });
  });
  socket.on('message', (m, from) => {
    peerPort = from.port;
    connection.receive(m);
  });
  const common = [
    '-dtls1_2',
    '-cert',
    cert,
    '-key',
    key,
    '-use_srtp',
    'SRTP_AES128_CM_SHA1_80',
    '-keymatexport',
    'EXTRACTOR-dtls_srtp',
    '-keymatexportlen',
    '60',
  ];
  const args =
    role === 'client'
      ? ['s_server', ...common, '-accept', `127.0.0.1:${opensslPort}`, '-Verify', '1']
      : ['s_client', ...common, '-connect', `127.0.0.1:${socket.address().port}`];
  const openssl = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  const theirs = new Promise<string>((resolve, reject) => {
    const seen = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Keying material: ([0-9A-F]+)/.exec(output);
      if (match) resolve(match[1]!);
    };
    openssl.stdout.on('data', seen);
    openssl.stderr.on('data', seen);
    openssl.on('exit', () => reject(new Error(`openssl exited: ${output.slice(-800)}`)));
  });
  try {
    if (role === 'client') {
      // s_server needs a moment to bind; the client's retransmission timer covers a ClientHello sent too early.
      connection.start();
    }
    const [ours, exported] = await Promise.all([keys, theirs]);
    return { ours: material(ours, role), theirs: exported };
  } finally {
    connection.close();
    openssl.kill();
    socket.close();
  }
}

describe(
  'DTLS-SRTP against OpenSSL (s_client, s_server)',
  { skip: !hasOpenssl && 'openssl is not installed' },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'voxgate-dtls-'));
    after(() => rmSync(dir, { recursive: true, force: true }));

    test('the relay as DTLS server (a=setup:passive): OpenSSL s_client exports the same SRTP keys', async () => {
      const { ours, theirs } = await againstOpenssl('server', dir);
      assert.equal(ours, theirs);
    });

    test('the relay as DTLS client (a=setup:active): OpenSSL s_server, which requires its certificate, agrees', async () => {
      const { ours, theirs } = await againstOpenssl('client', dir);
      assert.equal(ours, theirs);
    });
  },
);
