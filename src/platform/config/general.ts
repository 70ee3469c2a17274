import { choice, integer, optional, text } from './kinds.js';
import { section } from './setting.js';

/**
 * The one address phones and carriers reach this machine at, for SIP (Via, Contact) and media (SDP) alike;
 * `VOXGATE_SIP_ADVERTISED_ADDRESS` and `VOXGATE_MEDIA_ADVERTISED_ADDRESS` override it for one of them.
 */
export const advertisedAddressSetting = optional(
  text({
    type: 'address',
    expects: 'an IPv4 or IPv6 address',
    pattern: /^[0-9A-Fa-f.:]+$/,
    description:
      'address advertised to phones in SIP (Via, Contact) and SDP; unset = each listen address ' +
      '(VOXGATE_SIP_HOST, the VOXGATE_MEDIA_NG host), and for a wildcard (0.0.0.0, ::) the first ' +
      'external IPv4 of the machine, the same for both',
  }),
);

/** What every process reads: environment label, logging, the data folder, the shutdown grace. */
export const generalSection = section({
  name: 'process',
  settings: {
    VOXGATE_ENV: choice(['dev', 'test', 'staging', 'production'], {
      description: 'deployment environment (labels logs and metrics)',
      default: 'dev',
    }),
    VOXGATE_LOG_LEVEL: choice(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      description: 'log level of the JSON logs on stdout',
      default: 'info',
    }),
    VOXGATE_DATA_DIR: text({
      type: 'path',
      expects: 'a directory path',
      description: 'where embedded state lives (PGlite database, local recordings)',
      default: './data',
    }),
    VOXGATE_SHUTDOWN_GRACE_SECONDS: integer({
      min: 0,
      max: 86_400,
      unit: 'seconds',
      description: 'on SIGTERM, how long running work may finish before exit',
      default: 30,
    }),
    VOXGATE_ADVERTISED_ADDRESS: advertisedAddressSetting,
  },
  build: (v) => ({
    env: v.VOXGATE_ENV,
    logLevel: v.VOXGATE_LOG_LEVEL,
    dataDir: v.VOXGATE_DATA_DIR,
    shutdownGraceMs: v.VOXGATE_SHUTDOWN_GRACE_SECONDS * 1000,
  }),
});
