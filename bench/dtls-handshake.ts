/**
 * bench:dtls — CPU of one DTLS-SRTP handshake of the relay (src/media/dtls): both ends in this process (the
 * relay's server role against its client role, ECDHE X25519 + ECDSA P-256, AES-128-GCM), datagrams passed on
 * the next turn of the event loop. Reports CPU per handshake for the two ends together; the relay pays about
 * half of it per WebRTC call. Media after the handshake is SRTP, measured by bench:media.
 */
import {
  DtlsConnection,
  matchesFingerprint,
  newDtlsIdentity,
  parseFingerprint,
} from '../src/media/dtls/index.js';

const server = newDtlsIdentity();
const client = newDtlsIdentity();
const fingerprintOf = (id: typeof server) => [parseFingerprint(id.fingerprint)!];

function handshake(): Promise<void> {
  return new Promise((resolve, reject) => {
    let connected = 0;
    const done = () => {
      if (++connected < 2) return;
      a.close();
      b.close();
      resolve();
    };
    const a: DtlsConnection = new DtlsConnection({
      role: 'server',
      identity: server,
      verifyPeer: (c) => matchesFingerprint(c, fingerprintOf(client)),
      send: (d) => setImmediate(() => b.receive(d)),
      onConnected: done,
      onFailed: reject,
    });
    const b: DtlsConnection = new DtlsConnection({
      role: 'client',
      identity: client,
      verifyPeer: (c) => matchesFingerprint(c, fingerprintOf(server)),
      send: (d) => setImmediate(() => a.receive(d)),
      onConnected: done,
      onFailed: reject,
    });
    b.start();
  });
}

const count = Number(process.env.BENCH_HANDSHAKES ?? 1000);
for (let i = 0; i < 50; i++) await handshake();
const cpu0 = process.cpuUsage();
const wall0 = performance.now();
for (let i = 0; i < count; i++) await handshake();
const cpu = process.cpuUsage(cpu0);
const cpuMs = (cpu.user + cpu.system) / 1000 / count;
console.log(
  `${count} DTLS-SRTP handshakes: ${cpuMs.toFixed(2)} ms CPU each (both ends), ` +
    `${((performance.now() - wall0) / count).toFixed(2)} ms wall; ~${Math.floor(1000 / (cpuMs / 2))} relay-side handshakes per CPU-second`,
);
