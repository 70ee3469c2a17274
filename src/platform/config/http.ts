import { port, text } from './kinds.js';
import { section } from './setting.js';

/** The `http-server` module: API, /healthz, /readyz and /metrics on one listener. */
export const httpSection = section({
  name: 'http-server',
  settings: {
    VOXGATE_API_HOST: text({
      type: 'address',
      expects: 'an IP address to bind',
      description: 'HTTP listen address (API, /healthz, /readyz, /metrics)',
      default: '0.0.0.0',
    }),
    VOXGATE_API_PORT: port({ description: 'HTTP port (API, /healthz, /readyz, /metrics)', default: 8080 }),
  },
  build: (v) => ({ http: { host: v.VOXGATE_API_HOST, port: v.VOXGATE_API_PORT } }),
});
