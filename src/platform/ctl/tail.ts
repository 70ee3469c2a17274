import { setTimeout as sleep } from 'node:timers/promises';
import { CtlError, type StreamMessage } from './api-client.js';
import type { CtlContext } from './listings.js';
import { printable } from './printable.js';
import { listPages, tenantPath, type Cdr, type LiveCall } from './resources.js';
import { formatDuration } from './table.js';
import { resolveTenant } from './tenant-scope.js';

/** How long to wait before connecting again when the API cannot be reached. */
export const RETRY_INTERVAL_MS = 1000;
/**
 * After the stream came back, calls that ended meanwhile are read from the CDRs: those started since this long
 * before the stream went away (or since the earliest call seen ringing or talking that has not ended).
 */
const WINDOW_MS = 60_000;
/** The worker writes a CDR shortly after the call ends: the gap is read again this long after reconnecting. */
const SECOND_LOOK_MS = 5000;
/** At most this many CDRs are read to fill a gap (a larger burst is shown in part). */
const MAX_BACKFILL = 5000;

export interface TailOptions {
  tenant?: string;
  /** Also a line when a live call appears or changes state. */
  live: boolean;
}

export interface TailIo {
  /** Stops following (SIGINT/SIGTERM); `tail` then returns normally. */
  signal: AbortSignal;
  /** Notices about the API going away and coming back, while following. */
  err: (line: string) => void;
  intervalMs?: number;
}

/** The `data` of a `call.*` event on the stream (the webhook event's data; `call.ended`: the CDR's fields). */
type CallEventData = Cdr & { gateway?: string | null };

interface CallStreamEvent {
  type: string;
  tenantId: string;
  occurredAt: string;
  data: CallEventData;
}

const STATES: Readonly<Record<string, LiveCall['state']>> = {
  'call.started': 'setup',
  'call.ringing': 'ringing',
  'call.answered': 'answered',
};

const ms = (iso: string) => Date.parse(iso);

/**
 * `voxgate ctl tail`: follows a tenant's calls on the API's event stream (GET /v1/tenants/{t}/events/stream,
 * Server-Sent Events), one line (or, with `--json`, one JSON object) per call that ends from now on; with
 * `live`, also the live calls there at the start and each call's state change (set up, ringing, answered).
 * The stream gives what happens while it is open, never history: when it breaks, tail connects again every
 * second, says so once on stderr, and shows the calls that ended meanwhile from the CDRs.
 */
