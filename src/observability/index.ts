export { createLogger, logsWritten, type Logger } from './logger.js';
export {
  createMetricsRegistry,
  metricsIn,
  Registry,
  Counter,
  Gauge,
  Histogram,
  type MetricOptions,
} from './metrics.js';
export {
  callTraceIds,
  createCallTracer,
  SpanKind,
  SpanStatusCode,
  type Attributes,
  type CallTracer,
  type Span,
} from './tracing.js';
