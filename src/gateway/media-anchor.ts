import { NgErrorReply, type BencodeValue, type NgClient, type NgDictionary } from '../media/index.js';
import type { MediaStreamStats } from '../store/index.js';

/**
 * The relay's view of a call: one ng call-id (the caller-side Call-ID) and two tags, one per side. For a
 * B2BUA both tags are ours to choose: the caller's From tag, and the tag we gave the caller's dialog.
 */
export interface MediaCallRef {
  readonly callId: string;
  readonly callerTag: string;
  readonly calleeTag: string;
  /**
   * The media each side must get, when the gateway decides it: `rtp` (plain RTP/AVP, what carriers speak),
   * `srtp` (SDES-SRTP, RTP/SAVP) or `webrtc` (a browser: DTLS-SRTP, ICE, rtcp-mux). A side with none gets the
   * profile the other side offered; the relay then passes SRTP through end to end, or ends it where the two
   * profiles differ.
   */
  readonly profiles?: Partial<Record<'caller' | 'callee', MediaProfile>>;
  /** Record the call from its first offer (ng `record call: yes`): the recording policy says `always`. */
  readonly record?: boolean;
}

export type MediaProfile = 'rtp' | 'srtp' | 'webrtc';

/**
 * The ng flags of an offer going to a party of each profile — RTPengine's vocabulary, as the published
 * WebRTC-to-SIP guides write it, so that a real RTPengine does the same with them. A browser gets the relay's
 * ICE-lite, DTLS-SRTP (the relay offers actpass; Chrome answers active and connects) and multiplexed RTCP; a
 * phone or carrier gets plain or SDES profiles without ICE, and RTCP on its own port when the offer came from
 * a browser that multiplexed it.
 */
const OFFER_TO: Record<MediaProfile, NgDictionary> = {
  rtp: { 'transport-protocol': 'RTP/AVP', DTLS: 'off' },
  srtp: { 'transport-protocol': 'RTP/SAVP', DTLS: 'off' },
  webrtc: {
    'transport-protocol': 'UDP/TLS/RTP/SAVPF',
    ICE: 'force',
    SDES: ['off'],
    'rtcp-mux': ['offer'],
    flags: ['generate-mid'],
  },
};

/** The flags of an answer going back to an offerer of each profile: a browser keeps ICE and rtcp-mux. */
const ANSWER_TO: Partial<Record<MediaProfile, NgDictionary>> = {
  webrtc: { ICE: 'force', DTLS: 'passive', 'rtcp-mux': ['accept'] },
};

/** Per-direction stats the relay reported when the call was deleted. */
export interface MediaTotals {
  callerToCallee?: MediaStreamStats;
  calleeToCaller?: MediaStreamStats;
}

/** Anchors a call's media on one relay: every SDP of the call is rewritten by that relay. */
export interface MediaSession {
  /** The relay the call is pinned to (host:port), for logs. */
  readonly relay: string;
  /** An offer from `side` (the caller's INVITE, or a re-INVITE from either side): the SDP for the other side. */
  offer(side: 'caller' | 'callee', sdp: Buffer): Promise<Buffer>;
  /** The answer to the last offer, coming from `side`. */
  answer(side: 'caller' | 'callee', sdp: Buffer): Promise<Buffer>;
  /** Stats so far; undefined when the relay did not say. */
  query(): Promise<{ totals: MediaTotals; failure?: string } | undefined>;
  /** Ends the call on the relay and returns its final stats (best effort: never rejects). */
  delete(): Promise<MediaTotals | undefined>;
  /**
   * Whether the relay records the call: asked with the first offer (`record`) and not refused, or started with
   * `startRecording`, and not stopped since.
   */
  readonly recording: boolean;
  /** ng `start recording`: the relay records the call from now on (rejects when it refuses). */
  startRecording(): Promise<void>;
  /**
   * ng `stop recording`: the relay closes and stores the files; resolves with their object keys once stored
   * (voxgate's relay says them; a relay that does not — RTPengine keeps its files itself — gives none).
   */
  stopRecording(): Promise<string[]>;
}

export interface MediaAnchor {
  /** A session on a healthy relay, or undefined when media bypasses relays (no relay configured). */
  open(ref: MediaCallRef): MediaSession | undefined;
  /** Relays currently in rotation. */
  healthy(): string[];
}

export class MediaAnchorError extends Error {
  override readonly name = 'MediaAnchorError';
  constructor(
    readonly code: 'MEDIA_NO_RELAY' | 'MEDIA_RELAY_FAILED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface Relay {
  readonly name: string;
  readonly client: NgClient;
  /** Epoch ms until which the relay is out of rotation after a failure. */
  downUntil: number;
  active: number;
}

function asNumber(value: BencodeValue | undefined): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  return undefined;
}

