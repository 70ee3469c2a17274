import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  CALL_COMMANDS_STREAM,
  createRecordingRepository,
  encodeCallCommand,
  type Database,
  type ObjectStore,
  type Recording,
  type RecordingCursor,
} from '../../store/index.js';
import type { SharedState } from '../../store/shared-state/index.js';
import { recordMutation } from '../audit-trail.js';
import { requireRole } from '../authorize.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { sendProblem } from '../problem.js';
import {
  CALL_ID_MAX_LENGTH,
  dateTime,
  integer,
  pageOf,
  responses,
  tenantObjectParams,
  tenantParams,
  text,
} from '../schemas.js';
import { callParams } from './calls.js';
import { nextCursor, pageLimit } from './route-helpers.js';
import { tenantOf } from './tenant-resource.js';

const TAGS = ['recordings'];

export const recordingSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid' },
    tenantId: { type: 'string', format: 'uuid' },
    callId: { type: 'string', description: 'the call (its CDR and live call id)' },
    startedAt: dateTime,
    endedAt: dateTime,
    files: {
      type: 'array',
      description:
        'the files of the recording: `mixed.wav` (every party mixed, 16-bit PCM), one G.711 WAV per party ' +
        'and stream, `<party tag>-<stream>.wav` (what that party sent), and `call.pcap` (every packet the ' +
        'relay got)',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          type: { enum: ['audio/wav', 'application/vnd.tcpdump.pcap'] },
        },
      },
    },
    createdAt: dateTime,
  },
  examples: [
    {
      id: '0b6c3c8e-3c0f-4f3e-9d53-5e0f3c1a7b21',
      tenantId: '7d4d2a1c-3f0b-4b9e-8f59-2c6a1d7e9f10',
      callId: 'a84b4c76e66710@192.0.2.4',
      startedAt: '2026-12-03T10:00:01.000Z',
      endedAt: '2026-12-03T10:02:31.000Z',
      files: [
        { name: 'call.pcap', type: 'application/vnd.tcpdump.pcap' },
        { name: '1928301774-1.wav', type: 'audio/wav' },
        { name: 'as8d7f6g-1.wav', type: 'audio/wav' },
        { name: 'mixed.wav', type: 'audio/wav' },
      ],
      createdAt: '2026-12-03T10:02:32.000Z',
    },
  ],
} as const;

const typeOf = (name: string) => (name.endsWith('.wav') ? 'audio/wav' : 'application/vnd.tcpdump.pcap');

/** A recording as the API gives it: file names and types, never the object store keys. */
function recordingView(r: Recording) {
  return {
    id: r.id,
    tenantId: r.tenantId,
    callId: r.callId,
    startedAt: r.startedAt.toISOString(),
    endedAt: r.endedAt.toISOString(),
    files: r.files.map((f) => ({ name: f.name, type: typeOf(f.name) })),
    createdAt: r.createdAt.toISOString(),
  };
}

const isCursor = (v: unknown): v is RecordingCursor =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as RecordingCursor).startedAt === 'string' &&
  !Number.isNaN(Date.parse((v as RecordingCursor).startedAt)) &&
  typeof (v as RecordingCursor).id === 'string' &&
  /^[0-9a-f-]{36}$/i.test((v as RecordingCursor).id);

const commandAccepted = {
  type: 'object',
  properties: {
    callId: { type: 'string' },
    recording: { enum: ['start', 'stop'] },
    gateway: { type: 'string' },
  },
} as const;

/**
 * Recording through the API: `POST` / `DELETE /v1/tenants/{tenantId}/calls/live/{callId}/recording` start and
 * stop recording a live call (operator; a command on the call command stream for the gateway replica holding
 * the call, like a hang-up), and `/v1/tenants/{tenantId}/recordings`: the recordings stored (list, metadata,
 * the files streamed from the object store, delete).
 */
