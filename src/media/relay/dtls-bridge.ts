import type { DtlsIdentity } from '../dtls/index.js';
import { parseFingerprint } from '../dtls/index.js';
import { isSecure, other, type Side } from './sdes-bridge.js';
import type { OfferedStream } from './sdp-rewrite.js';

/** ng `DTLS` (RTPengine's values): `off` never offers DTLS, `passive`/`active` the role the relay offers. */
export type DtlsFlag = 'off' | 'passive' | 'active' | 'default';

/** RFC 4145 §4 a=setup values. */
export type Setup = 'actpass' | 'active' | 'passive' | 'holdconn';

/** What the SDP sent on says about DTLS for one stream. */
export type DtlsEdit =
  /** The party's own a=fingerprint/a=setup pass (DTLS end to end, or no DTLS at all). */
  | { kind: 'keep' }
  /**
   * The party's DTLS attributes go: the relay ends DTLS on the sender's side, or the receiver did not take it.
   * `protocol` is the profile the receiver gets unless SDES chooses one.
   */
  | { kind: 'strip'; protocol: string }
  /** The relay's certificate and role replace the party's: the relay ends DTLS towards the receiving party. */
  | { kind: 'relay'; fingerprint: string; setup: Setup; protocol: string };

/** Where the relay ends DTLS towards one party on one stream, and as which end of the handshake. */
export interface DtlsTermination {
  /** The fingerprints of the party's certificate, from its SDP (RFC 8122 §5). */
  readonly fingerprints: readonly { hash: string; value: string }[];
  /** The relay's role: `server` waits for the party's ClientHello, `client` sends its own. */
  readonly role: 'server' | 'client';
}

interface SideState {
  /** The profile this party used in its last SDP (UDP/TLS/RTP/SAVPF, RTP/AVP …). */
  protocol?: string;
  /** The relay offered DTLS to this party (its answer decides the roles). */
  offeredSetup?: Setup;
  /** The relay will answer this party's DTLS offer (set at the offer, decided at the answer). */
  pendingOffer?: { fingerprints: { hash: string; value: string }[]; setup: Setup };
  termination?: DtlsTermination;
}

