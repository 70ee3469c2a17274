import type { GcmRecordCipher } from './dtls-crypto.js';
import { ContentType, DTLS_1_2, handshakeMessage, recordHeader, u8 } from './dtls-wire.js';

/** What a flight is made of, kept to send it again (RFC 6347 §4.2.4: a retransmission is a new record). */
export type Outgoing = { kind: 'handshake'; epoch: 0 | 1; message: Buffer } | { kind: 'change-cipher-spec' };

/** Datagram size the relay keeps its flights under (the path MTU of WebRTC media is ~1200). */
const DATAGRAM = 1200;
/** RFC 6347 §4.2.4.1: the initial retransmission timer is 1 s, doubled on each retransmission. */
const RETRANSMIT_MS = 1000;
const MAX_RETRANSMITS = 6;

export interface FlightSenderOptions {
  send(datagram: Buffer): void;
  /** The client retransmits its flights on a timer; the server answers the peer's retransmissions. */
  readonly timed: boolean;
  /** Whether the handshake still waits for the peer (the timer does nothing once it is over). */
  waiting(): boolean;
  /** The timer ran out of retransmissions. */
  onGiveUp(): void;
}

/**
 * The sending half of the record layer: this end's last flight, cut into records and datagrams, sent again
 * when the peer asks for it or (as client) on the RFC 6347 §4.2.4.1 timer; the records' write sequence
 * numbers per epoch, sealed under the epoch 1 keys once they are known.
 */
export class FlightSender {
  /** The record keys of epoch 1, this end's direction (set when the handshake derives them). */
  writeCipher?: GcmRecordCipher;
  private flight: Outgoing[] = [];
  private lastFlightAt = 0;
  private readonly writeSeq = [0, 0];
  private retransmitTimer?: NodeJS.Timeout;
  private retransmits = 0;

  constructor(private readonly options: FlightSenderOptions) {}

  /** Whether a flight was sent yet. */
  get started(): boolean {
    return this.flight.length > 0;
  }

  send(flight: Outgoing[]): void {
    this.flight = flight;
    this.retransmits = 0;
    this.transmit();
    if (this.options.timed) this.armRetransmit();
  }

  /** Stops the retransmission timer. */
  stop(): void {
    clearTimeout(this.retransmitTimer);
  }

  retransmitOnRequest(): void {
    // At most one answer per quarter second, so a peer replaying old records cannot make the relay a flooder.
    if (this.flight.length === 0 || Date.now() - this.lastFlightAt < 250) return;
    this.transmit();
  }

  /** One record of the epoch, under its next write sequence number. */
  record(type: number, epoch: 0 | 1, plaintext: Buffer): Buffer {
    const sequence = this.writeSeq[epoch]!++;
    const fragment = epoch === 1 ? this.writeCipher!.seal(type, epoch, sequence, plaintext) : plaintext;
    return Buffer.concat([recordHeader(type, DTLS_1_2, epoch, sequence, fragment.length), fragment]);
  }

  /** RFC 6347 §4.2.4.1: the client, which has no answer to wait on after its last flight, uses a timer. */
  private armRetransmit(): void {
    clearTimeout(this.retransmitTimer);
    this.retransmitTimer = setTimeout(
      () => {
        if (!this.options.waiting()) return;
        if (++this.retransmits > MAX_RETRANSMITS) {
          this.options.onGiveUp();
          return;
        }
        this.transmit();
        this.armRetransmit();
      },
      RETRANSMIT_MS * 2 ** this.retransmits,
    );
    this.retransmitTimer.unref();
  }

  private transmit(): void {
    this.lastFlightAt = Date.now();
    const records: Buffer[] = [];
    for (const item of this.flight) {
      if (item.kind === 'change-cipher-spec') {
        records.push(this.record(ContentType.changeCipherSpec, 0, u8(1)));
        continue;
      }
      for (const piece of fragments(item.message))
        records.push(this.record(ContentType.handshake, item.epoch, piece));
    }
    let datagram: Buffer[] = [];
    let size = 0;
    for (const record of records) {
      if (size + record.length > DATAGRAM && datagram.length) {
        this.options.send(Buffer.concat(datagram));
        datagram = [];
        size = 0;
      }
      datagram.push(record);
      size += record.length;
    }
    if (datagram.length) this.options.send(Buffer.concat(datagram));
  }
}

/** A whole handshake message cut into fragments that fit a datagram (RFC 6347 §4.2.3). */
function fragments(message: Buffer): Buffer[] {
  const body = message.subarray(12);
  const max = DATAGRAM - 13 - 12 - 40;
  if (body.length <= max) return [message];
  const type = message[0]!;
  const seq = message.readUInt16BE(4);
  const out: Buffer[] = [];
  for (let offset = 0; offset < body.length; offset += max) {
    out.push(handshakeMessage(type, seq, body.subarray(offset, offset + max), offset, body.length));
  }
  return out;
}