export async function tailCalls(ctx: CtlContext, options: TailOptions, io: TailIo): Promise<void> {
  const tenant = await resolveTenant(ctx.api, options.tenant);
  const streamPath = tenantPath(tenant, '/events/stream');
  const cdrPath = tenantPath(tenant, '/calls');
  const startedAt = ctx.now();
  /** Calls whose end was shown (each once), with their end, forgotten a while after. */
  const shown = new Map<string, number>();
  /** Calls seen live or starting that have not ended: where a gap's CDRs are looked for from. */
  const open = new Map<string, number>();

  const emitState = (call: LiveCall) => {
    if (!options.live) return;
    if (ctx.json) return ctx.out(JSON.stringify({ event: 'state', ...call }));
    const at =
      call.state === 'answered' && call.answeredAt ? call.answeredAt : new Date(ctx.now()).toISOString();
    ctx.out(
      `${at}  ${call.state.padEnd(8)}  ${printable(call.callId)}  ${printable(call.from)} -> ${printable(call.to)}`,
    );
  };
  const emitEnded = (cdr: Cdr) => {
    if (shown.has(cdr.callId)) return;
    shown.set(cdr.callId, ms(cdr.endedAt));
    open.delete(cdr.callId);
    for (const [callId, endedAt] of shown)
      if (endedAt < ms(cdr.endedAt) - 2 * WINDOW_MS) shown.delete(callId);
    if (ctx.json) return ctx.out(JSON.stringify({ event: 'ended', ...cdr }));
    const code = cdr.sipCode === null ? '' : ` ${cdr.sipCode}`;
    ctx.out(
      `${cdr.endedAt}  ended     ${printable(cdr.callId)}  ${printable(cdr.from)} -> ${printable(cdr.to)}  ` +
        `${printable(cdr.disposition)}${code}  ${formatDuration(cdr.durationSeconds)}`,
    );
  };

  const onMessage = (message: StreamMessage) => {
    if (!message.type.startsWith('call.')) return;
    let event: CallStreamEvent;
    try {
      event = JSON.parse(message.data) as CallStreamEvent;
    } catch {
      return; // not ours to judge: the next message may be fine
    }
    const d = event.data;
    if (message.type === 'call.ended') return emitEnded({ tenantId: event.tenantId, ...d });
    const state = STATES[message.type];
    if (!state) return;
    open.set(d.callId, ms(d.startedAt));
    emitState({
      callId: d.callId,
      tenantId: event.tenantId,
      from: d.from,
      to: d.to,
      state,
      startedAt: d.startedAt,
      answeredAt: d.answeredAt,
      ...(d.gateway ? { gateway: d.gateway } : {}),
    });
  };

  /** The calls that ended while the stream was away (`lostAt`, this machine's clock), from the CDRs. */
  const backfill = async (lostAt: number) => {
    const since = Math.min(lostAt - WINDOW_MS, ...open.values());
    const { items } = await listPages<Cdr>(
      ctx.api,
      cdrPath,
      { since: new Date(since).toISOString() },
      MAX_BACKFILL,
    );
    items
      .filter((cdr) => !shown.has(cdr.callId) && ms(cdr.endedAt) >= startedAt)
      .sort((a, b) => ms(a.endedAt) - ms(b.endedAt) || a.callId.localeCompare(b.callId))
      .forEach(emitEnded);
  };

  let first = true;
  /** When the stream was lost (this machine's clock), until it is back and the gap is filled. */
  let lostAt: number | undefined;
  let outage: string | undefined;
  let openedAt = Number.NEGATIVE_INFINITY;
  for (;;) {
    try {
      const messages = await ctx.api.events(streamPath);
      openedAt = ctx.now();
      if (first) {
        // What is live when tail starts is the baseline (shown with --live); the stream is already open, so
        // nothing that happens meanwhile is missed.
        first = false;
        const { items } = await ctx.api.get<{ items: LiveCall[] }>(tenantPath(tenant, '/calls/live'));
        for (const call of items) {
          open.set(call.callId, ms(call.startedAt));
          emitState(call);
        }
      }
      if (outage !== undefined) io.err('voxgate ctl: tail: the API answers again');
      outage = undefined;
      if (lostAt !== undefined) {
        const gap = lostAt;
        await backfill(gap);
        // The worker may write a CDR of the gap a little later: a second look, while the stream is followed.
        void sleep(SECOND_LOOK_MS, undefined, { signal: io.signal })
          .then(() => backfill(gap))
          .catch(() => undefined);
        lostAt = undefined;
      }
      for await (const message of messages) onMessage(message);
    } catch (err) {
      if (io.signal.aborted) return;
      if (!(err instanceof CtlError && err.transient)) throw err;
      lostAt ??= ctx.now();
      // A stream that broke after a while is opened again at once; a failure to reach the API is said once,
      // then retried every second.
      const broke = err.message.includes('event stream');
      if (!broke && outage === undefined) {
        io.err(`voxgate ctl: tail: ${err.message}; retrying every second`);
        outage = err.message;
      }
      if (broke && ctx.now() - openedAt >= RETRY_INTERVAL_MS) {
        openedAt = Number.NEGATIVE_INFINITY;
        continue;
      }
      try {
        await sleep(io.intervalMs ?? RETRY_INTERVAL_MS, undefined, { signal: io.signal });
      } catch {
        return;
      }
    }
  }
}
