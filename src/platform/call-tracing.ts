import { callEventChannel } from '../gateway/index.js';
import { cdrWriteChannel, type CdrWriteEvent } from '../jobs/index.js';
import {
  ngClientChannel,
  ngCommandChannel,
  type NgClientEvent,
  type NgCommandEvent,
} from '../media/index.js';
import { SpanKind, SpanStatusCode, type CallTracer, type Span } from '../observability/index.js';
import type { CallEvent } from '../store/index.js';
import { subscribeChannels } from './channel-subscriptions.js';

/** At most this many calls have an open root span; beyond it (a bug upstream) the oldest is ended. */
const MAX_OPEN_CALLS = 200_000;

/**
 * One trace per call, from the planes' diagnostics channels: the gateway's call events make the root span
 * (`call`, from the INVITE to the end, with the answer as an event and the disposition, SIP code and who hung
 * up as attributes); the gateway's ng requests (`ng <command>`, client side), the relay's handling of them
 * (`ng <command>` server side, in the relay's process) and the worker's CDR write (`cdr write`) are its
 * children, in whichever process runs them: the ids come from the Call-ID (`callTraceIds`). Returns the
 * function that unsubscribes.
 */
export function traceCalls(tracer: CallTracer): () => void {
  const open = new Map<string, Span>();
  const onCall = (m: unknown) => {
    const event = m as CallEvent;
    if (event.type === 'started') {
      if (open.size >= MAX_OPEN_CALLS) {
        const [oldestId, oldest] = open.entries().next().value as [string, Span];
        oldest.end();
        open.delete(oldestId);
      }
      open.set(
        event.callId,
        tracer.startCallSpan(event.callId, 'call', event.startedAt, {
          'voxgate.call_id': event.callId,
          'voxgate.tenant_id': event.tenantId,
          'voxgate.direction': event.direction,
          'voxgate.from': event.from,
          'voxgate.to': event.to,
          ...(event.trunkId ? { 'voxgate.trunk_id': event.trunkId } : {}),
          ...(event.gateway ? { 'voxgate.gateway': event.gateway } : {}),
        }),
      );
      return;
    }
    const span = open.get(event.callId);
    if (!span) return;
    if (event.type === 'answered') {
      span.addEvent('answered', event.answeredAt);
      return;
    }
    open.delete(event.callId);
    span.setAttributes({
      'voxgate.disposition': event.disposition ?? 'failed',
      ...(event.sipCode !== undefined ? { 'sip.status_code': event.sipCode } : {}),
      ...(event.hangupBy ? { 'voxgate.hangup_by': event.hangupBy } : {}),
    });
    if (event.disposition === 'failed') span.setStatus({ code: SpanStatusCode.ERROR });
    span.end(event.endedAt);
  };
  const onNgClient = (m: unknown) => {
    const e = m as NgClientEvent;
    if (e.callId === undefined) return;
    const endTime = Date.now();
    tracer.recordInCall(e.callId, `ng ${e.command}`, {
      kind: SpanKind.CLIENT,
      startTime: endTime - e.durationMs,
      endTime,
      attributes: { 'voxgate.ng.attempts': e.attempts, 'voxgate.ng.outcome': e.outcome },
      ...(e.outcome === 'ok' ? {} : { error: e.outcome }),
    });
  };
  const onNgCommand = (m: unknown) => {
    const e = m as NgCommandEvent;
    if (e.callId === undefined || e.cached) return;
    const endTime = Date.now();
    tracer.recordInCall(e.callId, `ng ${e.command ?? '?'}`, {
      kind: SpanKind.SERVER,
      startTime: endTime - e.durationMs,
      endTime,
      attributes: { 'voxgate.ng.result': e.result, 'voxgate.ng.from': e.from },
      ...(e.result === 'error' ? { error: 'error' } : {}),
    });
  };
  const onCdrWrite = (m: unknown) => {
    const e = m as CdrWriteEvent;
    if (e.eventType !== 'ended') return;
    const endTime = Date.now();
    tracer.recordInCall(e.callId, 'cdr write', {
      kind: SpanKind.CONSUMER,
      startTime: endTime - e.durationMs,
      endTime,
      attributes: { 'voxgate.cdr.written': e.written },
    });
  };
  const unsubscribe = subscribeChannels({
    [callEventChannel.name as string]: onCall,
    [ngClientChannel.name as string]: onNgClient,
    [ngCommandChannel.name as string]: onNgCommand,
    [cdrWriteChannel.name as string]: onCdrWrite,
  });
  return () => {
    unsubscribe();
    for (const span of open.values()) span.end();
    open.clear();
  };
}
