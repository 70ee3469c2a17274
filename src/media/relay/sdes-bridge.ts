import { MediaRelayError } from './relay-errors.js';
import type { OfferedStream } from './sdp-rewrite.js';
import { newCrypto, type CryptoAttribute } from '../srtp/sdes.js';
import { SrtpSession } from '../srtp/srtp-session.js';
import { SRTP_SUITES, type SrtpSuite } from '../srtp/srtp-suites.js';

export type Side = 'a' | 'b';
/** The side across from `side`. */
export const other = (side: Side): Side => (side === 'a' ? 'b' : 'a');

/** ng `SDES` flags (RTPengine): `off` offers no a=crypto; `no-<suite>` / `only-<suite>` narrow the suites. */
export interface SdesPolicy {
  readonly off: boolean;
  /** The suites the relay may offer or accept, in its order of preference. */
  readonly suites: readonly SrtpSuite[];
}

export const DEFAULT_SDES_POLICY: SdesPolicy = { off: false, suites: SRTP_SUITES };

/** What the SDP sent on says about one stream: its transport protocol and its a=crypto lines. */
export interface CryptoEdit {
  /** The m= line's protocol, when it changes (RTP/AVP ↔ RTP/SAVP). */
  readonly protocol?: string;
  /** `keep` the party's a=crypto lines (SRTP passes through end to end), or replace them all by these. */
  readonly crypto: 'keep' | readonly CryptoAttribute[];
}

/** One direction's SRTP state: the key it was made from, kept across re-INVITEs that keep the key. */
interface Keyed {
  crypto: CryptoAttribute;
  session: SrtpSession;
}

interface SideState {
  /** The protocol this side's party last used in its own SDP. */
  protocol?: string;
  /** From this side's secure offer, the crypto line the relay takes (answered when the other side answers). */
  pendingRx?: CryptoAttribute;
  /** The a=crypto lines (the relay's keys) the relay offered to this side's party. */
  offeredTx?: CryptoAttribute[];
  /** Decrypts what this side's party sends. */
  rx?: Keyed;
  /** Encrypts what goes to this side's party. */
  tx?: Keyed;
}

/** RTP/SAVP, RTP/SAVPF, UDP/TLS/RTP/SAVP(F): profiles whose media is SRTP (RFC 3711 §12, RFC 5124). */
export const isSecure = (protocol: string) => /SAVP/i.test(protocol);

/**
 * SDES-SRTP on one stream of a relayed call (RFC 4568): when one party's profile is secure and the other's
 * plain, the relay ends SRTP for the secure party — it decrypts with the key that party offered or answered,
 * and encrypts towards it with a key of its own, written in the SDP that party receives (§6.1: each side
 * declares the key it sends with). When both profiles are alike the a=crypto lines pass untouched and SRTP
 * goes end to end. `transport-protocol` in an offer (RTPengine's key) sets the profile the other party gets;
 * without it, the other party keeps the profile it used last (the first offer: the offerer's own).
 */
export class SdesBridge {
  private readonly sides: Record<Side, SideState> = { a: {}, b: {} };

  /** The session that decrypts packets from `side`'s party, when the relay ends SRTP there. */
  rx(side: Side): SrtpSession | undefined {
    return this.sides[side].rx?.session;
  }

  /** The session that encrypts packets to `side`'s party. */
  tx(side: Side): SrtpSession | undefined {
    return this.sides[side].tx?.session;
  }

