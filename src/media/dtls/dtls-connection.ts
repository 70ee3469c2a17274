import { clientMessage, startClient } from './dtls-client-handshake.js';
import type { GcmRecordCipher } from './dtls-crypto.js';
import { DtlsError, type DtlsFailureReason } from './dtls-error.js';
import { FlightSender } from './dtls-flight.js';
import { DtlsHandshake, type HandshakeActions, type HandshakeEnd, type Inbound } from './dtls-handshake.js';
import type { SrtpKeying } from './dtls-keys.js';
import { serverMessage } from './dtls-server-handshake.js';
import {
  ContentType,
  HandshakeReassembler,
  HandshakeType,
  parseHandshakeFragments,
  parseRecords,
} from './dtls-wire.js';

export interface DtlsConnectionOptions extends HandshakeEnd {
  send(datagram: Buffer): void;
  onConnected(keys: SrtpKeying): void;
  onFailed(error: DtlsError): void;
  /** Milliseconds the handshake may take from its first packet (default 20 s). */
  readonly timeoutMs?: number;
}

/** RFC 5246 §7.2 alerts the relay sends. */
const Alert = {
  closeNotify: 0,
  unexpectedMessage: 10,
  handshakeFailure: 40,
  badCertificate: 42,
  decryptError: 51,
} as const;
const ALERT_FOR: Record<DtlsFailureReason, number> = {
  malformed: Alert.unexpectedMessage,
  unsupported: Alert.handshakeFailure,
  fingerprint: Alert.badCertificate,
  crypto: Alert.decryptError,
  alert: Alert.closeNotify,
  timeout: Alert.handshakeFailure,
};

/**
 * One DTLS 1.2 association for DTLS-SRTP (RFC 5764) on one media component, either role, over datagrams the
 * caller moves: `receive` takes what came from the peer, `options.send` emits what goes to it. The handshake
 * is the one WebRTC endpoints make: ECDHE (X25519 or P-256) with ECDSA certificates, AES-128-GCM records,
 * mutual certificates checked against the SDP fingerprints (RFC 8122), the extended master secret (RFC 7627)
 * when offered, and the use_srtp extension choosing an AES-CM profile. Nothing but the handshake and alerts is
 * spoken: media goes as SRTP under the exported keys, outside DTLS records.
 *
 * This class is the receiving half of the record layer (records opened, handshake messages reassembled and
 * handled in order) and the association's life (deadline, failure, alerts); each role's messages are handled in
 * `dtls-server-handshake.ts` and `dtls-client-handshake.ts`, over the state of `dtls-handshake.ts`; flights are
 * sent and retransmitted by `dtls-flight.ts`; the keys come from `dtls-keys.ts`.
 */
export class DtlsConnection {
  private readonly handshake: DtlsHandshake;
  private readonly flight: FlightSender;
  private readonly actions: HandshakeActions;
  private readonly reassembler = new HandshakeReassembler();
  private readonly queued = new Map<number, Inbound>();
  private nextReceiveSeq = 0;
  private readCipher?: GcmRecordCipher;
  private pendingReadCipher?: GcmRecordCipher;
  private deadline?: NodeJS.Timeout;

  constructor(private readonly options: DtlsConnectionOptions) {
    this.handshake = new DtlsHandshake(options);
    this.flight = new FlightSender({
      send: (datagram) => options.send(datagram),
      timed: options.role === 'client',
      waiting: () => !this.finished && !this.connected,
      onGiveUp: () => this.fail(new DtlsError('timeout', 'The DTLS peer did not answer'), false),
    });
    this.actions = {
      sendFlight: (flight) => this.flight.send(flight),
      useKeys: ({ write, read }) => {
        this.flight.writeCipher = write;
        this.pendingReadCipher = read;
      },
      connect: () => this.connect(),
    };
  }

  get connected(): boolean {
    return this.handshake.state === 'connected';
  }

  get finished(): boolean {
    return this.handshake.state === 'failed' || this.handshake.state === 'closed';
  }

  /** As client: sends the ClientHello. A server waits for one. */
  start(): void {
    if (this.options.role !== 'client' || this.flight.started) return;
    this.armDeadline();
    startClient(this.handshake, this.actions);
  }

  /** Stops timers; the association is over (the call ended, or a new one replaces it). */
  close(): void {
    if (this.handshake.state !== 'failed') this.handshake.state = 'closed';
    this.flight.stop();
    clearTimeout(this.deadline);
  }

  /** A datagram from the peer whose first byte is 20-63 (RFC 7983 §7). Never throws. */
  receive(datagram: Buffer): void {
    if (this.finished) return;
    this.armDeadline();
    try {
      for (const record of parseRecords(datagram))
        this.record(record.type, record.version, record.epoch, record.sequence, record.fragment);
    } catch (err) {
      this.fail(
        err instanceof DtlsError ? err : new DtlsError('malformed', 'DTLS record refused', { cause: err }),
      );
    }
  }