function asDict(value: BencodeValue | undefined): NgDictionary | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !Buffer.isBuffer(value)
    ? (value as NgDictionary)
    : undefined;
}

function asBuffer(value: BencodeValue | undefined): Buffer | undefined {
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'string') return Buffer.from(value, 'latin1');
  return undefined;
}

/**
 * Totals per direction from an ng `query`/`delete` reply (RTPengine's shape: `tags` → each tag's `medias` →
 * `streams` → `stats`): what a tag's streams received is what that side sent.
 */
export function statsFromReply(reply: NgDictionary, ref: MediaCallRef): MediaTotals {
  const tags = asDict(reply.tags);
  const sentBy = (tag: string): MediaStreamStats | undefined => {
    const monologue = asDict(tags?.[tag]);
    const medias = monologue?.medias;
    if (!Array.isArray(medias)) return undefined;
    const total: MediaStreamStats = { packets: 0, bytes: 0, lost: 0, jitterMs: 0 };
    let seen = false;
    for (const media of medias) {
      const streams = asDict(media)?.streams;
      if (!Array.isArray(streams)) continue;
      for (const stream of streams) {
        const stats = asDict(asDict(stream)?.stats);
        if (!stats) continue;
        seen = true;
        total.packets += asNumber(stats.packets) ?? 0;
        total.bytes += asNumber(stats.bytes) ?? 0;
        total.lost += asNumber(stats['packets lost'] ?? stats.lost) ?? 0;
        total.jitterMs = Math.max(total.jitterMs, asNumber(stats.jitter) ?? 0);
      }
    }
    return seen ? total : undefined;
  };
  const totals: MediaTotals = {};
  const a = sentBy(ref.callerTag);
  const b = sentBy(ref.calleeTag);
  if (a) totals.callerToCallee = a;
  if (b) totals.calleeToCaller = b;
  return totals;
}

/** Attempts of a `stop recording` (each the client's timeout long: 500 ms on the gateway, about 30 s in all). */
const STOP_RECORDING_ATTEMPTS = 60;

const OFFER_FLAGS: NgDictionary = {
  // Anchoring: every address in the SDP becomes the relay's; ICE candidates would bypass it.
  replace: ['origin', 'session-connection'],
  ICE: 'remove',
};

/**
 * Media anchoring over the ng protocol, spread over several relays: a new call goes to the healthy relay with
 * the fewest calls of ours; a relay that fails a request is out of rotation for `downSeconds` and the call
 * setup is tried on the next one. Every later command of a call goes to the relay it started on.
 */
