import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  CALL_EVENTS_STREAM,
  RECORDING_EVENTS_STREAM,
  REGISTRATION_EVENTS_STREAM,
  webhookEventOfEntry,
  type Database,
  type WebhookEvent,
} from '../store/index.js';
import { followStream, type EventStreams } from '../store/shared-state/index.js';
import { tenantOf } from './routes/tenant-resource.js';
import { problemSchema, tenantParams } from './schemas.js';

/** The streams the live view follows: what webhooks get, without the delivery. */
const STREAMS = [CALL_EVENTS_STREAM, REGISTRATION_EVENTS_STREAM, RECORDING_EVENTS_STREAM] as const;
/** A comment line this often keeps proxies and browsers from closing an idle stream. */
const KEEPALIVE_MS = 15_000;
/** A client that reads no more than this many bytes behind is dropped rather than buffered without end. */
const MAX_BUFFERED_BYTES = 1 << 20;

export interface LiveEventHub {
  /** Calls `listener` with each new event of `tenantId` until the returned function is called. */
  subscribe(tenantId: string, listener: (event: WebhookEvent, entryId: string) => void): () => void;
  /** Stops following the streams (drops this process's groups) and tells every subscriber to end. */
  close(): Promise<void>;
  onClose(listener: () => void): () => void;
}

/** The epoch milliseconds of a stream entry id (`<ms>-<seq>`, Redis and memory alike). */
function entryMs(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

/**
 * Follows the call-events and registration-events streams for this API process, each in a consumer group of
 * its own (`api-events:<uuid>`, dropped at close: every process sees every entry), from the first subscriber
 * on, and hands each tenant's events to its subscribers. A new group reads a stream from its start: entries
 * older than the moment the hub began following are skipped, so a stream shows what happens from then on.
 */
export function createLiveEventHub(
  events: Pick<EventStreams, 'consume' | 'ack' | 'dropGroup'>,
  onError: (err: unknown) => void,
  options: { blockMs?: number } = {},
): LiveEventHub {
  const group = `api-events:${randomUUID()}`;
  const subscribers = new Map<string, Set<(event: WebhookEvent, entryId: string) => void>>();
  const closeListeners = new Set<() => void>();
  let followers: { stop(): Promise<void> }[] | undefined;
  let since = 0;
  let stopped = false;

  const follow = (stream: string) =>
    followStream({
      events,
      stream,
      group,
      onError,
      ...(options.blockMs === undefined ? {} : { blockMs: options.blockMs }),
      onEntries: (entries) => {
        for (const entry of entries) {
          if (entryMs(entry.id) < since) continue;
          let event: WebhookEvent;
          try {
            event = webhookEventOfEntry(stream, entry);
          } catch (err) {
            onError(err);
            continue;
          }
          for (const listener of subscribers.get(event.tenantId) ?? []) listener(event, entry.id);
        }
      },
    });

  return {
    subscribe(tenantId, listener) {
      if (stopped) throw new Error('the live event hub is closed');
      if (!followers) {
        // A second's margin: the streams' ids come from each publisher's clock.
        since = Date.now() - 1000;
        followers = STREAMS.map((s) => follow(s));
      }
      let set = subscribers.get(tenantId);
      if (!set) subscribers.set(tenantId, (set = new Set()));
      set.add(listener);
      return () => {
        set.delete(listener);
        if (set.size === 0) subscribers.delete(tenantId);
      };
    },
    onClose(listener) {
      closeListeners.add(listener);
      return () => closeListeners.delete(listener);
    },
    async close() {
      if (stopped) return;
      stopped = true;
      for (const listener of [...closeListeners]) listener();
      // Each follower ends its read in progress and drops this process's group.
      await Promise.all((followers ?? []).map((f) => f.stop()));
    },
  };
}

/** A problem answered before the stream starts (401, 404, 429, 503). */
const problem = {
  description: problemSchema.description,
  content: { 'application/problem+json': { schema: problemSchema } },
};

/** One Server-Sent Event (WHATWG HTML §9.2): the data is one line of JSON. */
function sseMessage(event: WebhookEvent, entryId: string): string {
  return `id: ${entryId}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * `GET /v1/tenants/{tenantId}/events/stream`: the tenant's call and registration events as Server-Sent
 * Events, from the moment of the request on (no replay), for any key in the tenant's scope. Each message's
 * `event` is the webhook event type and its `data` the webhook event's JSON.
 */
export function registerLiveEventRoutes(
  app: FastifyInstance,
  deps: { db: Database; hub: LiveEventHub },
): void {
  app.get<{ Params: { tenantId: string } }>(
    '/tenants/:tenantId/events/stream',
    {
      schema: {
        tags: ['events'],
        summary:
          'The tenant’s call and registration events as they happen (Server-Sent Events, text/event-stream; ' +
          'each message: event = the webhook event type, data = the webhook event as JSON)',
        params: tenantParams,
        response: {
          200: {
            description: 'An endless text/event-stream; a comment line every 15 s keeps it open',
            content: { 'text/event-stream': { schema: { type: 'string' } } },
          },
          '4xx': problem,
          '5xx': problem,
        },
      },
    },
    async (request: FastifyRequest<{ Params: { tenantId: string } }>, reply: FastifyReply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      const res = reply.raw;
      reply.hijack();
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        // nginx and others buffer responses unless told not to.
        'x-accel-buffering': 'no',
      });
      res.write(': voxgate live events\nretry: 3000\n\n');
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        unsubscribe();
        offClose();
        clearInterval(keepalive);
        res.end();
      };
      const unsubscribe = deps.hub.subscribe(tenant.id, (event, entryId) => {
        if (res.writableLength > MAX_BUFFERED_BYTES) return end();
        res.write(sseMessage(event, entryId));
      });
      const offClose = deps.hub.onClose(end);
      const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
      keepalive.unref();
      request.raw.on('close', end);
      res.on('error', end);
      return reply;
    },
  );
}