  /** An offer from `from`'s party, going to the other party. */
  offer(
    from: Side,
    stream: OfferedStream,
    transportProtocol: string | undefined,
    policy: SdesPolicy,
  ): CryptoEdit {
    const mine = this.sides[from];
    const theirs = this.sides[other(from)];
    const protocol = stream.protocol;
    const target = transportProtocol ?? theirs.protocol ?? protocol;
    mine.protocol = protocol;
    mine.pendingRx = undefined;
    theirs.offeredTx = undefined;
    if (stream.disabled) return { crypto: 'keep' };
    const changed = target !== protocol ? { protocol: target } : {};
    if (isSecure(protocol) === isSecure(target)) return { ...changed, crypto: 'keep' };
    if (isSecure(protocol)) {
      // §6.4 (as the answerer for that party): the first line, in the offerer's order, the relay can use.
      const chosen = stream.cryptos.find((c) => c.suite && policy.suites.includes(c.suite));
      if (!chosen) {
        throw new MediaRelayError(
          'MEDIA_SDES_NO_SUITE',
          `No usable SDES crypto suite offered (the relay knows ${policy.suites.map((s) => s.name).join(', ')})`,
        );
      }
      mine.pendingRx = chosen;
      return { ...changed, crypto: [] };
    }
    if (policy.off) return { ...changed, crypto: [] };
    // A plain offer to a secure party: one line per suite, each with a key of the relay's (kept from the last
    // exchange for the same suite, so a re-INVITE does not re-key the stream).
    theirs.offeredTx = policy.suites.map((suite, i) =>
      theirs.tx?.crypto.suite === suite ? { ...theirs.tx.crypto, tag: i + 1 } : newCrypto(i + 1, suite),
    );
    return { ...changed, crypto: theirs.offeredTx };
  }

  /** The answer of `from`'s party to the other party's offer, going to the offerer. */
  answer(from: Side, stream: OfferedStream): CryptoEdit {
    const answerer = this.sides[from];
    const offerer = this.sides[other(from)];
    answerer.protocol = stream.protocol;
    const offererProtocol = offerer.protocol;
    const changed =
      offererProtocol && offererProtocol !== stream.protocol ? { protocol: offererProtocol } : {};
    const pending = offerer.pendingRx;
    if (pending?.suite && !stream.disabled) {
      // The relay answers the secure offerer: the tag it chose, the same suite, the relay's own key.
      offerer.pendingRx = undefined;
      offerer.rx = keyed(offerer.rx, pending);
      const tx =
        offerer.tx?.crypto.suite === pending.suite
          ? { ...offerer.tx.crypto, tag: pending.tag }
          : newCrypto(pending.tag, pending.suite);
      offerer.tx = keyed(offerer.tx, tx);
      answerer.rx = undefined;
      answerer.tx = undefined;
      return { ...changed, crypto: [tx] };
    }
    const offered = answerer.offeredTx;
    if (offered) {
      answerer.offeredTx = undefined;
      // §6.1: the answer echoes the tag of the line it accepted, with its own key for the same suite.
      const accepted = stream.cryptos.find((c) =>
        offered.some((o) => o.tag === c.tag && o.suite === c.suite),
      );
      const mineForIt = accepted && offered.find((o) => o.tag === accepted.tag);
      if (accepted && mineForIt && isSecure(stream.protocol)) {
        answerer.rx = keyed(answerer.rx, accepted);
        answerer.tx = keyed(answerer.tx, mineForIt);
      } else {
        answerer.rx = undefined;
        answerer.tx = undefined;
      }
      offerer.rx = undefined;
      offerer.tx = undefined;
      return { ...changed, crypto: [] };
    }
    // Passthrough: SRTP (or plain RTP) end to end.
    answerer.rx = answerer.tx = offerer.rx = offerer.tx = undefined;
    return { crypto: 'keep' };
  }
}

/** The SRTP session for `crypto`, the existing one when the key is the same (its ROC and replay list kept). */
function keyed(existing: Keyed | undefined, crypto: CryptoAttribute): Keyed {
  if (
    existing &&
    existing.crypto.suite === crypto.suite &&
    existing.crypto.key.equals(crypto.key) &&
    existing.crypto.salt.equals(crypto.salt)
  ) {
    return { crypto, session: existing.session };
  }
  // Lending: the forwarder sends each packet on at once (`SrtpSession`), so none is allocated per packet.
  return { crypto, session: new SrtpSession(crypto.suite!, crypto.key, crypto.salt, undefined, true) };
}
