import { setTimeout as sleep } from 'node:timers/promises';
import { CtlError } from './api-client.js';
import type { CtlContext } from './listings.js';
import { printable } from './printable.js';
import { listPages, tenantPath, type Cdr, type LiveCall } from './resources.js';
import { formatDuration } from './table.js';
import { resolveTenant } from './tenant-scope.js';

/** How often the API is polled: there is no event stream endpoint yet. */
export const POLL_INTERVAL_MS = 1000;
/**
 * CDRs are looked for among calls started this long before the newest start seen (the API's clock, not this
 * machine's): a call too short to be seen live between two polls, whose CDR the worker writes a little later.
 */
const WINDOW_MS = 60_000;
/** A call gone from the live list whose CDR has not come after this long is no longer looked for. */
const PENDING_MS = 5 * 60_000;
/** At most this many CDRs are read per poll (a burst larger than that is shown in part). */
const MAX_PER_POLL = 5000;

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

const ms = (iso: string) => Date.parse(iso);

/**
 * `voxgate ctl tail`: follows a tenant's calls by polling the API every second, one line (or, with `--json`,
 * one JSON object) per call that ended since it started; with `live`, also per live call state change.
 * Ended calls come from the CDRs; calls seen live are looked up by call id once they are gone, so a long
 * call's CDR is found however long ago it started.
 */
export async function tailCalls(ctx: CtlContext, options: TailOptions, io: TailIo): Promise<void> {
  const tenant = await resolveTenant(ctx.api, options.tenant);
  const livePath = tenantPath(tenant, '/calls/live');
  const cdrPath = tenantPath(tenant, '/calls');
  let live = new Map<string, LiveCall>();
  /** Calls gone from the live list whose CDR was not seen yet: their start, and when they were gone. */
  const pending = new Map<string, { startedAt: number; goneAt: number }>();
  /** CDRs already shown (or there before tail started), with their start, to show each once. */
  const seen = new Map<string, number>();
  /** The newest call start seen: the API's clock as far as tail knows it. */
  let newestStart = Number.NEGATIVE_INFINITY;

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
    if (ctx.json) return ctx.out(JSON.stringify({ event: 'ended', ...cdr }));
    const code = cdr.sipCode === null ? '' : ` ${cdr.sipCode}`;
    ctx.out(
      `${cdr.endedAt}  ended     ${printable(cdr.callId)}  ${printable(cdr.from)} -> ${printable(cdr.to)}  ` +
        `${printable(cdr.disposition)}${code}  ${formatDuration(cdr.durationSeconds)}`,
    );
  };

  const readLive = async (report: boolean) => {
    const { items } = await ctx.api.get<{ items: LiveCall[] }>(livePath);
    const now = ctx.now();
    const current = new Map(items.map((call) => [call.callId, call]));
    for (const call of items) {
      newestStart = Math.max(newestStart, ms(call.startedAt));
      if (report && live.get(call.callId)?.state !== call.state) emitState(call);
    }
    for (const [callId, call] of live) {
      if (!current.has(callId)) pending.set(callId, { startedAt: ms(call.startedAt), goneAt: now });
    }
    live = current;
  };

  const readCdrs = async (report: boolean) => {
    const since = Number.isFinite(newestStart) ? new Date(newestStart - WINDOW_MS).toISOString() : undefined;
    const { items } = await listPages<Cdr>(ctx.api, cdrPath, { since }, MAX_PER_POLL);
    const found = items.filter((cdr) => !seen.has(cdr.callId));
    // Calls seen live that started before the window: looked up one by one.
    for (const [callId, { startedAt, goneAt }] of pending) {
      if (ctx.now() - goneAt > PENDING_MS) {
        pending.delete(callId);
        continue;
      }
      if (since !== undefined && startedAt >= ms(since)) continue;
      if (found.some((cdr) => cdr.callId === callId)) continue;
      try {
        found.push(await ctx.api.get<Cdr>(`${cdrPath}/${encodeURIComponent(callId)}`));
      } catch (err) {
        // 404: the worker has not stored this call's CDR from its events so far; it is asked for at the next poll.
        if (!(err instanceof CtlError && err.status === 404)) throw err;
      }
    }
    found.sort((a, b) => ms(a.endedAt) - ms(b.endedAt) || a.callId.localeCompare(b.callId));
    for (const cdr of found) {
      seen.set(cdr.callId, ms(cdr.startedAt));
      pending.delete(cdr.callId);
      newestStart = Math.max(newestStart, ms(cdr.startedAt));
      if (report) emitEnded(cdr);
    }
    const forget = newestStart - 2 * WINDOW_MS;
    for (const [callId, startedAt] of seen)
      if (startedAt < forget && !pending.has(callId)) seen.delete(callId);
  };

  // What is there when tail starts is the baseline: live calls (shown with --live), CDRs not shown.
  // Stopped meanwhile: the request in flight rejects with the abort, which `voxgate ctl` takes as the end.
  await readLive(true);
  const newest = await ctx.api.get<{ items: Cdr[] }>(cdrPath, { limit: 1 });
  for (const cdr of newest.items) newestStart = Math.max(newestStart, ms(cdr.startedAt));
  await readCdrs(false);

  let outage: string | undefined;
  for (;;) {
    try {
      await sleep(io.intervalMs ?? POLL_INTERVAL_MS, undefined, { signal: io.signal });
      await readLive(true);
      await readCdrs(true);
      if (outage !== undefined) io.err('voxgate ctl: tail: the API answers again');
      outage = undefined;
    } catch (err) {
      if (io.signal.aborted) return;
      if (!(err instanceof CtlError && err.transient)) throw err;
      if (outage === undefined) io.err(`voxgate ctl: tail: ${err.message}; retrying every second`);
      outage = err.message;
    }
  }
}
