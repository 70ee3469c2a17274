import type { PacketSource, RelaySocket } from './relay-socket.js';
import {
  DtlsConnection,
  matchesFingerprint,
  type DtlsFailureReason,
  type DtlsIdentity,
} from '../dtls/index.js';
import { SrtpSession } from '../srtp/srtp-session.js';
import type { DtlsTermination } from './dtls-bridge.js';

interface Address {
  address: string;
  port: number;
}

/** RTP (0), or RTCP (1) when the party does not multiplex it (RFC 5764 §4.1: an association per component). */
export type Component = 0 | 1;

/** What a leg's DTLS end needs of its call. */
export interface LegDtlsOptions {
  readonly identity: DtlsIdentity;
  readonly counters: { dtlsConnected: number; dtlsFailed: Record<DtlsFailureReason, number> };
  /** The relay's socket of a component on this leg. */
  socket(component: Component): RelaySocket;
  /** Where a component's packets to the party go (null: nowhere yet), for a client that speaks first. */
  route(component: Component): Address | null;
  /** Whether RTCP shares the RTP port with this party. */
  muxed(): boolean;
  /** A handshake failed (reported once per call by the call). */
  onFailed(message: string): void;
}

/** One component's association, and the SRTP sessions of its exported keys once it is up. */
interface ComponentDtls {
  connection: DtlsConnection;
  /** Where the party's DTLS comes from (the server's answers go there). */
  peer?: Address;
  /** Decrypts what the party sends. */
  rx?: SrtpSession;
  /** Encrypts what goes to the party. */
  tx?: SrtpSession;
}

/**
 * The relay's DTLS-SRTP end towards one party on one stream, where the relay ends DTLS for it
 * (`dtls-bridge.ts` decides where): a handshake per component, in the role and against the fingerprints the
 * SDPs gave, and SRTP under the keys it exports.
 */
export class LegDtls {
  private readonly components: (ComponentDtls | undefined)[] = [];

  constructor(
    readonly termination: DtlsTermination,
    private readonly options: LegDtlsOptions,
  ) {}

  /** As the client (a=setup:active): starts the handshake of each component that has somewhere to go. */
  startClients(): void {
    if (this.termination.role !== 'client') return;
    const components: Component[] = this.options.muxed() ? [0] : [0, 1];
    for (const c of components) {
      if (this.components[c] || !this.options.route(c)) continue;
      this.component(c).connection.start();
    }
  }

  /** A DTLS record from the party on `component`. */
  receive(packet: Buffer, from: PacketSource, component: Component): void {
    const state = this.component(component);
    state.peer = { address: from.address, port: from.port };
    state.connection.receive(packet);
  }

  /** The SRTP session for packets of `rtcpPort`'s component (RTP's when multiplexed), once the handshake is done. */
  session(rtcpPort: boolean, which: 'rx' | 'tx'): SrtpSession | undefined {
    return this.components[rtcpPort && !this.options.muxed() ? 1 : 0]?.[which];
  }

  close(): void {
    for (const c of this.components) c?.connection.close();
  }

  private component(component: Component): ComponentDtls {
    const existing = this.components[component];
    if (existing) return existing;
    const { counters, identity } = this.options;
    const socket = this.options.socket(component);
    const state: ComponentDtls = {
      connection: new DtlsConnection({
        role: this.termination.role,
        identity,
        verifyPeer: (certificate) => matchesFingerprint(certificate, this.termination.fingerprints),
        send: (datagram) => {
          const to = state.peer ?? this.options.route(component);
          if (to) socket.send(datagram, to.port, to.address);
        },
        onConnected: (keys) => {
          counters.dtlsConnected++;
          // Lending sessions, as the SDES bridge's: the forwarder sends each packet on at once.
          state.rx = new SrtpSession(keys.suite, keys.remoteKey, keys.remoteSalt, undefined, true);
          state.tx = new SrtpSession(keys.suite, keys.localKey, keys.localSalt, undefined, true);
        },
        onFailed: (err) => {
          counters.dtlsFailed[err.code]++;
          this.options.onFailed(err.message);
        },
      }),
    };
    this.components[component] = state;
    return state;
  }
}
