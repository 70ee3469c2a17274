import { optional, url } from './kinds.js';
import { section } from './setting.js';

/** The `tracing` module: OpenTelemetry call traces. */
export const tracingSection = section({
  name: 'tracing',
  settings: {
    VOXGATE_TRACES_OTLP_ENDPOINT: optional(
      url(['http', 'https'], {
        example: 'the OTLP/HTTP receiver, e.g. http://tempo:4318',
        description: 'OpenTelemetry traces of calls posted to <url>/v1/traces; unset = no tracing',
      }),
    ),
  },
  build: (v) => ({ tracesEndpoint: v.VOXGATE_TRACES_OTLP_ENDPOINT }),
});
