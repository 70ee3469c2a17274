export { createLogger, type Logger } from './logger.js';
export { createMetricsRegistry, Registry, Counter, Gauge, Histogram } from './metrics.js';
export {
  callTraceIds,
  createCallTracer,
  SpanKind,
  SpanStatusCode,
  type Attributes,
  type CallTracer,
  type Span,
} from './tracing.js';
