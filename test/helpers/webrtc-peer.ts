import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:dgram';
import {
  DtlsConnection,
  matchesFingerprint,
  newDtlsIdentity,
  parseFingerprint,
  type DtlsIdentity,
  type SrtpKeying,
} from '../../src/media/dtls/index.js';
import { SrtpSession } from '../../src/media/srtp/srtp-session.js';
import {
  bindingRequest,
  bindingSuccess,
  parseStun,
  readBindingRequest,
  shortTermKey,
} from '../../src/media/stun/index.js';
import { party, type Party } from './rtp-party.js';

/**
 * A browser's media end as the relay sees it (what Chrome does, per shared/notes/webrtc-chromium.md): an offer
 * or answer in UDP/TLS/RTP/SAVPF with rtcp-mux, ICE credentials and a DTLS fingerprint; connectivity checks as
 * the controlling agent with USE-CANDIDATE, answers to the relay's own checks, the DTLS handshake in the role
 * the SDP gives it, and SRTP under the exported keys. Built on the relay's own DTLS and SRTP code, which
 * test/media/dtls.test.ts checks against OpenSSL.
 */
export class WebRtcPeer {
  readonly identity: DtlsIdentity = newDtlsIdentity('browser');
  readonly ufrag = randomBytes(3).toString('hex');
  readonly pwd = randomBytes(12).toString('hex');
  /** Decrypted RTP payloads received. */
  readonly received: Buffer[] = [];
  /** SRTP packets that did not authenticate. */
  rejected = 0;
  keys?: SrtpKeying;
  private dtls?: DtlsConnection;
  private tx?: SrtpSession;
  private rx?: SrtpSession;
  private relay?: { address: string; port: number };

  private constructor(readonly media: Party) {
    this.socket.on('message', (m, from) => this.packet(m, from));
  }

  static async create(): Promise<WebRtcPeer> {
    return new WebRtcPeer(await party());
  }

  get socket(): Socket {
    return this.media.socket;
  }

  get port(): number {
    return this.media.port;
  }

  /**
   * Chrome's audio section, as an offer (setup actpass) or an answer (setup active). `fingerprint` replaces
   * this end's own (a forged SDP: the handshake must then fail).
   */
  sdp(setup: 'actpass' | 'active', mid = '0', fingerprint = this.identity.fingerprint): string {
    return [
      'v=0',
      'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
      's=-',
      't=0 0',
      `a=group:BUNDLE ${mid}`,
      `m=audio ${this.port} UDP/TLS/RTP/SAVPF 111 0 8`,
      'c=IN IP4 127.0.0.1',
      'a=rtcp:9 IN IP4 0.0.0.0',
      `a=candidate:1 1 udp 2122260223 127.0.0.1 ${this.port} typ host generation 0`,
      `a=ice-ufrag:${this.ufrag}`,
      `a=ice-pwd:${this.pwd}`,
      'a=ice-options:trickle',
      `a=fingerprint:${fingerprint}`,
      `a=setup:${setup}`,
      `a=mid:${mid}`,
      'a=sendrecv',
      'a=rtcp-mux',
      'a=rtcp-rsize',
      'a=rtpmap:111 opus/48000/2',
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:8 PCMA/8000',
      '',
    ].join('\r\n');
  }

  /**
   * Connects to the relay end the SDP it received names: a check with USE-CANDIDATE (the browser controls),
   * then DTLS as the SDP's a=setup says (passive relay → this end is the client).
   */
  async connect(remoteSdp: string): Promise<SrtpKeying> {
    const text = String(remoteSdp);
    const port = Number(/^m=audio (\d+) /m.exec(text)?.[1]);
    const address = /^c=IN IP4 (\S+)/m.exec(text)?.[1] ?? '127.0.0.1';
    const ufrag = /^a=ice-ufrag:(\S+)/m.exec(text)?.[1];
    const pwd = /^a=ice-pwd:(\S+)/m.exec(text)?.[1];
    const fingerprint = parseFingerprint(/^a=fingerprint:(.+?)\r?$/m.exec(text)?.[1] ?? '');
    const setup = /^a=setup:(\S+)/m.exec(text)?.[1];
    if (!port || !ufrag || !pwd || !fingerprint || !setup) {
      throw new Error(`the SDP the browser got is not WebRTC's:\n${text}`);
    }
    this.relay = { address, port };
    const check = bindingRequest({
      transactionId: randomBytes(12),
      username: `${ufrag}:${this.ufrag}`,
      key: shortTermKey(pwd),
      priority: 2122260223,
      useCandidate: true,
      controlling: 0x1234n,
    })!;
    // Checks every 50 ms until the handshake is done (consent freshness goes on in a browser; not needed here).
    const checks = setInterval(() => this.socket.send(check, port, address), 50);
    this.socket.send(check, port, address);
    try {
      return await new Promise<SrtpKeying>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('DTLS did not connect in 10 s')), 10_000);
        this.dtls = new DtlsConnection({
          role: setup === 'passive' ? 'client' : 'server',
          identity: this.identity,
          verifyPeer: (c) => matchesFingerprint(c, [fingerprint]),
          send: (d) => this.socket.send(d, port, address),
          onConnected: (keys) => {
            clearTimeout(timer);
            this.keys = keys;
            this.tx = new SrtpSession(keys.suite, keys.localKey, keys.localSalt);
            this.rx = new SrtpSession(keys.suite, keys.remoteKey, keys.remoteSalt);
            resolve(keys);
          },
          onFailed: (err) => {
            clearTimeout(timer);
            reject(err);
          },
        });
        // Give the relay's answer to the first check a moment, as a browser does before its ClientHello.
        setTimeout(() => this.dtls?.start(), 100);
      });
    } finally {
      clearInterval(checks);
    }
  }

  /** Sends one RTP packet as SRTP to the relay. */
  send(rtpPacket: Buffer): void {
    if (!this.tx || !this.relay) throw new Error('not connected');
    this.socket.send(this.tx.protectRtp(rtpPacket)!, this.relay.port, this.relay.address);
  }

  close(): void {
    this.dtls?.close();
    this.media.close();
  }

  private packet(m: Buffer, from: { address: string; port: number }): void {
    const first = m[0] ?? 0;
    if (first < 4) {
      // The relay's own checks (RTPengine is a full agent): answered under this end's password.
      const parsed = parseStun(m);
      if (!parsed.ok || parsed.value.class !== 'request') return;
      const request = readBindingRequest(parsed.value);
      if (!request.ok) return;
      const answer = bindingSuccess(parsed.value.transactionId, from, shortTermKey(this.pwd));
      if (answer) this.socket.send(answer, from.port, from.address);
      return;
    }
    if (first >= 20 && first < 64) {
      this.dtls?.receive(m);
      return;
    }
    if (first >= 128 && first < 192 && this.rx && !(m[1]! >= 200 && m[1]! <= 204)) {
      const opened = this.rx.unprotectRtp(m);
      if (opened.ok) this.received.push(opened.packet);
      else this.rejected++;
    }
  }
}