  private record(type: number, version: number, epoch: number, sequence: number, fragment: Buffer): void {
    if (this.finished || version >> 8 !== 0xfe) return;
    let plain = fragment;
    if (epoch === 1) {
      const cipher = this.readCipher;
      const opened = cipher?.open(type, epoch, sequence, fragment);
      // RFC 6347 §4.1.2.7: a record that does not authenticate is silently discarded.
      if (!opened) return;
      plain = opened;
    } else if (epoch !== 0) {
      return;
    }
    switch (type) {
      case ContentType.changeCipherSpec:
        if (epoch === 0 && this.handshake.state === 'wait-change-cipher-spec' && this.pendingReadCipher) {
          this.readCipher = this.pendingReadCipher;
          this.pendingReadCipher = undefined;
          this.handshake.state = 'wait-finished';
          this.drain();
        }
        return;
      case ContentType.alert:
        this.alert(plain);
        return;
      case ContentType.handshake:
        for (const fragment of parseHandshakeFragments(plain)) this.fragment(fragment, epoch);
        return;
      default:
        // Application data: DTLS-SRTP carries media outside records; nothing else is expected.
        return;
    }
  }

  private alert(body: Buffer): void {
    if (body.length < 2) return;
    const [level, description] = [body[0]!, body[1]!];
    if (description === Alert.closeNotify) {
      this.close();
      return;
    }
    if (level === 2) this.fail(new DtlsError('alert', `The peer sent DTLS alert ${description}`), false);
  }

  private fragment(fragment: ReturnType<typeof parseHandshakeFragments>[number], epoch: number): void {
    if (fragment.messageSeq < this.nextReceiveSeq) {
      // RFC 6347 §4.2.4: the peer sends its last flight again when ours did not reach it; so do we.
      this.flight.retransmitOnRequest();
      return;
    }
    if (fragment.messageSeq > this.nextReceiveSeq + 8) return;
    const message = this.reassembler.add(fragment);
    if (!message) return;
    this.queued.set(message.messageSeq, { ...message, epoch });
    this.drain();
  }

  /** Handles queued messages in order while the next one is there. */
  private drain(): void {
    for (;;) {
      const next = this.queued.get(this.nextReceiveSeq);
      if (!next || this.finished) return;
      // The Finished is the first message under the new keys (RFC 5246 §7.4.9); it waits for ChangeCipherSpec.
      if (next.msgType === HandshakeType.finished && this.handshake.state !== 'wait-finished') return;
      this.queued.delete(this.nextReceiveSeq);
      if (next.msgType === HandshakeType.clientHello && this.handshake.state === 'wait-server-hello') {
        // The SDP made this end the client (a=setup:active) and the peer sends a ClientHello too: it is racing
        // its own answer, or has the roles wrong. Chrome ignores it and keeps waiting for a ServerHello; so does
        // this end (the sequence number stays free for the ServerHello).
        continue;
      }
      this.nextReceiveSeq++;
      this.reassembler.dropBefore(this.nextReceiveSeq);
      if ((next.msgType === HandshakeType.finished) !== (next.epoch === 1)) {
        throw new DtlsError('malformed', 'A DTLS handshake message came under the wrong epoch');
      }
      if (this.options.role === 'server') serverMessage(this.handshake, next, this.actions);
      else clientMessage(this.handshake, next, this.actions);
    }
  }

  private connect(): void {
    const keys = this.handshake.srtpKeying();
    this.handshake.state = 'connected';
    clearTimeout(this.deadline);
    // The client's last flight is answered by the server's Finished: nothing more to send again on a timer.
    this.flight.stop();
    this.options.onConnected(keys);
  }

  private armDeadline(): void {
    if (this.deadline || this.finished || this.connected) return;
    this.deadline = setTimeout(
      () => this.fail(new DtlsError('timeout', 'The DTLS handshake did not complete in time'), false),
      this.options.timeoutMs ?? 20_000,
    );
    this.deadline.unref();
  }

  private fail(error: DtlsError, tellPeer = true): void {
    if (this.finished) return;
    if (tellPeer) {
      // A fatal alert (RFC 5246 §7.2), under the keys the peer reads with by now.
      const epoch = this.readCipher && this.flight.writeCipher ? 1 : 0;
      try {
        this.options.send(
          this.flight.record(ContentType.alert, epoch, Buffer.from([2, ALERT_FOR[error.code]])),
        );
      } catch {
        // The alert is a courtesy; the handshake has failed either way.
      }
    }
    this.handshake.state = 'failed';
    this.flight.stop();
    clearTimeout(this.deadline);
    this.options.onFailed(error);
  }
}