/** UDP/TLS/RTP/SAVP(F) (RFC 5764 §8), or an SRTP profile with a fingerprint and no usable a=crypto. */
export function isDtls(stream: Pick<OfferedStream, 'protocol' | 'fingerprints' | 'cryptos'>): boolean {
  if (/^UDP\/TLS\//i.test(stream.protocol)) return true;
  return isSecure(stream.protocol) && stream.fingerprints.length > 0 && stream.cryptos.length === 0;
}

/**
 * What a party the relay ends DTLS for looks like to the rest of the call: plain RTP/AVP (AVPF feedback is
 * compatible with AVP, RFC 4585 §5, and phones and carriers speak AVP).
 */
const PLAIN = 'RTP/AVP';

const fingerprintsOf = (stream: OfferedStream) =>
  stream.fingerprints.flatMap((f) => {
    const parsed = parseFingerprint(f);
    return parsed ? [parsed] : [];
  });

/**
 * DTLS-SRTP on one stream of a relayed call (RFC 5763, RFC 5764): when one party speaks DTLS-SRTP and the
 * other does not, the relay ends DTLS for that party with its own certificate — it answers (or offers) with its
 * fingerprint and a=setup, makes the handshake, and encrypts and decrypts SRTP with the exported keys. When
 * both parties speak it, their DTLS passes end to end. The SDES bridge sees a party ended here as plain RTP.
 */
export class DtlsBridge {
  private readonly sides: Record<Side, SideState> = { a: {}, b: {} };

  constructor(private readonly identity: DtlsIdentity) {}

  termination(side: Side): DtlsTermination | undefined {
    return this.sides[side].termination;
  }

  /** The relay ends DTLS, or is about to, towards `side`'s party. */
  endsAt(side: Side): boolean {
    const s = this.sides[side];
    return s.termination !== undefined || s.pendingOffer !== undefined || s.offeredSetup !== undefined;
  }

  /**
   * An offer from `from`'s party. `target` is the profile the other party gets (ng `transport-protocol`, else
   * what it used last, else the offerer's). Returns the edit of the SDP to the other party, and the profiles
   * the SDES bridge should see on each side.
   */
  offer(
    from: Side,
    stream: OfferedStream,
    transportProtocol: string | undefined,
    flag: DtlsFlag,
    sdesOff: boolean,
  ): { edit: DtlsEdit; senderView: string; targetView: string | undefined } {
    const mine = this.sides[from];
    const theirs = this.sides[other(from)];
    const target = transportProtocol ?? theirs.protocol ?? stream.protocol;
    mine.protocol = stream.protocol;
    mine.pendingOffer = undefined;
    theirs.offeredSetup = undefined;
    if (stream.disabled)
      return { edit: { kind: 'keep' }, senderView: stream.protocol, targetView: transportProtocol };
    const senderDtls = isDtls(stream);
    // RTPengine's rule: DTLS towards a party whose profile is UDP/TLS, or an SRTP profile when SDES is off.
    const targetDtls =
      flag !== 'off' &&
      (/^UDP\/TLS\//i.test(target) || (isSecure(target) && sdesOff && senderDtls === false));
    if (senderDtls && targetDtls) {
      // End to end: neither side is ended here.
      mine.termination = undefined;
      theirs.termination = undefined;
      return { edit: { kind: 'keep' }, senderView: stream.protocol, targetView: transportProtocol };
    }
    if (senderDtls) {
      mine.pendingOffer = { fingerprints: fingerprintsOf(stream), setup: stream.setup ?? 'actpass' };
      const lastPlain =
        theirs.protocol && !/^UDP\/TLS\//i.test(theirs.protocol) ? theirs.protocol : undefined;
      return {
        edit: { kind: 'strip', protocol: transportProtocol ?? lastPlain ?? PLAIN },
        senderView: PLAIN,
        targetView: transportProtocol,
      };
    }
    if (targetDtls) {
      // RFC 5763 §5: "The endpoint that is the offerer MUST use the setup attribute value of setup:actpass"
      // (RTPengine too, whatever its DTLS flag): the answerer picks the roles.
      const setup: Setup = 'actpass';
      theirs.offeredSetup = setup;
      return {
        edit: { kind: 'relay', fingerprint: this.identity.fingerprint, setup, protocol: target },
        senderView: stream.protocol,
        targetView: PLAIN,
      };
    }
    mine.termination = undefined;
    return { edit: { kind: 'keep' }, senderView: stream.protocol, targetView: transportProtocol };
  }

  /** The answer of `from`'s party to the other's offer: the edit of the SDP going to the offerer. */
  answer(from: Side, stream: OfferedStream, flag: DtlsFlag): { edit: DtlsEdit; answererView: string } {
    const answerer = this.sides[from];
    const offerer = this.sides[other(from)];
    answerer.protocol = stream.protocol;
    const pending = offerer.pendingOffer;
    offerer.pendingOffer = undefined;
    const offered = answerer.offeredSetup;
    answerer.offeredSetup = undefined;
    if (offered !== undefined) {
      // The relay offered DTLS to the answerer: its a=setup says who connects (RFC 4145 §4).
      if (!stream.disabled && isDtls(stream)) {
        const role = stream.setup === 'passive' ? 'client' : 'server';
        this.terminate(answerer, fingerprintsOf(stream), role);
      } else {
        answerer.termination = undefined;
      }
    }
    if (pending && !stream.disabled) {
      // The relay answers the offerer's DTLS (RFC 5763 §5): passive towards actpass — the browser connects,
      // which is what works with Chrome — unless ng DTLS=active; passive towards active, active towards passive.
      const role =
        pending.setup === 'passive' || (pending.setup === 'actpass' && flag === 'active')
          ? 'client'
          : 'server';
      this.terminate(offerer, pending.fingerprints, role);
      return {
        edit: {
          kind: 'relay',
          fingerprint: this.identity.fingerprint,
          setup: role === 'client' ? 'active' : 'passive',
          protocol: offerer.protocol ?? 'UDP/TLS/RTP/SAVPF',
        },
        answererView: stream.protocol,
      };
    }
    if (offered !== undefined) {
      return {
        edit: { kind: 'strip', protocol: offerer.protocol ?? 'RTP/AVP' },
        answererView: answerer.termination ? PLAIN : stream.protocol,
      };
    }
    return { edit: { kind: 'keep' }, answererView: stream.protocol };
  }

  /** A new association only when the party's certificate or the roles change (RFC 8842 §5). */
  private terminate(
    side: SideState,
    fingerprints: { hash: string; value: string }[],
    role: 'server' | 'client',
  ) {
    const now = side.termination;
    const same =
      now?.role === role &&
      now.fingerprints.length === fingerprints.length &&
      now.fingerprints.every(
        (f, i) => f.hash === fingerprints[i]!.hash && f.value === fingerprints[i]!.value,
      );
    if (!same) side.termination = { fingerprints, role };
  }
}
