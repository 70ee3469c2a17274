import { createHash, randomBytes } from 'node:crypto';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type IdGenerator } from '@opentelemetry/sdk-trace-base';

export { SpanKind, SpanStatusCode, type Attributes, type Span };

/**
 * The trace and span ids of a call, derived from its (caller-side) Call-ID: every process that touches the
 * call — the gateway, a media relay answering its ng commands, the worker writing its CDR — names the same
 * trace without passing context around, and a log line carrying `callId` can carry the trace id too (Loki →
 * Tempo). The call's root span has `spanId`; other processes' spans are its children.
 */
export function callTraceIds(callId: string): { traceId: string; spanId: string } {
  const digest = createHash('sha256').update('voxgate call ').update(callId).digest('hex');
  return { traceId: digest.slice(0, 32), spanId: digest.slice(32, 48) };
}

/** Random ids, except for the next root span when `useNext` set ids for it (a call's root span). */
class CallIdGenerator implements IdGenerator {
  // Separate one-shot values: the SDK asks for the span id before the trace id of a root span.
  private nextTraceId: string | undefined;
  private nextSpanId: string | undefined;
  useNext(ids: { traceId: string; spanId: string }): void {
    this.nextTraceId = ids.traceId;
    this.nextSpanId = ids.spanId;
  }
  generateTraceId(): string {
    const id = this.nextTraceId ?? randomBytes(16).toString('hex');
    this.nextTraceId = undefined;
    return id;
  }
  generateSpanId(): string {
    const id = this.nextSpanId ?? randomBytes(8).toString('hex');
    this.nextSpanId = undefined;
    return id;
  }
}

export interface CallTracer {
  /** The root span of a call (its ids from `callTraceIds`); end it when the call ends. */
  startCallSpan(callId: string, name: string, startTime: number, attributes: Attributes): Span;
  /** A finished span inside a call's trace, child of the call's root span (in this process or another). */
  recordInCall(
    callId: string,
    name: string,
    span: { startTime: number; endTime: number; kind?: SpanKind; attributes?: Attributes; error?: string },
  ): void;
  /** Sends what is buffered and stops. */
  shutdown(): Promise<void>;
}

/**
 * OpenTelemetry tracing with the OTLP/HTTP exporter (Tempo, or any collector): spans are batched and posted
 * to `<endpoint>/v1/traces`. Only created when an endpoint is configured; without one nothing subscribes to
 * the planes' diagnostics channels and tracing costs nothing.
 */
export function createCallTracer(options: {
  endpoint: string;
  serviceName: string;
  attributes?: Attributes;
  /** Export delay of the batch processor (ms); default 2000. */
  exportDelayMs?: number;
}): CallTracer {
  const ids = new CallIdGenerator();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName, ...options.attributes }),
    idGenerator: ids,
    spanProcessors: [
      new BatchSpanProcessor(
        new OTLPTraceExporter({ url: `${options.endpoint.replace(/\/+$/, '')}/v1/traces` }),
        { scheduledDelayMillis: options.exportDelayMs ?? 2000 },
      ),
    ],
  });
  const tracer: Tracer = provider.getTracer('voxgate');
  const callContext = (callId: string): Context => {
    const { traceId, spanId } = callTraceIds(callId);
    return trace.setSpanContext(ROOT_CONTEXT, {
      traceId,
      spanId,
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
  };
  return {
    startCallSpan(callId, name, startTime, attributes) {
      ids.useNext(callTraceIds(callId));
      return tracer.startSpan(
        name,
        { kind: SpanKind.SERVER, startTime, attributes, root: true },
        ROOT_CONTEXT,
      );
    },
    recordInCall(callId, name, span) {
      const s = tracer.startSpan(
        name,
        {
          kind: span.kind ?? SpanKind.INTERNAL,
          startTime: span.startTime,
          attributes: span.attributes ?? {},
        },
        callContext(callId),
      );
      if (span.error !== undefined) s.setStatus({ code: SpanStatusCode.ERROR, message: span.error });
      s.end(span.endTime);
    },
    shutdown: () => provider.shutdown(),
  };
}