export function registerRecordingRoutes(
  app: FastifyInstance,
  deps: { db: Database; state: SharedState; recordings?: ObjectStore },
): void {
  const command =
    (on: boolean) =>
    async (
      request: FastifyRequest<{ Params: { tenantId: string; callId: string } }>,
      reply: FastifyReply,
    ) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant || !requireRole(request, reply, 'operator')) return reply;
      const { callId } = request.params;
      const live = await deps.state.calls.get(callId);
      if (!live || live.tenantId !== tenant.id || live.gateway === undefined)
        return sendProblem(reply, 'not-found', `no live call ${callId}`);
      if (on && live.recordingPolicy === 'off')
        return sendProblem(reply, 'conflict', `recording is off for call ${callId} (its recording policy)`);
      const gateway = live.gateway;
      const recording = on ? 'start' : 'stop';
      await deps.db.transaction(async (tx) => {
        await recordMutation(tx, request, {
          tenantId: tenant.id,
          action: 'update',
          entity: 'live-call',
          entityId: callId,
          before: { recording: live.recording === true },
          after: { recording: on },
        });
        await deps.state.events.publish(
          CALL_COMMANDS_STREAM,
          encodeCallCommand({
            type: 'record',
            callId,
            tenantId: tenant.id,
            gateway,
            at: Date.now(),
            recording,
          }),
        );
      });
      return reply.code(202).send({ callId, recording, gateway });
    };

  app.post<{ Params: { tenantId: string; callId: string } }>(
    '/tenants/:tenantId/calls/live/:callId/recording',
    {
      schema: {
        tags: TAGS,
        summary:
          'Starts recording a live call (operator). 202: the gateway replica holding the call asks its media ' +
          "relay to record; the live call then says `recording: true`. 409 when the call's recording policy " +
          'is `off`. The recording is stored when stopped or when the call ends (`recording.ready` webhook)',
        params: callParams,
        response: responses({ 202: commandAccepted }),
      },
    },
    command(true),
  );

  app.delete<{ Params: { tenantId: string; callId: string } }>(
    '/tenants/:tenantId/calls/live/:callId/recording',
    {
      schema: {
        tags: TAGS,
        summary:
          'Stops recording a live call (operator). 202: the relay stores the files and the recording is ' +
          'listed under /recordings (`recording.ready` webhook); a later POST starts a new recording',
        params: callParams,
        response: responses({ 202: commandAccepted }),
      },
    },
    command(false),
  );

  app.get<{ Params: { tenantId: string }; Querystring: { callId?: string; limit?: number; after?: string } }>(
    '/tenants/:tenantId/recordings',
    {
      schema: {
        tags: TAGS,
        summary: "The tenant's recordings (of one call with callId), oldest first",
        params: tenantParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            callId: text({ minLength: 1, maxLength: CALL_ID_MAX_LENGTH }),
            limit: integer({ minimum: 1, maximum: 500, description: 'items per page (default 50)' }),
            after: text({ maxLength: 400, description: 'the nextCursor of the previous page' }),
          },
        },
        response: responses({ 200: pageOf(recordingSchema) }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      const { callId, after } = request.query;
      const cursor = after === undefined ? undefined : decodeCursor(after, isCursor);
      if (after !== undefined && !cursor)
        return sendProblem(reply, 'validation-failed', 'bad cursor in after');
      const limit = pageLimit(request.query.limit);
      const items = await createRecordingRepository(deps.db).list(tenant.id, {
        limit,
        ...(callId ? { callId } : {}),
        ...(cursor ? { after: cursor } : {}),
      });
      return {
        items: items.map(recordingView),
        nextCursor: nextCursor(items, limit, (r) =>
          encodeCursor({ startedAt: r.startedAt.toISOString(), id: r.id }),
        ),
      };
    },
  );

  app.get<{ Params: { tenantId: string; id: string } }>(
    '/tenants/:tenantId/recordings/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'A recording: its call, when, and its files',
        params: tenantObjectParams,
        response: responses({ 200: recordingSchema }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      const found = await createRecordingRepository(deps.db).get(tenant.id, request.params.id);
      if (!found) return sendProblem(reply, 'not-found', `no recording ${request.params.id}`);
      return recordingView(found);
    },
  );

  app.get<{ Params: { tenantId: string; id: string }; Querystring: { file?: string } }>(
    '/tenants/:tenantId/recordings/:id/audio',
    {
      schema: {
        tags: TAGS,
        summary:
          "A recording's audio, streamed from the recordings store: by default `mixed.wav` (every party, " +
          "16-bit PCM, 8 kHz mono); `file` names another of its files — a party's G.711 WAV, or `call.pcap`",
        params: tenantObjectParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { file: text({ minLength: 1, maxLength: 200 }) },
        },
        response: {
          200: { description: 'audio/wav (G.711, 8 kHz mono) or application/vnd.tcpdump.pcap' },
          '4xx': responses({})['4xx'],
        },
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      const found = await createRecordingRepository(deps.db).get(tenant.id, request.params.id);
      if (!found) return sendProblem(reply, 'not-found', `no recording ${request.params.id}`);
      const wanted = request.query.file;
      const file = wanted
        ? found.files.find((f) => f.name === wanted)
        : (found.files.find((f) => f.name === 'mixed.wav') ??
          found.files.find((f) => f.name.endsWith('.wav')));
      if (!file)
        return sendProblem(reply, 'not-found', `no file ${wanted ?? '*.wav'} in recording ${found.id}`);
      const object = deps.recordings ? await deps.recordings.open(file.key) : undefined;
      if (!object)
        return sendProblem(
          reply,
          'not-found',
          `file ${file.name} of recording ${found.id} is not in the store`,
        );
      return reply
        .header('content-type', typeOf(file.name))
        .header('content-length', String(object.size))
        .header('content-disposition', `attachment; filename="${found.id}-${file.name}"`)
        .send(object.body);
    },
  );

  app.delete<{ Params: { tenantId: string; id: string } }>(
    '/tenants/:tenantId/recordings/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Deletes a recording (operator): its files in the recordings store, then its metadata',
        params: tenantObjectParams,
        response: responses({ 204: { type: 'null' } }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant || !requireRole(request, reply, 'operator')) return reply;
      const repo = createRecordingRepository(deps.db);
      const found = await repo.get(tenant.id, request.params.id);
      if (!found) return sendProblem(reply, 'not-found', `no recording ${request.params.id}`);
      // The files first: a failure leaves the recording listed (and deletable again), never files unlisted.
      for (const file of found.files) await deps.recordings?.delete(file.key);
      await deps.db.transaction(async (tx) => {
        await createRecordingRepository(tx).delete(tenant.id, found.id);
        await recordMutation(tx, request, {
          tenantId: tenant.id,
          action: 'delete',
          entity: 'recording',
          entityId: found.id,
          before: recordingView(found),
        });
      });
      return reply.code(204).send();
    },
  );
}