export function createMediaAnchor(options: {
  relays: readonly { name: string; client: NgClient }[];
  downSeconds?: number;
  onRelayDown?: (relay: string, err: unknown) => void;
}): MediaAnchor {
  const relays: Relay[] = options.relays.map((r) => ({ ...r, downUntil: 0, active: 0 }));
  const downMs = (options.downSeconds ?? 30) * 1000;
  const inRotation = () => relays.filter((r) => r.downUntil <= Date.now());

  return {
    healthy: () => inRotation().map((r) => r.name),
    open(ref) {
      if (relays.length === 0) return undefined;
      let relay: Relay | undefined;
      let counted = false;
      const pick = (): Relay => {
        const candidates = inRotation().sort((x, y) => x.active - y.active);
        const chosen = candidates[0];
        if (!chosen) throw new MediaAnchorError('MEDIA_NO_RELAY', 'no media relay is in rotation');
        return chosen;
      };
      const fail = (r: Relay, err: unknown) => {
        // An error *reply* means the relay is up and refused this call; only silence takes it out.
        if (err instanceof NgErrorReply) return;
        r.downUntil = Date.now() + downMs;
        options.onRelayDown?.(r.name, err);
      };
      const tagsFor = (side: 'caller' | 'callee') =>
        side === 'caller'
          ? { 'from-tag': ref.callerTag, 'to-tag': ref.calleeTag }
          : { 'from-tag': ref.calleeTag, 'to-tag': ref.callerTag };
      const sdpOf = (reply: NgDictionary, command: string): Buffer => {
        const sdp = asBuffer(reply.sdp);
        if (!sdp) throw new MediaAnchorError('MEDIA_RELAY_FAILED', `the relay's ${command} reply has no SDP`);
        return sdp;
      };

      let recording = false;
      const session: MediaSession = {
        get relay() {
          return relay?.name ?? 'none';
        },
        get recording() {
          return recording;
        },
        async startRecording() {
          if (!relay)
            throw new MediaAnchorError('MEDIA_RELAY_FAILED', 'the call has no media on a relay yet');
          await relay.client.request('start recording', {
            'call-id': ref.callId,
            'from-tag': ref.callerTag,
          });
          recording = true;
        },
        async stopRecording() {
          if (!relay || !recording) return [];
          recording = false;
          // Answered once the files are stored (an upload to S3 may take seconds): retransmitted for up to
          // STOP_RECORDING_ATTEMPTS attempts, which the relay answers from its reply cache once done.
          const reply = await relay.client.request(
            'stop recording',
            { 'call-id': ref.callId, 'from-tag': ref.callerTag },
            { retries: STOP_RECORDING_ATTEMPTS },
          );
          return asStrings(reply.recordings);
        },
        async offer(side, sdp) {
          const receiver = ref.profiles?.[side === 'caller' ? 'callee' : 'caller'];
          const sender = ref.profiles?.[side];
          const args: NgDictionary = {
            'call-id': ref.callId,
            ...tagsFor(side),
            sdp,
            ...OFFER_FLAGS,
            ...(receiver ? OFFER_TO[receiver] : {}),
            ...(sender === 'webrtc' && receiver !== 'webrtc' ? { 'rtcp-mux': ['demux'] } : {}),
          };
          if (side === 'caller' && !relay) {
            // The first offer chooses the relay; a relay that does not answer is skipped for the next one.
            let lastError: unknown;
            for (let attempt = 0; attempt < relays.length; attempt++) {
              const candidate = pick();
              try {
                const reply = await candidate.client.request(
                  'offer',
                  ref.record ? { ...stripToTag(args), 'record call': 'yes' } : stripToTag(args),
                );
                relay = candidate;
                if (!counted) {
                  counted = true;
                  candidate.active++;
                }
                // A relay that cannot record answers the offer with a warning: the call goes on unrecorded.
                if (ref.record && reply.warning === undefined) recording = true;
                return sdpOf(reply, 'offer');
              } catch (err) {
                fail(candidate, err);
                lastError = err;
                if (err instanceof NgErrorReply) break;
              }
            }
            throw new MediaAnchorError('MEDIA_RELAY_FAILED', 'no media relay accepted the offer', {
              cause: lastError,
            });
          }
          const pinned = relay ?? pick();
          // The call's first offer (a placed call's comes from the callee side) asks for the recording.
          const first = !relay;
          if (!relay) {
            relay = pinned;
            counted = true;
            pinned.active++;
          }
          try {
            const record = first && ref.record === true;
            const reply = await pinned.client.request(
              'offer',
              record ? { ...args, 'record call': 'yes' } : args,
            );
            if (record && reply.warning === undefined) recording = true;
            return sdpOf(reply, 'offer');
          } catch (err) {
            fail(pinned, err);
            throw err;
          }
        },
        async answer(side, sdp) {
          if (!relay) throw new MediaAnchorError('MEDIA_RELAY_FAILED', 'answer before any offer');
          const offerer = ref.profiles?.[side === 'caller' ? 'callee' : 'caller'];
          const args: NgDictionary = {
            'call-id': ref.callId,
            ...tagsFor(side === 'caller' ? 'callee' : 'caller'),
            sdp,
            ...OFFER_FLAGS,
            ...(offerer ? ANSWER_TO[offerer] : {}),
          };
          // In ng, an answer names the offerer as from-tag and the answerer as to-tag.
          try {
            return sdpOf(await relay.client.request('answer', args), 'answer');
          } catch (err) {
            fail(relay, err);
            throw err;
          }
        },
        async query() {
          if (!relay) return undefined;
          try {
            const reply = await relay.client.request('query', { 'call-id': ref.callId });
            // voxgate's relay says when the call's media cannot flow (a DTLS-SRTP handshake failed).
            const failure = asBuffer(reply['media failure'])?.toString('utf8');
            return { totals: statsFromReply(reply, ref), ...(failure ? { failure } : {}) };
          } catch {
            return undefined;
          }
        },
        async delete() {
          if (!relay) return undefined;
          const r = relay;
          if (counted) {
            counted = false;
            r.active = Math.max(0, r.active - 1);
          }
          try {
            const reply = await r.client.request('delete', {
              'call-id': ref.callId,
              'from-tag': ref.callerTag,
            });
            return statsFromReply(reply, ref);
          } catch {
            return undefined;
          }
        },
      };
      return session;
    },
  };
}

/** The strings of an ng list (`recordings` of voxgate's `stop recording` reply). */
function asStrings(value: BencodeValue | undefined): string[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((v) => {
    const b = asBuffer(v);
    return b ? [b.toString('utf8')] : [];
  });
}

function stripToTag(args: NgDictionary): NgDictionary {
  const { 'to-tag': _omit, ...rest } = args;
  void _omit;
  return rest;
}
